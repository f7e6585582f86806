/*
 * dp_net_arp — ARP for IPv4 over Ethernet (RFC 826): answers requests for
 * our address, learns the sender of any ARP packet aimed at us (the merge
 * rule of RFC 826 "Packet Reception"), and resolves next hops for what we
 * send from a small table whose entries time out.  An unresolved next hop
 * costs the packet (TCP retransmits) and one request per second.
 *
 * Each core has its own table, and RSS steers ARP (no L4 hash) to one
 * queue only, so a core would never see the reply to its own request.
 * Cores therefore also glean: a TCP segment of one of our connections (or
 * the handshake ACK that opens one) refreshes or creates the entry of its
 * previous hop — its on-link source, or the gateway for off-link sources —
 * from the frame's source MAC.  Stateless answers (SYN-ACKs, RSTs, echo
 * replies) go straight back to the frame's source and touch no entry, so a
 * flood from spoofed sources cannot evict the peers we owe data.
 */
#include "dp_net_priv.h"

#define ARP_HLEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
#define ARP_RETRY_MS 1000

static struct dp_arp_entry *arp_find(struct dp_net *net, uint32_t ip)
{
	for (uint32_t i = 0; i < net->conf.arp_max; i++)
		if (net->arp[i].ip == ip && net->arp[i].updated_ms)
			return &net->arp[i];
	return NULL;
}

/* A free slot, or the least recently updated one. */
static struct dp_arp_entry *arp_slot(struct dp_net *net)
{
	struct dp_arp_entry *old = &net->arp[0];

	for (uint32_t i = 0; i < net->conf.arp_max; i++) {
		struct dp_arp_entry *e = &net->arp[i];

		if (!e->updated_ms)
			return e;
		if (e->updated_ms < old->updated_ms)
			old = e;
	}
	DP_NET_COUNT(net_arp_table_full);
	return old;
}

static void arp_learn(struct dp_net *net, uint32_t ip, const uint8_t *mac,
		      bool create)
{
	struct dp_arp_entry *e = arp_find(net, ip);

	if (!e) {
		if (!create)
			return;
		e = arp_slot(net);
		memset(e, 0, sizeof(*e));
	}
	e->ip = ip;
	memcpy(e->mac, mac, 6);
	e->resolved = true;
	e->updated_ms = net->now_ms ? net->now_ms : 1;
	DP_NET_COUNT(net_arp_learned);
}

static void arp_send(struct dp_net *net, uint16_t op, const uint8_t *dmac,
		     const uint8_t *tha, uint32_t tpa)
{
	void *h;
	uint8_t *f = net->tx.alloc(net->tx.arg, 60, &h);

	if (!f) {
		DP_NET_COUNT(net_tx_nobuf);
		return;
	}
	memset(f, 0, 60);
	memcpy(f, dmac, 6);
	memcpy(f + 6, net->conf.mac, 6);
	dp_put16(f + 12, 0x0806);
	dp_put16(f + 14, 1);	  /* hardware: Ethernet */
	dp_put16(f + 16, 0x0800); /* protocol: IPv4 */
	f[18] = 6;
	f[19] = 4;
	dp_put16(f + 20, op);
	memcpy(f + 22, net->conf.mac, 6);
	dp_put32(f + 28, net->conf.ip);
	memcpy(f + 32, tha, 6);
	dp_put32(f + 38, tpa);
	net->tx.send(net->tx.arg, h, 60, 0);
	DP_NET_COUNT(net_tx_frames);
	if (op == ARP_OP_REPLY)
		DP_NET_COUNT(net_arp_reply_tx);
	else
		DP_NET_COUNT(net_arp_request_tx);
}

void dp_arp_input(struct dp_net *net, const uint8_t *eth, size_t len)
{
	const uint8_t *a = eth + DP_NET_ETH_HLEN;
	uint32_t spa, tpa;
	uint16_t op;

	DP_NET_COUNT(net_arp_rx);
	if (len < DP_NET_ETH_HLEN + ARP_HLEN || dp_get16(a) != 1 ||
	    dp_get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4) {
		DP_NET_COUNT(net_arp_bad);
		return;
	}
	op = dp_get16(a + 6);
	spa = dp_get32(a + 14);
	tpa = dp_get32(a + 24);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
		DP_NET_COUNT(net_arp_bad);
		return;
	}
	/* Never learn broadcast/multicast hardware or zero addresses. */
	if ((a[8] & 1) || spa == 0) {
		DP_NET_COUNT(net_arp_bad);
		return;
	}
	if (tpa != net->conf.ip) {
		/* RFC 826: refresh an entry we hold, create none. */
		arp_learn(net, spa, a + 8, false);
		DP_NET_COUNT(net_arp_not_us);
		return;
	}
	arp_learn(net, spa, a + 8, true);
	if (op == ARP_OP_REQUEST)
		arp_send(net, ARP_OP_REPLY, a + 8, a + 8, spa);
}

const uint8_t *dp_arp_resolve(struct dp_net *net, uint32_t dst)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t zero[6];
	uint64_t now = net->now_ms ? net->now_ms : 1;
	uint32_t hop = dst;
	struct dp_arp_entry *e;
	bool fresh;

	if (!dp_net_ip_local(net, dst) && net->conf.gateway)
		hop = net->conf.gateway;
	e = arp_find(net, hop);
	if (!e) {
		e = arp_slot(net);
		memset(e, 0, sizeof(*e));
		e->ip = hop;
		e->updated_ms = now;
	}
	fresh = e->resolved && now - e->updated_ms < net->conf.arp_timeout_ms;
	/* A stale entry is still used while a refresh request goes out, at
	 * most one request per second per next hop. */
	if (!fresh && (!e->req_ms || now - e->req_ms >= ARP_RETRY_MS)) {
		e->req_ms = now;
		arp_send(net, ARP_OP_REQUEST, bcast, zero, hop);
	}
	return e->resolved ? e->mac : NULL;
}

void dp_arp_glean(struct dp_net *net, uint32_t src, const uint8_t *mac)
{
	uint32_t hop = src;
	struct dp_arp_entry *e;

	if (!dp_net_ip_local(net, src)) {
		if (!net->conf.gateway)
			return;
		hop = net->conf.gateway;
	}
	if (mac[0] & 1 || src == 0 || src == 0xffffffffu)
		return;
	e = arp_find(net, hop);
	if (e && e->resolved && memcmp(e->mac, mac, 6) == 0 &&
	    net->now_ms - e->updated_ms < net->conf.arp_timeout_ms / 2)
		return; /* fresh enough: keep the hot path cheap */
	arp_learn(net, hop, mac, true);
}
