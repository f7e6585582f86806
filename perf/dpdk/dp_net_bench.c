/*
 * dp_net_bench — the DPDK path's own code per message, without a NIC or
 * a kernel: one SMTP session per message (like smtp-source: banner, EHLO,
 * MAIL, RCPT, DATA, a 2 KiB body in two segments, QUIT, close) driven by
 * the scripted peer of tests/net through dp_net + dp_nsmtp + the real SMTP
 * engine + a sink that completes at flush.  Reports the time spent inside
 * the stack's entry points per message.  perf/dpdk/run also runs it under
 * callgrind (collecting only inside dp_net_input/dp_net_poll) for an
 * instruction count per message.
 *
 * usage: dp_net_bench [MESSAGES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_nsmtp.h"
#include "mx_time.h"
#include "net_harness.h"

static struct nt T;
static struct dp_smtp_conf smtp;

static dp_sink_done_fn done_fn;
static void *done_core;
static uint64_t pending_cookie, next_id;
static int pending;
static char msg_obj;

static int s_attach(void *a, struct io_uring *r, dp_sink_done_fn d, void *c)
{
	done_fn = d;
	done_core = c;
	return 0;
}
static int s_open(void *a, const struct dp_smtp_envelope *e, uint64_t ck,
		  uint64_t *id, void **m)
{
	pending_cookie = ck;
	*id = ++next_id;
	*m = &msg_obj;
	return 0;
}
static int s_write(void *a, void *m, const void *d, size_t n)
{
	return 0;
}
static void s_commit(void *a, void *m)
{
	pending = 1;
}
static void s_abort(void *a, void *m)
{
}
static void s_flush(void *a)
{
	if (pending) {
		pending = 0;
		done_fn(done_core, pending_cookie, next_id, 0);
	}
}
static void s_cqe(void *a, const struct io_uring_cqe *c)
{
}
static int s_full(void *a)
{
	return 0;
}
static const struct dp_sink_ops ops = { s_attach, s_open,  s_write,
					s_commit, s_abort, s_flush,
					s_cqe,	  s_full };

static void conf_edit(struct dp_net_conf *c)
{
	c->app_ctx_size = dp_nsmtp_ctx_size(&smtp);
	c->conn_max = 16;
	c->tw_max = 4096;
	c->synq_size = 256;
}

static enum dp_smtp_rcpt_verdict rcpt(void *a, const char *l, const char *d)
{
	return DP_SMTP_RCPT_OK;
}

/* Takes the stack's data to the peer, ACKs it once; false if none. */
static bool drain(struct nt_peer *p, const char *expect)
{
	struct nt_seg s;
	bool got = false;

	for (unsigned i = 0; i < T.nout; i++) {
		if (!nt_tcp(&T, i, &s) || s.dport != p->port)
			continue;
		if (s.len && s.seq == p->ack) {
			p->ack += (uint32_t)s.len;
			if (expect && memcmp(s.data, expect, 3) != 0) {
				fprintf(stderr, "unexpected reply %.*s\n",
					(int)s.len, s.data);
				exit(1);
			}
			got = true;
		}
		if ((s.flags & DP_TH_FIN) && s.seq + s.len == p->ack)
			p->ack++;
	}
	nt_clear(&T);
	if (got)
		nt_send(&T, p, DP_TH_ACK, NULL, 0);
	return got;
}

static void command(struct nt_peer *p, const char *line, const char *code)
{
	nt_send(&T, p, DP_TH_ACK | DP_TH_PSH, line, strlen(line));
	nt_poll(&T);
	s_flush(NULL);	/* the loop's sink flush: completes at once */
	nt_poll(&T);
	if (!drain(p, code)) {
		fprintf(stderr, "no reply to %s", line);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	struct dp_nsmtp_conf gc = { 0 };
	struct dp_tcp_app app;
	struct dp_nsmtp *g;
	static char body[2100];
	uint64_t wall0;

	dp_smtp_conf_defaults(&smtp);
	gc.smtp = &smtp;
	gc.sink.ops = &ops;
	gc.rcpt = rcpt;
	gc.local_ip = NT_US_IP;
	gc.local_port = NT_PORT;
	g = dp_nsmtp_create(&gc);
	dp_nsmtp_app(g, &app);
	nt_init_app(&T, conf_edit, &app);
	dp_nsmtp_bind(g, T.net);
	ops.attach(NULL, NULL, dp_nsmtp_sink_done, g);
	for (size_t i = 0; i < sizeof(body); i += 70) {
		memset(body + i, 'a' + (int)(i % 26), 68);
		body[i + 68] = '\r';
		body[i + 69] = '\n';
	}
	nt_stack_ns = 0;
	wall0 = mx_now_ns();
	for (unsigned m = 0; m < n; m++) {
		struct nt_peer p;
		struct nt_seg s;

		nt_peer_init(&p, 0x0a000002, (uint16_t)(1024 + m % 60000));
		p.isn = p.seq = 77777u * m;
		if (m == 0)
			nt_peer_arp(&T, &p);
		nt_send(&T, &p, DP_TH_SYN, NULL, 0);
		nt_tcp(&T, 0, &s);
		p.ack = s.seq + 1;
		p.ts_echo = s.o.tsval;
		nt_clear(&T);
		nt_send(&T, &p, DP_TH_ACK, NULL, 0);
		nt_poll(&T);
		drain(&p, "220");
		command(&p, "EHLO bench.test\r\n", "250");
		command(&p, "MAIL FROM:<a@bench.test>\r\n", "250");
		command(&p, "RCPT TO:<b@bench.test>\r\n", "250");
		command(&p, "DATA\r\n", "354");
		nt_send(&T, &p, DP_TH_ACK, body, 1050);
		nt_send(&T, &p, DP_TH_ACK, body + 1050, 1050);
		command(&p, ".\r\n", "250");
		command(&p, "QUIT\r\n", "221");
		nt_send(&T, &p, DP_TH_ACK | DP_TH_FIN, NULL, 0);
		nt_poll(&T);
		nt_clear(&T);
		T.now++;
	}
	printf("dp_net_bench: messages=%u stack_ns_per_msg=%.0f "
	       "harness_ns_per_msg=%.0f sessions_left=%u\n",
	       n, (double)nt_stack_ns / n,
	       (double)(mx_now_ns() - wall0 - nt_stack_ns) / n,
	       dp_nsmtp_sessions(g));
	nt_fini(&T);
	dp_nsmtp_destroy(g);
	return 0;
}
