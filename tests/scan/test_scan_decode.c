/*
 * test_scan_decode — the streaming base64 and quoted-printable decoders:
 * a table of inputs and expected bytes, each also fed split at every byte
 * (and byte by byte), plus a round trip of random data through base64.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "scan_decode.h"
#include "scan_test.h"

enum enc { B64, QP };

static const struct {
	enum enc enc;
	const char *in;
	const char *want;
} cases[] = {
    {B64, "", ""},
    {B64, "aGVsbG8=", "hello"},
    {B64, "aGVsbG8gd29ybGQ=\r\n", "hello world"},
    {B64, "aGVs\r\nbG8g\r\nd29y\r\nbGQ=", "hello world"},
    {B64, "aGk", "hi"}, /* missing padding: flushed at end */
    {B64, "aA==", "h"},
    {B64, "aA==aGk=", "hhi"},	    /* concatenated encodings */
    {B64, "a G\tV sbG8=", "hello"}, /* junk whitespace skipped */
    {B64, "aGVs!!bG8=", "hello"},   /* junk characters skipped */
    {B64, "TVqQAAMAAAAEAAAA", "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00"},
    {QP, "", ""},
    {QP, "plain text", "plain text"},
    {QP, "a=3Db", "a=b"},
    {QP, "caf=C3=A9", "caf\xc3\xa9"},
    {QP, "caf=c3=a9", "caf\xc3\xa9"}, /* lower-case hex tolerated */
    {QP, "soft=\r\nbreak", "softbreak"},
    {QP, "soft=\nbreak", "softbreak"},
    {QP, "pad=  \r\nded", "padded"}, /* RFC 2045 §6.7 (3) */
    {QP, "line1\r\nline2", "line1\r\nline2"},
    {QP, "bad=ZZ", "bad=ZZ"},
    {QP, "bad=4", "bad=4"}, /* truncated at end */
    {QP, "bad=4Z", "bad=4Z"},
    {QP, "x==41", "x=A"},
    {QP, "end=", "end="},
    {QP, "<scr=\r\nipt>", "<script>"},
};

/* Decodes in two pieces split at k (k == len: one piece). */
static size_t decode_split(enum enc e, const uint8_t *in, size_t len, size_t k,
			   uint8_t *out)
{
	struct scan_b64 b;
	struct scan_qp q;
	size_t n = 0;

	scan_b64_init(&b);
	scan_qp_init(&q);
	if (e == B64) {
		n += scan_b64_decode(&b, in, k, out + n);
		n += scan_b64_decode(&b, in + k, len - k, out + n);
		n += scan_b64_finish(&b, out + n);
	} else {
		n += scan_qp_decode(&q, in, k, out + n);
		n += scan_qp_decode(&q, in + k, len - k, out + n);
		n += scan_qp_finish(&q, out + n);
	}
	return n;
}

static size_t decode_bytewise(enum enc e, const uint8_t *in, size_t len,
			      uint8_t *out)
{
	struct scan_b64 b;
	struct scan_qp q;
	size_t n = 0;

	scan_b64_init(&b);
	scan_qp_init(&q);
	for (size_t i = 0; i < len; i++)
		n += e == B64 ? scan_b64_decode(&b, in + i, 1, out + n)
			      : scan_qp_decode(&q, in + i, 1, out + n);
	n += e == B64 ? scan_b64_finish(&b, out + n)
		      : scan_qp_finish(&q, out + n);
	return n;
}

static size_t want_len(const char *in, const char *want)
{
	/* The MZ case carries NULs: its length is 12. */
	return want[0] == 'M' && want[1] == 'Z' ? 12 : strlen(want);
}

static void b64_encode(const uint8_t *in, size_t len, char *out, bool wrap)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789+/";
	size_t o = 0, col = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < len ? a[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? a[v & 63] : '=';
		if (wrap && (col += 4) == 76) {
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
		}
	}
	out[o] = 0;
}

int main(void)
{
	static uint8_t out[SCAN_DEC_OUT_MAX(4096)];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const uint8_t *in = (const uint8_t *)cases[c].in;
		size_t len = strlen(cases[c].in);
		size_t wl = want_len(cases[c].in, cases[c].want);
		for (size_t k = 0; k <= len; k++) {
			size_t n = decode_split(cases[c].enc, in, len, k, out);
			CHECKF(n == wl && memcmp(out, cases[c].want, wl) == 0,
			       "case %zu (%s) split at %zu: got %zu bytes", c,
			       cases[c].in, k, n);
		}
		size_t n = decode_bytewise(cases[c].enc, in, len, out);
		CHECKF(n == wl && memcmp(out, cases[c].want, wl) == 0,
		       "case %zu byte by byte", c);
	}

	/* Round trip: every length 0..1200 of pseudo-random bytes (all 64
	 * symbols, so the SIMD path's classes are all hit), wrapped at 76
	 * columns and unwrapped, split at every byte for some lengths. */
	static uint8_t data[1200];
	static char enc[2000];
	srand(7);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	for (int wrap = 0; wrap < 2; wrap++) {
		for (size_t len = 0; len <= sizeof(data); len++) {
			b64_encode(data, len, enc, wrap);
			size_t el = strlen(enc);
			size_t step = len % 97 == 0 ? 1 : el + 1;
			for (size_t k = 0; k <= el; k += step) {
				size_t n = decode_split(
				    B64, (const uint8_t *)enc, el, k, out);
				CHECKF(n == len && memcmp(out, data, len) == 0,
				       "round trip len %zu wrap %d split %zu",
				       len, wrap, k);
			}
		}
	}
	/* A junk byte in every position of a long run: skipped, and the
	 * rest decodes the same. */
	b64_encode(data, 600, enc, false);
	size_t el = strlen(enc);
	for (size_t k = 0; k < el; k += 7) {
		char tmp[1000];
		memcpy(tmp, enc, k);
		tmp[k] = '\x80';
		memcpy(tmp + k + 1, enc + k, el - k);
		size_t n = decode_split(B64, (const uint8_t *)tmp, el + 1,
					el + 1, out);
		CHECKF(n == 600 && memcmp(out, data, 600) == 0, "junk at %zu",
		       k);
	}
	return TEST_EXIT();
}
