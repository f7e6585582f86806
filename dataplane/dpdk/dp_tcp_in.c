/*
 * dp_tcp_in — TCP segment arrival (RFC 9293 §3.10.7): header and checksum
 * checks, the stateless listener (SYN -> SYN-ACK with a cookie; the ACK
 * that returns a valid cookie creates the connection), TIME_WAIT, and the
 * synchronized states: PAWS (RFC 7323 §5), the acceptability test, RFC
 * 5961 handling of RST, SYN and ACK, ACK processing with NewReno (RFC
 * 5681, RFC 6582), and data placement into the receive ring, out-of-order
 * ranges included.
 */
#include <errno.h>

#include "dp_net_priv.h"

struct seg {
	uint32_t src;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	struct dp_tcp_opts o;
	const uint8_t *data;
	uint32_t len;
};

static uint32_t ts_now(const struct dp_net *net)
{
	return (uint32_t)net->now_ms + net->ts_offset;
}

/* RFC 9293 §3.10.7.1: the reset for a segment that has no connection. */
static void reply_rst(struct dp_net *net, const struct seg *s)
{
	uint32_t seglen =
	    s->len + !!(s->flags & DP_TH_SYN) + !!(s->flags & DP_TH_FIN);

	if (s->flags & DP_TH_RST)
		return;
	if (s->flags & DP_TH_ACK)
		dp_tcp_send_raw(net, s->src, s->dport, s->sport, s->ack, 0,
				DP_TH_RST, 0, NULL, net->rx_mac);
	else
		dp_tcp_send_raw(net, s->src, s->dport, s->sport, 0,
				s->seq + seglen, DP_TH_RST | DP_TH_ACK, 0,
				NULL, net->rx_mac);
}

/* Only segments of a connection (or the ACK that opens one) teach the ARP
 * table the peer's next hop: the table is bounded, and what a spoofed
 * flood sends must not evict the peers we owe data. */
static void glean(struct dp_net *net, uint32_t src)
{
	if (net->rx_mac)
		dp_arp_glean(net, src, net->rx_mac);
}

static void send_synack(struct dp_net *net, const struct seg *s)
{
	struct dp_tcp_opts o = {0};
	uint32_t cookie;
	uint16_t mss;
	uint32_t wnd = net->conf.rcv_buf_size;

	cookie = dp_tcp_cookie_make(net, s->src, s->sport, s->dport, s->seq,
				    &s->o, &mss);
	o.has_mss = true;
	o.mss = net->our_mss;
	if (s->o.has_ws) {
		o.has_ws = true;
		o.ws = net->our_wscale;
	}
	if (s->o.has_ts) {
		o.has_ts = true;
		o.tsval = ts_now(net);
		o.tsecr = s->o.tsval;
	}
	/* RFC 7323 §2.2: the window of a SYN-ACK is never scaled.  It goes
	 * to the SYN's Ethernet source: a SYN creates no state, ARP
	 * included, so a flood from spoofed on-link sources cannot push real
	 * peers out of the ARP table. */
	dp_tcp_send_raw(net, s->src, s->dport, s->sport, cookie, s->seq + 1,
			DP_TH_SYN | DP_TH_ACK,
			wnd > 65535 ? 65535 : (uint16_t)wnd, &o, net->rx_mac);
	DP_NET_COUNT(net_tcp_synack_tx);
	if (net->rx_mac)
		dp_synq_add(net, s->src, s->sport, s->dport, s->seq, cookie,
			    &o, net->rx_mac);
}

