/*
 * ms_proto — mxsink's SMTP state machine: command lines, the DATA
 * end-of-data scanner and BDAT chunk counting.  See ms_proto.h.
 */
#include "ms_proto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * End-of-data scanner states.  The CRLF that ended the DATA command counts
 * as the line break before the first body line, so "." CRLF straight after
 * 354 is an empty message (RFC 5321 §4.1.1.4).  Only CRLF "." CRLF ends
 * the data: a bare LF neither ends a line nor starts one, so "\n.\n" and
 * "\n.\r\n" are body text (no smuggling of a second message past us).
 */
enum {
	DOT_BOL,   /* at the start of a line */
	DOT_TEXT,  /* inside a line, last octet not CR */
	DOT_CR,	   /* inside a line, last octet CR */
	DOT_DOT,   /* the line so far is "." */
	DOT_DOTCR, /* the line so far is ".\r" */
};

static const char R_OK[] = "250 2.0.0 Ok\r\n";
static const char R_SENDER[] = "250 2.1.0 Sender ok\r\n";
static const char R_RCPT[] = "250 2.1.5 Recipient ok\r\n";
static const char R_DATA[] = "354 End data with <CR><LF>.<CR><LF>\r\n";
static const char R_DISCARDED[] =
	"250 2.0.0 Ok: discarded (mxsink stores nothing)\r\n";
static const char R_BYE[] = "221 2.0.0 Bye\r\n";
static const char R_LONG_CMD[] = "500 5.5.2 Line too long\r\n";
static const char R_LONG_TEXT[] =
	"500 5.5.2 Text line longer than 1000 octets\r\n";
static const char R_BARE_LF[] = "500 5.5.2 Command line must end in CRLF\r\n";
static const char R_UNKNOWN[] = "500 5.5.2 Command unrecognized\r\n";
static const char R_NOT_IMPL[] = "502 5.5.1 Command not implemented\r\n";
static const char R_SYNTAX[] = "501 5.5.4 Syntax error in parameters\r\n";
static const char R_NEED_HELO[] = "503 5.5.1 Send EHLO or HELO first\r\n";
static const char R_NESTED[] = "503 5.5.1 Nested MAIL command\r\n";
static const char R_NEED_MAIL[] = "503 5.5.1 Need MAIL command\r\n";
static const char R_NEED_RCPT[] = "554 5.5.1 No valid recipients\r\n";
static const char R_MIXED[] = "503 5.5.1 DATA after BDAT\r\n";
static const char R_BDAT_SEQ[] = "503 5.5.1 BDAT without MAIL and RCPT\r\n";
static const char R_TOO_BIG[] =
	"552 5.3.4 Message size exceeds fixed maximum\r\n";

static void put(struct ms_out *out, const char *s, size_t n)
{
	memcpy(out->buf + out->len, s, n);
	out->len += n;
}

#define PUT(out, lit) put((out), (lit), sizeof(lit) - 1)

void ms_proto_conf_init(struct ms_proto_conf *conf, const char *hostname,
			uint64_t size_max)
{
	int n;

	conf->size_max = size_max;
	n = snprintf(conf->greeting, sizeof(conf->greeting),
		     "220 %.64s ESMTP mxsink (not durable: discards every "
		     "message)\r\n",
		     hostname);
	conf->greeting_len = (size_t)n;
	n = snprintf(conf->ehlo, sizeof(conf->ehlo),
		     "250-%.64s\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
		     "250-SIZE %llu\r\n250-CHUNKING\r\n"
		     "250 ENHANCEDSTATUSCODES\r\n",
		     hostname, (unsigned long long)size_max);
	conf->ehlo_len = (size_t)n;
}

static void txn_reset(struct ms_sess *s)
{
	s->mail = false;
	s->bdat_txn = false;
	s->long_line = false;
	s->rcpts = 0;
	s->msg_size = 0;
}

void ms_sess_init(struct ms_sess *s, const struct ms_proto_conf *conf,
		  struct ms_out *out)
{
	memset(s, 0, sizeof(*s));
	s->conf = conf;
	s->phase = MS_PH_CMD;
	put(out, conf->greeting, conf->greeting_len);
}

static bool has_prefix(const char *p, size_t n, const char *pfx)
{
	size_t k = strlen(pfx);

	return n >= k && strncasecmp(p, pfx, k) == 0;
}

/* "<...>" possibly followed by " params": the path's end, or NULL.
 * RFC 5321 §4.1.2 (Reverse-path, Forward-path). */
