/*
 * ml_smtp — the client side of one SMTP connection: parse replies, count
 * them, and decide what to send next (RFC 5321; PIPELINING, RFC 2920;
 * CHUNKING/BDAT, RFC 3030).
 *
 * With PIPELINING the envelope and DATA (or BDAT LAST with its chunk)
 * leave in one write; with --pipeline-next, after a 354 the body, its
 * final dot and the next message's envelope leave in one write too
 * (RFC 2920 §3.1 allows commands after the end of data).  Every reply is
 * counted as it arrives; the next step is decided only when the last reply due
 * is in and nothing is being sent (act_due).
 *
 * With --depth K and a server offering PIPELINING and CHUNKING, one write
 * carries up to K whole transactions (MAIL, RCPTs, BDAT n LAST and its
 * chunk, then the next MAIL...): RFC 2920 §3.1 ends a group only at
 * DATA, VRFY, EXPN, TURN, QUIT and NOOP, and BDAT is none of them
 * (RFC 3030 §4 also lets BDAT be pipelined).  Each pending reply names
 * its transaction's slot, so a refused MAIL, RCPT or BDAT fails only
 * that transaction; once every reply of the batch is in, a RSET follows
 * if a failed transaction had its MAIL accepted (the server's state is
 * then unknown), and the next batch starts.
 */
#include "ml_worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char eod[] = ".\r\n";

static struct ml_txn *cur(struct ml_conn *c)
{
	return &c->tx[c->cur];
}

static struct ml_txn *other(struct ml_conn *c)
{
	return &c->tx[c->cur ^ 1];
}

static void pend_push_slot(struct ml_conn *c, enum ml_cmd cmd, unsigned slot)
{
	c->pend[(c->pend_head + c->pend_count) % c->pend_cap] =
	    (uint16_t)((slot << ML_PEND_SLOT_SHIFT) | (unsigned)cmd);
	c->pend_count++;
}

/* A command outside any batch: its reply is for tx[cur]. */
static void pend_push(struct ml_conn *c, enum ml_cmd cmd)
{
	pend_push_slot(c, cmd, c->cur);
}

static void out_reset(struct ml_conn *c)
{
	c->olen = 0;
	c->iov_i = 0;
	c->iov_n = 0;
	c->send_has_eod = false;
}

static void iov_add(struct ml_conn *c, const void *p, size_t n)
{
	c->iov[c->iov_n].iov_base = (void *)p;
	c->iov[c->iov_n].iov_len = n;
	c->iov_n++;
}

/* Appends to obuf; the caller adds obuf to the iovecs once it is done. */
__attribute__((format(printf, 2, 3))) static void out_cmd(struct ml_conn *c,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->obuf + c->olen, c->obuf_cap - c->olen, fmt, ap);
	va_end(ap);
	/* obuf is sized in ml_worker_init for the longest envelope. */
	if (n < 0 || (size_t)n >= c->obuf_cap - c->olen)
		abort();
	c->olen += (size_t)n;
}

static void send_cmds(struct ml_worker *w, struct ml_conn *c)
{
	iov_add(c, c->obuf, c->olen);
	ml_worker_send(w, c);
}

static void send_simple(struct ml_worker *w, struct ml_conn *c, enum ml_cmd cmd,
			const char *text)
{
	out_reset(c);
	out_cmd(c, "%s\r\n", text);
	pend_push(c, cmd);
	send_cmds(w, c);
}

static void out_rcpt_slot(struct ml_worker *w, struct ml_conn *c,
			  struct ml_txn *t, unsigned slot)
{
	unsigned user = (unsigned)((w->rcpt_seq++ * w->o->threads + w->id) %
				   w->o->rcpt_users);
	const char *tm = w->o->rcpt_tmpl, *d = strstr(tm, "%d");

	/* ml_opts checked that the template holds exactly one %d. */
	out_cmd(c, "RCPT TO:<%.*s%u%s>\r\n", (int)(d - tm), tm, user, d + 2);
	pend_push_slot(c, ML_CMD_RCPT, slot);
	t->rcpt_sent++;
}

static void out_rcpt(struct ml_worker *w, struct ml_conn *c, struct ml_txn *t)
{
	out_rcpt_slot(w, c, t, c->cur);
}

/*
 * MAIL, and with PIPELINING all RCPTs and DATA too, into obuf.  With BDAT
 * the command and its chunk (the whole message) follow, so obuf must then
 * be the last text of this write: the caller adds the body after it.
 */
