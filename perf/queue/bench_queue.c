/*
 * bench_queue — durable append throughput of the queue against a
 * file-per-message spool, on the same disk in the same run.
 *
 * Queue: T writer threads, each with its own shard and io_uring ring as a
 * dataplane core would have, put messages of S bytes through open, write,
 * commit, and at the end of every loop round flush (group commit); CQEs
 * are handed back to the shard.  The main thread runs q_store_poll.
 *
 * First the disk's floor (pwrite + fdatasync of 4 KB and of 256 KB), then
 * two queue runs, all printed:
 *   saturation  closed loop, up to W messages in flight per thread: the
 *               throughput ceiling.  Its latency is mostly queueing (W
 *               messages waiting for the disk), so it is printed but is
 *               not the commit latency of a loaded server.
 *   open loop   messages arrive on a fixed schedule at P% of the measured
 *               saturation rate (-p, default 50); latency runs from the
 *               scheduled arrival to done(), so a stall that delays later
 *               arrivals is counted against them (no coordinated omission).
 * Spool: T threads each write a file, fsync it and rename it into place,
 * like Postfix's queue manager does with a new message.
 *
 *   bench_queue [-t threads] [-n msgs/thread] [-s size] [-w window]
 *               [-d dir] [-m fdatasync|odirect] [-S spool_secs]
 *               [-p open_loop_pct] [-r open_loop_total_msgs_per_s]
 *               [-b group commits in flight per shard]
 *               [-i thread,uring,sync: shard I/O modes to run, each with
 *                   its own saturation and open-loop runs, default thread]
 *               [-N: no syncs at all, NOT durable: the software floor]
 *               [-D: a delivery stage: the store thread marks every
 *                   committed message scanned and delivered, as a gateway
 *                   keeping up does, so segments retire and are recycled]
 *               [-g segment size in MiB, default 256]
 *
 * -i thread is the queue's default (writes and syncs on a commit thread per
 * shard); -i uring submits them to the writer's io_uring (io-wq does the
 * blocking work); -i sync makes the writer itself block in pwritev and
 * fdatasync (Q_IO_SYNC: no core could run like that, but it is the
 * latency floor of the calls without any hand-off).  Running several in
 * one invocation gives their ratios on the same disk at the same time.
 *
 * Each run also prints what the disk did: the group-commit fdatasync calls
 * of that run by duration (the queue's own counters), so a commit latency
 * can be read against the syncs it waited for.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mx_counter.h"
#include "mx_time.h"
#include "q_shard.h"
#include "q_store.h"

static unsigned n_threads = 2, window = 512;
static uint64_t n_msgs = 200000, msg_size = 4096;
static const char *base = "/var/tmp/mxgate-bench-queue";
static int method = Q_SYNC_FDATASYNC;
static double spool_secs = 3;
static unsigned batches_max;	/* 0 = the queue's default */
static bool no_sync;		/* -N: Q_DURABILITY_NONE, the software floor */
static bool deliver;		/* -D: finish messages as they are indexed */
static uint64_t seg_mib = 256;	/* -g */
static int io_mode = Q_IO_THREAD;

struct writer {
	pthread_t th;
	struct q_shard *sh;
	double rate;		/* msgs/s of this thread, 0 = closed loop */
	uint64_t *t_commit;	/* by cookie: when the message arrived */
	uint64_t *lat;
	uint64_t nlat, acked, failed;
	uint64_t t0, t1;
};

static atomic_bool go, stop_store;
static struct q_rcpt rcpt = { "user@example.org", 0, NULL };
static struct q_envelope env = {
	.client_addr = "192.0.2.1", .client_port = 2525, .helo = "bench",
	.proto = "ESMTP", .mail_from = "sender@example.org", .rcpt = &rcpt,
	.rcpt_count = 1,
};

static void on_done(void *arg, uint64_t cookie, uint64_t id, int status)
{
	struct writer *w = arg;

	if (status) {
		w->failed++;
		return;
	}
	w->lat[w->nlat++] = mx_now_ns() - w->t_commit[cookie];
	w->acked++;
}