static const char *path_end(const char *p, const char *end)
{
	const char *gt;

	if (p >= end || *p != '<')
		return NULL;
	gt = memchr(p, '>', (size_t)(end - p));
	if (!gt || (gt + 1 < end && gt[1] != ' '))
		return NULL;
	return gt + 1;
}

/* SIZE=n among MAIL's parameters (RFC 1870 §6): false if it is over the
 * limit. */
static bool size_param_ok(const struct ms_sess *s, const char *p,
			  const char *end)
{
	while (p < end) {
		const char *sp;

		while (p < end && *p == ' ')
			p++;
		sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp)
			sp = end;
		if (has_prefix(p, (size_t)(sp - p), "SIZE=")) {
			uint64_t v = 0;

			for (p += 5; p < sp && *p >= '0' && *p <= '9'; p++) {
				if (v > s->conf->size_max)
					return false;
				v = v * 10 + (uint64_t)(*p - '0');
			}
			if (v > s->conf->size_max)
				return false;
		}
		p = sp;
	}
	return true;
}

static void cmd_mail(struct ms_sess *s, const char *arg, const char *end,
		     struct ms_out *out, struct ms_stats *st)
{
	const char *pe;

	if (!s->greeted) {
		st->sequence++;
		PUT(out, R_NEED_HELO);
		return;
	}
	if (s->mail) {
		st->sequence++;
		PUT(out, R_NESTED);
		return;
	}
	if (!has_prefix(arg, (size_t)(end - arg), "FROM:")) {
		st->syntax++;
		PUT(out, R_SYNTAX);
		return;
	}
	arg += 5;
	pe = path_end(arg, end);
	if (!pe) {
		st->syntax++;
		PUT(out, R_SYNTAX);
		return;
	}
	if (!size_param_ok(s, pe, end)) {
		st->too_big++;
		PUT(out, R_TOO_BIG);
		return;
	}
	txn_reset(s);
	s->mail = true;
	PUT(out, R_SENDER);
}

static void cmd_rcpt(struct ms_sess *s, const char *arg, const char *end,
		     struct ms_out *out, struct ms_stats *st)
{
	if (!s->mail) {
		st->sequence++;
		PUT(out, R_NEED_MAIL);
		return;
	}
	if (!has_prefix(arg, (size_t)(end - arg), "TO:") ||
	    !path_end(arg + 3, end)) {
		st->syntax++;
		PUT(out, R_SYNTAX);
		return;
	}
	s->rcpts++;
	st->rcpts++;
	PUT(out, R_RCPT);
}

static void cmd_data(struct ms_sess *s, const char *arg, const char *end,
		     struct ms_out *out, struct ms_stats *st)
{
	if (arg != end) {
		st->syntax++;
		PUT(out, R_SYNTAX);
		return;
	}
	if (!s->mail) {
		st->sequence++;
		PUT(out, R_NEED_MAIL);
		return;
	}
	/* RFC 3030 §2: DATA may not follow BDAT in one transaction. */
	if (s->bdat_txn) {
		st->sequence++;
		PUT(out, R_MIXED);
		return;
	}
	/* RFC 2920 §3.1: with pipelining, DATA after refused RCPTs gets 554
	 * (RFC 5321 §3.3 allows 503 or 554). */
	if (!s->rcpts) {
		st->sequence++;
		PUT(out, R_NEED_RCPT);
		return;
	}
	s->phase = MS_PH_DATA;
	s->dot_state = DOT_BOL;
	s->line_len = 0;
	PUT(out, R_DATA);
}

/* BDAT size [LAST] (RFC 3030 §2).  A size we cannot read leaves the
 * following octets to be read as commands: there is no other way to find
 * the next command. */
static void cmd_bdat(struct ms_sess *s, const char *arg, const char *end,
		     struct ms_out *out, struct ms_stats *st)
{
	uint64_t n = 0;
	const char *p = arg;

	if (p == end) {
		st->syntax++;
		PUT(out, R_SYNTAX);
		return;
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10) {
			st->syntax++;
			PUT(out, R_SYNTAX);
			return;
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == arg) {
		st->syntax++;
		PUT(out, R_SYNTAX);
		return;
	}
	s->bdat_last = false;
	if (p < end) {
		if (*p != ' ' || strncasecmp(p + 1, "LAST", 4) != 0 ||
		    p + 5 != end) {
			st->syntax++;
			PUT(out, R_SYNTAX);
			return;
		}
		s->bdat_last = true;
	}
	/* RFC 3030 §2: the chunk is read even when it is refused, so the
	 * session stays in step; the reply comes after it. */
	s->bdat_ok = s->mail && s->rcpts;
	s->bdat_left = n;
	s->phase = MS_PH_BDAT;
}

