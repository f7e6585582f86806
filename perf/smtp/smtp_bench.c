/*
 * smtp_bench — throughput of the pure SMTP engine on one core: a recorded
 * client stream (EHLO, then messages by DATA or BDAT, pipelined, QUIT) is
 * fed through dp_smtp_input in 16 KiB reads, as a socket backend would,
 * with a null host that counts bytes and commits at once.  Prints input
 * bytes/s and messages/s for 1 KB and 100 KB messages, per second of the
 * thread's own CPU time (so other load on the machine does not skew it).
 *
 * Usage: smtp_bench [seconds per case, default 2]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "dp_smtp.h"

struct bench_host {
	struct dp_smtp_session *s;
	uint64_t id, body, msgs;
};

static int b_open(void *ctx, const struct dp_smtp_envelope *env, uint64_t *id)
{
	struct bench_host *h = ctx;

	(void)env;
	*id = ++h->id;
	return 0;
}

static int b_write(void *ctx, const void *data, size_t len)
{
	struct bench_host *h = ctx;

	(void)data;
	h->body += len;
	return 0;
}

static void b_commit(void *ctx)
{
	struct bench_host *h = ctx;

	h->msgs++;
	dp_smtp_commit_done(h->s, 0, h->id);
}

static void b_abort(void *ctx)
{
	(void)ctx;
}

static enum dp_smtp_rcpt_verdict b_rcpt(void *ctx, const char *l, const char *d)
{
	(void)ctx, (void)l, (void)d;
	return DP_SMTP_RCPT_OK;
}

static uint64_t b_wall(void *ctx)
{
	(void)ctx;
	return 1700000000ull * 1000000000ull;
}

struct stream {
	char *p;
	size_t len, size;
};

static void put(struct stream *st, const void *p, size_t n)
{
	if (st->len + n > st->size) {
		st->size = (st->len + n) * 2;
		st->p = realloc(st->p, st->size);
		if (st->p == NULL)
			abort();
	}
	memcpy(st->p + st->len, p, n);
	st->len += n;
}

static void puts_(struct stream *st, const char *s)
{
	put(st, s, strlen(s));
}

/* A body of about `size` bytes: 78-byte text lines, every 10th one
 * starting with a dot (so it is stuffed on the wire). */
static void body(struct stream *st, size_t size, bool stuff)
{
	static const char text[] = "The quick brown fox jumps over the lazy "
				   "dog 0123456789 abcdefghijklmnopqrstuvw";
	size_t n = 0;

	puts_(st, "Subject: benchmark\r\nFrom: <a@remote.example>\r\n\r\n");
	for (unsigned i = 0; n < size; i++) {
		if (i % 10 == 9)
			put(st, stuff ? ".." : ".", stuff ? 2 : 1);
		put(st, text, sizeof(text) - 1);
		put(st, "\r\n", 2);
		n += sizeof(text) + 1;
	}
}

/* CPU time of this thread, ns. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct stream recording(size_t msg_size, unsigned msgs, bool bdat)
{
	struct stream st = {0}, b = {0};
	char cmd[64];

	body(&b, msg_size, !bdat);
	puts_(&st, "EHLO client.example\r\n");
	for (unsigned i = 0; i < msgs; i++) {
		puts_(&st, "MAIL FROM:<a@remote.example> SIZE=200000\r\n"
			   "RCPT TO:<alice@example.com>\r\n");
		if (bdat) {
			snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", b.len);
			puts_(&st, cmd);
			put(&st, b.p, b.len);
		} else {
			puts_(&st, "DATA\r\n");
			put(&st, b.p, b.len);
			puts_(&st, ".\r\n");
		}
	}
	puts_(&st, "QUIT\r\n");
	free(b.p);
	return st;
}

static void run_case(const char *name, size_t msg_size, bool bdat,
		     double seconds)
{
	static const struct dp_smtp_host ops = {
	    b_open, b_write, b_commit, b_abort, b_rcpt, b_wall,
	};
	struct dp_smtp_peer peer = {"192.0.2.7", 40000, "192.0.2.1", 25, NULL};
	unsigned per_session = msg_size > 10000 ? 20 : 500;
	struct stream st = recording(msg_size, per_session, bdat);
	struct dp_smtp_conf conf;
	struct bench_host h = {0};
	struct dp_smtp_session *s;
	uint64_t t0, t1, bytes = 0, deadline;

	dp_smtp_conf_defaults(&conf);
	strcpy(conf.hostname, "mx.bench");
	s = malloc(dp_smtp_session_size(&conf));
	if (s == NULL)
		abort();
	h.s = s;
	t0 = cpu_ns();
	deadline = t0 + (uint64_t)(seconds * 1e9);
	do {
		size_t off = 0, n;

		dp_smtp_session_init(s, &conf, &ops, &h, &peer, 0);
		dp_smtp_start(s);
		while (off < st.len && !dp_smtp_want_close(s)) {
			size_t chunk =
			    st.len - off < 16384 ? st.len - off : 16384;
			size_t used = dp_smtp_input(
			    s, (const uint8_t *)st.p + off, chunk, 0);

			off += used;
			dp_smtp_output(s, &n);
			dp_smtp_output_consume(s, n);
		}
		dp_smtp_session_fini(s);
		bytes += st.len;
	} while ((t1 = cpu_ns()) < deadline);
	{
		double secs = (double)(t1 - t0) / 1e9;

		printf(
		    "%-12s msg=%7zu B  %8.1f MB/s  %10.0f msgs/s  (%llu msgs, "
		    "%.2f s CPU, 1 core)\n",
		    name, msg_size, (double)bytes / secs / 1e6,
		    (double)h.msgs / secs, (unsigned long long)h.msgs, secs);
	}
	free(s);
	free(st.p);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;

	if (secs <= 0)
		secs = 2.0;
	run_case("DATA 1KB", 1024, false, secs);
	run_case("DATA 100KB", 100 * 1024, false, secs);
	run_case("BDAT 1KB", 1024, true, secs);
	run_case("BDAT 100KB", 100 * 1024, true, secs);
	return 0;
}
