/*
 * test_scan_pf — the Hyperscan pre-filter end to end: every action and
 * the precedence between them, the default for messages matching nothing,
 * patterns found only after base64 or quoted-printable decoding, names,
 * the decode cap, compile errors naming file, line and rule (with the old
 * rules kept), and rule reloads racing two scanning threads (the hazard
 * pointers; run under ASan to see a use-after-free if they were wrong).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "scan_counters.h"
#include "scan_pf.h"
#include "scan_test.h"

static const char rules_text[] =
    "# test rules\n"
    "10 raw /EICAR-STANDARD/ reject \"eicar\"\n"
    "20 body /secret-word/ tag \"word in decoded body\"\n"
    "30 filename /\\.exe$/i reject \"exe name\"\n"
    "40 header /^Subject:.*invoice/im scan \"invoice subject\"\n"
    "50 body /\\AMZ/ scan \"MZ at part start\"\n"
    "60 header /^Content-Type:\\s*text\\/plain/im pass \"plain text\"\n";

#define HDR "From: a@example.org\r\nTo: b@example.org\r\n"
#define MP "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n"

static const struct {
	const char *name, *msg;
	enum scan_action action;
	bool clam;
	uint32_t ids[4]; /* expected matches, 0-terminated */
} cases[] = {
    {"nothing", HDR "Subject: hi\r\n\r\nhello\r\n", SCAN_ACT_SCAN, true, {0}},
    {"plain",
     HDR "Content-Type: text/plain\r\n\r\nhello\r\n",
     SCAN_ACT_PASS,
     false,
     {60}},
    {"invoice",
     HDR "Subject: your INVOICE\r\n"
	 "Content-Type: text/plain\r\n\r\nhi\r\n",
     SCAN_ACT_SCAN,
     true,
     {40, 60}},
    {"b64 body",
     HDR MP "\r\n--zz\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "dGhlIHNlY3JldC13b3JkIGlzIGhlcmU=\r\n--zz--\r\n", /* the secret-word
								 is here */
     SCAN_ACT_TAG,
     true,
     {20}},
    {"qp body",
     HDR MP "\r\n--zz\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "the secret=2Dword\r\n--zz--\r\n",
     SCAN_ACT_TAG,
     true,
     {20}},
    {"qp soft break",
     HDR "Content-Transfer-Encoding: quoted-printable\r\n"
	 "\r\nthe secret-=\r\nword\r\n",
     SCAN_ACT_TAG,
     true,
     {20}},
    {"exe name",
     HDR MP "\r\n--zz\r\nContent-Type: application/x-foo\r\n"
	    "Content-Disposition: attachment; filename=\"Invoice.EXE\"\r\n\r\n"
	    "data\r\n--zz--\r\n",
     SCAN_ACT_REJECT,
     false,
     {30}},
    {"exe name 2231",
     HDR MP "\r\n--zz\r\nContent-Type: application/x-foo\r\n"
	    "Content-Disposition: attachment; filename*=utf-8''a%2Eexe\r\n\r\n"
	    "data\r\n--zz--\r\n",
     SCAN_ACT_REJECT,
     false,
     {30}},
    {"mz b64",
     HDR MP "\r\n--zz\r\nContent-Transfer-Encoding: base64\r\n"
	    "\r\nTVqQAAMAAAAEAAAA\r\n--zz--\r\n",
     SCAN_ACT_SCAN,
     true,
     {50}},
    {"mz not at start", HDR "\r\nsee MZ here\r\n", SCAN_ACT_SCAN, true, {0}},
    {"eicar raw",
     HDR "\r\nX5O EICAR-STANDARD x\r\n",
     SCAN_ACT_REJECT,
     false,
     {10}},
    {"reject beats scan",
     HDR MP "\r\n--zz\r\n"
	    "Content-Type: application/octet-stream; name=x.exe\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMA\r\n--zz--\r\n",
     SCAN_ACT_REJECT,
     false,
     {30, 50}},
    {"scan beats tag and pass",
     HDR "Subject: invoice\r\n"
	 "Content-Type: text/plain\r\n\r\nsecret-word\r\n",
     SCAN_ACT_SCAN,
     true,
     {20, 40, 60}},
};

