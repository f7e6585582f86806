/*
 * scan_decode — streaming base64 and quoted-printable decoders.
 *
 * Both are written for a scanner, not a mail reader: they never fail, they
 * recover at the next valid character, and they produce the bytes a
 * recipient's client would most likely see.
 */
#include "scan_decode.h"

#include <stdbool.h>

#include "mx_hex.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define SCAN_B64_AVX2 1
#endif

/* Value + 1 for the alphabet (RFC 2045 §6.8 table 1), 65 for '=', 0 for
 * anything else; b64_val() maps it to 0..63, 64 for '=', 255 else. */
static const uint8_t b64_tab[256] = {
    ['A'] = 1,	['B'] = 2,  ['C'] = 3,	['D'] = 4,  ['E'] = 5,	['F'] = 6,
    ['G'] = 7,	['H'] = 8,  ['I'] = 9,	['J'] = 10, ['K'] = 11, ['L'] = 12,
    ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
    ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
    ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
    ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
    ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
    ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
    ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64, ['='] = 65,
};

static inline uint8_t b64_val(uint8_t c)
{
	return (uint8_t)(b64_tab[c] - 1);
}

/* Pre-shifted sextets for the fast path: a group of four characters is
 * four lookups OR-ed together; any character outside the alphabet
 * (including '=') sets bit 31, which sends the group to the slow path. */
static uint32_t b64_sh[4][256];
static bool b64_have_avx2;

__attribute__((constructor)) static void b64_tables_init(void)
{
#ifdef SCAN_B64_AVX2
	b64_have_avx2 = __builtin_cpu_supports("avx2");
#endif
	for (int c = 0; c < 256; c++) {
		uint8_t v = b64_val((uint8_t)c);
		for (int k = 0; k < 4; k++)
			b64_sh[k][c] =
			    v < 64 ? (uint32_t)v << (18 - 6 * k) : 0x80000000u;
	}
}

#ifdef SCAN_B64_AVX2
/*
 * 32 characters to 24 bytes per step with AVX2, after Muła and Lemire,
 * "Faster Base64 Encoding and Decoding Using AVX2 Instructions" (2018):
 * classify each byte by its nibbles (a character is in the alphabet iff
 * lut_lo[low] & lut_hi[high] is zero), add a per-class offset to get the
 * sextet, then pack four sextets into three bytes with two multiply-adds
 * and a shuffle.  Stops at the first block holding anything else (line
 * ends, '=', junk), which the scalar code then handles.  Writes up to 8
 * bytes past the 24 it produces: SCAN_DEC_OUT_MAX leaves room for that.
 */
