/*
 * test_ms_proto — mxsink's SMTP state machine, table-driven: each case is
 * a client's input and the exact replies and counters it must produce,
 * fed whole, split in two at every byte, one byte at a time, and through
 * an output buffer so small that every reply makes the feed stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_proto.h"

#define HELO "EHLO c.test\r\n"
#define ENV "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"

#define R220 "220 h.test ESMTP mxsink (not durable: discards every message)\r\n"
#define R_EHLO                                                         \
	"250-h.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 5000\r\n" \
	"250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n"
#define R_MAIL "250 2.1.0 Sender ok\r\n"
#define R_RCPT "250 2.1.5 Recipient ok\r\n"
#define R_354 "354 End data with <CR><LF>.<CR><LF>\r\n"
#define R_DONE "250 2.0.0 Ok: discarded (mxsink stores nothing)\r\n"
#define R_OK "250 2.0.0 Ok\r\n"
#define R_BYE "221 2.0.0 Bye\r\n"
#define R_SYNTAX "501 5.5.4 Syntax error in parameters\r\n"

struct want {
	unsigned msgs, data, bdat, rejected, long_lines, syntax, sequence,
		unknown, too_big, rcpts;
};

struct tcase {
	const char *name;
	const char *in;
	const char *out; /* after the greeting */
	struct want w;
	int quit; /* input after QUIT is left unconsumed */
};

static char long_text[3000];
static char long_cmd[3000];
static char ok_text[2000];

static const struct tcase cases[] = {
	{"one DATA message", HELO ENV "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n",
	 R_EHLO R_MAIL R_RCPT R_354 R_DONE, {.msgs = 1, .data = 1, .rcpts = 1}, 0},
	{"empty body", HELO ENV "DATA\r\n.\r\n", R_EHLO R_MAIL R_RCPT R_354 R_DONE,
	 {.msgs = 1, .data = 1, .rcpts = 1}, 0},
	{"dot-stuffed lines are body",
	 HELO ENV "DATA\r\n..\r\n.x\r\n...\r\n. \r\nend\r\n.\r\n",
	 R_EHLO R_MAIL R_RCPT R_354 R_DONE, {.msgs = 1, .data = 1, .rcpts = 1}, 0},
	{"bare LF never ends the data",
	 HELO ENV "DATA\r\na\n.\nb\n.\r\nc\r.\r\nd\r\n.\r\n",
	 R_EHLO R_MAIL R_RCPT R_354 R_DONE, {.msgs = 1, .data = 1, .rcpts = 1}, 0},
	{"CR runs before the end",
	 HELO ENV "DATA\r\nx\r\r\n.\r\r\nx\r..\r\n.\r\n",
	 R_EHLO R_MAIL R_RCPT R_354 R_DONE, {.msgs = 1, .data = 1, .rcpts = 1}, 0},
	{"two messages pipelined, QUIT",
	 HELO ENV "DATA\r\na\r\n.\r\n" ENV "DATA\r\nb\r\n.\r\nQUIT\r\nNOOP\r\n",
	 R_EHLO R_MAIL R_RCPT R_354 R_DONE R_MAIL R_RCPT R_354 R_DONE R_BYE,
	 {.msgs = 2, .data = 2, .rcpts = 2}, 1},
	{"BDAT LAST, body looks like commands",
	 HELO ENV "BDAT 12 LAST\r\nQUIT\r\n.\r\nxxx" "NOOP\r\n",
	 R_EHLO R_MAIL R_RCPT R_DONE R_OK, {.msgs = 1, .bdat = 1, .rcpts = 1}, 0},
	{"BDAT in chunks, 0 LAST",
	 HELO ENV "BDAT 3\r\nabcbdat 2\r\nde" "BDAT 0 LAST\r\n",
	 R_EHLO R_MAIL R_RCPT R_OK R_OK R_DONE,
	 {.msgs = 1, .bdat = 1, .rcpts = 1}, 0},
	{"BDAT without a transaction is read, then 503",
	 HELO "BDAT 6 LAST\r\nRSET\r\nNOOP\r\n",
	 R_EHLO "503 5.5.1 BDAT without MAIL and RCPT\r\n" R_OK,
	 {.sequence = 1}, 0},
	{"BDAT after MAIL without RCPT is read, then 503",
	 HELO "MAIL FROM:<a>\r\nBDAT 2 LAST\r\nxxNOOP\r\n",
	 R_EHLO R_MAIL "503 5.5.1 BDAT without MAIL and RCPT\r\n" R_OK,
	 {.sequence = 1}, 0},
	{"DATA after BDAT", HELO ENV "BDAT 1\r\nxDATA\r\nRSET\r\n",
	 R_EHLO R_MAIL R_RCPT R_OK "503 5.5.1 DATA after BDAT\r\n" R_OK,
	 {.sequence = 1, .rcpts = 1}, 0},
	{"bad BDAT sizes",
	 HELO "BDAT\r\nBDAT x\r\nBDAT 1 FIRST\r\nBDAT 99999999999999999999\r\n",
	 R_EHLO R_SYNTAX R_SYNTAX R_SYNTAX R_SYNTAX, {.syntax = 4}, 0},
	{"order: MAIL before EHLO, RCPT before MAIL, nested MAIL, DATA "
	 "without RCPT",
	 "MAIL FROM:<>\r\n" HELO "RCPT TO:<b@y>\r\nMAIL FROM:<>\r\n"
	 "MAIL FROM:<>\r\nDATA\r\n",
	 "503 5.5.1 Send EHLO or HELO first\r\n" R_EHLO
	 "503 5.5.1 Need MAIL command\r\n" R_MAIL
	 "503 5.5.1 Nested MAIL command\r\n"
	 "554 5.5.1 No valid recipients\r\n",
	 {.sequence = 4}, 0},
	{"syntax: MAIL and RCPT paths, EHLO without a name, DATA with an "
	 "argument",
	 "EHLO\r\nHELO c\r\nMAIL <a@x>\r\nMAIL FROM:a@x\r\nMAIL FROM:<a>x\r\n"
	 "MAIL FROM:<a> BODY=8BITMIME\r\nRCPT TO:b\r\nRCPT TO:<b>\r\nDATA x\r\n",
	 R_SYNTAX R_OK R_SYNTAX R_SYNTAX R_SYNTAX R_MAIL R_SYNTAX R_RCPT R_SYNTAX,
	 {.syntax = 6, .rcpts = 1}, 0},
	{"lower case verbs, RSET, NOOP, unknown and unimplemented",
	 "ehlo c\r\nmail from:<a>\r\nrset\r\nnoop\r\nVRFY x\r\nFOO\r\n",
	 R_EHLO R_MAIL R_OK R_OK "502 5.5.1 Command not implemented\r\n"
	 "500 5.5.2 Command unrecognized\r\n",
	 {.unknown = 2}, 0},
	{"bare LF ends a command line with 500", "NOOP\nNOOP\r\n",
	 "500 5.5.2 Command line must end in CRLF\r\n" R_OK, {.syntax = 1}, 0},
	{"SIZE over the limit", HELO "MAIL FROM:<a> SIZE=5001\r\n"
	 "MAIL FROM:<a> SIZE=5000\r\n",
	 R_EHLO "552 5.3.4 Message size exceeds fixed maximum\r\n" R_MAIL,
	 {.too_big = 1}, 0},
	{"BDAT body over SIZE", HELO ENV "BDAT 5001 LAST\r\n", NULL,
	 {.too_big = 1, .rejected = 1, .rcpts = 1}, 0},
	{"text line over 1000 octets", NULL, NULL,
	 {.long_lines = 1, .rejected = 1, .rcpts = 1}, 0},
	{"text line of 1000 octets with CRLF", NULL, NULL,
	 {.msgs = 1, .data = 1, .rcpts = 1}, 0},
	{"command line over the limit, then one that fits", NULL, NULL,
	 {.long_lines = 1}, 0},
};

