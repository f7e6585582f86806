/*
 * mgmt_dlv_conn — one non-blocking SMTP or LMTP client connection to a
 * next hop, driven by epoll events from the delivery engine.
 *
 * Life: connect -> greeting (220) -> EHLO/LHLO (HELO if EHLO is refused)
 * -> ready; then transactions, each for one job (one message's recipients
 * for this destination), until the connection sits idle past the idle
 * timeout and is closed with QUIT.  A reused connection starts its
 * transaction with RSET, which also proves it is still alive.
 *
 * A transaction is a fixed command sequence [RSET] MAIL RCPT... [DATA]
 * walked by two cursors: the next command to send and the next reply
 * expected.  Without PIPELINING only one command is outstanding; with it
 * (RFC 2920 §3.1) the whole sequence goes out at once, DATA last.  With
 * CHUNKING (RFC 3030) the body goes out as one "BDAT n LAST" after the RCPT
 * replies.  After the body, SMTP gives one reply for all accepted
 * recipients, LMTP one per accepted recipient (RFC 2033 §4.2).
 *
 * Replies map to outcomes per recipient: 2xx delivered, 4xx deferred, 5xx
 * bounced.  A lost connection or a timeout defers every recipient without
 * a final reply (so a message whose "." reached the peer but whose reply
 * did not may be delivered twice: at least once, never lost).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mgmt_dlv_int.h"
#include "mx_log.h"
#include "mx_time.h"

enum conn_state {
	C_CONNECTING = 0,
	C_GREETING,
	C_HELO,
	C_HELO_FALLBACK, /* EHLO refused, HELO sent (SMTP only) */
	C_READY,	 /* idle, or running a transaction (job set) */
	C_QUIT,
};

enum txn_phase {
	P_CMDS = 0,    /* [RSET] MAIL RCPT... [DATA] */
	P_DATA_WAIT,   /* DATA sent alone, waiting for 354 */
	P_BODY,	       /* writing the body */
	P_FINAL,       /* waiting for the final reply(s) */
	P_DISCARD_DOT, /* 354 with no recipient: "." sent, ignore */
};

enum cmd_kind { K_RSET, K_MAIL, K_RCPT, K_DATA };

#define BODY_CHUNK 65536

struct dlv_conn {
	struct dlv_dest *dest;
	struct dlv_conn *next;
	int fd;
	enum conn_state st;
	bool lmtp;
	bool epollout;
	uint64_t deadline_ns; /* 0 = nothing awaited */
	uint64_t idle_since_ns;
	struct mgmt_dlv_reply_parser rp;
	struct mgmt_dlv_sbuf out;
	size_t out_off;
	/* EHLO capabilities */
	bool pipelining, eightbit, chunking, dsn, size_ext;
	uint64_t size_max;
	unsigned txn_count;
	/* the current transaction */
	struct dlv_job *job;
	enum txn_phase phase;
	bool need_rset, data_in_seq, use_bdat, mail_failed, got_reply;
	bool trace_sent;	/* the X-Mxgate-Scan line went out */
	char trace[256];	/* with CRLF, "" for none */
	unsigned seq_len, seq_sent, seq_replied;
	int data_reply; /* code of a pipelined DATA's reply */
	size_t body_off;
	bool body_bol, body_done;
	unsigned final_got;
};

static struct mgmt_dlv *eng(struct dlv_conn *c)
{
	return c->dest->eng;
}

static int conn_epoll(struct dlv_conn *c, int op)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	if (c->epollout)
		ev.events |= EPOLLOUT;
	return epoll_ctl(eng(c)->epfd, op, c->fd, &ev) < 0 ? -errno : 0;
}

static void conn_want_out(struct dlv_conn *c, bool want)
{
	if (c->epollout == want)
		return;
	c->epollout = want;
	conn_epoll(c, EPOLL_CTL_MOD);
}

