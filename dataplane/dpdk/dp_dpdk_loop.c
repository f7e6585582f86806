/*
 * dp_dpdk_loop — the per-lcore poll loop and its set-up.  Each dataplane
 * lcore owns queue pair i of the port, its mbuf pool, a dp_net stack with
 * its connection pool, the SMTP glue, an io_uring ring and sink i.  One
 * round: rx_burst -> stack input; reap the ring's CQEs (the sink's
 * completions, which may queue 250s); resume sessions the sink held back;
 * stack poll (pending ACKs/data, timers); sink flush (group commit) and
 * one io_uring_submit if anything is queued; tx_burst, freeing whatever
 * the port did not take.  Nothing here allocates, logs or blocks.
 */
#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_malloc.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp_dpdk_counters.h"
#include "dp_dpdk_priv.h"
#include "dp_net.h"
#include "dp_nsmtp.h"
#include "mx_counter.h"
#include "mx_log.h"
#include "mx_time.h"

#define BURST 32
#define TX_MAX 128
#define DRAIN_MS 500 /* after stop: let sink completions land */

struct core {
	unsigned idx;
	uint16_t port, queue;
	struct rte_mempool *pool;
	struct dp_net *net;
	struct dp_nsmtp *g;
	const struct dp_sink *sink;
	struct io_uring ring;
	bool ring_up;
	uint16_t ntx;
	uint64_t round_stack; /* TSC cycles of stack work this round */
	struct rte_mbuf *tx[TX_MAX];
};

struct run_args {
	const struct dp_sink *sinks;
	const struct dp_smtp_conf *smtp;
	dp_nsmtp_rcpt_fn rcpt;
	void *rcpt_arg;
	volatile bool *stop;
	uint64_t secret[2];
	int err[DP_DPDK_CORES_MAX];
	_Atomic unsigned up;	/* lcores past set-up, failed or not */
};

static struct run_args run_args;
static volatile bool own_stop;
static bool started;

static unsigned tx_flush(struct core *c)
{
	uint16_t sent;

	if (!c->ntx)
		return 0;
	sent = rte_eth_tx_burst(c->port, c->queue, c->tx, c->ntx);
	DP_DPDK_COUNT_ADD(dpdk_tx_pkts, sent);
	if (sent < c->ntx) {
		DP_DPDK_COUNT_ADD(dpdk_tx_dropped, c->ntx - sent);
		rte_pktmbuf_free_bulk(&c->tx[sent], c->ntx - sent);
	}
	c->ntx = 0;
	return sent;
}

static uint8_t *tx_alloc(void *arg, size_t size, void **handle)
{
	struct core *c = arg;
	struct rte_mbuf *m;

	if (c->ntx == TX_MAX)
		tx_flush(c);
	m = rte_pktmbuf_alloc(c->pool);
	if (!m) {
		DP_DPDK_COUNT(dpdk_tx_nombuf);
		return NULL;
	}
	if (rte_pktmbuf_tailroom(m) < size) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	*handle = m;
	return rte_pktmbuf_mtod(m, uint8_t *);
}

static void tx_send(void *arg, void *handle, size_t len, unsigned flags)
{
	struct core *c = arg;
	struct rte_mbuf *m = handle;

	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (flags & DP_NET_TX_TCP_CSUM) {
		m->l2_len = DP_NET_ETH_HLEN;
		m->l3_len = 20;
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			       RTE_MBUF_F_TX_TCP_CKSUM;
	}
	c->tx[c->ntx++] = m;
}

static unsigned rx_round(struct core *c, uint64_t now)
{
	struct rte_mbuf *rx[BURST];
	uint16_t n = rte_eth_rx_burst(c->port, c->queue, rx, BURST);

	uint64_t t0;

	if (!n)
		return 0;
	t0 = rte_rdtsc();
	DP_DPDK_COUNT_ADD(dpdk_rx_pkts, n);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		unsigned flags = 0;

		if (m->nb_segs != 1) {
			DP_DPDK_COUNT(dpdk_rx_multiseg);
		} else {
			if (dp_dpdk.rx_csum) {
				if ((m->ol_flags &
				     RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
				    RTE_MBUF_F_RX_IP_CKSUM_GOOD)
					flags |= DP_NET_RX_IP_CSUM_OK;
				if ((m->ol_flags &
				     RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
				    RTE_MBUF_F_RX_L4_CKSUM_GOOD)
					flags |= DP_NET_RX_L4_CSUM_OK;
			}
			dp_net_input(c->net, rte_pktmbuf_mtod(m, uint8_t *),
				     m->data_len, flags, now);
		}
		rte_pktmbuf_free(m);
	}
	c->round_stack += rte_rdtsc() - t0;
	return n;
}

static unsigned cqe_round(struct core *c)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&c->ring, head, cqe)
	{
		if (DP_UD_TAG(cqe->user_data) == DP_UD_TAG(DP_UD_SINK) &&
		    c->sink->ops)
			c->sink->ops->cqe(c->sink->arg, cqe);
		else
			DP_DPDK_COUNT(dpdk_cqe_unknown);
		seen++;
	}
	if (seen)
		io_uring_cq_advance(&c->ring, seen);
	return seen;
}

