/*
 * dp_net_ip — IPv4 input and output (RFC 791) and ICMP echo (RFC 792).
 * Input checks version, header length, total length and the header
 * checksum, ignores options, and drops fragments (counted as net_ip_frag:
 * SMTP peers use path-MTU discovery with DF set, so reassembly buys little
 * and costs memory an attacker could pin).  Output builds one Ethernet +
 * IPv4 header in a TX buffer, DF set, no options.
 */
#include "dp_net_priv.h"

#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO 8

static void icmp_input(struct dp_net *net, uint32_t src, const uint8_t *p,
		       size_t len)
{
	void *h;
	uint8_t *out;

	DP_NET_COUNT(net_icmp_rx);
	if (len < 8 || dp_csum_fold(dp_csum_add(0, p, len)) != 0) {
		DP_NET_COUNT(net_icmp_bad);
		return;
	}
	if (p[0] != ICMP_ECHO || p[1] != 0) {
		DP_NET_COUNT(net_icmp_ignored);
		return;
	}
	if (len > (size_t)net->conf.mtu - DP_IP_HLEN) {
		DP_NET_COUNT(net_icmp_bad);
		return;
	}
	/* RFC 792: the reply carries the same identifier, sequence number
	 * and data, type 0, checksum recomputed. */
	/* Answered to the frame's sender: an echo creates no ARP state. */
	out = dp_ip_out_begin(net, src, net->rx_mac, DP_IPPROTO_ICMP, len, &h);
	if (!out)
		return;
	memcpy(out, p, len);
	out[0] = ICMP_ECHO_REPLY;
	out[2] = out[3] = 0;
	dp_put16(out + 2, dp_csum_fold(dp_csum_add(0, out, len)));
	dp_ip_out_end(net, h, out, len, 0);
	DP_NET_COUNT(net_icmp_echo_tx);
}

void dp_ip_input(struct dp_net *net, const uint8_t *ip, size_t len,
		 unsigned rx_flags)
{
	size_t hlen, tot;
	uint32_t src, dst;
	uint16_t frag;

	DP_NET_COUNT(net_ip_rx);
	if (len < DP_IP_HLEN || (ip[0] >> 4) != 4) {
		DP_NET_COUNT(net_ip_bad_header);
		return;
	}
	hlen = (size_t)(ip[0] & 0xf) * 4;
	tot = dp_get16(ip + 2);
	/* RFC 791 §3.1: IHL >= 5; total length covers the header and fits
	 * in the frame (Ethernet padding may follow it). */
	if (hlen < DP_IP_HLEN || tot < hlen || tot > len) {
		DP_NET_COUNT(net_ip_bad_header);
		return;
	}
	if (!(rx_flags & DP_NET_RX_IP_CSUM_OK) &&
	    dp_csum_fold(dp_csum_add(0, ip, hlen)) != 0) {
		DP_NET_COUNT(net_ip_bad_csum);
		return;
	}
	src = dp_get32(ip + 12);
	dst = dp_get32(ip + 16);
	if (dst != net->conf.ip) {
		DP_NET_COUNT(net_ip_not_us);
		return;
	}
	frag = dp_get16(ip + 6);
	if ((frag & IP_MF) || (frag & IP_OFFMASK)) {
		DP_NET_COUNT(net_ip_frag);
		return;
	}
	if (ip[8] == 0) {
		DP_NET_COUNT(net_ip_ttl_zero);
		return;
	}
	switch (ip[9]) {
	case DP_IPPROTO_TCP:
		dp_tcp_input(net, src, dst, ip + hlen, tot - hlen, rx_flags);
		break;
	case DP_IPPROTO_ICMP:
		icmp_input(net, src, ip + hlen, tot - hlen);
		break;
	default:
		DP_NET_COUNT(net_ip_proto);
		break;
	}
}

uint8_t *dp_ip_out_begin(struct dp_net *net, uint32_t dst, const uint8_t *mac,
			 uint8_t proto, size_t l4_len, void **handle)
{
	size_t flen = DP_NET_ETH_HLEN + DP_IP_HLEN + l4_len;
	uint8_t *f, *ip;

	if (!mac)
		mac = dp_arp_resolve(net, dst);
	if (!mac) {
		DP_NET_COUNT(net_tx_arp_miss);
		return NULL;
	}
	f = net->tx.alloc(net->tx.arg, flen, handle);
	if (!f) {
		DP_NET_COUNT(net_tx_nobuf);
		return NULL;
	}
	memcpy(f, mac, 6);
	memcpy(f + 6, net->conf.mac, 6);
	dp_put16(f + 12, 0x0800);
	ip = f + DP_NET_ETH_HLEN;
	ip[0] = 0x45;
	ip[1] = 0;
	ip[4] = ip[5] = 0; /* ID: unused with DF (RFC 6864 §4.1) */
	dp_put16(ip + 6, IP_DF);
	ip[8] = 64;
	ip[9] = proto;
	dp_put32(ip + 12, net->conf.ip);
	dp_put32(ip + 16, dst);
	return ip + DP_IP_HLEN;
}

void dp_ip_out_end(struct dp_net *net, void *handle, uint8_t *l4, size_t l4_len,
		   unsigned flags)
{
	uint8_t *ip = l4 - DP_IP_HLEN;

	dp_put16(ip + 2, (uint16_t)(DP_IP_HLEN + l4_len));
	ip[10] = ip[11] = 0;
	if (!(flags & DP_NET_TX_IP_CSUM))
		dp_put16(ip + 10, dp_csum_fold(dp_csum_add(0, ip, DP_IP_HLEN)));
	net->tx.send(net->tx.arg, handle, DP_NET_ETH_HLEN + DP_IP_HLEN + l4_len,
		     flags);
	DP_NET_COUNT(net_tx_frames);
}
