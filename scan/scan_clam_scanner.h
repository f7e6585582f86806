/*
 * scan_clam_scanner — the body of one scanner process: load a libclamav
 * engine, self-test it, then answer scan requests on a socket until EOF.
 *
 * Runs only in its own process (mxgate-scanner), never in the daemon: a
 * crash or a wedge in libclamav costs that process, which the pool
 * restarts.  Single-threaded.
 */
#ifndef SCAN_CLAM_SCANNER_H
#define SCAN_CLAM_SCANNER_H

#include <stdint.h>

/* libclamav limits (0 = the default in brackets). */
struct scan_clam_limits {
	uint64_t max_scansize;	  /* bytes scanned per message [100 MiB] */
	uint64_t max_filesize;	  /* largest embedded file [25 MiB] */
	uint32_t max_recursion;	  /* archive/MIME nesting [16] */
	uint32_t max_files;	  /* files per archive [10000] */
	uint32_t max_scantime_ms; /* libclamav's own budget [60000] */
};

/*
 * Loads db_dir, compiles, self-tests (an EICAR sample built in memory must
 * be detected, a clean one must pass), sends READY or LOADFAIL on fd, then
 * serves requests.  Returns the process exit status: 0 on EOF, 1 on a
 * load/self-test failure, 2 on a protocol or socket error.
 */
int scan_clam_scanner_main(int fd, const char *db_dir,
			   const struct scan_clam_limits *lim);

#endif
