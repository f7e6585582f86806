/*
 * dp_proxy — a parser for the PROXY protocol header (HAProxy's spec,
 * versions 1 and 2) that a load balancer puts in front of the client's
 * bytes.  Pure: bytes in, an outcome out, so it is unit-tested and fuzzed.
 *
 * The parser is incremental: call it with everything received so far.
 *   > 0   the header is complete and that many bytes belong to it; *out
 *         holds the client address (or out->local for LOCAL/UNKNOWN).
 *   0     need more bytes (never more than DP_PROXY_MAX in total).
 *   < 0   -EINVAL: not a valid PROXY header; the connection is dropped.
 */
#ifndef DP_PROXY_H
#define DP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* v1 lines are at most 107 bytes; v2 headers are 16 bytes plus address
 * data and TLVs, which we bound well above what balancers send. */
#define DP_PROXY_MAX 536

struct dp_proxy_result {
	bool local;	/* LOCAL command or UNKNOWN family: keep the socket's
			 * own addresses */
	struct sockaddr_storage src;
	struct sockaddr_storage dst;
};

int dp_proxy_parse(const uint8_t *buf, size_t len,
		   struct dp_proxy_result *out);

#endif
