/*
 * dp_dpdk_priv — state shared by the DPDK backend's files (dp_dpdk.c sets
 * the port up, dp_dpdk_loop.c runs the lcores).  Process-global because
 * the EAL is; written on the main thread before the lcores start, read-only
 * to them afterwards except for each lcore's own slot.
 */
#ifndef DP_DPDK_PRIV_H
#define DP_DPDK_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "dp_dpdk.h"

struct rte_mempool;

struct dp_dpdk_state {
	struct dp_dpdk_conf conf;
	bool eal_up, port_up;
	uint16_t port_id;
	uint8_t mac[6];
	unsigned cores; /* queue pairs = dataplane lcores */
	unsigned lcore_of[DP_DPDK_CORES_MAX];
	struct rte_mempool *pools[DP_DPDK_CORES_MAX];
	bool tx_csum; /* IPv4 + TCP checksum offload */
	bool rx_csum;
	volatile uint32_t sessions[DP_DPDK_CORES_MAX];
	volatile bool draining;
	/* TSC cycles of loop rounds that moved a packet or a completion:
	 * the CPU the dataplane really used, polling excluded. */
	volatile uint64_t busy_cycles[DP_DPDK_CORES_MAX];
	/* The part of those spent in the stack, SMTP and sink code (PMD
	 * rx/tx bursts and io_uring_submit excluded). */
	volatile uint64_t stack_cycles[DP_DPDK_CORES_MAX];
};

extern struct dp_dpdk_state dp_dpdk;

#endif