/* Returns how many completions and packets it moved. */
static unsigned round_end(struct core *c, uint64_t now)
{
	uint64_t t0 = rte_rdtsc();
	unsigned work = cqe_round(c);

	dp_nsmtp_poll(c->g);
	dp_net_poll(c->net, now);
	if (c->sink->ops)
		c->sink->ops->flush(c->sink->arg);
	c->round_stack += rte_rdtsc() - t0;
	if (io_uring_sq_ready(&c->ring))
		io_uring_submit(&c->ring);
	work += tx_flush(c);
	dp_dpdk.sessions[c->idx] = dp_nsmtp_sessions(c->g);
	DP_DPDK_COUNT(dpdk_loop_rounds);
	return work;
}

static int core_setup(struct core *c, struct run_args *a)
{
	const struct dp_dpdk_conf *dc = &dp_dpdk.conf;
	struct dp_nsmtp_conf gc = {0};
	struct dp_net_conf nc;
	struct dp_net_tx tx = {tx_alloc, tx_send, c};
	struct dp_tcp_app app;
	int rc;

	c->sink = &a->sinks[c->idx];
	rc = io_uring_queue_init(dc->uring_entries, &c->ring, 0);
	if (rc < 0)
		return rc;
	c->ring_up = true;
	gc.smtp = a->smtp;
	gc.sink = *c->sink;
	gc.rcpt = a->rcpt;
	gc.rcpt_arg = a->rcpt_arg;
	gc.local_ip = dc->ip;
	gc.local_port = dc->listen_port;
	c->g = dp_nsmtp_create(&gc);
	if (!c->g)
		return -ENOMEM;
	dp_nsmtp_app(c->g, &app);
	dp_net_conf_defaults(&nc);
	memcpy(nc.mac, dp_dpdk.mac, 6);
	nc.ip = dc->ip;
	nc.prefix_len = dc->prefix_len;
	nc.gateway = dc->gateway;
	nc.mtu = dc->mtu;
	nc.listen_port = dc->listen_port;
	nc.conn_max = dc->conn_max;
	nc.tw_max = dc->tw_max;
	nc.rcv_buf_size = dc->rcv_buf_size;
	nc.snd_buf_size = dc->snd_buf_size;
	nc.idle_timeout_ms = dc->idle_timeout_ms;
	nc.synq_size = dc->synq_size;
	nc.synq_resend_per_s = dc->synq_resend_per_s;
	nc.app_ctx_size = dp_nsmtp_ctx_size(a->smtp);
	nc.tx_csum_offload = dp_dpdk.tx_csum;
	nc.secret[0] = a->secret[0];
	nc.secret[1] = a->secret[1];
	c->net = dp_net_create(&nc, &tx, &app, mx_now_ms(), &rc);
	if (!c->net)
		return rc;
	dp_nsmtp_bind(c->g, c->net);
	if (c->sink->ops) {
		rc = c->sink->ops->attach(c->sink->arg, &c->ring,
					  dp_nsmtp_sink_done, c->g);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void core_teardown(struct core *c)
{
	dp_net_destroy(c->net);
	dp_nsmtp_destroy(c->g);
	if (c->ring_up)
		io_uring_queue_exit(&c->ring);
}

static int lcore_main(void *arg)
{
	struct run_args *a = arg;
	unsigned lc = rte_lcore_id(), idx;
	struct core *c;
	uint64_t until;
	int rc;

	for (idx = 0; idx < dp_dpdk.cores; idx++)
		if (dp_dpdk.lcore_of[idx] == lc)
			break;
	if (idx == dp_dpdk.cores)
		return 0; /* an EAL lcore we were not asked to use */
	c = rte_zmalloc_socket("mx_core", sizeof(*c), 64, (int)rte_socket_id());
	if (!c) {
		a->err[idx] = -ENOMEM;
		*a->stop = true;
		a->up++;
		return -ENOMEM;
	}
	c->idx = idx;
	c->port = dp_dpdk.port_id;
	c->queue = (uint16_t)idx;
	c->pool = dp_dpdk.pools[idx];
	mx_counter_thread_attach();
	rc = core_setup(c, a);
	if (rc < 0) {
		mx_log(MX_LOG_ERR, "dpdk", "core=%u setup failed err=%d", idx,
		       rc);
		a->err[idx] = rc;
		*a->stop = true;
		a->up++;
		core_teardown(c);
		rte_free(c);
		return rc;
	}
	mx_log(MX_LOG_INFO, "dpdk", "core=%u lcore=%u queue=%u running", idx,
	       lc, idx);
	a->up++;
	while (!*a->stop) {
		uint64_t t0 = rte_rdtsc(), now = mx_now_ms();
		unsigned work = rx_round(c, now);

		work += round_end(c, now);
		dp_nsmtp_drain(c->g, dp_dpdk.draining);
		if (work) {
			dp_dpdk.busy_cycles[idx] += rte_rdtsc() - t0;
			dp_dpdk.stack_cycles[idx] += c->round_stack;
		}
		c->round_stack = 0;
	}
	/* Let the sink's in-flight commits complete (their sessions get the
	 * 250 they are owed) before the ring goes away. */
	until = mx_now_ms() + DRAIN_MS;
	while (mx_now_ms() < until) {
		uint64_t now = mx_now_ms();

		rx_round(c, now);
		round_end(c, now);
	}
	core_teardown(c);
	rte_free(c);
	mx_counter_thread_detach();
	return 0;
}

static int args_init(struct run_args *a, const struct dp_sink *sinks,
		     const struct dp_smtp_conf *smtp, dp_nsmtp_rcpt_fn rcpt,
		     void *rcpt_arg, volatile bool *stop)
{
	memset(a, 0, sizeof(*a));
	a->sinks = sinks;
	a->smtp = smtp;
	a->rcpt = rcpt;
	a->rcpt_arg = rcpt_arg;
	a->stop = stop;
	if (getrandom(a->secret, sizeof(a->secret), 0) != sizeof(a->secret))
		return -EIO;
	return 0;
}

static int first_error(const struct run_args *a)
{
	for (unsigned i = 0; i < dp_dpdk.cores; i++)
		if (a->err[i])
			return a->err[i];
	return 0;
}

int dp_dpdk_run(const struct dp_sink *sinks, const struct dp_smtp_conf *smtp,
		dp_nsmtp_rcpt_fn rcpt, void *rcpt_arg, volatile bool *stop)
{
	int rc;

	if (!dp_dpdk.port_up || started)
		return -ENODEV;
	rc = args_init(&run_args, sinks, smtp, rcpt, rcpt_arg, stop);
	if (rc)
		return rc;
	rte_eal_mp_remote_launch(lcore_main, &run_args, CALL_MAIN);
	rte_eal_mp_wait_lcore();
	return first_error(&run_args);
}

int dp_dpdk_start(const struct dp_sink *sinks,
		  const struct dp_smtp_conf *smtp, dp_nsmtp_rcpt_fn rcpt,
		  void *rcpt_arg)
{
	int rc;

	if (!dp_dpdk.port_up || started)
		return -ENODEV;
	if (dp_dpdk.conf.main_lcore_dataplane)
		return -EINVAL;
	own_stop = false;
	rc = args_init(&run_args, sinks, smtp, rcpt, rcpt_arg, &own_stop);
	if (rc)
		return rc;
	rc = rte_eal_mp_remote_launch(lcore_main, &run_args, SKIP_MAIN);
	if (rc) {
		own_stop = true;
		rte_eal_mp_wait_lcore();
		return rc;
	}
	started = true;
	/* Start-up only: wait for every loop to be set up. */
	while (run_args.up < dp_dpdk.cores)
		rte_delay_ms(1);
	rc = first_error(&run_args);
	if (rc)
		dp_dpdk_stop();
	return rc;
}

void dp_dpdk_drain(bool on)
{
	dp_dpdk.draining = on;
}

void dp_dpdk_stop(void)
{
	if (!started)
		return;
	own_stop = true;
	rte_eal_mp_wait_lcore();
	started = false;
}

uint32_t dp_dpdk_sessions(void)
{
	uint32_t n = 0;

	for (unsigned q = 0; q < dp_dpdk.cores; q++)
		n += dp_dpdk.sessions[q];
	return n;
}
