/*
 * dp_smtp_mail — MAIL and RCPT: the paths (dp_smtp_addr) and their ESMTP
 * parameters: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8
 * (RFC 6531), RET/ENVID and NOTIFY/ORCPT (RFC 3461).  A parameter of an
 * extension we did not advertise (or any parameter after HELO) is 555
 * 5.5.4 (RFC 5321 §4.1.1.11); a bad value or a repeated one is 501 5.5.4.
 * Every recipient goes through host->rcpt_check: nothing is accepted
 * without the policy's word (never an open relay).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "dp_smtp_addr.h"
#include "dp_smtp_impl.h"
#include "dp_smtp_param.h"
#include "mx_log.h"

#define ENVID_MAX 100 /* RFC 3461 §4.4 */
#define ORCPT_MAX 500 /* RFC 3461 §4.2 */

/* Skips "FROM:" / "TO:" and the spaces some clients put after it (RFC
 * 5321 §4.1.1.2 has none; Postfix and most servers tolerate them). */
static char *after_prefix(char *arg, size_t len, const char *prefix,
			  size_t *rest)
{
	size_t n = strlen(prefix);

	if (len < n || strncasecmp(arg, prefix, n) != 0)
		return NULL;
	arg += n, len -= n;
	while (len > 0 && *arg == ' ')
		arg++, len--;
	*rest = len;
	return arg;
}

static bool parse_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

static void addr_error(struct dp_smtp_session *s, long rc, bool sender)
{
	const char *what = sender ? "sender" : "recipient";
	const char *esc = sender ? "5.1.7" : "5.1.3";

	if (rc == -EILSEQ)
		/* RFC 6531 §3.7.4.1 */
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "553 5.6.7 Error: non-ASCII %s address "
				    "needs SMTPUTF8",
				    what);
	else if (rc == -ENAMETOOLONG)
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "501 %s Error: %s address too long", esc,
				    what);
	else
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "501 %s Error: bad %s address syntax", esc,
				    what);
}

static void param_error(struct dp_smtp_session *s,
			const struct dp_smtp_param *p)
{
	dp_smtp_reply_error(s, smtp_err_syntax,
			    "501 5.5.4 Error: bad parameter %.*s",
			    (int)p->key_len, p->key);
}

static void param_unsupported(struct dp_smtp_session *s,
			      const struct dp_smtp_param *p)
{
	dp_smtp_reply_error(s, smtp_err_syntax,
			    "555 5.5.4 Error: unsupported parameter %.*s",
			    p->key_len > 32 ? 32 : (int)p->key_len, p->key);
}

enum {
	MP_SIZE = 1,
	MP_BODY = 2,
	MP_UTF8 = 4,
	MP_RET = 8,
	MP_ENVID = 16,
	RP_NOTIFY = 32,
	RP_ORCPT = 64,
};

/* Which parameter this is, if its extension is on; 0 if unsupported. */
static unsigned param_kind(const struct dp_smtp_session *s,
			   const struct dp_smtp_param *p, bool mail)
{
	const struct dp_smtp_conf *c = s->conf;

	if (!s->esmtp)
		return 0;
	if (mail) {
		if (dp_smtp_param_is(p->key, p->key_len, "SIZE"))
			return MP_SIZE;
		if (dp_smtp_param_is(p->key, p->key_len, "BODY") &&
		    c->ext_8bitmime)
			return MP_BODY;
		if (dp_smtp_param_is(p->key, p->key_len, "SMTPUTF8") &&
		    c->ext_smtputf8)
			return MP_UTF8;
		if (dp_smtp_param_is(p->key, p->key_len, "RET") && c->ext_dsn)
			return MP_RET;
		if (dp_smtp_param_is(p->key, p->key_len, "ENVID") && c->ext_dsn)
			return MP_ENVID;
		return 0;
	}
	if (dp_smtp_param_is(p->key, p->key_len, "NOTIFY") && c->ext_dsn)
		return RP_NOTIFY;
	if (dp_smtp_param_is(p->key, p->key_len, "ORCPT") && c->ext_dsn)
		return RP_ORCPT;
	return 0;
}