static void bdat_done(struct ms_sess *s, struct ms_out *out,
		      struct ms_stats *st)
{
	s->phase = MS_PH_CMD;
	if (!s->bdat_ok) {
		st->sequence++;
		PUT(out, R_BDAT_SEQ);
		return;
	}
	s->bdat_txn = true;
	if (!s->bdat_last) {
		PUT(out, R_OK);
		return;
	}
	if (s->msg_size > s->conf->size_max) {
		st->too_big++;
		st->rejected++;
		PUT(out, R_TOO_BIG);
	} else {
		st->msgs++;
		st->msgs_bdat++;
		PUT(out, R_DISCARDED);
	}
	txn_reset(s);
}

static bool verb_is(const char *p, size_t n, const char *verb)
{
	size_t k = strlen(verb);

	return n == k && strncasecmp(p, verb, k) == 0;
}

/* One command line, CRLF removed. */
static void command(struct ms_sess *s, const char *line, size_t n,
		    struct ms_out *out, struct ms_stats *st)
{
	const char *end = line + n;
	const char *sp = memchr(line, ' ', n);
	size_t vlen = sp ? (size_t)(sp - line) : n;
	const char *arg = sp ? sp + 1 : end;

	st->cmds++;
	if (verb_is(line, vlen, "MAIL")) {
		cmd_mail(s, arg, end, out, st);
	} else if (verb_is(line, vlen, "RCPT")) {
		cmd_rcpt(s, arg, end, out, st);
	} else if (verb_is(line, vlen, "DATA")) {
		cmd_data(s, arg, end, out, st);
	} else if (verb_is(line, vlen, "BDAT")) {
		cmd_bdat(s, arg, end, out, st);
	} else if (verb_is(line, vlen, "EHLO") || verb_is(line, vlen, "HELO")) {
		if (arg == end) {
			st->syntax++;
			PUT(out, R_SYNTAX);
			return;
		}
		/* RFC 5321 §4.1.4: EHLO/HELO also resets the transaction. */
		txn_reset(s);
		s->greeted = true;
		if (line[0] == 'E' || line[0] == 'e')
			put(out, s->conf->ehlo, s->conf->ehlo_len);
		else
			PUT(out, R_OK);
	} else if (verb_is(line, vlen, "RSET")) {
		txn_reset(s);
		PUT(out, R_OK);
	} else if (verb_is(line, vlen, "NOOP")) {
		PUT(out, R_OK);
	} else if (verb_is(line, vlen, "QUIT")) {
		st->quits++;
		s->phase = MS_PH_QUIT;
		PUT(out, R_BYE);
	} else if (verb_is(line, vlen, "VRFY") || verb_is(line, vlen, "EXPN") ||
		   verb_is(line, vlen, "HELP") ||
		   verb_is(line, vlen, "STARTTLS") ||
		   verb_is(line, vlen, "AUTH")) {
		st->unknown++;
		PUT(out, R_NOT_IMPL);
	} else {
		st->unknown++;
		PUT(out, R_UNKNOWN);
	}
}

/* A complete line ending in LF (included in n). */
static void line_done(struct ms_sess *s, const char *line, size_t n,
		      struct ms_out *out, struct ms_stats *st)
{
	if (s->cmd_overflow) {
		/* RFC 5321 §4.5.3.1.4 limit, §4.5.3.1.9 reply. */
		s->cmd_overflow = false;
		st->long_lines++;
		PUT(out, R_LONG_CMD);
		return;
	}
	/* RFC 5321 §2.3.8: lines end in CRLF; a bare LF is refused. */
	if (n < 2 || line[n - 2] != '\r') {
		st->cmds++;
		st->syntax++;
		PUT(out, R_BARE_LF);
		return;
	}
	command(s, line, n - 2, out, st);
}

/* Command phase: complete lines straight from the input, the rest of a
 * split line through s->cmd. */
static size_t feed_cmd(struct ms_sess *s, const char *in, size_t len,
		       struct ms_out *out, struct ms_stats *st)
{
	const char *lf = memchr(in, '\n', len);
	size_t n = lf ? (size_t)(lf - in) + 1 : len;

