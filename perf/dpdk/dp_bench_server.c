/*
 * dp_bench_server — one SMTP server, either backend, for perf/dpdk/run:
 * the DPDK backend on a net_tap (--backend dpdk) or the io_uring socket
 * backend (--backend socket), both with the real SMTP engine and the same
 * discarding sink, so what differs is the network path.  Prints READY,
 * runs until SIGTERM, then one line of figures:
 *
 *   backend=dpdk messages=N cpu_ns=T ns_per_msg=T/N
 *
 * dpdk: T is the TSC time of loop rounds that moved a packet or a
 * completion (idle polling excluded); on a net_tap that includes the
 * PMD's read/write system calls and the kernel work they trigger (the
 * client side's TCP receive runs inside our write()).  stack_ns_per_msg
 * is the part spent in the stack, SMTP engine and sink code alone.  socket: T
 * is the process's user + system CPU time (getrusage), which includes the
 * kernel's TCP work done in our threads but not the receive processing the
 * kernel charges to the sending client.
 *
 * usage: dp_bench_server --backend dpdk --eal ARGS --ip A/N --port P
 *        dp_bench_server --backend socket --listen 127.0.0.1:P
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dp_dpdk.h"
#include "dp_smtp.h"
#include "dp_sock.h"
#include "mx_counter.h"
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
	return DP_SMTP_RCPT_OK;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		   1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		   1000ull;
}

static void report(const char *backend, unsigned long msgs, uint64_t ns,
		   uint64_t stack_ns)
{
	printf("backend=%s messages=%lu cpu_ns=%llu ns_per_msg=%.0f", backend,
	       msgs, (unsigned long long)ns,
	       msgs ? (double)ns / (double)msgs : 0.0);
	if (stack_ns)
		printf(" stack_ns_per_msg=%.0f",
		       msgs ? (double)stack_ns / (double)msgs : 0.0);
	printf("\n");
	fflush(stdout);
}

static uint64_t tsc_ns(uint64_t cycles, uint64_t hz)
{
	return hz ? (uint64_t)((double)cycles * 1e9 / (double)hz) : 0;
}

static int run_dpdk(const char *eal, const char *ip_text, unsigned port,
		    const struct dp_smtp_conf *smtp)
{
	struct dp_dpdk_conf conf;
	struct dp_sink sinks[DP_DPDK_CORES_MAX];
	struct smoke_sink *ss[DP_DPDK_CORES_MAX] = {0};
	struct dp_dpdk_stats st;
	struct in_addr a;
	char err[256], ipbuf[32], *slash;
	unsigned long msgs = 0;

	dp_dpdk_conf_defaults(&conf);
	conf.eal_args = eal;
	conf.mbufs = 2047;
	conf.conn_max = 256;
	conf.main_lcore_dataplane = true; /* this thread runs lcore 0 */
	conf.listen_port = (uint16_t)port;
	snprintf(ipbuf, sizeof(ipbuf), "%s", ip_text);
	slash = strchr(ipbuf, '/');
	if (slash) {
		*slash = 0;
		conf.prefix_len = (uint8_t)atoi(slash + 1);
	}
	if (inet_pton(AF_INET, ipbuf, &a) != 1)
		return 2;
	conf.ip = ntohl(a.s_addr);
	if (dp_dpdk_init(&conf, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (unsigned i = 0; i < dp_dpdk_cores(); i++) {
		ss[i] = smoke_sink_create(NULL, i);
		sinks[i] = smoke_sink_get(ss[i]);
	}
	printf("READY\n");
	fflush(stdout);
	dp_dpdk_run(sinks, smtp, rcpt_any, NULL, &stop);
	dp_dpdk_stats(&st);
	for (unsigned i = 0; i < dp_dpdk_cores(); i++)
		msgs += smoke_sink_done_count(ss[i]);
	report("dpdk", msgs, tsc_ns(st.busy_cycles, st.tsc_hz),
	       tsc_ns(st.stack_cycles, st.tsc_hz));
	dp_dpdk_fini();
	for (unsigned i = 0; i < DP_DPDK_CORES_MAX; i++)
		smoke_sink_destroy(ss[i]);
	return 0;
}

static int run_socket(const char *listen, const struct dp_smtp_conf *smtp)
{
	struct dp_sock_conf conf;
	struct smoke_sink *ss;
	struct dp_sink sink;
	struct dp_sock *ds;
	char err[256];
	uint64_t t0;

	dp_sock_conf_defaults(&conf);
	conf.cores = 1;
	conf.listen_count = 1;
	if (dp_sock_parse_addr(listen, &conf.listen[0].addr,
			       &conf.listen[0].addr_len))
		return 2;
	ss = smoke_sink_create(NULL, 0);
	sink = smoke_sink_get(ss);
	ds = dp_sock_create(&conf, smtp, &sink, rcpt_any, NULL, err,
			    sizeof(err));
	if (!ds || dp_sock_start(ds)) {
		fprintf(stderr, "socket backend: %s\n", err);
		return 1;
	}
	t0 = cpu_ns();
	printf("READY\n");
	fflush(stdout);
	while (!stop)
		pause();
	dp_sock_stop(ds);
	report("socket", smoke_sink_done_count(ss), cpu_ns() - t0, 0);
	dp_sock_destroy(ds);
	smoke_sink_destroy(ss);
	return 0;
}

int main(int argc, char **argv)
{
	const char *backend = NULL, *eal = "", *ip = NULL, *listen = NULL;
	unsigned port = 2525;
	struct dp_smtp_conf smtp;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--backend"))
			backend = argv[i + 1];
		else if (!strcmp(argv[i], "--eal"))
			eal = argv[i + 1];
		else if (!strcmp(argv[i], "--ip"))
			ip = argv[i + 1];
		else if (!strcmp(argv[i], "--port"))
			port = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--listen"))
			listen = argv[i + 1];
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	mx_counter_thread_attach();
	dp_smtp_conf_defaults(&smtp);
	snprintf(smtp.hostname, sizeof(smtp.hostname), "mxgate-bench");
	if (backend && !strcmp(backend, "dpdk") && ip)
		return run_dpdk(eal, ip, port, &smtp);
	if (backend && !strcmp(backend, "socket") && listen)
		return run_socket(listen, &smtp);
	fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
	return 2;
}
