/*
 * dp_smtp_line — CRLF line reader for SMTP commands (see dp_smtp_line.h).
 */
#include "dp_smtp_line.h"

#include "mx_log.h"

void dp_smtp_line_init(struct dp_smtp_line *l, char *storage, size_t max)
{
	MX_ASSERT(max >= 3);
	l->buf = storage;
	l->max = max;
	dp_smtp_line_reset(l);
}

void dp_smtp_line_reset(struct dp_smtp_line *l)
{
	l->len = 0;
	l->total = 0;
	l->flags = 0;
	l->cr = false;
	l->buf[0] = '\0';
}

size_t dp_smtp_line_feed(struct dp_smtp_line *l, const uint8_t *p, size_t n,
			 bool *done)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		l->total++;
		if (l->total > l->max)
			l->flags |= DP_SMTP_LINE_TOO_LONG;
		if (c == '\n') {
			if (!l->cr)
				l->flags |= DP_SMTP_LINE_BARE_LF;
			l->cr = false;
			l->buf[l->len] = '\0';
			*done = true;
			return i + 1;
		}
		if (l->cr) {
			/* The CR before this byte was not part of a CRLF. */
			l->flags |= DP_SMTP_LINE_BARE_CR;
			l->cr = false;
		}
		if (c == '\r') {
			l->cr = true;
			continue;
		}
		if (c == '\0') {
			l->flags |= DP_SMTP_LINE_NUL;
			continue;
		}
		/* Two bytes of the limit are kept for the CRLF. */
		if (l->len + 2 < l->max)
			l->buf[l->len++] = (char)c;
	}
	*done = false;
	return n;
}
