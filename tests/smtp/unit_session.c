/*
 * unit_session — the engine's API contract as the backends rely on it,
 * table-free but one check per promise: output bytes never move while
 * pending (a send may be in flight from them), input stops while a commit
 * is pending and resumes after commit_done, deadlines per mode, input
 * after close is swallowed, dp_smtp_conf_check bounds, session memory
 * used exactly as sized (the session is allocated at its exact size so
 * ASan sees any overrun).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_smtp.h"

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);        \
			fprintf(stderr, __VA_ARGS__);                          \
			fprintf(stderr, "\n");                                 \
			failures++;                                            \
		}                                                              \
	} while (0)

struct host {
	int opened, committed, aborted;
	size_t body;
	char received[512]; /* the first write: the Received header */
};

static int h_open(void *ctx, const struct dp_smtp_envelope *env, uint64_t *id)
{
	struct host *h = ctx;

	*id = (uint64_t)++h->opened;
	return 0;
}

static int h_write(void *ctx, const void *data, size_t len)
{
	struct host *h = ctx;

	if (h->body == 0 && len < sizeof(h->received))
		memcpy(h->received, data, len);
	h->body += len;
	return 0;
}

static void h_commit(void *ctx)
{
	((struct host *)ctx)->committed++;
}

static void h_abort(void *ctx)
{
	((struct host *)ctx)->aborted++;
}

static enum dp_smtp_rcpt_verdict h_rcpt(void *ctx, const char *l, const char *d)
{
	return DP_SMTP_RCPT_OK;
}

static uint64_t h_wall(void *ctx)
{
	return 0;
}

static const struct dp_smtp_host ops = {h_open,	 h_write, h_commit,
					h_abort, h_rcpt,  h_wall};

static size_t feed(struct dp_smtp_session *s, const char *text, uint64_t now)
{
	return dp_smtp_input(s, (const uint8_t *)text, strlen(text), now);
}

static void test_conf(void)
{
	struct dp_smtp_conf c;

	dp_smtp_conf_defaults(&c);
	CHECK(dp_smtp_conf_check(&c) == 0, "defaults valid");
	c.cmd_line_max = 511;
	CHECK(dp_smtp_conf_check(&c) == -EINVAL, "cmd_line_max < 512");
	dp_smtp_conf_defaults(&c);
	c.text_line_max = 999;
	CHECK(dp_smtp_conf_check(&c) == -EINVAL, "text_line_max < 1000");
	dp_smtp_conf_defaults(&c);
	c.out_size = 2 * DP_SMTP_REPLY_ROOM - 1;
	CHECK(dp_smtp_conf_check(&c) == -EINVAL, "out_size");
	dp_smtp_conf_defaults(&c);
	c.rcpt_max = 0;
	CHECK(dp_smtp_conf_check(&c) == -EINVAL, "rcpt_max 0");
	dp_smtp_conf_defaults(&c);
	c.hostname[0] = '\0';
	CHECK(dp_smtp_conf_check(&c) == -EINVAL, "empty hostname");
	dp_smtp_conf_defaults(&c);
	{
		size_t a = dp_smtp_session_size(&c);

		c.rcpt_max *= 2;
		CHECK(dp_smtp_session_size(&c) > a, "size grows with rcpt_max");
		CHECK(a < 64 * 1024, "default session is small (%zu)", a);
	}
}

static void test_contract(void)
{
	struct dp_smtp_peer peer = {"::1", 2525, "::1", 25, NULL};
	struct dp_smtp_conf c;
	struct host h = {0};
	struct dp_smtp_session *s;
	const uint8_t *out, *again;
	char first[64];
	size_t len, len2, n;
	static const char pipelined[] =
	    "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
	    "DATA\r\nbody\r\n.\r\nNOOP\r\n";

	dp_smtp_conf_defaults(&c);
	c.cmd_timeout_ms = 1000;
	c.data_timeout_ms = 500;
	s = malloc(dp_smtp_session_size(&c));
	if (s == NULL)
		abort();
	dp_smtp_session_init(s, &c, &ops, &h, &peer, 100);
	CHECK(dp_smtp_deadline_ms(s) == 1100, "command deadline");
	dp_smtp_start(s);
	out = dp_smtp_output(s, &len);
	CHECK(len > 0 && len < sizeof(first), "banner");
	memcpy(first, out, len);

	/* Pending output stays put while more replies are appended. */
	CHECK(feed(s, "EHLO x\r\n", 200) == 8, "EHLO consumed");
	again = dp_smtp_output(s, &len2);
	CHECK(again == out && len2 > len && memcmp(again, first, len) == 0,
	      "pending bytes moved");
	dp_smtp_output_consume(s, len);
	again = dp_smtp_output(s, &len2);
	CHECK(len2 > 0 && memcmp(again, "250-", 4) == 0,
	      "consume compacts the rest");
	dp_smtp_output_consume(s, len2);

	/* Input stops at the end of data until the commit is done. */
	n = feed(s, pipelined, 300);
	CHECK(n == strlen(pipelined) - strlen("NOOP\r\n"),
	      "stopped after end of data (%zu)", n);
	CHECK(dp_smtp_awaiting_commit(s) && h.committed == 1, "commit asked");
	CHECK(strncmp(h.received,
		      "Received: from x (unknown [IPv6:::1])\r\n\tby localhost "
		      "(mxgate) with ESMTP id 0000000000000001\r\n\tfor "
		      "<c@d.example>; Thu, 1 Jan 1970 00:00:00 +0000\r\n",
		      sizeof(h.received)) == 0,
	      "Received: %s", h.received);
	CHECK(dp_smtp_deadline_ms(s) == UINT64_MAX, "no deadline in commit");
	CHECK(feed(s, "NOOP\r\n", 300) == 0, "blocked while awaiting");
	dp_smtp_commit_done(s, 0, 0x1234);
	CHECK(!dp_smtp_awaiting_commit(s), "commit done");
	CHECK(feed(s, "NOOP\r\n", 400) == 6, "resumed");
	out = dp_smtp_output(s, &len);
	CHECK(memmem(out, len, "queued as 0000000000001234", 26) != NULL,
	      "queued id in reply");
	dp_smtp_output_consume(s, len);
	CHECK(dp_smtp_deadline_ms(s) == 1400, "deadline from last input");

	/* The DATA timeout applies inside DATA, and ends the session. */
	feed(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
	     500);
	CHECK(dp_smtp_deadline_ms(s) == 1000, "data deadline");
	dp_smtp_timeout(s, 999);
	CHECK(!dp_smtp_want_close(s), "not yet");
	dp_smtp_timeout(s, 1000);
	CHECK(dp_smtp_want_close(s), "timed out");
	CHECK(h.aborted == 1, "open message aborted on timeout");
	out = dp_smtp_output(s, &len);
	CHECK(len > 0 && memmem(out, len, "421 4.4.2", 9) != NULL, "421");
	CHECK(feed(s, "NOOP\r\n", 1100) == 6, "input after close swallowed");
	dp_smtp_output(s, &len2);
	CHECK(len2 == len, "no reply after close");
	dp_smtp_session_fini(s);
	CHECK(h.aborted == 1 && h.opened == 2, "fini after close");
	free(s);
}

int main(void)
{
	test_conf();
	test_contract();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
