/*
 * mx_buf — a byte buffer with a fixed capacity set at init, for building
 * replies, headers and control messages without allocating on the hot path.
 * Appends that do not fit fail and leave the buffer unchanged.
 */
#ifndef MX_BUF_H
#define MX_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_buf {
	uint8_t *data;
	size_t len;	/* bytes used */
	size_t size;	/* capacity */
};

/* Caller-provided storage. */
static inline void mx_buf_init(struct mx_buf *b, void *storage, size_t size)
{
	b->data = storage;
	b->len = 0;
	b->size = size;
}

static inline size_t mx_buf_room(const struct mx_buf *b)
{
	return b->size - b->len;
}

/* 0 or -ENOBUFS (nothing appended). */
int mx_buf_append(struct mx_buf *b, const void *data, size_t len);
int mx_buf_appendf(struct mx_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void mx_buf_consume(struct mx_buf *b, size_t n);

#endif
