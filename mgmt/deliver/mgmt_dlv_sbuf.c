/*
 * mgmt_dlv_sbuf — growable buffer used by the delivery builders.
 */
#include "mgmt_dlv_sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool sbuf_reserve(struct mgmt_dlv_sbuf *b, size_t n)
{
	size_t want;
	uint8_t *p;

	if (b->failed)
		return false;
	if (b->size - b->len > n)
		return true;
	want = b->size ? b->size : 256;
	while (want - b->len <= n) {
		if (want > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		want *= 2;
	}
	p = realloc(b->data, want);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->size = want;
	return true;
}

void mgmt_dlv_sbuf_append(struct mgmt_dlv_sbuf *b, const void *p, size_t n)
{
	if (!sbuf_reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void mgmt_dlv_sbuf_puts(struct mgmt_dlv_sbuf *b, const char *s)
{
	mgmt_dlv_sbuf_append(b, s, strlen(s));
}

void mgmt_dlv_sbuf_printf(struct mgmt_dlv_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!sbuf_reserve(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void mgmt_dlv_sbuf_put_clean(struct mgmt_dlv_sbuf *b, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (!sbuf_reserve(b, n))
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		b->data[b->len++] = (c < 0x20 || c == 0x7f) ? ' ' : c;
	}
	b->data[b->len] = 0;
}

void mgmt_dlv_sbuf_reset(struct mgmt_dlv_sbuf *b)
{
	b->len = 0;
	b->failed = false;
}

void mgmt_dlv_sbuf_free(struct mgmt_dlv_sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
	b->failed = false;
}
