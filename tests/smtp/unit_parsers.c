/*
 * unit_parsers — table-driven tests of the SMTP engine's parsers: the CRLF
 * line reader (each input whole, split in two at every byte, and one byte
 * at a time), the path parser, ESMTP parameters, xtext and UTF-8 (each
 * input also cut at every length, in an exactly-sized heap copy so that
 * the sanitizers see any read past the end).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_smtp_addr.h"
#include "dp_smtp_line.h"
#include "dp_smtp_param.h"

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

/* ---- line reader ---- */

struct line_case {
	const char *in;
	size_t in_len;
	size_t max;
	const char *lines; /* expected: "content|flags;" per line */
};

#define L(s, max, out)                                                         \
	{                                                                      \
		s, sizeof(s) - 1, max, out                                     \
	}

static const struct line_case line_cases[] = {
    L("NOOP\r\n", 512, "NOOP|0;"),
    L("A\r\nB\r\n", 512, "A|0;B|0;"),
    L("partial", 512, ""),
    L("\r\n", 512, "|0;"),
    L("bare\n", 512, "bare|1;"),
    L("a\rb\r\n", 512, "ab|2;"),
    L("a\r\rb\r\n", 512, "ab|2;"),
    L("cr at end\r", 512, ""),
    L("n\0ul\r\n", 512, "nul|4;"),
    L("12345\r\n", 7, "12345|0;"),
    L("123456\r\n", 7, "12345|8;"),
    L("1234567890\r\nok\r\n", 7, "12345|8;ok|0;"),
    L("\n\n", 512, "|1;|1;"),
    L("x\r\r\n", 512, "x|2;"),
};

static void collect(struct dp_smtp_line *l, const uint8_t *p, size_t n,
		    char *out, size_t size)
{
	while (n > 0) {
		bool done = false;
		size_t used = dp_smtp_line_feed(l, p, n, &done);

		CHECK(used > 0 && used <= n, "line_feed consumed %zu of %zu",
		      used, n);
		p += used;
		n -= used;
		if (done) {
			size_t o = strlen(out);

			snprintf(out + o, size - o, "%s|%u;", l->buf, l->flags);
			dp_smtp_line_reset(l);
		}
	}
}

static void test_line(void)
{
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]);
	     i++) {
		const struct line_case *c = &line_cases[i];
		const uint8_t *p = (const uint8_t *)c->in;

		/* split == 0: whole; 1..len-1: two pieces; len: bytewise */
		for (size_t split = 0; split <= c->in_len; split++) {
			char storage[1024], out[1024] = "";
			struct dp_smtp_line l;

			dp_smtp_line_init(&l, storage, c->max);
			if (split == 0) {
				collect(&l, p, c->in_len, out, sizeof(out));
			} else if (split < c->in_len) {
				collect(&l, p, split, out, sizeof(out));
				collect(&l, p + split, c->in_len - split, out,
					sizeof(out));
			} else {
				for (size_t k = 0; k < c->in_len; k++)
					collect(&l, p + k, 1, out, sizeof(out));
			}
			CHECK(strcmp(out, c->lines) == 0,
			      "line case %zu split %zu: got \"%s\" want \"%s\"",
			      i, split, out, c->lines);
		}
	}
}

/* ---- path parser ---- */

struct addr_case {
	const char *in;
	unsigned flags;
	long rc; /* consumed, or -errno */
	const char *mbox, *local, *domain, *decoded;
};

#define NULLOK DP_SMTP_ADDR_NULL_OK
#define PM DP_SMTP_ADDR_POSTMASTER_OK
#define U8 DP_SMTP_ADDR_UTF8

