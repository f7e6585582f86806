/*
 * test_scan_rules — the rule-file parser: good files parse into the right
 * rules, every kind of bad line is refused with "file:line: reason", every
 * truncation of every input is handled (the parse is over a whole file, so
 * the "split at every byte" rule becomes "cut at every byte"), and the
 * shipped configs/prefilter.rules parses.
 */
#include <errno.h>
#include <stdlib.h>

#include "scan_rules.h"
#include "scan_test.h"

static const char good[] =
    "# comment\n"
    "\n"
    "   # indented comment\n"
    "1 raw /EICAR/ reject \"test string\"\n"
    "22\theader\t/^Subject: win/im\ttag\t\"spammy \\\"subject\\\"\"\r\n"
    "333 body /a\\/b.c/s scan \"slash inside\"\n"
    "4294967295 filename /\\.exe$/i pass \"max id\"";

static const struct {
	const char *text;
	const char *want; /* substring of the error */
} bad[] = {
    {"x raw /a/ reject \"d\"\n", "t.rules:1: rule id must be a number"},
    {"0 raw /a/ reject \"d\"\n", "t.rules:1: rule id must be"},
    {"4294967296 raw /a/ reject \"d\"\n", "t.rules:1: rule id must"},
    {"-1 raw /a/ reject \"d\"\n", "rule id must be"},
    {"\n\n7 tail /a/ reject \"d\"\n", "t.rules:3: unknown part 'tail'"},
    {"7\n", "t.rules:1: missing part"},
    {"7 raw\n", "t.rules:1: expected /pattern/"},
    {"7 raw a/ reject \"d\"\n", "expected /pattern/"},
    {"7 raw /abc reject \"d\"\n", "pattern has no closing '/'"},
    {"7 raw /ab\\/ reject \"d\"\n", "pattern has no closing '/'"},
    {"7 raw // reject \"d\"\n", "empty pattern"},
    {"7 raw /a/x reject \"d\"\n", "unknown pattern flag 'x'"},
    {"7 raw /a/i\n", "missing action"},
    {"7 raw /a/ drop \"d\"\n", "t.rules:1: unknown action 'drop'"},
    {"7 raw /a/ reject\n", "expected a \"description\""},
    {"7 raw /a/ reject d\n", "expected a \"description\""},
    {"7 raw /a/ reject \"d\n", "description has no closing quote"},
    {"7 raw /a/ reject \"d\\n\"\n", "unknown escape"},
    {"7 raw /a/ reject \"d\" extra\n", "unexpected text after"},
    {"7 raw /a/ reject \"d\"\n8 raw /b/ pass \"e\"\n7 raw /c/ tag \"f\"\n",
     "t.rules:3: duplicate rule id 7 (first on line 1)"},
};

static void check_good(void)
{
	struct scan_rules *r = NULL;
	char err[256];
	int e = scan_rules_parse("g.rules", good, sizeof(good) - 1, &r, err,
				 sizeof(err));

	CHECKF(e == 0, "%s", err);
	if (e)
		return;
	CHECK(r->count == 4);
	CHECK(r->v[0].id == 1 && r->v[0].part == SCAN_PART_RAW &&
	      r->v[0].action == SCAN_ACT_REJECT && r->v[0].flags == 0 &&
	      strcmp(r->v[0].pattern, "EICAR") == 0 && r->v[0].line == 4);
	CHECK(r->v[1].id == 22 && r->v[1].part == SCAN_PART_HEADER &&
	      r->v[1].action == SCAN_ACT_TAG &&
	      r->v[1].flags == (SCAN_RULE_F_CASELESS | SCAN_RULE_F_MULTILINE) &&
	      strcmp(r->v[1].desc, "spammy \"subject\"") == 0);
	CHECK(r->v[2].part == SCAN_PART_BODY &&
	      strcmp(r->v[2].pattern, "a\\/b.c") == 0 &&
	      r->v[2].flags == SCAN_RULE_F_DOTALL &&
	      r->v[2].action == SCAN_ACT_SCAN);
	CHECK(r->v[3].id == 4294967295u && r->v[3].part == SCAN_PART_FILENAME &&
	      r->v[3].action == SCAN_ACT_PASS && r->v[3].line == 7);
	scan_rules_free(r);
}

int main(int argc, char **argv)
{
	char err[256];
	struct scan_rules *r;

	check_good();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = NULL;
		int e =
		    scan_rules_parse("t.rules", bad[i].text,
				     strlen(bad[i].text), &r, err, sizeof(err));
		CHECKF(e == -EINVAL && r == NULL, "case %zu accepted", i);
		CHECKF(strstr(err, bad[i].want) != NULL,
		       "case %zu: error \"%s\", want \"%s\"", i, err,
		       bad[i].want);
	}
	/* Every truncation of every input: no crash, no over-read (ASan),
	 * and either a rule set or an error naming the file. */
	for (size_t i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
		const char *t =
		    i < sizeof(bad) / sizeof(bad[0]) ? bad[i].text : good;
		for (size_t k = 0; k <= strlen(t); k++) {
			char *copy = malloc(k ? k : 1);
			memcpy(copy, t, k);
			r = NULL;
			err[0] = 0;
			int e = scan_rules_parse("t.rules", copy, k, &r, err,
						 sizeof(err));
			CHECK(e == 0 ? r != NULL
				     : strncmp(err, "t.rules:", 8) == 0);
			scan_rules_free(r);
			free(copy);
		}
	}
	/* Action names round-trip. */
	for (int a = SCAN_ACT_PASS; a <= SCAN_ACT_REJECT; a++) {
		enum scan_action got;
		CHECK(scan_action_parse(scan_action_name(a), &got) == 0 &&
		      got == (enum scan_action)a);
	}
	/* A missing file is an error naming it. */
	CHECK(scan_rules_load("/nonexistent/x.rules", &r, err, sizeof(err)) ==
	      -ENOENT);
	CHECK(strstr(err, "/nonexistent/x.rules") != NULL);
	/* The shipped rules parse. */
	if (argc > 1) {
		int e = scan_rules_load(argv[1], &r, err, sizeof(err));
		CHECKF(e == 0, "%s", err);
		if (!e) {
			CHECK(r->count > 20);
			scan_rules_free(r);
		}
	}
	return TEST_EXIT();
}
