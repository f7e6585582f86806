/*
 * test_q_record — record and envelope encoding, and replay of hand-made
 * segments: clean end, torn header, torn body, bad CRC, zero tail, a record
 * spanning the segment end, foreign segments (wrong magic, wrong salt),
 * recycled segments (the earlier life past the end: clean end or torn);
 * SNAPSHOT records: round trip and a table of malformed payloads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "q_envelope.h"
#include "q_record.h"

static int failures;
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__,          \
				__LINE__, #c);                                 \
			failures++;                                            \
		}                                                              \
	} while (0)

#define SEG 65536
#define SALT 0x1122334455667788ull

static struct q_rcpt rcpts[] = {
	{ "a@example.org", Q_NOTIFY_SUCCESS | Q_NOTIFY_FAILURE, "rfc822;a@x" },
	{ "b@example.org", 0, NULL },
};
static struct q_envelope env = {
	.client_addr = "192.0.2.7", .client_port = 40000, .helo = "mx.test",
	.proto = "ESMTP", .mail_from = "", .ret = Q_RET_HDRS, .envid = "E1",
	.flags = Q_ENV_8BIT, .rcpt = rcpts, .rcpt_count = 2,
	.received_wall_ns = 1700000000123456789ull,
};

/* Appends a MSG record written at wall time t; returns the next offset. */
static size_t put_msg_at(uint8_t *seg, size_t off, uint64_t id,
			 const char *body, uint64_t salt, uint64_t t)
{
	long elen = q_envelope_encode(&env, seg + off + 36, SEG);
	size_t len = 36 + (size_t)elen + strlen(body);

	seg[off + 32] = (uint8_t)elen;
	seg[off + 33] = (uint8_t)(elen >> 8);
	seg[off + 34] = seg[off + 35] = 0;
	memcpy(seg + off + 36 + elen, body, strlen(body));
	q_rec_hdr_fill(seg + off, (uint32_t)len, Q_REC_MSG, 0, id, t);
	q_rec_seal(seg + off, salt);
	return (size_t)q_rec_padded(off + len, 3);
}

static size_t put_msg(uint8_t *seg, size_t off, uint64_t id, const char *body,
		      uint64_t salt)
{
	return put_msg_at(seg, off, id, body, salt, 42);
}

static uint8_t *make_seg(size_t *ends, int n)
{
	uint8_t *seg = calloc(1, SEG);
	struct q_seg_hdr h = { .shard = 1, .align_shift = 3, .seq = 7,
			       .salt = SALT, .created_wall_ns = 1, .size = SEG };
	size_t off = Q_SEG_HDR_SIZE;

	q_seg_hdr_encode(&h, seg);
	for (int i = 0; i < n; i++) {
		off = put_msg(seg, off, 100 + (uint64_t)i,
			      "Subject: x\r\n\r\nhello\r\n", SALT);
		ends[i] = off;
	}
	return seg;
}

static int count_cb(void *arg, const struct q_rec *r, uint64_t off)
{
	(*(int *)arg)++;
	return 0;
}

static void test_envelope(void)
{
	uint8_t buf[1024];
	struct q_envelope d;
	void *mem;
	long n = q_envelope_encode(&env, buf, sizeof(buf));

	CHECK(n == q_envelope_encoded_len(&env));
	CHECK(q_envelope_decode(buf, (size_t)n, &d, &mem) == n);
	CHECK(strcmp(d.client_addr, "192.0.2.7") == 0 && d.client_port == 40000);
	CHECK(strcmp(d.mail_from, "") == 0 && strcmp(d.envid, "E1") == 0);
	CHECK(d.rcpt_count == 2 && strcmp(d.rcpt[1].addr, "b@example.org") == 0);
	CHECK(d.rcpt[0].notify == (Q_NOTIFY_SUCCESS | Q_NOTIFY_FAILURE));
	CHECK(d.rcpt[1].orcpt == NULL && strcmp(d.rcpt[0].orcpt, "rfc822;a@x") == 0);
	CHECK(d.ret == Q_RET_HDRS && d.flags == Q_ENV_8BIT);
	CHECK(d.received_wall_ns == env.received_wall_ns);
	free(mem);
	/* Every truncation is rejected, never read past. */
	for (long cut = 0; cut < n; cut++)
		CHECK(q_envelope_check(buf, (size_t)cut) == -EBADMSG);
	CHECK(q_envelope_encode(&env, buf, 10) == -ENOBUFS);
}