/* Returns false after replying to a bad MAIL parameter. */
static bool mail_param(struct dp_smtp_session *s, const struct dp_smtp_param *p,
		       unsigned kind, char *envid_buf)
{
	struct dp_smtp_txn *t = &s->txn;
	const char *v = p->value;
	size_t n = p->value_len;

	switch (kind) {
	case MP_SIZE:
		/* size-value = 1*20DIGIT (RFC 1870 §3); 20 digits may not fit
		 * in 64 bits but are surely over the limit. */
		if (n == 20 && parse_u64(v, 19, &t->size_declared) &&
		    v[19] >= '0' && v[19] <= '9')
			t->size_declared = UINT64_MAX;
		else if (!parse_u64(v, n, &t->size_declared))
			break;
		/* RFC 1870 §6.2: refuse at MAIL what is declared too big. */
		if (t->size_declared > s->conf->msg_size_max) {
			dp_smtp_reply_error(s, smtp_err_size_exceeded,
					    "552 5.3.4 Error: message size "
					    "exceeds fixed limit");
			return false;
		}
		return true;
	case MP_BODY:
		if (dp_smtp_param_is(v, n, "7BIT"))
			return true;
		if (dp_smtp_param_is(v, n, "8BITMIME")) {
			t->body_8bit = true;
			return true;
		}
		if (dp_smtp_param_is(v, n, "BINARYMIME") &&
		    s->conf->ext_chunking) {
			t->body_8bit = t->body_binary = true;
			return true;
		}
		break;
	case MP_UTF8:
		if (v != NULL)
			break;
		t->smtputf8 = true;
		return true;
	case MP_RET:
		if (dp_smtp_param_is(v, n, "FULL"))
			t->ret = DP_SMTP_RET_FULL;
		else if (dp_smtp_param_is(v, n, "HDRS"))
			t->ret = DP_SMTP_RET_HDRS;
		else
			break;
		return true;
	case MP_ENVID:
		if (v == NULL ||
		    dp_smtp_xtext_decode(v, n, envid_buf, ENVID_MAX + 1) < 0)
			break;
		return true;
	}
	param_error(s, p);
	return false;
}

