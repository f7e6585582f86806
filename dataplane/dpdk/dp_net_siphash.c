/*
 * dp_net_siphash — SipHash-2-4 (Aumasson and Bernstein), the keyed hash
 * behind SYN cookies and the connection tables: an attacker who does not
 * know the key can neither forge a cookie nor aim at one hash bucket.
 */
#include "dp_net_priv.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t load_le64(const uint8_t *p, size_t n)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++)
		m |= (uint64_t)p[i] << (8 * i);
	return m;
}

uint64_t dp_siphash(const uint64_t key[2], const uint8_t *data, size_t len)
{
	uint64_t v[4] = {
	    key[0] ^ 0x736f6d6570736575ull,
	    key[1] ^ 0x646f72616e646f6dull,
	    key[0] ^ 0x6c7967656e657261ull,
	    key[1] ^ 0x7465646279746573ull,
	};
	size_t full = len & ~(size_t)7;
	uint64_t m;

	for (size_t i = 0; i < full; i += 8) {
		m = load_le64(data + i, 8);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	m = load_le64(data + full, len - full) | (uint64_t)(len & 0xff) << 56;
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
