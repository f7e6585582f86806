/*
 * dp_smtp_msg — the life of one message, shared by DATA and BDAT: open it
 * at the host with the complete envelope and write the Received header,
 * pass body bytes on while counting them against msg_size_max, remember
 * the first reason to refuse it (aborting it at the host at once so no
 * queue space is held for a doomed message), and at the end either hand
 * it to the host for commit or send the refusal.
 */
#include <errno.h>

#include "dp_smtp_impl.h"
#include "mx_log.h"

#define RECEIVED_MAX 2048

int dp_smtp_msg_open(struct dp_smtp_session *s)
{
	struct dp_smtp_txn *t = &s->txn;
	struct dp_smtp_envelope env = {
	    .client_addr = s->client_addr,
	    .client_port = s->client_port,
	    .helo = s->helo,
	    .proto = !s->esmtp	   ? "SMTP"
		     : t->smtputf8 ? "UTF8SMTP"
				   : "ESMTP",
	    .mail_from = t->mail_from,
	    .size_declared = t->size_declared,
	    .body_8bit = t->body_8bit,
	    .body_binary = t->body_binary,
	    .smtputf8 = t->smtputf8,
	    .ret = t->ret,
	    .envid = t->envid,
	    .rcpt = s->rcpt,
	    .rcpt_count = t->rcpt_count,
	    .received_wall_ns = s->host->wall_ns(s->ctx),
	};
	char hdr[RECEIVED_MAX];
	size_t n;
	int rc;

	MX_ASSERT(!t->msg_open);
	t->body_len = 0;
	t->fail = DP_SMTP_FAIL_NONE;
	rc = s->host->msg_open(s->ctx, &env, &t->id);
	if (rc < 0) {
		DP_SMTP_COUNT(smtp_host_errors);
		return rc;
	}
	t->msg_open = true;
	n = dp_smtp_received_fmt(s, hdr, sizeof(hdr), env.received_wall_ns);
	MX_ASSERT(n > 0);
	rc = s->host->msg_write(s->ctx, hdr, n);
	if (rc < 0) {
		DP_SMTP_COUNT(smtp_host_errors);
		dp_smtp_msg_fail(s, rc == -EFBIG ? DP_SMTP_FAIL_SIZE
						 : DP_SMTP_FAIL_HOST_TEMP);
	}
	return 0;
}

void dp_smtp_msg_fail(struct dp_smtp_session *s, enum dp_smtp_fail why)
{
	struct dp_smtp_txn *t = &s->txn;

	if (why > t->fail)
		t->fail = why;
	if (t->msg_open) {
		t->msg_open = false;
		s->host->msg_abort(s->ctx);
	}
}

void dp_smtp_msg_write(struct dp_smtp_session *s, const void *p, size_t n)
{
	struct dp_smtp_txn *t = &s->txn;
	int rc;

	if (n == 0)
		return;
	t->body_len += n;
	if (t->body_len > s->conf->msg_size_max) {
		if (t->fail < DP_SMTP_FAIL_SIZE)
			DP_SMTP_COUNT(smtp_err_size_exceeded);
		dp_smtp_msg_fail(s, DP_SMTP_FAIL_SIZE);
		return;
	}
	if (!t->msg_open)
		return;
	rc = s->host->msg_write(s->ctx, p, n);
	if (rc < 0) {
		DP_SMTP_COUNT(smtp_host_errors);
		dp_smtp_msg_fail(s, rc == -EFBIG ? DP_SMTP_FAIL_SIZE
						 : DP_SMTP_FAIL_HOST_TEMP);
	}
}

void dp_smtp_msg_fail_reply(struct dp_smtp_session *s)
{
	switch (s->txn.fail) {
	case DP_SMTP_FAIL_BARE_NL:
		dp_smtp_reply_error(s, -1,
				    "554 5.6.0 Error: bare <CR> or <LF> "
				    "in message text");
		break;
	case DP_SMTP_FAIL_NUL:
		/* RFC 6152 §2: no NUL in 8BITMIME (nor 7BIT) text. */
		dp_smtp_reply_error(s, -1,
				    "554 5.6.0 Error: NUL in message text");
		break;
	case DP_SMTP_FAIL_SIZE:
		dp_smtp_reply_error(s, -1,
				    "552 5.3.4 Error: message size "
				    "exceeds fixed limit");
		break;
	case DP_SMTP_FAIL_LONG_LINE:
		/* RFC 5321 §4.5.3.1.10 names 500 for an over-long line. */
		dp_smtp_reply_error(s, -1,
				    "500 5.5.2 Error: message line "
				    "too long");
		break;
	case DP_SMTP_FAIL_HOST_NOSPC:
		dp_smtp_reply(s, "452 4.3.1 Insufficient system storage");
		break;
	case DP_SMTP_FAIL_HOST_AGAIN:
		dp_smtp_reply(s, DP_SMTP_REPLY_AGAIN);
		break;
	default:
		dp_smtp_reply(s, "451 4.3.0 Error: queue file write error");
		break;
	}
}

void dp_smtp_msg_end(struct dp_smtp_session *s)
{
	struct dp_smtp_txn *t = &s->txn;

	s->mode = DP_SMTP_MODE_CMD;
	if (t->fail != DP_SMTP_FAIL_NONE || !t->msg_open) {
		if (t->fail == DP_SMTP_FAIL_NONE)
			t->fail = DP_SMTP_FAIL_HOST_TEMP;
		DP_SMTP_COUNT(smtp_messages_rejected);
		dp_smtp_msg_fail_reply(s);
		dp_smtp_txn_reset(s);
		return;
	}
	/* The host owns the message now; 250 waits for its commit. */
	t->msg_open = false;
	s->awaiting = true;
	s->host->msg_commit(s->ctx);
}