static void out_envelope(struct ml_worker *w, struct ml_conn *c,
			 struct ml_txn *t)
{
	unsigned i;

	t->use_bdat = c->chunking;
	out_cmd(c, "MAIL FROM:<%s>\r\n", w->o->from);
	pend_push(c, ML_CMD_MAIL);
	if (!c->pipelining)
		return;
	for (i = 0; i < w->o->rcpts; i++)
		out_rcpt(w, c, t);
	if (t->use_bdat) {
		out_cmd(c, "BDAT %zu LAST\r\n", t->msg->raw_len);
		pend_push(c, ML_CMD_BDAT);
	} else {
		out_cmd(c, "DATA\r\n");
		pend_push(c, ML_CMD_DATA);
	}
	w->st.pipelined++;
	if (t->use_bdat)
		w->st.bdat_used++;
}

/* May the connection carry one more message after `ahead` unfinished? */
static bool conn_has_room(const struct ml_worker *w, const struct ml_conn *c,
			  unsigned ahead)
{
	unsigned per = w->o->msgs_per_conn;

	return per == 0 || c->msgs_on_conn + ahead < per;
}

/*
 * --depth: tx[0] holds a message; add as many more as are due, up to
 * depth, and send every transaction whole in one write (see the top).
 */
static void start_batch(struct ml_worker *w, struct ml_conn *c)
{
	unsigned i = 0;

	out_reset(c);
	c->cur = 0;
	c->in_batch = true;
	c->need_rset = false;
	for (;;) {
		struct ml_txn *t = &c->tx[i];
		size_t off = c->olen;
		unsigned r;

		t->use_bdat = true;
		out_cmd(c, "MAIL FROM:<%s>\r\n", w->o->from);
		pend_push_slot(c, ML_CMD_MAIL, i);
		for (r = 0; r < w->o->rcpts; r++)
			out_rcpt_slot(w, c, t, i);
		out_cmd(c, "BDAT %zu LAST\r\n", t->msg->raw_len);
		pend_push_slot(c, ML_CMD_BDAT, i);
		iov_add(c, c->obuf + off, c->olen - off);
		iov_add(c, t->msg->raw, t->msg->raw_len);
		w->st.pipelined++;
		w->st.bdat_used++;
		w->st.bytes_sent += t->msg->raw_len;
		i++;
		if (i == w->o->depth || !conn_has_room(w, c, i) ||
		    !ml_worker_take_msg(w, &c->tx[i]))
			break;
	}
	c->batch_n = i;
	c->send_has_eod = true;
	w->st.batches++;
	w->st.batch_txns += i;
	ml_worker_send(w, c);
}

static bool use_depth(const struct ml_worker *w, const struct ml_conn *c)
{
	return w->o->depth > 1 && c->pipelining && c->chunking;
}

/* Begin the transaction for the message ml_worker_take_msg() put in
 * tx[cur]. */
void ml_smtp_start(struct ml_worker *w, struct ml_conn *c)
{
	struct ml_txn *t = cur(c);

	if (use_depth(w, c)) {
		start_batch(w, c);
		return;
	}
	out_reset(c);
	out_envelope(w, c, t);
	iov_add(c, c->obuf, c->olen);
	if (c->pipelining && t->use_bdat) {
		iov_add(c, t->msg->raw, t->msg->raw_len);
		c->send_has_eod = true;
	}
	ml_worker_send(w, c);
}

static void finish_msg(struct ml_worker *w, struct ml_conn *c, struct ml_txn *t,
		       int outcome)
{
	if (!t->active)
		return;
	if (outcome < 0 || outcome >= ML_OUT_COUNT)
		outcome = ML_OUT_PROTO;
	w->st.outcome[outcome]++;
	if (outcome == ML_OUT_OK) {
		uint64_t r = t->t_reply_ns;

		ml_hist_record(&w->st.eod,
			       r > t->t_eod_ns ? r - t->t_eod_ns : 0);
		ml_hist_record(&w->st.sched,
			       r > t->t_intended_ns ? r - t->t_intended_ns : 0);
	}
	t->active = false;
	t->msg = NULL;
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
	if (!conn_has_room(w, c, 0) || ml_worker_exhausted(w)) {
		send_simple(w, c, ML_CMD_QUIT, "QUIT");
		return;
	}
	if (ml_worker_take_msg(w, cur(c)))
		ml_smtp_start(w, c);
	else
		ml_worker_park(w, c);
}

