/*
 * test_nsmtp — SMTP sessions over the stack (dp_nsmtp) with a scripted
 * sink: the banner and replies come out as TCP data; a message's 250 goes
 * out only after the sink's done(); while the sink is full the session's
 * bytes stay in the receive buffer (the window shrinks) and nothing is
 * lost; a completion for a session that is gone is counted as stale;
 * while draining, new connections get 421 and are closed.
 */
#include <string.h>

#include "dp_dpdk_counters.h"
#include "dp_nsmtp.h"
#include "net_harness.h"

static struct nt T;

/* ---- the scripted sink ---- */
static struct {
	dp_sink_done_fn done;
	void *core;
	int full;
	unsigned opens, commits, aborts;
	uint64_t cookie, id;
	char body[4096];
	size_t len;
} K;

static int k_attach(void *a, struct io_uring *r, dp_sink_done_fn d, void *c)
{
	K.done = d;
	K.core = c;
	return 0;
}
static int k_open(void *a, const struct dp_smtp_envelope *env, uint64_t ck,
		  uint64_t *id, void **msg)
{
	K.opens++;
	K.cookie = ck;
	K.id = *id = 0x1234 + K.opens;
	K.len = 0;
	*msg = &K;
	return 0;
}
static int k_write(void *a, void *m, const void *d, size_t n)
{
	CHECK(K.len + n <= sizeof(K.body));
	memcpy(K.body + K.len, d, n);
	K.len += n;
	return 0;
}
static void k_commit(void *a, void *m)
{
	K.commits++;
}
static void k_abort(void *a, void *m)
{
	K.aborts++;
}
static void k_flush(void *a)
{
}
static void k_cqe(void *a, const struct io_uring_cqe *c)
{
}
static int k_full(void *a)
{
	return K.full;
}
static const struct dp_sink_ops k_ops = {k_attach, k_open,  k_write, k_commit,
					 k_abort,  k_flush, k_cqe,   k_full};

static enum dp_smtp_rcpt_verdict rcpt(void *arg, const char *l, const char *d)
{
	return strcmp(d, "smoke.test") ? DP_SMTP_RCPT_RELAY : DP_SMTP_RCPT_OK;
}

/* Appends the stack's in-order data to the peer into out and ACKs it. */
static size_t collect(struct nt_peer *p, char *out, size_t size)
{
	struct nt_seg s;
	size_t n = 0;

	for (unsigned i = 0; i < T.nout; i++) {
		if (!nt_tcp(&T, i, &s) || s.dport != p->port)
			continue;
		if (s.len && s.seq == p->ack && n + s.len < size) {
			memcpy(out + n, s.data, s.len);
			n += s.len;
			p->ack += (uint32_t)s.len;
		}
		if (s.flags & DP_TH_FIN && s.seq + s.len == p->ack)
			p->ack++;
	}
	out[n] = 0;
	nt_clear(&T);
	if (n)
		nt_send(&T, p, DP_TH_ACK, NULL, 0);
	return n;
}

static struct dp_smtp_conf smtp;
static struct dp_nsmtp *G;

static void conf_edit(struct dp_net_conf *c)
{
	c->app_ctx_size = dp_nsmtp_ctx_size(&smtp);
	c->rcv_buf_size = 4096;
}

