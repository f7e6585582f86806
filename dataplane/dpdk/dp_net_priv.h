/*
 * dp_net_priv — the stack's internal structures, shared by its files
 * (dp_net*.c, dp_tcp*.c) and by nothing else.  Same threading and
 * ownership rules as dp_net.h: one instance per core.
 */
#ifndef DP_NET_PRIV_H
#define DP_NET_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dp_net.h"
#include "dp_net_counters.h"
#include "mx_log.h"

#define DP_NIL UINT32_MAX
#define DP_OOO_MAX 8
#define DP_WHEEL_SLOTS 1024u /* 1 ms per slot */
#define DP_SYNQ_DST_BUCKETS 65536u /* per-destination resend counters */

/* ---- byte order helpers: wire fields are read and written bytewise,
 * so no alignment assumption is made about frames. ---- */
static inline uint16_t dp_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t dp_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void dp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Sequence-space comparisons, RFC 793 §3.3 (modulo 2^32). */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}
static inline bool seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}
static inline bool seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

/* ---- checksums (dp_net_csum.c) ---- */
uint32_t dp_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t dp_csum_fold(uint32_t sum);
uint32_t dp_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto,
			uint16_t len);

/* ---- keyed hash (dp_net_siphash.c) ---- */
uint64_t dp_siphash(const uint64_t key[2], const uint8_t *data, size_t len);

struct dp_tcp_opts {
	bool has_mss, has_ws, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
};

enum dp_tcp_state {
	DP_TCP_FREE = 0,
	DP_TCP_ESTABLISHED,
	DP_TCP_CLOSE_WAIT,
	DP_TCP_LAST_ACK,
	DP_TCP_FIN_WAIT_1,
	DP_TCP_FIN_WAIT_2,
	DP_TCP_CLOSING,
	DP_TCP_DEAD, /* closed; memory returned at the end of the round */
};

struct dp_ooo_range {
	uint32_t start, end; /* sequence numbers, [start, end) */
};

struct dp_tcp_conn {
	struct dp_net *net;
	uint32_t idx;
	uint32_t hnext;	       /* hash chain / free list */
	uint32_t pnext;	       /* pending-output list */
	uint32_t wnext, wprev; /* timer wheel slot list */
	uint32_t dnext;	       /* due list while firing */

	uint32_t peer_ip;
	uint16_t peer_port;
	uint16_t local_port;

	uint8_t state;
	uint8_t snd_wscale; /* peer's shift */
	uint8_t rcv_wscale; /* ours */
	bool ts_ok;
	bool on_pending;
	bool in_wheel;
	bool ack_now;	 /* send an ACK this round */
	bool fin_queued; /* app closed: FIN after the data */
	bool fin_rcvd;	 /* peer FIN taken into rcv_nxt */
	bool fin_ooo;	 /* peer FIN seen beyond rcv_nxt */
	bool fin_delivered;
	bool want_writable;
	bool in_recovery;
	bool rtt_timing;
	bool delivering;
	bool app_live; /* accept() succeeded: closed() is owed */

	uint16_t mss; /* send MSS */
	uint8_t dupacks;
	uint8_t retries;
	uint8_t ka_probes;
	uint8_t ooo_count;

	/* send side */
	uint32_t iss;
	uint32_t snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, max_snd_wnd, snd_wl1, snd_wl2;
	uint32_t snd_len;  /* buffered bytes from snd_una, FIN excluded */
	uint32_t snd_head; /* ring index of byte snd_una */
	uint32_t cwnd, ssthresh, recover;
	uint32_t rtt_seq;
	uint64_t rtt_start_ms;
	uint32_t srtt8, rttvar4; /* RFC 6298, scaled by 8 and 4; 0 = none */
	uint32_t rto_ms;
	uint32_t persist_ms;

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv;
	uint32_t rcv_head; /* ring index of the first byte not taken */
	uint32_t rcv_len;  /* in-order bytes not taken by the app */
	uint32_t fin_seq;  /* peer FIN's sequence number if fin_ooo */
	struct dp_ooo_range ooo[DP_OOO_MAX];
	uint32_t ts_recent;
	uint32_t last_ack_sent;

	/* timers (absolute ms, 0 = off) */
	uint64_t rto_at, persist_at, app_at;
	uint64_t last_rx_ms;
	uint64_t wheel_at;

	uint8_t *snd_buf;
	uint8_t *rcv_buf;
	void *ctx;
};

