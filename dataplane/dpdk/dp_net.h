/*
 * dp_net — the userspace TCP/IP stack of one dataplane core: Ethernet,
 * ARP, IPv4 with ICMP echo, and server-side TCP (SYN cookies, MSS, window
 * scaling, timestamps, RFC 6298 RTO on a timer wheel, fast retransmit and
 * NewReno, bounded out-of-order reassembly, RFC 5961 checks, TIME_WAIT in a
 * bounded table).  Pure C: no DPDK, no system calls, no malloc after
 * dp_net_create(), so it is unit-tested by feeding it frames.
 *
 * Threading: one struct dp_net per core; every function here, and every
 * callback it makes, runs on that core's thread.  Nothing is shared.
 *
 * Ownership: input frames stay the caller's (the stack copies what it
 * keeps).  Output frames are written into buffers the caller lends through
 * struct dp_net_tx; send() hands each one back.  Connections live in a pool
 * allocated by dp_net_create(); a struct dp_tcp_conn pointer is valid from
 * the app's accept() callback until its closed() callback returns.
 *
 * Failure: peer errors and resource shortages are counted in the counter
 * set dp_net_counters (dp_net_counters.h), one name per drop reason, and
 * the frame is dropped; nothing here logs on the packet path.
 *
 * Clock: every entry point takes now_ms, a monotonic millisecond clock, so
 * tests drive time by hand.
 */
#ifndef DP_NET_H
#define DP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp_net;
struct dp_tcp_conn;

/* dp_net_input() rx_flags: the NIC verified these checksums already. */
#define DP_NET_RX_IP_CSUM_OK 0x1u
#define DP_NET_RX_L4_CSUM_OK 0x2u

/* send() flags: the frame's checksums are left for the NIC to fill (the
 * stack wrote the pseudo-header sum into the TCP/ICMP field for L4). */
#define DP_NET_TX_IP_CSUM 0x1u
#define DP_NET_TX_TCP_CSUM 0x2u

#define DP_NET_ETH_HLEN 14
/* Largest frame the stack builds: Ethernet + 1500-byte IP packet. */
#define DP_NET_FRAME_MAX 1514

struct dp_net_tx {
	/* Lends a buffer of at least `size` bytes for one outgoing frame and
	 * an opaque handle for it; NULL when none is free (the stack counts
	 * net_tx_nobuf and drops the frame; TCP retransmits later). */
	uint8_t *(*alloc)(void *arg, size_t size, void **handle);
	/* Queues the frame of `len` bytes; the buffer goes back to the
	 * caller.  flags: DP_NET_TX_* offload requests. */
	void (*send)(void *arg, void *handle, size_t len, unsigned flags);
	void *arg;
};

/*
 * The application on top of TCP connections (the SMTP glue).  Each
 * connection carries app_ctx_size bytes of app storage, preallocated with
 * the pool; ctx points at it.
 */
struct dp_tcp_app {
	/* A handshake completed.  0 to keep the connection, -errno to refuse
	 * it (the stack answers RST). */
	int (*accept)(void *arg, struct dp_tcp_conn *c, void *ctx);
	/* In-order bytes; returns how many the app took (0..len).  What it
	 * leaves stays in the receive buffer and shrinks the window; the app
	 * calls dp_tcp_recv_resume() once it can take more. */
	size_t (*recv)(void *arg, struct dp_tcp_conn *c, void *ctx,
		       const uint8_t *data, size_t len);
	/* The peer sent FIN and every byte before it was taken. */
	void (*fin)(void *arg, struct dp_tcp_conn *c, void *ctx);
	/* Send space came free after dp_tcp_send() took less than asked. */
	void (*writable)(void *arg, struct dp_tcp_conn *c, void *ctx);
	/* The app timer (dp_tcp_app_timer_set) is due. */
	void (*timer)(void *arg, struct dp_tcp_conn *c, void *ctx);
	/* Last call for this connection: 0 after an orderly close, or
	 * -ECONNRESET, -ETIMEDOUT, -ECONNABORTED. */
	void (*closed)(void *arg, struct dp_tcp_conn *c, void *ctx, int reason);
	void *arg;
};

struct dp_net_conf {
	uint8_t mac[6];
	uint32_t ip; /* host byte order */
	uint8_t prefix_len;
	uint32_t gateway;     /* host byte order, 0 for none */
	uint16_t mtu;	      /* IP MTU, <= 1500 */
	uint16_t listen_port; /* the one TCP port we accept on */

