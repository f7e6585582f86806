/*
 * dp_smtp_reply — formats replies into the session's output buffer, counts
 * them by class, and applies the per-session error limit (errors_max).
 *
 * The input loop only dispatches a command when DP_SMTP_REPLY_ROOM bytes
 * are free, so a reply that does not fit is our bug, not the peer's.
 * Replies are appended behind the pending bytes, which never move here:
 * only dp_smtp_output_consume() compacts the buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dp_smtp_impl.h"
#include "mx_log.h"

bool dp_smtp_out_has_room(const struct dp_smtp_session *s)
{
	/* Appends never move pending bytes (a send may be in flight from
	 * them), so only the space behind the tail counts. */
	return s->out_size - s->out_tail >= DP_SMTP_REPLY_ROOM;
}

static void count_class(const char *line)
{
	switch (line[0]) {
	case '2':
		DP_SMTP_COUNT(smtp_reply_2xx);
		break;
	case '3':
		DP_SMTP_COUNT(smtp_reply_3xx);
		break;
	case '4':
		DP_SMTP_COUNT(smtp_reply_4xx);
		break;
	default:
		DP_SMTP_COUNT(smtp_reply_5xx);
		break;
	}
}

/* Appends one formatted reply and its CRLF; false if it does not fit. */
static __attribute__((format(printf, 2, 0))) bool
vreply(struct dp_smtp_session *s, const char *fmt, va_list ap)
{
	size_t room = s->out_size - s->out_tail;
	char *dst = (char *)s->out + s->out_tail;
	int n;

	if (strchr(fmt, '%') == NULL) {
		/* Most replies are constant: skip the printf machinery. */
		size_t len = strlen(fmt);

		if (len + 2 > room)
			return false;
		memcpy(dst, fmt, len);
		n = (int)len;
	} else {
		n = vsnprintf(dst, room, fmt, ap);
		if (n < 0 || (size_t)n + 2 > room)
			return false;
	}
	dst[n] = '\r';
	dst[n + 1] = '\n';
	s->out_tail += (size_t)n + 2;
	count_class(dst);
	return true;
}

void dp_smtp_reply(struct dp_smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = vreply(s, fmt, ap);
	va_end(ap);
	if (!ok)
		mx_panic("smtp: reply does not fit the output buffer");
}

void dp_smtp_close(struct dp_smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->closing)
		return;
	/* A close may come from the host (refuse, timeout) while a client
	 * that does not read has filled the buffer: then the last words are
	 * dropped, the close is not. */
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	s->closing = true;
	if (s->txn.msg_open)
		dp_smtp_msg_fail(s, DP_SMTP_FAIL_HOST_TEMP);
}

void dp_smtp_reply_error(struct dp_smtp_session *s, int err, const char *fmt,
			 ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = vreply(s, fmt, ap);
	va_end(ap);
	if (!ok)
		mx_panic("smtp: reply does not fit the output buffer");
	if (err >= 0)
		MX_COUNT(dp_smtp_counters, (unsigned)err);
	/* RFC 5321 §4.5.3.1: a server may close after too many errors; the
	 * limit stops dictionary attacks and confused clients. */
	if (++s->errors >= s->conf->errors_max && !s->closing) {
		DP_SMTP_COUNT(smtp_err_too_many_errors);
		DP_SMTP_NOTE(s, "too_many_errors");
		dp_smtp_close(s, "421 4.7.0 %s Error: too many errors",
			      s->conf->hostname);
	}
}