struct dp_tw {
	uint32_t peer_ip;
	uint16_t peer_port, local_port;
	uint32_t snd_nxt, rcv_nxt, ts_recent;
	bool ts_ok, used;
	uint64_t expire_ms;
	uint32_t hnext;
};

struct dp_arp_entry {
	uint32_t ip;
	uint8_t mac[6];
	bool resolved;
	uint64_t updated_ms; /* learned (or created, if unresolved) */
	uint64_t req_ms;     /* last request sent */
};

struct dp_synq {
	uint32_t ip;
	uint16_t pport, lport;
	uint32_t peer_isn, cookie;
	struct dp_tcp_opts opts; /* as sent in our SYN-ACK */
	uint64_t added_ms;	 /* SYN-ACK first sent (eviction order) */
	uint64_t due_ms;	 /* next resend */
	uint8_t mac[6];		 /* Ethernet source of the SYN */
	uint8_t tries;		 /* resends done */
	bool held;		 /* due, held back by a cap (counted) */
	bool used;
};

struct dp_net {
	struct dp_net_conf conf;
	struct dp_net_tx tx;
	struct dp_tcp_app app;
	uint64_t now_ms;
	uint32_t ts_offset;
	uint8_t our_wscale;
	uint16_t our_mss;

	/* connections */
	struct dp_tcp_conn *conns;
	uint32_t *conn_hash;
	uint32_t conn_hash_mask;
	uint32_t conn_free;
	uint32_t conn_used;
	uint32_t pending_head;
	uint32_t dead_head;

	/* TIME_WAIT: a FIFO ring, all entries share one lifetime */
	struct dp_tw *tw;
	uint32_t *tw_hash;
	uint32_t tw_hash_mask;
	uint32_t tw_head, tw_count; /* ring slots, used or not */
	uint32_t tw_live;	    /* entries in use */

	/* timer wheel */
	uint32_t wheel[DP_WHEEL_SLOTS];
	uint64_t wheel_now_ms;

	struct dp_arp_entry *arp;

	/* SYN-ACK resend cache (dp_tcp_synq.c) */
	struct dp_synq *synq;
	uint32_t synq_sets;	    /* 4 ways each; 0: off */
	uint32_t synq_cursor;	    /* next entry the sweep examines */
	uint64_t synq_sweep_ms;	    /* time of the last sweep step */
	uint64_t synq_tokens_milli; /* resend tokens x 1000 */
	uint32_t synq_burst;	    /* bucket depth, tokens */
	uint32_t *synq_dst;	    /* per destination bucket: last resend
				       (ms, truncated; 0 = none) */

	/* Ethernet source of the frame being input (NULL outside input):
	 * stateless answers go back to it rather than through ARP. */
	const uint8_t *rx_mac;

	/* RFC 5961 §7 challenge ACK budget */
	uint64_t chack_window_ms;
	uint32_t chack_used;
};

/* ---- link layer and IP (dp_net.c, dp_net_arp.c, dp_net_ip.c) ---- */
void dp_arp_input(struct dp_net *net, const uint8_t *eth, size_t len);
/* Learns the previous hop of an IPv4 packet to us from its frame. */
void dp_arp_glean(struct dp_net *net, uint32_t src, const uint8_t *mac);
/* MAC of the next hop for dst, or NULL (a request was sent). */
const uint8_t *dp_arp_resolve(struct dp_net *net, uint32_t dst);
void dp_ip_input(struct dp_net *net, const uint8_t *ip, size_t len,
		 unsigned rx_flags);
/*
 * Starts an IPv4 packet to dst with l4_len bytes of payload: takes a TX
 * buffer and writes the Ethernet and IP headers.  The next hop is mac when
 * given (the sender of a frame we answer), else resolved through ARP.
 * Returns a pointer to the L4 header, or NULL (counted).
 */
uint8_t *dp_ip_out_begin(struct dp_net *net, uint32_t dst, const uint8_t *mac,
			 uint8_t proto, size_t l4_len, void **handle);
/* Finishes the packet begun above (l4 as returned) and sends it. */
void dp_ip_out_end(struct dp_net *net, void *handle, uint8_t *l4, size_t l4_len,
		   unsigned flags);
bool dp_net_ip_local(const struct dp_net *net, uint32_t ip);

/* ---- TCP (dp_tcp_*.c) ---- */
void dp_tcp_input(struct dp_net *net, uint32_t src, uint32_t dst,
		  const uint8_t *seg, size_t len, unsigned rx_flags);