struct replay_case {
	const char *name;
	void (*damage)(uint8_t *seg, const size_t *ends);
	int want_records;
	int want_torn;
	int want_hdr_rc;
};

static void d_none(uint8_t *seg, const size_t *ends) {}
static void d_torn_header(uint8_t *seg, const size_t *ends)
{
	/* Only the first 10 bytes of the 3rd record's header reached disk. */
	memset(seg + ends[1] + 10, 0, SEG - ends[1] - 10);
}
static void d_torn_body(uint8_t *seg, const size_t *ends)
{
	memset(seg + ends[2] - 8, 0, SEG - ends[2] + 8);
}
static void d_bad_crc(uint8_t *seg, const size_t *ends)
{
	seg[ends[1] + 40] ^= 0x01;
}
static void d_zero_tail(uint8_t *seg, const size_t *ends)
{
	memset(seg + ends[1], 0, SEG - ends[1]);
}
static void d_span(uint8_t *seg, const size_t *ends)
{
	/* The last record claims more bytes than the segment has left. */
	uint32_t len = (uint32_t)(SEG - ends[2] + 64);

	memset(seg + ends[2], 0, SEG - ends[2]);
	q_rec_hdr_fill(seg + ends[2], len, Q_REC_HELD, 0, 1, 1);
}
static void d_magic(uint8_t *seg, const size_t *ends)
{
	seg[0] = 'X';
}
static void d_salt(uint8_t *seg, const size_t *ends)
{
	/* A record sealed for another segment, as left by a recycled file. */
	put_msg(seg, ends[2], 999, "other\r\n", SALT + 1);
}
static void d_garbage_after_valid(uint8_t *seg, const size_t *ends)
{
	/* A hole, then a valid-looking record: nothing past the hole counts. */
	memset(seg + ends[0], 0, ends[1] - ends[0]);
	seg[ends[0] + 4] = 0xff;
}

static const struct replay_case cases[] = {
	{ "clean", d_none, 3, 0, 0 },
	{ "torn_header", d_torn_header, 2, 1, 0 },
	{ "torn_body", d_torn_body, 2, 1, 0 },
	{ "bad_crc", d_bad_crc, 2, 1, 0 },
	{ "zero_tail", d_zero_tail, 2, 0, 0 },
	{ "span_segment_end", d_span, 3, 1, 0 },
	{ "wrong_magic", d_magic, 0, 0, -EBADMSG },
	{ "wrong_salt", d_salt, 3, 1, 0 },
	{ "hole_then_record", d_garbage_after_valid, 1, 1, 0 },
};

static void test_replay(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct replay_case *c = &cases[i];
		size_t ends[3];
		uint8_t *seg = make_seg(ends, 3);
		struct q_replay rp;
		int n = 0, rc;

		c->damage(seg, ends);
		rc = q_replay_segment(seg, SEG, count_cb, &n, &rp);
		if (rc != c->want_hdr_rc || (rc == 0 && (n != c->want_records ||
					     rp.torn != c->want_torn))) {
			fprintf(stderr, "case %s: rc=%d records=%d torn=%d\n",
				c->name, rc, n, rp.torn);
			failures++;
		}
		if (rc == 0 && c->want_torn)
			CHECK(rp.discarded > 0);
		if (rc == 0 && n == 3 && !c->want_torn)
			CHECK(rp.end == ends[2] && rp.discarded == 0);
		free(seg);
	}
}

/* A recycled segment: its old life (another salt, records written before
 * the new header) lies past the new records.  Replay stops there as at a
 * torn record, but reports a clean end; a torn record of the new life is
 * counted only up to the first stale one. */