static void conn_free(struct dlv_conn *c)
{
	struct dlv_conn **pp;

	for (pp = &c->dest->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->dest->conn_count--;
	if (c->fd >= 0) {
		epoll_ctl(eng(c)->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	mgmt_dlv_sbuf_free(&c->out);
	free(c);
}

static enum cmd_kind seq_kind(const struct dlv_conn *c, unsigned i);

/* What we were waiting for, for diagnostics ("timeout while in MAIL"). */
static const char *cmd_name(const struct dlv_conn *c)
{
	static const char *const kinds[] = {"RSET", "MAIL", "RCPT", "DATA"};

	switch (c->st) {
	case C_CONNECTING:
		return "connect";
	case C_GREETING:
		return "greeting";
	case C_HELO:
		return c->lmtp ? "LHLO" : "EHLO";
	case C_HELO_FALLBACK:
		return "HELO";
	case C_QUIT:
		return "QUIT";
	case C_READY:
		break;
	}
	switch (c->phase) {
	case P_CMDS:
		if (c->job == NULL || c->seq_replied >= c->seq_len)
			return "transaction";
		return kinds[seq_kind(c, c->seq_replied)];
	case P_DATA_WAIT:
		return c->use_bdat ? "BDAT" : "DATA";
	case P_BODY:
		return "message body";
	case P_FINAL:
	case P_DISCARD_DOT:
		return "end of data";
	}
	return "?";
}

/*
 * The connection is unusable.  A job it holds is deferred (or, when the
 * connection was a cached one that died before any reply of this
 * transaction, put back to be tried on a fresh connection).  During set-up
 * the whole destination is marked down.
 */
static void conn_fail(struct dlv_conn *c, const char *status, const char *why)
{
	struct dlv_dest *dest = c->dest;
	struct dlv_job *job = c->job;
	bool setup = c->st < C_READY;
	bool requeue = !setup && c->txn_count > 1 && !c->got_reply;
	char diag[DLV_DIAG_SIZE];

	snprintf(diag, sizeof(diag), "%.200s while in %s with %.256s", why,
		 cmd_name(c), dest->name);
	MX_LOG_RL(MX_LOG_WARN, "deliver",
		  "dest=\"%s\" event=conn_fail why=\"%s\"", dest->name, diag);
	c->job = NULL;
	if (setup)
		MX_COUNT(mgmt_dlv_counters, dlv_conn_failed);
	else if (job)
		MX_COUNT(mgmt_dlv_counters, dlv_conn_lost);
	conn_free(c);
	if (job) {
		if (requeue) {
			dlv_dest_requeue(dest, job);
		} else {
			dlv_job_fail_rest(job, DLV_R_DEFER, status, diag);
			dlv_job_done(dest->eng, job);
		}
	}
	snprintf(dest->last_error, sizeof(dest->last_error), "%s", diag);
	if (setup)
		dlv_dest_down(dest, diag);
}

/* Writes what is buffered; -1 if the connection was closed. */
static int conn_flush(struct dlv_conn *c)
{
	if (c->out.failed) {	/* a command could not be built */
		conn_fail(c, "4.3.0", "out of memory");
		return -1;
	}
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off,
				 c->out.len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				conn_want_out(c, true);
				return 0;
			}
			char why[96];
			snprintf(why, sizeof(why), "write failed: %s",
				 strerror(errno));
			conn_fail(c, "4.4.2", why);
			return -1;
		}
		c->out_off += (size_t)n;
		if (c->phase == P_BODY && c->st == C_READY && c->job)
			c->deadline_ns =
			    mx_now_ns() + eng(c)->conf.timeouts.data_block_ns;
	}
	mgmt_dlv_sbuf_reset(&c->out);
	c->out_off = 0;
	conn_want_out(c, false);
	return 0;
}

static void put_addr_cmd(struct mgmt_dlv_sbuf *b, const char *verb,
			 const char *addr)
{
	mgmt_dlv_sbuf_puts(b, verb);
	mgmt_dlv_sbuf_puts(b, "<");
	mgmt_dlv_sbuf_put_clean(b, addr, 512);
	mgmt_dlv_sbuf_puts(b, ">");
}