int main(void)
{
	struct dp_nsmtp_conf gc = {0};
	struct dp_tcp_app app;
	struct nt_peer p;
	struct nt_seg s;
	char out[4096];
	static const char msg[] = "Subject: hi\r\n\r\nbody line\r\n.\r\n";
	static char filler[4096];

	dp_smtp_conf_defaults(&smtp);
	snprintf(smtp.hostname, sizeof(smtp.hostname), "mx.test");
	gc.smtp = &smtp;
	gc.sink.ops = &k_ops;
	gc.rcpt = rcpt;
	gc.local_ip = NT_US_IP;
	gc.local_port = NT_PORT;
	G = dp_nsmtp_create(&gc);
	CHECK(G);
	dp_nsmtp_app(G, &app);
	nt_init_app(&T, conf_edit, &app);
	dp_nsmtp_bind(G, T.net);
	CHECK(k_ops.attach(NULL, NULL, dp_nsmtp_sink_done, G) == 0);

	nt_peer_init(&p, 0x0a000002, 33000);
	nt_peer_arp(&T, &p);
	nt_clear(&T);
	nt_send(&T, &p, DP_TH_SYN, NULL, 0);
	CHECK(nt_tcp(&T, 0, &s));
	p.ack = s.seq + 1;
	p.ts_echo = s.o.tsval;
	nt_clear(&T);
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	nt_poll(&T);
	collect(&p, out, sizeof(out));
	CHECK(strncmp(out, "220 mx.test", 11) == 0);
	CHECK(dp_nsmtp_sessions(G) == 1);

	/* Pipelined envelope, then the message. */
	static const char env[] = "EHLO c.test\r\nMAIL FROM:<a@c.test>\r\n"
				  "RCPT TO:<u@smoke.test>\r\nDATA\r\n";
	nt_send(&T, &p, DP_TH_ACK | DP_TH_PSH, env, sizeof(env) - 1);
	nt_poll(&T);
	collect(&p, out, sizeof(out));
	CHECK(strstr(out, "250 2.1.5") && strstr(out, "354 "));
	nt_send(&T, &p, DP_TH_ACK | DP_TH_PSH, msg, sizeof(msg) - 1);
	nt_poll(&T);
	collect(&p, out, sizeof(out));
	CHECK(K.commits == 1);
	CHECK(strstr(K.body, "body line\r\n"));
	CHECK(!strstr(out, "250")); /* not before the sink says durable */
	/* Commands pipelined behind the DATA wait in the receive buffer. */
	nt_send(&T, &p, DP_TH_ACK | DP_TH_PSH, "NOOP\r\n", 6);
	nt_poll(&T);
	collect(&p, out, sizeof(out));
	CHECK(out[0] == 0);
	K.done(K.core, K.cookie, K.id, 0);
	nt_poll(&T);
	collect(&p, out, sizeof(out));
	CHECK(strstr(out, "250 2.0.0 Ok: queued as 0000000000001235"));
	CHECK(strstr(out, "250 2.0.0 Ok\r\n")); /* the NOOP, now */

	/* A full sink: bytes wait in the buffer, the window closes. */
	K.full = 1;
	memset(filler, 'x', sizeof(filler));
	nt_send(&T, &p, DP_TH_ACK | DP_TH_PSH, "NOOP\r\n", 6);
	for (int i = 0; i < 3; i++)
		nt_send(&T, &p, DP_TH_ACK, filler, 1000);
	nt_send(&T, &p, DP_TH_ACK, filler, 4096 - 3006);
	nt_poll(&T);
	nt_last(&T, &p, &s);
	CHECK(s.wnd == 0 && s.ack == p.seq);
	collect(&p, out, sizeof(out));
	CHECK(out[0] == 0);
	CHECK(mx_counter_local(&dp_dpdk_counters, dpdk_sink_full_hold) >= 1);
	K.full = 0;
	dp_nsmtp_poll(G);
	nt_poll(&T);
	collect(&p, out, sizeof(out));
	CHECK(strncmp(out, "250 2.0.0 Ok\r\n", 14) == 0);

	/* QUIT: 221 and our FIN; the peer's FIN completes the close. */
	nt_send(&T, &p, DP_TH_ACK | DP_TH_PSH, "\r\nQUIT\r\n", 8);
	nt_poll(&T);
	nt_poll(&T);
	{
		struct nt_seg f;
		bool fin = false;

		for (unsigned i = 0; i < T.nout; i++)
			if (nt_tcp(&T, i, &f) && (f.flags & DP_TH_FIN))
				fin = true;
		collect(&p, out, sizeof(out));
		CHECK(strstr(out, "221 "));
		CHECK(fin);
	}
	nt_send(&T, &p, DP_TH_ACK | DP_TH_FIN, NULL, 0);
	nt_poll(&T);
	CHECK(dp_nsmtp_sessions(G) == 0);
	CHECK(dp_net_conn_count(T.net) == 0);

	/* A completion arriving after its session left: stale, harmless. */
	K.done(K.core, K.cookie, K.id, 0);
	CHECK(mx_counter_local(&dp_dpdk_counters, dpdk_commit_stale) == 1);

	/* Draining: a new connection is told 421 and closed. */
	dp_nsmtp_drain(G, true);
	nt_peer_init(&p, 0x0a000002, 33001);
	nt_clear(&T);
	nt_send(&T, &p, DP_TH_SYN, NULL, 0);
	CHECK(nt_tcp(&T, 0, &s));
	p.ack = s.seq + 1;
	p.ts_echo = s.o.tsval;
	nt_clear(&T);
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	nt_poll(&T);
	CHECK(nt_count_tcp(&T, DP_TH_FIN) == 1);
	collect(&p, out, sizeof(out));
	CHECK(strncmp(out, "421 4.3.2", 9) == 0);
	nt_send(&T, &p, DP_TH_ACK | DP_TH_FIN, NULL, 0);
	nt_poll(&T);
	CHECK(dp_nsmtp_sessions(G) == 0);

	nt_fini(&T);
	dp_nsmtp_destroy(G);
	printf("test_nsmtp: ok\n");
	return 0;
}