static struct dp_tcp_conn *open_from_cookie(struct dp_net *net,
					    const struct seg *s)
{
	struct dp_tcp_conn *c;
	uint16_t mss;
	uint8_t ws;
	bool ts;
	uint32_t iw;

	if (!dp_tcp_cookie_check(net, s->src, s->sport, s->dport, s->seq - 1,
				 s->ack - 1, &mss, &ws, &ts)) {
		DP_NET_COUNT(net_tcp_cookie_bad);
		reply_rst(net, s);
		return NULL;
	}
	dp_synq_done(net, s->src, s->sport, s->dport);
	glean(net, s->src);
	c = dp_tcp_conn_alloc(net, s->src, s->sport, s->dport);
	if (!c) {
		DP_NET_COUNT(net_tcp_pool_empty);
		reply_rst(net, s);
		return NULL;
	}
	c->state = DP_TCP_ESTABLISHED;
	c->mss = mss < net->our_mss ? mss : net->our_mss;
	if (ws != 15) {
		c->snd_wscale = ws;
		c->rcv_wscale = net->our_wscale;
	}
	c->ts_ok = ts;
	c->ts_recent = s->o.has_ts ? s->o.tsval : 0;
	c->iss = s->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = s->ack;
	c->recover = c->iss;
	c->irs = s->seq - 1;
	c->rcv_nxt = s->seq;
	c->rcv_adv =
	    s->seq +
	    (net->conf.rcv_buf_size > 65535 ? 65535 : net->conf.rcv_buf_size);
	c->last_ack_sent = s->seq;
	c->snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	/* RFC 6928 initial window; ssthresh starts "arbitrarily high". */
	iw = 2 * (uint32_t)c->mss > 14600 ? 2 * (uint32_t)c->mss : 14600;
	c->cwnd = 10 * (uint32_t)c->mss < iw ? 10 * (uint32_t)c->mss : iw;
	c->ssthresh = 0x7fffffff;
	c->rto_ms = net->conf.rto_init_ms;
	c->last_rx_ms = net->now_ms;
	if (c->ts_ok && s->o.has_ts && s->o.tsecr)
		dp_tcp_rtt_sample(c, ts_now(net) - s->o.tsecr);
	if (net->app.accept) {
		int rc = net->app.accept(net->app.arg, c, c->ctx);

		if (rc < 0) {
			DP_NET_COUNT(net_tcp_app_refused);
			dp_tcp_send_raw(net, s->src, s->dport, s->sport,
					c->snd_nxt, 0, DP_TH_RST, 0, NULL,
					net->rx_mac);
			c->app_live = false;
			dp_tcp_conn_kill(c, -ECONNREFUSED);
			return NULL;
		}
	}
	c->app_live = true;
	DP_NET_COUNT(net_tcp_accepted);
	dp_tcp_pending(c);
	return c;
}

/* Returns true when the segment was consumed by the TIME_WAIT entry; false
 * when a new SYN replaced the entry and the listener should see it. */
static bool tw_input(struct dp_net *net, struct dp_tw *tw, const struct seg *s)
{
	struct dp_tcp_opts o = {0};

	DP_NET_COUNT(net_tcp_tw_rx);
	if (s->flags & DP_TH_RST)
		return true; /* RFC 1337: no TIME_WAIT assassination */
	if ((s->flags & DP_TH_SYN) && !(s->flags & DP_TH_ACK)) {
		/* RFC 9293 §3.10.7.4 note / RFC 6191: a new incarnation
		 * whose ISN is past the old one may reuse the tuple. */
		if (seq_gt(s->seq, tw->rcv_nxt) ||
		    (tw->ts_ok && s->o.has_ts &&
		     seq_gt(s->o.tsval, tw->ts_recent))) {
			DP_NET_COUNT(net_tcp_tw_reused);
			dp_tw_remove(net, tw);
			return false;
		}
	} else if (!(s->flags & DP_TH_FIN) && s->len == 0) {
		return true; /* a bare ACK needs no answer */
	}
	if (tw->ts_ok) {
		o.has_ts = true;
		o.tsval = ts_now(net);
		o.tsecr = tw->ts_recent;
	}
	dp_tcp_send_raw(net, s->src, s->dport, s->sport, tw->snd_nxt,
			tw->rcv_nxt, DP_TH_ACK, 0, &o, net->rx_mac);
	return true;
}

static void retransmit_first(struct dp_tcp_conn *c)
{
	uint32_t n = c->snd_len < c->mss ? c->snd_len : c->mss;
	uint8_t flags = 0;

	if (n == c->snd_len && c->fin_queued &&
	    seq_gt(c->snd_max, c->snd_una + c->snd_len))
		flags |= DP_TH_FIN;
	if (n == 0 && !flags)
		return;
	dp_tcp_send_seg(c, c->snd_una, n, flags);
	DP_NET_COUNT(net_tcp_retx_segs);
	c->rtt_timing = false; /* Karn: no sample across a retransmit */
}