static void test_recycled(void)
{
	const uint64_t old_salt = 0xdeadbeefcafef00dull, created = 5000;
	const char *body = "Subject: old life\r\n\r\nbody of an old message\r\n";
	struct q_seg_hdr h = { .shard = 1, .align_shift = 3, .seq = 9,
			       .flags = Q_SEG_F_RECYCLED, .salt = SALT,
			       .created_wall_ns = created, .size = SEG };
	size_t old_ends[64], off, torn_at, next;
	struct q_replay rp;
	uint8_t *seg = calloc(1, SEG);
	int n, nold = 0;

	/* The old life filled most of the file... */
	for (off = Q_SEG_HDR_SIZE; off + 4096 < SEG && nold < 64; nold++)
		old_ends[nold] = off = put_msg_at(seg, off, 500 + (uint64_t)nold,
						  body, old_salt, 1000);
	/* ...then the file was given a new header. */
	q_seg_hdr_encode(&h, seg);

	/* A spare never written to: no records, a clean end. */
	n = 0;
	CHECK(q_replay_segment(seg, SEG, count_cb, &n, &rp) == 0);
	CHECK(n == 0 && rp.end == Q_SEG_HDR_SIZE && rp.stale && !rp.torn &&
	      rp.discarded == 0);

	/* Two records of the new life over the first old ones. */
	off = put_msg_at(seg, Q_SEG_HDR_SIZE, 1, "new one\r\n", SALT, 6000);
	off = put_msg_at(seg, off, 2, "new two\r\n", SALT, 6001);
	/* Stale bytes from here: the inside of an old record (the old
	 * records were longer), up to where the next old one starts.  The
	 * new life ended cleanly here. */
	next = Q_SEG_HDR_SIZE;
	for (int i = 0; i < nold && next < off; i++)
		next = old_ends[i];
	memset(seg + off, 0x5a, next - off);
	n = 0;
	CHECK(q_replay_segment(seg, SEG, count_cb, &n, &rp) == 0);
	CHECK(n == 2 && rp.end == off && rp.stale && !rp.torn &&
	      rp.discarded == 0);

	/* The same, with the new life's end falling exactly on an old record:
	 * stale at the stop position, nothing discarded. */
	memcpy(seg + off, seg + next, 64);	/* an old header right there */
	n = 0;
	CHECK(q_replay_segment(seg, SEG, count_cb, &n, &rp) == 0);
	CHECK(n == 2 && rp.stale && !rp.torn && rp.discarded == 0);

	/* A torn third record of the new life (its CRC does not match),
	 * over the old ones: torn, and discarded stops at the first stale
	 * record after it, not at the end of the file. */
	memset(seg + off, 0, 64);
	torn_at = off;
	off = put_msg_at(seg, off, 3, "torn third, a longer body so it ends "
			 "past the next old record\r\n", SALT, 6002);
	seg[torn_at + 40] ^= 0x01;
	for (next = 0; next < (size_t)nold && old_ends[next] < off; next++)
		;
	n = 0;
	CHECK(q_replay_segment(seg, SEG, count_cb, &n, &rp) == 0);
	CHECK(n == 2 && rp.end == torn_at && rp.torn && !rp.stale);
	CHECK(rp.discarded > 0 && rp.discarded <= old_ends[next] - torn_at);

	/* Without the recycled flag the same bytes are all torn tail, to the
	 * last non-zero byte of the file (a fresh segment is zero there). */
	h.flags = 0;
	q_seg_hdr_encode(&h, seg);
	CHECK(q_replay_segment(seg, SEG, NULL, NULL, &rp) == 0);
	CHECK(rp.torn && rp.discarded > old_ends[next] - torn_at);
	free(seg);
}

static void test_state_records(void)
{
	uint8_t buf[256];
	struct q_rec r;
	long n = q_rec_encode_state(buf, sizeof(buf), Q_REC_DEFERRED, 3, 77, 5,
				    999, "421 try later", SALT);

	CHECK(n == 32 + 8 + 13);
	CHECK(q_rec_decode(buf, (size_t)n, 0, SALT, &r) == 1);
	CHECK(r.type == Q_REC_DEFERRED && r.aux == 3 && r.id == 77);
	CHECK(r.until_wall_ns == 999 && r.text_len == 13);
	CHECK(q_rec_decode(buf, (size_t)n, 0, SALT ^ 1, &r) == -EBADMSG);
	/* Every truncation of a record is invalid or a clean end. */
	for (long cut = 1; cut < n; cut++)
		CHECK(q_rec_decode(buf, (size_t)cut, 0, SALT, &r) == -EBADMSG);
	n = q_rec_encode_state(buf, sizeof(buf), Q_REC_HELD, 0, 1, 1, 0, "x",
			       SALT);
	CHECK(q_rec_decode(buf, (size_t)n, 0, SALT, &r) == -EBADMSG);
}

