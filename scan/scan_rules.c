/*
 * scan_rules — parser for the pre-filter rule file (format in
 * scan_rules.h).  Line-oriented and strict: any line that is not blank, a
 * comment or a complete rule is an error naming file, line and reason, so
 * a typo never silently disables a rule.
 */
#include "scan_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const action_names[] = {
    [SCAN_ACT_PASS] = "pass",
    [SCAN_ACT_TAG] = "tag",
    [SCAN_ACT_SCAN] = "scan",
    [SCAN_ACT_REJECT] = "reject",
};

static const char *const part_names[] = {
    [SCAN_PART_HEADER] = "header",
    [SCAN_PART_BODY] = "body",
    [SCAN_PART_FILENAME] = "filename",
    [SCAN_PART_RAW] = "raw",
};

const char *scan_action_name(enum scan_action a)
{
	return (unsigned)a <= SCAN_ACT_REJECT ? action_names[a] : "?";
}

const char *scan_part_name(enum scan_part p)
{
	return (unsigned)p < SCAN_PART__COUNT ? part_names[p] : "?";
}

int scan_action_parse(const char *name, enum scan_action *out)
{
	for (unsigned i = 0; i <= SCAN_ACT_REJECT; i++)
		if (strcmp(name, action_names[i]) == 0) {
			*out = (enum scan_action)i;
			return 0;
		}
	return -EINVAL;
}

/* Cursor over one line. */
struct cur {
	const char *p, *end;
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct cur *c,
						      const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "%s:%u: ", c->file, c->line);

	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* A run of non-blank characters, copied into buf (NUL-terminated). */
static size_t word(struct cur *c, char *buf, size_t size)
{
	size_t n = 0;

	skip_ws(c);
	while (c->p < c->end && *c->p != ' ' && *c->p != '\t') {
		if (n + 1 < size)
			buf[n] = *c->p;
		n++;
		c->p++;
	}
	buf[n + 1 < size ? n : size - 1] = 0;
	return n;
}

static int parse_pattern(struct cur *c, struct scan_rule *r)
{
	char *pat;
	size_t n = 0;

	skip_ws(c);
	if (c->p >= c->end || *c->p != '/')
		return fail(c, "expected /pattern/ after the part name");
	c->p++;
	const char *start = c->p;
	while (c->p < c->end && *c->p != '/') {
		if (*c->p == '\\' && c->p + 1 < c->end)
			c->p++;
		c->p++;
	}
	if (c->p >= c->end)
		return fail(c, "pattern has no closing '/'");
	n = (size_t)(c->p - start);
	if (n == 0)
		return fail(c, "empty pattern");
	if (n > SCAN_RULE_PATTERN_MAX)
		return fail(c, "pattern longer than %d bytes",
			    SCAN_RULE_PATTERN_MAX);
	c->p++;
	for (; c->p < c->end && *c->p != ' ' && *c->p != '\t'; c->p++) {
		switch (*c->p) {
		case 'i':
			r->flags |= SCAN_RULE_F_CASELESS;
			break;
		case 's':
			r->flags |= SCAN_RULE_F_DOTALL;
			break;
		case 'm':
			r->flags |= SCAN_RULE_F_MULTILINE;
			break;
		default:
			return fail(c,
				    "unknown pattern flag '%c' (allowed: "
				    "i s m)",
				    *c->p);
		}
	}
	pat = malloc(n + 1);
	if (!pat)
		return -ENOMEM;
	memcpy(pat, start, n);
	pat[n] = 0;
	if (memchr(pat, 0, n))
		return free(pat), fail(c, "NUL byte in pattern");
	r->pattern = pat;
	return 0;
}

static int parse_desc(struct cur *c, struct scan_rule *r)
{
	char buf[SCAN_RULE_DESC_MAX + 1];
	size_t n = 0;

	skip_ws(c);
	if (c->p >= c->end || *c->p != '"')
		return fail(c, "expected a \"description\" after the action");
	c->p++;
	for (;;) {
		if (c->p >= c->end)
			return fail(c, "description has no closing quote");
		char ch = *c->p++;
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (c->p >= c->end)
				return fail(c, "description has no closing "
					       "quote");
			ch = *c->p++;
			if (ch != '"' && ch != '\\')
				return fail(c,
					    "unknown escape '\\%c' in "
					    "description",
					    ch);
		}
		if ((unsigned char)ch < 0x20)
			return fail(c, "control character in description");
		if (n >= SCAN_RULE_DESC_MAX)
			return fail(c, "description longer than %d bytes",
				    SCAN_RULE_DESC_MAX);
		buf[n++] = ch;
	}
	buf[n] = 0;
	skip_ws(c);
	if (c->p < c->end)
		return fail(c, "unexpected text after the description");
	r->desc = strdup(buf);
	return r->desc ? 0 : -ENOMEM;
}