static void take_fin(struct dp_tcp_conn *c)
{
	c->rcv_nxt++;
	c->fin_rcvd = true;
	c->fin_ooo = false;
	c->ack_now = true;
	switch (c->state) {
	case DP_TCP_ESTABLISHED:
		c->state = DP_TCP_CLOSE_WAIT;
		break;
	case DP_TCP_FIN_WAIT_1:
		c->state = DP_TCP_CLOSING; /* simultaneous close */
		break;
	case DP_TCP_FIN_WAIT_2:
		dp_tcp_send_ack(c);
		dp_tw_enter(c);
		break;
	default:
		break;
	}
}

/* Returns false when the connection ended during ACK processing. */
static bool ack_process(struct dp_tcp_conn *c, const struct seg *s)
{
	struct dp_net *net = c->net;
	uint32_t wnd = (uint32_t)s->wnd << c->snd_wscale;
	uint32_t mss = c->mss;

	if (seq_gt(s->ack, c->snd_una)) {
		uint32_t acked = s->ack - c->snd_una;
		uint32_t data = acked < c->snd_len ? acked : c->snd_len;
		bool fin_acked = acked > c->snd_len;

		if (c->ts_ok && s->o.has_ts && s->o.tsecr)
			dp_tcp_rtt_sample(c, ts_now(net) - s->o.tsecr);
		else if (c->rtt_timing && seq_gt(s->ack, c->rtt_seq)) {
			dp_tcp_rtt_sample(
			    c, (uint32_t)(net->now_ms - c->rtt_start_ms));
			c->rtt_timing = false;
		}
		c->snd_head = (c->snd_head + data) % net->conf.snd_buf_size;
		c->snd_len -= data;
		c->snd_una = s->ack;
		if (seq_lt(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		c->retries = 0;
		if (c->in_recovery) {
			if (seq_geq(s->ack, c->recover)) {
				/* RFC 6582 §3.2 step 3: full ACK. */
				uint32_t flight = c->snd_max - c->snd_una;

				c->cwnd = c->ssthresh < flight + mss
					      ? c->ssthresh
					      : flight + mss;
				c->in_recovery = false;
				c->dupacks = 0;
			} else {
				/* Step 5: partial ACK, deflate by the amount
				 * acked and resend the next hole. */
				retransmit_first(c);
				c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
				if (acked >= mss)
					c->cwnd += mss;
				if (c->cwnd < mss)
					c->cwnd = mss;
			}
		} else {
			c->dupacks = 0;
			if (c->cwnd < c->ssthresh)
				c->cwnd += acked < mss ? acked : mss;
			else
				c->cwnd += mss * mss / c->cwnd
					       ? mss * mss / c->cwnd
					       : 1;
		}
		/* RFC 6298 §5.2-5.3. */
		c->rto_at =
		    c->snd_una == c->snd_max ? 0 : net->now_ms + c->rto_ms;
		dp_tcp_pending(c);
		if (c->want_writable && data && net->app.writable) {
			c->want_writable = false;
			net->app.writable(net->app.arg, c, c->ctx);
			if (c->state == DP_TCP_DEAD)
				return false;
		}
		if (fin_acked) {
			switch (c->state) {
			case DP_TCP_FIN_WAIT_1:
				c->state = DP_TCP_FIN_WAIT_2;
				break;
			case DP_TCP_CLOSING:
				dp_tw_enter(c);
				return false;
			case DP_TCP_LAST_ACK:
				DP_NET_COUNT(net_tcp_closed);
				dp_tcp_conn_kill(c, 0);
				return false;
			default:
				break;
			}
		}
	} else if (s->ack == c->snd_una && s->len == 0 &&
		   !(s->flags & (DP_TH_SYN | DP_TH_FIN)) && wnd == c->snd_wnd &&
		   c->snd_max != c->snd_una) {
		/* RFC 5681 §2 duplicate ACK. */
		if (++c->dupacks == 3 && !c->in_recovery &&
		    seq_gt(s->ack, c->recover)) {
			uint32_t flight = c->snd_max - c->snd_una;

			c->ssthresh =
			    flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
			c->recover = c->snd_max;
			retransmit_first(c);
			c->cwnd = c->ssthresh + 3 * mss;
			c->in_recovery = true;
			DP_NET_COUNT(net_tcp_fast_retx);
		} else if (c->in_recovery) {
			c->cwnd += mss;
			dp_tcp_pending(c);
		}
	}
	/* RFC 9293 §3.10.7.4: window update from newer segments only. */
	if (seq_lt(c->snd_wl1, s->seq) ||
	    (c->snd_wl1 == s->seq && seq_leq(c->snd_wl2, s->ack))) {
		if (wnd > c->snd_wnd)
			dp_tcp_pending(c);
		c->snd_wnd = wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		if (wnd > c->max_snd_wnd)
			c->max_snd_wnd = wnd;
	}
	return true;
}

static void ooo_insert(struct dp_tcp_conn *c, uint32_t start, uint32_t end)
{
	struct dp_ooo_range *r = c->ooo;
	uint32_t n = c->ooo_count, i = 0, j;

	while (i < n && seq_lt(r[i].end, start))
		i++;
	/* Ranges i.. that touch [start, end) merge into one. */
	j = i;
	while (j < n && seq_leq(r[j].start, end)) {
		if (seq_lt(r[j].start, start))
			start = r[j].start;
		if (seq_gt(r[j].end, end))
			end = r[j].end;
		j++;
	}
	if (j == i && n >= c->net->conf.ooo_ranges_max) {
		DP_NET_COUNT(net_tcp_ooo_drop);
		return;
	}
	if (j == i) {
		memmove(&r[i + 1], &r[i], (n - i) * sizeof(*r));
		n++;
	} else if (j > i + 1) {
		memmove(&r[i + 1], &r[j], (n - j) * sizeof(*r));
		n -= j - i - 1;
	}
	r[i].start = start;
	r[i].end = end;
	c->ooo_count = (uint8_t)n;
	DP_NET_COUNT(net_tcp_ooo_segs);
}

/* The front ranges that rcv_nxt reached become in-order data. */
static void ooo_advance(struct dp_tcp_conn *c)
{
	while (c->ooo_count && seq_leq(c->ooo[0].start, c->rcv_nxt)) {
		if (seq_gt(c->ooo[0].end, c->rcv_nxt)) {
			uint32_t adv = c->ooo[0].end - c->rcv_nxt;

			c->rcv_nxt += adv;
			c->rcv_len += adv;
		}
		memmove(&c->ooo[0], &c->ooo[1],
			(c->ooo_count - 1u) * sizeof(c->ooo[0]));
		c->ooo_count--;
		c->ack_now = true; /* RFC 5681 §4.2: hole filled */
	}
}

static void data_process(struct dp_tcp_conn *c, struct seg *s)
{
	struct dp_net *net = c->net;
	uint32_t size = net->conf.rcv_buf_size;
	uint32_t fin_at = s->seq + s->len;
	bool fin = s->flags & DP_TH_FIN;
	uint32_t space, off, pos, first;

	if (seq_lt(s->seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - s->seq;

		if (d > s->len)
			d = s->len;
		DP_NET_COUNT_ADD(net_tcp_dup_data, d);
		s->data += d;
		s->len -= d;
		s->seq += d;
		c->ack_now = true;
	}
	if (s->len && c->fin_queued) {
		/* The app has closed; nobody will read this. */
		DP_NET_COUNT(net_tcp_rx_after_close);
		dp_tcp_send_seg(c, c->snd_nxt, 0, DP_TH_RST);
		DP_NET_COUNT(net_tcp_reset_tx);
		dp_tcp_conn_kill(c, -ECONNABORTED);
		return;
	}
	if (s->len && !c->fin_rcvd) {
		space = dp_tcp_rcv_space(c);
		off = s->seq - c->rcv_nxt;
		if (off >= space) {
			DP_NET_COUNT_ADD(net_tcp_window_full, s->len);
			s->len = 0;
			fin = false;
		} else if (off + s->len > space) {
			DP_NET_COUNT_ADD(net_tcp_window_full,
					 off + s->len - space);
			s->len = space - off;
			fin = false;
		}
	} else {
		s->len = 0;
		off = 0;
	}
	if (s->len) {
		pos = (c->rcv_head + c->rcv_len + off) % size;
		first = s->len < size - pos ? s->len : size - pos;
		memcpy(c->rcv_buf + pos, s->data, first);
		memcpy(c->rcv_buf, s->data + first, s->len - first);
		if (off == 0) {
			c->rcv_nxt += s->len;
			c->rcv_len += s->len;
			ooo_advance(c);
			c->ack_now = true;
		} else {
			ooo_insert(c, s->seq, s->seq + s->len);
			/* An immediate duplicate ACK for fast retransmit
			 * (RFC 5681 §4.2), not one per round. */
			dp_tcp_send_ack(c);
		}
	}
	if (fin && !c->fin_rcvd) {
		if (fin_at == c->rcv_nxt)
			take_fin(c);
		else if (seq_gt(fin_at, c->rcv_nxt)) {
			c->fin_ooo = true;
			c->fin_seq = fin_at;
		}
	} else if (c->fin_ooo && c->fin_seq == c->rcv_nxt) {
		take_fin(c);
	}
	if (c->state == DP_TCP_DEAD)
		return;
	if (c->ack_now)
		dp_tcp_pending(c);
	dp_tcp_deliver(c);
}

static void conn_input(struct dp_tcp_conn *c, struct seg *s)
{
	struct dp_net *net = c->net;
	uint32_t seglen =
	    s->len + !!(s->flags & DP_TH_SYN) + !!(s->flags & DP_TH_FIN);
	uint32_t wnd = dp_tcp_rcv_space(c);
	bool ok;

	c->last_rx_ms = net->now_ms;
	c->ka_probes = 0;
	/* RFC 7323 §5.3 PAWS: an older timestamp is an old duplicate. */
	if (c->ts_ok && s->o.has_ts && !(s->flags & DP_TH_RST) &&
	    seq_lt(s->o.tsval, c->ts_recent)) {
		DP_NET_COUNT(net_tcp_paws);
		dp_tcp_send_ack(c);
		return;
	}
	/* RFC 9293 §3.10.7.4 acceptability. */
	if (seglen == 0)
		ok = wnd == 0 ? s->seq == c->rcv_nxt
			      : seq_geq(s->seq, c->rcv_nxt) &&
				    seq_lt(s->seq, c->rcv_nxt + wnd);
	else
		ok = wnd != 0 &&
		     ((seq_geq(s->seq, c->rcv_nxt) &&
		       seq_lt(s->seq, c->rcv_nxt + wnd)) ||
		      (seq_geq(s->seq + seglen - 1, c->rcv_nxt) &&
		       seq_lt(s->seq + seglen - 1, c->rcv_nxt + wnd)));
	if (!ok) {
		if (wnd == 0 && s->seq == c->rcv_nxt) {
			/* Zero window: still take the ACK (RFC 9293
			 * §3.10.7.4), not the data. */
			DP_NET_COUNT_ADD(net_tcp_window_full, s->len);
			s->len = 0;
			s->flags &= (uint8_t)~DP_TH_FIN;
			if (!(s->flags & DP_TH_RST) && seglen) {
				c->ack_now = true;
				dp_tcp_pending(c);
			}
		} else {
			if (s->flags & DP_TH_RST)
				return;
			if (seq_leq(s->seq + seglen, c->rcv_nxt))
				DP_NET_COUNT_ADD(net_tcp_dup_data, s->len);
			else
				DP_NET_COUNT(net_tcp_out_of_window);
			dp_tcp_send_ack(c);
			return;
		}
	}
	if (s->flags & DP_TH_RST) {
		/* RFC 5961 §3.2: exact match resets, in-window challenges. */
		if (s->seq == c->rcv_nxt) {
			DP_NET_COUNT(net_tcp_reset_rx);
			dp_tcp_conn_kill(c, -ECONNRESET);
		} else {
			dp_tcp_challenge_ack(c);
		}
		return;
	}
	if (s->flags & DP_TH_SYN) {
		dp_tcp_challenge_ack(c); /* RFC 5961 §4.2 */
		return;
	}
	if (!(s->flags & DP_TH_ACK))
		return; /* RFC 9293: drop without ACK */
	/* RFC 5961 §5.2 acceptable ACK range. */
	if (seq_gt(s->ack, c->snd_max)) {
		DP_NET_COUNT(net_tcp_ack_unsent);
		dp_tcp_send_ack(c);
		return;
	}
	if (seq_lt(s->ack, c->snd_una - c->max_snd_wnd)) {
		DP_NET_COUNT(net_tcp_ack_old);
		dp_tcp_challenge_ack(c);
		return;
	}
	/* RFC 7323 §4.3: remember the timestamp to echo. */
	if (c->ts_ok && s->o.has_ts && seq_leq(s->seq, c->last_ack_sent))
		c->ts_recent = s->o.tsval;
	if (!ack_process(c, s))
		return;
	if (s->len || (s->flags & DP_TH_FIN) || c->fin_ooo)
		data_process(c, s);
}

void dp_tcp_input(struct dp_net *net, uint32_t src, uint32_t dst,
		  const uint8_t *p, size_t len, unsigned rx_flags)
{
	struct dp_tcp_conn *c;
	struct dp_tw *tw;
	struct seg s;
	size_t doff;

	DP_NET_COUNT(net_tcp_rx);
	if (len < DP_TCP_HLEN) {
		DP_NET_COUNT(net_tcp_bad_header);
		return;
	}
	doff = (size_t)(p[12] >> 4) * 4;
	if (doff < DP_TCP_HLEN || doff > len) {
		DP_NET_COUNT(net_tcp_bad_header);
		return;
	}
	if (!(rx_flags & DP_NET_RX_L4_CSUM_OK) &&
	    dp_csum_fold(dp_csum_add(
		dp_csum_pseudo(src, dst, DP_IPPROTO_TCP, (uint16_t)len), p,
		len)) != 0) {
		DP_NET_COUNT(net_tcp_bad_csum);
		return;
	}
	if (!dp_tcp_opts_parse(p + DP_TCP_HLEN, doff - DP_TCP_HLEN, &s.o)) {
		DP_NET_COUNT(net_tcp_bad_header);
		return;
	}
	s.src = src;
	s.sport = dp_get16(p);
	s.dport = dp_get16(p + 2);
	s.seq = dp_get32(p + 4);
	s.ack = dp_get32(p + 8);
	s.flags = p[13] & 0x3f;
	s.wnd = dp_get16(p + 14);
	s.data = p + doff;
	s.len = (uint32_t)(len - doff);
	if (s.dport != net->conf.listen_port) {
		DP_NET_COUNT(net_tcp_bad_port);
		reply_rst(net, &s);
		return;
	}
	c = dp_tcp_conn_lookup(net, src, s.sport, s.dport);
	if (c) {
		glean(net, src);
		conn_input(c, &s);
		return;
	}
	tw = dp_tw_lookup(net, src, s.sport, s.dport);
	if (tw && tw_input(net, tw, &s))
		return;
	if (s.flags & DP_TH_RST) {
		/* A RST answering our SYN-ACK ends its retransmissions. */
		dp_synq_done(net, src, s.sport, s.dport);
		DP_NET_COUNT(net_tcp_no_conn);
		return;
	}
	if ((s.flags & (DP_TH_SYN | DP_TH_ACK)) == DP_TH_SYN) {
		DP_NET_COUNT(net_tcp_syn_rx);
		send_synack(net, &s);
		return;
	}
	if ((s.flags & (DP_TH_SYN | DP_TH_ACK)) == DP_TH_ACK) {
		c = open_from_cookie(net, &s);
		if (c && c->state != DP_TCP_DEAD)
			conn_input(c, &s);
		return;
	}
	DP_NET_COUNT(net_tcp_no_conn);
	reply_rst(net, &s);
}