/* Appends command i of the transaction sequence. */
static void seq_put(struct dlv_conn *c, unsigned i, const struct q_msg_view *v)
{
	const struct q_envelope *env = v->env;
	struct mgmt_dlv_sbuf *b = &c->out;

	if (c->need_rset) {
		if (i == 0) {
			mgmt_dlv_sbuf_puts(b, "RSET\r\n");
			return;
		}
		i--;
	}
	if (i == 0) {
		put_addr_cmd(b, "MAIL FROM:", env->mail_from);
		if (c->size_ext) {
			char tr[256];
			size_t tl = dlv_trace_header(v, tr, sizeof(tr));

			mgmt_dlv_sbuf_printf(b, " SIZE=%zu",
					     v->body_len + (tl ? tl + 2 : 0));
		}
		if (c->eightbit && (env->flags & Q_ENV_8BIT))
			mgmt_dlv_sbuf_puts(b, " BODY=8BITMIME");
		if (c->dsn && env->ret) /* RFC 3461 §4.3, §4.4 */
			mgmt_dlv_sbuf_puts(b, env->ret == Q_RET_HDRS
						  ? " RET=HDRS"
						  : " RET=FULL");
		if (c->dsn && env->envid) {
			mgmt_dlv_sbuf_puts(b, " ENVID=");
			mgmt_dlv_sbuf_put_clean(b, env->envid, 100);
		}
		mgmt_dlv_sbuf_puts(b, "\r\n");
		return;
	}
	i--;
	if (i < c->job->rcpt_count) {
		const struct q_rcpt *r = &env->rcpt[c->job->rcpt[i]];

		put_addr_cmd(b, "RCPT TO:", r->addr);
		if (c->dsn && r->notify) { /* RFC 3461 §4.1 */
			static const char *const names[] = {"SUCCESS",
							    "FAILURE", "DELAY"};
			bool first = true;

			mgmt_dlv_sbuf_puts(b, " NOTIFY=");
			if (r->notify & Q_NOTIFY_NEVER)
				mgmt_dlv_sbuf_puts(b, "NEVER");
			else
				for (unsigned k = 0; k < 3; k++)
					if (r->notify & (1u << k)) {
						mgmt_dlv_sbuf_printf(
						    b, "%s%s", first ? "" : ",",
						    names[k]);
						first = false;
					}
		}
		if (c->dsn && r->orcpt) { /* RFC 3461 §4.2 */
			mgmt_dlv_sbuf_puts(b, " ORCPT=");
			mgmt_dlv_sbuf_put_clean(b, r->orcpt, 500);
		}
		mgmt_dlv_sbuf_puts(b, "\r\n");
		return;
	}
	mgmt_dlv_sbuf_puts(b, "DATA\r\n");
}

static enum cmd_kind seq_kind(const struct dlv_conn *c, unsigned i)
{
	if (c->need_rset) {
		if (i == 0)
			return K_RSET;
		i--;
	}
	if (i == 0)
		return K_MAIL;
	return i - 1 < c->job->rcpt_count ? K_RCPT : K_DATA;
}

static void set_deadline(struct dlv_conn *c, uint64_t ns)
{
	c->deadline_ns = mx_now_ns() + ns;
}

static uint64_t seq_timeout(const struct dlv_conn *c, unsigned i)
{
	const struct mgmt_dlv_timeouts *t = &c->dest->eng->conf.timeouts;

	switch (seq_kind(c, i)) {
	case K_RSET:
		return t->rset_ns;
	case K_MAIL:
		return t->mail_ns;
	case K_RCPT:
		return t->rcpt_ns;
	case K_DATA:
		break;
	}
	return t->data_init_ns;
}

/* Sends what may be sent of the sequence now; -1 if closed. */
static int seq_pump(struct dlv_conn *c)
{
	struct q_msg_view v;
	bool sent = false;

	if (dlv_msg_view(eng(c), c->job->msg->id, &v) < 0) {
		conn_fail(c, "4.3.0", "message vanished from the queue");
		return -1;
	}
	while (c->seq_sent < c->seq_len &&
	       (c->pipelining || c->seq_sent == c->seq_replied)) {
		seq_put(c, c->seq_sent++, &v);
		sent = true;
	}
	if (!sent)
		return 0;
	set_deadline(c, seq_timeout(c, c->seq_replied));
	return conn_flush(c);
}

/* Fills the output with the next piece of the body (dot-stuffed for DATA,
 * RFC 5321 §4.5.2), ending with CRLF "." CRLF. */
