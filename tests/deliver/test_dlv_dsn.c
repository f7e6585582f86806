/*
 * test_dlv_dsn — DSN generation against golden files (byte-exact, fixed
 * clock), and the rules for whether a bounce is due: null sender,
 * quarantine, NOTIFY per recipient.
 *
 * Usage: test_dlv_dsn GOLDEN_DIR.  With MX_GOLDEN_UPDATE=1 the .ref files
 * are rewritten instead of compared (review the diff before committing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt_dlv_bounce.h"
#include "mgmt_dlv_dsn.h"
#include "mx_test.h"

static const char *golden_dir;

static const char body[] =
    "Received: from client.example (client.example [192.0.2.7])\r\n"
    "From: Alice <alice@sender.example>\r\n"
    "To: bob@dest.example, carol@dest.example\r\n"
    "Subject: quarterly numbers\r\n"
    "Message-ID: <m1@sender.example>\r\n"
    "\r\n"
    "Hello,\r\n"
    ".line starting with a dot\r\n"
    "the numbers are attached.\r\n";

#define ARRIVAL 1795000000000000000ull /* 2026-11-18 */
#define NOW (ARRIVAL + 5ull * 86400 * 1000000000ull + 7000000000ull)

static void golden(const char *name, const uint8_t *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", golden_dir, name);
	if (getenv("MX_GOLDEN_UPDATE")) {
		f = fopen(path, "wb");
		CHECK(f != NULL);
		if (f) {
			fwrite(data, 1, len, f);
			fclose(f);
		}
		return;
	}
	f = fopen(path, "rb");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	static uint8_t want[1 << 16];
	size_t n = fread(want, 1, sizeof(want), f);
	fclose(f);
	if (n != len || memcmp(want, data, len) != 0) {
		fprintf(stderr,
			"%s differs from the output (%zu vs %zu bytes)\n", path,
			n, len);
		fwrite(data, 1, len, stderr);
		CHECK(0);
	}
}

static void test_failed_full(void)
{
	struct mgmt_dlv_dsn_rcpt r[2] = {
	    {.addr = "bob@dest.example",
	     .orcpt = "rfc822;Bob+2BTag@dest.example",
	     .action = MGMT_DLV_DSN_FAILED,
	     .status = "5.1.1",
	     .remote_mta = "192.0.2.25",
	     .diag = "550 5.1.1 <bob@dest.example>: no such user",
	     .diag_is_smtp = true,
	     .last_attempt_wall_ns = NOW},
	    {.addr = "carol@dest.example",
	     .action = MGMT_DLV_DSN_FAILED,
	     .status = "4.4.7",
	     .diag = "delivery time expired; last error: 451 4.3.0 "
		     "try again\r\nInjected: header",
	     .last_attempt_wall_ns = NOW},
	};
	struct mgmt_dlv_dsn_msg m = {
	    .reporting_mta = "mx1.gw.example",
	    .mail_from = "alice@sender.example",
	    .envid = "QQ314159+2Bx",
	    .ret = 1,
	    .client_helo = "client.example",
	    .queue_id = "00000000000000a1",
	    .arrival_wall_ns = ARRIVAL,
	    .now_wall_ns = NOW,
	    .body = (const uint8_t *)body,
	    .body_len = sizeof(body) - 1,
	    .rcpt = r,
	    .rcpt_count = 2,
	};
	uint8_t *out;
	size_t len;

	CHECK(mgmt_dlv_dsn_build(&m, &out, &len) == 0);
	golden("dsn_failed_full.ref", out, len);
	free(out);

	/* RET=HDRS: only the header section comes back. */
	m.ret = 2;
	m.envid = NULL;
	m.rcpt_count = 1;
	CHECK(mgmt_dlv_dsn_build(&m, &out, &len) == 0);
	golden("dsn_failed_hdrs.ref", out, len);
	CHECK(memmem(out, len, "the numbers are attached", 24) == NULL);
	free(out);

	/* Over full_max: headers only as well, whatever RET says. */
	m.ret = 1;
	m.full_max = 100;
	CHECK(mgmt_dlv_dsn_build(&m, &out, &len) == 0);
	CHECK(memmem(out, len, "text/rfc822-headers", 19) != NULL);
	CHECK(memmem(out, len, "the numbers are attached", 24) == NULL);
	free(out);

	/* Never to the null sender. */
	m.mail_from = "";
	CHECK(mgmt_dlv_dsn_build(&m, &out, &len) == -22);
}

static void test_delayed(void)
{
	struct mgmt_dlv_dsn_rcpt r = {
	    .addr = "bob@dest.example",
	    .action = MGMT_DLV_DSN_DELAYED,
	    .status = "4.4.1",
	    .remote_mta = "192.0.2.25",
	    .diag = "connect failed: Connection refused",
	    .last_attempt_wall_ns = NOW,
	    .will_retry_until_wall_ns = NOW + 86400000000000ull,
	};
	struct mgmt_dlv_dsn_msg m = {
	    .reporting_mta = "mx1.gw.example",
	    .mail_from = "alice@sender.example",
	    .arrival_wall_ns = ARRIVAL,
	    .now_wall_ns = NOW,
	    .body = (const uint8_t *)body,
	    .body_len = sizeof(body) - 1,
	    .rcpt = &r,
	    .rcpt_count = 1,
	};
	uint8_t *out;
	size_t len;

	CHECK(mgmt_dlv_dsn_build(&m, &out, &len) == 0);
	golden("dsn_delayed.ref", out, len);
	free(out);
}