static char bdat_big_in[6000];
static char long_text_in[4000], ok_text_in[3000], long_cmd_in[4000];
static char big_out[1000], long_text_out[1000], ok_text_out[1000],
	long_cmd_out[1000];

/* Inputs too long to write out in the table. */
static void build_inputs(struct tcase *t)
{
	memset(long_text, 'a', 999);
	memset(ok_text, 'b', 998);
	memset(long_cmd, 'c', 1100);
	if (strcmp(t->name, "BDAT body over SIZE") == 0) {
		size_t n = strlen(t->in);

		memcpy(bdat_big_in, t->in, n);
		memset(bdat_big_in + n, 'z', 5001);
		t->in = bdat_big_in;
		snprintf(big_out, sizeof(big_out), "%s",
			 R_EHLO R_MAIL R_RCPT
			 "552 5.3.4 Message size exceeds fixed maximum\r\n");
		t->out = big_out;
	} else if (strcmp(t->name, "text line over 1000 octets") == 0) {
		snprintf(long_text_in, sizeof(long_text_in),
			 HELO ENV "DATA\r\nx\r\n%s\r\n.\r\n", long_text);
		snprintf(long_text_out, sizeof(long_text_out), "%s",
			 R_EHLO R_MAIL R_RCPT R_354
			 "500 5.5.2 Text line longer than 1000 octets\r\n");
		t->in = long_text_in;
		t->out = long_text_out;
	} else if (strcmp(t->name, "text line of 1000 octets with CRLF") ==
		   0) {
		snprintf(ok_text_in, sizeof(ok_text_in),
			 HELO ENV "DATA\r\n%s\r\n.\r\n", ok_text);
		snprintf(ok_text_out, sizeof(ok_text_out), "%s",
			 R_EHLO R_MAIL R_RCPT R_354 R_DONE);
		t->in = ok_text_in;
		t->out = ok_text_out;
	} else if (strncmp(t->name, "command line over", 17) == 0) {
		snprintf(long_cmd_in, sizeof(long_cmd_in),
			 "NOOP %s\r\nNOOP\r\n", long_cmd);
		snprintf(long_cmd_out, sizeof(long_cmd_out), "%s",
			 "500 5.5.2 Line too long\r\n" R_OK);
		t->in = long_cmd_in;
		t->out = long_cmd_out;
	}
}

