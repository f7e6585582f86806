/*
 * test_q_store — the store's state machine across restarts, table-driven:
 * each case takes twelve fresh messages through a list of state changes,
 * restarts the store (with compaction on or off, so the state comes back
 * from the original records or from snapshots) and compares every
 * message's state, attempts, next attempt, verdict, last error and
 * recipient status with what the live store said before the restart.
 * Also: q_store_next visits exactly the messages of a state in id order,
 * and `flush` (one record for all deferred messages) survives replay.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "q_shard.h"
#include "q_store.h"

#define MSGS 12
#define FAR (4000000000ull * 1000000000ull)

static int failures;
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: %s: FAIL %s\n", __FILE__,      \
				__LINE__, cur, #c);                            \
			failures++;                                            \
		}                                                              \
	} while (0)

static const char *cur = "";
static struct q_rcpt rcpts[2] = { { "a@example.org", 0, NULL },
				  { "b@example.org", 0, NULL } };
static struct q_envelope env = {
	.client_addr = "127.0.0.1", .client_port = 1, .helo = "t",
	.proto = "ESMTP", .mail_from = "s@example.org", .rcpt = rcpts,
	.rcpt_count = 2,
};

static void on_done(void *arg, uint64_t cookie, uint64_t id, int status)
{
	((int *)arg)[cookie] = status;
}

/* What message i goes through, by i % 6. */
static void change(struct q_store *s, uint64_t id, int i)
{
	switch (i % 6) {
	case 0:		/* stays new */
		break;
	case 1:
		q_store_set_verdict(s, id, Q_VERDICT_CLEAN, "clean");
		break;
	case 2:
		q_store_set_verdict(s, id, Q_VERDICT_CLEAN, "clean");
		q_store_rcpt_delivered(s, id, 0);
		q_store_defer(s, id, FAR, "451 later");
		q_store_defer(s, id, FAR, "451 later again");
		break;
	case 3:
		q_store_set_verdict(s, id, Q_VERDICT_INFECTED, "EICAR");
		break;
	case 4:
		q_store_set_verdict(s, id, Q_VERDICT_CLEAN, NULL);
		q_store_hold(s, id);
		break;
	case 5:
		q_store_set_verdict(s, id, Q_VERDICT_CLEAN, "ok");
		q_store_rcpt_delivered(s, id, 0);
		q_store_rcpt_bounced(s, id, 1, "550 no");
		break;
	}
}

struct snap {
	int rc;
	enum q_state state;
	uint32_t attempts;
	uint64_t next;
	char verdict[64], error[64];
	uint8_t rcpt[2];
};

static void take(struct q_store *s, uint64_t id, struct snap *o)
{
	struct q_msg_view v;

	memset(o, 0, sizeof(*o));
	o->rc = q_store_get(s, id, &v);
	if (o->rc)
		return;
	o->state = v.state;
	o->attempts = v.attempts;
	o->next = v.next_attempt_wall_ns;
	snprintf(o->verdict, sizeof(o->verdict), "%s", v.verdict ? v.verdict : "-");
	snprintf(o->error, sizeof(o->error), "%s",
		 v.last_error ? v.last_error : "-");
	memcpy(o->rcpt, v.rcpt_status, 2);
}

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	return remove(p);
}

static const struct tcase {
	const char *name;
	uint64_t compact_bytes;	/* 0 = never within the test */
	bool flush;
} cases[] = {
	{ "replay_records", 0, false },
	{ "replay_snapshots", 64, false },
	{ "flush_records", 0, true },
	{ "flush_snapshots", 64, true },
};

static void run(const char *base, const struct tcase *tc)
{
	struct q_conf c;
	struct q_store *s;
	struct q_shard *sh;
	struct q_stats st;
	struct q_msg_view v;
	struct snap before[MSGS], after;
	uint64_t id[MSGS], last;
	int status[MSGS], n;
	char err[512], dir[600];

	cur = tc->name;
	snprintf(dir, sizeof(dir), "%s/%s", base, tc->name);
	q_conf_defaults(&c);
	snprintf(c.dir, sizeof(c.dir), "%s", dir);
	c.segment_size = 1 << 20;
	c.msg_size_max = 4096;
	c.staging_count = MSGS;
	c.io_mode = Q_IO_SYNC;
	c.spare_segments = 1;
	c.state_compact_bytes = tc->compact_bytes ? tc->compact_bytes
						  : 1ull << 40;
	s = q_store_open(&c, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	sh = q_shard_create(s, 0);
	CHECK(sh && q_shard_attach(sh, NULL, 0, on_done, status) == 0);
	for (int i = 0; i < MSGS; i++) {
		struct q_msg *m;

		CHECK(q_shard_msg_open(sh, &env, (uint64_t)i, &m, &id[i]) == 0);
		q_shard_msg_write(m, "Subject: x\r\n\r\nbody\r\n", 20);
		q_shard_msg_commit(m);
	}
	q_shard_flush(sh);
	CHECK(q_store_poll(s) >= 0);
	for (int i = 0; i < MSGS; i++) {
		CHECK(status[i] == 0);
		change(s, id[i], i);
		CHECK(q_store_poll(s) >= 0);
	}
	if (tc->flush)
		CHECK(q_store_flush_deferred(s) == 2);
	CHECK(q_store_poll(s) >= 0);
	for (int i = 0; i < MSGS; i++)
		take(s, id[i], &before[i]);
	q_store_stats(s, &st);
	CHECK((st.compactions > 0) == (tc->compact_bytes > 0));
	q_store_close(s);

	s = q_store_open(&c, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	for (int i = 0; i < MSGS; i++) {
		take(s, id[i], &after);
		if (memcmp(&after, &before[i], sizeof(after)) != 0) {
			fprintf(stderr, "%s: msg %d: state %s/%s attempts %u/%u "
				"next %llu/%llu verdict %s/%s error %s/%s\n",
				tc->name, i, q_state_name(before[i].state),
				q_state_name(after.state), before[i].attempts,
				after.attempts,
				(unsigned long long)before[i].next,
				(unsigned long long)after.next,
				before[i].verdict, after.verdict,
				before[i].error, after.error);
			failures++;
		}
	}
	CHECK(before[2].state == Q_ST_DEFERRED && before[2].attempts == 2);
	CHECK(tc->flush ? before[2].next < FAR : before[2].next == FAR);
	CHECK(before[5].state == Q_ST_DONE && before[4].state == Q_ST_HELD);
	/* next(): exactly the messages of each state, ascending. */
	for (int stt = 0; stt < Q_ST__COUNT; stt++) {
		n = 0;
		last = 0;
		while (q_store_next(s, (enum q_state)stt, last, &v) == 0) {
			CHECK(v.id > last && v.state == (enum q_state)stt);
			last = v.id;
			n++;
		}
		for (int i = 0; i < MSGS; i++)
			n -= before[i].rc == 0 && before[i].state == (enum q_state)stt;
		CHECK(n == 0);
	}
	CHECK(q_store_next(s, Q_ST__COUNT, 0, &v) == -EINVAL);
	q_store_close(s);
}

int main(void)
{
	char base[] = "/var/tmp/test_q_store.XXXXXX";

	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 77;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(base, &cases[i]);
	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
