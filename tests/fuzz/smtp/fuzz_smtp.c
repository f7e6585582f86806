/*
 * fuzz_smtp — libFuzzer target for the SMTP engine: command lines, DATA
 * and BDAT framing, parameters and paths.
 *
 * Input: byte 0 picks options (small limits, pregreet, synchronous
 * commits), byte 1 seeds the segmentation and the commit outcomes, the
 * rest is the client's byte stream.  The host checks the engine's side of
 * the contract: writes only to an open message, exactly one commit or
 * abort per message, replies that are whole CRLF lines with a 3-digit
 * code, never more consumed than offered, and a message body never larger
 * than the limit.  Each input runs twice, cut into random pieces and given
 * whole, and both runs must produce the same replies and the same
 * committed bodies.  The raw input is also given to the path, parameter
 * and xtext parsers directly.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_smtp.h"
#include "dp_smtp_addr.h"
#include "dp_smtp_param.h"
#include "mx_log.h"

struct fz_host {
	struct dp_smtp_session *s;
	const struct dp_smtp_conf *conf;
	uint32_t rng; /* segmentation only */
	uint8_t seed; /* host decisions: by content, never by call */
	bool sync;
	bool open; /* a message is open at the host */
	bool committing;
	size_t body;
	uint32_t crc; /* of the open message's body */
	uint64_t id;
	struct transcript *t;
};

/* What a run produced; two runs of one input must produce the same. */
struct transcript {
	uint8_t out[1 << 16];
	size_t out_len;
	uint32_t committed_crc[64];
	unsigned committed;
	bool overflow;
};

static uint32_t rnd(struct fz_host *h)
{
	h->rng = h->rng * 1103515245u + 12345u;
	return h->rng >> 8;
}

static uint32_t crc_add(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crc = (crc ^ p[i]) * 16777619u;
	return crc;
}

/* Outcomes depend on the message number, so segmentation cannot change
 * them. */
static int commit_status(struct fz_host *h)
{
	static const int st[] = {0, 0, 0, -ENOSPC, -EPERM, -EIO};

	return st[(h->id + h->seed) % 6];
}

static int fz_open(void *ctx, const struct dp_smtp_envelope *env, uint64_t *id)
{
	struct fz_host *h = ctx;

	if (h->open || h->committing || env->rcpt_count == 0 ||
	    env->mail_from == NULL)
		abort();
	if ((h->id + h->seed) % 16 == 5) {
		h->id++;
		return -ENOSPC;
	}
	h->open = true;
	h->body = 0;
	h->crc = 2166136261u;
	*id = ++h->id;
	return 0;
}

static int fz_write(void *ctx, const void *data, size_t len)
{
	struct fz_host *h = ctx;
	size_t limit;

	if (!h->open || len == 0)
		abort();
	/* The Received header comes on top of the body limit. */
	if (h->body + len > h->conf->msg_size_max + 4096)
		abort();
	/* Some messages fail once their body passes a size set by the
	 * seed: the same for any segmentation. */
	limit = (h->id + h->seed) % 7 == 3 ? 300 + h->seed : SIZE_MAX;
	h->body += len;
	h->crc = crc_add(h->crc, data, len);
	return h->body > limit ? -EIO : 0;
}

static void fz_done(struct fz_host *h)
{
	int st = commit_status(h);
	struct transcript *t = h->t;

	h->committing = false;
	if (st == 0) {
		if (t->committed < 64)
			t->committed_crc[t->committed] = h->crc;
		t->committed++;
	}
	dp_smtp_commit_done(h->s, st, h->id);
}

static void fz_commit(void *ctx)
{
	struct fz_host *h = ctx;

	if (!h->open)
		abort();
	h->open = false;
	h->committing = true;
	if (h->sync)
		fz_done(h);
}

static void fz_abort(void *ctx)
{
	struct fz_host *h = ctx;

	if (!h->open)
		abort();
	h->open = false;
}

static enum dp_smtp_rcpt_verdict fz_rcpt(void *ctx, const char *local,
					 const char *domain)
{
	(void)ctx;
	if (strlen(local) > DP_SMTP_LOCAL_MAX ||
	    strlen(domain) > DP_SMTP_DOMAIN_MAX)
		abort();
	return (enum dp_smtp_rcpt_verdict)((strlen(local) + strlen(domain)) %
					   4);
}

static uint64_t fz_wall(void *ctx)
{
	(void)ctx;
	return 1700000000ull * 1000000000ull;
}

