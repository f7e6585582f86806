/*
 * mgmt_dlv_sbuf — a growable byte buffer for building messages on the
 * management plane (DSNs, command batches), where malloc is allowed.
 * A failed allocation sets `failed` and later appends do nothing, so a
 * builder checks once at the end.  One owner; no thread restrictions.
 */
#ifndef MGMT_DLV_SBUF_H
#define MGMT_DLV_SBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mgmt_dlv_sbuf {
	uint8_t *data;
	size_t len;
	size_t size;
	bool failed;
};

void mgmt_dlv_sbuf_append(struct mgmt_dlv_sbuf *b, const void *p, size_t n);
void mgmt_dlv_sbuf_puts(struct mgmt_dlv_sbuf *b, const char *s);
void mgmt_dlv_sbuf_printf(struct mgmt_dlv_sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s with CR, LF and other control bytes replaced by spaces, at
 * most max bytes: for header values built from peer data. */
void mgmt_dlv_sbuf_put_clean(struct mgmt_dlv_sbuf *b, const char *s,
			     size_t max);
void mgmt_dlv_sbuf_reset(struct mgmt_dlv_sbuf *b); /* len = 0, keeps memory */
void mgmt_dlv_sbuf_free(struct mgmt_dlv_sbuf *b);

#endif
