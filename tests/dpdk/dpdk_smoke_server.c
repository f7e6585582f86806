/*
 * dpdk_smoke_server — runs the DPDK backend (dp_dpdk) as the daemon
 * would, with the real SMTP engine and one smoke_sink per lcore writing
 * messages to files: the server half of tests/dpdk/smoke.  Prints "READY"
 * once the port is up, runs until SIGTERM/SIGINT, then prints the stack's
 * and the backend's non-zero counters and the port statistics.
 *
 * usage: dpdk_smoke_server --eal "EAL ARGS" --ip A.B.C.D/N --port P
 *                          --dir DIR [--cores N] [--mbufs N] [--mode M]
 * --mode start (the daemon's way: loops on the EAL workers, this thread
 * waits; needs -l with at least two lcores) or run (default: this thread
 * is dataplane lcore 0 too, dp_dpdk_run blocks).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_dpdk.h"
#include "dp_smtp.h"
#include "mx_counter.h"
#include "mx_log.h"
#include "smoke_sink.h"

static volatile bool stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = true;
}

static enum dp_smtp_rcpt_verdict rcpt_any(void *arg, const char *local,
					  const char *domain)
{
	/* The test's own domain only: still never an open relay. */
	return strcmp(domain, "smoke.test") == 0 ? DP_SMTP_RCPT_OK
						 : DP_SMTP_RCPT_RELAY;
}

static void print_counter(const struct mx_counter_set *set,
			  const struct mx_counter_desc *desc, uint64_t value,
			  void *arg)
{
	if (value &&
	    (!strcmp(set->module, "net") || !strcmp(set->module, "dpdk")))
		fprintf(stderr, "counter %s=%llu\n", desc->name,
			(unsigned long long)value);
}

static int parse_ip(const char *text, uint32_t *ip, uint8_t *prefix)
{
	char buf[64], *slash;
	struct in_addr a;

	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		*prefix = (uint8_t)atoi(slash + 1);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

int main(int argc, char **argv)
{
	struct dp_dpdk_conf conf;
	struct dp_smtp_conf smtp;
	struct dp_sink sinks[DP_DPDK_CORES_MAX];
	struct smoke_sink *ss[DP_DPDK_CORES_MAX] = {0};
	struct dp_dpdk_stats st;
	const char *dir = NULL;
	bool start_mode = false;
	char err[256];
	int rc;

	dp_dpdk_conf_defaults(&conf);
	conf.mbufs = 2047;
	conf.conn_max = 256;
	conf.listen_port = 2525;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--eal"))
			conf.eal_args = argv[i + 1];
		else if (!strcmp(argv[i], "--ip")) {
			if (parse_ip(argv[i + 1], &conf.ip, &conf.prefix_len)) {
				fprintf(stderr, "bad --ip\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--port"))
			conf.listen_port = (uint16_t)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--cores"))
			conf.cores = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--mode"))
			start_mode = !strcmp(argv[i + 1], "start");
		else if (!strcmp(argv[i], "--mbufs"))
			conf.mbufs = (unsigned)atoi(argv[i + 1]);
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!dir || !conf.ip) {
		fprintf(stderr,
			"usage: %s --eal ARGS --ip A/N --port P --dir D\n",
			argv[0]);
		return 2;
	}
	conf.main_lcore_dataplane = !start_mode;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	mx_counter_thread_attach();
	rc = dp_dpdk_init(&conf, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "init failed: %s\n", err);
		dp_dpdk_fini();
		return 1;
	}
	dp_smtp_conf_defaults(&smtp);
	snprintf(smtp.hostname, sizeof(smtp.hostname), "mxgate-dpdk-smoke");
	for (unsigned i = 0; i < dp_dpdk_cores(); i++) {
		ss[i] = smoke_sink_create(dir, i);
		if (!ss[i]) {
			fprintf(stderr, "sink: out of memory\n");
			return 1;
		}
		sinks[i] = smoke_sink_get(ss[i]);
	}
	printf("READY cores=%u\n", dp_dpdk_cores());
	fflush(stdout);
	if (start_mode) {
		rc = dp_dpdk_start(sinks, &smtp, rcpt_any, NULL);
		while (!rc && !stop)
			pause();
		/* What the daemon does on shutdown: refuse new sessions, then
		 * let the loops finish what is in flight. */
		dp_dpdk_drain(true);
		dp_dpdk_stop();
	} else {
		rc = dp_dpdk_run(sinks, &smtp, rcpt_any, NULL, &stop);
	}
	dp_dpdk_stats(&st);
	fprintf(stderr,
		"port rx=%llu tx=%llu missed=%llu rx_err=%llu tx_err=%llu "
		"link=%s\n",
		(unsigned long long)st.rx_packets,
		(unsigned long long)st.tx_packets,
		(unsigned long long)st.rx_missed,
		(unsigned long long)st.rx_errors,
		(unsigned long long)st.tx_errors, st.link_up ? "up" : "down");
	mx_counter_foreach(print_counter, NULL);
	dp_dpdk_fini();
	for (unsigned i = 0; i < DP_DPDK_CORES_MAX; i++)
		smoke_sink_destroy(ss[i]);
	return rc ? 1 : 0;
}
