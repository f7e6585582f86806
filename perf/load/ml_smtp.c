/*
 * ml_smtp — the client side of one SMTP connection: parse replies, count
 * them, and decide what to send next (RFC 5321; PIPELINING, RFC 2920;
 * CHUNKING/BDAT, RFC 3030).
 *
 * One transaction is in flight per connection.  With PIPELINING the
 * envelope and DATA (or BDAT LAST with its chunk) leave in one write; every
 * reply is counted as it arrives, and the next step is decided only when
 * the last reply due is in and nothing is being sent (act_due).
 */
#include "ml_worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char eod[] = ".\r\n";

static void pend_push(struct ml_conn *c, enum ml_cmd cmd)
{
	c->pend[(c->pend_head + c->pend_count) % c->pend_cap] = (uint8_t)cmd;
	c->pend_count++;
}

static void out_reset(struct ml_conn *c)
{
	c->iov_i = 0;
	c->iov_n = 1;
	c->iov[0].iov_base = c->obuf;
	c->iov[0].iov_len = 0;
	c->send_has_body = false;
	c->send_has_eod = false;
}

__attribute__((format(printf, 2, 3)))
static void out_cmd(struct ml_conn *c, const char *fmt, ...)
{
	size_t used = c->iov[0].iov_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->obuf + used, c->obuf_cap - used, fmt, ap);
	va_end(ap);
	/* obuf is sized in ml_worker_init for the longest envelope. */
	if (n < 0 || (size_t)n >= c->obuf_cap - used)
		abort();
	c->iov[0].iov_len = used + (size_t)n;
}

static void out_body(struct ml_conn *c, bool stuffed, bool with_eod)
{
	const struct ml_msg *m = c->msg;

	c->iov[c->iov_n].iov_base =
		(void *)(stuffed ? m->stuffed : m->raw);
	c->iov[c->iov_n].iov_len = stuffed ? m->stuffed_len : m->raw_len;
	c->iov_n++;
	if (with_eod) {
		c->iov[c->iov_n].iov_base = (void *)eod;
		c->iov[c->iov_n].iov_len = 3;
		c->iov_n++;
	}
	c->send_has_body = true;
	c->send_has_eod = true;
}

static void send_simple(struct ml_worker *w, struct ml_conn *c,
			enum ml_cmd cmd, const char *text)
{
	out_reset(c);
	out_cmd(c, "%s\r\n", text);
	pend_push(c, cmd);
	ml_worker_send(w, c);
}

static void out_rcpt(struct ml_worker *w, struct ml_conn *c)
{
	unsigned user = (unsigned)((w->rcpt_seq++ * w->o->threads + w->id) %
				   w->o->rcpt_users);

	const char *t = w->o->rcpt_tmpl, *d = strstr(t, "%d");

	/* ml_opts checked that the template holds exactly one %d. */
	out_cmd(c, "RCPT TO:<%.*s%u%s>\r\n", (int)(d - t), t, user, d + 2);
	pend_push(c, ML_CMD_RCPT);
	c->rcpt_sent++;
}

/* DATA, or BDAT LAST with the whole message as its one chunk. */
static void out_content_cmd(struct ml_conn *c)
{
	if (c->use_bdat) {
		out_cmd(c, "BDAT %zu LAST\r\n", c->msg->raw_len);
		out_body(c, false, false);
		pend_push(c, ML_CMD_BDAT);
	} else {
		out_cmd(c, "DATA\r\n");
		pend_push(c, ML_CMD_DATA);
	}
}

/* Begin the transaction for the message ml_worker_take_msg() assigned. */
void ml_smtp_start(struct ml_worker *w, struct ml_conn *c)
{
	unsigned i;

	c->use_bdat = c->chunking;
	out_reset(c);
	out_cmd(c, "MAIL FROM:<%s>\r\n", w->o->from);
	pend_push(c, ML_CMD_MAIL);
	if (c->pipelining) {
		for (i = 0; i < w->o->rcpts; i++)
			out_rcpt(w, c);
		out_content_cmd(c);
		w->st.pipelined++;
	}
	if (c->use_bdat)
		w->st.bdat_used++;
	ml_worker_send(w, c);
}

static void finish_msg(struct ml_worker *w, struct ml_conn *c, int outcome)
{
	if (!c->has_msg)
		return;
	if (outcome < 0 || outcome >= ML_OUT_COUNT)
		outcome = ML_OUT_PROTO;
	w->st.outcome[outcome]++;
	if (outcome == ML_OUT_OK) {
		uint64_t t = c->t_reply_ns;

		ml_hist_record(&w->st.eod,
			       t > c->t_eod_ns ? t - c->t_eod_ns : 0);
		ml_hist_record(&w->st.sched, t > c->t_intended_ns
						     ? t - c->t_intended_ns
						     : 0);
	}
	c->has_msg = false;
	c->msg = NULL;
	c->msgs_on_conn++;
}

