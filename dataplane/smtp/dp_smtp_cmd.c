/*
 * dp_smtp_cmd — the command table and dispatcher, and the commands that
 * need no transaction: EHLO, HELO, RSET, NOOP, QUIT, HELP, VRFY, EXPN.
 *
 * Each command names the states it is allowed in; dp_smtp_sequence_error
 * here is the one place that answers a command out of sequence (503
 * 5.5.1, RFC 5321 §4.1.4, §4.3.2); BDAT calls it too, once its chunk has
 * been read.  Flags say which commands count as junk (junk_max),
 * which must end a pipelined group (RFC 2920 §3.1), which take no argument,
 * and which are not SMTP at all (an HTTP request: answered with 421 and a
 * close, so a browser or proxy probe cannot feed us commands).
 */
#include <string.h>
#include <strings.h>

#include "dp_smtp_impl.h"
#include "mx_log.h"

#define CF_JUNK 1u   /* counts toward junk_max */
#define CF_LAST 2u   /* must be last in a pipelined group */
#define CF_NOARG 4u  /* no argument allowed */
#define CF_HANGUP 8u /* not SMTP: 421 and close */

#define S_INIT (1u << DP_SMTP_ST_INIT)
#define S_HELO (1u << DP_SMTP_ST_HELO)
#define S_MAIL (1u << DP_SMTP_ST_MAIL)
#define S_RCPT (1u << DP_SMTP_ST_RCPT)
#define S_BDAT (1u << DP_SMTP_ST_BDAT)
#define S_ANY (S_INIT | S_HELO | S_MAIL | S_RCPT | S_BDAT)

typedef void dp_smtp_cmd_fn(struct dp_smtp_session *s, char *arg, size_t len);

struct dp_smtp_cmd {
	const char *name;
	unsigned flags;
	unsigned states;
	dp_smtp_cmd_fn *fn;
};

static dp_smtp_cmd_fn cmd_ehlo, cmd_helo, cmd_rset, cmd_noop, cmd_quit,
    cmd_help, cmd_vrfy, cmd_expn;

static const struct dp_smtp_cmd cmd_table[] = {
    {"EHLO", CF_LAST, S_ANY, cmd_ehlo},
    {"HELO", CF_LAST, S_ANY, cmd_helo},
    {"MAIL", 0, S_HELO, dp_smtp_cmd_mail},
    {"RCPT", 0, S_MAIL | S_RCPT, dp_smtp_cmd_rcpt},
    {"DATA", CF_LAST | CF_NOARG, S_RCPT, dp_smtp_cmd_data},
    /* BDAT must read its chunk even when refused, so it is allowed in
     * every state and checks the sequence itself (RFC 3030 §4). */
    {"BDAT", 0, S_ANY, dp_smtp_cmd_bdat},
    {"RSET", CF_JUNK | CF_NOARG, S_ANY, cmd_rset},
    {"NOOP", CF_JUNK | CF_LAST, S_ANY, cmd_noop},
    {"QUIT", CF_LAST | CF_NOARG, S_ANY, cmd_quit},
    {"HELP", CF_JUNK, S_ANY, cmd_help},
    {"VRFY", CF_JUNK | CF_LAST, S_ANY, cmd_vrfy},
    {"EXPN", CF_JUNK | CF_LAST, S_ANY, cmd_expn},
    {"GET", CF_HANGUP, S_ANY, NULL},
    {"POST", CF_HANGUP, S_ANY, NULL},
    {"HEAD", CF_HANGUP, S_ANY, NULL},
    {"PUT", CF_HANGUP, S_ANY, NULL},
    {"CONNECT", CF_HANGUP, S_ANY, NULL},
};

void dp_smtp_txn_reset(struct dp_smtp_session *s)
{
	if (s->txn.msg_open) {
		s->txn.msg_open = false;
		s->host->msg_abort(s->ctx);
	}
	memset(&s->txn, 0, sizeof(s->txn));
	s->mode = DP_SMTP_MODE_CMD;
	if (s->state != DP_SMTP_ST_INIT)
		s->state = DP_SMTP_ST_HELO;
}

