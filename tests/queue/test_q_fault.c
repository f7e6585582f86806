/*
 * test_q_fault — the queue under injected I/O faults and crashes.  For every
 * N in a sweep: fail the Nth write (EIO, ENOSPC), fail the Nth sync (EIO),
 * or crash at the Nth sync dropping, keeping, corrupting (or a mix of) the
 * unsynced writes.  Then recover with plain I/O and check: every
 * acknowledged message is there with its exact bytes, nothing is there that
 * was never submitted, without a crash nothing unacknowledged is there,
 * verdicts made durable by a successful poll survived, and messages whose
 * delivery was made durable stay finished.  Most messages are delivered
 * soon after their verdict, so old segments keep only a few live messages:
 * the sweep runs through copy-forward and state-log compaction too (the
 * baseline checks that both happened), crashes included.
 * The shard runs in Q_IO_SYNC mode so every write goes through the shim;
 * with the argument "thread" it runs in Q_IO_THREAD mode instead (the
 * daemon's default: the shard's commit thread makes the calls, merging the
 * batches it finds waiting into one sync), and each round waits for the
 * commit thread before the store is polled, so the shim is never called
 * from two threads at once.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "q_fault.h"
#include "q_shard.h"
#include "q_store.h"

#define MSGS 96
#define PER_ROUND 4

static int failures;
static int io_mode = Q_IO_SYNC;

struct run {
	uint64_t id[MSGS];
	int status[MSGS];	/* 1 = not completed yet */
	bool opened[MSGS];
	bool verdict_durable[MSGS];
	bool delivered[MSGS];		/* a delivery was recorded */
	bool delivered_durable[MSGS];
	uint64_t copied, compactions, recycled;
};

/* Every fifth message stays undelivered: long-lived mail. */
static bool to_deliver(int k)
{
	return k % 5 != 0;
}

static struct q_rcpt rcpt = { "u@example.org", 0, NULL };
static struct q_envelope env = {
	.client_addr = "127.0.0.1", .client_port = 1, .helo = "t",
	.proto = "ESMTP", .mail_from = "s@example.org", .rcpt = &rcpt,
	.rcpt_count = 1,
};

/* Large enough that the run fills several segments, so retired ones are
 * recycled (and faults and crashes hit recycled segments). */
static size_t body_len(int i)
{
	return 20000 + (size_t)(i * 7919) % 40000;
}

static uint8_t body_byte(int i, size_t j)
{
	return (uint8_t)(i * 31 + j * 7);
}

static void on_done(void *arg, uint64_t cookie, uint64_t id, int status)
{
	struct run *r = arg;

	r->status[cookie] = status;
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
	c->state_compact_bytes = 2048;
	c->io = io;
}

