/*
 * dp_smtp_line — the command line reader: accumulates one CRLF-terminated
 * line from arbitrarily segmented input into a fixed buffer.
 *
 * Only CRLF ends a line properly (RFC 5321 §2.3.8).  A bare LF also ends
 * the line, so that a broken client gets an answer instead of a hang, but
 * the line is flagged; so are a bare CR (CR not followed by LF), a NUL, and
 * a line longer than the limit (RFC 5321 §4.5.3.1.4, CRLF included).  The
 * caller refuses a flagged line.  Bytes over the limit are counted, not
 * stored.  Pure; one owner; no allocation.
 */
#ifndef DP_SMTP_LINE_H
#define DP_SMTP_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_SMTP_LINE_BARE_LF 1u
#define DP_SMTP_LINE_BARE_CR 2u
#define DP_SMTP_LINE_NUL 4u
#define DP_SMTP_LINE_TOO_LONG 8u

struct dp_smtp_line {
	char *buf;	/* max - 1 content bytes + a NUL terminator */
	size_t max;	/* limit on the whole line, CRLF included */
	size_t len;	/* content bytes stored */
	size_t total;	/* bytes of this line seen so far */
	unsigned flags; /* DP_SMTP_LINE_* */
	bool cr;	/* the previous byte was a CR */
};

/* storage must hold max - 1 bytes; max >= 3. */
void dp_smtp_line_init(struct dp_smtp_line *l, char *storage, size_t max);
/* Forgets the current line (after the caller has used it). */
void dp_smtp_line_reset(struct dp_smtp_line *l);

/*
 * Consumes bytes up to and including the first LF.  Returns the number
 * consumed; *done is true when a line ended, and then buf holds its content
 * (without the CR LF, NUL-terminated, NULs and stray CRs removed) and
 * flags says what was wrong with it.
 */
size_t dp_smtp_line_feed(struct dp_smtp_line *l, const uint8_t *p, size_t n,
			 bool *done);

#endif