/* Re-seals a record after a test changed its bytes. */
static void reseal(uint8_t *buf)
{
	q_rec_seal(buf, SALT);
}

struct snap_case {
	const char *name;
	size_t at;		/* payload offset to change */
	uint8_t val;
};

static const struct snap_case snap_bad[] = {
	{ "held_from_out_of_range", 0, 6 },
	{ "unknown_flag", 1, 4 },
	{ "reserved_nonzero", 2, 1 },
	{ "rcpt_status_out_of_range", 21, 4 },
	{ "rcpt_count_too_big", 16, 200 },
	{ "verdict_len_too_big", 22, 200 },
	{ "nul_in_verdict", 26, 0 },
	{ "nul_in_error", 29, 0 },
};

static void test_snapshot(void)
{
	static const uint8_t st[2] = { 1, 3 };
	struct q_snap sn = { .state = 2, .held_from = 1, .attempts = 3,
			     .next_attempt_wall_ns = 123456789,
			     .rcpt_count = 2, .rcpt_status = st,
			     .verdict = "ok", .last_error = "421 x" };
	uint8_t buf[256], copy[256];
	struct q_rec r;
	long n = q_rec_encode_snapshot(buf, sizeof(buf), 99, 7, &sn, SALT);

	CHECK(n == 32 + 24 + 2 + 2 + 5);
	CHECK(q_rec_decode(buf, (size_t)n, 0, SALT, &r) == 1);
	CHECK(r.type == Q_REC_SNAPSHOT && r.aux == 2 && r.id == 99);
	CHECK(r.snap.held_from == 1 && r.snap.attempts == 3);
	CHECK(r.until_wall_ns == 123456789 && r.snap.rcpt_count == 2);
	CHECK(memcmp(r.snap.rcpt_status, st, 2) == 0);
	CHECK(r.snap.has_verdict && r.snap.verdict_len == 2 &&
	      memcmp(r.snap.verdict, "ok", 2) == 0);
	CHECK(r.snap.has_error && r.text_len == 5 &&
	      memcmp(r.text, "421 x", 5) == 0);
	for (long cut = 1; cut < n; cut++)
		CHECK(q_rec_decode(buf, (size_t)cut, 0, SALT, &r) == -EBADMSG);
	CHECK(q_rec_encode_snapshot(buf, 60, 99, 7, &sn, SALT) == -ENOBUFS);
	for (size_t i = 0; i < sizeof(snap_bad) / sizeof(snap_bad[0]); i++) {
		memcpy(copy, buf, (size_t)n);
		copy[32 + snap_bad[i].at] = snap_bad[i].val;
		reseal(copy);
		if (q_rec_decode(copy, (size_t)n, 0, SALT, &r) != -EBADMSG) {
			fprintf(stderr, "snapshot case %s accepted\n",
				snap_bad[i].name);
			failures++;
		}
	}
	/* No verdict, no error: both flags clear, both texts empty. */
	sn.verdict = sn.last_error = NULL;
	sn.state = 9;
	n = q_rec_encode_snapshot(buf, sizeof(buf), 99, 7, &sn, SALT);
	CHECK(q_rec_decode(buf, (size_t)n, 0, SALT, &r) == -EBADMSG);
	sn.state = 5;
	n = q_rec_encode_snapshot(buf, sizeof(buf), 99, 7, &sn, SALT);
	CHECK(q_rec_decode(buf, (size_t)n, 0, SALT, &r) == 1);
	CHECK(!r.snap.has_verdict && !r.snap.has_error && r.text_len == 0);
}

int main(void)
{
	test_envelope();
	test_replay();
	test_recycled();
	test_state_records();
	test_snapshot();
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
