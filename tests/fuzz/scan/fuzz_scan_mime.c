/*
 * fuzz_scan_mime — libFuzzer target for the MIME walker and its decoders.
 * The first two input bytes choose a split point; the rest is a message,
 * walked whole and walked in two pieces.  Both walks must report the same
 * events (a fingerprint of every callback and its bytes), which is the
 * walker's streaming contract; ASan/UBSan watch the memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fp {
	uint64_t h;
	uint64_t body_bytes;
};

static void mix(struct fp *f, uint64_t tag, const uint8_t *p, size_t n)
{
	uint64_t h = f->h ^ tag * 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	f->h = h;
}

static void on_header(void *a, unsigned d, const uint8_t *l, size_t n)
{
	mix(a, 1 + d, l, n);
}

static void on_hend(void *a, unsigned d)
{
	mix(a, 100 + d, NULL, 0);
}

static void on_begin(void *a, const struct scan_mime_part *p)
{
	mix(a, 200 + p->cte, (const uint8_t *)p->type, strlen(p->type));
}

static void on_name(void *a, const uint8_t *n, size_t len)
{
	if (len > SCAN_MIME_NAME_MAX)
		abort();
	mix(a, 300, n, len);
}

static void on_body(void *a, const uint8_t *d, size_t n)
{
	/* Body bytes arrive in pieces that depend on the split: fold them
	 * byte by byte so the fingerprint does not see the piece sizes. */
	struct fp *f = a;
	for (size_t i = 0; i < n; i++)
		f->h = (f->h ^ d[i]) * 0x100000001b3ull;
	f->body_bytes += n;
}

static void on_end(void *a)
{
	mix(a, 400, NULL, 0);
}

static const struct scan_mime_cb cb = {
    on_header, on_hend, on_begin, on_name, on_body, on_end,
};

static struct fp walk(const uint8_t *p, size_t n, size_t k)
{
	static struct scan_mime m;
	struct fp f = {0, 0};

	scan_mime_init(&m, 8, &cb, &f);
	scan_mime_feed(&m, p, k);
	scan_mime_feed(&m, p + k, n - k);
	scan_mime_finish(&m);
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t k = (size_t)(data[0] | data[1] << 8);
	data += 2;
	size -= 2;
	if (k > size)
		k = size ? k % (size + 1) : 0;
	struct fp whole = walk(data, size, size);
	struct fp split = walk(data, size, k);
	if (whole.h != split.h || whole.body_bytes != split.body_bytes)
		abort();
	return 0;
}
