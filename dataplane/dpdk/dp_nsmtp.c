/*
 * dp_nsmtp — see dp_nsmtp.h.  Each connection's app storage holds a small
 * header (struct nconn) followed by the engine's session.  The sink is
 * given a cookie = serial << 24 | connection index, so a completion that
 * arrives after its connection was reused finds a different serial and is
 * dropped (the client saw no 250 and will send again: at least once).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_dpdk_counters.h"
#include "dp_nsmtp.h"
#include "mx_time.h"

#define NCONN_HDR 64 /* session memory starts 64-byte aligned */

struct dp_nsmtp {
	struct dp_nsmtp_conf conf;
	struct dp_smtp_host host;
	struct dp_net *net;
	uint64_t serial;
	uint32_t sessions;
	bool held; /* some session was held: sink full */
	bool draining;
	char local_text[16];
};

struct nconn {
	struct dp_nsmtp *g;
	struct dp_tcp_conn *c;
	uint64_t serial;
	void *msg;
	bool peer_fin;
	bool held;
	bool closing;
};

_Static_assert(sizeof(struct nconn) <= NCONN_HDR, "nconn header too big");

static struct dp_smtp_session *sess(struct nconn *nc)
{
	return (struct dp_smtp_session *)((uint8_t *)nc + NCONN_HDR);
}

static uint64_t cookie_of(const struct nconn *nc)
{
	return nc->serial << 24 | dp_tcp_index(nc->c);
}

static void ip_text(uint32_t ip, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255,
		 (ip >> 8) & 255, ip & 255);
}

size_t dp_nsmtp_ctx_size(const struct dp_smtp_conf *smtp)
{
	return (NCONN_HDR + dp_smtp_session_size(smtp) + 63) & ~(size_t)63;
}

/* Moves engine output into the TCP send buffer, closes when the engine
 * (or a half-closed peer) is done, and re-arms the session's timer. */
static void pump(struct nconn *nc)
{
	struct dp_smtp_session *s = sess(nc);
	const uint8_t *out;
	size_t len, n;
	uint64_t d;

	for (;;) {
		out = dp_smtp_output(s, &len);
		if (!len)
			break;
		n = dp_tcp_send(nc->c, out, len);
		if (!n)
			break;
		dp_smtp_output_consume(s, n);
	}
	if (nc->closing)
		return;
	if (!len && (dp_smtp_want_close(s) ||
		     (nc->peer_fin && !dp_smtp_awaiting_commit(s)))) {
		nc->closing = true;
		dp_tcp_app_timer_set(nc->c, 0);
		dp_tcp_close(nc->c);
		return;
	}
	d = dp_smtp_deadline_ms(s);
	dp_tcp_app_timer_set(nc->c, d == UINT64_MAX ? 0 : d);
}

static bool sink_full(const struct dp_nsmtp *g)
{
	return g->conf.sink.ops && g->conf.sink.ops->full &&
	       g->conf.sink.ops->full(g->conf.sink.arg);
}

static int app_accept(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	struct dp_nsmtp *g = arg;
	struct nconn *nc = ctx;
	char peer_text[16];
	struct dp_smtp_peer peer = {0};

	memset(nc, 0, sizeof(*nc));	/* the stack does not zero it */
	nc->g = g;
	nc->c = c;
	g->serial = (g->serial + 1) & ((1ull << 40) - 1);
	if (!g->serial)
		g->serial = 1;
	nc->serial = g->serial;
	ip_text(dp_tcp_peer_ip(c), peer_text);
	peer.addr = peer_text;
	peer.port = dp_tcp_peer_port(c);
	peer.local_addr = g->local_text;
	peer.local_port = g->conf.local_port;
	dp_smtp_session_init(sess(nc), g->conf.smtp, &g->host, nc, &peer,
			     dp_net_now(g->net));
	g->sessions++;
	DP_DPDK_COUNT(dpdk_sessions);
	if (g->draining)
		dp_smtp_refuse(sess(nc), "421 4.3.2 Service shutting down");
	else
		dp_smtp_start(sess(nc));
	pump(nc);
	return 0;
}

static size_t app_recv(void *arg, struct dp_tcp_conn *c, void *ctx,
		       const uint8_t *data, size_t len)
{
	struct dp_nsmtp *g = arg;
	struct nconn *nc = ctx;
	size_t done = 0, n;

	if (sink_full(g)) {
		/* Leave the bytes in the receive buffer: the window closes
		 * and the client waits; dp_nsmtp_poll resumes us. */
		nc->held = true;
		g->held = true;
		DP_DPDK_COUNT(dpdk_sink_full_hold);
		return 0;
	}
	/* The engine stops early when its output is nearly full; draining
	 * it into TCP lets it go on, so feed until it makes no progress. */
	do {
		n = dp_smtp_input(sess(nc), data + done, len - done,
				  dp_net_now(g->net));
		done += n;
		pump(nc);
	} while (n && done < len && !nc->closing);
	return done;
}

