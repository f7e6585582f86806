/*
 * scan_clam_pool — supervised ClamAV scanner processes, driven from the
 * management loop.
 *
 * The pool starts `procs` scanner processes (mxgate-scanner, one
 * SOCK_SEQPACKET socketpair each) and feeds them scan requests: a queue
 * message id, the segment file holding it, and the byte range of its body.
 * Each request ends in exactly one call of conf.done(cookie, verdict,
 * signature): CLEAN, INFECTED (with the signature name), ERROR (the scanner
 * could not scan it: unreadable file, libclamav error) or FAILED (it took
 * down a scanner twice — crash or time limit — or was in a scanner that
 * died five times, and is not retried again).
 *
 * Supervision: a scanner that dies (EOF on its socket, its pidfd fires) or
 * overruns scan_timeout_ms (SIGKILL) is restarted after a backoff that
 * doubles up to restart_backoff_max_ms; its request goes back to the head
 * of the queue.  Requests wait while no scanner is healthy; what the daemon
 * does then (hold, tempfail, pass) is its policy — scan_clam_pool_healthy()
 * tells it.
 *
 * Signature reload: a fresh scanner loads the new database directory beside
 * the running ones and self-tests it (EICAR must hit, a clean sample must
 * pass).  Only then are the running scanners replaced one at a time, each
 * when idle.  If the new engine fails, the running scanners are untouched,
 * the reason is kept as text (scan_clam_pool_reload_status) and passed to
 * conf.reload_done, and scan_clam_reload_failures is counted.
 *
 * Threads: everything here belongs to the one thread that runs the
 * management loop; nothing blocks except the reaping of a process already
 * killed.  Watch scan_clam_pool_fd() for readability (it is an epoll fd
 * covering the sockets, pidfds and a timer) and call scan_clam_pool_poll().
 * Callbacks run inside poll (and inside submit never).
 */
#ifndef SCAN_CLAM_POOL_H
#define SCAN_CLAM_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "scan_clam_proto.h"
#include "scan_clam_scanner.h"

typedef void (*scan_clam_done_fn)(void *arg, void *cookie, enum scan_verdict v,
				  const char *signature);
typedef void (*scan_clam_reload_fn)(void *arg, bool ok, const char *text);

struct scan_clam_conf {
	const char *scanner_path; /* the mxgate-scanner binary */
	const char *db_dir;
	unsigned procs;			 /* scanner processes [2] */
	unsigned scan_timeout_ms;	 /* per request, then SIGKILL [30000] */
	unsigned load_timeout_ms;	 /* engine load + self-test [300000] */
	unsigned restart_backoff_min_ms; /* [100] */
	unsigned restart_backoff_max_ms; /* [30000] */
	unsigned queue_max;		 /* waiting + running requests [4096] */
	struct scan_clam_limits limits;	 /* max_scantime_ms 0: 90% of
					  * scan_timeout_ms */
	scan_clam_done_fn done;		 /* required */
	scan_clam_reload_fn reload_done; /* optional */
	void *arg;			 /* passed to both callbacks */
};

struct scan_clam_pool;

/* Starts the scanners (they load asynchronously).  -EINVAL (bad conf),
 * -ENOENT/-EACCES (scanner_path not executable), -ENOMEM, or -errno from
 * epoll/timerfd. */
int scan_clam_pool_create(const struct scan_clam_conf *conf,
			  struct scan_clam_pool **out);
/* Kills the scanners; pending requests are dropped without callbacks. */
void scan_clam_pool_destroy(struct scan_clam_pool *pool);

int scan_clam_pool_fd(const struct scan_clam_pool *pool);
/* Does all due work without blocking: reads verdicts, reaps, restarts,
 * kills overrunning scanners, dispatches.  Returns callbacks run. */
int scan_clam_pool_poll(struct scan_clam_pool *pool);
/* Blocks up to timeout_ms running poll until one scanner is healthy (for
 * start-up and tests).  0 or -ETIMEDOUT. */
int scan_clam_pool_wait_ready(struct scan_clam_pool *pool, unsigned timeout_ms);
/* Blocks up to timeout_ms running poll until nothing is pending. */
int scan_clam_pool_drain(struct scan_clam_pool *pool, unsigned timeout_ms);

/* Queues a scan of len bytes at off in path.  0, -EAGAIN (queue full),
 * -ENAMETOOLONG, -EINVAL (len 0).  The path is copied. */
int scan_clam_pool_submit(struct scan_clam_pool *pool, uint64_t msg_id,
			  const char *path, uint64_t off, uint64_t len,
			  void *cookie);

/* At least one scanner has a loaded, self-tested engine. */
bool scan_clam_pool_healthy(const struct scan_clam_pool *pool);
unsigned scan_clam_pool_pending(const struct scan_clam_pool *pool);

/* Starts a reload from db_dir.  0 started, -EBUSY (one is running),
 * -ENAMETOOLONG.  The outcome arrives through conf.reload_done. */
int scan_clam_pool_reload(struct scan_clam_pool *pool, const char *db_dir);
bool scan_clam_pool_reloading(const struct scan_clam_pool *pool);
/* Last reload outcome ("" before any), and the engine in use. */
const char *scan_clam_pool_reload_status(const struct scan_clam_pool *pool);
const char *scan_clam_pool_engine(const struct scan_clam_pool *pool);

/* Process id of scanner slot i (0 if down); for tests and status. */
pid_t scan_clam_pool_pid(const struct scan_clam_pool *pool, unsigned i);

#endif
