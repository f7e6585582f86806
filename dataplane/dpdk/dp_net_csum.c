/*
 * dp_net_csum — the Internet checksum (RFC 1071): a ones'-complement sum
 * of 16-bit big-endian words, accumulated in 32 bits and folded at the end.
 */
#include "dp_net_priv.h"

uint32_t dp_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t s = sum;

	while (len >= 2) {
		s += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t dp_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

/* RFC 9293 §3.1: source, destination, zero, protocol, TCP length. */
uint32_t dp_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) +
		     (dst & 0xffff) + proto + len;

	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}
