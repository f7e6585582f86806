/*
 * mxload — an SMTP load generator for benchmarking any SMTP server.
 *
 * Opens N concurrent connections (spread over -t worker threads, one
 * io_uring each), sends M messages from a prebuilt pool, uses PIPELINING
 * and BDAT when offered, closed loop or open loop at a target rate, and
 * reports every reply class, every failed message and the end-of-data to
 * 250 latency.  Exit status: 0 all messages got 250, 1 some did not,
 * 2 usage or set-up error.  See perf/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ml_msg.h"
#include "ml_opts.h"
#include "ml_report.h"
#include "ml_worker.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int enter_netns(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "mxload: netns %s: %s\n", name,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static uint64_t share(uint64_t total, unsigned parts, unsigned i)
{
	return total / parts + (i < total % parts ? 1 : 0);
}

int main(int argc, char **argv)
{
	struct ml_opts o;
	struct ml_pool pool;
	struct ml_worker *ws;
	pthread_t *tids;
	struct ml_result res;
	struct rusage ru;
	struct sigaction sa;
	uint64_t t_begin = UINT64_MAX, t_end = 0;
	unsigned i, started = 0;
	int rc, failed_setup = 0;

	if (ml_opts_parse(&o, argc, argv) < 0)
		return 2;
	if (o.netns && enter_netns(o.netns) < 0)
		return 2;
	if (ml_pool_build(&pool, &o) < 0)
		return 2;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ws = calloc(o.threads, sizeof(*ws));
	tids = calloc(o.threads, sizeof(*tids));
	if (!ws || !tids)
		return 2;
	for (i = 0; i < o.threads; i++) {
		struct ml_worker *w = &ws[i];

		w->id = i;
		w->nconns = (unsigned)share(o.conns, o.threads, i);
		w->total = share(o.msgs, o.threads, i);
		w->rate = o.rate / o.threads;
		w->o = &o;
		w->pool = &pool;
		w->stop = &stop_flag;
		rc = ml_worker_init(w);
		if (rc < 0) {
			fprintf(stderr, "mxload: worker %u: %s\n", i,
				strerror(-rc));
			failed_setup = 1;
			break;
		}
	}
	for (i = 0; i < o.threads && !failed_setup; i++) {
		rc = pthread_create(&tids[i], NULL, ml_worker_run, &ws[i]);
		if (rc != 0) {
			fprintf(stderr, "mxload: thread: %s\n", strerror(rc));
			stop_flag = 1;
			failed_setup = 1;
			break;
		}
		started++;
	}
	memset(&res, 0, sizeof(res));
	res.o = &o;
	res.pool = &pool;
	ml_hist_init(&res.st.eod);
	ml_hist_init(&res.st.sched);
	for (i = 0; i < started; i++) {
		struct ml_worker *w = &ws[i];

		pthread_join(tids[i], NULL);
		if (w->err) {
			fprintf(stderr, "mxload: worker %u: ring: %s\n", i,
				strerror(-w->err));
			failed_setup = 1;
		}
		ml_stats_merge(&res.st, &w->st);
		if (w->t_start_ns < t_begin)
			t_begin = w->t_start_ns;
		if (w->t_end_ns > t_end)
			t_end = w->t_end_ns;
	}
	res.elapsed_s = t_end > t_begin ? (double)(t_end - t_begin) / 1e9 : 0;
	getrusage(RUSAGE_SELF, &ru);
	res.cpu_user_s =
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	res.cpu_sys_s =
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (!o.quiet)
		ml_report_summary(stdout, &res);
	if (o.json_path) {
		rc = ml_report_json(o.json_path, &res);
		if (rc < 0) {
			fprintf(stderr, "mxload: %s: %s\n", o.json_path,
				strerror(-rc));
			failed_setup = 1;
		}
	}
	for (i = 0; i < o.threads; i++)
		ml_worker_fini(&ws[i]);
	free(ws);
	free(tids);
	ml_pool_free(&pool);
	if (failed_setup)
		return 2;
	return ml_result_failed(&res) || res.st.started < o.msgs ? 1 : 0;
}