	uint32_t conn_max;	 /* connection pool size */
	uint32_t tw_max;	 /* TIME_WAIT entries; oldest evicted */
	uint32_t arp_max;	 /* ARP table entries */
	uint32_t rcv_buf_size;	 /* per connection, bytes, multiple of 64 */
	uint32_t snd_buf_size;	 /* per connection, bytes, multiple of 64 */
	uint32_t ooo_ranges_max; /* out-of-order holes kept (<= 8) */
	/* SYN-ACK resend cache (dp_tcp_synq.c): entries, rounded up to a
	 * power of two, 0 = off; and the resends allowed per second. */
	uint32_t synq_size;
	uint32_t synq_resend_per_s;
	/* App storage per connection, 64-aligned, not zeroed: accept()
	 * initialises what it uses (zeroing a large session per handshake
	 * would cost more than the rest of it). */
	size_t app_ctx_size;

	uint32_t rto_min_ms;
	uint32_t rto_max_ms;
	uint32_t rto_init_ms;	  /* RFC 6298 §2.1: 1 s */
	uint32_t retries_max;	  /* RTO expiries before the conn is dropped */
	uint32_t time_wait_ms;	  /* 2*MSL */
	uint32_t idle_timeout_ms; /* no segment from the peer: RST */
	uint32_t keepalive_ms;	  /* idle time before a keepalive probe */
	uint32_t keepalive_probes;
	uint32_t arp_timeout_ms;
	uint32_t challenge_ack_per_s; /* RFC 5961 §7 limit */
	bool tx_csum_offload;	      /* leave IP/TCP checksums to the NIC */

	uint64_t secret[2]; /* SYN cookie / hash key (random) */
};

/* Zeroes conf and fills the defaults for everything but addresses, port
 * and secret. */
void dp_net_conf_defaults(struct dp_net_conf *conf);

/*
 * Allocates the stack and every pool it will use.  Start-up only.
 * Returns NULL and *err = -EINVAL (bad conf) or -ENOMEM.
 */
struct dp_net *dp_net_create(const struct dp_net_conf *conf,
			     const struct dp_net_tx *tx,
			     const struct dp_tcp_app *app, uint64_t now_ms,
			     int *err);
/* Frees everything; open connections are dropped without callbacks.
 * Accepts NULL. */
void dp_net_destroy(struct dp_net *net);

/* One received Ethernet frame. */
void dp_net_input(struct dp_net *net, const uint8_t *frame, size_t len,
		  unsigned rx_flags, uint64_t now_ms);

/*
 * End of a poll round: sends the ACKs and data that input made pending
 * (one ACK per connection per round), then runs due timers.  Call it once
 * per loop round, after the RX burst.
 */
void dp_net_poll(struct dp_net *net, uint64_t now_ms);

/* Live connections (not counting TIME_WAIT) and TIME_WAIT entries. */
uint32_t dp_net_conn_count(const struct dp_net *net);
uint32_t dp_net_tw_count(const struct dp_net *net);

/*
 * Copies up to len bytes into the connection's send buffer; returns how
 * many it took (0 when full or the conn is closing: then writable() comes
 * later, if ever).  Data goes out at the next dp_net_poll().
 */
size_t dp_tcp_send(struct dp_tcp_conn *c, const void *data, size_t len);
/* Free send-buffer bytes. */
size_t dp_tcp_send_space(const struct dp_tcp_conn *c);
/* Orderly close: FIN after the buffered data.  closed() comes later. */
void dp_tcp_close(struct dp_tcp_conn *c);
/* RST now; closed(-ECONNABORTED) is called before this returns. */
void dp_tcp_abort(struct dp_tcp_conn *c);
/* The app can take data again: redeliver what is buffered and open the
 * window (a window update goes out at the next poll). */
void dp_tcp_recv_resume(struct dp_tcp_conn *c);
/* Bytes received and not yet taken by the app. */
size_t dp_tcp_recv_pending(const struct dp_tcp_conn *c);
/* Arms (at_ms != 0) or disarms (0) the app's timer. */
void dp_tcp_app_timer_set(struct dp_tcp_conn *c, uint64_t at_ms);

/* The stack's clock as of the last input or poll. */
uint64_t dp_net_now(const struct dp_net *net);

/* Stable small index of a connection (< conn_max), and the live
 * connection at an index or NULL: lets the app name a connection in an
 * asynchronous completion without keeping a pointer. */
uint32_t dp_tcp_index(const struct dp_tcp_conn *c);
struct dp_tcp_conn *dp_net_conn_at(struct dp_net *net, uint32_t idx);
uint32_t dp_net_conn_max(const struct dp_net *net);

/* Peer address and port, host byte order. */
uint32_t dp_tcp_peer_ip(const struct dp_tcp_conn *c);
uint16_t dp_tcp_peer_port(const struct dp_tcp_conn *c);
void *dp_tcp_ctx(struct dp_tcp_conn *c);

#endif