static void app_fin(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	struct nconn *nc = ctx;

	nc->peer_fin = true;
	pump(nc);
}

static void app_writable(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	struct nconn *nc = ctx;

	pump(nc);
	dp_tcp_recv_resume(c);
}

static void app_timer(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	struct dp_nsmtp *g = arg;
	struct nconn *nc = ctx;

	dp_smtp_timeout(sess(nc), dp_net_now(g->net));
	pump(nc);
}

static void app_closed(void *arg, struct dp_tcp_conn *c, void *ctx, int reason)
{
	struct dp_nsmtp *g = arg;
	struct nconn *nc = ctx;

	dp_smtp_session_fini(sess(nc));
	nc->serial = 0;
	g->sessions--;
}

/* ---- the engine's host callbacks, forwarded to the core's sink ---- */

static int host_msg_open(void *ctx, const struct dp_smtp_envelope *env,
			 uint64_t *id)
{
	struct nconn *nc = ctx;
	const struct dp_sink *sk = &nc->g->conf.sink;

	if (!sk->ops)
		return -EIO;
	return sk->ops->open(sk->arg, env, cookie_of(nc), id, &nc->msg);
}

static int host_msg_write(void *ctx, const void *data, size_t len)
{
	struct nconn *nc = ctx;
	const struct dp_sink *sk = &nc->g->conf.sink;

	return sk->ops->write(sk->arg, nc->msg, data, len);
}

static void host_msg_commit(void *ctx)
{
	struct nconn *nc = ctx;
	const struct dp_sink *sk = &nc->g->conf.sink;
	void *m = nc->msg;

	nc->msg = NULL;
	sk->ops->commit(sk->arg, m);
}

static void host_msg_abort(void *ctx)
{
	struct nconn *nc = ctx;
	const struct dp_sink *sk = &nc->g->conf.sink;

	if (nc->msg)
		sk->ops->abort(sk->arg, nc->msg);
	nc->msg = NULL;
}

static enum dp_smtp_rcpt_verdict host_rcpt(void *ctx, const char *local,
					   const char *domain)
{
	struct nconn *nc = ctx;
	struct dp_nsmtp *g = nc->g;

	if (!g->conf.rcpt)
		return DP_SMTP_RCPT_RELAY;
	return g->conf.rcpt(g->conf.rcpt_arg, local, domain);
}

static uint64_t host_wall(void *ctx)
{
	return mx_wall_ns();
}

struct dp_nsmtp *dp_nsmtp_create(const struct dp_nsmtp_conf *conf)
{
	struct dp_nsmtp *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->conf = *conf;
	g->host.msg_open = host_msg_open;
	g->host.msg_write = host_msg_write;
	g->host.msg_commit = host_msg_commit;
	g->host.msg_abort = host_msg_abort;
	g->host.rcpt_check = host_rcpt;
	g->host.wall_ns = host_wall;
	ip_text(conf->local_ip, g->local_text);
	return g;
}

void dp_nsmtp_destroy(struct dp_nsmtp *g)
{
	free(g);
}

void dp_nsmtp_app(struct dp_nsmtp *g, struct dp_tcp_app *app)
{
	app->accept = app_accept;
	app->recv = app_recv;
	app->fin = app_fin;
	app->writable = app_writable;
	app->timer = app_timer;
	app->closed = app_closed;
	app->arg = g;
}

void dp_nsmtp_bind(struct dp_nsmtp *g, struct dp_net *net)
{
	g->net = net;
}

void dp_nsmtp_sink_done(void *core, uint64_t cookie, uint64_t id, int status)
{
	struct dp_nsmtp *g = core;
	struct dp_tcp_conn *c =
	    dp_net_conn_at(g->net, (uint32_t)(cookie & 0xffffff));
	struct nconn *nc = c ? dp_tcp_ctx(c) : NULL;

	if (!nc || nc->serial != cookie >> 24) {
		DP_DPDK_COUNT(dpdk_commit_stale);
		return;
	}
	dp_smtp_commit_done(sess(nc), status, id);
	pump(nc);
	dp_tcp_recv_resume(c);
}

void dp_nsmtp_poll(struct dp_nsmtp *g)
{
	uint32_t max;

	if (!g->held || sink_full(g))
		return;
	g->held = false;
	max = dp_net_conn_max(g->net);
	for (uint32_t i = 0; i < max; i++) {
		struct dp_tcp_conn *c = dp_net_conn_at(g->net, i);
		struct nconn *nc = c ? dp_tcp_ctx(c) : NULL;

		if (nc && nc->held) {
			nc->held = false;
			dp_tcp_recv_resume(c);
		}
	}
}

void dp_nsmtp_drain(struct dp_nsmtp *g, bool on)
{
	g->draining = on;
}

uint32_t dp_nsmtp_sessions(const struct dp_nsmtp *g)
{
	return g->sessions;
}