void dp_smtp_cmd_mail(struct dp_smtp_session *s, char *arg, size_t len)
{
	struct dp_smtp_txn *t = &s->txn;
	struct dp_smtp_addr a;
	struct dp_smtp_param p;
	char envid[ENVID_MAX + 1];
	unsigned seen = 0;
	size_t rest, pos;
	char *path;
	long rc;

	path = after_prefix(arg, len, "FROM:", &rest);
	if (path == NULL || rest == 0 || path[0] != '<') {
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	/* UTF-8 is checked against SMTPUTF8 once the parameters are known. */
	rc = dp_smtp_addr_parse(path, rest,
				DP_SMTP_ADDR_NULL_OK | DP_SMTP_ADDR_UTF8, &a);
	if (rc < 0) {
		addr_error(s, rc, true);
		return;
	}
	envid[0] = '\0';
	pos = (size_t)rc;
	dp_smtp_txn_reset(s);
	for (;;) {
		unsigned kind;
		int r = dp_smtp_param_next(path, rest, &pos, &p);

		if (r == 0)
			break;
		if (r < 0) {
			dp_smtp_reply_error(s, smtp_err_syntax,
					    "501 5.5.4 Syntax: MAIL "
					    "FROM:<address> [parameters]");
			goto fail;
		}
		kind = param_kind(s, &p, true);
		if (kind == 0) {
			param_unsupported(s, &p);
			goto fail;
		}
		if (seen & kind) {
			param_error(s, &p);
			goto fail;
		}
		seen |= kind;
		if (!mail_param(s, &p, kind, envid))
			goto fail;
	}
	if (a.non_ascii && !t->smtputf8) {
		addr_error(s, -EILSEQ, true);
		goto fail;
	}
	t->mail_from = dp_smtp_arena_dup(s, a.mbox, a.mbox_len);
	if (seen & MP_ENVID)
		t->envid = dp_smtp_arena_dup(s, envid, strlen(envid));
	/* The arena is empty at MAIL and holds at least two paths
	 * (dp_smtp_conf_check), so these always fit. */
	MX_ASSERT(t->mail_from != NULL && (!(seen & MP_ENVID) || t->envid));
	s->state = DP_SMTP_ST_MAIL;
	dp_smtp_reply(s, "250 2.1.0 Ok");
	return;
fail:
	dp_smtp_txn_reset(s);
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ), RFC 3461 §4.1 */
static bool parse_notify(const char *v, size_t n, unsigned *out)
{
	unsigned flags = 0;
	size_t i = 0;

	if (v == NULL)
		return false;
	while (i <= n) {
		size_t j = i;
		unsigned f;

		while (j < n && v[j] != ',')
			j++;
		if (dp_smtp_param_is(v + i, j - i, "NEVER"))
			f = DP_SMTP_NOTIFY_NEVER;
		else if (dp_smtp_param_is(v + i, j - i, "SUCCESS"))
			f = DP_SMTP_NOTIFY_SUCCESS;
		else if (dp_smtp_param_is(v + i, j - i, "FAILURE"))
			f = DP_SMTP_NOTIFY_FAILURE;
		else if (dp_smtp_param_is(v + i, j - i, "DELAY"))
			f = DP_SMTP_NOTIFY_DELAY;
		else
			return false;
		if (flags & f)
			return false;
		flags |= f;
		i = j + 1;
	}
	/* NEVER excludes the others. */
	if ((flags & DP_SMTP_NOTIFY_NEVER) && flags != DP_SMTP_NOTIFY_NEVER)
		return false;
	*out = flags;
	return true;
}

/* ORCPT = addr-type ";" xtext, addr-type an atom (RFC 3461 §4.2). */
static bool parse_orcpt(const char *v, size_t n, char *out, size_t size)
{
	const char *semi = v ? memchr(v, ';', n) : NULL;
	size_t tlen;
	long rc;

	if (semi == NULL || semi == v)
		return false;
	tlen = (size_t)(semi - v);
	for (size_t i = 0; i < tlen; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	if (tlen + 1 >= size)
		return false;
	memcpy(out, v, tlen + 1);
	rc = dp_smtp_xtext_decode(semi + 1, n - tlen - 1, out + tlen + 1,
				  size - tlen - 1);
	return rc > 0;
}

static void verdict_reply(struct dp_smtp_session *s,
			  enum dp_smtp_rcpt_verdict v)
{
	switch (v) {
	case DP_SMTP_RCPT_UNKNOWN:
		dp_smtp_reply_error(s, smtp_rcpt_unknown,
				    "550 5.1.1 Error: recipient address "
				    "rejected: user unknown");
		break;
	case DP_SMTP_RCPT_RELAY:
		dp_smtp_reply_error(s, smtp_rcpt_relay,
				    "554 5.7.1 Error: relay access denied");
		break;
	default:
		dp_smtp_reply_error(s, smtp_rcpt_tempfail,
				    "451 4.3.0 Error: recipient address "
				    "rejected: try again later");
		break;
	}
}

void dp_smtp_cmd_rcpt(struct dp_smtp_session *s, char *arg, size_t len)
{
	struct dp_smtp_txn *t = &s->txn;
	struct dp_smtp_addr a;
	struct dp_smtp_param p;
	char orcpt[ORCPT_MAX + 1];
	char local[DP_SMTP_LOCAL_MAX + 1], domain[DP_SMTP_DOMAIN_MAX + 1];
	unsigned seen = 0, notify = 0;
	enum dp_smtp_rcpt_verdict v;
	struct dp_smtp_rcpt *r;
	size_t rest, pos, mark;
	char *path;
	long rc;

	t->rcpt_tried = true;
	path = after_prefix(arg, len, "TO:", &rest);
	if (path == NULL || rest == 0 || path[0] != '<') {
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	rc = dp_smtp_addr_parse(path, rest,
				DP_SMTP_ADDR_POSTMASTER_OK |
				    (t->smtputf8 ? DP_SMTP_ADDR_UTF8 : 0),
				&a);
	if (rc < 0) {
		addr_error(s, rc, false);
		return;
	}
	pos = (size_t)rc;
	for (;;) {
		unsigned kind;
		int r2 = dp_smtp_param_next(path, rest, &pos, &p);

		if (r2 == 0)
			break;
		if (r2 < 0) {
			dp_smtp_reply_error(
			    s, smtp_err_syntax,
			    "501 5.5.4 Syntax: RCPT TO:<address> [parameters]");
			return;
		}
		kind = param_kind(s, &p, false);
		if (kind == 0) {
			param_unsupported(s, &p);
			return;
		}
		if (seen & kind) {
			param_error(s, &p);
			return;
		}
		seen |= kind;
		if (kind == RP_NOTIFY &&
		    !parse_notify(p.value, p.value_len, &notify)) {
			param_error(s, &p);
			return;
		}
		if (kind == RP_ORCPT &&
		    !parse_orcpt(p.value, p.value_len, orcpt, sizeof(orcpt))) {
			param_error(s, &p);
			return;
		}
	}
	/* RFC 5321 §4.5.3.1.8/§4.5.3.1.10: 452 for too many recipients. */
	if (t->rcpt_count >= s->conf->rcpt_max) {
		dp_smtp_reply_error(s, smtp_err_too_many_rcpts,
				    "452 4.5.3 Error: too many recipients");
		return;
	}
	if (dp_smtp_addr_local_decode(&a, local, sizeof(local)) < 0) {
		addr_error(s, -ENAMETOOLONG, false);
		return;
	}
	if (a.domain_len > 0) /* <Postmaster> has none */
		memcpy(domain, a.domain, a.domain_len);
	domain[a.domain_len] = '\0';
	v = s->host->rcpt_check(s->ctx, local, domain);
	if (v != DP_SMTP_RCPT_OK) {
		verdict_reply(s, v);
		return;
	}
	mark = t->arena_len;
	r = &s->rcpt[t->rcpt_count];
	r->addr = dp_smtp_arena_dup(s, a.mbox, a.mbox_len);
	r->notify = notify;
	r->orcpt = NULL;
	if (r->addr != NULL && (seen & RP_ORCPT))
		r->orcpt = dp_smtp_arena_dup(s, orcpt, strlen(orcpt));
	if (r->addr == NULL || ((seen & RP_ORCPT) && r->orcpt == NULL)) {
		/* Out of envelope memory: the same answer as too many. */
		t->arena_len = mark;
		dp_smtp_reply_error(s, smtp_err_too_many_rcpts,
				    "452 4.5.3 Error: too many recipients");
		return;
	}
	t->rcpt_count++;
	s->state = DP_SMTP_ST_RCPT;
	DP_SMTP_COUNT(smtp_rcpts);
	dp_smtp_reply(s, "250 2.1.5 Ok");
}