static void workload(struct q_fault *f, const char *dir, struct run *r)
{
	struct q_conf c;
	char err[512];
	struct q_store *s;
	struct q_shard *sh;
	uint8_t body[60000];

	for (int i = 0; i < MSGS; i++)
		r->status[i] = 1;
	conf_for(&c, dir, q_fault_ops(f));
	s = q_store_open(&c, err, sizeof(err));
	if (!s)
		return;
	sh = q_shard_create(s, 0);
	if (!sh || q_shard_attach(sh, NULL, 0, on_done, r) < 0) {
		q_store_close(s);
		return;
	}
	for (int i = 0; i < MSGS && !q_fault_crashed(f); i += PER_ROUND) {
		bool pending_verdict[MSGS] = { false };
		bool pending_dlv[MSGS] = { false };

		for (int k = i; k < i + PER_ROUND; k++) {
			struct q_msg *m;
			size_t n = body_len(k);

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
		/* Q_IO_THREAD: the round's commit finishes on the commit
		 * thread; flush takes its results back. */
		for (int spins = 0; q_shard_inflight(sh) && spins < 20000;
		     spins++) {
			usleep(50);
			/* Messages may wait for a segment the store has yet to
			 * make (or fail to make): in Q_IO_SYNC mode nothing
			 * else calls the shim, so the store can run here. */
			if (io_mode == Q_IO_SYNC)
				q_store_poll(s);
			q_shard_flush(sh);
		}
		if (q_shard_inflight(sh)) {
			fprintf(stderr, "commit thread never finished (inflight %u, fired %d)\n", q_shard_inflight(sh), (int)q_fault_fired(f));
			failures++;
			break;
		}
		/* Scan the acknowledged messages of the previous round. */
		for (int k = i - PER_ROUND; k >= 0 && k < i; k++)
			if (r->status[k] == 0 &&
			    q_store_set_verdict(s, r->id[k], Q_VERDICT_CLEAN,
						"ok") == 0)
				pending_verdict[k] = true;
		/* Deliver those scanned a round earlier. */
		for (int k = i - 2 * PER_ROUND; k >= 0 && k < i - PER_ROUND; k++)
			if (r->verdict_durable[k] && to_deliver(k) &&
			    q_store_rcpt_delivered(s, r->id[k], 0) == 0)
				pending_dlv[k] = r->delivered[k] = true;
		if (q_store_poll(s) >= 0 && !q_fault_crashed(f))
			for (int k = 0; k < MSGS; k++) {
				if (pending_verdict[k])
					r->verdict_durable[k] = true;
				if (pending_dlv[k])
					r->delivered_durable[k] = true;
			}
	}
	/* Once more, for the retention work the last changes allow. */
	if (!q_fault_crashed(f))
		q_store_poll(s);
	{
		struct q_stats st;

		q_store_stats(s, &st);
		r->copied = st.copied_forward;
		r->compactions = st.compactions;
		r->recycled = st.segments_recycled;
	}
	q_store_close(s);
}

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	return remove(p);
}

static void check(const char *what, long n, struct q_fault *f, const char *dir,
		  struct run *r)
{
	struct q_conf c;
	char err[512];
	struct q_store *s;
	struct q_msg_view v;
	uint64_t after = 0;
	int found = 0;

	conf_for(&c, dir, NULL);
	s = q_store_open(&c, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "%s n=%ld: reopen failed: %s\n", what, n, err);
		failures++;
		return;
	}
	for (int i = 0; i < MSGS; i++) {
		int rc;

		if (!r->opened[i])
			continue;
		rc = q_store_get(s, r->id[i], &v);
		/* A message recorded as deleted is gone for delivery. */
		if (rc == 0 && v.state == Q_ST_DONE)
			rc = -ENOENT;
		if (r->delivered_durable[i] && rc == 0) {
			fprintf(stderr, "%s n=%ld: delivered msg %d came back "
				"(state %s)\n", what, n, i,
				q_state_name(v.state));
			failures++;
			continue;
		}
		if (r->delivered[i])
			continue;	/* either way is right after a crash */
		if (r->status[i] == 0 && rc != 0) {
			fprintf(stderr, "%s n=%ld: acked msg %d lost\n", what, n, i);
			failures++;
			continue;
		}
		if (rc != 0)
			continue;
		if (!q_fault_crashed(f) && r->status[i] != 0) {
			fprintf(stderr, "%s n=%ld: unacked msg %d (status %d) "
				"reappeared\n", what, n, i, r->status[i]);
			failures++;
		}
		bool same = v.body_len == body_len(i);

		for (size_t j = 0; same && j < v.body_len; j++)
			same = v.body[j] == body_byte(i, j);
		if (!same) {
			fprintf(stderr, "%s n=%ld: msg %d corrupt\n", what, n, i);
			failures++;
		}
		if (r->verdict_durable[i] && v.state != Q_ST_SCANNED) {
			fprintf(stderr, "%s n=%ld: msg %d verdict lost\n", what,
				n, i);
			failures++;
		}
	}
	/* Nothing invented: every message present is one we submitted. */
	for (int st = 0; st < Q_ST_DONE; st++) {
		after = 0;
		while (q_store_next(s, (enum q_state)st, after, &v) == 0) {
			bool ours = false;

			after = v.id;
			for (int i = 0; i < MSGS; i++)
				ours |= r->opened[i] && r->id[i] == v.id;
			if (!ours) {
				fprintf(stderr, "%s n=%ld: invented id %016llx\n",
					what, n, (unsigned long long)v.id);
				failures++;
			}
			found++;
		}
	}
	q_store_close(s);
}

