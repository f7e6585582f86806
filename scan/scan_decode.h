/*
 * scan_decode — streaming decoders for MIME content transfer encodings
 * (RFC 2045 §6.7 quoted-printable, §6.8 base64).
 *
 * Each decoder keeps its state between calls, so input may arrive split at
 * any byte and the output is the same as for one call.  Decoding is lenient,
 * as a scanner must be: characters outside the base64 alphabet are skipped,
 * a broken "=XY" escape in quoted-printable is passed through literally.
 * The caller provides the output buffer: it must hold SCAN_DEC_OUT_MAX(len)
 * bytes.  No allocation; any thread may use its own decoder state.
 */
#ifndef SCAN_DECODE_H
#define SCAN_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* Output room needed for len input bytes, for either decoder (the SIMD
 * base64 path stores 32 bytes at a time, up to 8 past its output). */
#define SCAN_DEC_OUT_MAX(len) ((len) + 8)

struct scan_b64 {
	uint32_t acc; /* sextets collected so far */
	unsigned n;   /* how many (0..3) */
};

struct scan_qp {
	unsigned st; /* SCAN_QP_* state, private */
	uint8_t hi;  /* first hex digit after '=' */
};

static inline void scan_b64_init(struct scan_b64 *d)
{
	d->acc = 0;
	d->n = 0;
}

static inline void scan_qp_init(struct scan_qp *d)
{
	d->st = 0;
	d->hi = 0;
}

/* Decodes len bytes into out; returns the bytes written. */
size_t scan_b64_decode(struct scan_b64 *d, const uint8_t *in, size_t len,
		       uint8_t *out);
/* End of input: flushes what a truncated final group holds. */
size_t scan_b64_finish(struct scan_b64 *d, uint8_t *out);

size_t scan_qp_decode(struct scan_qp *d, const uint8_t *in, size_t len,
		      uint8_t *out);
size_t scan_qp_finish(struct scan_qp *d, uint8_t *out);

#endif
