/*
 * dp_tcp_timer — one timer wheel per core (1 ms slots, DP_WHEEL_SLOTS of
 * them; a deadline further out waits in its slot until its turn comes
 * round), holding each connection once at its earliest deadline:
 * retransmission (RFC 6298), zero-window probe, keepalive, idle limit and
 * the app's own timer.  Also the RTT estimator of RFC 6298 §2.
 */
#include <errno.h>

#include "dp_net_priv.h"

static void wheel_remove(struct dp_tcp_conn *c)
{
	struct dp_net *net = c->net;

	if (!c->in_wheel)
		return;
	if (c->wprev != DP_NIL)
		net->conns[c->wprev].wnext = c->wnext;
	else
		net->wheel[c->wheel_at % DP_WHEEL_SLOTS] = c->wnext;
	if (c->wnext != DP_NIL)
		net->conns[c->wnext].wprev = c->wprev;
	c->in_wheel = false;
	c->wnext = c->wprev = DP_NIL;
}

static uint64_t ka_interval(const struct dp_net *net)
{
	uint64_t i = net->conf.keepalive_ms / 4;

	return i < 1000 ? 1000 : i;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static uint64_t conn_deadline(const struct dp_tcp_conn *c)
{
	const struct dp_net_conf *conf = &c->net->conf;
	uint64_t d = earliest(c->rto_at, c->persist_at);

	d = earliest(d, c->app_at);
	if (conf->idle_timeout_ms)
		d = earliest(d, c->last_rx_ms + conf->idle_timeout_ms);
	if (conf->keepalive_ms)
		d = earliest(d, c->last_rx_ms + conf->keepalive_ms +
				    c->ka_probes * ka_interval(c->net));
	return d;
}

void dp_tcp_timer_stop(struct dp_tcp_conn *c)
{
	wheel_remove(c);
}

void dp_tcp_timer_update(struct dp_tcp_conn *c)
{
	struct dp_net *net = c->net;
	uint64_t d = conn_deadline(c);
	uint32_t slot;

	if (d && d <= net->wheel_now_ms)
		d = net->wheel_now_ms + 1; /* fires at the next run */
	if (c->in_wheel && c->wheel_at == d)
		return;
	wheel_remove(c);
	if (!d)
		return;
	c->wheel_at = d;
	slot = (uint32_t)(d % DP_WHEEL_SLOTS);
	c->wprev = DP_NIL;
	c->wnext = net->wheel[slot];
	if (c->wnext != DP_NIL)
		net->conns[c->wnext].wprev = c->idx;
	net->wheel[slot] = c->idx;
	c->in_wheel = true;
}

void dp_tcp_rtt_sample(struct dp_tcp_conn *c, uint32_t r)
{
	const struct dp_net_conf *conf = &c->net->conf;
	uint32_t rto;

	if ((int32_t)r < 0 || r > conf->rto_max_ms * 4)
		return; /* a wrapped or bogus echo */
	if (!c->srtt8 && !c->rttvar4) {
		c->srtt8 = r << 3; /* §2.2: SRTT = R, RTTVAR = R/2 */
		c->rttvar4 = r << 1;
	} else {
		int32_t delta = (int32_t)r - (int32_t)(c->srtt8 >> 3);
		uint32_t adelta = (uint32_t)(delta < 0 ? -delta : delta);

		/* §2.3: beta 1/4, alpha 1/8, in scaled integers. */
		c->rttvar4 = c->rttvar4 - (c->rttvar4 >> 2) + adelta;
		c->srtt8 = (uint32_t)((int32_t)c->srtt8 + delta);
	}
	rto = (c->srtt8 >> 3) + (c->rttvar4 > 1 ? c->rttvar4 : 1);
	if (rto < conf->rto_min_ms)
		rto = conf->rto_min_ms;
	if (rto > conf->rto_max_ms)
		rto = conf->rto_max_ms;
	c->rto_ms = rto;
}

static void drop_conn(struct dp_tcp_conn *c, int reason)
{
	dp_tcp_send_seg(c, c->snd_nxt, 0, DP_TH_RST);
	DP_NET_COUNT(net_tcp_reset_tx);
	dp_tcp_conn_kill(c, reason);
}

/* RFC 6298 §5.4-5.7 and RFC 5681 §3.1 (loss window of one segment). */
static void rto_fire(struct dp_tcp_conn *c)
{
	const struct dp_net_conf *conf = &c->net->conf;
	uint32_t flight = c->snd_max - c->snd_una;

	if (!flight)
		return;
	DP_NET_COUNT(net_tcp_rto);
	if (++c->retries > conf->retries_max) {
		DP_NET_COUNT(net_tcp_timeout);
		drop_conn(c, -ETIMEDOUT);
		return;
	}
	c->ssthresh = flight / 2 > 2u * c->mss ? flight / 2 : 2u * c->mss;
	c->cwnd = c->mss;
	c->rto_ms =
	    c->rto_ms * 2 < conf->rto_max_ms ? c->rto_ms * 2 : conf->rto_max_ms;
	c->recover = c->snd_max;
	c->in_recovery = false;
	c->dupacks = 0;
	c->rtt_timing = false;
	c->snd_nxt = c->snd_una; /* go back N */
	dp_tcp_output(c);
}

static void conn_fire(struct dp_tcp_conn *c, uint64_t now)
{
	struct dp_net *net = c->net;
	const struct dp_net_conf *conf = &net->conf;

	if (c->rto_at && c->rto_at <= now) {
		c->rto_at = 0;
		rto_fire(c);
		if (c->state == DP_TCP_DEAD)
			return;
	}
	if (c->persist_at && c->persist_at <= now) {
		/* A zero-window probe: an old sequence number makes the
		 * peer answer with its current window. */
		dp_tcp_send_seg(c, c->snd_una - 1, 0, 0);
		DP_NET_COUNT(net_tcp_persist_probe);
		c->persist_ms = c->persist_ms * 2 < conf->rto_max_ms
				    ? c->persist_ms * 2
				    : conf->rto_max_ms;
		c->persist_at = now + c->persist_ms;
	}
	if (conf->idle_timeout_ms &&
	    now - c->last_rx_ms >= conf->idle_timeout_ms) {
		DP_NET_COUNT(net_tcp_idle);
		drop_conn(c, -ETIMEDOUT);
		return;
	}
	if (conf->keepalive_ms && now >= c->last_rx_ms + conf->keepalive_ms +
					     c->ka_probes * ka_interval(net)) {
		if (c->ka_probes >= conf->keepalive_probes) {
			DP_NET_COUNT(net_tcp_idle);
			drop_conn(c, -ETIMEDOUT);
			return;
		}
		dp_tcp_send_seg(c, c->snd_una - 1, 0, 0);
		DP_NET_COUNT(net_tcp_keepalive_tx);
		c->ka_probes++;
	}
	if (c->app_at && c->app_at <= now) {
		c->app_at = 0;
		if (net->app.timer)
			net->app.timer(net->app.arg, c, c->ctx);
		if (c->state == DP_TCP_DEAD)
			return;
	}
	dp_tcp_timer_update(c);
}

void dp_tcp_timers_run(struct dp_net *net, uint64_t now)
{
	uint32_t due = DP_NIL, *tail = &due;
	uint64_t steps, t;

	if (now <= net->wheel_now_ms)
		return;
	steps = now - net->wheel_now_ms;
	if (steps > DP_WHEEL_SLOTS)
		steps = DP_WHEEL_SLOTS;
	for (t = net->wheel_now_ms + 1; t <= net->wheel_now_ms + steps; t++) {
		uint32_t i = net->wheel[t % DP_WHEEL_SLOTS];

		while (i != DP_NIL) {
			struct dp_tcp_conn *c = &net->conns[i];

			i = c->wnext;
			if (c->wheel_at > now)
				continue;
			wheel_remove(c);
			c->dnext = DP_NIL;
			*tail = c->idx;
			tail = &c->dnext;
		}
	}
	net->wheel_now_ms = now;
	/* Fired after the walk: a callback may re-arm into any slot. */
	while (due != DP_NIL) {
		struct dp_tcp_conn *c = &net->conns[due];

		due = c->dnext;
		if (c->state != DP_TCP_DEAD && c->state != DP_TCP_FREE)
			conn_fire(c, now);
	}
}
