/*
 * dp_dpdk — EAL start-up and the port: find it by PCI address or vdev
 * name, one mbuf pool and one RX/TX queue pair per dataplane lcore, RSS
 * with a symmetric Toeplitz key (the 0x6d5a pattern makes the hash of
 * (a,b) equal that of (b,a)), checksum offloads where the port has them.
 * Works with --no-huge (small pools; the defaults fit in -m 512).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "dp_dpdk_priv.h"
#include "mx_log.h"

struct dp_dpdk_state dp_dpdk;

#define EAL_ARGS_MAX 64
#define RX_DESC 512
#define TX_DESC 512

static uint8_t sym_rss_key[40];

void dp_dpdk_conf_defaults(struct dp_dpdk_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->eal_args = "";
	c->prefix_len = 24;
	c->listen_port = 25;
	c->mtu = 1500;
	c->mbufs = 4095;
	c->conn_max = 1024;
	c->tw_max = 4096;
	c->rcv_buf_size = 64 * 1024;
	c->snd_buf_size = 16 * 1024;
	c->idle_timeout_ms = 600000;
	c->synq_size = 65536;
	c->synq_resend_per_s = 1000;
	c->uring_entries = 256;
}

unsigned dp_dpdk_cores(void)
{
	return dp_dpdk.cores;
}

static int eal_start(const char *args, char *err, size_t errlen)
{
	static char buf[4096];
	char *argv[EAL_ARGS_MAX + 2];
	int argc = 0, rc;
	char *save = NULL, *tok;

	if (strlen(args) >= sizeof(buf)) {
		snprintf(err, errlen, "dpdk: eal_args longer than %zu bytes",
			 sizeof(buf) - 1);
		return -EINVAL;
	}
	strcpy(buf, args);
	argv[argc++] = (char *)"mxgate";
	for (tok = strtok_r(buf, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (argc == EAL_ARGS_MAX + 1) {
			snprintf(err, errlen, "dpdk: more than %d eal_args",
				 EAL_ARGS_MAX);
			return -EINVAL;
		}
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		snprintf(err, errlen, "dpdk: rte_eal_init: %s",
			 rte_strerror(rte_errno));
		return -rte_errno ? -rte_errno : -EINVAL;
	}
	dp_dpdk.eal_up = true;
	return 0;
}

static int find_port(const char *name, uint16_t *pid, char *err, size_t errlen)
{
	uint16_t p;

	if (name && *name) {
		if (rte_eth_dev_get_port_by_name(name, pid) == 0)
			return 0;
		snprintf(err, errlen, "dpdk: no port named %s", name);
		return -ENODEV;
	}
	RTE_ETH_FOREACH_DEV(p)
	{
		*pid = p;
		return 0;
	}
	snprintf(err, errlen,
		 "dpdk: no Ethernet port (no NIC bound, no "
		 "--vdev given)");
	return -ENODEV;
}

static int port_start(const struct dp_dpdk_conf *c, char *err, size_t errlen)
{
	struct rte_eth_conf pc;
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint16_t rxd = RX_DESC, txd = TX_DESC, pid = dp_dpdk.port_id;
	int rc;

	rc = rte_eth_dev_info_get(pid, &info);
	if (rc) {
		snprintf(err, errlen, "dpdk: port %u info: %s", pid,
			 strerror(-rc));
		return rc;
	}
	if (dp_dpdk.cores > info.max_rx_queues)
		dp_dpdk.cores = info.max_rx_queues;
	if (dp_dpdk.cores > info.max_tx_queues)
		dp_dpdk.cores = info.max_tx_queues;
	memset(&pc, 0, sizeof(pc));
	for (size_t i = 0; i < sizeof(sym_rss_key); i += 2) {
		sym_rss_key[i] = 0x6d;
		sym_rss_key[i + 1] = 0x5a;
	}
	if (dp_dpdk.cores > 1) {
		pc.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		pc.rx_adv_conf.rss_conf.rss_key = sym_rss_key;
		pc.rx_adv_conf.rss_conf.rss_key_len = sizeof(sym_rss_key);
		pc.rx_adv_conf.rss_conf.rss_hf =
		    (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP) &
		    info.flow_type_rss_offloads;
	}
	if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) &&
	    (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM)) {
		pc.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
				      RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
		dp_dpdk.rx_csum = true;
	}
	if ((info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) &&
	    (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM)) {
		pc.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
				      RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		dp_dpdk.tx_csum = true;
	}
	rc = rte_eth_dev_configure(pid, (uint16_t)dp_dpdk.cores,
				   (uint16_t)dp_dpdk.cores, &pc);
	if (rc) {
		snprintf(err, errlen, "dpdk: configure port %u: %s", pid,
			 strerror(-rc));
		return rc;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd);
	for (unsigned q = 0; q < dp_dpdk.cores; q++) {
		char name[32];
		int sock = rte_eth_dev_socket_id(pid);

		snprintf(name, sizeof(name), "mx_mbuf_%u", q);
		dp_dpdk.pools[q] = rte_pktmbuf_pool_create(
		    name, c->mbufs, 128, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		    sock < 0 ? (int)rte_socket_id() : sock);
		if (!dp_dpdk.pools[q]) {
			snprintf(err, errlen,
				 "dpdk: mbuf pool %u (%u mbufs): %s", q,
				 c->mbufs, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		rc = rte_eth_rx_queue_setup(pid, (uint16_t)q, rxd,
					    (unsigned)sock, NULL,
					    dp_dpdk.pools[q]);
		if (!rc)
			rc = rte_eth_tx_queue_setup(pid, (uint16_t)q, txd,
						    (unsigned)sock, NULL);
		if (rc) {
			snprintf(err, errlen, "dpdk: queue %u set-up: %s", q,
				 strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(pid);
	if (rc) {
		snprintf(err, errlen, "dpdk: start port %u: %s", pid,
			 strerror(-rc));
		return rc;
	}
	dp_dpdk.port_up = true;
	rte_eth_macaddr_get(pid, &mac);
	memcpy(dp_dpdk.mac, mac.addr_bytes, 6);
	return 0;
}

int dp_dpdk_init(const struct dp_dpdk_conf *conf, char *err, size_t errlen)
{
	struct rte_eth_link link;
	unsigned lc;
	int rc;

	if (dp_dpdk.eal_up) {
		snprintf(err, errlen, "dpdk: already initialised");
		return -EALREADY;
	}
	dp_dpdk.conf = *conf;
	rc = eal_start(conf->eal_args ? conf->eal_args : "", err, errlen);
	if (rc)
		return rc;
	rc = find_port(conf->port, &dp_dpdk.port_id, err, errlen);
	if (rc)
		return rc;
	/* The calling (main) lcore is dataplane core 0, workers follow. */
	dp_dpdk.cores = 0;
	RTE_LCORE_FOREACH(lc)
	{
		if (dp_dpdk.cores == DP_DPDK_CORES_MAX ||
		    (conf->cores && dp_dpdk.cores == conf->cores))
			break;
		if (lc == rte_get_main_lcore()) {
			if (!conf->main_lcore_dataplane)
				continue;
			memmove(&dp_dpdk.lcore_of[1], &dp_dpdk.lcore_of[0],
				dp_dpdk.cores * sizeof(unsigned));
			dp_dpdk.lcore_of[0] = lc;
		} else {
			dp_dpdk.lcore_of[dp_dpdk.cores] = lc;
		}
		dp_dpdk.cores++;
	}
	if (!dp_dpdk.cores) {
		snprintf(err, errlen,
			 "dpdk: no dataplane lcore (give -l with worker "
			 "lcores, or set main_lcore_dataplane)");
		return -EINVAL;
	}
	rc = port_start(conf, err, errlen);
	if (rc)
		return rc;
	rte_eth_link_get_nowait(dp_dpdk.port_id, &link);
	mx_log(MX_LOG_INFO, "dpdk",
	       "port=%u cores=%u link=%s speed_mbps=%u rx_csum=%d tx_csum=%d",
	       dp_dpdk.port_id, dp_dpdk.cores, link.link_status ? "up" : "down",
	       link.link_speed, dp_dpdk.rx_csum, dp_dpdk.tx_csum);
	return 0;
}