/* A greeting or HELO failed: the message fails and the connection goes. */
static void fail_session(struct ml_worker *w, struct ml_conn *c, int code)
{
	finish_msg(w, c, cur(c), fail_of(code));
	ml_worker_close(w, c);
}

static void after_txn_failure(struct ml_worker *w, struct ml_conn *c,
			      int outcome)
{
	bool mail_ok = cur(c)->mail_ok;

	finish_msg(w, c, cur(c), outcome);
	/* A transaction whose MAIL was accepted must be reset (§4.1.1.5). */
	if (mail_ok)
		send_simple(w, c, ML_CMD_RSET, "RSET");
	else
		next_msg(w, c);
}

/* The outcome of a transaction whose final reply (to "." or BDAT LAST)
 * is `code`. */
static int final_outcome(const struct ml_txn *t, int code)
{
	if (t->fail >= 0)
		return t->fail;
	if (t->rcpt_ok == 0)
		return t->rcpt_fail >= 0 ? t->rcpt_fail : ML_OUT_PROTO;
	if (code < 200 || code >= 300)
		return fail_of(code);
	return ML_OUT_OK;
}

/* 354: the body and its dot, and the next envelope if one may follow. */
static void send_body(struct ml_worker *w, struct ml_conn *c)
{
	struct ml_txn *t = cur(c), *n = other(c);

	out_reset(c);
	if (t->fail >= 0 || t->rcpt_ok == 0) {
		/* RFC 2920 §3.1: 354 with no valid recipient: send an empty
		 * message and discard the reply. */
		if (t->fail < 0)
			t->fail = t->rcpt_fail;
		iov_add(c, eod, 3);
		pend_push(c, ML_CMD_DOT);
		ml_worker_send(w, c);
		return;
	}
	iov_add(c, t->msg->stuffed, t->msg->stuffed_len);
	iov_add(c, eod, 3);
	c->send_has_eod = true;
	pend_push(c, ML_CMD_DOT);
	if (w->o->pipeline_next && c->pipelining && !c->chunking &&
	    conn_has_room(w, c, 1) && ml_worker_take_msg(w, n)) {
		out_envelope(w, c, n);
		iov_add(c, c->obuf, c->olen);
		w->st.pipelined_next++;
	}
	ml_worker_send(w, c);
}

