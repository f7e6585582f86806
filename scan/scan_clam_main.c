/*
 * mxgate-scanner — the scanner process the daemon's pool starts.
 *
 *   mxgate-scanner --fd N --db DIR [--max-scansize B] [--max-filesize B]
 *                  [--max-recursion N] [--max-files N] [--max-scantime MS]
 *                  [--tag NAME]
 *
 * fd N is its end of the pool's SOCK_SEQPACKET socketpair; everything
 * else about the conversation is in scan_clam_proto.c.  Logs go to stderr
 * (inherited from the daemon) with the tag as a prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_log.h"
#include "scan_clam_scanner.h"

static unsigned long long num(const char *opt, const char *v)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);

	if (!*v || *end)
		mx_fatal("mxgate-scanner: %s: not a number: %s", opt, v);
	return n;
}

int main(int argc, char **argv)
{
	struct scan_clam_limits lim = {0};
	const char *db = NULL, *tag = "scanner";
	int fd = -1;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (strcmp(o, "--fd") == 0)
			fd = (int)num(o, v);
		else if (strcmp(o, "--db") == 0)
			db = v;
		else if (strcmp(o, "--tag") == 0)
			tag = v;
		else if (strcmp(o, "--max-scansize") == 0)
			lim.max_scansize = num(o, v);
		else if (strcmp(o, "--max-filesize") == 0)
			lim.max_filesize = num(o, v);
		else if (strcmp(o, "--max-recursion") == 0)
			lim.max_recursion = (uint32_t)num(o, v);
		else if (strcmp(o, "--max-files") == 0)
			lim.max_files = (uint32_t)num(o, v);
		else if (strcmp(o, "--max-scantime") == 0)
			lim.max_scantime_ms = (uint32_t)num(o, v);
		else
			mx_fatal("mxgate-scanner: unknown option %s", o);
	}
	if (fd < 0 || !db)
		mx_fatal("mxgate-scanner: usage: --fd N --db DIR [limits]");
	mx_log_set_tag(tag);
	return scan_clam_scanner_main(fd, db, &lim);
}