static struct scan_rules *parse(const char *text)
{
	struct scan_rules *r = NULL;
	char err[256];

	if (scan_rules_parse("t.rules", text, strlen(text), &r, err,
			     sizeof(err)))
		fprintf(stderr, "parse: %s\n", err);
	return r;
}

static bool has_id(const struct scan_pf_result *r, uint32_t id)
{
	for (unsigned i = 0; i < r->match_count; i++)
		if (r->match[i] == id)
			return true;
	return false;
}

static void check_cases(struct scan_pf *pf)
{
	struct scan_pf_worker *w = scan_pf_worker_create(pf);
	struct scan_pf_result res;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int e =
		    scan_pf_scan(w, cases[c].msg, strlen(cases[c].msg), &res);
		unsigned want_n = 0;
		CHECK(e == 0);
		CHECKF(res.action == cases[c].action, "%s: action %s",
		       cases[c].name, scan_action_name(res.action));
		CHECKF(res.clam == cases[c].clam, "%s: clam %d", cases[c].name,
		       res.clam);
		for (; want_n < 4 && cases[c].ids[want_n]; want_n++)
			CHECKF(has_id(&res, cases[c].ids[want_n]),
			       "%s: rule %u not matched", cases[c].name,
			       cases[c].ids[want_n]);
		CHECKF(res.match_count == want_n, "%s: %u matches, want %u",
		       cases[c].name, res.match_count, want_n);
		CHECK(res.matched == (want_n > 0));
	}
	scan_pf_worker_destroy(w);
}

static void check_default_pass_and_cap(void)
{
	struct scan_pf_conf conf = {.default_action = SCAN_ACT_PASS,
				    .decode_max = 64};
	struct scan_pf *pf;
	struct scan_rules *r = parse(rules_text);
	struct scan_pf_result res;
	char err[256];

	CHECK(scan_pf_create(&conf, &pf) == 0);
	CHECK(scan_pf_load_rules(pf, r, err, sizeof(err)) == 0);
	struct scan_pf_worker *w = scan_pf_worker_create(pf);
	const char *m = HDR "Subject: hi\r\n\r\nhello\r\n";
	CHECK(scan_pf_scan(w, m, strlen(m), &res) == 0);
	CHECK(res.action == SCAN_ACT_PASS && !res.clam && !res.matched);
	/* Tag while the default is pass: no ClamAV. */
	m = HDR "\r\nsecret-word\r\n";
	CHECK(scan_pf_scan(w, m, strlen(m), &res) == 0);
	CHECK(res.action == SCAN_ACT_TAG && !res.clam);
	/* The word past the 64-byte decode cap is not seen. */
	char big[512];
	snprintf(big, sizeof(big), HDR "\r\n%0100d secret-word\r\n", 0);
	uint64_t before =
	    mx_counter_local(&scan_counters, scan_pf_decode_truncated);
	CHECK(scan_pf_scan(w, big, strlen(big), &res) == 0);
	CHECK(!has_id(&res, 20));
	CHECK(mx_counter_local(&scan_counters, scan_pf_decode_truncated) ==
	      before + 1);
	scan_pf_worker_destroy(w);
	scan_pf_destroy(pf);
	scan_rules_free(r);

	conf.default_action = SCAN_ACT_REJECT; /* not allowed as default */
	CHECK(scan_pf_create(&conf, &pf) == -EINVAL);
}

