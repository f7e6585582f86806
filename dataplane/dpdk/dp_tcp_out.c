/*
 * dp_tcp_out — everything TCP sends: data segments cut from the send ring
 * within min(peer window, cwnd) (RFC 5681 §3.1), the FIN after the data,
 * pure and challenge ACKs, window updates, and the stateless segments of
 * the listener (SYN-ACK with cookie, RST).  The advertised window is the
 * free space of the receive ring, so an app that stops taking data closes
 * it (and its right edge never moves left, RFC 9293 §3.8.6).
 */
#include "dp_net_priv.h"

#define OPT_TS_LEN 12

uint32_t dp_tcp_rcv_space(const struct dp_tcp_conn *c)
{
	return c->net->conf.rcv_buf_size - c->rcv_len;
}

static uint16_t wnd_field(struct dp_tcp_conn *c)
{
	uint32_t space = dp_tcp_rcv_space(c);
	uint32_t wnd = space >> c->rcv_wscale;
	uint32_t edge;

	if (wnd > 65535)
		wnd = 65535;
	edge = c->rcv_nxt + (wnd << c->rcv_wscale);
	if (seq_gt(edge, c->rcv_adv))
		c->rcv_adv = edge;
	return (uint16_t)wnd;
}

static uint32_t ts_now(const struct dp_net *net)
{
	return (uint32_t)net->now_ms + net->ts_offset;
}

static void tcp_csum(struct dp_net *net, uint32_t dst, uint8_t *th, size_t len,
		     unsigned *flags)
{
	uint32_t sum =
	    dp_csum_pseudo(net->conf.ip, dst, DP_IPPROTO_TCP, (uint16_t)len);

	th[16] = th[17] = 0;
	if (net->conf.tx_csum_offload) {
		/* The NIC adds the segment to the pseudo-header sum we leave
		 * (not complemented) in the checksum field. */
		sum = (uint16_t)~dp_csum_fold(sum);
		dp_put16(th + 16, (uint16_t)sum);
		*flags |= DP_NET_TX_IP_CSUM | DP_NET_TX_TCP_CSUM;
		return;
	}
	dp_put16(th + 16, dp_csum_fold(dp_csum_add(sum, th, len)));
}

void dp_tcp_send_seg(struct dp_tcp_conn *c, uint32_t seq, uint32_t len,
		     uint8_t flags)
{
	struct dp_net *net = c->net;
	size_t hlen = DP_TCP_HLEN + (c->ts_ok ? OPT_TS_LEN : 0);
	unsigned txf = 0;
	uint8_t *th;
	void *h;

	th = dp_ip_out_begin(net, c->peer_ip, NULL, DP_IPPROTO_TCP, hlen + len,
			     &h);
	if (!th)
		return;
	dp_put16(th, c->local_port);
	dp_put16(th + 2, c->peer_port);
	dp_put32(th + 4, seq);
	dp_put32(th + 8, c->rcv_nxt);
	th[12] = (uint8_t)((hlen / 4) << 4);
	th[13] = flags | DP_TH_ACK;
	dp_put16(th + 14, wnd_field(c));
	th[18] = th[19] = 0;
	if (c->ts_ok) {
		/* RFC 7323 Appendix A layout: NOP, NOP, TS. */
		th[20] = 1;
		th[21] = 1;
		th[22] = 8;
		th[23] = 10;
		dp_put32(th + 24, ts_now(net));
		dp_put32(th + 28, c->ts_recent);
	}
	if (len) {
		uint32_t size = net->conf.snd_buf_size;
		uint32_t pos = (c->snd_head + (seq - c->snd_una)) % size;
		uint32_t first = len < size - pos ? len : size - pos;

		memcpy(th + hlen, c->snd_buf + pos, first);
		memcpy(th + hlen + first, c->snd_buf, len - first);
	}
	tcp_csum(net, c->peer_ip, th, hlen + len, &txf);
	dp_ip_out_end(net, h, th, hlen + len, txf);
	c->last_ack_sent = c->rcv_nxt;
	c->ack_now = false;
}

void dp_tcp_send_ack(struct dp_tcp_conn *c)
{
	dp_tcp_send_seg(c, c->snd_nxt, 0, 0);
}

/* RFC 5961 §7: a global budget of challenge ACKs per second. */
void dp_tcp_challenge_ack(struct dp_tcp_conn *c)
{
	struct dp_net *net = c->net;

	if (net->now_ms - net->chack_window_ms >= 1000) {
		net->chack_window_ms = net->now_ms;
		net->chack_used = 0;
	}
	if (net->chack_used >= net->conf.challenge_ack_per_s) {
		DP_NET_COUNT(net_tcp_challenge_limited);
		return;
	}
	net->chack_used++;
	DP_NET_COUNT(net_tcp_challenge_ack);
	dp_tcp_send_ack(c);
}

