/*
 * dp_dpdk — the DPDK dataplane backend: EAL and one Ethernet port, one
 * RX/TX queue pair per dataplane lcore (RSS with a symmetric Toeplitz key,
 * so both directions of a flow land on one core), and per lcore the
 * canonical poll loop: rx_burst -> userspace TCP/IP stack (dp_net) -> SMTP
 * sessions (dp_nsmtp) -> tx_burst, plus timers and the completions of the
 * lcore's queue sink on its own io_uring ring.
 *
 * What the daemon does, in order, all on its main thread (the thread that
 * calls dp_dpdk_init becomes the EAL main lcore and must make the other
 * calls too):
 *   1. dp_dpdk_conf_defaults(&c); fill c from the config (eal_args, port,
 *      ip/prefix_len/gateway, listen_port, cores, mbufs, ...).
 *   2. dp_dpdk_init(&c, err, sizeof err): EAL init, port set-up and start.
 *      Fails (-errno, reason in err) without hugepages/NIC/permissions.
 *      Then dp_dpdk_cores() tells how many sinks to make (one per lcore,
 *      index i = the i-th dataplane lcore = queue i).  By default the
 *      dataplane lcores are the EAL workers ("-l 0-2": main lcore 0 stays
 *      the daemon's, lcores 1 and 2 run loops).
 *   3. dp_dpdk_start(sinks, &smtp_conf, rcpt, rcpt_arg): launches the
 *      loops and returns once each has set up (or one failed).  Each lcore
 *      creates its io_uring ring, calls sinks[i].ops->attach(ring,
 *      dp_nsmtp_sink_done, core) and from then on owns that sink.  smtp
 *      conf, sinks and rcpt_arg must outlive the loops.
 *      dp_dpdk_drain(on) (new connections get 421), dp_dpdk_sessions().
 *   4. dp_dpdk_stop(): loops finish in-flight commits (500 ms) and end.
 *   5. dp_dpdk_fini(): stops the port, cleans up the EAL.
 * Alternatively, with main_lcore_dataplane set, dp_dpdk_run() blocks and
 * uses the calling thread as dataplane lcore 0 too (tests, benchmarks).
 * Only one backend instance per process (DPDK's EAL is process-global).
 *
 * Threading: init/run/fini on the main thread; dp_dpdk_stats from any
 * thread (it reads port counters and summed per-lcore counters).
 *
 * Memory: every pool (mbufs, connections, buffers, sessions) is made in
 * init/run before the loops start; the loops never allocate.
 */
#ifndef DP_DPDK_H
#define DP_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_nsmtp.h"
#include "dp_sink.h"
#include "dp_smtp.h"

#define DP_DPDK_CORES_MAX 32

struct dp_dpdk_conf {
	/* EAL arguments, space separated, e.g.
	 * "-l 0-1 --no-huge -m 512 --no-pci --vdev=net_tap0,iface=mx0". */
	const char *eal_args;
	/* PCI address ("0000:03:00.0") or vdev name ("net_tap0"); NULL or
	 * "" for the first port found. */
	const char *port;
	uint32_t ip; /* host byte order */
	uint8_t prefix_len;
	uint32_t gateway;      /* host byte order; 0: none */
	uint16_t listen_port;  /* 25, or 2525 */
	uint16_t mtu;	       /* 1500 */
	unsigned cores;	       /* dataplane lcores wanted; 0 = all EAL lcores */
	unsigned mbufs;	       /* mbufs per lcore pool (a few thousand) */
	unsigned conn_max;     /* connections per lcore */
	unsigned tw_max;       /* TIME_WAIT entries per lcore */
	uint32_t rcv_buf_size; /* TCP receive buffer per connection */
	uint32_t snd_buf_size; /* TCP send buffer per connection */
	uint32_t idle_timeout_ms; /* TCP idle limit (SMTP has its own) */
	uint32_t synq_size;	  /* SYN-ACK resend cache entries, 0 off */
	uint32_t synq_resend_per_s; /* SYN-ACK resends per second */
	unsigned uring_entries;	  /* io_uring SQ size per lcore */
	/* The EAL main lcore runs a loop too (only with dp_dpdk_run). */
	bool main_lcore_dataplane;
};

void dp_dpdk_conf_defaults(struct dp_dpdk_conf *c);

/* 0, or -errno with a reason in err. */
int dp_dpdk_init(const struct dp_dpdk_conf *conf, char *err, size_t errlen);

/* Dataplane lcores (valid after init): the number of sinks run() needs. */
unsigned dp_dpdk_cores(void);

/* Launches the loops on the worker lcores; 0 once all are running, or
 * -errno (then none is).  -EINVAL with main_lcore_dataplane. */
int dp_dpdk_start(const struct dp_sink *sinks,
		  const struct dp_smtp_conf *smtp, dp_nsmtp_rcpt_fn rcpt,
		  void *rcpt_arg);
/* New connections are answered 421 4.3.2 and closed while on. */
void dp_dpdk_drain(bool on);
/* Ends the loops started by dp_dpdk_start and waits for them. */
void dp_dpdk_stop(void);
uint32_t dp_dpdk_sessions(void);

/* Runs the loops until *stop; 0, or -errno when the set-up of an lcore
 * failed (it then sets *stop itself so that the other lcores end too). */
int dp_dpdk_run(const struct dp_sink *sinks, const struct dp_smtp_conf *smtp,
		dp_nsmtp_rcpt_fn rcpt, void *rcpt_arg, volatile bool *stop);

void dp_dpdk_fini(void);

struct dp_dpdk_stats {
	uint64_t rx_packets, tx_packets, rx_missed, rx_errors, tx_errors;
	uint64_t rx_nombuf;
	bool link_up;
	uint32_t link_speed_mbps;
	uint32_t sessions_active;
	uint64_t busy_cycles;  /* TSC cycles in rounds that did work */
	uint64_t stack_cycles; /* of which stack + SMTP + sink code */
	uint64_t tsc_hz;
};
void dp_dpdk_stats(struct dp_dpdk_stats *st);

#endif