static void check_errors(struct scan_pf *pf)
{
	char err[512];
	uint64_t gen = scan_pf_generation(pf);
	struct scan_rules *r = parse("1 raw /ok/ pass \"fine\"\n"
				     "2 body /a(/ reject \"broken\"\n");

	CHECK(r != NULL);
	CHECK(scan_pf_load_rules(pf, r, err, sizeof(err)) == -EINVAL);
	CHECKF(
	    strstr(err, "t.rules:2: rule 2: pattern /a(/ does not compile") !=
		NULL,
	    "%s", err);
	scan_rules_free(r);
	/* Empty-matching patterns are refused by Hyperscan too. */
	r = parse("1 raw /x*/ pass \"empty\"\n");
	CHECK(scan_pf_load_rules(pf, r, err, sizeof(err)) == -EINVAL);
	CHECKF(strstr(err, "t.rules:1: rule 1:") != NULL, "%s", err);
	scan_rules_free(r);
	CHECK(scan_pf_generation(pf) == gen);

	/* A file with a bad line: the error names it. */
	char path[] = "/tmp/scan_pf_rulesXXXXXX";
	int fd = mkstemp(path);
	const char *bad = "1 raw /a/ pass \"x\"\n2 raw /b/ explode \"y\"\n";
	CHECK(fd >= 0 && write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad));
	close(fd);
	CHECK(scan_pf_load(pf, path, err, sizeof(err)) == -EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "%s:2: unknown action 'explode'", path);
	CHECKF(strstr(err, want) != NULL, "%s", err);
	unlink(path);
	CHECK(scan_pf_generation(pf) == gen);
	check_cases(pf); /* the old rules still work */
}

/* Two sets that give "foo" different actions, swapped while scanned. */
static const char set_a[] = "1 raw /foo/ reject \"a\"\n";
static const char set_b[] = "2 body /foo/ tag \"b\"\n3 raw /zzz/ pass \"c\"\n";
static atomic_bool stop;
static atomic_int bad_results;

static void *scanner_thread(void *arg)
{
	struct scan_pf_worker *w = scan_pf_worker_create(arg);
	struct scan_pf_result res;
	const char *m = HDR "\r\nfoo\r\n";

	while (!atomic_load(&stop)) {
		if (scan_pf_scan(w, m, strlen(m), &res) ||
		    !(res.match_count == 1 &&
		      ((res.match[0] == 1 && res.action == SCAN_ACT_REJECT) ||
		       (res.match[0] == 2 && res.action == SCAN_ACT_TAG))))
			atomic_fetch_add(&bad_results, 1);
	}
	scan_pf_worker_destroy(w);
	return NULL;
}

static void check_reload_race(void)
{
	struct scan_pf_conf conf = {.default_action = SCAN_ACT_SCAN};
	struct scan_pf *pf;
	struct scan_rules *a = parse(set_a), *b = parse(set_b);
	pthread_t t[2];
	char err[256];

	CHECK(scan_pf_create(&conf, &pf) == 0);
	CHECK(scan_pf_load_rules(pf, a, err, sizeof(err)) == 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, scanner_thread, pf);
	for (int i = 0; i < 40; i++) {
		CHECK(scan_pf_load_rules(pf, i % 2 ? a : b, err, sizeof(err)) ==
		      0);
		usleep(500);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&bad_results) == 0);
	CHECK(scan_pf_generation(pf) == 41);
	scan_pf_reclaim(pf);
	scan_pf_destroy(pf);
	scan_rules_free(a);
	scan_rules_free(b);
}

