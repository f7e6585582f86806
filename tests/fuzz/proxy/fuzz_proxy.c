/*
 * fuzz_proxy — libFuzzer target for the PROXY protocol header parser
 * (dataplane/socket/dp_proxy.c).  The input is what a client sends first.
 *
 * Checks, beyond "no memory error":
 *  - the outcome is -EINVAL, 0 (need more) or a length within the input
 *    and within DP_PROXY_MAX; "need more" only below DP_PROXY_MAX bytes;
 *  - incremental consistency: the input is parsed at every prefix length;
 *    once a prefix is refused every longer one is refused, once a prefix
 *    completes every longer one completes with the same length and the
 *    same addresses (bytes after the header never change the header);
 *  - a completed PROXY (not LOCAL) result has two addresses of one family,
 *    AF_INET or AF_INET6, and re-encoding them as a v1 line and as a v2
 *    header parses back to the same addresses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_proxy.h"

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static bool same_result(const struct dp_proxy_result *a,
			const struct dp_proxy_result *b)
{
	if (a->local != b->local)
		return false;
	return a->local ||
	       (same_addr(&a->src, &b->src) && same_addr(&a->dst, &b->dst));
}

static void addr_text(const struct sockaddr_storage *ss, char *host,
		      size_t host_size, unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, host, (socklen_t)host_size);
		*port = ntohs(s->sin_port);
	} else {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, host, (socklen_t)host_size);
		*port = ntohs(s->sin6_port);
	}
}

/* The result as a v1 line: "PROXY TCP4 src dst sport dport\r\n". */
static size_t encode_v1(const struct dp_proxy_result *r, uint8_t *out,
			size_t out_size)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	unsigned sport, dport;

	addr_text(&r->src, src, sizeof(src), &sport);
	addr_text(&r->dst, dst, sizeof(dst), &dport);
	int n = snprintf((char *)out, out_size, "PROXY %s %s %s %u %u\r\n",
			 r->src.ss_family == AF_INET ? "TCP4" : "TCP6", src,
			 dst, sport, dport);
	if (n < 0 || (size_t)n >= out_size)
		abort();
	return (size_t)n;
}

/* The result as a v2 PROXY header with no TLVs. */
static size_t encode_v2(const struct dp_proxy_result *r, uint8_t *out)
{
	static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
	size_t n = 16;

	memcpy(out, sig, 12);
	out[12] = 0x21;
	if (r->src.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&r->src;
		const struct sockaddr_in *d = (const void *)&r->dst;

		out[13] = 0x11;
		memcpy(out + n, &s->sin_addr, 4);
		memcpy(out + n + 4, &d->sin_addr, 4);
		memcpy(out + n + 8, &s->sin_port, 2);
		memcpy(out + n + 10, &d->sin_port, 2);
		n += 12;
	} else {
		const struct sockaddr_in6 *s = (const void *)&r->src;
		const struct sockaddr_in6 *d = (const void *)&r->dst;

		out[13] = 0x21;
		memcpy(out + n, &s->sin6_addr, 16);
		memcpy(out + n + 16, &d->sin6_addr, 16);
		memcpy(out + n + 32, &s->sin6_port, 2);
		memcpy(out + n + 34, &d->sin6_port, 2);
		n += 36;
	}
	out[14] = (uint8_t)((n - 16) >> 8);
	out[15] = (uint8_t)(n - 16);
	return n;
}

static void check_reencode(const struct dp_proxy_result *r)
{
	struct dp_proxy_result back;
	uint8_t buf[DP_PROXY_MAX];
	size_t n;

	if (r->local)
		return;
	if (r->src.ss_family != r->dst.ss_family ||
	    (r->src.ss_family != AF_INET && r->src.ss_family != AF_INET6))
		abort();
	n = encode_v1(r, buf, sizeof(buf));
	memset(&back, 0xa5, sizeof(back));
	if (dp_proxy_parse(buf, n, &back) != (int)n || !same_result(r, &back))
		abort();
	n = encode_v2(r, buf);
	memset(&back, 0x5a, sizeof(back));
	if (dp_proxy_parse(buf, n, &back) != (int)n || !same_result(r, &back))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_proxy_result first, cur;
	int done = 0;
	bool refused = false;

	if (size > 2 * DP_PROXY_MAX)
		return -1;
	/* Each prefix gets its own heap copy so that ASan sees any read
	 * past the length the parser was given. */
	for (size_t len = 0; len <= size; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		if (copy == NULL)
			abort();
		memcpy(copy, data, len);
		memset(&cur, 0, sizeof(cur));
		int rc = dp_proxy_parse(copy, len, &cur);
		free(copy);

		if (rc != -EINVAL && rc < 0)
			abort();
		if (rc > 0 && ((size_t)rc > len || rc > DP_PROXY_MAX))
			abort();
		if (rc == 0 && len >= DP_PROXY_MAX)
			abort();
		if (refused && rc != -EINVAL)
			abort();
		if (done > 0) {
			if (rc != done || !same_result(&first, &cur))
				abort();
			continue;
		}
		if (rc < 0) {
			refused = true;
		} else if (rc > 0) {
			done = rc;
			first = cur;
			check_reencode(&first);
		}
	}
	return 0;
}
