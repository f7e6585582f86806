/*
 * dp_tcp_app — the calls the application makes on a connection (send,
 * close, abort, resume reading, its timer) and the delivery of in-order
 * bytes to it.  The app may call any of these from inside its callbacks;
 * delivery guards against re-entry, and a connection killed inside a
 * callback stays in memory until the end of the round.
 */
#include <errno.h>

#include "dp_net_priv.h"

static bool can_send(const struct dp_tcp_conn *c)
{
	return !c->fin_queued && (c->state == DP_TCP_ESTABLISHED ||
				  c->state == DP_TCP_CLOSE_WAIT);
}

size_t dp_tcp_send_space(const struct dp_tcp_conn *c)
{
	if (!can_send(c))
		return 0;
	return c->net->conf.snd_buf_size - c->snd_len;
}

size_t dp_tcp_send(struct dp_tcp_conn *c, const void *data, size_t len)
{
	uint32_t size = c->net->conf.snd_buf_size;
	size_t room = dp_tcp_send_space(c), n = len < room ? len : room;
	uint32_t pos, first;

	if (n) {
		pos = (c->snd_head + c->snd_len) % size;
		first = (uint32_t)(n < size - pos ? n : size - pos);
		memcpy(c->snd_buf + pos, data, first);
		memcpy(c->snd_buf, (const uint8_t *)data + first, n - first);
		c->snd_len += (uint32_t)n;
		dp_tcp_pending(c);
	}
	if (n < len && can_send(c))
		c->want_writable = true;
	return n;
}

void dp_tcp_close(struct dp_tcp_conn *c)
{
	if (c->fin_queued || c->state == DP_TCP_DEAD)
		return;
	c->fin_queued = true;
	c->want_writable = false;
	dp_tcp_pending(c);
}

void dp_tcp_abort(struct dp_tcp_conn *c)
{
	if (c->state == DP_TCP_DEAD)
		return;
	dp_tcp_send_seg(c, c->snd_nxt, 0, DP_TH_RST);
	DP_NET_COUNT(net_tcp_reset_tx);
	dp_tcp_conn_kill(c, -ECONNABORTED);
}

void dp_tcp_deliver(struct dp_tcp_conn *c)
{
	struct dp_net *net = c->net;
	uint32_t size = net->conf.rcv_buf_size;

	if (c->delivering)
		return;
	c->delivering = true;
	while (c->rcv_len && !c->fin_queued && c->state != DP_TCP_DEAD) {
		uint32_t first = c->rcv_len < size - c->rcv_head
				     ? c->rcv_len
				     : size - c->rcv_head;
		size_t n = net->app.recv(net->app.arg, c, c->ctx,
					 c->rcv_buf + c->rcv_head, first);

		if (c->state == DP_TCP_DEAD)
			break;
		if (n > first)
			mx_panic("dp_tcp: app took %zu of %u bytes", n, first);
		c->rcv_head = (c->rcv_head + (uint32_t)n) % size;
		c->rcv_len -= (uint32_t)n;
		if (n < first)
			break;
	}
	c->delivering = false;
	if (c->state != DP_TCP_DEAD && !c->rcv_len && c->fin_rcvd &&
	    !c->fin_delivered && !c->fin_queued) {
		c->fin_delivered = true;
		if (net->app.fin)
			net->app.fin(net->app.arg, c, c->ctx);
	}
}

void dp_tcp_recv_resume(struct dp_tcp_conn *c)
{
	uint32_t edge, step;

	if (c->state == DP_TCP_DEAD)
		return;
	dp_tcp_deliver(c);
	if (c->state == DP_TCP_DEAD)
		return;
	/* Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): announce the window
	 * once it grew by a full segment or half the buffer. */
	edge = c->rcv_nxt + dp_tcp_rcv_space(c);
	step = c->net->conf.rcv_buf_size / 2;
	if (step > c->net->our_mss)
		step = c->net->our_mss;
	if (seq_geq(edge, c->rcv_adv + step)) {
		c->ack_now = true;
		dp_tcp_pending(c);
	}
}

size_t dp_tcp_recv_pending(const struct dp_tcp_conn *c)
{
	return c->rcv_len;
}

void dp_tcp_app_timer_set(struct dp_tcp_conn *c, uint64_t at_ms)
{
	if (c->state == DP_TCP_DEAD)
		return;
	c->app_at = at_ms;
	dp_tcp_pending(c);
}

uint32_t dp_tcp_peer_ip(const struct dp_tcp_conn *c)
{
	return c->peer_ip;
}

uint16_t dp_tcp_peer_port(const struct dp_tcp_conn *c)
{
	return c->peer_port;
}

void *dp_tcp_ctx(struct dp_tcp_conn *c)
{
	return c->ctx;
}

uint64_t dp_net_now(const struct dp_net *net)
{
	return net->now_ms;
}

uint32_t dp_tcp_index(const struct dp_tcp_conn *c)
{
	return c->idx;
}

struct dp_tcp_conn *dp_net_conn_at(struct dp_net *net, uint32_t idx)
{
	struct dp_tcp_conn *c;

	if (idx >= net->conf.conn_max)
		return NULL;
	c = &net->conns[idx];
	if (c->state == DP_TCP_FREE || c->state == DP_TCP_DEAD || !c->app_live)
		return NULL;
	return c;
}

uint32_t dp_net_conn_max(const struct dp_net *net)
{
	return net->conf.conn_max;
}
