/*
 * mx_buf.c — fixed-capacity byte buffer (see mx_buf.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mx_buf.h"

int mx_buf_append(struct mx_buf *b, const void *data, size_t len)
{
	if (len > mx_buf_room(b))
		return -ENOBUFS;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int mx_buf_appendf(struct mx_buf *b, const char *fmt, ...)
{
	size_t room = mx_buf_room(b);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, room, fmt, ap);
	va_end(ap);
	/* vsnprintf needs room for its NUL even though we do not keep it. */
	if (n < 0 || (size_t)n >= room)
		return -ENOBUFS;
	b->len += (size_t)n;
	return 0;
}

void mx_buf_consume(struct mx_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}