/* The shipped configs/prefilter.rules do what docs/scan.md says. */
static const struct {
	const char *name, *msg;
	enum scan_action action;
	uint32_t id; /* one rule that must be among the matches */
} shipped[] = {
    {"plain text", HDR "Content-Type: text/plain\r\n\r\nhi\r\n", SCAN_ACT_PASS,
     9001},
    {"exe by name",
     HDR MP "\r\n--zz\r\nContent-Type: application/x-foo;"
	    " name=\"setup.exe\"\r\n\r\nx\r\n--zz--\r\n",
     SCAN_ACT_REJECT, 2001},
    {"script by name",
     HDR MP "\r\n--zz\r\nContent-Disposition: "
	    "attachment; filename=\"run.PS1\"\r\n\r\nx\r\n--zz--\r\n",
     SCAN_ACT_REJECT, 2002},
    {"double extension",
     HDR MP "\r\n--zz\r\nContent-Disposition: "
	    "attachment; filename=\"invoice.pdf.scr\"\r\n\r\nx\r\n--zz--\r\n",
     SCAN_ACT_REJECT, 2003},
    {"macro office",
     HDR MP "\r\n--zz\r\nContent-Disposition: "
	    "attachment; filename=\"q3.xlsm\"\r\n\r\nx\r\n--zz--\r\n",
     SCAN_ACT_SCAN, 3001},
    {"zip by magic",
     HDR MP "\r\n--zz\r\nContent-Type: image/png\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nUEsDBBQAAAAIAA==\r\n"
	    "--zz--\r\n",
     SCAN_ACT_SCAN, 4002},
    {"iso by name",
     HDR MP "\r\n--zz\r\nContent-Disposition: "
	    "attachment; filename=\"disk.iso\"\r\n\r\nx\r\n--zz--\r\n",
     SCAN_ACT_SCAN, 4001},
    {"html form",
     HDR "Content-Type: text/html\r\n\r\n<html><FORM "
	 "action=x>\r\n",
     SCAN_ACT_SCAN, 5001},
    {"html script in qp",
     HDR "Content-Type: text/html\r\n"
	 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	 "<scr=\r\nipt>x</script>\r\n",
     SCAN_ACT_SCAN, 5002},
    {"mz in base64",
     HDR MP "\r\n--zz\r\nContent-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAgAAAAA==\r\n--zz--\r\n",
     SCAN_ACT_SCAN, 2101},
    {"gtube",
     HDR "\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-"
	 "UBE-TEST-EMAIL*C.34X\r\n",
     SCAN_ACT_REJECT, 1003},
};

static void check_shipped(const char *path)
{
	struct scan_pf_conf conf = {.default_action = SCAN_ACT_SCAN};
	struct scan_pf *pf;
	struct scan_pf_result res;
	char err[512];

	CHECK(scan_pf_create(&conf, &pf) == 0);
	CHECKF(scan_pf_load(pf, path, err, sizeof(err)) == 0, "%s", err);
	struct scan_pf_worker *w = scan_pf_worker_create(pf);
	for (size_t c = 0; c < sizeof(shipped) / sizeof(shipped[0]); c++) {
		CHECK(scan_pf_scan(w, shipped[c].msg, strlen(shipped[c].msg),
				   &res) == 0);
		CHECKF(res.action == shipped[c].action &&
			   has_id(&res, shipped[c].id),
		       "shipped rules, %s: action %s, %u matches (first %u)",
		       shipped[c].name, scan_action_name(res.action),
		       res.match_count, res.match_count ? res.match[0] : 0);
	}
	scan_pf_worker_destroy(w);
	scan_pf_destroy(pf);
}

int main(int argc, char **argv)
{
	struct scan_pf_conf conf = {.default_action = SCAN_ACT_SCAN};
	struct scan_pf *pf;
	struct scan_rules *r = parse(rules_text);
	char err[256];

	CHECK(r != NULL);
	CHECK(scan_pf_create(&conf, &pf) == 0);
	/* Before any load: everything gets the default. */
	struct scan_pf_worker *w = scan_pf_worker_create(pf);
	struct scan_pf_result res;
	CHECK(scan_pf_scan(w, "x", 1, &res) == 0 &&
	      res.action == SCAN_ACT_SCAN && res.clam);
	scan_pf_worker_destroy(w);

	CHECKF(scan_pf_load_rules(pf, r, err, sizeof(err)) == 0, "%s", err);
	CHECK(scan_pf_rule_count(pf) == 6);
	check_cases(pf);
	check_errors(pf);
	check_default_pass_and_cap();
	check_reload_race();
	if (argc > 1)
		check_shipped(argv[1]);
	scan_pf_destroy(pf);
	scan_rules_free(r);
	return TEST_EXIT();
}
