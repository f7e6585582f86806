/*
 * dp_tcp_cookie — SYN cookies: the listener keeps no state for a SYN.  The
 * SYN-ACK's initial sequence number encodes what the handshake agreed,
 * and the ACK that completes it (RFC 4987 §3.6) brings it back in
 * ack - 1.  Layout of the 32-bit cookie, most significant first:
 *
 *   bits 31..27  t      minute counter (64 s units) mod 32
 *   bits 26..25  mssi   index into the MSS table below
 *   bits 24..21  ws     the peer's window scale, 15 = no option
 *   bit  20      ts     the peer sent timestamps (RFC 7323)
 *   bits 19..0   mac    SipHash-2-4(secret; addresses, ports, peer ISN,
 *                       t, mssi, ws, ts) truncated
 *
 * A cookie is valid for the current and the previous counter (64 to 128
 * seconds).  The peer's ISN is inside the MAC, so a cookie answers one SYN.
 * Parsing of TCP options lives here too: both ends of the handshake use it.
 */
#include "dp_net_priv.h"

static const uint16_t cookie_mss[4] = {536, 1220, 1440, 1460};

#define COOKIE_PERIOD_MS 64000u

static uint32_t cookie_mac(struct dp_net *net, uint32_t src, uint16_t sport,
			   uint16_t dport, uint32_t peer_isn, uint32_t hi)
{
	uint8_t b[20];

	dp_put32(b, src);
	dp_put32(b + 4, net->conf.ip);
	dp_put16(b + 8, sport);
	dp_put16(b + 10, dport);
	dp_put32(b + 12, peer_isn);
	dp_put32(b + 16, hi);
	return (uint32_t)dp_siphash(net->conf.secret, b, sizeof(b)) & 0xfffff;
}

uint32_t dp_tcp_cookie_make(struct dp_net *net, uint32_t src, uint16_t sport,
			    uint16_t dport, uint32_t peer_isn,
			    const struct dp_tcp_opts *o, uint16_t *mss_out)
{
	uint32_t t = (uint32_t)(net->now_ms / COOKIE_PERIOD_MS) & 31;
	uint16_t peer_mss = o->has_mss ? o->mss : 536; /* RFC 9293 §3.7.1 */
	uint32_t mssi = 0, ws, hi;

	if (peer_mss > net->our_mss)
		peer_mss = net->our_mss;
	for (uint32_t i = 0; i < 4; i++)
		if (cookie_mss[i] <= peer_mss)
			mssi = i;
	ws = o->has_ws ? (o->ws > 14 ? 14 : o->ws) : 15;
	hi = t << 27 | mssi << 25 | ws << 21 | (uint32_t)o->has_ts << 20;
	*mss_out = cookie_mss[mssi];
	return hi | cookie_mac(net, src, sport, dport, peer_isn, hi);
}

bool dp_tcp_cookie_check(struct dp_net *net, uint32_t src, uint16_t sport,
			 uint16_t dport, uint32_t peer_isn, uint32_t cookie,
			 uint16_t *mss, uint8_t *ws, bool *ts)
{
	uint32_t now_t = (uint32_t)(net->now_ms / COOKIE_PERIOD_MS) & 31;
	uint32_t t = cookie >> 27;
	uint32_t hi = cookie & 0xfff00000u;

	if (t != now_t && t != ((now_t + 31) & 31))
		return false;
	if (cookie_mac(net, src, sport, dport, peer_isn, hi) !=
	    (cookie & 0xfffff))
		return false;
	*mss = cookie_mss[(cookie >> 25) & 3];
	*ws = (uint8_t)((cookie >> 21) & 15);
	*ts = (cookie >> 20) & 1;
	return true;
}

bool dp_tcp_opts_parse(const uint8_t *p, size_t len, struct dp_tcp_opts *o)
{
	size_t i = 0;

	memset(o, 0, sizeof(*o));
	while (i < len) {
		uint8_t kind = p[i], olen;

		if (kind == 0) /* end of option list */
			break;
		if (kind == 1) { /* no-operation */
			i++;
			continue;
		}
		if (i + 1 >= len)
			return false;
		olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return false;
		switch (kind) {
		case 2:
			if (olen != 4)
				return false;
			o->has_mss = true;
			o->mss = dp_get16(p + i + 2);
			break;
		case 3:
			if (olen != 3)
				return false;
			o->has_ws = true;
			o->ws = p[i + 2];
			break;
		case 8:
			if (olen != 10)
				return false;
			o->has_ts = true;
			o->tsval = dp_get32(p + i + 2);
			o->tsecr = dp_get32(p + i + 6);
			break;
		default: /* SACK-permitted, SACK, others: skip */
			break;
		}
		i += olen;
	}
	return true;
}
