/*
 * mx_crc32c.c — CRC-32C over ISA-L's crc32_iscsi(), which picks the
 * fastest implementation for this CPU at run time.
 *
 * crc32_iscsi() works on the raw register (no pre- or post-inversion), so
 * the standard CRC-32C is ~crc32_iscsi(buf, len, ~crc).  Its length is an
 * int: longer buffers are fed in pieces.
 */
#include <limits.h>

#include <isa-l/crc.h>

#include "mx_crc32c.h"

uint32_t mx_crc32c(uint32_t crc, const void *buf, size_t len)
{
	unsigned char *p = (unsigned char *)(uintptr_t)buf;
	uint32_t reg = ~crc;

	while (len > 0) {
		int n = len > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)len;

		reg = crc32_iscsi(p, n, reg);
		p += n;
		len -= (size_t)n;
	}
	return ~reg;
}
