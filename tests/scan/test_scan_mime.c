/*
 * test_scan_mime — the MIME walker: what it reports for crafted messages
 * (nesting, encodings, names in every encoding, broken delimiters, LF-only
 * lines, over-long lines, depth limit), the same transcript whatever the
 * split of the input (every byte), and a crash-free walk of CPython's email
 * test messages (directory given as argv[1], skipped if absent).
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>

#include "scan_mime.h"
#include "scan_test.h"

/* Events folded into one text, so two walks compare with memcmp. */
struct tr {
	char *s;
	size_t len, size;
};

static void put(struct tr *t, const void *p, size_t n)
{
	if (t->len + n + 1 > t->size) {
		t->size = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->size);
	}
	memcpy(t->s + t->len, p, n);
	t->len += n;
	t->s[t->len] = 0;
}

static void puts_(struct tr *t, const char *s)
{
	put(t, s, strlen(s));
}

static void ev_header(void *a, unsigned depth, const uint8_t *l, size_t n)
{
	char d[16];
	snprintf(d, sizeof(d), "H%u:", depth);
	puts_(a, d);
	put(a, l, n);
}

static void ev_hend(void *a, unsigned depth)
{
	puts_(a, "{HE}");
}

static void ev_begin(void *a, const struct scan_mime_part *p)
{
	char d[128];
	snprintf(d, sizeof(d), "{P%u %s cte=%d}", p->depth, p->type, p->cte);
	puts_(a, d);
}

static void ev_name(void *a, const uint8_t *n, size_t len)
{
	puts_(a, "{F:");
	put(a, n, len);
	puts_(a, "}");
}

static void ev_body(void *a, const uint8_t *d, size_t n)
{
	put(a, d, n);
}

static void ev_end(void *a)
{
	puts_(a, "{E}");
}

static const struct scan_mime_cb cb = {
    ev_header, ev_hend, ev_begin, ev_name, ev_body, ev_end,
};

static void walk(const char *msg, size_t len, size_t k, struct tr *t,
		 struct scan_mime_stats *st)
{
	static struct scan_mime m;

	t->len = 0;
	put(t, "", 0);
	scan_mime_init(&m, 8, &cb, t);
	scan_mime_feed(&m, (const uint8_t *)msg, k);
	scan_mime_feed(&m, (const uint8_t *)msg + k, len - k);
	scan_mime_finish(&m);
	if (st)
		*st = m.stats;
}

/* Walks msg whole and split at every stride-th byte; all must agree. */
static void walk_all(const char *name, const char *msg, size_t len,
		     size_t stride, struct tr *whole)
{
	struct tr t = {0};

	walk(msg, len, len, whole, NULL);
	for (size_t k = 0; k <= len; k += stride) {
		walk(msg, len, k, &t, NULL);
		CHECKF(t.len == whole->len && memcmp(t.s, whole->s, t.len) == 0,
		       "%s: split at %zu differs:\n%s\n--- vs whole ---\n%s",
		       name, k, t.s, whole->s);
		if (t.len != whole->len || memcmp(t.s, whole->s, t.len))
			break;
	}
	free(t.s);
}

static const char msg_nested[] =
    "From: a@example.org\r\n"
    "Subject: test\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed;\r\n"
    "\tboundary=\"outer\"\r\n"
    "\r\n"
    "preamble is ignored\r\n"
    "--outer\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=C3=A9 soft=\r\n"
    "break\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>hi</p>\r\n"
    "--inner--\r\n"
    "inner epilogue ignored\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream; "
    "name=\"=?UTF-8?B?ZXZpbC5zY3I=?=\"\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''%65vil.exe\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "TVqQAAMA\r\n"
    "AABoZWxs\r\n"
    "bw==\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner message\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Disposition: attachment; filename*0=\"ev\"; "
    "filename*1=\"il.js\"\r\n"
    "\r\n"
    "forwarded body\r\n"
    "--outer--  \r\n"
    "epilogue ignored\r\n";

static const char msg_lf_unclosed[] =
    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
    "\n"
    "--b1\n"
    "Content-Type: multipart/related; boundary=\"b2\"\n"
    "\n"
    "--b2\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "aGVsbG8=\n"
    "--b1\n" /* the inner part never closes: the outer delimiter ends it */
    "Content-Type: text/plain\n"
    "\n"
    "second\n"
    "--b1--\n";

static bool has(const struct tr *t, const char *s)
{
	return memmem(t->s, t->len, s, strlen(s)) != NULL;
}

