/*
 * dp_sock_ipcount.c — per-core count of open connections by client
 * address, for max_connections_per_ip.  Open addressing with linear
 * probing and backward-shift deletion, sized at twice the core's
 * connection limit so it can never fill.  IPv4 addresses are stored
 * v4-mapped.  Each core counts only its own connections, so the limit is
 * the configured value divided over the cores (SO_REUSEPORT hashes on the
 * 4-tuple, spreading one client's connections over all of them).
 */
#include <string.h>

#include "dp_sock_ipcount.h"

static unsigned dp_ip_hash(const struct in6_addr *a, unsigned mask)
{
	uint64_t x, y;

	memcpy(&x, a->s6_addr, 8);
	memcpy(&y, a->s6_addr + 8, 8);
	x ^= y * 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (unsigned)x & mask;
}

void dp_sock_ip_key(const struct sockaddr_storage *ss, struct in6_addr *key)
{
	memset(key, 0, sizeof(*key));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		key->s6_addr[10] = 0xff;
		key->s6_addr[11] = 0xff;
		memcpy(key->s6_addr + 12, &sin->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		*key = sin6->sin6_addr;
	}
}

int dp_sock_ip_acquire(struct dp_sock_ipent *tab, unsigned size,
		       const struct in6_addr *key, unsigned max)
{
	unsigned mask = size - 1, i = dp_ip_hash(key, mask);

	for (unsigned n = 0; n < size; n++, i = (i + 1) & mask) {
		if (tab[i].count == 0) {
			tab[i].addr = *key;
			tab[i].count = 1;
			return 0;
		}
		if (memcmp(&tab[i].addr, key, sizeof(*key)) == 0) {
			if (max && tab[i].count >= max)
				return -1;
			tab[i].count++;
			return 0;
		}
	}
	return -1;
}

void dp_sock_ip_release(struct dp_sock_ipent *tab, unsigned size,
			const struct in6_addr *key)
{
	unsigned mask = size - 1, slot = dp_ip_hash(key, mask), hole, j, n;

	for (n = 0; n < size && tab[slot].count; n++, slot = (slot + 1) & mask)
		if (memcmp(&tab[slot].addr, key, sizeof(*key)) == 0)
			break;
	if (n == size || tab[slot].count == 0)
		return;
	if (--tab[slot].count > 0)
		return;
	/* Backward shift: move later members of the probe run into the
	 * hole so lookups never stop early at an empty slot. */
	hole = slot;
	for (j = (hole + 1) & mask; tab[j].count; j = (j + 1) & mask) {
		unsigned home = dp_ip_hash(&tab[j].addr, mask);

		/* j may move to hole if its home is not in (hole, j]. */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			tab[hole] = tab[j];
			tab[j].count = 0;
			hole = j;
		}
	}
}

unsigned dp_sock_ip_count(const struct dp_sock_ipent *tab, unsigned size,
			  const struct in6_addr *key)
{
	unsigned mask = size - 1, i = dp_ip_hash(key, mask);

	for (unsigned n = 0; n < size && tab[i].count; n++, i = (i + 1) & mask)
		if (memcmp(&tab[i].addr, key, sizeof(*key)) == 0)
			return tab[i].count;
	return 0;
}