/* When message i is due: now for a closed loop, else on the schedule. */
static uint64_t due_ns(const struct writer *w, uint64_t i)
{
	return w->rate > 0 ? w->t0 + (uint64_t)((double)i * 1e9 / w->rate) : 0;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct io_uring ring;
	uint8_t *body = malloc(msg_size);
	uint64_t sent = 0;

	memset(body, 'x', msg_size);
	mx_counter_thread_attach();	/* -i sync counts its syncs here */
	if (io_uring_queue_init(1024, &ring, 0) < 0) {
		perror("io_uring_queue_init");
		exit(1);
	}
	q_shard_attach(w->sh, &ring, 1ull << 56, on_done, w);
	while (!atomic_load(&go))
		;
	w->t0 = mx_now_ns();
	while (w->acked + w->failed < n_msgs) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_nsec = 1000000 };
		unsigned head, n = 0;
		uint64_t now = mx_now_ns();

		/* One loop round: every message due by now (within the
		 * staging window), then flush. */
		while (sent < n_msgs && sent - w->acked - w->failed < window &&
		       due_ns(w, sent) <= now) {
			struct q_msg *m;
			uint64_t id;

			if (q_shard_msg_open(w->sh, &env, sent, &m, &id) < 0)
				break;
			q_shard_msg_write(m, body, msg_size);
			w->t_commit[sent] = w->rate > 0 ? due_ns(w, sent)
							: mx_now_ns();
			q_shard_msg_commit(m);
			sent++;
		}
		q_shard_flush(w->sh);
		/* Sleep until a completion or the next arrival; never block
		 * without a timeout: messages may be waiting for a segment
		 * the store is still preparing, with no I/O out. */
		if (w->rate > 0 && sent < n_msgs) {
			uint64_t d = due_ns(w, sent), t = mx_now_ns();

			ts.tv_nsec = d > t ? (long long)(d - t) : 0;
			if (ts.tv_nsec > 1000000)
				ts.tv_nsec = 1000000;
		}
		io_uring_submit(&ring);
		if (q_shard_inflight(w->sh) || ts.tv_nsec > 0)
			io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		io_uring_for_each_cqe(&ring, head, cqe) {
			q_shard_cqe(w->sh, cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
	w->t1 = mx_now_ns();
	mx_counter_thread_detach();
	io_uring_queue_exit(&ring);
	free(body);
	return NULL;
}

/* -D: every message the store has indexed is scanned clean and delivered
 * (one recipient), as by a gateway whose scanning and delivery keep up;
 * those state records are made durable at the next poll. */
static int deliver_new(struct q_store *s)
{
	struct q_msg_view v;
	int n = 0;

	while (q_store_next(s, Q_ST_NEW, 0, &v) == 0) {
		if (q_store_set_verdict(s, v.id, Q_VERDICT_CLEAN, NULL) < 0 ||
		    q_store_rcpt_delivered(s, v.id, 0) < 0) {
			fprintf(stderr, "deliver %016llx failed\n",
				(unsigned long long)v.id);
			exit(1);
		}
		n++;
	}
	return n;
}

static void *store_main(void *arg)
{
	struct q_store *s = arg;

	while (!atomic_load(&stop_store)) {
		int n = q_store_poll(s);

		if (deliver)
			n += deliver_new(s);
		if (n == 0)
			usleep(200);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *f)
{
	return remove(p);
}

struct spooler {
	pthread_t th;
	unsigned idx;
	uint64_t done;
	char dir[600];
};

static void *spool_main(void *arg)
{
	struct spooler *sp = arg;
	char *body = malloc(msg_size), tmp[700], final[700];
	uint64_t end = mx_now_ns() + (uint64_t)(spool_secs * 1e9);

	memset(body, 'x', msg_size);
	while (mx_now_ns() < end) {
		int fd;

		snprintf(tmp, sizeof(tmp), "%s/incoming.%u.%llu", sp->dir,
			 sp->idx, (unsigned long long)sp->done);
		snprintf(final, sizeof(final), "%s/active.%u.%llu", sp->dir,
			 sp->idx, (unsigned long long)sp->done);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || write(fd, body, msg_size) != (ssize_t)msg_size ||
		    fsync(fd) < 0 || close(fd) < 0 || rename(tmp, final) < 0) {
			perror("spool");
			exit(1);
		}
		sp->done++;
	}
	free(body);
	return NULL;
}

static double run_spool(void)
{
	struct spooler sp[64];
	char dir[600];
	uint64_t total = 0, t0, t1;

	snprintf(dir, sizeof(dir), "%s/spool", base);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(dir, 0700);
	t0 = mx_now_ns();
	for (unsigned i = 0; i < n_threads; i++) {
		sp[i].idx = i;
		sp[i].done = 0;
		snprintf(sp[i].dir, sizeof(sp[i].dir), "%s", dir);
		pthread_create(&sp[i].th, NULL, spool_main, &sp[i]);
	}
	for (unsigned i = 0; i < n_threads; i++) {
		pthread_join(sp[i].th, NULL);
		total += sp[i].done;
	}
	t1 = mx_now_ns();
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return (double)total / ((double)(t1 - t0) / 1e9);
}

/* The disk's own floor, in the same run: one thread doing pwrite of bs
 * bytes + fdatasync into a pre-written file (what a group commit of one
 * message costs at best).  The disk is shared, so this moves with load. */
static void raw_sync(size_t bs, unsigned n)
{
	char path[600];
	uint64_t *lat = calloc(n, sizeof(*lat)), t0, t;
	uint8_t *buf = malloc(bs);
	int fd;

	snprintf(path, sizeof(path), "%s/raw", base);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !lat || !buf) {
		perror("raw");
		exit(1);
	}
	memset(buf, 0, bs);
	for (unsigned i = 0; i < n; i++)
		if (pwrite(fd, buf, bs, (off_t)i * bs) != (ssize_t)bs)
			exit(1);
	fsync(fd);
	memset(buf, 'x', bs);
	t0 = mx_now_ns();
	for (unsigned i = 0; i < n; i++) {
		t = mx_now_ns();
		if (pwrite(fd, buf, bs, (off_t)i * bs) != (ssize_t)bs ||
		    fdatasync(fd) < 0) {
			perror("raw");
			exit(1);
		}
		lat[i] = mx_now_ns() - t;
	}
	t = mx_now_ns() - t0;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("disk: pwrite %zu B + fdatasync: %.0f/s p50=%.3fms p99=%.3fms "
	       "max=%.3fms\n", bs, n / (t / 1e9), lat[n / 2] / 1e6,
	       lat[n * 99 / 100] / 1e6, lat[n - 1] / 1e6);
	close(fd);
	unlink(path);
	free(lat);
	free(buf);
}

