/*
 * unit_policy — dp_policy: building LMDB maps from text (comments, blank
 * lines, case of domains, bad lines with file:line), creating a policy
 * (duplicate or bad domains, missing maps, shared maps) and the verdicts
 * of dp_policy_check, table-driven.  Works in a private temp directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_policy.h"

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

static char dir[] = "/tmp/smtp-policy-XXXXXX";

static const char *path(const char *name)
{
	static char buf[4][256];
	static unsigned k;
	char *p = buf[k++ % 4];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(name);
		exit(1);
	}
}

static const struct {
	const char *local, *domain;
	enum dp_smtp_rcpt_verdict want;
} checks[] = {
    {"alice", "example.com", DP_SMTP_RCPT_OK},
    {"alice", "EXAMPLE.com", DP_SMTP_RCPT_OK},
    {"Alice", "example.com", DP_SMTP_RCPT_OK},	  /* lowercase retry */
    {"Bob", "example.com", DP_SMTP_RCPT_OK},	  /* stored as Bob */
    {"bob", "example.com", DP_SMTP_RCPT_UNKNOWN}, /* no upper retry */
    {"mallory", "example.com", DP_SMTP_RCPT_UNKNOWN},
    {"", "example.com", DP_SMTP_RCPT_UNKNOWN},
    {"alice", "example.org", DP_SMTP_RCPT_UNKNOWN}, /* shared map */
    {"dave", "example.org", DP_SMTP_RCPT_OK},
    {"anyone", "catchall.test", DP_SMTP_RCPT_OK},
    {"anyone", "CATCHALL.TEST", DP_SMTP_RCPT_OK},
    {"alice", "elsewhere.example", DP_SMTP_RCPT_RELAY},
    {"alice", "sub.example.com", DP_SMTP_RCPT_RELAY},
    {"alice", "example.com.evil", DP_SMTP_RCPT_RELAY},
    {"PostMaster", "example.com", DP_SMTP_RCPT_OK},
    {"postmaster", "elsewhere.example", DP_SMTP_RCPT_RELAY},
    {"Postmaster", "", DP_SMTP_RCPT_OK},
    {"alice", "", DP_SMTP_RCPT_RELAY},
};

static void check_all(const struct dp_policy *p, struct dp_policy_reader *r,
		      int round)
{
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const char *l = checks[i].local, *d = checks[i].domain;
		enum dp_smtp_rcpt_verdict v =
		    r ? dp_policy_reader_check(r, l, d)
		      : dp_policy_check(p, l, d);

		CHECK(v == checks[i].want,
		      "round %d check %zu %s@%s: %d want %d", round, i, l, d, v,
		      checks[i].want);
	}
}

int main(void)
{
	struct dp_policy *p = NULL;
	char err[512];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	write_file("users.txt",
		   "# users\n\nalice@Example.COM\n  Bob@example.com  # x\n"
		   "dave@example.org\n\tcarol@example.com\t\n");
	rc = dp_policy_map_build(path("users.txt"), path("users.lmdb"), err,
				 sizeof(err));
	CHECK(rc == 0, "build: %d %s", rc, err);
	CHECK(access(path("users.lmdb.tmp"), F_OK) != 0, "temp file left");

	write_file("bad.txt", "alice@example.com\nnot-an-address\n");
	rc = dp_policy_map_build(path("bad.txt"), path("bad.lmdb"), err,
				 sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "bad.txt:2:") != NULL,
	      "bad line: %d %s", rc, err);
	CHECK(access(path("bad.lmdb"), F_OK) != 0, "bad map created");
	CHECK(access(path("bad.lmdb.tmp"), F_OK) != 0, "bad temp left");
	write_file("bad2.txt", "a b@example.com\n");
	CHECK(dp_policy_map_build(path("bad2.txt"), path("bad.lmdb"), err,
				  sizeof(err)) == -EINVAL,
	      "space in address");
	write_file("bad3.txt", "@example.com\n");
	CHECK(dp_policy_map_build(path("bad3.txt"), path("bad.lmdb"), err,
				  sizeof(err)) == -EINVAL,
	      "empty local part");
	CHECK(dp_policy_map_build(path("missing.txt"), path("m.lmdb"), err,
				  sizeof(err)) == -ENOENT,
	      "missing text");

	{
		struct dp_policy_domain dup[] = {
		    {"example.com", NULL},
		    {"EXAMPLE.COM", NULL},
		};
		struct dp_policy_domain bad[] = {{"a@b", NULL}};
		struct dp_policy_domain nomap[] = {
		    {"example.com", "/nonexistent/x.lmdb"},
		};

		CHECK(dp_policy_create(&p, dup, 2, err, sizeof(err)) ==
			      -EINVAL &&
			  p == NULL,
		      "duplicate domain");
		CHECK(dp_policy_create(&p, bad, 1, err, sizeof(err)) == -EINVAL,
		      "bad domain");
		CHECK(dp_policy_create(&p, nomap, 1, err, sizeof(err)) < 0 &&
			  strstr(err, "/nonexistent/x.lmdb") != NULL,
		      "missing map: %s", err);
	}
	{
		struct dp_policy_domain doms[] = {
		    {"Example.com", path("users.lmdb")},
		    {"example.org", path("users.lmdb")},
		    {"catchall.test", NULL},
		};

		rc = dp_policy_create(&p, doms, 3, err, sizeof(err));
		CHECK(rc == 0, "create: %d %s", rc, err);
	}
	if (p != NULL) {
		struct dp_policy_reader *r = NULL;

		CHECK(dp_policy_reader_create(p, &r) == 0, "reader");
		/* Round 0 without a reader, then twice through one: its
		 * transactions are renewed for every lookup. */
		for (int round = 0; round < 3 && r; round++)
			check_all(p, round ? r : NULL, round);
		dp_policy_reader_destroy(r);
		dp_policy_reader_destroy(NULL);
	}
	dp_policy_destroy(p);
	dp_policy_destroy(NULL);

	/* Rebuilding replaces the map whole; a new policy sees the change. */
	write_file("users.txt", "mallory@example.com\n");
	CHECK(dp_policy_map_build(path("users.txt"), path("users.lmdb"), err,
				  sizeof(err)) == 0,
	      "rebuild: %s", err);
	{
		struct dp_policy_domain doms[] = {
		    {"example.com", path("users.lmdb")},
		};

		CHECK(dp_policy_create(&p, doms, 1, err, sizeof(err)) == 0,
		      "create 2: %s", err);
		CHECK(p && dp_policy_check(p, "mallory", "example.com") ==
			       DP_SMTP_RCPT_OK,
		      "rebuilt map");
		CHECK(p && dp_policy_check(p, "alice", "example.com") ==
			       DP_SMTP_RCPT_UNKNOWN,
		      "old entry gone");
		dp_policy_destroy(p);
	}
	unlink(path("users.txt"));
	unlink(path("users.lmdb"));
	unlink(path("bad.txt"));
	unlink(path("bad2.txt"));
	unlink(path("bad3.txt"));
	rmdir(dir);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