static const struct addr_case addr_cases[] = {
    {"<a@b.c>", 0, 7, "a@b.c", "a", "b.c", "a"},
    {"<a@b.c> SIZE=1", 0, 7, "a@b.c", "a", "b.c", "a"},
    {"<>", NULLOK, 2, "", "", "", ""},
    {"<>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<Postmaster>", PM, 12, "Postmaster", "Postmaster", "", "Postmaster"},
    {"<postmaster>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<\"a b\"@x.y>", 0, 11, "\"a b\"@x.y", "\"a b\"", "x.y", "a b"},
    {"<\"a\\\"b\"@x>", 0, 10, "\"a\\\"b\"@x", "\"a\\\"b\"", "x", "a\"b"},
    {"<@r1,@r2:u@d>", 0, 13, "u@d", "u", "d", "u"},
    {"<@r1:u@d>", 0, 9, "u@d", "u", "d", "u"},
    {"<@r1u@d>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<u@[1.2.3.4]>", 0, 13, "u@[1.2.3.4]", "u", "[1.2.3.4]", "u"},
    {"<u@[IPv6:::1]>", 0, 14, "u@[IPv6:::1]", "u", "[IPv6:::1]", "u"},
    {"<u@[1.2.3]>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<u@[x]>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<u@[x-:y]>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<u@[x:y]>", 0, 9, "u@[x:y]", "u", "[x:y]", "u"},
    {"<a.b.c@d-e.f>", 0, 13, "a.b.c@d-e.f", "a.b.c", "d-e.f", "a.b.c"},
    {"<a..b@c>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<a@c.>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<a@-c>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<a@c->", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"a@c", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<a@c", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<a>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<\"x@c>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<\"\x01\"@c>", 0, -EINVAL, NULL, NULL, NULL, NULL},
    {"<j\xc3\xb6@c>", 0, -EILSEQ, NULL, NULL, NULL, NULL},
    {"<j\xc3\xb6@c>", U8, 7, "j\xc3\xb6@c", "j\xc3\xb6", "c", "j\xc3\xb6"},
    {"<j@\xc3\xa9.c>", U8, 8, "j@\xc3\xa9.c", "j", "\xc3\xa9.c", "j"},
    {"<j\xc3@c>", U8, -EINVAL, NULL, NULL, NULL, NULL},
    {"<j\xed\xa0\x80@c>", U8, -EINVAL, NULL, NULL, NULL, NULL},
    {"<12345678901234567890123456789012345678901234567890123456789012345@c>", 0,
     -ENAMETOOLONG, NULL, NULL, NULL, NULL},
};

static bool same(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && (n == 0 || memcmp(p, want, n) == 0);
}

static void test_addr(void)
{
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]);
	     i++) {
		const struct addr_case *c = &addr_cases[i];
		size_t len = strlen(c->in);

		/* Every prefix, in a buffer of exactly that size. */
		for (size_t k = 0; k <= len; k++) {
			char *buf = malloc(k ? k : 1);
			struct dp_smtp_addr a;
			long rc;

			memcpy(buf, c->in, k);
			rc = dp_smtp_addr_parse(buf, k, c->flags, &a);
			if (k == len) {
				CHECK(rc == c->rc,
				      "addr %zu \"%s\": rc %ld want %ld", i,
				      c->in, rc, c->rc);
			} else {
				CHECK(rc < 0 || rc <= (long)k,
				      "addr %zu prefix %zu: rc %ld", i, k, rc);
				CHECK(rc < 0 || c->rc == rc,
				      "addr %zu prefix %zu accepted (%ld)", i,
				      k, rc);
			}
			if (k == len && rc >= 0 && c->mbox) {
				char dec[128];

				CHECK(same(a.mbox, a.mbox_len, c->mbox),
				      "addr %zu mbox", i);
				CHECK(same(a.local, a.local_len, c->local),
				      "addr %zu local", i);
				CHECK(same(a.domain, a.domain_len, c->domain),
				      "addr %zu domain", i);
				CHECK(dp_smtp_addr_local_decode(
					  &a, dec, sizeof(dec)) >= 0 &&
					  strcmp(dec, c->decoded) == 0,
				      "addr %zu decoded \"%s\"", i, dec);
			}
			free(buf);
		}
	}
}

/* ---- parameters ---- */

struct param_case {
	const char *in;
	const char *want; /* "K=V;K;" or "ERR" */
};

static const struct param_case param_cases[] = {
    {"", ""},
    {" ", ""},
    {" SIZE=10", "SIZE=10;"},
    {" SIZE=10 BODY=8BITMIME", "SIZE=10;BODY=8BITMIME;"},
    {"  SMTPUTF8  RET=HDRS ", "SMTPUTF8;RET=HDRS;"},
    {" X-Y-1=a+2Bb", "X-Y-1=a+2Bb;"},
    {" =x", "ERR"},
    {" -X=1", "ERR"},
    {" K=", "ERR"},
    {" K=a=b", "ERR"},
    {" K=\x7f", "ERR"},
    {"x", "ERR"},
    {" K_1=2", "ERR"},
    {" ORCPT=rfc822;\xc3\xa9", "ORCPT=rfc822;\xc3\xa9;"},
};

