/*
 * test_q_ring — the shard's io_uring path under injected completion
 * errors.  The shard runs in Q_IO_URING mode on a real ring; the fault
 * shim's cqe_res hook replaces the result of the Nth write or sync
 * completion with an error (EIO, ENOSPC), for every N the baseline run
 * produced.  Then the queue is reopened and checked: every message
 * acknowledged with 0 is there with its exact bytes, and no message whose
 * commit was reported failed reappears (its bytes did reach the file: the
 * failure was injected after the real write succeeded, so only the
 * store's DELETED record keeps it out).  Exits 77 where io_uring is not
 * available.
 *
 * With the argument "thread" the shard runs in Q_IO_THREAD mode on the
 * ring instead: its commit thread makes the calls and wakes the core
 * through a read on the ring, and the sweep fails the Nth write (EIO,
 * ENOSPC) or sync (EIO) through the shim.  The store is polled only while
 * nothing is in flight, so the shim is never called from two threads.
 *
 * With "notes thread" or "notes uring": the store is not polled, so the
 * shard's commit notices run out and a durable message waits for its
 * acknowledgement; then one q_store_poll() must wake the core through its
 * ring, with no flush and no timer, and the message is acknowledged.
 */
#include <errno.h>
#include <ftw.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_ring.h"
#include "q_fault.h"
#include "q_shard.h"
#include "q_store.h"
#include "q_store_int.h"	/* q_shard_free_notes(): when notices run out */

#define MSGS 48
#define PER_ROUND 3

static int failures;
static int io_mode = Q_IO_URING;
static long one_writes, one_syncs;	/* shim calls of the last run */

struct run {
	uint64_t id[MSGS];
	int status[MSGS];	/* 1 = not completed */
	bool opened[MSGS];
};

static struct q_rcpt rcpt = { "u@example.org", 0, NULL };
static struct q_envelope env = {
	.client_addr = "127.0.0.1", .client_port = 1, .helo = "t",
	.proto = "ESMTP", .mail_from = "s@example.org", .rcpt = &rcpt,
	.rcpt_count = 1,
};

static size_t body_len(int i)
{
	return 300 + (size_t)(i * 7919) % 40000;
}

static uint8_t body_byte(int i, size_t j)
{
	return (uint8_t)(i * 17 + j * 3);
}

static void on_done(void *arg, uint64_t cookie, uint64_t id, int status)
{
	((struct run *)arg)->status[cookie] = status;
}

static void conf_for(struct q_conf *c, const char *dir,
		     const struct q_io_ops *io)
{
	q_conf_defaults(c);
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	c->segment_size = 1 << 20;
	c->msg_size_max = 64 << 10;
	c->staging_count = 16;
	c->io_mode = io_mode;
	c->spare_segments = 1;
	c->io = io;
}

/* Waits up to ms for CQEs and hands them to the shard; how many came. */
static int ring_wait(struct io_uring *ring, struct q_shard *sh, long ms)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = ms % 1000 * 1000000 };
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
	io_uring_for_each_cqe(ring, head, cqe) {
		if ((cqe->user_data & Q_UD_TAG_MASK) == (1ull << 56))
			q_shard_cqe(sh, cqe);
		n++;
	}
	io_uring_cq_advance(ring, n);
	return (int)n;
}

/* Hands every CQE to the shard until nothing is in flight. */
static void drain(struct io_uring *ring, struct q_shard *sh, struct q_store *s)
{
	for (int spins = 0; q_shard_inflight(sh) && spins < 2000; spins++) {
		q_shard_flush(sh);
		ring_wait(ring, sh, 1);
		if (io_mode != Q_IO_THREAD || !q_shard_inflight(sh))
			q_store_poll(s);
	}
}

static int workload(struct q_fault *f, const char *dir, struct run *r)
{
	struct io_uring ring;
	struct q_conf c;
	struct q_store *s;
	struct q_shard *sh;
	char err[512];
	static uint8_t body[64 << 10];

	for (int i = 0; i < MSGS; i++)
		r->status[i] = 1;
	if (io_uring_queue_init(64, &ring, 0) < 0)
		return -1;
	conf_for(&c, dir, q_fault_ops(f));
	s = q_store_open(&c, err, sizeof(err));
	if (!s) {
		/* In thread mode the shim also fails the store's own first
		 * writes: then nothing was taken, nothing to check. */
		if (io_mode != Q_IO_THREAD || !q_fault_fired(f)) {
			fprintf(stderr, "open: %s\n", err);
			failures++;
		}
		io_uring_queue_exit(&ring);
		return 0;
	}
	sh = q_shard_create(s, 0);
	if (!sh || q_shard_attach(sh, &ring, 1ull << 56, on_done, r) < 0) {
		fprintf(stderr, "shard create/attach failed\n");
		failures++;
	} else {
		for (int i = 0; i < MSGS; i += PER_ROUND) {
			for (int k = i; k < i + PER_ROUND && k < MSGS; k++) {
				struct q_msg *m;
				size_t n = body_len(k);

				/* Refused while the shard waits for a fresh
				 * segment after a failure: fine. */
				if (q_shard_msg_open(sh, &env, (uint64_t)k, &m,
						     &r->id[k]) < 0)
					continue;
				r->opened[k] = true;
				for (size_t j = 0; j < n; j++)
					body[j] = body_byte(k, j);
				if (q_shard_msg_write(m, body, n) < 0) {
					q_shard_msg_abort(m);
					continue;
				}
				q_shard_msg_commit(m);
			}
			q_shard_flush(sh);
			drain(&ring, sh, s);
		}
		if (q_shard_inflight(sh)) {
			fprintf(stderr, "messages still in flight at the end\n");
			failures++;
		}
		q_store_poll(s);
	}
	q_store_close(s);
	io_uring_queue_exit(&ring);
	return 0;
}