static int body_fill(struct dlv_conn *c)
{
	struct q_msg_view v;
	struct mgmt_dlv_sbuf *b = &c->out;
	/* At most BODY_CHUNK + 1 stuffed bytes, then CR LF "." CR LF.
	 * Static: the engine runs on one thread, and the stack stays small. */
	static uint8_t chunk[BODY_CHUNK + 8];
	size_t n = 0;

	if (dlv_msg_view(eng(c), c->job->msg->id, &v) < 0) {
		conn_fail(c, "4.3.0", "message vanished from the queue");
		return -1;
	}
	if (!c->trace_sent) {
		/* The scan trace leads the message (a header line needs no
		 * dot-stuffing, and BDAT's size counted it). */
		mgmt_dlv_sbuf_append(b, c->trace, strlen(c->trace));
		c->trace_sent = true;
	}
	if (c->use_bdat) {
		size_t take = v.body_len - c->body_off;

		if (take > BODY_CHUNK)
			take = BODY_CHUNK;
		mgmt_dlv_sbuf_append(b, v.body + c->body_off, take);
		c->body_off += take;
		c->body_done = c->body_off == v.body_len;
		return 0;
	}
	while (c->body_off < v.body_len && n < BODY_CHUNK) {
		uint8_t ch = v.body[c->body_off++];

		if (c->body_bol && ch == '.')
			chunk[n++] = '.';
		chunk[n++] = ch;
		c->body_bol = ch == '\n';
	}
	if (c->body_off == v.body_len) {
		if (!c->body_bol) {
			chunk[n++] = '\r';
			chunk[n++] = '\n';
		}
		chunk[n++] = '.';
		chunk[n++] = '\r';
		chunk[n++] = '\n';
		c->body_done = true;
	}
	mgmt_dlv_sbuf_append(b, chunk, n);
	return 0;
}

/* Keeps the body flowing while the socket takes it; -1 if closed. */
static int body_pump(struct dlv_conn *c)
{
	while (c->phase == P_BODY) {
		if (c->out_off < c->out.len)
			return 0; /* waiting for EPOLLOUT */
		if (c->body_done) {
			c->phase = P_FINAL;
			c->final_got = 0;
			set_deadline(c, eng(c)->conf.timeouts.data_term_ns);
			return 0;
		}
		if (body_fill(c) < 0 || conn_flush(c) < 0)
			return -1;
	}
	return 0;
}

static void start_body(struct dlv_conn *c)
{
	struct q_msg_view v;

	c->phase = P_BODY;
	c->body_off = 0;
	c->body_bol = true;
	c->body_done = false;
	c->trace_sent = false;
	c->trace[0] = '\0';
	set_deadline(c, eng(c)->conf.timeouts.data_block_ns);
	if (dlv_msg_view(eng(c), c->job->msg->id, &v) == 0 &&
	    dlv_trace_header(&v, c->trace, sizeof(c->trace) - 2) > 0)
		strcat(c->trace, "\r\n");
	if (c->use_bdat && dlv_msg_view(eng(c), c->job->msg->id, &v) == 0) {
		/* RFC 3030 §2: the whole message as one last chunk. */
		mgmt_dlv_sbuf_printf(&c->out, "BDAT %zu LAST\r\n",
				     v.body_len + strlen(c->trace));
		c->body_done = v.body_len == 0 && !c->trace[0];
	}
}

static void reply_outcome(const struct mgmt_dlv_reply *r, enum dlv_res *res,
			  char status[16], char *diag, size_t diag_size)
{
	*res = r->code < 400   ? DLV_R_OK
	       : r->code < 500 ? DLV_R_DEFER
			       : DLV_R_BOUNCE;
	if (r->enh[0])
		snprintf(status, 16, "%s", r->enh);
	else /* RFC 3463 §3.1: the class follows the reply code */
		snprintf(status, 16, "%d.0.0", r->code / 100);
	mgmt_dlv_reply_format(r, diag, diag_size);
}

static int finish_txn(struct dlv_conn *c);

