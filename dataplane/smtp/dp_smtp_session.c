/*
 * dp_smtp_session — the session object: its memory layout in caller
 * storage, the input loop that routes bytes to the command reader, the
 * DATA scanner or the BDAT chunk reader, the commit hand-shake with the
 * host, output draining and timeouts.
 */
#include <errno.h>
#include <string.h>

#include "dp_smtp_addr.h"
#include "dp_smtp_impl.h"
#include "mx_log.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

void dp_smtp_conf_defaults(struct dp_smtp_conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->hostname, "localhost");
	c->cmd_line_max = 512;
	c->text_line_max = 1000;
	c->msg_size_max = 32u << 20;
	c->rcpt_max = 100;
	c->errors_max = 20;
	c->junk_max = 100;
	c->cmd_timeout_ms = 300000;
	c->data_timeout_ms = 180000;
	c->pregreet = true;
	c->out_size = 4096;
	c->envelope_arena_size = 16384;
	c->ext_pipelining = c->ext_8bitmime = c->ext_chunking = true;
	c->ext_smtputf8 = c->ext_dsn = true;
}

int dp_smtp_conf_check(const struct dp_smtp_conf *c)
{
	if (c->hostname[0] == '\0' ||
	    memchr(c->hostname, '\0', sizeof(c->hostname)) == NULL)
		return -EINVAL;
	/* RFC 5321 §4.5.3.1.4/6: the limits may be raised, never lowered. */
	if (c->cmd_line_max < 512 || c->cmd_line_max > 65536 ||
	    c->text_line_max < 1000 || c->rcpt_max < 1 ||
	    c->rcpt_max > 100000 || c->errors_max < 1 || c->junk_max < 1 ||
	    c->out_size < 2 * DP_SMTP_REPLY_ROOM ||
	    c->envelope_arena_size < 2 * DP_SMTP_PATH_MAX ||
	    c->msg_size_max == 0)
		return -EINVAL;
	return 0;
}

/* Offsets of the parts inside the caller's memory. */
struct layout {
	size_t line, helo, out, rcpt, arena, total;
};

static void layout_of(const struct dp_smtp_conf *c, struct layout *l)
{
	l->line = ALIGN8(sizeof(struct dp_smtp_session));
	l->helo = ALIGN8(l->line + c->cmd_line_max);
	l->out = ALIGN8(l->helo + c->cmd_line_max);
	l->rcpt = ALIGN8(l->out + c->out_size);
	l->arena = ALIGN8(l->rcpt + c->rcpt_max * sizeof(struct dp_smtp_rcpt));
	l->total = ALIGN8(l->arena + c->envelope_arena_size);
}

