/*
 * dp_tcp_synq — SYN-ACK resends without listener state, built to keep
 * working under a SYN flood.
 *
 * Why it exists.  With SYN cookies nothing remembers a SYN, so when the
 * ACK completing a handshake is lost the client believes it is connected
 * and waits for our banner, which never comes: SMTP is server-speaks-first,
 * and the client's kernel has nothing to retransmit.  Sending the SYN-ACK
 * again (same cookie) makes the client's TCP answer with a duplicate ACK
 * (RFC 9293 §3.10.7.4), which completes the handshake from the cookie.
 * Losing that ACK is most likely exactly when a flood fills the links and
 * queues, so the cache must survive a flood.
 *
 * Table.  A set-associative array of conf->synq_size entries (rounded up
 * to a power of two, 4 ways per set), allocated once at start-up; the set
 * is chosen by a keyed hash of the tuple, so a spoofer cannot aim at the
 * set of a given client.  A SYN takes a free way of its set, or the way of
 * the same tuple (a retransmitted SYN), or evicts the oldest way.  An entry
 * therefore lives until four younger SYNs land in its set: with E entries
 * and a flood of R SYN/s, about E/R seconds (64K entries at 40K SYN/s:
 * 1.6 s; the first resend at 300 ms is reached by >99% of entries).  The
 * handshake ACK (valid cookie) or a RST from the peer frees the entry.
 *
 * Schedule.  The first resend goes 300 ms after the SYN-ACK, the next two
 * 900 ms and 2.7 s after the one before (0.3, 1.2 and 3.9 s): 300 ms
 * covers most RTTs, so a lost ACK costs a client a fraction of a second,
 * and three tries fit well inside the 64-128 s cookie validity.  Entries
 * are examined by a sweep that covers the whole table every SYNQ_SWEEP_MS,
 * a slice per poll round, so a large table never stalls the poll loop.
 * Cost: 64 bytes an entry (the default 64K: 4 MB per core) plus 256 KB of
 * per-destination slots, and the sweep reads the table 20 times a second.
 *
 * Caps.  A resend must pass two limits.  Per destination: a keyed hash
 * of the peer address picks one of DP_SYNQ_DST_BUCKETS slots holding the
 * time of the last resend to it, and the next waits SYNQ_DST_GAP_MS
 * (net_tcp_synack_retx_capped_dst): a flood spoofing one victim, or a few
 * hundred, gets them no more than two resends a second each, and a real
 * client's address, not among the spoofed ones, keeps its own allowance
 * however hard they flood.  Per core: a token bucket filled at
 * conf->synq_resend_per_s, a tenth of a second deep
 * (net_tcp_synack_retx_capped), bounds the total when the sources are
 * spread wide.  A try held back by a cap stays due and is looked at again
 * on the next sweep (each try is counted once), so a client that meets an
 * empty bucket waits tens of milliseconds, not a whole backoff step.  So a
 * spoofed flood gets one SYN-ACK per SYN plus a bounded number of resends
 * a second: we are never an amplifier beyond the caps.  Resends go to the
 * Ethernet source of the SYN, so neither the SYN nor its resends create or
 * touch ARP state.  An entry older than SYNQ_AGE_MAX_MS is dropped.
 *
 * Residual risk.  A flood spoofing sources spread over many addresses
 * drains the per-core bucket; a real client's resend then competes with
 * the flood's for the tokens, and its lost ACK is recovered only by luck
 * (about cap / due resends per sweep).  So does a client whose address
 * shares a slot with a spoofed one (n spoofed addresses: n / 65536), or
 * whose entry is evicted first (a flood above entries / 0.3 s per core).
 * Lost handshake ACKs stay rare (one packet), a client that gets no
 * banner retries the MX later (RFC 5321 §4.5.4.1), and the counters tell
 * an operator when a cap binds.
 */
#include "dp_net_priv.h"

#define SYNQ_WAYS 4u
#define SYNQ_FIRST_MS 300u
#define SYNQ_BACKOFF 3u
#define SYNQ_TRIES 3u
#define SYNQ_SWEEP_MS 50u
#define SYNQ_DST_GAP_MS 500u
#define SYNQ_AGE_MAX_MS 10000u

static uint32_t synq_set(const struct dp_net *net, uint32_t ip, uint16_t pport,
			 uint16_t lport)
{
	uint64_t k = ((uint64_t)ip << 32 | (uint32_t)pport << 16 | lport) ^
		     net->conf.secret[1];

	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k ^= net->conf.secret[0];
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 29;
	return (uint32_t)k & (net->synq_sets - 1);
}

static bool synq_match(const struct dp_synq *q, uint32_t ip, uint16_t pport,
		       uint16_t lport)
{
	return q->used && q->ip == ip && q->pport == pport && q->lport == lport;
}

static uint32_t synq_delay_ms(unsigned tries)
{
	uint32_t d = SYNQ_FIRST_MS;

	while (tries--)
		d *= SYNQ_BACKOFF;
	return d;
}

uint32_t dp_synq_entries(const struct dp_net_conf *conf)
{
	uint32_t n = SYNQ_WAYS;

	if (!conf->synq_size)
		return 0;
	while (n < conf->synq_size)
		n <<= 1;
	return n;
}

static uint32_t synq_dst_bucket(const struct dp_net *net, uint32_t ip)
{
	uint64_t k = ((uint64_t)ip ^ net->conf.secret[0]) * 0x9e3779b97f4a7c15ull;

	k ^= k >> 31;
	k += net->conf.secret[1];
	k *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(k >> 40) & (DP_SYNQ_DST_BUCKETS - 1);
}