/* Called once every reply of the sequence is in. */
static int after_seq(struct dlv_conn *c)
{
	struct dlv_job *job = c->job;

	/* A failed MAIL leaves no accepted recipient either; only a server
	 * that still said 354 to the pipelined DATA needs the data ended. */
	if (job->accepted_count == 0 &&
	    !(c->data_in_seq && c->data_reply == 354))
		return finish_txn(c);
	if (job->accepted_count == 0 && c->lmtp) {
		/* LMTP answers "." once per accepted recipient (RFC 2033
		 * §4.2), so none would come: end the data and drop the
		 * connection rather than guess.  Every recipient already
		 * has its RCPT result. */
		mgmt_dlv_sbuf_puts(&c->out, ".\r\n");
		if (conn_flush(c) < 0)
			return -1;
		conn_fail(c, "4.5.0", "DATA accepted without recipients");
		return -1;
	}
	if (job->accepted_count == 0) {
		/* DATA was pipelined and, oddly, accepted with no valid
		 * recipient: end the empty message (RFC 2920 §3.1). */
		c->phase = P_DISCARD_DOT;
		mgmt_dlv_sbuf_puts(&c->out, ".\r\n");
		set_deadline(c, eng(c)->conf.timeouts.data_term_ns);
		return conn_flush(c);
	}
	if (c->data_in_seq) {
		if (c->data_reply != 354) /* rcpts got DATA's result */
			return finish_txn(c);
		start_body(c);
		if (conn_flush(c) < 0)
			return -1;
		return body_pump(c);
	}
	if (c->use_bdat) {
		start_body(c);
		if (conn_flush(c) < 0)
			return -1;
		return body_pump(c);
	}
	c->phase = P_DATA_WAIT;
	mgmt_dlv_sbuf_puts(&c->out, "DATA\r\n");
	set_deadline(c, eng(c)->conf.timeouts.data_init_ns);
	return conn_flush(c);
}

/* DATA (or its pipelined copy) failed: every accepted rcpt gets it. */
static void fail_accepted(struct dlv_conn *c, const struct mgmt_dlv_reply *r)
{
	struct dlv_job *job = c->job;
	char status[16], diag[DLV_DIAG_SIZE];
	enum dlv_res res;

	reply_outcome(r, &res, status, diag, sizeof(diag));
	if (res == DLV_R_OK) { /* 2xx to DATA makes no sense (§4.3.2) */
		res = DLV_R_DEFER;
		snprintf(status, 16, "4.5.0");
	}
	for (unsigned k = 0; k < job->accepted_count; k++)
		dlv_rcpt_result(job, job->accepted[k], res, status, diag, true);
}

static int seq_reply(struct dlv_conn *c, const struct mgmt_dlv_reply *r)
{
	struct dlv_job *job = c->job;
	unsigned i = c->seq_replied++;
	char status[16], diag[DLV_DIAG_SIZE];
	enum dlv_res res;

	reply_outcome(r, &res, status, diag, sizeof(diag));
	switch (seq_kind(c, i)) {
	case K_RSET:
		if (r->code != 250) {
			/* The cached connection is no good; the job has not
			 * started, so it goes back for a fresh connection. */
			c->got_reply = false;
			conn_fail(c, "4.4.2", "RSET refused");
			return -1;
		}
		break;
	case K_MAIL:
		if (res != DLV_R_OK) {
			c->mail_failed = true;
			dlv_job_fail_rest(job, res, status, diag);
		}
		break;
	case K_RCPT: {
		unsigned pos = i - (c->need_rset ? 2 : 1);

		if (c->mail_failed)
			break;
		if (res == DLV_R_OK)
			job->accepted[job->accepted_count++] = pos;
		else
			dlv_rcpt_result(job, pos, res, status, diag, true);
		break;
	}
	case K_DATA:
		c->data_reply = r->code;
		if (r->code != 354 && !c->mail_failed)
			fail_accepted(c, r);
		break;
	}
	if (c->seq_replied < c->seq_len) {
		if (seq_pump(c) < 0)
			return -1;
		set_deadline(c, seq_timeout(c, c->seq_replied));
		return 0;
	}
	return after_seq(c);
}

static int final_reply(struct dlv_conn *c, const struct mgmt_dlv_reply *r)
{
	struct dlv_job *job = c->job;
	char status[16], diag[DLV_DIAG_SIZE];
	enum dlv_res res;

	reply_outcome(r, &res, status, diag, sizeof(diag));
	if (c->lmtp) {
		/* RFC 2033 §4.2: one reply per accepted RCPT, in order. */
		dlv_rcpt_result(job, job->accepted[c->final_got], res, status,
				diag, true);
		if (++c->final_got < job->accepted_count)
			return 0;
	} else {
		for (unsigned k = 0; k < job->accepted_count; k++)
			dlv_rcpt_result(job, job->accepted[k], res, status,
					diag, true);
	}
	return finish_txn(c);
}

