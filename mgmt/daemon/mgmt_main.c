/*
 * mgmt_main.c — `mxgate`: parse the command line, load and validate the
 * configuration, open the queue (recovery happens here, before a single
 * connection is accepted), start the dataplane, and hand the main thread
 * to the management loop.  On SIGTERM/SIGINT the loop returns and the
 * daemon stops in the reverse order: stop accepting, let sessions finish
 * (in-flight commits still get their 250), sync the queue, exit 0.
 *
 *   mxgate -c FILE [-o key=value]...      run
 *   mxgate --check-config -c FILE [-o ..] validate and exit 0 or 1
 *   mxgate --version                      versions of mxgate and its libraries
 *   mxgate --help-config                  every configuration key
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_sock.h"
#include "mgmt_daemon.h"
#include "mgmt_policy.h"
#include "mgmt_sink.h"
#include "mx_build_config.h"
#include "mx_log.h"
#include "mx_time.h"
#include "q_shard.h"
#include "q_store.h"

#if MX_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define MGMT_OVERRIDES_MAX 128

static void mgmt_usage(FILE *f)
{
	fprintf(f,
		"usage: mxgate [-c FILE] [-o key=value]...\n"
		"       mxgate --check-config [-c FILE] [-o key=value]...\n"
		"       mxgate --version | --help-config\n"
		"  -c FILE          configuration file (default %s)\n"
		"  -o key=value     override one configuration key (repeatable)\n",
		MGMT_CONF_DEFAULT_PATH);
}

/* mkdir -p for the parent of path (pid file, control socket). */
int mgmt_mkparent(const char *path)
{
	char buf[4096];
	char *slash;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return 0;
	*slash = '\0';
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The pid file is also a lock: a second daemon on the same config fails
 * here with a clear message instead of fighting over the queue. */
static void mgmt_pidfile_open(struct mgmt_daemon *d)
{
	const char *path = d->conf.pid_file;
	char buf[32];
	int fd, n;

	if (!path || !*path) {
		d->pid_fd = -1;
		return;
	}
	if (mgmt_mkparent(path) < 0)
		mx_fatal("pid_file %s: cannot create its directory: %s", path,
			 strerror(errno));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		mx_fatal("pid_file %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		mx_fatal("pid_file %s is locked: mxgate already running "
			 "(pid %s)",
			 path, buf);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		mx_fatal("pid_file %s: write: %s", path, strerror(errno));
	d->pid_fd = fd;
}

static void mgmt_pidfile_close(struct mgmt_daemon *d)
{
	if (d->pid_fd < 0)
		return;
	unlink(d->conf.pid_file);
	close(d->pid_fd);
	d->pid_fd = -1;
}

void mgmt_smtp_conf_fill(struct dp_smtp_conf *s, const struct mgmt_conf *c)
{
	dp_smtp_conf_defaults(s);
	snprintf(s->hostname, sizeof(s->hostname), "%s", c->smtp.hostname);
	s->cmd_line_max = c->smtp.command_line_max;
	s->text_line_max = c->smtp.text_line_max;
	s->msg_size_max = c->smtp.max_message_size;
	s->rcpt_max = c->smtp.max_recipients;
	s->errors_max = c->smtp.max_errors;
	s->junk_max = c->smtp.max_junk_commands;
	s->cmd_timeout_ms = (uint32_t)c->smtp.command_timeout_ms;
	s->data_timeout_ms = (uint32_t)c->smtp.data_timeout_ms;
	s->pregreet = c->smtp.pregreet_delay_ms > 0;
}

static void mgmt_queue_conf_fill(struct q_conf *q, const struct mgmt_conf *c,
				 unsigned shards)
{
	q_conf_defaults(q);
	snprintf(q->dir, sizeof(q->dir), "%s", c->queue.dir);
	q->segment_size = c->queue.segment_size;
	q->durability = c->queue.durability == MGMT_CONF_DURABILITY_NONE
				? Q_DURABILITY_NONE
				: Q_DURABILITY_SYNC;
	q->sync_method = c->queue.sync_method == MGMT_CONF_SYNC_ODIRECT
				 ? Q_SYNC_ODIRECT_DSYNC
				 : Q_SYNC_FDATASYNC;
	q->io_mode = c->queue.io == MGMT_CONF_QIO_URING ? Q_IO_URING
							 : Q_IO_THREAD;
	q->quota_bytes = c->queue.quota;
	q->high_water_pct = c->queue.high_water;
	q->low_water_pct = c->queue.low_water;
	q->shard_count = shards;
	q->batches_max = c->queue.batches_max;
	q->copy_forward_pct = c->queue.copy_forward_pct;
	q->state_compact_bytes = c->queue.state_compact_size;
	/* The Received header and the envelope ride in the same record. */
	q->msg_size_max = c->smtp.max_message_size + 64 * 1024 +
			  (uint64_t)c->smtp.max_recipients * 1024;
}

/* ---- the socket backend behind the backend table ---- */

static int mgmt_sock_start(void *arg)
{
	return dp_sock_start(arg);
}

static void mgmt_sock_drain(void *arg, bool on)
{
	dp_sock_drain(arg, on);
}

static void mgmt_sock_tempfail(void *arg, bool on)
{
	dp_sock_tempfail(arg, on);
}

static void mgmt_sock_stop(void *arg)
{
	dp_sock_stop(arg);
}

static void mgmt_sock_destroy(void *arg)
{
	dp_sock_destroy(arg);
}

static unsigned long mgmt_sock_sessions(void *arg)
{
	struct dp_sock_stats st;

	dp_sock_stats(arg, &st);
	return (unsigned long)st.sessions_active;
}

static const struct mgmt_backend_ops mgmt_sock_backend = {
	.name = "socket",
	.start = mgmt_sock_start,
	.drain = mgmt_sock_drain,
	.tempfail = mgmt_sock_tempfail,
	.stop = mgmt_sock_stop,
	.destroy = mgmt_sock_destroy,
	.sessions = mgmt_sock_sessions,
};

static enum dp_smtp_rcpt_verdict mgmt_rcpt_check(void *arg, const char *local,
						 const char *domain)
{
	struct mgmt_daemon *d = arg;
	struct mgmt_policy *p =
		atomic_load_explicit(&d->policy, memory_order_acquire);

	return mgmt_policy_check(p, local, domain);
}

static void mgmt_backend_create(struct mgmt_daemon *d)
{
	struct dp_sink sinks[64];
	char err[512];

	for (unsigned i = 0; i < d->cores; i++)
		sinks[i] = mgmt_sink_get(d->sinks[i]);

	if (d->conf.dataplane.backend == MGMT_CONF_BACKEND_SOCKET) {
		struct dp_sock_conf sc;
		struct dp_sock *ds;

		dp_sock_conf_defaults(&sc);
		sc.cores = d->cores;
		sc.listen_count = d->conf.smtp.listen_count;
		if (sc.listen_count > DP_SOCK_LISTEN_MAX)
			mx_fatal("%s: smtp.listen: at most %d addresses",
				 d->conf.source, DP_SOCK_LISTEN_MAX);
		for (unsigned i = 0; i < sc.listen_count; i++) {
			sc.listen[i].addr = d->conf.smtp.listen[i].sa;
			sc.listen[i].addr_len = d->conf.smtp.listen[i].sa_len;
			sc.listen[i].proxy_protocol =
				d->conf.smtp.proxy_protocol;
		}
		sc.max_connections = d->conf.smtp.max_connections;
		if (sc.max_connections < d->cores)
			sc.max_connections = d->cores;
		sc.max_connections_per_ip = d->conf.smtp.max_connections_per_ip;
		sc.max_msgs_per_ip_minute =
			d->conf.smtp.max_messages_per_ip_per_minute;
		sc.pregreet_delay_ms = (uint32_t)d->conf.smtp.pregreet_delay_ms;
		ds = dp_sock_create(&sc, &d->smtp, sinks, mgmt_rcpt_check, d,
				    err, sizeof(err));
		if (!ds)
			mx_fatal("%s", err);
		d->backend = &mgmt_sock_backend;
		d->backend_arg = ds;
		return;
	}
	if (mgmt_backend_dpdk_create(d, sinks, err, sizeof(err)) < 0)
		mx_fatal("%s", err);
}

static void mgmt_block_signals(void)
{
	sigset_t set;

	/* Blocked in every thread (the cores inherit the mask); the
	 * management loop takes them through a signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"option", required_argument, NULL, 'o'},
		{"check-config", no_argument, NULL, 'C'},
		{"version", no_argument, NULL, 'V'},
		{"help-config", no_argument, NULL, 'K'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *overrides[MGMT_OVERRIDES_MAX];
	static struct mgmt_daemon d;
	struct q_conf qc;
	bool check = false;
	char err[1024];
	int opt, r;

	d.conf_path = MGMT_CONF_DEFAULT_PATH;
	while ((opt = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.conf_path = optarg;
			break;
		case 'o':
			if (d.override_count == MGMT_OVERRIDES_MAX) {
				fprintf(stderr, "mxgate: too many -o\n");
				return 1;
			}
			overrides[d.override_count++] = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'V':
			mgmt_version_print();
			return 0;
		case 'K':
			mgmt_conf_print_keys(stdout);
			return 0;
		case 'h':
			mgmt_usage(stdout);
			return 0;
		default:
			mgmt_usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		mgmt_usage(stderr);
		return 1;
	}
	d.overrides = overrides;

	if (mgmt_conf_load(d.conf_path, overrides, d.override_count, &d.conf,
			   err, sizeof(err)) < 0) {
		fprintf(stderr, "mxgate: %s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: configuration ok\n", d.conf_path);
		mgmt_conf_free(&d.conf);
		return 0;
	}

	mgmt_block_signals();
	mx_counter_thread_attach();
	mx_log_set_level((enum mx_log_level)d.conf.log.level);
	if ((r = mx_log_open(d.conf.log.target)) < 0)
		mx_fatal("log.target %s: %s", d.conf.log.target,
			 strerror(-r));
	d.started_wall_ns = mx_wall_ns();
	mgmt_pidfile_open(&d);
	mx_log(MX_LOG_INFO, "main", "event=starting version=%s config=%s "
	       "backend=%s cores=%u",
	       MX_VERSION, d.conf_path,
	       d.conf.dataplane.backend == MGMT_CONF_BACKEND_DPDK ? "dpdk"
								  : "socket",
	       d.conf.dataplane.cores);

	d.policy = mgmt_policy_create(&d.conf, err, sizeof(err));
	if (!d.policy)
		mx_fatal("%s", err);

	/* The queue: recovery replays every shard before anything else. */
	d.cores = d.conf.dataplane.cores;
	mgmt_queue_conf_fill(&qc, &d.conf, d.cores + 1);
	d.store = q_store_open(&qc, err, sizeof(err));
	if (!d.store)
		mx_fatal("queue.dir %s: %s", d.conf.queue.dir, err);
	mgmt_smtp_conf_fill(&d.smtp, &d.conf);
	if (dp_smtp_conf_check(&d.smtp) < 0)
		mx_fatal("%s: smtp: limits out of the engine's range "
			 "(command_line_max >= 512, text_line_max >= 1000)",
			 d.conf_path);
	for (unsigned i = 0; i <= d.cores; i++) {
		d.shards[i] = q_shard_create(d.store, i);
		if (!d.shards[i])
			mx_fatal("queue.dir %s: cannot create shard %u",
				 d.conf.queue.dir, i);
	}
	for (unsigned i = 0; i < d.cores; i++) {
		d.sinks[i] = mgmt_sink_create(d.shards[i], d.smtp.rcpt_max);
		if (!d.sinks[i])
			mx_fatal("out of memory");
	}
	if (mgmt_inject_init(&d) < 0)
		mx_fatal("cannot set up the management queue shard");

	mgmt_backend_create(&d);
	r = mgmt_loop_run(&d);

	mgmt_inject_fini(&d);
	q_store_close(d.store);
	for (unsigned i = 0; i < d.cores; i++)
		mgmt_sink_destroy(d.sinks[i]);
	mgmt_policy_destroy(atomic_load(&d.policy));
	mx_log(MX_LOG_INFO, "main", "event=stopped status=%d", r);
	mgmt_pidfile_close(&d);
	mgmt_conf_free(&d.conf);
	return r;
}
