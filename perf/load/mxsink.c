/*
 * mxsink — a trivial SMTP sink for measuring SMTP clients (mxload,
 * smtp-source): accepts every well-formed message and throws it away.
 * NOT a mail server and NOT durable: nothing is stored.
 *
 * N threads (-t), each with its own io_uring and its own SO_REUSEPORT
 * listener on one port; PIPELINING, 8BITMIME, SIZE and CHUNKING; the
 * replies a read calls for go out in one write.  Listens on 127.0.0.1 with
 * a port the kernel picks unless told otherwise, and prints the bound
 * address on stdout; on SIGTERM or SIGINT prints a one-line summary of
 * what it counted and exits 0.  Exit 2: usage or set-up error.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ms_proto.h"
#include "ms_server.h"

#define USAGE                                                                 \
	"usage: mxsink [-l HOST:PORT] [-t THREADS] [-c MAX_CONNS] "           \
	"[--size BYTES] [--hostname NAME]\n"                                  \
	"  -l  listen address (default 127.0.0.1:0: loopback, a free port;\n" \
	"      IPv6 as [::1]:PORT); the bound address is printed\n"          \
	"  -t  threads, one io_uring and listener each (default 1)\n"        \
	"  -c  connections at once per thread (default 1024); more get 421\n" \
	"  --size  SIZE limit advertised and enforced (default 52428800)\n"   \
	"Not durable: every message is discarded.  SIGTERM/SIGINT: print\n"   \
	"a summary line and exit.\n"

struct opts {
	const char *listen;
	const char *hostname;
	unsigned threads;
	unsigned max_conns;
	uint64_t size_max;
};

static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *v > max || s[0] == '-')
		return -EINVAL;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{"listen", required_argument, NULL, 'l'},
		{"threads", required_argument, NULL, 't'},
		{"max-conns", required_argument, NULL, 'c'},
		{"size", required_argument, NULL, 'S'},
		{"hostname", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long long v;
	int ch;

	*o = (struct opts){.listen = "127.0.0.1:0",
			   .hostname = "mxsink.test",
			   .threads = 1,
			   .max_conns = 1024,
			   .size_max = 52428800};
	while ((ch = getopt_long(argc, argv, "l:t:c:h", longs, NULL)) != -1) {
		switch (ch) {
		case 'l':
			o->listen = optarg;
			break;
		case 't':
			if (parse_uint(optarg, 256, &v) < 0 || v == 0)
				return -EINVAL;
			o->threads = (unsigned)v;
			break;
		case 'c':
			if (parse_uint(optarg, 1u << 20, &v) < 0 || v == 0)
				return -EINVAL;
			o->max_conns = (unsigned)v;
			break;
		case 'S':
			if (parse_uint(optarg, UINT64_MAX / 2, &v) < 0)
				return -EINVAL;
			o->size_max = v;
			break;
		case 'H':
			o->hostname = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

/* "HOST:PORT" or "[V6]:PORT" to a socket address. */
static int resolve(const char *spec, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	char host[256];
	const char *port;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					     AI_PASSIVE};
	struct addrinfo *res;
	size_t hl;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		hl = (size_t)(rb - spec - 1);
		spec++;
		port = rb + 2;
	} else {
		const char *colon = strrchr(spec, ':');

		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void addr_text(const struct sockaddr_storage *ss, socklen_t len,
		      char *buf, size_t size)
{
	char host[64], port[16];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host),
			port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 host, port);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void summary(const struct ms_server *svs, unsigned n, double elapsed)
{
	struct ms_server_stats t = {0};
	struct rusage ru;
	double cpu;

	for (unsigned i = 0; i < n; i++) {
		const struct ms_server_stats *s = &svs[i].st;

		t.proto.msgs += s->proto.msgs;
		t.proto.msgs_data += s->proto.msgs_data;
		t.proto.msgs_bdat += s->proto.msgs_bdat;
		t.proto.rcpts += s->proto.rcpts;
		t.proto.rejected += s->proto.rejected;
		t.proto.cmds += s->proto.cmds;
		t.proto.body_bytes += s->proto.body_bytes;
		t.proto.long_lines += s->proto.long_lines;
		t.proto.syntax += s->proto.syntax;
		t.proto.sequence += s->proto.sequence;
		t.proto.unknown += s->proto.unknown;
		t.proto.too_big += s->proto.too_big;
		t.proto.quits += s->proto.quits;
		t.conns += s->conns;
		t.conns_refused += s->conns_refused;
		t.accept_errors += s->accept_errors;
		t.io_errors += s->io_errors;
		t.bytes_in += s->bytes_in;
	}
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("mxsink: messages=%llu data=%llu bdat=%llu rcpts=%llu "
	       "rejected=%llu cmds=%llu errors: long_line=%llu syntax=%llu "
	       "sequence=%llu unknown=%llu too_big=%llu; conns=%llu "
	       "refused=%llu accept_errors=%llu io_errors=%llu quits=%llu "
	       "bytes_in=%llu body_bytes=%llu elapsed=%.3fs cpu=%.3fs "
	       "threads=%u\n",
	       (unsigned long long)t.proto.msgs,
	       (unsigned long long)t.proto.msgs_data,
	       (unsigned long long)t.proto.msgs_bdat,
	       (unsigned long long)t.proto.rcpts,
	       (unsigned long long)t.proto.rejected,
	       (unsigned long long)t.proto.cmds,
	       (unsigned long long)t.proto.long_lines,
	       (unsigned long long)t.proto.syntax,
	       (unsigned long long)t.proto.sequence,
	       (unsigned long long)t.proto.unknown,
	       (unsigned long long)t.proto.too_big,
	       (unsigned long long)t.conns,
	       (unsigned long long)t.conns_refused,
	       (unsigned long long)t.accept_errors,
	       (unsigned long long)t.io_errors,
	       (unsigned long long)t.proto.quits,
	       (unsigned long long)t.bytes_in,
	       (unsigned long long)t.proto.body_bytes, elapsed, cpu, n);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static atomic_bool stop;
	struct opts o;
	struct ms_proto_conf conf;
	struct sockaddr_storage ss;
	socklen_t ss_len;
	struct ms_server *svs;
	pthread_t *tids;
	sigset_t sigs;
	char where[128];
	double t0;
	int sig, ret;

	if (parse_opts(argc, argv, &o) < 0) {
		fputs(USAGE, stderr);
		return 2;
	}
	if (resolve(o.listen, &ss, &ss_len) < 0) {
		fprintf(stderr, "mxsink: bad listen address %s\n", o.listen);
		return 2;
	}
	ms_proto_conf_init(&conf, o.hostname, o.size_max);
	svs = calloc(o.threads, sizeof(*svs));
	tids = calloc(o.threads, sizeof(*tids));
	if (!svs || !tids) {
		fprintf(stderr, "mxsink: out of memory\n");
		return 2;
	}
	/* The first listener learns the port (0: the kernel's pick); the
	 * others bind that one with SO_REUSEPORT. */
	for (unsigned i = 0; i < o.threads; i++) {
		svs[i].listen_fd = -1;
		ret = ms_server_listen((struct sockaddr *)&ss, ss_len);
		if (ret < 0) {
			fprintf(stderr, "mxsink: listen %s: %s\n", o.listen,
				strerror(-ret));
			return 2;
		}
		svs[i].listen_fd = ret;
		if (i == 0 &&
		    getsockname(ret, (struct sockaddr *)&ss, &ss_len) < 0) {
			fprintf(stderr, "mxsink: getsockname: %s\n",
				strerror(errno));
			return 2;
		}
		svs[i].conf = &conf;
		svs[i].max_conns = o.max_conns;
		svs[i].stop = &stop;
		ret = ms_server_init(&svs[i]);
		if (ret < 0) {
			fprintf(stderr, "mxsink: io_uring: %s\n",
				strerror(-ret));
			return 2;
		}
	}
	/* Signals go to the main thread's sigwait only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	t0 = now_s();
	for (unsigned i = 0; i < o.threads; i++) {
		ret = pthread_create(&tids[i], NULL, ms_server_run, &svs[i]);
		if (ret) {
			fprintf(stderr, "mxsink: pthread_create: %s\n",
				strerror(ret));
			return 2;
		}
	}
	addr_text(&ss, ss_len, where, sizeof(where));
	printf("mxsink: listening on %s threads=%u max_conns=%u "
	       "(not durable: every message is discarded)\n",
	       where, o.threads, o.max_conns * o.threads);
	fflush(stdout);
	sigwait(&sigs, &sig);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < o.threads; i++)
		pthread_join(tids[i], NULL);
	summary(svs, o.threads, now_s() - t0);
	for (unsigned i = 0; i < o.threads; i++)
		ms_server_fini(&svs[i]);
	free(svs);
	free(tids);
	return 0;
}