static int start_txn(struct dlv_conn *c, struct dlv_job *job);

/* The job's results are complete: hand it back, take the next one.
 * -1 if the connection is gone. */
static int finish_txn(struct dlv_conn *c)
{
	struct dlv_job *job = c->job;
	struct dlv_job *next;

	c->job = NULL;
	c->deadline_ns = 0;
	dlv_job_fail_rest(job, DLV_R_DEFER, "4.4.2",
			  "no reply for this recipient");
	dlv_job_done(eng(c), job);
	next = dlv_dest_take(c->dest);
	if (next)
		return start_txn(c, next);
	c->idle_since_ns = mx_now_ns();
	return 0;
}

/* -1 if the connection is gone. */
static int start_txn(struct dlv_conn *c, struct dlv_job *job)
{
	struct q_msg_view v;

	c->job = job;
	job->accepted_count = 0;
	c->phase = P_CMDS;
	c->need_rset = c->txn_count > 0;
	c->txn_count++;
	if (c->txn_count > 1)
		MX_COUNT(mgmt_dlv_counters, dlv_conn_reused);
	c->use_bdat = c->chunking;
	c->data_in_seq = c->pipelining && !c->use_bdat;
	c->mail_failed = false;
	c->got_reply = false;
	c->data_reply = 0;
	c->seq_len = (c->need_rset ? 1 : 0) + 1 + job->rcpt_count +
		     (c->data_in_seq ? 1 : 0);
	c->seq_sent = c->seq_replied = 0;
	if (dlv_msg_view(eng(c), job->msg->id, &v) < 0)
		return finish_txn(c);
	/* RFC 1870 §6: do not send what the server said it will refuse. */
	if (c->size_ext && c->size_max && v.body_len > c->size_max) {
		dlv_job_fail_rest(job, DLV_R_BOUNCE, "5.3.4",
				  "message larger than the next hop's SIZE");
		return finish_txn(c);
	}
	return seq_pump(c);
}

static void parse_ehlo(struct dlv_conn *c, const struct mgmt_dlv_reply *r)
{
	const char *p = r->text;

	/* RFC 5321 §4.1.1.1: line 1 is the domain, then one keyword with
	 * its parameters per line. */
	p = strchr(p, '\n');
	while (p) {
		const char *kw = p + 1;
		const char *end = strchr(kw, '\n');
		size_t len = end ? (size_t)(end - kw) : strlen(kw);
		size_t wl = strcspn(kw, " \n");

		if (wl > len)
			wl = len;
		if (wl == 10 && strncasecmp(kw, "PIPELINING", 10) == 0)
			c->pipelining = true;
		else if (wl == 8 && strncasecmp(kw, "8BITMIME", 8) == 0)
			c->eightbit = true;
		else if (wl == 8 && strncasecmp(kw, "CHUNKING", 8) == 0)
			c->chunking = true;
		else if (wl == 3 && strncasecmp(kw, "DSN", 3) == 0)
			c->dsn = true;
		else if (wl == 4 && strncasecmp(kw, "SIZE", 4) == 0) {
			c->size_ext = true;
			c->size_max = strtoull(kw + 4, NULL, 10);
		}
		p = end;
	}
}

static void send_helo(struct dlv_conn *c, const char *verb)
{
	mgmt_dlv_sbuf_printf(&c->out, "%s %s\r\n", verb, eng(c)->hostname);
	set_deadline(c, eng(c)->conf.timeouts.helo_ns);
}

static int conn_ready(struct dlv_conn *c)
{
	struct dlv_job *job = c->job;

	c->st = C_READY;
	c->deadline_ns = 0;
	c->dest->down_until_ns = 0;
	MX_COUNT(mgmt_dlv_counters, dlv_conn_opened);
	if (job == NULL)
		job = dlv_dest_take(c->dest);
	else
		c->job = NULL;
	if (job)
		return start_txn(c, job);
	c->idle_since_ns = mx_now_ns();
	return 0;
}

