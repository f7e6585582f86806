/*
 * dp_tcp_conn — the per-core connection pool and its hash table, and the
 * bounded TIME_WAIT table.  Connections come from a free list built at
 * start-up; a killed connection is unhashed at once but its memory goes
 * back to the free list only at the end of the poll round, so code up the
 * stack that still holds the pointer (an app callback that closed it)
 * stays safe.  TIME_WAIT entries are a FIFO ring: all have the same
 * lifetime, so the oldest is both the next to expire and the one evicted
 * when the ring is full (counted as net_tcp_tw_evicted).
 */
#include <errno.h>

#include "dp_net_priv.h"

static uint32_t tuple_hash(const struct dp_net *net, uint32_t ip,
			   uint16_t pport, uint16_t lport)
{
	uint64_t k = (uint64_t)ip << 32 | (uint32_t)pport << 16 | lport;

	k ^= net->conf.secret[1];
	k *= 0x9e3779b97f4a7c15ull;
	k ^= k >> 29;
	k *= 0xbf58476d1ce4e5b9ull;
	k ^= k >> 32;
	return (uint32_t)k;
}

struct dp_tcp_conn *dp_tcp_conn_lookup(struct dp_net *net, uint32_t ip,
				       uint16_t pport, uint16_t lport)
{
	uint32_t i = net->conn_hash[tuple_hash(net, ip, pport, lport) &
				    net->conn_hash_mask];

	while (i != DP_NIL) {
		struct dp_tcp_conn *c = &net->conns[i];

		if (c->peer_ip == ip && c->peer_port == pport &&
		    c->local_port == lport)
			return c;
		i = c->hnext;
	}
	return NULL;
}

struct dp_tcp_conn *dp_tcp_conn_alloc(struct dp_net *net, uint32_t ip,
				      uint16_t pport, uint16_t lport)
{
	struct dp_tcp_conn *c;
	uint32_t b;
	uint8_t *rb, *sb;
	void *ctx;

	if (net->conn_free == DP_NIL)
		return NULL;
	c = &net->conns[net->conn_free];
	net->conn_free = c->hnext;
	rb = c->rcv_buf;
	sb = c->snd_buf;
	ctx = c->ctx;
	memset(c, 0, sizeof(*c));
	c->net = net;
	c->idx = (uint32_t)(c - net->conns);
	c->rcv_buf = rb;
	c->snd_buf = sb;
	c->ctx = ctx;
	c->pnext = c->wnext = c->wprev = c->dnext = DP_NIL;
	c->peer_ip = ip;
	c->peer_port = pport;
	c->local_port = lport;
	b = tuple_hash(net, ip, pport, lport) & net->conn_hash_mask;
	c->hnext = net->conn_hash[b];
	net->conn_hash[b] = c->idx;
	net->conn_used++;
	return c;
}

static void conn_unhash(struct dp_tcp_conn *c)
{
	struct dp_net *net = c->net;
	uint32_t *pp = &net->conn_hash[tuple_hash(net, c->peer_ip, c->peer_port,
						  c->local_port) &
				       net->conn_hash_mask];

	while (*pp != DP_NIL) {
		if (*pp == c->idx) {
			*pp = c->hnext;
			return;
		}
		pp = &net->conns[*pp].hnext;
	}
	mx_panic("dp_tcp: conn %u not in its hash chain", c->idx);
}

void dp_tcp_conn_kill(struct dp_tcp_conn *c, int reason)
{
	struct dp_net *net = c->net;

	if (c->state == DP_TCP_DEAD || c->state == DP_TCP_FREE)
		return;
	conn_unhash(c);
	dp_tcp_timer_stop(c);
	c->state = DP_TCP_DEAD;
	c->hnext = net->dead_head;
	net->dead_head = c->idx;
	if (c->app_live)
		net->app.closed(net->app.arg, c, c->ctx, reason);
	c->app_live = false;
}

void dp_tcp_conn_reap(struct dp_net *net)
{
	while (net->dead_head != DP_NIL) {
		struct dp_tcp_conn *c = &net->conns[net->dead_head];

		net->dead_head = c->hnext;
		if (c->on_pending)
			mx_panic("dp_tcp: dead conn %u still pending", c->idx);
		c->state = DP_TCP_FREE;
		c->hnext = net->conn_free;
		net->conn_free = c->idx;
		net->conn_used--;
	}
}

void dp_tcp_pending(struct dp_tcp_conn *c)
{
	struct dp_net *net = c->net;

	if (c->on_pending || c->state == DP_TCP_DEAD)
		return;
	c->on_pending = true;
	c->pnext = net->pending_head;
	net->pending_head = c->idx;
}

struct dp_tw *dp_tw_lookup(struct dp_net *net, uint32_t ip, uint16_t pport,
			   uint16_t lport)
{
	uint32_t i =
	    net->tw_hash[tuple_hash(net, ip, pport, lport) & net->tw_hash_mask];

	while (i != DP_NIL) {
		struct dp_tw *t = &net->tw[i];

		if (t->peer_ip == ip && t->peer_port == pport &&
		    t->local_port == lport)
			return t;
		i = t->hnext;
	}
	return NULL;
}

void dp_tw_remove(struct dp_net *net, struct dp_tw *tw)
{
	uint32_t idx = (uint32_t)(tw - net->tw);
	uint32_t *pp = &net->tw_hash[tuple_hash(net, tw->peer_ip, tw->peer_port,
						tw->local_port) &
				     net->tw_hash_mask];

	if (!tw->used)
		return;
	while (*pp != DP_NIL) {
		if (*pp == idx) {
			*pp = tw->hnext;
			break;
		}
		pp = &net->tw[*pp].hnext;
	}
	/* The ring slot stays until the head passes it; it is just unused. */
	tw->used = false;
	net->tw_live--;
}

/* Drops the ring's head slot (used or not). */
static void tw_pop(struct dp_net *net)
{
	struct dp_tw *t = &net->tw[net->tw_head];

	dp_tw_remove(net, t);
	net->tw_head = (net->tw_head + 1) % net->conf.tw_max;
	net->tw_count--;
}

void dp_tw_enter(struct dp_tcp_conn *c)
{
	struct dp_net *net = c->net;
	struct dp_tw *t;
	uint32_t idx, b;

	if (net->tw_count == net->conf.tw_max) {
		if (net->tw[net->tw_head].used)
			DP_NET_COUNT(net_tcp_tw_evicted);
		tw_pop(net);
	}
	idx = (net->tw_head + net->tw_count) % net->conf.tw_max;
	t = &net->tw[idx];
	t->peer_ip = c->peer_ip;
	t->peer_port = c->peer_port;
	t->local_port = c->local_port;
	t->snd_nxt = c->snd_nxt;
	t->rcv_nxt = c->rcv_nxt;
	t->ts_recent = c->ts_recent;
	t->ts_ok = c->ts_ok;
	t->expire_ms = net->now_ms + net->conf.time_wait_ms;
	t->used = true;
	b = tuple_hash(net, t->peer_ip, t->peer_port, t->local_port) &
	    net->tw_hash_mask;
	t->hnext = net->tw_hash[b];
	net->tw_hash[b] = idx;
	net->tw_count++;
	net->tw_live++;
	DP_NET_COUNT(net_tcp_closed);
	dp_tcp_conn_kill(c, 0);
}

void dp_tw_expire(struct dp_net *net)
{
	while (net->tw_count) {
		struct dp_tw *t = &net->tw[net->tw_head];

		if (t->used && net->now_ms < t->expire_ms)
			return;
		tw_pop(net);
	}
}
