/*
 * mgmt_daemon — the state of the running daemon as the management thread
 * sees it, shared by the files of mgmt/daemon: start-up and shutdown
 * (mgmt_main.c), the event loop (mgmt_loop.c), the control commands
 * (mgmt_cmds.c), the scan stage (mgmt_scan.c), recipient policy
 * (mgmt_policy.c) and bounce injection (mgmt_inject.c).
 *
 * Threads: one struct, owned by the main thread, which after start-up is
 * the management thread.  Dataplane cores see only their sink, the SMTP
 * conf and the policy; scan workers see only what mgmt_scan hands them.
 */
#ifndef MGMT_DAEMON_H
#define MGMT_DAEMON_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dp_smtp.h"
#include "mgmt_conf.h"

struct q_store;
struct q_envelope;
struct q_shard;
struct mgmt_sink;
struct mgmt_ctl;
struct mgmt_dlv;
struct mgmt_scan;
struct mgmt_policy;
struct dp_sock;

/* The backend behind one function table, chosen once at start-up. */
struct mgmt_backend_ops {
	const char *name;
	int (*start)(void *arg);
	void (*drain)(void *arg, bool on);
	/* Refuse new messages with 451 while on (NULL: not supported). */
	void (*tempfail)(void *arg, bool on);
	void (*stop)(void *arg);
	void (*destroy)(void *arg);
	unsigned long (*sessions)(void *arg);
};

struct mgmt_daemon {
	const char *conf_path;
	const char *const *overrides;
	unsigned override_count;
	struct mgmt_conf conf;		/* the running configuration */

	struct q_store *store;
	struct q_shard *shards[65];	/* one per core, then the mgmt one */
	struct mgmt_sink *sinks[64];
	unsigned cores;
	struct dp_smtp_conf smtp;

	const struct mgmt_backend_ops *backend;
	void *backend_arg;

	struct mgmt_policy *_Atomic policy;	/* swapped on reload */
	struct mgmt_ctl *ctl;
	struct mgmt_dlv *dlv;
	struct mgmt_scan *scan;

	/* the management thread's own ring, for the bounce shard */
	struct io_uring ring;
	bool ring_ready;
	int ring_efd;

	int sig_fd;
	int epoll_fd;
	int pid_fd;
	bool draining;
	bool delivery_paused;
	uint64_t started_wall_ns;
	uint64_t reloads, reload_failures;
	char last_reload_error[512];
	bool stop;
};

/* mgmt_loop.c: runs until SIGTERM/SIGINT; returns the exit status. */
int mgmt_loop_run(struct mgmt_daemon *d);

/* mgmt_cmds.c: registers every control command. */
int mgmt_cmds_register(struct mgmt_daemon *d);
/* Reload the configuration file: validate fully, then apply what can
 * change at run time.  0, or -1 with the reason in err (nothing changed). */
int mgmt_reload(struct mgmt_daemon *d, char *err, size_t errlen);

/* mgmt_inject.c: the bounce path (messages born in the management plane). */
int mgmt_inject_init(struct mgmt_daemon *d);
void mgmt_inject_fini(struct mgmt_daemon *d);
/* mgmt_dlv's inject_async: 0 once handed to the queue; the token comes
 * back through mgmt_dlv_inject_done() when the bounce is durable. */
int mgmt_inject(void *arg, const struct q_envelope *env, const uint8_t *body,
		size_t len, uint64_t token);
void mgmt_inject_poll(struct mgmt_daemon *d);	/* flush + reap */

/* mgmt_main.c */
int mgmt_mkparent(const char *path);	/* mkdir -p of path's directory */
void mgmt_smtp_conf_fill(struct dp_smtp_conf *s, const struct mgmt_conf *c);
struct dp_sink;
/* mgmt_dpdk.c: the DPDK backend behind the backend table. */
int mgmt_backend_dpdk_create(struct mgmt_daemon *d, const struct dp_sink *sinks,
			     char *err, size_t errlen);

/* mgmt_dlvconf.c */
struct mgmt_dlv_source;
struct mgmt_dlv *mgmt_dlv_create_from_conf(struct mgmt_daemon *d,
					   const struct mgmt_dlv_source *src,
					   char *err, size_t errlen);

/* mgmt_version.c */
void mgmt_version_print(void);

#endif