static void one(const char *what, enum q_fault_mode mode, long n, int err,
		enum q_fault_crash pol, const char *base, long *writes,
		long *syncs, struct run *out)
{
	char dir[600];
	struct run r;
	struct q_fault *f;

	memset(&r, 0, sizeof(r));
	snprintf(dir, sizeof(dir), "%s/q", base);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	f = q_fault_create(mode, n, err, pol, (uint32_t)(n * 2654435761u + 1));
	workload(f, dir, &r);
	if (writes)
		*writes = q_fault_writes(f);
	if (syncs)
		*syncs = q_fault_syncs(f);
	if (q_fault_crashed(f))
		q_fault_apply_crash(f);
	check(what, n, f, dir, &r);
	q_fault_destroy(f);
	if (out)
		*out = r;
}

int main(int argc, char **argv)
{
	char base[] = "/var/tmp/test_q_fault.XXXXXX";
	long writes = 0, syncs = 0;
	static struct run base_run;
	static const struct {
		const char *name;
		enum q_fault_mode mode;
		int err;
		enum q_fault_crash pol;
	} sweeps[] = {
		{ "fail_write_eio", QF_FAIL_WRITE, EIO, QF_KEEP },
		{ "fail_write_enospc", QF_FAIL_WRITE, ENOSPC, QF_KEEP },
		{ "fail_sync_eio", QF_FAIL_SYNC, EIO, QF_KEEP },
		{ "crash_drop", QF_CRASH_SYNC, 0, QF_DROP },
		{ "crash_keep", QF_CRASH_SYNC, 0, QF_KEEP },
		{ "crash_corrupt", QF_CRASH_SYNC, 0, QF_CORRUPT },
		{ "crash_mixed", QF_CRASH_SYNC, 0, QF_MIXED },
	};
	int runs = 0;

	if (argc > 1 && strcmp(argv[1], "thread") == 0)
		io_mode = Q_IO_THREAD;
	else if (argc > 1) {
		fprintf(stderr, "usage: test_q_fault [thread]\n");
		return 2;
	}

	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 77;
	}
	one("baseline", QF_NONE, 0, 0, QF_KEEP, base, &writes, &syncs, &base_run);
	if (writes < 10 || syncs < 10) {
		fprintf(stderr, "baseline did too little I/O: %ld/%ld\n",
			writes, syncs);
		failures++;
	}
	printf("baseline: %llu copied forward, %llu compactions, %llu "
	       "segments recycled\n", (unsigned long long)base_run.copied,
	       (unsigned long long)base_run.compactions,
	       (unsigned long long)base_run.recycled);
	if (base_run.copied == 0 || base_run.compactions == 0 ||
	    base_run.recycled == 0) {
		fprintf(stderr, "baseline did not exercise retention\n");
		failures++;
	}
	for (size_t k = 0; k < sizeof(sweeps) / sizeof(sweeps[0]); k++) {
		long max = sweeps[k].mode == QF_FAIL_WRITE ? writes : syncs;

		for (long n = 1; n <= max + 1; n++, runs++)
			one(sweeps[k].name, sweeps[k].mode, n, sweeps[k].err,
			    sweeps[k].pol, base, NULL, NULL, NULL);
	}
	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	printf("[%s] %d fault runs over %ld writes / %ld syncs, %d failure(s)\n",
	       io_mode == Q_IO_THREAD ? "thread" : "sync", runs, writes, syncs,
	       failures);
	return failures ? 1 : 0;
}
