/*
 * dp_net_csum — the Internet checksum (RFC 1071): a ones'-complement sum
 * of 16-bit big-endian words, accumulated in 32 bits and folded at the end.
 */
#include "dp_net_priv.h"

/*
 * Sums the buffer 8 bytes at a time in native byte order and swaps the
 * folded result into network order at the end: the ones'-complement sum
 * is independent of byte order up to that final swap (RFC 1071 §2(B)).
 * A trailing odd byte is the high byte of a network-order word.
 */
uint32_t dp_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	unsigned __int128 acc = 0;
	uint64_t s, w;
	uint16_t r;

	while (len >= 8) {
		memcpy(&w, p, 8);
		acc += w;
		p += 8;
		len -= 8;
	}
	s = (uint64_t)acc + (uint64_t)(acc >> 64);
	if (s < (uint64_t)acc)
		s++;
	while (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		s += h;
		if (s < h)
			s++;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t h = 0;

		memcpy(&h, p, 1);	/* native position of the first byte */
		s += h;
		if (s < h)
			s++;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	r = (uint16_t)s;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	r = (uint16_t)(r >> 8 | r << 8);
#endif
	s = (uint64_t)sum + r;
	return (uint32_t)((s & 0xffffffffu) + (s >> 32));
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