static void check(const char *what, long n, const char *dir, struct run *r)
{
	struct q_conf c;
	struct q_msg_view v;
	struct q_store *s;
	char err[512];

	conf_for(&c, dir, NULL);
	c.io_mode = Q_IO_SYNC;
	s = q_store_open(&c, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "%s n=%ld: reopen failed: %s\n", what, n, err);
		failures++;
		return;
	}
	for (int i = 0; i < MSGS; i++) {
		int rc;
		bool same;

		if (!r->opened[i])
			continue;
		rc = q_store_get(s, r->id[i], &v);
		if (rc == 0 && v.state == Q_ST_DONE)
			rc = -ENOENT;
		if (r->status[i] == 0 && rc != 0) {
			fprintf(stderr, "%s n=%ld: acked msg %d lost\n", what, n, i);
			failures++;
		} else if (r->status[i] != 0 && rc == 0) {
			fprintf(stderr, "%s n=%ld: failed msg %d (status %d) "
				"reappeared\n", what, n, i, r->status[i]);
			failures++;
		}
		if (rc != 0)
			continue;
		same = v.body_len == body_len(i);
		for (size_t j = 0; same && j < v.body_len; j++)
			same = v.body[j] == body_byte(i, j);
		if (!same) {
			fprintf(stderr, "%s n=%ld: msg %d corrupt\n", what, n, i);
			failures++;
		}
	}
	q_store_close(s);
}

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	return remove(p);
}

/* One run; returns the completions seen, or -1 without io_uring. */
static long one(const char *what, enum q_fault_mode mode, long n, int err,
		const char *base, int *nfailed)
{
	char dir[600];
	struct run r;
	struct q_fault *f;
	long cqes;

	memset(&r, 0, sizeof(r));
	snprintf(dir, sizeof(dir), "%s/q", base);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	f = q_fault_create(mode, n, err, QF_KEEP, 1);
	if (workload(f, dir, &r) < 0) {
		q_fault_destroy(f);
		return -1;
	}
	cqes = q_fault_cqes(f);
	one_writes = q_fault_writes(f);
	one_syncs = q_fault_syncs(f);
	check(what, n, dir, &r);
	q_fault_destroy(f);
	*nfailed = 0;
	for (int i = 0; i < MSGS; i++)
		*nfailed += r.opened[i] && r.status[i] != 0;
	return cqes;
}

/* Q_IO_THREAD: the commit thread's writes and syncs fail through the shim;
 * the Nth call may also be the store's own (segment preparation), so only
 * the recovery invariants are checked, and that the sweep failed some. */
static int main_thread(const char *base)
{
	static const struct {
		const char *name;
		enum q_fault_mode mode;
		int err;
	} sweeps[] = {
		{ "write_eio", QF_FAIL_WRITE, EIO },
		{ "write_enospc", QF_FAIL_WRITE, ENOSPC },
		{ "sync_eio", QF_FAIL_SYNC, EIO },
	};
	int runs = 0, nfailed, with_failures = 0;

	for (size_t k = 0; k < sizeof(sweeps) / sizeof(sweeps[0]); k++) {
		long count;

		if (one("baseline", QF_NONE, 0, 0, base, &nfailed) < 0)
			return 77;
		if (nfailed || one_writes < 10 || one_syncs < 10) {
			fprintf(stderr, "baseline: %d failed, %ld writes, "
				"%ld syncs\n", nfailed, one_writes, one_syncs);
			failures++;
		}
		count = sweeps[k].mode == QF_FAIL_WRITE ? one_writes : one_syncs;
		for (long n = 1; n <= count; n++, runs++) {
			one(sweeps[k].name, sweeps[k].mode, n, sweeps[k].err,
			    base, &nfailed);
			with_failures += nfailed > 0;
		}
	}
	if (!with_failures) {
		fprintf(stderr, "no injected fault failed a message\n");
		failures++;
	}
	printf("[thread] %d fault runs, %d failed messages, %d failure(s)\n",
	       runs, with_failures, failures);
	return failures ? 1 : 0;
}


