/*
 * ml_msg — build the message pool: generated text, HTML or attachment
 * messages of the requested sizes, or the .eml files of a directory.
 */
#include "ml_msg.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ML_SIZE_MIN 256u
#define ML_SIZE_MAX (64u << 20)
#define ML_EICAR_POOL 16u
#define ML_EML_MAX 100000u

/* The EICAR anti-virus test file, 68 bytes (https://www.eicar.org). */
static const char eicar_file[] =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

static const char *const words[] = {
    "the",	"quarterly", "report",	 "is",	     "attached", "please",
    "review",	"and",	     "send",	 "comments", "before",	 "friday",
    "meeting",	"agenda",    "includes", "budget",   "shipping", "invoice",
    "customer", "account",   "update",	 "schedule", "thanks",	 "regards",
    "project",	"status",    "of",	 "delivery", "server",	 "message",
    "queue",	"team",	     "notes",	 "draft",
};

struct gbuf {
	char *p;
	size_t len;
	size_t cap;
};

static int gb_reserve(struct gbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *np;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	np = realloc(b->p, cap);
	if (!np)
		return -ENOMEM;
	b->p = np;
	b->cap = cap;
	return 0;
}

static int gb_add(struct gbuf *b, const void *s, size_t n)
{
	if (gb_reserve(b, n) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

__attribute__((format(printf, 2, 3))) static int gb_printf(struct gbuf *b,
							   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (gb_reserve(b, 1024) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		return -EINVAL;
	b->len += (size_t)n;
	return 0;
}

/* Word lines of at most 72 characters until b holds `until` bytes. */
static int fill_text(struct gbuf *b, size_t until, uint64_t *rs, bool html)
{
	size_t nwords = sizeof(words) / sizeof(words[0]);

	while (b->len + 2 < until) {
		char line[96];
		size_t ll = 0, room = until - b->len - 2;

		if (html) {
			memcpy(line, "<p>", 3);
			ll = 3;
		}
		for (;;) {
			const char *w = words[ml_rand(rs) % nwords];
			size_t wl = strlen(w);

			if (ll + wl + 1 > (html ? 64u : 72u))
				break;
			if (ll && line[ll - 1] != '>')
				line[ll++] = ' ';
			memcpy(line + ll, w, wl);
			ll += wl;
		}
		if (html) {
			memcpy(line + ll, "</p>", 4);
			ll += 4;
		}
		if (ll > room)
			ll = room;
		if (gb_add(b, line, ll) < 0 || gb_add(b, "\r\n", 2) < 0)
			return -ENOMEM;
	}
	return 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 2045 §6.8 base64 of n bytes, 76-character lines. */
static int add_base64(struct gbuf *b, const unsigned char *in, size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		if (gb_add(b, q, 4) < 0)
			return -ENOMEM;
		col += 4;
		if (col == 76) {
			if (gb_add(b, "\r\n", 2) < 0)
				return -ENOMEM;
			col = 0;
		}
	}
	return col ? gb_add(b, "\r\n", 2) : 0;
}

/* Random bytes, base64-encoded, until b holds about `until` bytes. */
static int fill_attachment(struct gbuf *b, size_t until, uint64_t *rs)
{
	unsigned char raw[57 * 64];

	while (b->len + 80 < until) {
		size_t want = (until - b->len) / 78 * 57, i;

		if (want == 0)
			want = 57;
		if (want > sizeof(raw))
			want = sizeof(raw);
		for (i = 0; i < want; i++)
			raw[i] = (unsigned char)ml_rand(rs);
		if (add_base64(b, raw, want) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int gen_one(struct gbuf *b, const struct ml_opts *o, unsigned idx,
		   size_t size, bool eicar, uint64_t *rs)
{
	const char *bnd = "=_mxload_boundary_7f3a";
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	bool multipart = eicar || o->content != ML_CONTENT_TEXT;
	size_t tail = eicar ? 400 : 0;
	int rc = 0;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	rc |= gb_printf(b,
			"From: mxload <%s>\r\n"
			"To: <user0@example.test>\r\n"
			"Subject: mxload test message %u\r\n"
			"Date: %s\r\n"
			"Message-ID: <%u.%llu@mxload.test>\r\n"
			"MIME-Version: 1.0\r\n",
			o->from, idx, date, idx, (unsigned long long)o->seed);
	if (!multipart) {
		rc |= gb_printf(b, "Content-Type: text/plain; charset=us-ascii"
				   "\r\n\r\n");
		rc |= fill_text(b, size, rs, false);
		return rc ? -ENOMEM : 0;
	}
	rc |= gb_printf(b,
			"Content-Type: multipart/%s; boundary=\"%s\"\r\n\r\n"
			"This is a MIME message.\r\n",
			o->content == ML_CONTENT_HTML ? "alternative" : "mixed",
			bnd);
	rc |= gb_printf(b,
			"--%s\r\nContent-Type: text/plain; "
			"charset=us-ascii\r\n\r\n",
			bnd);
	switch (o->content) {
	case ML_CONTENT_HTML:
		rc |= fill_text(b, b->len + (size - b->len) / 2, rs, false);
		rc |= gb_printf(b,
				"--%s\r\nContent-Type: text/html; "
				"charset=us-ascii\r\n\r\n<html><body>\r\n",
				bnd);
		rc |= fill_text(b, size > tail + 40 ? size - tail - 40 : 0, rs,
				true);
		rc |= gb_printf(b, "</body></html>\r\n");
		break;
	case ML_CONTENT_ATTACH:
		rc |= fill_text(b, b->len + 300, rs, false);
		rc |= gb_printf(b,
				"--%s\r\nContent-Type: application/"
				"octet-stream; name=\"data%u.bin\"\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"Content-Disposition: attachment; "
				"filename=\"data%u.bin\"\r\n\r\n",
				bnd, idx, idx);
		rc |= fill_attachment(
		    b, size > tail + 40 ? size - tail - 40 : 0, rs);
		break;
	default:
		rc |= fill_text(b, size > tail + 40 ? size - tail - 40 : 0, rs,
				false);
		break;
	}
	if (eicar) {
		rc |= gb_printf(b,
				"--%s\r\nContent-Type: application/"
				"octet-stream; name=\"eicar.com\"\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"Content-Disposition: attachment; "
				"filename=\"eicar.com\"\r\n\r\n",
				bnd);
		rc |= add_base64(b, (const unsigned char *)eicar_file,
				 sizeof(eicar_file) - 1);
	}
	rc |= gb_printf(b, "--%s--\r\n", bnd);
	return rc ? -ENOMEM : 0;
}

static size_t clamp_size(double s)
{
	if (!(s >= ML_SIZE_MIN))
		return ML_SIZE_MIN;
	if (s > ML_SIZE_MAX)
		return ML_SIZE_MAX;
	return (size_t)s;
}

/* Standard normal by Box–Muller. */
static double normal(uint64_t *rs)
{
	double u1 = ml_rand01(rs), u2 = ml_rand01(rs);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static int load_sizes(const char *path, uint64_t **out, unsigned *count)
{
	FILE *f = fopen(path, "r");
	uint64_t *v = NULL;
	unsigned n = 0, cap = 0;
	char line[128];

	if (!f) {
		fprintf(stderr, "mxload: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *end;
		unsigned long long s = strtoull(line, &end, 10);

		if (end == line)
			continue;
		if (n == cap) {
			uint64_t *nv;

			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = s;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "mxload: %s: no sizes\n", path);
		free(v);
		return -EINVAL;
	}
	*out = v;
	*count = n;
	return 0;
}

/* Keep raw as is; make the dot-stuffed form only if some line needs it. */
static int finish_msg(struct ml_msg *m, char *raw, size_t len, bool eicar)
{
	size_t i, dots = 0;
	char *s, *d;

	m->raw = raw;
	m->raw_len = len;
	m->eicar = eicar;
	for (i = 0; i < len; i++)
		if (raw[i] == '.' && (i == 0 || raw[i - 1] == '\n'))
			dots++;
	if (dots == 0) {
		m->stuffed = raw;
		m->stuffed_len = len;
		return 0;
	}
	s = malloc(len + dots);
	if (!s)
		return -ENOMEM;
	for (i = 0, d = s; i < len; i++) {
		if (raw[i] == '.' && (i == 0 || raw[i - 1] == '\n'))
			*d++ = '.';
		*d++ = raw[i];
	}
	m->stuffed = s;
	m->stuffed_len = len + dots;
	return 0;
}

static int gen_pool(struct ml_msg *arr, unsigned n, const struct ml_opts *o,
		    bool eicar, uint64_t *sizes, unsigned nsizes, uint64_t *rs,
		    uint64_t *bytes)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct gbuf b = {0};
		size_t size;
		int rc;

		switch (o->size_kind) {
		case ML_SIZE_LOGNORMAL:
			size = clamp_size((double)o->size *
					  exp(o->sigma * normal(rs)));
			break;
		case ML_SIZE_FILE:
			size = clamp_size((double)sizes[ml_rand(rs) % nsizes]);
			break;
		default:
			size = clamp_size((double)o->size);
			break;
		}
		rc = gen_one(&b, o, i + (eicar ? 1000000u : 0u), size, eicar,
			     rs);
		if (rc == 0)
			rc = finish_msg(&arr[i], b.p, b.len, eicar);
		if (rc < 0) {
			free(b.p);
			return rc;
		}
		*bytes += b.len;
	}
	return 0;
}

/* LF or CRLF lines in, CRLF lines out, ending in CRLF. */
static int normalize_eml(const char *in, size_t n, struct gbuf *b)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
			if (gb_add(b, "\r\n", 2) < 0)
				return -ENOMEM;
		} else if (gb_add(b, &in[i], 1) < 0) {
			return -ENOMEM;
		}
	}
	if (b->len < 2 || memcmp(b->p + b->len - 2, "\r\n", 2))
		return gb_add(b, "\r\n", 2);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_eml(struct ml_pool *p, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	unsigned n = 0, i;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "mxload: %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	names = calloc(ML_EML_MAX, sizeof(*names));
	if (!names) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) && n < ML_EML_MAX) {
		size_t l = strlen(de->d_name);

		if (l > 4 && !strcmp(de->d_name + l - 4, ".eml"))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "mxload: %s: no .eml files\n", dir);
		free(names);
		return -ENOENT;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	p->clean = calloc(n, sizeof(*p->clean));
	if (!p->clean)
		rc = -ENOMEM;
	for (i = 0; i < n && rc == 0; i++) {
		char path[4096];
		struct gbuf raw = {0}, b = {0};
		char chunk[65536];
		size_t got;
		FILE *f;

		if (!names[i]) {
			rc = -ENOMEM;
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "rb");
		if (!f) {
			fprintf(stderr, "mxload: %s: %s\n", path,
				strerror(errno));
			rc = -errno;
			break;
		}
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			if (gb_add(&raw, chunk, got) < 0)
				rc = -ENOMEM;
		fclose(f);
		if (rc == 0)
			rc = normalize_eml(raw.p ? raw.p : "", raw.len, &b);
		free(raw.p);
		if (rc == 0)
			rc = finish_msg(&p->clean[i], b.p, b.len, false);
		if (rc < 0) {
			free(b.p);
			break;
		}
		p->clean_count++;
		p->bytes += b.len;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int ml_pool_build(struct ml_pool *p, const struct ml_opts *o)
{
	uint64_t rs = o->seed * 0x9E3779B97F4A7C15ull + 1;
	uint64_t *sizes = NULL;
	unsigned nsizes = 0, n;
	int rc;

	memset(p, 0, sizeof(*p));
	if (o->size_kind == ML_SIZE_FILE) {
		rc = load_sizes(o->size_file, &sizes, &nsizes);
		if (rc < 0)
			return rc;
	}
	if (o->content == ML_CONTENT_EML) {
		rc = load_eml(p, o->eml_dir);
	} else {
		n = o->pool_max;
		if (o->size_kind == ML_SIZE_FIXED)
			n = n < 16 ? n : 16;
		p->clean = calloc(n, sizeof(*p->clean));
		rc = p->clean ? 0 : -ENOMEM;
		if (rc == 0)
			rc = gen_pool(p->clean, n, o, false, sizes, nsizes, &rs,
				      &p->bytes);
		if (rc == 0)
			p->clean_count = n;
	}
	if (rc == 0 && o->eicar_rate > 0) {
		p->eicar = calloc(ML_EICAR_POOL, sizeof(*p->eicar));
		rc = p->eicar ? 0 : -ENOMEM;
		if (rc == 0)
			rc = gen_pool(p->eicar, ML_EICAR_POOL, o, true, sizes,
				      nsizes, &rs, &p->bytes);
		if (rc == 0)
			p->eicar_count = ML_EICAR_POOL;
	}
	free(sizes);
	if (rc < 0) {
		if (rc == -ENOMEM)
			fprintf(stderr, "mxload: out of memory building the "
					"message pool\n");
		ml_pool_free(p);
	}
	return rc;
}

static void free_arr(struct ml_msg *a, unsigned n)
{
	unsigned i;

	if (!a)
		return;
	for (i = 0; i < n; i++) {
		if (a[i].stuffed != a[i].raw)
			free((void *)a[i].stuffed);
		free((void *)a[i].raw);
	}
	free(a);
}

void ml_pool_free(struct ml_pool *p)
{
	if (!p)
		return;
	free_arr(p->clean, p->clean_count);
	free_arr(p->eicar, p->eicar_count);
	memset(p, 0, sizeof(*p));
}
