/*
 * mx_crc32c — CRC-32C (Castagnoli), as used by iSCSI, ext4 and SCTP.
 * Backed by ISA-L, which uses the SSE4.2 crc32 instruction (or PCLMUL
 * folding) where the CPU has it.
 *
 * Chainable: mx_crc32c(mx_crc32c(0, a, n), b, m) == mx_crc32c(0, ab, n + m).
 * Start with crc = 0.  CRC-32C("123456789") == 0xe3069283.
 */
#ifndef MX_CRC32C_H
#define MX_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t mx_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