static int parse_line(struct cur *c, struct scan_rule *r)
{
	char w[32];
	size_t n;

	n = word(c, w, sizeof(w));
	char *endp;
	errno = 0;
	unsigned long long id = strtoull(w, &endp, 10);
	if (n >= sizeof(w) || w[0] < '0' || w[0] > '9' || *endp || errno ||
	    id == 0 || id > UINT32_MAX)
		return fail(c, "rule id must be a number 1..4294967295");
	r->id = (uint32_t)id;

	n = word(c, w, sizeof(w));
	if (n == 0)
		return fail(c, "missing part (header, body, filename, raw)");
	unsigned p;
	for (p = 0; p < SCAN_PART__COUNT; p++)
		if (n < sizeof(w) && strcmp(w, part_names[p]) == 0)
			break;
	if (p == SCAN_PART__COUNT)
		return fail(c,
			    "unknown part '%s' (header, body, filename, "
			    "raw)",
			    w);
	r->part = (enum scan_part)p;

	int e = parse_pattern(c, r);
	if (e)
		return e;

	n = word(c, w, sizeof(w));
	if (n == 0)
		return fail(c, "missing action (reject, scan, tag, pass)");
	if (n >= sizeof(w) || scan_action_parse(w, &r->action))
		return fail(c,
			    "unknown action '%s' (reject, scan, tag, "
			    "pass)",
			    w);
	return parse_desc(c, r);
}

void scan_rules_free(struct scan_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++) {
		free(r->v[i].pattern);
		free(r->v[i].desc);
	}
	free(r->v);
	free(r->file);
	free(r);
}

int scan_rules_parse(const char *file, const char *text, size_t len,
		     struct scan_rules **out, char *err, size_t errlen)
{
	struct scan_rules *rs = calloc(1, sizeof(*rs));
	size_t cap = 0;
	struct cur c = {.file = file, .err = err, .errlen = errlen};
	const char *p = text, *end = text + len;
	int e = 0;

	if (errlen)
		err[0] = 0;
	if (!rs || !(rs->file = strdup(file))) {
		free(rs);
		return -ENOMEM;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		c.line++;
		c.p = p;
		c.end = le;
		if (c.end > c.p && c.end[-1] == '\r')
			c.end--;
		p = nl ? nl + 1 : end;
		skip_ws(&c);
		if (c.p == c.end || *c.p == '#')
			continue;
		if (memchr(c.p, 0, (size_t)(c.end - c.p))) {
			e = fail(&c, "NUL byte in line");
			goto out;
		}
		if (rs->count == SCAN_RULES_MAX) {
			e = fail(&c, "more than %d rules", SCAN_RULES_MAX);
			goto out;
		}
		if (rs->count == cap) {
			size_t nc = cap ? cap * 2 : 32;
			struct scan_rule *nv = realloc(rs->v, nc * sizeof(*nv));
			if (!nv) {
				e = -ENOMEM;
				goto out;
			}
			rs->v = nv;
			cap = nc;
		}
		struct scan_rule *r = &rs->v[rs->count];
		memset(r, 0, sizeof(*r));
		r->line = c.line;
		e = parse_line(&c, r);
		if (e) {
			free(r->pattern);
			free(r->desc);
			goto out;
		}
		for (size_t i = 0; i < rs->count; i++)
			if (rs->v[i].id == r->id) {
				e = fail(&c,
					 "duplicate rule id %u (first on "
					 "line %u)",
					 r->id, rs->v[i].line);
				free(r->pattern);
				free(r->desc);
				goto out;
			}
		rs->count++;
	}
out:
	if (e) {
		if (e == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", file);
		scan_rules_free(rs);
		return e;
	}
	*out = rs;
	return 0;
}

int scan_rules_load(const char *path, struct scan_rules **out, char *err,
		    size_t errlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	if (fd < 0 || fstat(fd, &st) < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	if (st.st_size > 64 * 1024 * 1024) {
		close(fd);
		snprintf(err, errlen, "%s: file too large", path);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: read: %s", path,
				 strerror(-e));
			free(buf);
			close(fd);
			return e;
		}
		got += (size_t)n;
	}
	close(fd);
	e = scan_rules_parse(path, buf, got, out, err, errlen);
	free(buf);
	return e;
}
