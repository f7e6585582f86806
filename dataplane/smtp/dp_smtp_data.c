/*
 * dp_smtp_data — the DATA command and its text: dot-unstuffing and the
 * end-of-data test (RFC 5321 §4.1.1.4, §4.5.2), across any segmentation.
 *
 * The end of data is exactly <CRLF>.<CRLF>: a line holding just "." that
 * began after a CRLF (or right after the DATA command) and ends in CRLF.
 * A line start is only ever a CRLF, so <LF>.<LF>, <LF>.<CRLF>, <CR>.<CR>,
 * <CRLF>.<LF> and friends never end the message: they are bare CR/LF, and
 * bare CR/LF, or a NUL (RFC 6152 §2), anywhere in the text get the whole
 * message refused with 554 5.6.0 at its real end.  This closes the SMTP
 * smuggling class (CVE-2023-51764/5/6): no client can make us see two
 * messages where a downstream server sees one, or the reverse.
 *
 * Text runs are passed to the host straight from the input buffer; only
 * the stuffed dot is left out, and a CR that ends one input buffer is
 * held until the next byte says what it was.
 */
#include <errno.h>
#include <string.h>

#include "dp_smtp_impl.h"

static const char cr_byte[1] = {'\r'};

void dp_smtp_cmd_data(struct dp_smtp_session *s, char *arg, size_t len)
{
	struct dp_smtp_txn *t = &s->txn;
	int rc;

	if (t->body_binary) {
		/* RFC 3030 §3: BINARYMIME can only be sent with BDAT. */
		dp_smtp_reply_error(
		    s, smtp_err_bad_sequence,
		    "503 5.5.1 Error: BODY=BINARYMIME requires BDAT");
		return;
	}
	rc = dp_smtp_msg_open(s);
	if (rc < 0) {
		if (rc == -ENOSPC)
			dp_smtp_reply(s,
				      "452 4.3.1 Insufficient system storage");
		else if (rc == -EAGAIN)
			dp_smtp_reply(s, DP_SMTP_REPLY_AGAIN);
		else
			dp_smtp_reply(
			    s, "451 4.3.0 Error: queue file write error");
		return;
	}
	t->data_st = DP_SMTP_D_BOL;
	t->held_cr = false;
	t->text_line_len = 0;
	s->mode = DP_SMTP_MODE_DATA;
	dp_smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* The end of the plain text run at p[i..n): the first CR, LF or NUL, or n.
 * memchr is vectorised in libc, three passes beat one byte loop. */
static size_t text_span(const uint8_t *p, size_t i, size_t n)
{
	const uint8_t *q = p + i, *e;
	size_t end = n - i;

	e = memchr(q, '\r', end);
	if (e != NULL)
		end = (size_t)(e - q);
	e = memchr(q, '\n', end);
	if (e != NULL)
		end = (size_t)(e - q);
	e = memchr(q, '\0', end);
	if (e != NULL)
		end = (size_t)(e - q);
	return i + end;
}

static void bad_newline(struct dp_smtp_session *s, bool cr)
{
	if (s->txn.fail < DP_SMTP_FAIL_BARE_NL) {
		/* Once per message: the smuggling signature. */
		DP_SMTP_NOTE(s, "bare_newline_in_data");
		if (cr)
			DP_SMTP_COUNT(smtp_err_bare_cr);
		else
			DP_SMTP_COUNT(smtp_err_bare_lf);
	}
	dp_smtp_msg_fail(s, DP_SMTP_FAIL_BARE_NL);
}

/* RFC 5321 §4.5.3.1.6: 1000 octets per text line, CRLF included. */
static void line_grew(struct dp_smtp_session *s, size_t n)
{
	struct dp_smtp_txn *t = &s->txn;

	t->text_line_len += n;
	if (t->text_line_len + 2 > s->conf->text_line_max &&
	    t->fail < DP_SMTP_FAIL_LONG_LINE) {
		DP_SMTP_COUNT(smtp_err_text_too_long);
		dp_smtp_msg_fail(s, DP_SMTP_FAIL_LONG_LINE);
	}
}

size_t dp_smtp_data_feed(struct dp_smtp_session *s, const uint8_t *p, size_t n)
{
	struct dp_smtp_txn *t = &s->txn;
	size_t i = 0, run = 0;

	if (t->held_cr) {
		t->held_cr = false;
		/* A CR inside a line: it belongs to the text, whatever
		 * follows (if not LF the message is refused anyway). */
		if (t->data_st == DP_SMTP_D_CR)
			dp_smtp_msg_write(s, cr_byte, 1);
	}
	while (i < n) {
		uint8_t c = p[i];

		switch (t->data_st) {
		case DP_SMTP_D_BOL:
			t->text_line_len = 0;
			if (c == '.') {
				/* Hold the dot: end of data or stuffing. */
				dp_smtp_msg_write(s, p + run, i - run);
				i++;
				run = i;
				line_grew(s, 1);
				t->data_st = DP_SMTP_D_DOT;
				continue;
			}
			t->data_st = DP_SMTP_D_MID;
			continue;
		case DP_SMTP_D_MID: {
			size_t start = i;

			i = text_span(p, i, n);
			line_grew(s, i - start);
			if (i == n)
				break;
			c = p[i];
			if (c == '\r') {
				t->data_st = DP_SMTP_D_CR;
			} else if (c == '\n') {
				bad_newline(s, false);
				line_grew(s, 1);
			} else {
				if (t->fail < DP_SMTP_FAIL_NUL)
					DP_SMTP_COUNT(smtp_err_nul);
				dp_smtp_msg_fail(s, DP_SMTP_FAIL_NUL);
				line_grew(s, 1);
			}
			i++;
			continue;
		}
		case DP_SMTP_D_CR:
			if (c == '\n') {
				t->data_st = DP_SMTP_D_BOL;
				i++;
				continue;
			}
			bad_newline(s, true);
			line_grew(s, 1);
			t->data_st = DP_SMTP_D_MID;
			continue;
		case DP_SMTP_D_DOT:
			if (c == '\r') {
				t->data_st = DP_SMTP_D_DOTCR;
				i++;
				continue;
			}
			/* RFC 5321 §4.5.2: drop the stuffed dot.  run already
			 * starts after it. */
			t->data_st = DP_SMTP_D_MID;
			continue;
		case DP_SMTP_D_DOTCR:
			i++;
			if (c == '\n') {
				/* <CRLF>.<CRLF>: the held ".\r" is not text. */
				dp_smtp_msg_end(s);
				return i;
			}
			/* ".<CR>x": a bare CR; the message is refused. */
			bad_newline(s, true);
			run = i - 1;
			i--;
			t->data_st = DP_SMTP_D_MID;
			continue;
		}
	}
	if (t->data_st == DP_SMTP_D_CR || t->data_st == DP_SMTP_D_DOTCR) {
		/* The last byte is a CR whose meaning the next byte decides. */
		if (t->data_st == DP_SMTP_D_CR)
			dp_smtp_msg_write(s, p + run, n - 1 - run);
		t->held_cr = true;
		return n;
	}
	dp_smtp_msg_write(s, p + run, n - run);
	return n;
}
