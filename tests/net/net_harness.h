/*
 * net_harness — drives one dp_net stack by hand for the unit tests: a
 * fake clock, a TX hook that captures every frame the stack sends, an app
 * that records what it is given (and can be told to take less), and a
 * scripted peer that builds correct Ethernet/IPv4/TCP frames and parses
 * the stack's answers (checking their checksums).  Single-threaded.
 */
#ifndef NET_HARNESS_H
#define NET_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dp_net.h"
#include "dp_net_counters.h"
#include "dp_net_priv.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define NT_OUT_MAX 512
#define NT_RX_MAX (1u << 21)

#define NT_US_IP 0x0a000001u /* 10.0.0.1 (never leaves the process) */
#define NT_PORT 25

struct nt_frame {
	uint8_t b[1600];
	size_t len;
	unsigned flags;
};

struct nt {
	struct dp_net *net;
	struct dp_net_conf conf;
	uint64_t now;
	struct nt_frame out[NT_OUT_MAX];
	unsigned nout;
	unsigned tx_fail; /* refuse this many allocs */

	/* the app */
	struct dp_tcp_conn *conn;
	uint8_t *rx;
	size_t rx_len;
	size_t take_max; /* bytes taken per recv call */
	bool refuse;
	unsigned accepts, fins, closes, writables, timers;
	int closed_reason;
	bool close_on_fin;
};

struct nt_peer {
	uint32_t ip;
	uint16_t port;
	uint8_t mac[6];
	uint32_t isn;
	uint32_t seq; /* next sequence number we send */
	uint32_t ack; /* next we expect from the stack */
	uint16_t wnd;
	bool ts, ws, mss;
	uint8_t wscale;
	uint32_t tsval;
	uint32_t ts_echo; /* last TSval seen from the stack */
};

struct nt_seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	struct dp_tcp_opts o;
	const uint8_t *data;
	size_t len;
};

extern const uint8_t nt_us_mac[6];

/* conf_edit (may be NULL) adjusts the defaults before the stack is made. */
void nt_init(struct nt *t, void (*conf_edit)(struct dp_net_conf *));
/* The same with another app on top of the stack (the recording app's
 * fields of t then stay unused). */
void nt_init_app(struct nt *t, void (*conf_edit)(struct dp_net_conf *),
		 const struct dp_tcp_app *app);
void nt_fini(struct nt *t);
void nt_clear(struct nt *t);
void nt_poll(struct nt *t);
void nt_advance(struct nt *t, uint64_t ms); /* small steps + polls */
void nt_input(struct nt *t, const uint8_t *f, size_t len);

void nt_peer_init(struct nt_peer *p, uint32_t ip, uint16_t port);
/* Teaches the stack the peer's MAC with an ARP request (reply dropped). */
void nt_peer_arp(struct nt *t, const struct nt_peer *p);

size_t nt_build_tcp(uint8_t *f, const struct nt_peer *p, uint32_t dst,
		    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		    uint16_t wnd, bool syn_opts, const void *data, size_t len);
/* Sends a segment at p->seq/p->ack and advances p->seq. */
void nt_send(struct nt *t, struct nt_peer *p, uint8_t flags, const void *data,
	     size_t len);
/* Sends a segment with explicit numbers; nothing advances. */
void nt_send_at(struct nt *t, struct nt_peer *p, uint32_t seq, uint32_t ack,
		uint8_t flags, const void *data, size_t len);

/* Parses captured frame i as TCP; false if it is not (or bad checksum). */
bool nt_tcp(const struct nt *t, unsigned i, struct nt_seg *s);
/* The last TCP segment sent to p (CHECKs there is one). */
void nt_last(const struct nt *t, const struct nt_peer *p, struct nt_seg *s);
unsigned nt_count_tcp(const struct nt *t, uint8_t flags_all);

/* SYN, SYN-ACK, ACK: the connection is accepted; t->out is cleared. */
void nt_handshake(struct nt *t, struct nt_peer *p);

uint64_t nt_counter(enum dp_net_counter c);

/* Nanoseconds spent inside dp_net_input/dp_net_poll (and so in the app
 * they call) through nt_input/nt_poll: what perf/dpdk's bench reports. */
extern uint64_t nt_stack_ns;

#endif