void dp_smtp_sequence_error(struct dp_smtp_session *s, bool is_mail)
{
	const char *hint = "bad sequence of commands";

	if (s->state == DP_SMTP_ST_MAIL && !is_mail && s->txn.rcpt_tried) {
		/* RFC 2920 §3.1: DATA (or BDAT) after every RCPT failed. */
		dp_smtp_reply_error(s, smtp_err_bad_sequence,
				    "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (s->state == DP_SMTP_ST_INIT)
		hint = "send HELO/EHLO first";
	else if (s->state == DP_SMTP_ST_BDAT)
		hint = "BDAT transfer in progress";
	else if (is_mail)
		hint = "nested MAIL command";
	else if (s->state == DP_SMTP_ST_HELO)
		hint = "need MAIL command";
	else if (s->state == DP_SMTP_ST_MAIL)
		hint = "need RCPT command";
	dp_smtp_reply_error(s, smtp_err_bad_sequence, "503 5.5.1 Error: %s",
			    hint);
}

/* Refuses a line the reader flagged; true if it was refused. */
static bool refuse_flagged(struct dp_smtp_session *s, unsigned flags)
{
	/* RFC 5321 §2.3.8: only CRLF ends a line; bare CR/LF were the SMTP
	 * smuggling vector (CVE-2023-51764/5/6). */
	if (flags & DP_SMTP_LINE_TOO_LONG) {
		dp_smtp_reply_error(s, smtp_err_cmd_too_long,
				    "500 5.5.2 Error: line too long");
	} else if (flags & DP_SMTP_LINE_BARE_LF) {
		dp_smtp_reply_error(s, smtp_err_bare_lf,
				    "500 5.5.2 Error: bare <LF> received");
	} else if (flags & DP_SMTP_LINE_BARE_CR) {
		dp_smtp_reply_error(s, smtp_err_bare_cr,
				    "500 5.5.2 Error: bare <CR> received");
	} else if (flags & DP_SMTP_LINE_NUL) {
		dp_smtp_reply_error(s, smtp_err_nul,
				    "500 5.5.2 Error: NUL character received");
	} else {
		return false;
	}
	return true;
}

static bool junk_exceeded(struct dp_smtp_session *s)
{
	if (++s->junk <= s->conf->junk_max)
		return false;
	DP_SMTP_COUNT(smtp_err_too_many_junk);
	DP_SMTP_NOTE(s, "too_many_junk_commands");
	dp_smtp_close(s, "421 4.7.0 %s Error: too many junk commands",
		      s->conf->hostname);
	return true;
}

void dp_smtp_cmd_line(struct dp_smtp_session *s, bool more_input)
{
	char *line = s->line.buf;
	size_t len = s->line.len, vlen = 0;
	const struct dp_smtp_cmd *cmd = NULL;
	char *arg;

	DP_SMTP_COUNT(smtp_commands);
	if (refuse_flagged(s, s->line.flags))
		goto out;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (size_t k = 0; k < sizeof(cmd_table) / sizeof(cmd_table[0]); k++) {
		if (strlen(cmd_table[k].name) == vlen &&
		    strncasecmp(line, cmd_table[k].name, vlen) == 0) {
			cmd = &cmd_table[k];
			break;
		}
	}
	if (cmd == NULL) {
		if (!junk_exceeded(s))
			dp_smtp_reply_error(
			    s, smtp_err_unknown_cmd,
			    "500 5.5.2 Error: command not recognized");
		goto out;
	}
	if (cmd->flags & CF_HANGUP) {
		DP_SMTP_COUNT(smtp_err_non_smtp);
		DP_SMTP_NOTE(s, "non_smtp_command");
		dp_smtp_close(s, "421 4.7.0 %s Error: not an SMTP command",
			      s->conf->hostname);
		goto out;
	}
	if ((cmd->flags & CF_JUNK) && junk_exceeded(s))
		goto out;
	/* RFC 2920 §3.1: a client must wait for the reply to these before
	 * sending more.  The bytes are still handled in order (after DATA
	 * they are message text), so this is only counted. */
	if ((cmd->flags & CF_LAST) && more_input)
		DP_SMTP_COUNT(smtp_err_pipelining);
	arg = line + vlen;
	len -= vlen;
	while (len > 0 && arg[0] == ' ')
		arg++, len--;
	while (len > 0 && arg[len - 1] == ' ')
		arg[--len] = '\0';
	if (!(cmd->states & (1u << s->state))) {
		dp_smtp_sequence_error(s, cmd->fn == dp_smtp_cmd_mail);
		goto out;
	}
	if ((cmd->flags & CF_NOARG) && len > 0) {
		dp_smtp_reply_error(s, smtp_err_syntax, "501 5.5.4 Syntax: %s",
				    cmd->name);
		goto out;
	}
	cmd->fn(s, arg, len);
out:
	dp_smtp_line_reset(&s->line);
}

static void greet(struct dp_smtp_session *s, char *arg, size_t len, bool esmtp)
{
	const struct dp_smtp_conf *c = s->conf;

	if (len == 0) {
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "501 5.5.4 Syntax: %s hostname",
				    esmtp ? "EHLO" : "HELO");
		return;
	}
	/* RFC 5321 §4.1.4: EHLO/HELO resets any transaction. */
	dp_smtp_txn_reset(s);
	memcpy(s->helo, arg, len + 1);
	s->esmtp = esmtp;
	s->state = DP_SMTP_ST_HELO;
	if (!esmtp) {
		dp_smtp_reply(s, "250 %s", c->hostname);
		return;
	}
	dp_smtp_reply(
	    s,
	    "250-%s%s\r\n250-SIZE %zu%s\r\n"
	    "250-ENHANCEDSTATUSCODES%s%s%s\r\n250 %s",
	    c->hostname, c->ext_pipelining ? "\r\n250-PIPELINING" : "",
	    c->msg_size_max, c->ext_8bitmime ? "\r\n250-8BITMIME" : "",
	    c->ext_chunking ? "\r\n250-CHUNKING" : "",
	    c->ext_chunking ? "\r\n250-BINARYMIME" : "",
	    c->ext_smtputf8 ? "\r\n250-SMTPUTF8" : "",
	    c->ext_dsn ? "DSN" : "HELP");
}

static void cmd_ehlo(struct dp_smtp_session *s, char *arg, size_t len)
{
	greet(s, arg, len, true);
}

static void cmd_helo(struct dp_smtp_session *s, char *arg, size_t len)
{
	greet(s, arg, len, false);
}

static void cmd_rset(struct dp_smtp_session *s, char *arg, size_t len)
{
	dp_smtp_txn_reset(s);
	dp_smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct dp_smtp_session *s, char *arg, size_t len)
{
	dp_smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct dp_smtp_session *s, char *arg, size_t len)
{
	dp_smtp_txn_reset(s);
	dp_smtp_close(s, "221 2.0.0 Bye");
}

static void cmd_help(struct dp_smtp_session *s, char *arg, size_t len)
{
	dp_smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT "
			 "RSET NOOP QUIT HELP VRFY");
}

static void cmd_vrfy(struct dp_smtp_session *s, char *arg, size_t len)
{
	if (len == 0) {
		dp_smtp_reply_error(s, smtp_err_syntax,
				    "501 5.5.4 Syntax: VRFY address");
		return;
	}
	/* RFC 5321 §3.5.3: 252 says nothing about the mailbox. */
	dp_smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept "
			 "message and attempt delivery");
}

static void cmd_expn(struct dp_smtp_session *s, char *arg, size_t len)
{
	dp_smtp_reply_error(s, -1, "502 5.5.1 Error: command not implemented");
}
