/*
 * dp_sock_ipcount.h — per-core connection counts by client address (see
 * the .c for the table's rules).  Core thread only.
 */
#ifndef DP_SOCK_IPCOUNT_H
#define DP_SOCK_IPCOUNT_H

#include <netinet/in.h>
#include <sys/socket.h>

struct dp_sock_ipent {
	struct in6_addr addr;	/* IPv4 as v4-mapped */
	unsigned count;		/* 0 = empty */
};

void dp_sock_ip_key(const struct sockaddr_storage *ss, struct in6_addr *key);
/* Counts one more connection from key: 0, or -1 when key already has max
 * (0 = unlimited) or the table is full (nothing counted then). */
int dp_sock_ip_acquire(struct dp_sock_ipent *tab, unsigned size,
		       const struct in6_addr *key, unsigned max);
/* Counts one connection from key less. */
void dp_sock_ip_release(struct dp_sock_ipent *tab, unsigned size,
			const struct in6_addr *key);
unsigned dp_sock_ip_count(const struct dp_sock_ipent *tab, unsigned size,
			  const struct in6_addr *key);

#endif