__attribute__((target("avx2"))) static size_t
b64_avx2(const uint8_t *in, size_t len, uint8_t *out, size_t *used)
{
	const __m256i lut_lo = _mm256_setr_epi8(
	    0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13,
	    0x1a, 0x1b, 0x1b, 0x1b, 0x1a, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11,
	    0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a);
	const __m256i lut_hi = _mm256_setr_epi8(
	    0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10,
	    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08,
	    0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
	const __m256i lut_roll = _mm256_setr_epi8(
	    0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 19,
	    4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m256i nib = _mm256_set1_epi8(0x0f);
	const __m256i slash = _mm256_set1_epi8('/');
	const __m256i pack = _mm256_setr_epi8(
	    2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1, 0, 6,
	    5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
	const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
	size_t i = 0, o = 0;

	while (i + 32 <= len) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(in + i));
		__m256i hi = _mm256_and_si256(_mm256_srli_epi32(v, 4), nib);
		__m256i lo = _mm256_and_si256(v, nib);
		__m256i cl = _mm256_and_si256(_mm256_shuffle_epi8(lut_lo, lo),
					      _mm256_shuffle_epi8(lut_hi, hi));
		if (!_mm256_testz_si256(cl, cl))
			break;
		__m256i roll = _mm256_shuffle_epi8(
		    lut_roll, _mm256_add_epi8(_mm256_cmpeq_epi8(v, slash), hi));
		v = _mm256_add_epi8(v, roll);
		v = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
		v = _mm256_madd_epi16(v, _mm256_set1_epi32(0x00011000));
		v = _mm256_shuffle_epi8(v, pack);
		v = _mm256_permutevar8x32_epi32(v, join);
		_mm256_storeu_si256((__m256i *)(out + o), v);
		i += 32;
		o += 24;
	}
	*used = i;
	return o;
}
#endif

size_t scan_b64_decode(struct scan_b64 *d, const uint8_t *restrict in,
		       size_t len, uint8_t *restrict out)
{
	uint8_t *restrict o = out;
	uint32_t acc = d->acc;
	unsigned n = d->n;
	size_t i = 0;

	for (;;) {
#ifdef SCAN_B64_AVX2
		if (n == 0 && b64_have_avx2 && i + 32 <= len) {
			size_t used;
			o += b64_avx2(in + i, len - i, o, &used);
			i += used;
		}
#endif
		while (n == 0 && i + 8 <= len) {
			uint32_t v = b64_sh[0][in[i]] | b64_sh[1][in[i + 1]] |
				     b64_sh[2][in[i + 2]] |
				     b64_sh[3][in[i + 3]];
			uint32_t w =
			    b64_sh[0][in[i + 4]] | b64_sh[1][in[i + 5]] |
			    b64_sh[2][in[i + 6]] | b64_sh[3][in[i + 7]];
			if ((v | w) & 0x80000000u)
				break;
			o[0] = (uint8_t)(v >> 16);
			o[1] = (uint8_t)(v >> 8);
			o[2] = (uint8_t)v;
			o[3] = (uint8_t)(w >> 16);
			o[4] = (uint8_t)(w >> 8);
			o[5] = (uint8_t)w;
			o += 6;
			i += 8;
		}
		while (n == 0 && i + 4 <= len) {
			uint32_t v = b64_sh[0][in[i]] | b64_sh[1][in[i + 1]] |
				     b64_sh[2][in[i + 2]] |
				     b64_sh[3][in[i + 3]];
			if (v & 0x80000000u)
				break;
			o[0] = (uint8_t)(v >> 16);
			o[1] = (uint8_t)(v >> 8);
			o[2] = (uint8_t)v;
			o += 3;
			i += 4;
		}
		if (i >= len)
			break;
		uint8_t v = b64_val(in[i++]);
		if (v == 255)
			continue; /* CR, LF, whitespace, junk: skipped */
		if (v == 64) {
			/* Padding ends the group: emit what it held and
			 * start afresh, so concatenated encodings decode. */
			if (n == 2)
				*o++ = (uint8_t)(acc >> 4);
			else if (n == 3) {
				*o++ = (uint8_t)(acc >> 10);
				*o++ = (uint8_t)(acc >> 2);
			}
			acc = 0;
			n = 0;
			continue;
		}
		acc = acc << 6 | v;
		if (++n == 4) {
			o[0] = (uint8_t)(acc >> 16);
			o[1] = (uint8_t)(acc >> 8);
			o[2] = (uint8_t)acc;
			o += 3;
			acc = 0;
			n = 0;
		}
	}
	d->acc = acc;
	d->n = n;
	return (size_t)(o - out);
}

size_t scan_b64_finish(struct scan_b64 *d, uint8_t *out)
{
	size_t w = 0;

	if (d->n == 2) {
		out[w++] = (uint8_t)(d->acc >> 4);
	} else if (d->n == 3) {
		out[w++] = (uint8_t)(d->acc >> 10);
		out[w++] = (uint8_t)(d->acc >> 2);
	}
	scan_b64_init(d);
	return w;
}

enum {
	SCAN_QP_TEXT = 0,
	SCAN_QP_EQ,   /* saw '=' */
	SCAN_QP_HEX,  /* saw '=' and one hex digit */
	SCAN_QP_SOFT, /* saw '=' then CR or padding: soft line break */
};

size_t scan_qp_decode(struct scan_qp *d, const uint8_t *in, size_t len,
		      uint8_t *out)
{
	uint8_t *o = out;
	unsigned st = d->st;
	uint8_t hi = d->hi;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		int h;

		switch (st) {
		case SCAN_QP_TEXT:
			if (c == '=')
				st = SCAN_QP_EQ;
			else
				*o++ = c;
			break;
		case SCAN_QP_EQ:
			if ((h = mx_hexval(c)) >= 0) {
				hi = (uint8_t)h;
				st = SCAN_QP_HEX;
			} else if (c == '\n') {
				st = SCAN_QP_TEXT; /* soft break, bare LF */
			} else if (c == '\r' || c == ' ' || c == '\t') {
				/* RFC 2045 §6.7 (3): padding may sit before
				 * the CRLF of a soft line break. */
				st = SCAN_QP_SOFT;
			} else {
				*o++ = '=';
				if (c == '=')
					break; /* stay in EQ */
				*o++ = c;
				st = SCAN_QP_TEXT;
			}
			break;
		case SCAN_QP_HEX:
			if ((h = mx_hexval(c)) >= 0) {
				*o++ = (uint8_t)(hi << 4 | h);
				st = SCAN_QP_TEXT;
			} else {
				*o++ = '=';
				*o++ = "0123456789ABCDEF"[hi];
				if (c == '=') {
					st = SCAN_QP_EQ;
				} else {
					*o++ = c;
					st = SCAN_QP_TEXT;
				}
			}
			break;
		case SCAN_QP_SOFT:
			if (c == '\n')
				st = SCAN_QP_TEXT;
			else if (c != '\r' && c != ' ' && c != '\t') {
				/* Not a soft break after all: '=' then
				 * whitespace was literal text; keep going. */
				if (c == '=') {
					st = SCAN_QP_EQ;
				} else {
					*o++ = c;
					st = SCAN_QP_TEXT;
				}
			}
			break;
		}
	}
	d->st = st;
	d->hi = hi;
	return (size_t)(o - out);
}

size_t scan_qp_finish(struct scan_qp *d, uint8_t *out)
{
	size_t w = 0;

	if (d->st == SCAN_QP_EQ) {
		out[w++] = '=';
	} else if (d->st == SCAN_QP_HEX) {
		out[w++] = '=';
		out[w++] = (uint8_t) "0123456789ABCDEF"[d->hi];
	}
	scan_qp_init(d);
	return w;
}