static void tr_reset(struct tr *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

static void check_nested(void)
{
	struct tr t = {0};

	walk_all("nested", msg_nested, sizeof(msg_nested) - 1, 1, &t);
	CHECKF(has(&t, "{P1 text/plain cte=2}caf\xc3\xa9 soft"
		       "break{E}"),
	       "%s", t.s);
	CHECKF(has(&t, "{P2 text/html cte=0}<p>hi</p>{E}"), "%s", t.s);
	CHECKF(has(&t, "{P1 application/octet-stream cte=1}"
		       "{F:evil.exe}{F:evil.scr}MZ\x90"),
	       "%s", t.s);
	CHECK(memmem(t.s, t.len, "\x00\x00hello{E}", 9) != NULL);
	CHECKF(has(&t, "H2:Subject: inner message\r\n"), "%s", t.s);
	CHECKF(has(&t, "{P2 text/plain cte=0}{F:evil.js}forwarded body{E}"),
	       "%s", t.s);
	CHECK(!has(&t, "preamble"));
	CHECK(!has(&t, "epilogue"));
	CHECKF(has(&t, "H0:Content-Type: multipart/mixed;\r\nH0:\tboundary"),
	       "%s", t.s);
	tr_reset(&t);

	walk_all("lf", msg_lf_unclosed, sizeof(msg_lf_unclosed) - 1, 1, &t);
	CHECKF(has(&t, "{P2 text/plain cte=1}hello{E}"), "%s", t.s);
	CHECKF(has(&t, "{P1 text/plain cte=0}second{E}"), "%s", t.s);
	free(t.s);
}

static void check_long_and_deep(void)
{
	struct tr t = {0};
	struct scan_mime_stats st;
	size_t n = 0, cap = 1 << 16;
	char *m = malloc(cap);

	/* 6000 base64 characters on one line, then a boundary. */
	n += (size_t)snprintf(m + n, cap - n,
			      "Content-Type: multipart/mixed; boundary=x\r\n"
			      "X-Long: %0*d\r\n\r\n--x\r\n"
			      "Content-Transfer-Encoding: base64\r\n\r\n",
			      3000, 7);
	for (int i = 0; i < 1500; i++)
		n += (size_t)snprintf(m + n, cap - n, "QUFB");
	n += (size_t)snprintf(m + n, cap - n, "\r\n--x--\r\n");
	walk_all("long", m, n, 97, &t);
	char *a = strstr(t.s, "{P1 text/plain cte=1}");
	CHECK(a != NULL);
	if (a) {
		a += strlen("{P1 text/plain cte=1}");
		size_t run = strspn(a, "A");
		CHECKF(run == 4500, "decoded %zu of 4500", run);
		CHECK(strncmp(a + run, "{E}", 3) == 0);
	}
	walk(m, n, n, &t, &st);
	CHECK(st.long_lines == 1); /* X-Long cut at the line limit */

	/* Twenty nested multiparts: cut at the depth limit, no crash. */
	n = 0;
	for (int d = 0; d < 20; d++)
		n += (size_t)snprintf(m + n, cap - n,
				      "Content-Type: multipart/mixed; "
				      "boundary=d%d\r\n\r\n--d%d\r\n",
				      d, d);
	n += (size_t)snprintf(m + n, cap - n, "\r\ndeep body\r\n");
	walk_all("deep", m, n, 1, &t);
	walk(m, n, n, &t, &st);
	CHECK(st.too_deep == 1);
	CHECK(has(&t, "{E}"));
	free(m);
	free(t.s);
}

static void check_params(void)
{
	static const struct {
		const char *v, *attr, *want;
	} c[] = {
	    {"attachment; filename=a.exe", "filename", "a.exe"},
	    {"attachment; FileName = \"a b.exe\"", "filename", "a b.exe"},
	    {"attachment; filename=\"q\\\"x.js\"", "filename", "q\"x.js"},
	    {"attachment; filename*=iso-8859-1'en'%41%42.bat", "filename",
	     "AB.bat"},
	    {"a; filename*0*=UTF-8''%65v; filename*1=il.cmd", "filename",
	     "evil.cmd"},
	    {"text/plain; name==?utf-8?Q?r=C3=A9sum=C3=A9_x.vbs?=", "name",
	     "r\xc3\xa9sum\xc3\xa9 x.vbs"},
	    {"text/plain; name=\"=?utf-8?B?YS5q?= =?utf-8?B?cw==?=\"", "name",
	     "a.js"},
	    {"attachment; filenamex=no", "filename", NULL},
	    {"attachment", "filename", NULL},
	    {"multipart/mixed; boundary=\"==_b_==\"", "boundary", "==_b_=="},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t out[SCAN_MIME_NAME_MAX];
		long n =
		    scan_mime_param((const uint8_t *)c[i].v, strlen(c[i].v),
				    c[i].attr, out, sizeof(out));
		if (!c[i].want) {
			CHECKF(n == -1, "param case %zu", i);
			continue;
		}
		CHECKF(n == (long)strlen(c[i].want) &&
			   memcmp(out, c[i].want, (size_t)n) == 0,
		       "param case %zu: got %ld '%.*s'", i, n,
		       n > 0 ? (int)n : 0, (const char *)out);
	}
}

static void check_corpus(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	struct tr t = {0};

	if (!d) {
		fprintf(stderr, "note: %s absent, corpus skipped\n", dir);
		return;
	}
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "msg_", 4) != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		char *buf = malloc(1 << 20);
		size_t n = fread(buf, 1, 1 << 20, f);
		fclose(f);
		size_t stride = n / 200 + 1;
		walk_all(e->d_name, buf, n, stride, &t);
		CHECKF(t.len > 0, "%s: empty transcript", e->d_name);
		free(buf);
		files++;
	}
	closedir(d);
	free(t.s);
	CHECKF(files >= 40, "only %d corpus messages", files);
}

int main(int argc, char **argv)
{
	check_params();
	check_nested();
	check_long_and_deep();
	if (argc > 1)
		check_corpus(argv[1]);
	return TEST_EXIT();
}
