/*
 * dp_tcp_synq — SYN-ACK retransmission without listener state.  With SYN
 * cookies nothing remembers a SYN, so when the ACK completing a handshake
 * is lost the client believes it is connected and waits for our banner,
 * which never comes: SMTP is a server-speaks-first protocol.  This cache
 * keeps the last SYN-ACKs sent (direct-mapped by tuple hash, a collision
 * simply overwrites) and sends each again after 1, 2 and 4 seconds unless
 * the handshake completed.  A flood only churns the cache: the connection
 * table is still untouched by any SYN, and memory is fixed at start-up.
 */
#include "dp_net_priv.h"

#define SYNQ_SCAN_MS 100
#define SYNQ_TRIES 3
#define SYNQ_FIRST_MS 1000

static uint32_t synq_slot(const struct dp_net *net, uint32_t ip, uint16_t pport,
			  uint16_t lport)
{
	uint64_t k = (uint64_t)ip << 32 | (uint32_t)pport << 16 | lport;

	k ^= net->conf.secret[0];
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return (uint32_t)k & (net->conf.synq_size - 1);
}

void dp_synq_add(struct dp_net *net, uint32_t ip, uint16_t pport,
		 uint16_t lport, uint32_t peer_isn, uint32_t cookie,
		 const struct dp_tcp_opts *o)
{
	struct dp_synq *q;

	if (!net->conf.synq_size)
		return;
	q = &net->synq[synq_slot(net, ip, pport, lport)];
	q->ip = ip;
	q->pport = pport;
	q->lport = lport;
	q->peer_isn = peer_isn;
	q->cookie = cookie;
	q->opts = *o;
	q->sent_ms = net->now_ms;
	q->tries = 0;
	q->used = true;
}

void dp_synq_done(struct dp_net *net, uint32_t ip, uint16_t pport,
		  uint16_t lport)
{
	struct dp_synq *q;

	if (!net->conf.synq_size)
		return;
	q = &net->synq[synq_slot(net, ip, pport, lport)];
	if (q->used && q->ip == ip && q->pport == pport && q->lport == lport)
		q->used = false;
}

void dp_synq_run(struct dp_net *net)
{
	uint32_t wnd =
	    net->conf.rcv_buf_size > 65535 ? 65535 : net->conf.rcv_buf_size;

	if (!net->conf.synq_size ||
	    net->now_ms - net->synq_scan_ms < SYNQ_SCAN_MS)
		return;
	net->synq_scan_ms = net->now_ms;
	for (uint32_t i = 0; i < net->conf.synq_size; i++) {
		struct dp_synq *q = &net->synq[i];

		if (!q->used || net->now_ms - q->sent_ms <
				    (uint64_t)SYNQ_FIRST_MS << q->tries)
			continue;
		if (q->tries == SYNQ_TRIES) {
			q->used = false;
			continue;
		}
		q->tries++;
		q->sent_ms = net->now_ms;
		if (q->opts.has_ts)
			q->opts.tsval = (uint32_t)net->now_ms + net->ts_offset;
		dp_tcp_send_raw(net, q->ip, q->lport, q->pport, q->cookie,
				q->peer_isn + 1, DP_TH_SYN | DP_TH_ACK,
				(uint16_t)wnd, &q->opts);
		DP_NET_COUNT(net_tcp_synack_retx);
	}
}
