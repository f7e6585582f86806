/*
 * mgmt_dpdk.c — the DPDK backend behind the daemon's backend table.  EAL
 * arguments come from dataplane.dpdk.eal_args, with the port added as a
 * --vdev when it is a virtual device name rather than a PCI address, an
 * lcore list sized for dataplane.cores, and a file prefix of our own so a
 * test instance never meets another DPDK process's hugepage files.
 * dp_dpdk_start() launches the poll loops on the worker lcores; lcore 0
 * stays the daemon's main thread, which runs the management loop.
 *
 * In a build without DPDK (meson -Ddpdk=disabled) choosing the backend is
 * a start-up error that says so.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgmt_daemon.h"
#include "mgmt_policy.h"
#include "mx_log.h"

#if MX_WITH_DPDK_BACKEND
#include "dp_dpdk.h"

struct mgmt_dpdk {
	struct mgmt_daemon *d;
	struct dp_sink sinks[64];
	bool started;
};

static enum dp_smtp_rcpt_verdict mgmt_dpdk_rcpt(void *arg, const char *local,
						const char *domain)
{
	struct mgmt_daemon *d = arg;

	return mgmt_policy_check(
		atomic_load_explicit(&d->policy, memory_order_acquire), local,
		domain);
}

/* Every dp_dpdk call below runs on the main thread, the one that ran
 * dp_dpdk_init(); the loops themselves run on the worker lcores. */
static int mgmt_dpdk_start(void *arg)
{
	struct mgmt_dpdk *m = arg;
	int r = dp_dpdk_start(m->sinks, &m->d->smtp, mgmt_dpdk_rcpt, m->d);

	if (r == 0)
		m->started = true;
	return r;
}

static void mgmt_dpdk_drain(void *arg, bool on)
{
	(void)arg;
	dp_dpdk_drain(on);
}

static void mgmt_dpdk_stop(void *arg)
{
	struct mgmt_dpdk *m = arg;

	if (m->started)
		dp_dpdk_stop();
	m->started = false;
}

static void mgmt_dpdk_destroy(void *arg)
{
	mgmt_dpdk_stop(arg);
	dp_dpdk_fini();
	free(arg);
}

static unsigned long mgmt_dpdk_sessions(void *arg)
{
	(void)arg;
	return dp_dpdk_sessions();
}

static const struct mgmt_backend_ops mgmt_dpdk_backend = {
	.name = "dpdk",
	.start = mgmt_dpdk_start,
	.drain = mgmt_dpdk_drain,
	.stop = mgmt_dpdk_stop,
	.destroy = mgmt_dpdk_destroy,
	.sessions = mgmt_dpdk_sessions,
};

int mgmt_backend_dpdk_create(struct mgmt_daemon *d, const struct dp_sink *sinks,
			     char *err, size_t errlen)
{
	const struct mgmt_conf *c = &d->conf;
	struct dp_dpdk_conf dc;
	struct mgmt_dpdk *m;
	char args[4096], port[256];
	size_t n = 0;
	const struct sockaddr_in *sin;

	if (c->smtp.listen_count < 1 ||
	    c->smtp.listen[0].sa.ss_family != AF_INET) {
		snprintf(err, errlen,
			 "dataplane.backend = dpdk needs an IPv4 smtp.listen "
			 "(its port is used on the DPDK interface)");
		return -1;
	}
	sin = (const struct sockaddr_in *)&c->smtp.listen[0].sa;
	n += (size_t)snprintf(args + n, sizeof(args) - n,
			      "-l 0-%u --file-prefix=mxgate%ld",
			      d->cores, (long)getpid());
	for (unsigned i = 0; i < c->dataplane.dpdk.eal_arg_count; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, " %s",
				      c->dataplane.dpdk.eal_args[i]);
	snprintf(port, sizeof(port), "%s", c->dataplane.dpdk.port);
	if (strncmp(port, "net_", 4) == 0) {
		n += (size_t)snprintf(args + n, sizeof(args) - n, " --vdev=%s",
				      port);
		port[strcspn(port, ",")] = '\0';
	}
	if (n >= sizeof(args)) {
		snprintf(err, errlen, "dataplane.dpdk.eal_args: too long");
		return -1;
	}
	dp_dpdk_conf_defaults(&dc);
	dc.eal_args = args;
	dc.port = port;
	dc.ip = ntohl(c->dataplane.dpdk.addr_be);
	dc.prefix_len = (uint8_t)c->dataplane.dpdk.prefix_len;
	dc.gateway = ntohl(c->dataplane.dpdk.gateway_be);
	dc.listen_port = ntohs(sin->sin_port);
	dc.cores = d->cores;
	dc.mbufs = c->dataplane.dpdk.mbufs;
	dc.synq_size = c->dataplane.dpdk.synq_entries;
	dc.synq_resend_per_s = c->dataplane.dpdk.synq_resends_per_s;
	if (dp_dpdk_init(&dc, err, errlen) < 0)
		return -1;
	if (dp_dpdk_cores() != d->cores) {
		snprintf(err, errlen,
			 "dataplane.cores = %u but DPDK runs %u dataplane lcores",
			 d->cores, dp_dpdk_cores());
		dp_dpdk_fini();
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->d = d;
	for (unsigned i = 0; i < d->cores && i < 64; i++)
		m->sinks[i] = sinks[i];
	d->backend = &mgmt_dpdk_backend;
	d->backend_arg = m;
	return 0;
}

#else

int mgmt_backend_dpdk_create(struct mgmt_daemon *d, const struct dp_sink *sinks,
			     char *err, size_t errlen)
{
	(void)d;
	(void)sinks;
	snprintf(err, errlen,
		 "dataplane.backend = dpdk: this mxgate was built without the "
		 "DPDK backend (meson -Ddpdk=enabled)");
	return -1;
}

#endif