/* Parses options; false on a malformed option list (RFC 9293 §3.2). */
bool dp_tcp_opts_parse(const uint8_t *p, size_t len, struct dp_tcp_opts *o);

uint32_t dp_tcp_cookie_make(struct dp_net *net, uint32_t src, uint16_t sport,
			    uint16_t dport, uint32_t peer_isn,
			    const struct dp_tcp_opts *o, uint16_t *mss_out);
/* Checks the cookie in ack-1; fills mss, ws (15 = none), ts presence. */
bool dp_tcp_cookie_check(struct dp_net *net, uint32_t src, uint16_t sport,
			 uint16_t dport, uint32_t peer_isn, uint32_t cookie,
			 uint16_t *mss, uint8_t *ws, bool *ts);

/* SYN-ACK resend cache (dp_tcp_synq.c) */
/* Entries the conf asks for (synq_size rounded up to a power of two, at
 * least one set), 0 when off: what dp_net_create allocates. */
uint32_t dp_synq_entries(const struct dp_net_conf *conf);
/* Sizes and resets the cache in net->synq (allocated by the caller). */
void dp_synq_init(struct dp_net *net);
/* Remembers a SYN-ACK just sent; mac: the SYN's Ethernet source. */
void dp_synq_add(struct dp_net *net, uint32_t ip, uint16_t pport,
		 uint16_t lport, uint32_t peer_isn, uint32_t cookie,
		 const struct dp_tcp_opts *o, const uint8_t *mac);
void dp_synq_done(struct dp_net *net, uint32_t ip, uint16_t pport,
		  uint16_t lport);
void dp_synq_run(struct dp_net *net);

/* conn table (dp_tcp_conn.c) */
struct dp_tcp_conn *dp_tcp_conn_lookup(struct dp_net *net, uint32_t ip,
				       uint16_t pport, uint16_t lport);
struct dp_tcp_conn *dp_tcp_conn_alloc(struct dp_net *net, uint32_t ip,
				      uint16_t pport, uint16_t lport);
/* Unhashes, stops timers, calls closed(reason), frees at end of round. */
void dp_tcp_conn_kill(struct dp_tcp_conn *c, int reason);
void dp_tcp_conn_reap(struct dp_net *net);
void dp_tcp_pending(struct dp_tcp_conn *c);
struct dp_tw *dp_tw_lookup(struct dp_net *net, uint32_t ip, uint16_t pport,
			   uint16_t lport);
void dp_tw_remove(struct dp_net *net, struct dp_tw *tw);
/* Moves c into TIME_WAIT and kills it with reason 0. */
void dp_tw_enter(struct dp_tcp_conn *c);
void dp_tw_expire(struct dp_net *net);

/* output (dp_tcp_out.c) */
void dp_tcp_output(struct dp_tcp_conn *c);
void dp_tcp_send_seg(struct dp_tcp_conn *c, uint32_t seq, uint32_t len,
		     uint8_t flags);
void dp_tcp_send_ack(struct dp_tcp_conn *c);
void dp_tcp_challenge_ack(struct dp_tcp_conn *c);
/* A segment for no connection (SYN-ACK, RST, TIME_WAIT ACK); mac as for
 * dp_ip_out_begin (NULL: through ARP). */
void dp_tcp_send_raw(struct dp_net *net, uint32_t dst, uint16_t sport,
		     uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		     uint16_t wnd, const struct dp_tcp_opts *o,
		     const uint8_t *mac);
uint32_t dp_tcp_rcv_space(const struct dp_tcp_conn *c);
void dp_tcp_deliver(struct dp_tcp_conn *c);

/* timers (dp_tcp_timer.c) */
void dp_tcp_timer_update(struct dp_tcp_conn *c);
void dp_tcp_timer_stop(struct dp_tcp_conn *c);
void dp_tcp_timers_run(struct dp_net *net, uint64_t now_ms);
void dp_tcp_rtt_sample(struct dp_tcp_conn *c, uint32_t rtt_ms);

#define DP_TH_FIN 0x01
#define DP_TH_SYN 0x02
#define DP_TH_RST 0x04
#define DP_TH_PSH 0x08
#define DP_TH_ACK 0x10

#define DP_IPPROTO_ICMP 1
#define DP_IPPROTO_TCP 6

#define DP_TCP_HLEN 20
#define DP_IP_HLEN 20

#endif