static int main_notes(const char *base)
{
	static struct run r;
	static const uint8_t body[100] = "notes";
	struct io_uring ring;
	struct q_conf c;
	struct q_store *s;
	struct q_shard *sh;
	char err[512], dir[600];
	int k, acked_before;

	snprintf(dir, sizeof(dir), "%s/q", base);
	if (io_uring_queue_init(64, &ring, 0) < 0) {
		printf("io_uring not available: skipped\n");
		return 77;
	}
	conf_for(&c, dir, NULL);
	c.segment_size = 4 << 20;
	s = q_store_open(&c, err, sizeof(err));
	if (!s || !(sh = q_shard_create(s, 0)) ||
	    q_shard_attach(sh, &ring, 1ull << 56, on_done, &r) < 0) {
		fprintf(stderr, "open: %s\n", s ? "shard" : err);
		return 1;
	}
	/* One message per batch, the store never polled: each acknowledged
	 * batch keeps a notice, until there are none left; the message after
	 * that becomes durable but cannot be acknowledged. */
	for (k = 0;; k++) {
		struct q_msg *m;
		uint64_t id;
		bool last = mx_ring_count(q_shard_free_notes(sh)) == 0;

		if (k == 100000 || q_shard_msg_open(sh, &env, 0, &m, &id) < 0) {
			fprintf(stderr, "msg %d: open failed, or notices never "
				"ran out\n", k);
			return 1;
		}
		q_shard_msg_write(m, body, sizeof(body));
		q_shard_msg_commit(m);
		r.status[0] = 1;
		q_shard_flush(sh);
		if (last)
			break;
		/* A slow disk under load may take seconds. */
		for (int spins = 0; r.status[0] == 1 && spins < 1000; spins++)
			ring_wait(&ring, sh, 20);
		if (r.status[0] != 0) {
			fprintf(stderr, "msg %d: status %d\n", k, r.status[0]);
			return 1;
		}
	}
	acked_before = k;
	/* Quiet while the store holds every notice (the commit itself has
	 * long finished by the end of this)... */
	for (int spins = 0; spins < 15; spins++)
		ring_wait(&ring, sh, 20);
	if (r.status[0] != 1) {
		fprintf(stderr, "acknowledged without notices\n");
		failures++;
	}
	/* ...and one poll of the store wakes the core: no flush here. */
	q_store_poll(s);
	for (int spins = 0; r.status[0] == 1 && spins < 100; spins++)
		ring_wait(&ring, sh, 100);
	if (r.status[0] != 0) {
		fprintf(stderr, "not woken after the store returned notices "
			"(status %d)\n", r.status[0]);
		failures++;
	}
	q_store_poll(s);
	q_store_close(s);
	io_uring_queue_exit(&ring);
	printf("[notes %s] starved after %d acknowledgements, woken by the "
	       "store: %s\n", io_mode == Q_IO_THREAD ? "thread" : "uring",
	       acked_before, failures ? "no" : "yes");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int err;
	} sweeps[] = { { "cqe_eio", EIO }, { "cqe_enospc", ENOSPC } };
	char base[] = "/var/tmp/test_q_ring.XXXXXX";
	long cqes;
	int runs = 0, nfailed, with_failures = 0;

	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 77;
	}
	if (argc > 2 && strcmp(argv[1], "notes") == 0) {
		int rc;

		io_mode = strcmp(argv[2], "thread") == 0 ? Q_IO_THREAD
							  : Q_IO_URING;
		rc = main_notes(base);
		nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		return rc;
	}
	if (argc > 1 && strcmp(argv[1], "thread") == 0) {
		int rc;

		io_mode = Q_IO_THREAD;
		rc = main_thread(base);
		nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		return rc;
	}
	cqes = one("baseline", QF_NONE, 0, 0, base, &nfailed);
	if (cqes < 0) {
		nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		printf("io_uring not available: skipped\n");
		return 77;
	}
	if (cqes < 10 || nfailed) {
		fprintf(stderr, "baseline: %ld completions, %d failed\n", cqes,
			nfailed);
		failures++;
	}
	for (size_t k = 0; k < sizeof(sweeps) / sizeof(sweeps[0]); k++)
		for (long n = 1; n <= cqes; n++, runs++) {
			one(sweeps[k].name, QF_FAIL_CQE, n, sweeps[k].err, base,
			    &nfailed);
			with_failures += nfailed > 0;
		}
	/* Every injected error must have failed some message. */
	if (with_failures != runs) {
		fprintf(stderr, "%d of %d runs reported no failed message\n",
			runs - with_failures, runs);
		failures++;
	}
	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	printf("%d ring fault runs over %ld completions, %d failure(s)\n", runs,
	       cqes, failures);
	return failures ? 1 : 0;
}