	if (s->cmd_len == 0 && lf && !s->cmd_overflow) {
		if (n > MS_CMD_LINE_MAX)
			s->cmd_overflow = true;
		line_done(s, in, n, out, st);
		return n;
	}
	if (!s->cmd_overflow) {
		if (s->cmd_len + n > MS_CMD_LINE_MAX) {
			s->cmd_overflow = true;
			s->cmd_len = 0;
		} else {
			memcpy(s->cmd + s->cmd_len, in, n);
			s->cmd_len += n;
		}
	}
	if (lf) {
		size_t k = s->cmd_len;

		s->cmd_len = 0;
		line_done(s, s->cmd, k, out, st);
	}
	return n;
}

static void data_done(struct ms_sess *s, struct ms_out *out,
		      struct ms_stats *st)
{
	s->phase = MS_PH_CMD;
	if (s->long_line) {
		/* RFC 5321 §4.5.3.1.6 limit, §4.5.3.1.9 reply. */
		st->long_lines++;
		st->rejected++;
		PUT(out, R_LONG_TEXT);
	} else if (s->msg_size > s->conf->size_max) {
		st->too_big++;
		st->rejected++;
		PUT(out, R_TOO_BIG);
	} else {
		st->msgs++;
		st->msgs_data++;
		PUT(out, R_DISCARDED);
	}
	txn_reset(s);
}

static void text_octets(struct ms_sess *s, size_t n)
{
	s->line_len += n;
	if (s->line_len > MS_TEXT_LINE_MAX - 2)
		s->long_line = true;
}

/* DATA phase: scan for CRLF "." CRLF.  Octets inside a line are skipped
 * with memchr to the next CR. */
static size_t feed_data(struct ms_sess *s, const char *in, size_t len,
			struct ms_out *out, struct ms_stats *st)
{
	size_t i = 0;

	while (i < len) {
		char c = in[i];

		switch (s->dot_state) {
		case DOT_TEXT: {
			const char *cr = memchr(in + i, '\r', len - i);
			size_t k = cr ? (size_t)(cr - (in + i)) : len - i;

			text_octets(s, k);
			i += k;
			if (cr) {
				s->dot_state = DOT_CR;
				i++;
			}
			continue;
		}
		case DOT_BOL:
			if (c == '.') {
				s->dot_state = DOT_DOT;
				text_octets(s, 1);
			} else if (c == '\r') {
				s->dot_state = DOT_CR;
			} else {
				s->dot_state = DOT_TEXT;
				text_octets(s, 1);
			}
			break;
		case DOT_CR:
			if (c == '\n') {
				s->dot_state = DOT_BOL;
				s->line_len = 0;
			} else if (c != '\r') {
				s->dot_state = DOT_TEXT;
				text_octets(s, 2);
			} else {
				text_octets(s, 1);
			}
			break;
		case DOT_DOT:
			if (c == '\r') {
				s->dot_state = DOT_DOTCR;
			} else {
				/* A stuffed dot (RFC 5321 §4.5.2) or a line
				 * that merely starts with one. */
				s->dot_state = DOT_TEXT;
				text_octets(s, 1);
			}
			break;
		case DOT_DOTCR:
			if (c == '\n') {
				i++;
				s->msg_size += i;
				st->body_bytes += i;
				data_done(s, out, st);
				return i;
			}
			s->dot_state = c == '\r' ? DOT_CR : DOT_TEXT;
			text_octets(s, c == '\r' ? 1 : 2);
			break;
		}
		i++;
	}
	s->msg_size += len;
	st->body_bytes += len;
	return len;
}

size_t ms_sess_feed(struct ms_sess *s, const char *in, size_t len,
		    struct ms_out *out, struct ms_stats *st)
{
	size_t done = 0;

	while (done < len && out->size - out->len >= MS_REPLY_MAX) {
		size_t n;

		switch (s->phase) {
		case MS_PH_CMD:
			n = feed_cmd(s, in + done, len - done, out, st);
			break;
		case MS_PH_DATA:
			n = feed_data(s, in + done, len - done, out, st);
			break;
		case MS_PH_BDAT:
			n = len - done;
			if (n > s->bdat_left)
				n = (size_t)s->bdat_left;
			s->bdat_left -= n;
			if (s->bdat_ok)
				s->msg_size += n;
			st->body_bytes += n;
			if (s->bdat_left == 0)
				bdat_done(s, out, st);
			break;
		case MS_PH_QUIT:
		default:
			return done;
		}
		done += n;
	}
	/* A BDAT 0 chunk (or one just read) completes without more input. */
	if (s->phase == MS_PH_BDAT && s->bdat_left == 0 &&
	    out->size - out->len >= MS_REPLY_MAX)
		bdat_done(s, out, st);
	return done;
}
