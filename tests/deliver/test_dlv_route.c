/*
 * test_dlv_route — the route syntax table: every accepted form with what
 * it parses to and prints as, and every rejected form.
 */
#include <stdio.h>
#include <string.h>

#include "mgmt_dlv_route.h"
#include "mx_test.h"

struct ok_case {
	const char *in;
	enum mgmt_dlv_route_kind kind;
	const char *host;
	unsigned port;
	const char *path;
	const char *canon;
};

static const struct ok_case ok_cases[] = {
    {"smtp:[127.0.0.1]:2525", MGMT_DLV_ROUTE_SMTP, "127.0.0.1", 2525, "",
     "smtp:[127.0.0.1]:2525"},
    {"smtp:[mx.example.com]", MGMT_DLV_ROUTE_SMTP, "mx.example.com", 25, "",
     "smtp:[mx.example.com]:25"},
    {"smtp:[::1]:25", MGMT_DLV_ROUTE_SMTP, "::1", 25, "", "smtp:[::1]:25"},
    {"smtp:[2001:db8::1]:587", MGMT_DLV_ROUTE_SMTP, "2001:db8::1", 587, "",
     "smtp:[2001:db8::1]:587"},
    {"smtp:[a-b.c]:65535", MGMT_DLV_ROUTE_SMTP, "a-b.c", 65535, "",
     "smtp:[a-b.c]:65535"},
    {"lmtp:[10.1.2.3]", MGMT_DLV_ROUTE_LMTP_TCP, "10.1.2.3", 24, "",
     "lmtp:[10.1.2.3]:24"},
    {"lmtp:[localhost]:2003", MGMT_DLV_ROUTE_LMTP_TCP, "localhost", 2003, "",
     "lmtp:[localhost]:2003"},
    {"lmtp:unix:/run/dovecot/lmtp", MGMT_DLV_ROUTE_LMTP_UNIX, "", 0,
     "/run/dovecot/lmtp", "lmtp:unix:/run/dovecot/lmtp"},
    {"maildir:/var/mail", MGMT_DLV_ROUTE_MAILDIR, "", 0, "/var/mail",
     "maildir:/var/mail"},
    {"maildir:/a b/c", MGMT_DLV_ROUTE_MAILDIR, "", 0, "/a b/c",
     "maildir:/a b/c"},
    {"discard", MGMT_DLV_ROUTE_DISCARD, "", 0, "", "discard"},
};

static const char *const bad_cases[] = {
    "",
    "discard:",
    "DISCARD",
    "smtp:",
    "smtp:host:25",
    "smtp:[]:25",
    "smtp:[host:25",
    "smtp:[host]25",
    "smtp:[host]:",
    "smtp:[host]:0",
    "smtp:[host]:65536",
    "smtp:[host]:99999999999999999999",
    "smtp:[host]:2a",
    "smtp:[-host]:25",
    "smtp:[host-]:25",
    "smtp:[ho..st]:25",
    "smtp:[ho_st]:25",
    "smtp:[.host]:25",
    "smtp:[host.]x",
    "smtp:[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]",
    "smtp:[::g]:25",
    "lmtp:unix:relative/path",
    "lmtp:unix:",
    "lmtp:unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "maildir:",
    "maildir:var/mail",
    "maildir:/var/\nmail",
    "pipe:/bin/sh",
    "smtp",
};

int main(void)
{
	char err[256], buf[MGMT_DLV_ROUTE_PATH_SIZE + 16];
	struct mgmt_dlv_route r;

	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];
		int rc = mgmt_dlv_route_parse(c->in, &r, err, sizeof(err));

		if (rc != 0) {
			fprintf(stderr, "\"%s\": %s\n", c->in, err);
			CHECK(rc == 0);
			continue;
		}
		CHECK(r.kind == c->kind);
		CHECK(strcmp(r.host, c->host) == 0);
		CHECK_EQ_U64(r.port, c->port);
		CHECK(strcmp(r.path, c->path) == 0);
		CHECK(mgmt_dlv_route_format(&r, buf, sizeof(buf)) > 0);
		CHECK(strcmp(buf, c->canon) == 0);
		/* The canonical form parses to the same route. */
		struct mgmt_dlv_route again;
		CHECK(mgmt_dlv_route_parse(buf, &again, err, sizeof(err)) == 0);
		CHECK(memcmp(&again, &r, sizeof(r)) == 0);
	}
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int rc =
		    mgmt_dlv_route_parse(bad_cases[i], &r, err, sizeof(err));

		if (rc != -22)
			fprintf(stderr, "accepted bad route \"%s\"\n",
				bad_cases[i]);
		CHECK(rc == -22);
		CHECK(err[0] != '\0');
	}
	CHECK(mgmt_dlv_route_parse(NULL, &r, err, sizeof(err)) == -22);
	/* A too-small output buffer is refused, not truncated. */
	CHECK(mgmt_dlv_route_parse("discard", &r, err, sizeof(err)) == 0);
	CHECK(mgmt_dlv_route_format(&r, buf, 4) == -105);
	return TEST_EXIT();
}