void dp_dpdk_fini(void)
{
	dp_dpdk_stop();
	if (dp_dpdk.port_up) {
		rte_eth_dev_stop(dp_dpdk.port_id);
		rte_eth_dev_close(dp_dpdk.port_id);
		dp_dpdk.port_up = false;
	}
	for (unsigned q = 0; q < DP_DPDK_CORES_MAX; q++) {
		rte_mempool_free(dp_dpdk.pools[q]);
		dp_dpdk.pools[q] = NULL;
	}
	if (dp_dpdk.eal_up) {
		rte_eal_cleanup();
		dp_dpdk.eal_up = false;
	}
}

void dp_dpdk_stats(struct dp_dpdk_stats *st)
{
	struct rte_eth_stats es;
	struct rte_eth_link link;

	memset(st, 0, sizeof(*st));
	if (!dp_dpdk.port_up)
		return;
	if (rte_eth_stats_get(dp_dpdk.port_id, &es) == 0) {
		st->rx_packets = es.ipackets;
		st->tx_packets = es.opackets;
		st->rx_missed = es.imissed;
		st->rx_errors = es.ierrors;
		st->tx_errors = es.oerrors;
		st->rx_nombuf = es.rx_nombuf;
	}
	if (rte_eth_link_get_nowait(dp_dpdk.port_id, &link) == 0) {
		st->link_up = link.link_status;
		st->link_speed_mbps = link.link_speed;
	}
	for (unsigned q = 0; q < dp_dpdk.cores; q++) {
		st->sessions_active += dp_dpdk.sessions[q];
		st->busy_cycles += dp_dpdk.busy_cycles[q];
		st->stack_cycles += dp_dpdk.stack_cycles[q];
	}
	st->tsc_hz = rte_get_tsc_hz();
}