static struct ms_proto_conf conf;

/*
 * Feeds in the pieces cuts[] makes of it, with an output buffer of
 * out_size, flushing out into got whenever the feed stops short, the way
 * ms_server does.  Returns the octets left unconsumed (after QUIT).
 */
static size_t run(const char *in, size_t len, const size_t *cuts,
		  size_t ncuts, size_t out_size, char *got, size_t *got_len,
		  struct ms_stats *st)
{
	struct ms_sess s;
	char obuf[8192];
	struct ms_out out = {.buf = obuf, .size = out_size};
	char pending[8192];
	size_t plen = 0, prev = 0, left = 0;

	memset(st, 0, sizeof(*st));
	*got_len = 0;
	ms_sess_init(&s, &conf, &out);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;

		/* What the previous feed left unread comes first, as in a
		 * connection's receive buffer. */
		memcpy(pending + plen, in + prev, end - prev);
		plen += end - prev;
		prev = end;
		for (;;) {
			size_t n = ms_sess_feed(&s, pending, plen, &out, st);

			memmove(pending, pending + n, plen - n);
			plen -= n;
			memcpy(got + *got_len, out.buf, out.len);
			*got_len += out.len;
			if (s.phase == MS_PH_QUIT || out.len == 0)
				break;
			out.len = 0;
		}
		if (s.phase == MS_PH_QUIT)
			left = plen + (len - end);
		if (s.phase == MS_PH_QUIT)
			break;
	}
	return left;
}

static int check(const struct tcase *t, const char *how, const char *got,
		 size_t got_len, const struct ms_stats *st, size_t left)
{
	char want_out[8192];
	const struct want *w = &t->w;
	int n = snprintf(want_out, sizeof(want_out), "%s%s", R220, t->out);

	if ((size_t)n != got_len || memcmp(want_out, got, got_len) != 0) {
		fprintf(stderr, "FAIL %s (%s): replies\n got: %.*s\nwant: %s\n",
			t->name, how, (int)got_len, got, want_out);
		return 1;
	}
	if (st->msgs != w->msgs || st->msgs_data != w->data ||
	    st->msgs_bdat != w->bdat || st->rejected != w->rejected ||
	    st->long_lines != w->long_lines || st->syntax != w->syntax ||
	    st->sequence != w->sequence || st->unknown != w->unknown ||
	    st->too_big != w->too_big || st->rcpts != w->rcpts) {
		fprintf(stderr,
			"FAIL %s (%s): counters msgs=%llu data=%llu bdat=%llu "
			"rejected=%llu long=%llu syntax=%llu seq=%llu "
			"unknown=%llu too_big=%llu rcpts=%llu\n",
			t->name, how, (unsigned long long)st->msgs,
			(unsigned long long)st->msgs_data,
			(unsigned long long)st->msgs_bdat,
			(unsigned long long)st->rejected,
			(unsigned long long)st->long_lines,
			(unsigned long long)st->syntax,
			(unsigned long long)st->sequence,
			(unsigned long long)st->unknown,
			(unsigned long long)st->too_big,
			(unsigned long long)st->rcpts);
		return 1;
	}
	if (t->quit ? left == 0 : left != 0) {
		fprintf(stderr, "FAIL %s (%s): %zu octets left unconsumed\n",
			t->name, how, left);
		return 1;
	}
	return 0;
}

int main(void)
{
	static char got[65536];
	static size_t cuts[8192];
	int fails = 0;

	ms_proto_conf_init(&conf, "h.test", 5000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tcase t = cases[i];
		size_t len, got_len, left;
		struct ms_stats st;

		build_inputs(&t);
		len = strlen(t.in);
		left = run(t.in, len, NULL, 0, 8192, got, &got_len, &st);
		fails += check(&t, "whole", got, got_len, &st, left);
		for (size_t cut = 1; cut < len; cut++) {
			char how[32];

			cuts[0] = cut;
			left = run(t.in, len, cuts, 1, 8192, got, &got_len, &st);
			snprintf(how, sizeof(how), "split at %zu", cut);
			fails += check(&t, how, got, got_len, &st, left);
		}
		for (size_t k = 1; k < len; k++)
			cuts[k - 1] = k;
		left = run(t.in, len, cuts, len ? len - 1 : 0, 8192, got,
			   &got_len, &st);
		fails += check(&t, "byte by byte", got, got_len, &st, left);
		/* Room for exactly one reply: every reply stops the feed. */
		left = run(t.in, len, NULL, 0, MS_REPLY_MAX, got, &got_len,
			   &st);
		fails += check(&t, "small output", got, got_len, &st, left);
	}
	if (fails) {
		fprintf(stderr, "%d failures\n", fails);
		return 1;
	}
	printf("ok: %zu cases, each whole, split at every byte, byte by byte "
	       "and with a one-reply output buffer\n",
	       sizeof(cases) / sizeof(cases[0]));
	return 0;
}