void dp_tcp_send_raw(struct dp_net *net, uint32_t dst, uint16_t sport,
		     uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		     uint16_t wnd, const struct dp_tcp_opts *o,
		     const uint8_t *mac)
{
	uint8_t opt[40];
	size_t olen = 0, hlen;
	unsigned txf = 0;
	uint8_t *th;
	void *h;

	if (o && o->has_mss) {
		opt[olen++] = 2;
		opt[olen++] = 4;
		dp_put16(opt + olen, o->mss);
		olen += 2;
	}
	if (o && o->has_ws) {
		opt[olen++] = 1;
		opt[olen++] = 3;
		opt[olen++] = 3;
		opt[olen++] = o->ws;
	}
	if (o && o->has_ts) {
		opt[olen++] = 1;
		opt[olen++] = 1;
		opt[olen++] = 8;
		opt[olen++] = 10;
		dp_put32(opt + olen, o->tsval);
		dp_put32(opt + olen + 4, o->tsecr);
		olen += 8;
	}
	hlen = DP_TCP_HLEN + olen;
	th = dp_ip_out_begin(net, dst, mac, DP_IPPROTO_TCP, hlen, &h);
	if (!th)
		return;
	dp_put16(th, sport);
	dp_put16(th + 2, dport);
	dp_put32(th + 4, seq);
	dp_put32(th + 8, ack);
	th[12] = (uint8_t)((hlen / 4) << 4);
	th[13] = flags;
	dp_put16(th + 14, wnd);
	th[18] = th[19] = 0;
	memcpy(th + DP_TCP_HLEN, opt, olen);
	tcp_csum(net, dst, th, hlen, &txf);
	dp_ip_out_end(net, h, th, hlen, txf);
	if (flags & DP_TH_RST)
		DP_NET_COUNT(net_tcp_reset_tx);
}

static void fin_sent(struct dp_tcp_conn *c)
{
	if (c->state == DP_TCP_ESTABLISHED)
		c->state = DP_TCP_FIN_WAIT_1;
	else if (c->state == DP_TCP_CLOSE_WAIT)
		c->state = DP_TCP_LAST_ACK;
}

void dp_tcp_output(struct dp_tcp_conn *c)
{
	struct dp_net *net = c->net;
	bool sent = false;

	for (;;) {
		uint32_t off = c->snd_nxt - c->snd_una;
		uint32_t wnd = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
		uint32_t unsent, avail, n;
		uint8_t flags = 0;

		if (off > c->snd_len)
			break; /* the FIN is out */
		unsent = c->snd_len - off;
		if (unsent == 0) {
			if (c->fin_queued) {
				dp_tcp_send_seg(c, c->snd_nxt, 0, DP_TH_FIN);
				c->snd_nxt++;
				fin_sent(c);
				sent = true;
			}
			break;
		}
		avail = wnd > off ? wnd - off : 0;
		n = unsent < c->mss ? unsent : c->mss;
		if (n > avail)
			n = avail;
		if (n == 0)
			break;
		/* Sender-side SWS avoidance, RFC 1122 §4.2.3.4. */
		if (n < unsent && n < c->mss && n < c->max_snd_wnd / 2)
			break;
		if (n == unsent) {
			flags |= DP_TH_PSH;
			if (c->fin_queued)
				flags |= DP_TH_FIN;
		}
		dp_tcp_send_seg(c, c->snd_nxt, n, flags);
		if (seq_lt(c->snd_nxt, c->snd_max))
			DP_NET_COUNT(net_tcp_retx_segs);
		else if (!c->rtt_timing && !c->ts_ok) {
			c->rtt_timing = true;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start_ms = net->now_ms;
		}
		c->snd_nxt += n;
		if (flags & DP_TH_FIN) {
			c->snd_nxt++;
			fin_sent(c);
		}
		sent = true;
	}
	if (seq_gt(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	if (sent && !c->rto_at)
		c->rto_at = net->now_ms + c->rto_ms;
	if (!sent && c->ack_now)
		dp_tcp_send_ack(c);
	/* Zero window with data waiting and nothing in flight: probe it
	 * (RFC 9293 §3.8.6.1). */
	if (c->snd_wnd == 0 && c->snd_len > c->snd_nxt - c->snd_una &&
	    c->snd_nxt == c->snd_una) {
		if (!c->persist_at) {
			c->persist_ms = c->rto_ms;
			c->persist_at = net->now_ms + c->persist_ms;
		}
	} else {
		c->persist_at = 0;
	}
}