static void test_rules(void)
{
	struct q_rcpt rc[4] = {
	    {.addr = (char *)"a@x", .notify = 0},
	    {.addr = (char *)"b@x", .notify = Q_NOTIFY_NEVER},
	    {.addr = (char *)"c@x", .notify = Q_NOTIFY_SUCCESS},
	    {.addr = (char *)"d@x",
	     .notify = Q_NOTIFY_FAILURE | Q_NOTIFY_DELAY,
	     .orcpt = (char *)"rfc822;d@x"},
	};
	struct q_envelope env = {
	    .mail_from = (char *)"s@y",
	    .rcpt = rc,
	    .rcpt_count = 4,
	    .helo = (char *)"h",
	};
	struct q_msg_view v = {
	    .id = 7,
	    .state = Q_ST_DEFERRED,
	    .env = &env,
	    .body = (const uint8_t *)body,
	    .body_len = sizeof(body) - 1,
	    .received_wall_ns = ARRIVAL,
	};
	struct mgmt_dlv_bounce_rcpt br[4];
	struct mgmt_dlv_bounce b;

	memset(br, 0, sizeof(br));
	for (unsigned i = 0; i < 4; i++) {
		br[i].idx = i;
		br[i].status = "5.0.0";
		br[i].diag = "550 no";
	}
	/* a (default FAILURE) and d (FAILURE) are in; b NEVER, c SUCCESS
	 * are not. */
	CHECK(mgmt_dlv_bounce_build("gw", &v, br, 4, MGMT_DLV_DSN_FAILED, NOW,
				    0, &b) == 0);
	CHECK(memmem(b.body, b.body_len, "rfc822; a@x", 11) != NULL);
	CHECK(memmem(b.body, b.body_len, "rfc822; d@x", 11) != NULL);
	CHECK(memmem(b.body, b.body_len, "rfc822; b@x", 11) == NULL);
	CHECK(memmem(b.body, b.body_len, "rfc822; c@x", 11) == NULL);
	CHECK(strcmp(b.env.mail_from, "") == 0);
	CHECK_EQ_U64(b.env.rcpt_count, 1);
	CHECK(strcmp(b.env.rcpt[0].addr, "s@y") == 0);
	mgmt_dlv_bounce_free(&b);

	/* Only NEVER and SUCCESS recipients failed: no bounce. */
	CHECK(mgmt_dlv_bounce_build("gw", &v, br + 1, 2, MGMT_DLV_DSN_FAILED,
				    NOW, 0, &b) == -1);
	/* Delay warnings (built only when enabled) go to recipients without
	 * NOTIFY and to those that asked for DELAY, not to NEVER or SUCCESS
	 * only. */
	CHECK(mgmt_dlv_bounce_build("gw", &v, br, 1, MGMT_DLV_DSN_DELAYED, NOW,
				    0, &b) == 0);
	CHECK(memmem(b.body, b.body_len, "Action: delayed", 15) != NULL);
	mgmt_dlv_bounce_free(&b);
	CHECK(mgmt_dlv_bounce_build("gw", &v, br + 1, 2, MGMT_DLV_DSN_DELAYED,
				    NOW, 0, &b) == -1);
	CHECK(mgmt_dlv_bounce_build("gw", &v, br + 3, 1, MGMT_DLV_DSN_DELAYED,
				    NOW, 0, &b) == 0);
	mgmt_dlv_bounce_free(&b);
	/* Null sender and quarantined messages never bounce. */
	env.mail_from = (char *)"";
	CHECK(mgmt_dlv_bounce_build("gw", &v, br, 4, MGMT_DLV_DSN_FAILED, NOW,
				    0, &b) == -1);
	env.mail_from = (char *)"s@y";
	v.state = Q_ST_QUARANTINED;
	CHECK(mgmt_dlv_bounce_build("gw", &v, br, 4, MGMT_DLV_DSN_FAILED, NOW,
				    0, &b) == -1);
	/* A bad index is refused. */
	v.state = Q_ST_DEFERRED;
	br[0].idx = 9;
	CHECK(mgmt_dlv_bounce_build("gw", &v, br, 1, MGMT_DLV_DSN_FAILED, NOW,
				    0, &b) == -22);
}

static void test_xtext(void)
{
	char buf[32];

	CHECK(mgmt_dlv_xtext_decode("a+2Bb+3Dc", buf, sizeof(buf)) == 5);
	CHECK(strcmp(buf, "a+b=c") == 0);
	CHECK(mgmt_dlv_xtext_decode("a+2", buf, sizeof(buf)) == -22);
	CHECK(mgmt_dlv_xtext_decode("a+2b", buf, sizeof(buf)) == -22);
	CHECK(mgmt_dlv_xtext_decode("abcdef", buf, 4) == 3);
	CHECK(strcmp(buf, "abc") == 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
		return 2;
	}
	golden_dir = argv[1];
	test_failed_full();
	test_delayed();
	test_rules();
	test_xtext();
	return TEST_EXIT();
}