/* One complete reply; -1 if the connection is gone. */
static int on_reply(struct dlv_conn *c, const struct mgmt_dlv_reply *r)
{
	char diag[DLV_DIAG_SIZE], why[DLV_DIAG_SIZE + 32];

	switch (c->st) {
	case C_CONNECTING:
		break;
	case C_GREETING:
		if (r->code != 220) {
			mgmt_dlv_reply_format(r, diag, sizeof(diag));
			snprintf(why, sizeof(why), "refused: %s", diag);
			conn_fail(c, "4.4.0", why);
			return -1;
		}
		c->st = C_HELO;
		send_helo(c, c->lmtp ? "LHLO" : "EHLO");
		return conn_flush(c);
	case C_HELO:
	case C_HELO_FALLBACK:
		if (r->code == 250) {
			if (c->st == C_HELO)
				parse_ehlo(c, r);
			return conn_ready(c);
		}
		if (c->st == C_HELO && !c->lmtp && r->code >= 500) {
			/* RFC 5321 §3.2: fall back to HELO. */
			c->st = C_HELO_FALLBACK;
			send_helo(c, "HELO");
			return conn_flush(c);
		}
		mgmt_dlv_reply_format(r, diag, sizeof(diag));
		snprintf(why, sizeof(why), "refused: %s", diag);
		conn_fail(c, "4.4.0", why);
		return -1;
	case C_QUIT:
		conn_free(c);
		return -1;
	case C_READY:
		if (c->job == NULL) {
			/* RFC 5321 §3.8: a 421 may come at any time. */
			conn_free(c);
			return -1;
		}
		c->got_reply = true;
		switch (c->phase) {
		case P_CMDS:
			return seq_reply(c, r);
		case P_DATA_WAIT:
			if (r->code == 354) {
				start_body(c);
				if (conn_flush(c) < 0)
					return -1;
				return body_pump(c);
			}
			fail_accepted(c, r);
			return finish_txn(c);
		case P_BODY:
			/* A reply while we still write: the server gave up
			 * on the message; its reply is the outcome for the
			 * accepted recipients, and the stream is unusable. */
			fail_accepted(c, r);
			conn_fail(c, "4.4.2", "early reply during data");
			return -1;
		case P_FINAL:
			return final_reply(c, r);
		case P_DISCARD_DOT:
			return finish_txn(c);
		}
		break;
	}
	mx_panic("deliver: reply in impossible state %d", (int)c->st);
}

static void on_readable(struct dlv_conn *c)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		size_t off = 0;

		if (n == 0) {
			if (c->st == C_QUIT || (c->st == C_READY && !c->job))
				conn_free(c);
			else
				conn_fail(c, "4.4.2", "connection closed");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			char why[96];
			snprintf(why, sizeof(why), "read failed: %s",
				 strerror(errno));
			conn_fail(c, "4.4.2", why);
			return;
		}
		while (off < (size_t)n) {
			struct mgmt_dlv_reply r;
			size_t used;
			int rc = mgmt_dlv_reply_parse(
			    &c->rp, buf + off, (size_t)n - off, &used, &r);

			off += used;
			if (rc < 0) {
				MX_COUNT(mgmt_dlv_counters, dlv_proto_errors);
				conn_fail(c, "4.5.0", "malformed reply");
				return;
			}
			if (rc == 1 && on_reply(c, &r) < 0)
				return;
		}
	}
}

/* -1 if the connection is gone. */
static int on_writable(struct dlv_conn *c)
{
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			char why[96];
			snprintf(why, sizeof(why), "connect failed: %s",
				 strerror(err));
			conn_fail(c, "4.4.1", why);
			return -1;
		}
		c->st = C_GREETING;
		conn_want_out(c, false);
		set_deadline(c, eng(c)->conf.timeouts.greeting_ns);
		return 0;
	}
	if (conn_flush(c) < 0)
		return -1;
	if (c->st == C_READY && c->job && c->phase == P_BODY)
		return body_pump(c);
	return 0;
}

void dlv_conn_event(struct dlv_conn *c, uint32_t events)
{
	if ((events & EPOLLOUT) && on_writable(c) < 0)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (c->st == C_CONNECTING) {
			on_writable(c); /* reports the connect error */
			return;
		}
		on_readable(c);
	}
}