static void check_output(struct dp_smtp_session *s, struct transcript *t)
{
	size_t n, i = 0;
	const uint8_t *p = dp_smtp_output(s, &n);

	if (t->out_len + n <= sizeof(t->out)) {
		memcpy(t->out + t->out_len, p, n);
		t->out_len += n;
	} else {
		t->overflow = true;
	}

	if (n > 0 && (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n'))
		abort();
	while (i < n) {
		const uint8_t *e = memchr(p + i, '\n', n - i);
		size_t l = (size_t)(e - (p + i)) + 1;

		if (l < 6 || l > 512 || p[i] < '2' || p[i] > '5' ||
		    (p[i + 3] != ' ' && p[i + 3] != '-') || e[-1] != '\r')
			abort();
		for (size_t k = i; k < i + l - 2; k++)
			if (p[k] == '\r' || p[k] == '\n' || p[k] == '\0')
				abort();
		i += l;
	}
	dp_smtp_output_consume(s, n);
}

static void fuzz_parsers(const uint8_t *data, size_t size)
{
	struct dp_smtp_addr a;
	struct dp_smtp_param p;
	char out[600];
	size_t pos = 0;
	long rc;

	rc = dp_smtp_addr_parse((const char *)data, size,
				DP_SMTP_ADDR_NULL_OK | DP_SMTP_ADDR_UTF8, &a);
	if (rc > (long)size)
		abort();
	if (rc >= 0) {
		pos = (size_t)rc;
		dp_smtp_addr_local_decode(&a, out, sizeof(out));
	}
	while (dp_smtp_param_next((const char *)data, size, &pos, &p) == 1)
		if (pos > size)
			abort();
	dp_smtp_xtext_decode((const char *)data, size, out, sizeof(out));
}

/* One session over the input: chunked at random (chunked) or given all
 * at once (the engine still stops at commits and a full output buffer). */
static void run(const uint8_t *data, size_t size, uint8_t opt, uint8_t seed,
		bool chunked, struct transcript *t)
{
	static const struct dp_smtp_host ops = {
	    fz_open, fz_write, fz_commit, fz_abort, fz_rcpt, fz_wall,
	};
	struct dp_smtp_peer peer = {"192.0.2.9", 1234, "192.0.2.1", 25, NULL};
	struct dp_smtp_conf conf;
	struct fz_host h = {0};
	struct dp_smtp_session *s;
	size_t off = 0;

	dp_smtp_conf_defaults(&conf);
	if (opt & 1) {
		conf.msg_size_max = 200;
		conf.rcpt_max = 3;
		conf.errors_max = 5;
		conf.junk_max = 5;
		conf.envelope_arena_size = 600;
		conf.out_size = 2 * DP_SMTP_REPLY_ROOM;
	}
	conf.pregreet = (opt & 2) != 0;
	h.sync = (opt & 4) != 0;
	h.rng = seed;
	h.seed = seed;
	h.conf = &conf;
	h.t = t;
	s = malloc(dp_smtp_session_size(&conf));
	if (s == NULL)
		abort();
	h.s = s;
	dp_smtp_session_init(s, &conf, &ops, &h, &peer, 1);
	if (!(opt & 8))
		dp_smtp_start(s);
	while (off < size && !dp_smtp_want_close(s)) {
		size_t chunk = chunked ? 1 + rnd(&h) % 64 : size - off, used;

		if (chunk > size - off)
			chunk = size - off;
		used = dp_smtp_input(s, data + off, chunk, 1);
		if (used > chunk)
			abort();
		off += used;
		check_output(s, t);
		if (h.committing && dp_smtp_awaiting_commit(s)) {
			fz_done(&h);
			check_output(s, t);
		} else if (used == 0) {
			if (dp_smtp_awaiting_commit(s))
				abort(); /* commit pending, host not told */
			dp_smtp_start(s);
			check_output(s, t);
		}
	}
	if (h.committing != dp_smtp_awaiting_commit(s))
		abort();
	if (h.committing)
		fz_done(&h);
	/* A timeout always ends the session with a 421. */
	dp_smtp_timeout(s, 1 + 10 * 60 * 1000);
	check_output(s, t);
	if (!dp_smtp_want_close(s))
		abort();
	dp_smtp_session_fini(s);
	if (h.open)
		abort(); /* fini must abort the open message */
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct transcript a, b;

	if (size < 2)
		return 0;
	mx_log_set_level(MX_LOG_WARN);
	fuzz_parsers(data + 2, size - 2);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run(data + 2, size - 2, data[0], data[1], true, &a);
	run(data + 2, size - 2, data[0], data[1], false, &b);
	/* Segmentation must not change anything the client or the queue
	 * sees (RFC 5321 has no notion of packets). */
	if (a.overflow || b.overflow)
		return 0;
	if (a.out_len != b.out_len || memcmp(a.out, b.out, a.out_len) != 0 ||
	    a.committed != b.committed ||
	    memcmp(a.committed_crc, b.committed_crc, sizeof(a.committed_crc)) !=
		0)
		abort();
	return 0;
}