size_t dp_smtp_session_size(const struct dp_smtp_conf *conf)
{
	struct layout l;

	layout_of(conf, &l);
	return l.total;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

void dp_smtp_session_init(struct dp_smtp_session *s,
			  const struct dp_smtp_conf *conf,
			  const struct dp_smtp_host *host, void *ctx,
			  const struct dp_smtp_peer *peer, uint64_t now_ms)
{
	uint8_t *base = (uint8_t *)s;
	struct layout l;

	layout_of(conf, &l);
	memset(s, 0, sizeof(*s));
	s->conf = conf;
	s->host = host;
	s->ctx = ctx;
	copy_str(s->client_addr, sizeof(s->client_addr), peer->addr);
	copy_str(s->client_name, sizeof(s->client_name),
		 peer->name ? peer->name : "unknown");
	s->client_port = peer->port;
	s->last_ms = now_ms;
	s->input_ms = now_ms;
	dp_smtp_line_init(&s->line, (char *)base + l.line, conf->cmd_line_max);
	s->helo = (char *)base + l.helo;
	s->helo[0] = '\0';
	s->out = base + l.out;
	s->out_size = conf->out_size;
	s->rcpt = (struct dp_smtp_rcpt *)(void *)(base + l.rcpt);
	s->arena = (char *)base + l.arena;
	s->arena_size = conf->envelope_arena_size;
	s->state = DP_SMTP_ST_INIT;
	s->mode = DP_SMTP_MODE_CMD;
	DP_SMTP_COUNT(smtp_sessions);
}

void dp_smtp_session_fini(struct dp_smtp_session *s)
{
	if (s->txn.msg_open) {
		s->txn.msg_open = false;
		s->host->msg_abort(s->ctx);
	}
}

void dp_smtp_start(struct dp_smtp_session *s)
{
	if (s->started || s->closing)
		return;
	s->started = true;
	/* RFC 5321 §4.2: the greeting; no enhanced code (RFC 2034 §3). */
	dp_smtp_reply(s, "220 %s ESMTP mxgate", s->conf->hostname);
}

void dp_smtp_refuse(struct dp_smtp_session *s, const char *reply)
{
	dp_smtp_close(s, "%.*s", 510, reply);
}

char *dp_smtp_arena_dup(struct dp_smtp_session *s, const char *p, size_t n)
{
	char *dst;

	if (s->arena_size - s->txn.arena_len < n + 1)
		return NULL;
	dst = s->arena + s->txn.arena_len;
	memcpy(dst, p, n);
	dst[n] = '\0';
	s->txn.arena_len += n + 1;
	return dst;
}

size_t dp_smtp_input(struct dp_smtp_session *s, const uint8_t *buf, size_t len,
		     uint64_t now_ms)
{
	size_t i = 0;

	if (s->closing)
		return len;
	if (!s->started) {
		if (len == 0 || !s->conf->pregreet)
			return 0;
		/* The client talked before our greeting: a spam engine that
		 * does not wait (postscreen's pregreet test). */
		DP_SMTP_COUNT(smtp_err_pregreet);
		DP_SMTP_NOTE(s, "pregreet");
		dp_smtp_close(s,
			      "554 5.5.1 %s Error: talking before the banner",
			      s->conf->hostname);
		return len;
	}
	s->input_ms = now_ms;
	while (i < len && !s->closing && !s->awaiting) {
		enum dp_smtp_mode mode = s->mode;
		size_t n;

		/* Every reply this step may produce must fit. */
		if (!dp_smtp_out_has_room(s))
			break;
		switch (s->mode) {
		case DP_SMTP_MODE_CMD: {
			bool done = false;

			n = dp_smtp_line_feed(&s->line, buf + i, len - i,
					      &done);
			i += n;
			/* A command's time runs from the end of the one
			 * before: bytes that trickle in do not extend it
			 * (slowloris), only a complete line does. */
			if (done) {
				s->last_ms = now_ms;
				dp_smtp_cmd_line(s, i < len);
			}
			break;
		}
		case DP_SMTP_MODE_DATA:
			n = dp_smtp_data_feed(s, buf + i, len - i);
			i += n;
			s->progress += (uint32_t)n;
			break;
		case DP_SMTP_MODE_CHUNK:
			n = dp_smtp_chunk_feed(s, buf + i, len - i);
			i += n;
			s->progress += (uint32_t)n;
			break;
		default:
			mx_panic("smtp: bad mode %u", s->mode);
		}
		/* Message text extends the data timeout only in steps of
		 * DP_SMTP_PROGRESS_MIN bytes, so a client cannot hold a
		 * session with a byte per period; a mode change starts a new
		 * period. */
		if (s->progress >= DP_SMTP_PROGRESS_MIN || s->mode != mode) {
			s->last_ms = now_ms;
			s->progress = 0;
		}
	}
	if (s->closing)
		return len;
	return i;
}

void dp_smtp_commit_done(struct dp_smtp_session *s, int status, uint64_t id)
{
	if (!s->awaiting)
		mx_panic("smtp: commit_done without a pending commit");
	s->awaiting = false;
	/* The client's time for its next command starts with our reply. */
	s->last_ms = s->input_ms;
	if (s->closing) {
		/* Refused or timed out meanwhile: nobody is left to tell.  A
		 * durable message may be sent again (delivery is at least
		 * once). */
		dp_smtp_txn_reset(s);
		return;
	}
	if (status == 0) {
		DP_SMTP_COUNT(smtp_messages);
		DP_SMTP_COUNT_ADD(smtp_bytes, s->txn.body_len);
		/* A client that gets mail through is not a junk sender. */
		s->junk = 0;
		dp_smtp_reply(s, "250 2.0.0 Ok: queued as %016llx",
			      (unsigned long long)id);
	} else {
		DP_SMTP_COUNT(smtp_host_errors);
		DP_SMTP_COUNT(smtp_messages_rejected);
		if (status == -ENOSPC)
			dp_smtp_reply(s,
				      "452 4.3.1 Insufficient system storage");
		else if (status == -EPERM)
			dp_smtp_reply(
			    s, "550 5.7.1 Message rejected by content policy");
		else
			dp_smtp_reply(
			    s, "451 4.3.0 Error: queue file write error");
	}
	dp_smtp_txn_reset(s);
}

const uint8_t *dp_smtp_output(const struct dp_smtp_session *s, size_t *len)
{
	*len = s->out_tail - s->out_head;
	return s->out + s->out_head;
}

void dp_smtp_output_consume(struct dp_smtp_session *s, size_t n)
{
	MX_ASSERT(n <= s->out_tail - s->out_head);
	s->out_head += n;
	if (s->out_head == s->out_tail) {
		s->out_head = s->out_tail = 0;
	} else if (s->out_head > 0) {
		memmove(s->out, s->out + s->out_head,
			s->out_tail - s->out_head);
		s->out_tail -= s->out_head;
		s->out_head = 0;
	}
}

bool dp_smtp_want_close(const struct dp_smtp_session *s)
{
	return s->closing;
}

bool dp_smtp_awaiting_commit(const struct dp_smtp_session *s)
{
	return s->awaiting;
}

uint64_t dp_smtp_deadline_ms(const struct dp_smtp_session *s)
{
	if (s->awaiting || s->closing)
		return UINT64_MAX;
	if (s->mode == DP_SMTP_MODE_CMD)
		return s->last_ms + s->conf->cmd_timeout_ms;
	return s->last_ms + s->conf->data_timeout_ms;
}

void dp_smtp_timeout(struct dp_smtp_session *s, uint64_t now_ms)
{
	if (now_ms < dp_smtp_deadline_ms(s))
		return;
	DP_SMTP_COUNT(smtp_timeouts);
	DP_SMTP_NOTE(s, "timeout");
	/* RFC 5321 §4.5.3.2: the server may close after its timeout. */
	dp_smtp_close(s, "421 4.4.2 %s Error: timeout exceeded",
		      s->conf->hostname);
}
