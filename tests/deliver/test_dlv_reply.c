/*
 * test_dlv_reply — the SMTP reply parser against a table of server output:
 * single and multi-line replies, enhanced status codes, bare LF, overlong
 * lines and malformed replies.  Every input is fed whole, split in two at
 * every byte, and one byte at a time; all must give the same replies.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mgmt_dlv_reply.h"
#include "mx_test.h"

struct want {
	int code;
	const char *enh;
	const char *text;
};

struct reply_case {
	const char *name;
	const char *in;
	struct want out[4];
	unsigned out_count;
	bool error; /* ends in -EPROTO after the replies */
};

static const struct reply_case cases[] = {
    {"greeting",
     "220 mx.example ESMTP\r\n",
     {{220, "", "mx.example ESMTP"}},
     1,
     false},
    {"ehlo multiline",
     "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 CHUNKING\r\n",
     {{250, "", "mx.example\nPIPELINING\nSIZE 1000\nCHUNKING"}},
     1,
     false},
    {"pipelined replies",
     "250 2.1.0 Ok\r\n550 5.1.1 <a@b>: unknown\r\n451 4.3.0 later\r\n354 "
     "go\r\n",
     {{250, "2.1.0", "2.1.0 Ok"},
      {550, "5.1.1", "5.1.1 <a@b>: unknown"},
      {451, "4.3.0", "4.3.0 later"},
      {354, "", "go"}},
     4,
     false},
    {"code only", "250\r\n", {{250, "", ""}}, 1, false},
    {"bare lf", "250-a\n250 b\n", {{250, "", "a\nb"}}, 1, false},
    {"enh class must match",
     "550 4.1.1 odd\r\n",
     {{550, "", "4.1.1 odd"}},
     1,
     false},
    {"enh needs a space", "250 2.0.0x\r\n", {{250, "", "2.0.0x"}}, 1, false},
    {"enh three digits",
     "452 4.123.456 full\r\n",
     {{452, "4.123.456", "4.123.456 full"}},
     1,
     false},
    {"enh four digits refused",
     "452 4.1234.5 x\r\n",
     {{452, "", "4.1234.5 x"}},
     1,
     false},
    {"lmtp per rcpt",
     "250 2.0.0 <a@x> saved\r\n452 4.2.2 <b@x> full\r\n",
     {{250, "2.0.0", "2.0.0 <a@x> saved"}, {452, "4.2.2", "4.2.2 <b@x> full"}},
     2,
     false},
    {"mixed codes", "250-a\r\n251 b\r\n", {{0, "", ""}}, 0, true},
    {"not digits", "2x0 hi\r\n", {{0, "", ""}}, 0, true},
    {"short", "25\r\n", {{0, "", ""}}, 0, true},
    {"bad separator", "250_x\r\n", {{0, "", ""}}, 0, true},
    {"code 1xx", "100 x\r\n", {{0, "", ""}}, 0, true},
    {"code 6xx", "600 x\r\n", {{0, "", ""}}, 0, true},
    {"good then bad", "221 bye\r\nxyz\r\n", {{221, "", "bye"}}, 1, true},
    {"incomplete", "250-a\r\n250 b", {{0, "", ""}}, 0, false},
};

struct got {
	struct mgmt_dlv_reply r[8];
	unsigned count;
	bool error;
};

static void feed(struct mgmt_dlv_reply_parser *p, struct got *g,
		 const uint8_t *in, size_t len)
{
	size_t off = 0;

	while (off < len && !g->error) {
		size_t used = 0;
		int rc = mgmt_dlv_reply_parse(p, in + off, len - off, &used,
					      &g->r[g->count]);

		CHECK(used <= len - off);
		off += used;
		if (rc < 0) {
			CHECK(rc == -71);
			g->error = true;
		} else if (rc == 1) {
			g->count++;
		} else {
			CHECK(off == len);
		}
	}
}

static void check(const struct reply_case *c, const struct got *g,
		  const char *how)
{
	bool ok = g->count == c->out_count && g->error == c->error;

	for (unsigned i = 0; ok && i < g->count; i++)
		ok = g->r[i].code == c->out[i].code &&
		     strcmp(g->r[i].enh, c->out[i].enh) == 0 &&
		     strcmp(g->r[i].text, c->out[i].text) == 0 &&
		     g->r[i].text_len == strlen(c->out[i].text);
	if (!ok)
		fprintf(stderr, "case \"%s\" (%s): got %u replies err=%d\n",
			c->name, how, g->count, g->error);
	CHECK(ok);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		const uint8_t *in = (const uint8_t *)c->in;
		size_t len = strlen(c->in);
		struct mgmt_dlv_reply_parser p;
		struct got g;

		memset(&g, 0, sizeof(g));
		mgmt_dlv_reply_init(&p);
		feed(&p, &g, in, len);
		check(c, &g, "whole");

		for (size_t cut = 0; cut <= len; cut++) {
			memset(&g, 0, sizeof(g));
			mgmt_dlv_reply_init(&p);
			feed(&p, &g, in, cut);
			feed(&p, &g, in + cut, len - cut);
			check(c, &g, "split");
		}

		memset(&g, 0, sizeof(g));
		mgmt_dlv_reply_init(&p);
		for (size_t k = 0; k < len; k++)
			feed(&p, &g, in + k, 1);
		check(c, &g, "bytewise");
	}

	/* An overlong line is kept truncated, and parsing carries on. */
	{
		static char big[10000];
		struct mgmt_dlv_reply_parser p;
		struct got g;

		memset(big, 'x', sizeof(big));
		memcpy(big, "250-", 4);
		memcpy(big + 8000, "\r\n250 end\r\n", 11);
		memset(&g, 0, sizeof(g));
		mgmt_dlv_reply_init(&p);
		feed(&p, &g, (const uint8_t *)big, 8011);
		CHECK_EQ_U64(g.count, 1);
		CHECK_EQ_U64(g.r[0].code, 250);
		CHECK(g.r[0].text_len == MGMT_DLV_REPLY_TEXT_SIZE - 1);
	}
	/* Too many lines in one reply is an error (a server stuck on "-"). */
	{
		struct mgmt_dlv_reply_parser p;
		struct got g;

		memset(&g, 0, sizeof(g));
		mgmt_dlv_reply_init(&p);
		for (int i = 0; i <= MGMT_DLV_REPLY_LINES_MAX && !g.error; i++)
			feed(&p, &g, (const uint8_t *)"250-x\r\n", 7);
		CHECK(g.error);
	}
	/* Formatting for diagnostics: one line, control bytes replaced. */
	{
		struct mgmt_dlv_reply r = {.code = 550};
		char buf[64];

		strcpy(r.text, "5.1.1 no\nsuch\tuser");
		r.text_len = strlen(r.text);
		mgmt_dlv_reply_format(&r, buf, sizeof(buf));
		CHECK(strcmp(buf, "550 5.1.1 no such?user") == 0);
		CHECK(mgmt_dlv_reply_format(&r, buf, 8) == 7);
		CHECK(strcmp(buf, "550 5.1") == 0);
	}
	return TEST_EXIT();
}
