/*
 * dp_net — the stack instance: configuration defaults, the one start-up
 * allocation of every pool, Ethernet demultiplexing, and the end-of-round
 * poll that flushes pending output and runs timers.
 */
#include <errno.h>
#include <stdlib.h>

#include "dp_net_priv.h"

#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806

void dp_net_conf_defaults(struct dp_net_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->mtu = 1500;
	conf->conn_max = 1024;
	conf->tw_max = 4096;
	conf->arp_max = 64;
	conf->rcv_buf_size = 64 * 1024;
	conf->snd_buf_size = 16 * 1024;
	conf->ooo_ranges_max = 4;
	conf->synq_size = 65536;
	conf->synq_resend_per_s = 1000;
	conf->rto_min_ms = 200;
	conf->rto_max_ms = 60000;
	conf->rto_init_ms = 1000;
	conf->retries_max = 8;
	conf->time_wait_ms = 60000;
	conf->idle_timeout_ms = 600000;
	conf->keepalive_ms = 120000;
	conf->keepalive_probes = 4;
	conf->arp_timeout_ms = 300000;
	conf->challenge_ack_per_s = 1000;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static bool buf_size_ok(uint32_t size)
{
	return size >= 1024 && size <= (1u << 30) && size % 64 == 0;
}

static bool conf_valid(const struct dp_net_conf *c)
{
	return c->mtu >= 576 && c->mtu <= 1500 && c->listen_port != 0 &&
	       c->conn_max > 0 && c->conn_max < (1u << 24) && c->tw_max > 0 &&
	       c->arp_max > 0 && buf_size_ok(c->rcv_buf_size) &&
	       buf_size_ok(c->snd_buf_size) &&
	       c->ooo_ranges_max <= DP_OOO_MAX && c->rto_min_ms > 0 &&
	       c->rto_max_ms >= c->rto_min_ms && c->rto_init_ms > 0 &&
	       c->prefix_len <= 32 && c->ip != 0 &&
	       c->synq_size <= (1u << 24) && c->synq_resend_per_s <= 1000000;
}

struct dp_net *dp_net_create(const struct dp_net_conf *conf,
			     const struct dp_net_tx *tx,
			     const struct dp_tcp_app *app, uint64_t now_ms,
			     int *err)
{
	struct dp_net *net;
	size_t bufs;

	if (!conf_valid(conf) || !tx->alloc || !tx->send || !app->recv ||
	    !app->closed) {
		*err = -EINVAL;
		return NULL;
	}
	net = calloc(1, sizeof(*net));
	if (!net)
		goto nomem;
	net->conf = *conf;
	net->tx = *tx;
	net->app = *app;
	net->now_ms = now_ms;
	net->wheel_now_ms = now_ms;
	net->ts_offset = (uint32_t)(conf->secret[0] >> 7);
	net->our_mss = (uint16_t)(conf->mtu - DP_IP_HLEN - DP_TCP_HLEN);
	while (net->our_wscale < 14 &&
	       (conf->rcv_buf_size >> net->our_wscale) > 65535)
		net->our_wscale++;

	net->conns = calloc(conf->conn_max, sizeof(*net->conns));
	net->conn_hash_mask = pow2_at_least(conf->conn_max * 2) - 1;
	net->conn_hash = malloc((net->conn_hash_mask + 1) * sizeof(uint32_t));
	net->tw = calloc(conf->tw_max, sizeof(*net->tw));
	net->tw_hash_mask = pow2_at_least(conf->tw_max * 2) - 1;
	net->tw_hash = malloc((net->tw_hash_mask + 1) * sizeof(uint32_t));
	net->arp = calloc(conf->arp_max, sizeof(*net->arp));
	net->synq = calloc(dp_synq_entries(conf) ? dp_synq_entries(conf) : 1,
			   sizeof(*net->synq));
	net->synq_dst = calloc(DP_SYNQ_DST_BUCKETS, sizeof(*net->synq_dst));
	if (!net->conns || !net->conn_hash || !net->tw || !net->tw_hash ||
	    !net->arp || !net->synq || !net->synq_dst)
		goto nomem;
	memset(net->conn_hash, 0xff,
	       (net->conn_hash_mask + 1) * sizeof(uint32_t));
	memset(net->tw_hash, 0xff, (net->tw_hash_mask + 1) * sizeof(uint32_t));
	memset(net->wheel, 0xff, sizeof(net->wheel));
	net->pending_head = DP_NIL;
	net->dead_head = DP_NIL;
	dp_synq_init(net);

	bufs = (size_t)conf->rcv_buf_size + conf->snd_buf_size +
	       conf->app_ctx_size;
	for (uint32_t i = 0; i < conf->conn_max; i++) {
		struct dp_tcp_conn *c = &net->conns[i];
		uint8_t *mem = aligned_alloc(64, (bufs + 63) & ~(size_t)63);

		if (!mem)
			goto nomem;
		c->net = net;
		c->idx = i;
		c->rcv_buf = mem;
		c->snd_buf = mem + conf->rcv_buf_size;
		c->ctx =
		    conf->app_ctx_size ? c->snd_buf + conf->snd_buf_size : NULL;
		c->hnext = i + 1 < conf->conn_max ? i + 1 : DP_NIL;
	}
	net->conn_free = 0;
	return net;
nomem:
	dp_net_destroy(net);
	*err = -ENOMEM;
	return NULL;
}

void dp_net_destroy(struct dp_net *net)
{
	if (!net)
		return;
	if (net->conns)
		for (uint32_t i = 0; i < net->conf.conn_max; i++)
			free(net->conns[i].rcv_buf);
	free(net->conns);
	free(net->conn_hash);
	free(net->tw);
	free(net->tw_hash);
	free(net->arp);
	free(net->synq);
	free(net->synq_dst);
	free(net);
}

void dp_net_input(struct dp_net *net, const uint8_t *frame, size_t len,
		  unsigned rx_flags, uint64_t now_ms)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint16_t type;

	net->now_ms = now_ms;
	DP_NET_COUNT(net_rx_frames);
	if (len < DP_NET_ETH_HLEN) {
		DP_NET_COUNT(net_rx_short);
		return;
	}
	if (memcmp(frame, net->conf.mac, 6) != 0 &&
	    memcmp(frame, bcast, 6) != 0) {
		DP_NET_COUNT(net_rx_not_us);
		return;
	}
	type = dp_get16(frame + 12);
	switch (type) {
	case ETH_TYPE_ARP:
		dp_arp_input(net, frame, len);
		break;
	case ETH_TYPE_IPV4:
		net->rx_mac = frame + 6;
		dp_ip_input(net, frame + DP_NET_ETH_HLEN, len - DP_NET_ETH_HLEN,
			    rx_flags);
		net->rx_mac = NULL;
		break;
	default:
		/* VLAN tags and IPv6 (next) land here. */
		DP_NET_COUNT(net_rx_ethertype);
		break;
	}
}

void dp_net_poll(struct dp_net *net, uint64_t now_ms)
{
	net->now_ms = now_ms;
	dp_tcp_timers_run(net, now_ms);
	while (net->pending_head != DP_NIL) {
		struct dp_tcp_conn *c = &net->conns[net->pending_head];

		net->pending_head = c->pnext;
		c->on_pending = false;
		c->pnext = DP_NIL;
		if (c->state == DP_TCP_DEAD || c->state == DP_TCP_FREE)
			continue;
		dp_tcp_output(c);
		if (c->state != DP_TCP_DEAD)
			dp_tcp_timer_update(c);
	}
	dp_tw_expire(net);
	dp_synq_run(net);
	dp_tcp_conn_reap(net);
}

uint32_t dp_net_conn_count(const struct dp_net *net)
{
	return net->conn_used;
}

uint32_t dp_net_tw_count(const struct dp_net *net)
{
	return net->tw_live;
}

bool dp_net_ip_local(const struct dp_net *net, uint32_t ip)
{
	uint32_t mask = net->conf.prefix_len
			    ? ~(uint32_t)0 << (32 - net->conf.prefix_len)
			    : 0;

	return (ip & mask) == (net->conf.ip & mask);
}