static int fail_of(int code)
{
	switch (ml_reply_class(code)) {
	case ML_CLASS_4:
		return ML_OUT_REJ4;
	case ML_CLASS_5:
		return ML_OUT_REJ5;
	default:
		return ML_OUT_PROTO;
	}
}

/* After a message: the next one, a pause, or QUIT. */
static void next_msg(struct ml_worker *w, struct ml_conn *c)
{
	unsigned per = w->o->msgs_per_conn;

	if ((per && c->msgs_on_conn >= per) || ml_worker_exhausted(w)) {
		send_simple(w, c, ML_CMD_QUIT, "QUIT");
		return;
	}
	if (ml_worker_take_msg(w, c))
		ml_smtp_start(w, c);
	else
		ml_worker_park(w, c);
}

/* A greeting or HELO failed: the message fails and the connection goes. */
static void fail_session(struct ml_worker *w, struct ml_conn *c, int code)
{
	finish_msg(w, c, fail_of(code));
	ml_worker_close(w, c);
}

static void after_txn_failure(struct ml_worker *w, struct ml_conn *c,
			      int outcome)
{
	finish_msg(w, c, outcome);
	/* A transaction whose MAIL was accepted must be reset (§4.1.1.5). */
	if (c->mail_ok)
		send_simple(w, c, ML_CMD_RSET, "RSET");
	else
		next_msg(w, c);
}

static void act(struct ml_worker *w, struct ml_conn *c)
{
	int code = c->last_code;
	bool ok = code >= 200 && code < 300;

	c->act_due = false;
	switch (c->last_cmd) {
	case ML_CMD_GREETING:
		if (!ok) {
			fail_session(w, c, code);
			return;
		}
		out_reset(c);
		out_cmd(c, "EHLO %s\r\n", w->o->helo);
		pend_push(c, ML_CMD_EHLO);
		ml_worker_send(w, c);
		return;
	case ML_CMD_EHLO:
		if (!ok) {
			c->pipelining = c->chunking = false;
			out_reset(c);
			out_cmd(c, "HELO %s\r\n", w->o->helo);
			pend_push(c, ML_CMD_HELO);
			ml_worker_send(w, c);
			return;
		}
		/* fall through */
	case ML_CMD_HELO:
		if (!ok) {
			fail_session(w, c, code);
			return;
		}
		if (c->has_msg)
			ml_smtp_start(w, c);
		else
			next_msg(w, c);
		return;
	case ML_CMD_MAIL:
		if (!c->mail_ok) {
			after_txn_failure(w, c, c->fail);
			return;
		}
		out_reset(c);
		out_rcpt(w, c);
		ml_worker_send(w, c);
		return;
	case ML_CMD_RCPT:
		if (c->rcpt_sent < w->o->rcpts) {
			out_reset(c);
			out_rcpt(w, c);
			ml_worker_send(w, c);
			return;
		}
		if (c->rcpt_ok == 0) {
			after_txn_failure(w, c, c->rcpt_fail);
			return;
		}
		out_reset(c);
		out_content_cmd(c);
		ml_worker_send(w, c);
		return;
	case ML_CMD_DATA:
		if (code != 354) {
			if (c->fail < 0)
				c->fail = fail_of(code);
			if (c->rcpt_ok == 0 && c->mail_ok)
				c->fail = c->rcpt_fail;
			after_txn_failure(w, c, c->fail);
			return;
		}
		out_reset(c);
		c->iov_n = 0;
		if (c->fail >= 0 || c->rcpt_ok == 0) {
			/* RFC 2920 §3.1: 354 with no valid recipient: send
			 * an empty message and discard the reply. */
			if (c->fail < 0)
				c->fail = c->rcpt_fail;
			c->iov[0].iov_base = (void *)eod;
			c->iov[0].iov_len = 3;
			c->iov_n = 1;
		} else {
			out_body(c, true, true);
		}
		pend_push(c, ML_CMD_DOT);
		ml_worker_send(w, c);
		return;
	case ML_CMD_DOT:
	case ML_CMD_BDAT:
		if (c->fail < 0 && c->rcpt_ok == 0)
			c->fail = c->rcpt_fail >= 0 ? c->rcpt_fail
						    : ML_OUT_PROTO;
		if (c->fail < 0 && !ok)
			c->fail = fail_of(code);
		if (c->fail >= 0) {
			if (c->last_cmd == ML_CMD_BDAT) {
				after_txn_failure(w, c, c->fail);
				return;
			}
			finish_msg(w, c, c->fail);
		} else {
			finish_msg(w, c, ML_OUT_OK);
		}
		next_msg(w, c);
		return;
	case ML_CMD_RSET:
		next_msg(w, c);
		return;
	case ML_CMD_QUIT:
		ml_worker_close(w, c);
		return;
	default:
		return;
	}
}

