/*
 * dp_sock.c — life cycle of the socket backend: configuration defaults,
 * address parsing, binding every core's SO_REUSEPORT listeners up front,
 * allocating each core's pools, and starting, draining and stopping the
 * core threads.  The loop itself is in dp_sock_core.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dp_sock_internal.h"
#include "mx_log.h"

MX_COUNTER_SET_DEFINE(dp_sock_counters, "socket", DP_SOCK_COUNTERS)

void dp_sock_conf_defaults(struct dp_sock_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->cores = 1;
	c->max_connections = 10000;
	c->max_connections_per_ip = 50;
	c->recv_buf_size = 16384;
	c->recv_buf_count = 1024;
	c->stop_timeout_ms = 10000;
}

int dp_sock_parse_addr(const char *text, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = text;
	size_t hlen;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *rb = strchr(text, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = text + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port > 65535 ||
	    colon[1] == '-' || colon[1] == '+')
		return -EINVAL;

	if (text[0] != '[') {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*sin);
		return 0;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	if (strcmp(host, "*") == 0 || strcmp(host, "::") == 0)
		sin6->sin6_addr = in6addr_any;
	else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return -EINVAL;
	*len = sizeof(*sin6);
	return 0;
}

uint16_t dp_sock_addr_host(const struct sockaddr_storage *ss, char *host,
			   size_t size)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, host, (socklen_t)size);
		return ntohs(s->sin6_port);
	}
	const struct sockaddr_in *s = (const void *)ss;

	inet_ntop(AF_INET, &s->sin_addr, host, (socklen_t)size);
	return ntohs(s->sin_port);
}

static void dp_sock_addr_text(const struct sockaddr_storage *ss, char *buf,
			      size_t size)
{
	char a[INET6_ADDRSTRLEN];
	uint16_t port = dp_sock_addr_host(ss, a, sizeof(a));

	snprintf(buf, size, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 a, port);
}

static int dp_sock_listen_one(const struct dp_sock_listen *l, char *err,
			      size_t errlen)
{
	char at[INET6_ADDRSTRLEN + 10];
	int one = 1, fd, e;

	dp_sock_addr_text(&l->addr, at, sizeof(at));
	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "smtp.listen %s: socket: %s", at,
			 strerror(e));
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addr.ss_family ==
		 AF_INET ? sizeof(struct sockaddr_in) :
		 sizeof(struct sockaddr_in6)) < 0 ||
	    listen(fd, 4096) < 0) {
		e = errno;
		snprintf(err, errlen, "smtp.listen %s: %s", at, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/*
 * SO_REUSEPORT lets a second process bind the same port as long as it sets
 * the option too, and the kernel would then share our connections with it.
 * Refuse that: before binding, a probe bind without SO_REUSEPORT fails with
 * EADDRINUSE if anyone (another mxgate included) holds the port.
 */
static int dp_sock_probe(const struct dp_sock_listen *l, char *err,
			 size_t errlen)
{
	char at[INET6_ADDRSTRLEN + 10];
	int one = 1, fd, e = 0;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr,
		 l->addr.ss_family == AF_INET ? sizeof(struct sockaddr_in)
					      : sizeof(struct sockaddr_in6)) <
	    0) {
		e = errno;
		dp_sock_addr_text(&l->addr, at, sizeof(at));
		snprintf(err, errlen, "smtp.listen %s: %s", at, strerror(e));
	}
	close(fd);
	return -e;
}

static int dp_sock_core_alloc(struct dp_sock *ds, struct dp_sock_core *c,
			      unsigned idx, const struct dp_sink *sink)
{
	const struct dp_sock_conf *cf = &ds->conf;
	unsigned per_core = (cf->max_connections + cf->cores - 1) / cf->cores;

	c->ds = ds;
	c->idx = idx;
	c->sink = *sink;
	c->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (c->wake_fd < 0)
		return -errno;
	c->conn_max = per_core;
	c->sess_size = (dp_smtp_session_size(ds->smtp) + 63) & ~(size_t)63;
	c->conn = calloc(per_core, sizeof(*c->conn));
	c->free_slots = calloc(per_core, sizeof(*c->free_slots));
	if (posix_memalign((void **)&c->sess_mem, 64,
			   c->sess_size * per_core) != 0)
		c->sess_mem = NULL;
	c->buf_count = cf->recv_buf_count;
	c->buf_size = cf->recv_buf_size;
	if (posix_memalign((void **)&c->buf_mem, 4096,
			   (size_t)c->buf_count * c->buf_size) != 0)
		c->buf_mem = NULL;
	c->buf_len = calloc(c->buf_count, sizeof(*c->buf_len));
	c->buf_next = calloc(c->buf_count, sizeof(*c->buf_next));
	if (posix_memalign((void **)&c->br, 4096,
			   c->buf_count * sizeof(struct io_uring_buf)) != 0)
		c->br = NULL;
	c->ip_size = 64;
	while (c->ip_size < per_core * 2)
		c->ip_size <<= 1;
	c->ip = calloc(c->ip_size, sizeof(*c->ip));
	c->per_ip_max = cf->max_connections_per_ip
				? (cf->max_connections_per_ip + cf->cores - 1) /
					  cf->cores
				: 0;
	if (cf->max_msgs_per_ip_minute) {
		c->rate = calloc(DP_RATE_SLOTS, sizeof(*c->rate));
		c->rate_max = (cf->max_msgs_per_ip_minute + cf->cores - 1) /
			      cf->cores;
		if (!c->rate)
			return -ENOMEM;
	}
	if (!c->conn || !c->free_slots || !c->sess_mem || !c->buf_mem ||
	    !c->buf_len || !c->buf_next || !c->br || !c->ip)
		return -ENOMEM;
	for (unsigned i = 0; i < per_core; i++) {
		c->conn[i].fd = -1;
		c->conn[i].s =
			(struct dp_smtp_session *)(c->sess_mem +
						   c->sess_size * i);
		c->free_slots[i] = per_core - 1 - i;
	}
	c->free_top = per_core;
	dp_sock_conn_host_init(&c->host);
	return 0;
}

