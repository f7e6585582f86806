/*
 * mgmt_dlv_reply — incremental parser for SMTP/LMTP server replies
 * (RFC 5321 §4.2): one or more lines "ddd-text" ending with "ddd text",
 * every line carrying the same three-digit code, plus the optional
 * enhanced status code of RFC 2034 / RFC 3463 at the start of the text.
 *
 * Bytes may arrive split anywhere; the parser keeps the partial line.  A
 * caller-owned struct, no allocation; one owner (the delivery thread).
 *
 * Outcomes of mgmt_dlv_reply_parse:
 *   1        a reply is complete in *out; *used bytes were consumed
 *   0        need more input; all `len` bytes were consumed
 *   -EPROTO  malformed reply (bad code, mixed codes, too many lines);
 *            the connection must be closed
 */
#ifndef MGMT_DLV_REPLY_H
#define MGMT_DLV_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define MGMT_DLV_REPLY_TEXT_SIZE 2048 /* kept text, lines joined by '\n' */
#define MGMT_DLV_REPLY_LINE_MAX 4096  /* longer lines are truncated */
#define MGMT_DLV_REPLY_LINES_MAX 200  /* lines in one reply */

struct mgmt_dlv_reply {
	int code;			     /* 200..599 */
	char enh[16];			     /* "4.2.1" or "" */
	char text[MGMT_DLV_REPLY_TEXT_SIZE]; /* lines without the code */
	size_t text_len;
	unsigned line_count;
};

struct mgmt_dlv_reply_parser {
	char line[MGMT_DLV_REPLY_LINE_MAX];
	size_t line_len;
	int code; /* code of the lines so far, 0 if none */
	unsigned line_count;
	struct mgmt_dlv_reply cur;
};

void mgmt_dlv_reply_init(struct mgmt_dlv_reply_parser *p);

int mgmt_dlv_reply_parse(struct mgmt_dlv_reply_parser *p, const uint8_t *in,
			 size_t len, size_t *used, struct mgmt_dlv_reply *out);

/*
 * The reply as one line for logs and DSN diagnostics ("550 5.1.1 no such
 * user"), line breaks replaced by spaces, control bytes by '?'.  Returns
 * the length (truncated to size - 1).
 */
size_t mgmt_dlv_reply_format(const struct mgmt_dlv_reply *r, char *buf,
			     size_t size);

#endif
