/*
 * dp_smtp_bdat — CHUNKING (RFC 3030): "BDAT n [LAST]" followed by exactly
 * n bytes, binary-safe, with no dot or line processing.
 *
 * Once n has parsed, the n bytes are always read, even when the command is
 * refused (out of sequence, message failed): otherwise the chunk would be
 * taken for commands (RFC 3030 §4 expects the server to consume it).  The
 * reply comes after the chunk: 250 for a middle chunk, the commit outcome
 * for the last one.  A refused chunk ends the transaction.  The size limit
 * is applied to the running total of the chunks.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "dp_smtp_impl.h"

void dp_smtp_cmd_bdat(struct dp_smtp_session *s, char *arg, size_t len)
{
	struct dp_smtp_txn *t = &s->txn;
	uint64_t n = 0;
	size_t i = 0;
	bool last = false;

	/* chunk-size = 1*DIGIT; end-marker = "LAST" (RFC 3030 §2). */
	while (i < len && arg[i] >= '0' && arg[i] <= '9' && i < 19)
		n = n * 10 + (uint64_t)(arg[i++] - '0');
	if (i > 0 && i < len && arg[i] == ' ') {
		size_t k = i;

		while (k < len && arg[k] == ' ')
			k++;
		if (len - k == 4 && strncasecmp(arg + k, "LAST", 4) == 0) {
			last = true;
			i = len;
		}
	}
	if (i == 0 || i != len) {
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "501 5.5.4 Syntax: BDAT chunk-size [LAST]");
		return;
	}
	t->chunk_left = n;
	t->chunk_size = n;
	t->chunk_last = last;
	t->chunk_reply = DP_SMTP_CHUNK_OK;
	/* RFC 3030 lets a client use BDAT only after EHLO showed CHUNKING,
	 * but clients that send it after HELO exist (smtpping does) and the
	 * command is unambiguous, so when CHUNKING is on it is accepted in a
	 * HELO session too: refusing would only bounce good mail. */
	if (!s->conf->ext_chunking)
		t->chunk_reply = DP_SMTP_CHUNK_NOT_OFFERED;
	else if (s->state != DP_SMTP_ST_RCPT && s->state != DP_SMTP_ST_BDAT)
		t->chunk_reply = DP_SMTP_CHUNK_SEQUENCE;
	if (t->chunk_reply == DP_SMTP_CHUNK_OK && s->state == DP_SMTP_ST_RCPT) {
		int rc = dp_smtp_msg_open(s);

		if (rc < 0)
			t->fail = rc == -ENOSPC	  ? DP_SMTP_FAIL_HOST_NOSPC
				  : rc == -EAGAIN ? DP_SMTP_FAIL_HOST_AGAIN
						  : DP_SMTP_FAIL_HOST_TEMP;
		s->state = DP_SMTP_ST_BDAT;
	}
	if (t->chunk_reply == DP_SMTP_CHUNK_OK &&
	    n > s->conf->msg_size_max - t->body_len &&
	    t->fail < DP_SMTP_FAIL_SIZE) {
		/* Known too big before reading it: stop queueing now. */
		DP_SMTP_COUNT(smtp_err_size_exceeded);
		dp_smtp_msg_fail(s, DP_SMTP_FAIL_SIZE);
	}
	if (t->chunk_reply == DP_SMTP_CHUNK_OK && t->fail != DP_SMTP_FAIL_NONE)
		t->chunk_reply = DP_SMTP_CHUNK_FAIL;
	s->mode = DP_SMTP_MODE_CHUNK;
	if (n == 0)
		dp_smtp_chunk_feed(s, NULL, 0);
}

static void chunk_refused(struct dp_smtp_session *s)
{
	struct dp_smtp_txn *t = &s->txn;

	switch (t->chunk_reply) {
	case DP_SMTP_CHUNK_NOT_OFFERED:
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "502 5.5.1 Error: command not implemented");
		break;
	case DP_SMTP_CHUNK_SEQUENCE:
		/* The state is still the one BDAT was given in. */
		dp_smtp_sequence_error(s, false);
		break;
	default:
		DP_SMTP_COUNT(smtp_messages_rejected);
		dp_smtp_msg_fail_reply(s);
		dp_smtp_txn_reset(s);
		break;
	}
}

size_t dp_smtp_chunk_feed(struct dp_smtp_session *s, const uint8_t *p, size_t n)
{
	struct dp_smtp_txn *t = &s->txn;
	size_t take = t->chunk_left < n ? (size_t)t->chunk_left : n;

	if (t->chunk_reply == DP_SMTP_CHUNK_OK) {
		dp_smtp_msg_write(s, p, take);
		if (t->fail != DP_SMTP_FAIL_NONE)
			t->chunk_reply = DP_SMTP_CHUNK_FAIL;
	}
	t->chunk_left -= take;
	if (t->chunk_left > 0)
		return take;
	s->mode = DP_SMTP_MODE_CMD;
	if (t->chunk_reply != DP_SMTP_CHUNK_OK) {
		chunk_refused(s);
	} else if (t->chunk_last) {
		/* RFC 2920 §3.1 / RFC 3030 §4: the client waits for the reply
		 * to BDAT LAST; what follows waits for the commit (counted). */
		if (take < n)
			DP_SMTP_COUNT(smtp_err_pipelining);
		dp_smtp_msg_end(s);
	} else {
		dp_smtp_reply(s, "250 2.0.0 %llu octets received",
			      (unsigned long long)t->chunk_size);
	}
	return take;
}