void dp_synq_init(struct dp_net *net)
{
	net->synq_sets = dp_synq_entries(&net->conf) / SYNQ_WAYS;
	net->synq_cursor = 0;
	net->synq_sweep_ms = net->now_ms;
	net->synq_tokens_milli = 0;
	memset(net->synq_dst, 0, DP_SYNQ_DST_BUCKETS * sizeof(*net->synq_dst));
	net->synq_burst = net->conf.synq_resend_per_s / 10 > 1
			      ? net->conf.synq_resend_per_s / 10
			      : 1;
}

void dp_synq_add(struct dp_net *net, uint32_t ip, uint16_t pport,
		 uint16_t lport, uint32_t peer_isn, uint32_t cookie,
		 const struct dp_tcp_opts *o, const uint8_t *mac)
{
	struct dp_synq *set, *q = NULL;

	if (!net->synq_sets)
		return;
	set = &net->synq[(size_t)synq_set(net, ip, pport, lport) * SYNQ_WAYS];
	for (unsigned w = 0; w < SYNQ_WAYS; w++)
		if (synq_match(&set[w], ip, pport, lport)) {
			q = &set[w];
			break;
		}
	for (unsigned w = 0; !q && w < SYNQ_WAYS; w++)
		if (!set[w].used)
			q = &set[w];
	if (!q) {
		q = &set[0];
		for (unsigned w = 1; w < SYNQ_WAYS; w++)
			if (set[w].added_ms < q->added_ms)
				q = &set[w];
		DP_NET_COUNT(net_tcp_synq_evicted);
	}
	q->ip = ip;
	q->pport = pport;
	q->lport = lport;
	q->peer_isn = peer_isn;
	q->cookie = cookie;
	q->opts = *o;
	memcpy(q->mac, mac, 6);
	q->added_ms = net->now_ms;
	q->due_ms = net->now_ms + SYNQ_FIRST_MS;
	q->tries = 0;
	q->held = false;
	q->used = true;
}

void dp_synq_done(struct dp_net *net, uint32_t ip, uint16_t pport,
		  uint16_t lport)
{
	struct dp_synq *set;

	if (!net->synq_sets)
		return;
	set = &net->synq[(size_t)synq_set(net, ip, pport, lport) * SYNQ_WAYS];
	for (unsigned w = 0; w < SYNQ_WAYS; w++)
		if (synq_match(&set[w], ip, pport, lport)) {
			if (set[w].tries)
				DP_NET_COUNT(net_tcp_synq_recovered);
			set[w].used = false;
			return;
		}
}

/* Refills the bucket for the time since the last sweep step. */
static void synq_refill(struct dp_net *net, uint64_t elapsed_ms)
{
	uint64_t cap = (uint64_t)net->synq_burst * 1000;
	uint64_t t = net->synq_tokens_milli +
		     elapsed_ms * net->conf.synq_resend_per_s;

	net->synq_tokens_milli = t > cap ? cap : t;
}

/* A due entry: resent if both caps allow, else left due for the next
 * sweep (counted once per try). */
static void synq_resend(struct dp_net *net, struct dp_synq *q)
{
	uint32_t wnd =
	    net->conf.rcv_buf_size > 65535 ? 65535 : net->conf.rcv_buf_size;
	uint32_t *last = &net->synq_dst[synq_dst_bucket(net, q->ip)];
	uint32_t now32 = (uint32_t)net->now_ms;

	if (*last && now32 - *last < SYNQ_DST_GAP_MS) {
		if (!q->held)
			DP_NET_COUNT(net_tcp_synack_retx_capped_dst);
		q->held = true;
		return;
	}
	if (net->synq_tokens_milli < 1000) {
		if (!q->held)
			DP_NET_COUNT(net_tcp_synack_retx_capped);
		q->held = true;
		return;
	}
	net->synq_tokens_milli -= 1000;
	*last = now32 ? now32 : 1;
	q->held = false;
	q->tries++;
	q->due_ms = net->now_ms + synq_delay_ms(q->tries);
	if (q->opts.has_ts)
		q->opts.tsval = now32 + net->ts_offset;
	/* RFC 7323 §2.2: the window of a SYN-ACK is never scaled. */
	dp_tcp_send_raw(net, q->ip, q->lport, q->pport, q->cookie,
			q->peer_isn + 1, DP_TH_SYN | DP_TH_ACK, (uint16_t)wnd,
			&q->opts, q->mac);
	DP_NET_COUNT(net_tcp_synack_retx);
}

void dp_synq_run(struct dp_net *net)
{
	uint64_t elapsed = net->now_ms - net->synq_sweep_ms;
	uint32_t n, total;

	if (!net->synq_sets || elapsed == 0)
		return;
	net->synq_sweep_ms = net->now_ms;
	synq_refill(net, elapsed);
	total = net->synq_sets * SYNQ_WAYS;
	n = elapsed >= SYNQ_SWEEP_MS
		? total
		: (uint32_t)((uint64_t)total * elapsed / SYNQ_SWEEP_MS) + 1;
	while (n--) {
		struct dp_synq *q = &net->synq[net->synq_cursor];

		net->synq_cursor = (net->synq_cursor + 1) & (total - 1);
		if (!q->used || net->now_ms < q->due_ms)
			continue;
		if (q->tries == SYNQ_TRIES ||
		    net->now_ms - q->added_ms > SYNQ_AGE_MAX_MS) {
			DP_NET_COUNT(net_tcp_synq_expired);
			q->used = false;
			continue;
		}
		synq_resend(net, q);
	}
}
