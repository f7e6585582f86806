/*
 * dp_dpdk_counters — counters of the DPDK backend (dp_dpdk_counters): its
 * poll loops, port I/O and the SMTP glue.  Per thread, like every
 * mx_counter set: each lcore counts into its own copy.
 */
#ifndef DP_DPDK_COUNTERS_H
#define DP_DPDK_COUNTERS_H

#include "mx_counter.h"

#define DP_DPDK_COUNTERS(X)                                                    \
	X(dpdk_rx_pkts, "packets received from the port")                      \
	X(dpdk_rx_multiseg, "multi-segment packets (dropped)")                 \
	X(dpdk_tx_pkts, "packets handed to the port")                          \
	X(dpdk_tx_dropped, "packets the TX burst did not take (freed)")        \
	X(dpdk_tx_nombuf, "frames not built: mbuf pool empty")                 \
	X(dpdk_loop_rounds, "poll loop rounds")                                \
	X(dpdk_cqe_unknown, "io_uring completions of no known owner")          \
	X(dpdk_sessions, "SMTP sessions started on DPDK connections")          \
	X(dpdk_commit_stale, "sink completions for sessions already gone")     \
	X(dpdk_sink_full_hold, "reads held back while the sink was full")

enum dp_dpdk_counter { DP_DPDK_COUNTERS(MX_COUNTER_ENUM) DP_DPDK_C__COUNT };
MX_COUNTER_SET_DECLARE(dp_dpdk_counters);

#define DP_DPDK_COUNT(name) MX_COUNT(dp_dpdk_counters, name)
#define DP_DPDK_COUNT_ADD(name, n) MX_COUNT_ADD(dp_dpdk_counters, name, n)

#endif