struct result {
	double rate, p50, p99, p999, max;
	uint64_t acked, failed;
	double secs;
	struct q_sync_stats sync;	/* this run's syncs */
	uint64_t recycled;
};

/* One queue run: a fresh store, T writers at total_rate msgs/s (0 =
 * closed loop). */
static int run_queue(double total_rate, const char *name,
		     struct result *res)
{
	struct writer w[64];
	struct q_conf c;
	struct q_store *s;
	struct q_sync_stats sync0;
	pthread_t st;
	char err[600], qdir[600];
	uint64_t nlat = 0, *all, t0 = UINT64_MAX, t1 = 0;

	memset(res, 0, sizeof(*res));
	snprintf(qdir, sizeof(qdir), "%s/%s", base, name);
	nftw(qdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	q_conf_defaults(&c);
	snprintf(c.dir, sizeof(c.dir), "%s", qdir);
	c.shard_count = n_threads;
	c.sync_method = method;
	c.segment_size = seg_mib << 20;
	c.msg_size_max = 64 << 10;
	c.staging_count = window;
	c.spare_segments = 2;
	c.io_mode = io_mode;
	if (no_sync)
		c.durability = Q_DURABILITY_NONE;
	if (batches_max)
		c.batches_max = batches_max;
	s = q_store_open(&c, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (unsigned i = 0; i < n_threads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].sh = q_shard_create(s, i);
		w[i].rate = total_rate / n_threads;
		w[i].t_commit = calloc(n_msgs, sizeof(uint64_t));
		w[i].lat = calloc(n_msgs, sizeof(uint64_t));
		if (!w[i].sh || !w[i].t_commit || !w[i].lat)
			return -1;
	}
	/* A shard starts with one prepared segment and the store makes the
	 * rest while it runs; a daemon that has been up has them all, so
	 * the clock starts once they are there (at most 30 s). */
	for (uint64_t end = mx_now_ns() + 30000000000ull;
	     mx_now_ns() < end;) {
		struct q_stats qs;

		q_store_poll(s);
		q_store_stats(s, &qs);
		/* every shard's spares, and the state log's segment */
		if (qs.segments >= (uint64_t)n_threads * c.spare_segments + 1)
			break;
	}
	atomic_store(&go, false);
	atomic_store(&stop_store, false);
	q_sync_stats_get(&sync0);
	pthread_create(&st, NULL, store_main, s);
	for (unsigned i = 0; i < n_threads; i++)
		pthread_create(&w[i].th, NULL, writer_main, &w[i]);
	atomic_store(&go, true);
	for (unsigned i = 0; i < n_threads; i++) {
		pthread_join(w[i].th, NULL);
		res->acked += w[i].acked;
		res->failed += w[i].failed;
		nlat += w[i].nlat;
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
	}
	atomic_store(&stop_store, true);
	pthread_join(st, NULL);
	q_sync_stats_get(&res->sync);
	res->sync.syncs -= sync0.syncs;
	res->sync.ns -= sync0.ns;
	res->sync.le_1ms -= sync0.le_1ms;
	res->sync.le_5ms -= sync0.le_5ms;
	res->sync.le_20ms -= sync0.le_20ms;
	res->sync.gt_20ms -= sync0.gt_20ms;
	res->sync.errors -= sync0.errors;
	res->sync.past5_ns -= sync0.past5_ns;
	{
		struct q_stats qs;

		q_store_stats(s, &qs);
		res->recycled = qs.segments_recycled;
	}
	all = malloc(nlat * sizeof(*all) + 8);
	nlat = 0;
	for (unsigned i = 0; i < n_threads; i++) {
		memcpy(all + nlat, w[i].lat, w[i].nlat * sizeof(*all));
		nlat += w[i].nlat;
		free(w[i].lat);
		free(w[i].t_commit);
	}
	qsort(all, nlat, sizeof(*all), cmp_u64);
	res->secs = (double)(t1 - t0) / 1e9;
	res->rate = (double)res->acked / res->secs;
	if (nlat) {
		res->p50 = all[nlat / 2] / 1e6;
		res->p99 = all[nlat * 99 / 100] / 1e6;
		res->p999 = all[nlat * 999 / 1000] / 1e6;
		res->max = all[nlat - 1] / 1e6;
	}
	free(all);
	q_store_close(s);
	/* Removed at the very end: this file system may discard freed
	 * blocks online, which would slow the runs after it. */
	return 0;
}

static void print_run(const char *what, const struct result *r)
{
	printf("queue %s: %.0f msgs/s %.1f MB/s acked=%llu failed=%llu "
	       "secs=%.2f commit latency p50=%.3fms p99=%.3fms p99.9=%.3fms "
	       "max=%.3fms\n", what, r->rate, r->rate * (double)msg_size / 1e6,
	       (unsigned long long)r->acked, (unsigned long long)r->failed,
	       r->secs, r->p50, r->p99, r->p999, r->max);
	if (r->sync.syncs)
		printf("  disk: %llu fdatasync, mean %.3f ms; <=1 ms %.1f%%, "
		       "1-5 ms %.1f%%, 5-20 ms %.2f%%, >20 ms %.2f%%; a "
		       "running sync ended > 5 ms later during %.2f%% of the "
		       "run (per shard: at least that share of commits waits "
		       "> 5 ms); %llu segments recycled\n",
		       (unsigned long long)r->sync.syncs,
		       (double)r->sync.ns / (double)r->sync.syncs / 1e6,
		       100.0 * (double)r->sync.le_1ms / (double)r->sync.syncs,
		       100.0 * (double)r->sync.le_5ms / (double)r->sync.syncs,
		       100.0 * (double)r->sync.le_20ms / (double)r->sync.syncs,
		       100.0 * (double)r->sync.gt_20ms / (double)r->sync.syncs,
		       100.0 * (double)r->sync.past5_ns / 1e9 / r->secs / n_threads,
		       (unsigned long long)r->recycled);
}

int main(int argc, char **argv)
{
	struct result sat, open;
	double spool, pct = 50, fixed_rate = 0, sat_first = 0;
	char what[700], modes[64] = "thread", *tok, *save = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "t:n:s:w:d:m:S:p:r:b:i:NDg:")) != -1) {
		switch (opt) {
		case 't': n_threads = (unsigned)atoi(optarg); break;
		case 'n': n_msgs = strtoull(optarg, NULL, 0); break;
		case 's': msg_size = strtoull(optarg, NULL, 0); break;
		case 'w': window = (unsigned)atoi(optarg); break;
		case 'd': base = optarg; break;
		case 'm': method = strcmp(optarg, "odirect") == 0
					   ? Q_SYNC_ODIRECT_DSYNC
					   : Q_SYNC_FDATASYNC; break;
		case 'S': spool_secs = atof(optarg); break;
		case 'p': pct = atof(optarg); break;
		case 'r': fixed_rate = atof(optarg); break;
		case 'b': batches_max = (unsigned)atoi(optarg); break;
		case 'N': no_sync = true; break;
		case 'D': deliver = true; break;
		case 'g': seg_mib = strtoull(optarg, NULL, 0); break;
		case 'i': snprintf(modes, sizeof(modes), "%s", optarg); break;
		default:
			fprintf(stderr, "usage: see the file header\n");
			return 2;
		}
	}
	if (n_threads < 1 || n_threads > 64)
		return 2;
	mkdir(base, 0700);
	printf("queue: method=%s threads=%u size=%llu window=%u "
	       "msgs/thread=%llu segment=%llu MiB%s\n",
	       no_sync ? "NONE (not durable)"
	       : method == Q_SYNC_FDATASYNC ? "fdatasync" : "odirect+dsync",
	       n_threads, (unsigned long long)msg_size, window,
	       (unsigned long long)n_msgs, (unsigned long long)seg_mib,
	       deliver ? " delivery=on (segments retire and are recycled)"
		       : "");
	raw_sync(4096, 2000);
	raw_sync(256 << 10, 200);
	for (tok = strtok_r(modes, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		double rate = fixed_rate;

		if (strcmp(tok, "thread") == 0)
			io_mode = Q_IO_THREAD;
		else if (strcmp(tok, "uring") == 0)
			io_mode = Q_IO_URING;
		else if (strcmp(tok, "sync") == 0)
			io_mode = Q_IO_SYNC;
		else {
			fprintf(stderr, "-i: thread, uring or sync, not %s\n",
				tok);
			return 2;
		}
		if (run_queue(0, "queue-sat", &sat) < 0)
			return 1;
		snprintf(what, sizeof(what), "[%s] saturation (closed loop)", tok);
		print_run(what, &sat);
		if (!sat_first)
			sat_first = sat.rate;
		/* Every mode gets the same offered rate: the first mode's. */
		if (rate <= 0)
			rate = fixed_rate = sat_first * pct / 100;
		if (run_queue(rate, "queue-open", &open) < 0)
			return 1;
		snprintf(what, sizeof(what), "[%s] open loop at %.0f msgs/s", tok,
			 rate);
		print_run(what, &open);
	}
	sat.rate = sat_first;
	spool = run_spool();
	printf("spool: %.0f msgs/s (write+fsync+rename per file, %u threads)\n",
	       spool, n_threads);
	printf("ratio: queue/spool = %.1fx\n", spool > 0 ? sat.rate / spool : 0);
	snprintf(what, sizeof(what), "%s/queue-sat", base);
	nftw(what, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(what, sizeof(what), "%s/queue-open", base);
	nftw(what, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