/* Both directions quiet and all replies in: time to decide. */
static void maybe_act(struct ml_worker *w, struct ml_conn *c)
{
	if (c->act_due && !c->send_inflight && c->pend_count == 0 &&
	    c->state == ML_CS_OPEN)
		act(w, c);
}

static bool word_is(const char *p, size_t n, const char *kw)
{
	size_t kl = strlen(kw);

	return n >= kl && strncasecmp(p, kw, kl) == 0 &&
	       (n == kl || p[kl] == ' ');
}

/* One complete reply to the oldest pending command. */
static void on_reply(struct ml_worker *w, struct ml_conn *c, int code)
{
	enum ml_cmd cmd = (enum ml_cmd)c->pend[c->pend_head];
	bool ok = code >= 200 && code < 300;

	c->pend_head = (c->pend_head + 1) % c->pend_cap;
	c->pend_count--;
	w->st.replies[cmd][ml_reply_class(code)]++;
	c->last_cmd = cmd;
	c->last_code = code;
	c->deadline_ns = ml_now_ns() + w->o->timeout_ns;

	switch (cmd) {
	case ML_CMD_MAIL:
		c->mail_ok = ok;
		if (!ok && c->fail < 0)
			c->fail = fail_of(code);
		break;
	case ML_CMD_RCPT:
		if (ok)
			c->rcpt_ok++;
		else if (c->rcpt_fail < 0)
			c->rcpt_fail = fail_of(code);
		break;
	case ML_CMD_DOT:
	case ML_CMD_BDAT:
		c->t_reply_ns = ml_now_ns();
		if (!c->eod_done)
			c->t_eod_ns = c->t_reply_ns;
		break;
	default:
		break;
	}
	if (c->pend_count == 0)
		c->act_due = true;
}

/* One reply line (without CRLF).  Returns -1 on a malformed line. */
static int on_line(struct ml_worker *w, struct ml_conn *c, const char *p,
		   size_t n)
{
	int code;

	if (n < 3 || p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9' || (n > 3 && p[3] != ' ' && p[3] != '-'))
		return -1;
	if (c->pend_count == 0)
		return -1;
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (c->pend[c->pend_head] == ML_CMD_EHLO && code == 250 && n > 4) {
		/* RFC 5321 §4.1.1.1: one extension keyword a line. */
		if (word_is(p + 4, n - 4, "PIPELINING"))
			c->pipelining = w->o->pipelining;
		else if (word_is(p + 4, n - 4, "CHUNKING"))
			c->chunking = w->o->chunking;
	}
	if (n > 3 && p[3] == '-')
		return 0;
	on_reply(w, c, code);
	return 0;
}

void ml_smtp_received(struct ml_worker *w, struct ml_conn *c, size_t n)
{
	size_t start = 0, i;

	c->rlen += (unsigned)n;
	for (i = 0; i < c->rlen; i++) {
		size_t len;

		if (c->rbuf[i] != '\n')
			continue;
		len = i - start;
		if (len && c->rbuf[start + len - 1] == '\r')
			len--;
		if (on_line(w, c, c->rbuf + start, len) < 0) {
			w->st.proto_errors++;
			ml_smtp_abort(w, c, ML_OUT_PROTO);
			return;
		}
		start = i + 1;
	}
	if (start < c->rlen)
		memmove(c->rbuf, c->rbuf + start, c->rlen - start);
	c->rlen -= (unsigned)start;
	/* RFC 5321 §4.5.3.1.5: reply lines are at most 512 octets. */
	if (c->rlen == sizeof(c->rbuf)) {
		w->st.proto_errors++;
		ml_smtp_abort(w, c, ML_OUT_PROTO);
		return;
	}
	maybe_act(w, c);
}

void ml_smtp_sent(struct ml_worker *w, struct ml_conn *c)
{
	if (c->send_has_eod && c->has_msg) {
		c->t_eod_ns = ml_now_ns();
		c->eod_done = true;
		w->st.bytes_sent += c->use_bdat ? c->msg->raw_len
						: c->msg->stuffed_len;
	}
	maybe_act(w, c);
}

void ml_smtp_connected(struct ml_worker *w, struct ml_conn *c)
{
	c->pipelining = c->chunking = false;
	c->rlen = 0;
	c->pend_head = c->pend_count = 0;
	c->msgs_on_conn = 0;
	pend_push(c, ML_CMD_GREETING);
}

void ml_smtp_abort(struct ml_worker *w, struct ml_conn *c, int outcome)
{
	finish_msg(w, c, outcome);
	ml_worker_close(w, c);
}