struct dp_sock *dp_sock_create(const struct dp_sock_conf *conf,
			       const struct dp_smtp_conf *smtp,
			       const struct dp_sink *sinks,
			       dp_sock_rcpt_fn rcpt, void *rcpt_arg, char *err,
			       size_t errlen)
{
	struct dp_sock *ds;
	int r;

	if (conf->cores == 0 || conf->cores > DP_SOCK_CORES_MAX ||
	    conf->listen_count == 0 || conf->listen_count > DP_SOCK_LISTEN_MAX ||
	    conf->recv_buf_count == 0 || conf->recv_buf_count > 32768 ||
	    (conf->recv_buf_count & (conf->recv_buf_count - 1)) ||
	    conf->recv_buf_size < 1024 || conf->max_connections < conf->cores) {
		snprintf(err, errlen, "socket backend: invalid configuration");
		return NULL;
	}
	for (unsigned l = 0; l < conf->listen_count; l++)
		if (dp_sock_probe(&conf->listen[l], err, errlen) < 0)
			return NULL;
	ds = calloc(1, sizeof(*ds));
	if (!ds) {
		snprintf(err, errlen, "socket backend: out of memory");
		return NULL;
	}
	ds->conf = *conf;
	ds->smtp = smtp;
	ds->rcpt = rcpt;
	ds->rcpt_arg = rcpt_arg;
	for (unsigned i = 0; i < DP_SOCK_CORES_MAX; i++) {
		ds->core[i].wake_fd = -1;
		for (unsigned l = 0; l < DP_SOCK_LISTEN_MAX; l++)
			ds->core[i].listen_fd[l] = -1;
	}
	for (unsigned i = 0; i < conf->cores; i++) {
		struct dp_sock_core *c = &ds->core[i];

		r = dp_sock_core_alloc(ds, c, i, &sinks[i]);
		if (r < 0) {
			snprintf(err, errlen, "socket backend core %u: %s", i,
				 strerror(-r));
			goto fail;
		}
		for (unsigned l = 0; l < conf->listen_count; l++) {
			r = dp_sock_listen_one(&conf->listen[l], err, errlen);
			if (r < 0)
				goto fail;
			c->listen_fd[l] = r;
		}
	}
	return ds;
fail:
	dp_sock_destroy(ds);
	return NULL;
}

int dp_sock_start(struct dp_sock *ds)
{
	for (unsigned i = 0; i < ds->conf.cores; i++) {
		struct dp_sock_core *c = &ds->core[i];
		int r = pthread_create(&c->thread, NULL, dp_sock_core_main, c);

		if (r != 0) {
			dp_sock_stop(ds);
			return -r;
		}
		c->thread_started = true;
	}
	return 0;
}

void dp_sock_drain(struct dp_sock *ds, bool on)
{
	atomic_store(&ds->draining, on);
}

void dp_sock_tempfail(struct dp_sock *ds, bool on)
{
	atomic_store(&ds->tempfail, on);
}

void dp_sock_stop(struct dp_sock *ds)
{
	atomic_store(&ds->stop, true);
	for (unsigned i = 0; i < ds->conf.cores; i++)
		if (ds->core[i].thread_started)
			dp_sock_core_wake(&ds->core[i]);
	for (unsigned i = 0; i < ds->conf.cores; i++) {
		if (ds->core[i].thread_started) {
			pthread_join(ds->core[i].thread, NULL);
			ds->core[i].thread_started = false;
		}
	}
}

void dp_sock_destroy(struct dp_sock *ds)
{
	if (!ds)
		return;
	dp_sock_stop(ds);
	for (unsigned i = 0; i < ds->conf.cores; i++) {
		struct dp_sock_core *c = &ds->core[i];

		for (unsigned l = 0; l < DP_SOCK_LISTEN_MAX; l++)
			if (c->listen_fd[l] >= 0)
				close(c->listen_fd[l]);
		if (c->wake_fd >= 0)
			close(c->wake_fd);
		free(c->conn);
		free(c->free_slots);
		free(c->sess_mem);
		free(c->buf_mem);
		free(c->buf_len);
		free(c->buf_next);
		free(c->br);
		free(c->ip);
		free(c->rate);
	}
	free(ds);
}

void dp_sock_stats(const struct dp_sock *ds, struct dp_sock_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->cores = ds->conf.cores;
	for (unsigned i = 0; i < ds->conf.cores; i++)
		st->sessions_active += atomic_load(&ds->core[i].active);
	st->draining = atomic_load(&ds->draining);
}