static int conn_socket(struct dlv_dest *dest, int *fd_out)
{
	const struct mgmt_dlv_route *r = &dest->route;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char port[8];
	int fd, rc;

	if (r->kind == MGMT_DLV_ROUTE_LMTP_UNIX) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%.107s", r->path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
		    errno != EINPROGRESS) {
			rc = -errno;
			close(fd);
			return rc;
		}
		*fd_out = fd;
		return 0;
	}
	snprintf(port, sizeof(port), "%u", (unsigned)r->port);
	/* Numeric hosts resolve without DNS; names go through the resolver
	 * (blocking, normally /etc/hosts for a next hop). */
	rc = getaddrinfo(r->host, port, &hints, &ai);
	if (rc != 0 || ai == NULL)
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		rc = -errno;
		freeaddrinfo(ai);
		return rc;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	*fd_out = fd;
	return 0;
}

int dlv_conn_open(struct dlv_dest *dest, struct dlv_job *job)
{
	struct dlv_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return -ENOMEM;
	c->dest = dest;
	c->fd = -1;
	c->lmtp = dest->route.kind != MGMT_DLV_ROUTE_SMTP;
	c->job = job;
	mgmt_dlv_reply_init(&c->rp);
	c->next = dest->conns;
	dest->conns = c;
	dest->conn_count++;
	rc = conn_socket(dest, &c->fd);
	if (rc < 0) {
		char why[96];

		snprintf(why, sizeof(why), "connect failed: %s", strerror(-rc));
		conn_fail(c, "4.4.1", why);
		return rc;
	}
	c->st = C_CONNECTING;
	c->epollout = true;
	set_deadline(c, dest->eng->conf.timeouts.connect_ns);
	rc = conn_epoll(c, EPOLL_CTL_ADD);
	if (rc < 0) {
		conn_fail(c, "4.3.0", "epoll registration failed");
		return rc;
	}
	return 0;
}

bool dlv_conn_give(struct dlv_dest *dest, struct dlv_job *job)
{
	for (struct dlv_conn *c = dest->conns; c; c = c->next)
		if (c->st == C_READY && c->job == NULL) {
			start_txn(c, job);
			return true;
		}
	return false;
}

unsigned dlv_conn_busy_count(const struct dlv_dest *dest)
{
	unsigned n = 0;

	for (const struct dlv_conn *c = dest->conns; c; c = c->next)
		if (c->job || c->st < C_READY)
			n++;
	return n;
}

static void conn_quit(struct dlv_conn *c)
{
	c->st = C_QUIT;
	mgmt_dlv_sbuf_puts(&c->out, "QUIT\r\n");
	set_deadline(c, eng(c)->conf.timeouts.quit_ns);
	conn_flush(c);
}

uint64_t dlv_conn_tick(struct dlv_dest *dest, uint64_t now)
{
	const struct mgmt_dlv_conf *conf = &dest->eng->conf;
	uint64_t next = UINT64_MAX;
	struct dlv_conn *c = dest->conns;

	while (c) {
		struct dlv_conn *after = c->next;

		if (c->deadline_ns && now >= c->deadline_ns) {
			if (c->st == C_QUIT) {
				conn_free(c);
			} else {
				MX_COUNT(mgmt_dlv_counters, dlv_conn_timeouts);
				conn_fail(c, "4.4.2", "timeout");
			}
			/* conn_fail may have freed others (dest down): redo */
			c = dest->conns;
			next = UINT64_MAX;
			continue;
		}
		if (c->st == C_READY && c->job == NULL) {
			uint64_t idle_end =
			    c->idle_since_ns + conf->idle_timeout_ns;

			if (now >= idle_end || dest->paused ||
			    dest->eng->paused_all) {
				conn_quit(c);
				c = dest->conns;
				next = UINT64_MAX;
				continue;
			}
			if (idle_end < next)
				next = idle_end;
		}
		if (c->deadline_ns && c->deadline_ns < next)
			next = c->deadline_ns;
		c = after;
	}
	return next;
}

void dlv_conn_close_all(struct dlv_dest *dest, bool idle_only)
{
	struct dlv_conn *c = dest->conns;

	while (c) {
		struct dlv_conn *after = c->next;

		if (!idle_only || (c->st == C_READY && c->job == NULL) ||
		    c->st == C_QUIT) {
			if (c->job) {
				struct dlv_job *job = c->job;

				c->job = NULL;
				dlv_job_fail_rest(job, DLV_R_NONE, "", "");
				dlv_job_done(dest->eng, job);
			}
			conn_free(c);
		}
		c = after;
	}
}