static void test_param(void)
{
	for (size_t i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]);
	     i++) {
		const struct param_case *c = &param_cases[i];
		size_t len = strlen(c->in);

		for (size_t k = 0; k <= len; k++) {
			char *buf = malloc(k ? k : 1), got[256] = "";
			struct dp_smtp_param p;
			size_t pos = 0;
			int rc;

			memcpy(buf, c->in, k);
			while ((rc = dp_smtp_param_next(buf, k, &pos, &p)) ==
			       1) {
				size_t o = strlen(got);

				CHECK(pos <= k, "param %zu: pos past end", i);
				snprintf(got + o, sizeof(got) - o,
					 "%.*s%s%.*s;", (int)p.key_len, p.key,
					 p.value ? "=" : "", (int)p.value_len,
					 p.value ? p.value : "");
			}
			if (rc < 0)
				snprintf(got, sizeof(got), "ERR");
			if (k == len)
				CHECK(
				    strcmp(got, c->want) == 0,
				    "param %zu \"%s\": got \"%s\" want \"%s\"",
				    i, c->in, got, c->want);
			free(buf);
		}
	}
	CHECK(dp_smtp_param_is("size", 4, "SIZE"), "param_is case");
	CHECK(!dp_smtp_param_is("SIZ", 3, "SIZE"), "param_is prefix");
	CHECK(!dp_smtp_param_is("SIZES", 5, "SIZE"), "param_is longer");
}

/* ---- xtext ---- */

struct xtext_case {
	const char *in;
	long rc;
	const char *out;
};

static const struct xtext_case xtext_cases[] = {
    {"", 0, ""},
    {"abc", 3, "abc"},
    {"a+2Bb", 3, "a+b"},
    {"a+3D", 2, "a="},
    {"+20", 1, " "},
    {"a+2b", -EINVAL, NULL}, /* hexchar is upper case */
    {"a+2", -EINVAL, NULL},
    {"a+", -EINVAL, NULL},
    {"a=b", -EINVAL, NULL},
    {"a b", -EINVAL, NULL},
    {"+00", -EINVAL, NULL},
    {"+0A", -EINVAL, NULL},
    {"+7F", -EINVAL, NULL},
    {"\xc3\xa9", -EINVAL, NULL},
    {"rfc822;user+40example.com", 23, "rfc822;user@example.com"},
};

static void test_xtext(void)
{
	for (size_t i = 0; i < sizeof(xtext_cases) / sizeof(xtext_cases[0]);
	     i++) {
		const struct xtext_case *c = &xtext_cases[i];
		size_t len = strlen(c->in);

		for (size_t k = 0; k <= len; k++) {
			char *buf = malloc(k ? k : 1), out[64];
			long rc;

			memcpy(buf, c->in, k);
			rc = dp_smtp_xtext_decode(buf, k, out, sizeof(out));
			if (k == len) {
				CHECK(rc == c->rc,
				      "xtext %zu \"%s\": %ld want %ld", i,
				      c->in, rc, c->rc);
				CHECK(rc < 0 || strcmp(out, c->out) == 0,
				      "xtext %zu: \"%s\"", i, out);
			}
			free(buf);
		}
	}
	{
		char small[3];

		CHECK(dp_smtp_xtext_decode("abc", 3, small, sizeof(small)) ==
			  -ENOSPC,
		      "xtext -ENOSPC");
	}
}

/* ---- UTF-8 ---- */

static void test_utf8(void)
{
	static const struct {
		const char *s;
		bool ok;
	} t[] = {
	    {"plain", true},
	    {"\xc3\xa9", true},
	    {"\xe2\x82\xac", true},
	    {"\xf0\x9f\x98\x80", true},
	    {"\xc3", false},
	    {"\xc0\x80", false},	 /* overlong NUL */
	    {"\xe0\x80\x80", false},	 /* overlong */
	    {"\xed\xa0\x80", false},	 /* surrogate */
	    {"\xf4\x90\x80\x80", false}, /* > U+10FFFF */
	    {"\xff", false},
	    {"\x80", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(dp_smtp_utf8_valid(t[i].s, strlen(t[i].s)) == t[i].ok,
		      "utf8 case %zu", i);
}

int main(void)
{
	test_line();
	test_addr();
	test_param();
	test_xtext();
	test_utf8();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	return 0;
}