static void act(struct ml_worker *w, struct ml_conn *c)
{
	struct ml_txn *t = cur(c);
	int code = c->last_code;
	bool ok = code >= 200 && code < 300;

	c->act_due = false;
	if (c->in_batch) {
		/* Every reply of the batch is in; each transaction has
		 * already ended in on_reply(). */
		c->in_batch = false;
		if (c->need_rset) {
			c->need_rset = false;
			send_simple(w, c, ML_CMD_RSET, "RSET");
		} else {
			next_msg(w, c);
		}
		return;
	}
	switch (c->last_cmd) {
	case ML_CMD_GREETING:
		if (!ok) {
			fail_session(w, c, code);
			return;
		}
		out_reset(c);
		out_cmd(c, "EHLO %s\r\n", w->o->helo);
		pend_push(c, ML_CMD_EHLO);
		send_cmds(w, c);
		return;
	case ML_CMD_EHLO:
		if (!ok) {
			c->pipelining = c->chunking = false;
			out_reset(c);
			out_cmd(c, "HELO %s\r\n", w->o->helo);
			pend_push(c, ML_CMD_HELO);
			send_cmds(w, c);
			return;
		}
		/* fall through */
	case ML_CMD_HELO:
		if (!ok) {
			fail_session(w, c, code);
			return;
		}
		if (w->o->depth > 1 && !use_depth(w, c))
			w->st.depth_fallback++;
		if (t->active)
			ml_smtp_start(w, c);
		else
			next_msg(w, c);
		return;
	case ML_CMD_MAIL:
		if (!t->mail_ok) {
			after_txn_failure(w, c, t->fail);
			return;
		}
		out_reset(c);
		out_rcpt(w, c, t);
		send_cmds(w, c);
		return;
	case ML_CMD_RCPT:
		out_reset(c);
		if (t->rcpt_sent < w->o->rcpts) {
			out_rcpt(w, c, t);
			send_cmds(w, c);
			return;
		}
		if (t->rcpt_ok == 0) {
			after_txn_failure(w, c, t->rcpt_fail);
			return;
		}
		if (t->use_bdat) {
			out_cmd(c, "BDAT %zu LAST\r\n", t->msg->raw_len);
			pend_push(c, ML_CMD_BDAT);
			iov_add(c, c->obuf, c->olen);
			iov_add(c, t->msg->raw, t->msg->raw_len);
			c->send_has_eod = true;
			ml_worker_send(w, c);
			w->st.bdat_used++;
			return;
		}
		out_cmd(c, "DATA\r\n");
		pend_push(c, ML_CMD_DATA);
		send_cmds(w, c);
		return;
	case ML_CMD_DATA:
		if (code != 354) {
			if (t->fail < 0)
				t->fail = t->rcpt_ok == 0 && t->mail_ok
					      ? t->rcpt_fail
					      : fail_of(code);
			after_txn_failure(w, c, t->fail);
			return;
		}
		send_body(w, c);
		return;
	case ML_CMD_DOT:
	case ML_CMD_BDAT: {
		int outcome = final_outcome(t, code);

		if (outcome != ML_OUT_OK && c->last_cmd == ML_CMD_BDAT) {
			after_txn_failure(w, c, outcome);
			return;
		}
		finish_msg(w, c, t, outcome);
		next_msg(w, c);
		return;
	}
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
	uint16_t e = c->pend[c->pend_head];
	enum ml_cmd cmd = ml_pend_cmd(e);
	struct ml_txn *t =
	    c->in_batch ? &c->tx[e >> ML_PEND_SLOT_SHIFT] : cur(c);
	bool ok = code >= 200 && code < 300;

	c->pend_head = (c->pend_head + 1) % c->pend_cap;
	c->pend_count--;
	w->st.replies[cmd][ml_reply_class(code)]++;
	c->last_cmd = cmd;
	c->last_code = code;
	c->deadline_ns = ml_now_ns() + w->o->timeout_ns;

	switch (cmd) {
	case ML_CMD_MAIL:
		t->mail_ok = ok;
		if (!ok && t->fail < 0)
			t->fail = fail_of(code);
		break;
	case ML_CMD_RCPT:
		if (ok)
			t->rcpt_ok++;
		else if (t->rcpt_fail < 0)
			t->rcpt_fail = fail_of(code);
		break;
	case ML_CMD_DOT:
	case ML_CMD_BDAT:
		t->t_reply_ns = ml_now_ns();
		if (!t->eod_done)
			t->t_eod_ns = t->t_reply_ns;
		if (c->in_batch) {
			int outcome = final_outcome(t, code);

			/* RFC 3030 §3: the transaction failed; a RSET after
			 * the batch clears whatever state the server kept. */
			if (outcome != ML_OUT_OK && t->mail_ok)
				c->need_rset = true;
			finish_msg(w, c, t, outcome);
		} else if (other(c)->active) {
			/* The next envelope was pipelined behind this
			 * message: it is done, its successor is current. */
			finish_msg(w, c, t, final_outcome(t, code));
			c->cur ^= 1;
		}
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
	if (ml_pend_cmd(c->pend[c->pend_head]) == ML_CMD_EHLO && code == 250 &&
	    n > 4) {
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
	struct ml_txn *t = cur(c);
	unsigned i;

	if (c->send_has_eod && c->in_batch) {
		/* The whole batch has left (bytes were counted when it was
		 * built); a transaction already answered keeps its time. */
		uint64_t now = ml_now_ns();

		for (i = 0; i < c->batch_n; i++) {
			if (c->tx[i].active && !c->tx[i].eod_done) {
				c->tx[i].t_eod_ns = now;
				c->tx[i].eod_done = true;
			}
		}
	} else if (c->send_has_eod && t->active) {
		t->t_eod_ns = ml_now_ns();
		t->eod_done = true;
		w->st.bytes_sent +=
		    t->use_bdat ? t->msg->raw_len : t->msg->stuffed_len;
	}
	maybe_act(w, c);
}

void ml_smtp_connected(struct ml_worker *w, struct ml_conn *c)
{
	c->pipelining = c->chunking = false;
	c->rlen = 0;
	c->pend_head = c->pend_count = 0;
	c->msgs_on_conn = 0;
	c->in_batch = c->need_rset = false;
	pend_push(c, ML_CMD_GREETING);
}

void ml_smtp_abort(struct ml_worker *w, struct ml_conn *c, int outcome)
{
	unsigned i;

	for (i = 0; i < c->ntx; i++)
		finish_msg(w, c, &c->tx[i], outcome);
	c->in_batch = false;
	ml_worker_close(w, c);
}

void ml_smtp_quit(struct ml_worker *w, struct ml_conn *c)
{
	c->act_due = false;
	send_simple(w, c, ML_CMD_QUIT, "QUIT");
}
