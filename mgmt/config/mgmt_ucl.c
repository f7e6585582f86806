/*
 * mgmt_ucl — recursive-descent parser for the UCL configuration syntax,
 * producing a tree whose every node remembers its file and line.
 *
 * The grammar accepted (whitespace, `#...` line comments and nested
 * `/ * ... * /` comments may appear between any two tokens):
 *
 *   document := '{' members '}' | members
 *   members  := { member [ ';' | ',' ] }
 *   member   := '.include' [ '(' params ')' ] string
 *             | key [ '=' | ':' ] value
 *             | key name '{' members '}'         (== key { name { ... } })
 *   value    := '{' members '}' | '[' [ value { ',' value } [ ','  ] ] ']'
 *             | "string" | 'string' | atom
 *
 * An atom is a bare word; it is a number when it reads as one (with an
 * optional multiplier or time suffix), a boolean for true/false/yes/no/
 * on/off, null for "null", and a string otherwise.  A scalar must be
 * followed by a newline, ';', ',', '}', ']' or the end, so "a = 1 2" is an
 * error rather than a silent truncation.
 *
 * Memory: every node and string lives in the document's arena (a list of
 * blocks), freed at once.
 */
#include "mgmt_ucl.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mx_hex.h"

#define MGMT_UCL_INCLUDE_DEPTH_MAX 16
#define MGMT_UCL_NEST_MAX 64
#define MGMT_UCL_FILE_SIZE_MAX (16u << 20)

struct mgmt_ucl_block {
	struct mgmt_ucl_block *next;
	max_align_t align[];
};

struct mgmt_ucl_doc {
	struct mgmt_ucl_block *blocks;
	struct mgmt_ucl_node *root;
	const char **files;
	unsigned file_count;
};

struct mgmt_ucl_parser {
	struct mgmt_ucl_doc *doc;
	const char *file; /* interned */
	const char *p, *end;
	unsigned line;
	unsigned include_depth;
	unsigned nest;
	char *err;
	size_t errlen;
	bool failed;
};

static void *arena_alloc(struct mgmt_ucl_doc *doc, size_t size)
{
	struct mgmt_ucl_block *b = calloc(1, sizeof(*b) + size);

	if (b == NULL)
		return NULL;
	b->next = doc->blocks;
	doc->blocks = b;
	return b->align;
}

static char *arena_strndup(struct mgmt_ucl_doc *doc, const char *s, size_t n)
{
	char *d = arena_alloc(doc, n + 1);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

const char *mgmt_ucl_doc_file(struct mgmt_ucl_doc *doc, const char *name)
{
	for (unsigned i = 0; i < doc->file_count; i++)
		if (strcmp(doc->files[i], name) == 0)
			return doc->files[i];
	const char **nf =
	    realloc(doc->files, (doc->file_count + 1) * sizeof(*nf));
	if (nf == NULL)
		return NULL;
	doc->files = nf;
	char *copy = arena_strndup(doc, name, strlen(name));
	if (copy == NULL)
		return NULL;
	doc->files[doc->file_count++] = copy;
	return copy;
}

static bool perr(struct mgmt_ucl_parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool perr(struct mgmt_ucl_parser *ps, const char *fmt, ...)
{
	if (ps->failed)
		return false;
	ps->failed = true;
	int n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->file, ps->line);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static struct mgmt_ucl_node *node_new(struct mgmt_ucl_parser *ps,
				      enum mgmt_ucl_type type)
{
	struct mgmt_ucl_node *n = arena_alloc(ps->doc, sizeof(*n));

	if (n == NULL) {
		perr(ps, "out of memory");
		return NULL;
	}
	n->type = type;
	n->file = ps->file;
	n->line = ps->line;
	return n;
}

static void child_append(struct mgmt_ucl_node *parent,
			 struct mgmt_ucl_node *child)
{
	child->next = NULL;
	if (parent->last != NULL)
		parent->last->next = child;
	else
		parent->child = child;
	parent->last = child;
	parent->child_count++;
}

struct mgmt_ucl_node *mgmt_ucl_lookup(const struct mgmt_ucl_node *obj,
				      const char *key)
{
	if (obj == NULL || obj->type != MGMT_UCL_OBJECT)
		return NULL;
	for (struct mgmt_ucl_node *c = obj->child; c != NULL; c = c->next)
		if (c->key != NULL && strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

/* Inserts `child` (which has its key set) into `obj`: a second object with
 * the same key is merged into the first; any other repeat is an error. */
static bool obj_insert(struct mgmt_ucl_parser *ps, struct mgmt_ucl_node *obj,
		       struct mgmt_ucl_node *child)
{
	struct mgmt_ucl_node *old = mgmt_ucl_lookup(obj, child->key);

	if (old == NULL) {
		child_append(obj, child);
		return true;
	}
	if (old->type != MGMT_UCL_OBJECT || child->type != MGMT_UCL_OBJECT) {
		ps->line = child->line;
		ps->file = child->file;
		return perr(ps, "%s: duplicate key (first set at %s:%u)",
			    child->key, old->file, old->line);
	}
	struct mgmt_ucl_node *c = child->child;
	while (c != NULL) {
		struct mgmt_ucl_node *next = c->next;
		if (!obj_insert(ps, old, c))
			return false;
		c = next;
	}
	return true;
}

/* ---- lexical helpers ---- */

static bool skip_ws(struct mgmt_ucl_parser *ps, bool newlines)
{
	while (ps->p < ps->end) {
		char c = *ps->p;
		if (c == '\n') {
			if (!newlines)
				return true;
			ps->line++;
			ps->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			ps->p++;
		} else if (c == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '*') {
			unsigned depth = 0, start = ps->line;
			do {
				if (ps->p + 1 < ps->end && ps->p[0] == '/' &&
				    ps->p[1] == '*') {
					depth++;
					ps->p += 2;
				} else if (ps->p + 1 < ps->end &&
					   ps->p[0] == '*' && ps->p[1] == '/') {
					depth--;
					ps->p += 2;
				} else {
					if (*ps->p == '\n')
						ps->line++;
					ps->p++;
				}
			} while (depth > 0 && ps->p < ps->end);
			if (depth > 0) {
				ps->line = start;
				return perr(ps, "unterminated comment");
			}
		} else {
			return true;
		}
	}
	return true;
}

static bool is_atom_end(const struct mgmt_ucl_parser *ps, const char *q)
{
	char c = *q;

	if (strchr(" \t\r\n;,{}[]\"'#", c) != NULL || c == '\0')
		return true;
	return c == '/' && q + 1 < ps->end && q[1] == '*';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("_-./@+", c) != NULL;
}

static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	out[0] = (char)(0xe0 | (cp >> 12));
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/* Reads a quoted string at ps->p (which is at the quote). */
static char *read_quoted(struct mgmt_ucl_parser *ps)
{
	char q = *ps->p++;
	const char *start = ps->p;
	unsigned start_line = ps->line;
	/* The unescaped value is never longer than the source. */
	size_t cap = 0;
	for (const char *s = start; s < ps->end && *s != q; s++) {
		if (*s == '\\' && s + 1 < ps->end)
			s++;
		cap = (size_t)(s - start) + 2;
	}
	char *out = arena_alloc(ps->doc, cap + 1);
	size_t n = 0;
	if (out == NULL) {
		perr(ps, "out of memory");
		return NULL;
	}
	while (ps->p < ps->end && *ps->p != q) {
		char c = *ps->p++;
		if (c == '\n') {
			ps->line = start_line;
			perr(ps, "unterminated string");
			return NULL;
		}
		if (c != '\\') {
			out[n++] = c;
			continue;
		}
		if (ps->p >= ps->end)
			break;
		c = *ps->p++;
		if (q == '\'') {
			if (c != '\'')
				out[n++] = '\\';
			out[n++] = c;
			continue;
		}
		switch (c) {
		case 'n':
			out[n++] = '\n';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case '"':
		case '\\':
		case '/':
			out[n++] = c;
			break;
		case 'u': {
			unsigned cp = 0;
			for (int i = 0; i < 4; i++) {
				int h = ps->p < ps->end ? mx_hexval(*ps->p) : -1;
				if (h < 0) {
					perr(ps, "bad \\u escape in string");
					return NULL;
				}
				cp = cp << 4 | (unsigned)h;
				ps->p++;
			}
			if (cp == 0) {
				perr(ps, "\\u0000 is not allowed in a string");
				return NULL;
			}
			n += utf8_put(out + n, cp);
			break;
		}
		default:
			perr(ps, "unknown escape '\\%c' in string", c);
			return NULL;
		}
	}
	if (ps->p >= ps->end) {
		ps->line = start_line;
		perr(ps, "unterminated string");
		return NULL;
	}
	ps->p++;
	out[n] = '\0';
	return out;
}

struct suffix {
	const char *s;
	enum mgmt_ucl_type type;
	enum mgmt_ucl_mult mult;
	double factor;
};

/* libucl's multipliers and time suffixes, matched case-insensitively. */
static const struct suffix suffixes[] = {
    {"", MGMT_UCL_INT, MGMT_UCL_MULT_NONE, 1},
    {"k", MGMT_UCL_INT, MGMT_UCL_MULT_DEC, 1e3},
    {"m", MGMT_UCL_INT, MGMT_UCL_MULT_DEC, 1e6},
    {"g", MGMT_UCL_INT, MGMT_UCL_MULT_DEC, 1e9},
    {"kb", MGMT_UCL_INT, MGMT_UCL_MULT_BIN, 1024.0},
    {"mb", MGMT_UCL_INT, MGMT_UCL_MULT_BIN, 1048576.0},
    {"gb", MGMT_UCL_INT, MGMT_UCL_MULT_BIN, 1073741824.0},
    {"ms", MGMT_UCL_TIME, MGMT_UCL_MULT_NONE, 1e-3},
    {"s", MGMT_UCL_TIME, MGMT_UCL_MULT_NONE, 1},
    {"min", MGMT_UCL_TIME, MGMT_UCL_MULT_NONE, 60},
    {"h", MGMT_UCL_TIME, MGMT_UCL_MULT_NONE, 3600},
    {"d", MGMT_UCL_TIME, MGMT_UCL_MULT_NONE, 86400},
    {"w", MGMT_UCL_TIME, MGMT_UCL_MULT_NONE, 604800},
    {"y", MGMT_UCL_TIME, MGMT_UCL_MULT_NONE, 31536000},
};

/* Types an unquoted atom; numbers that overflow are errors. */
static bool atom_classify(struct mgmt_ucl_parser *ps, struct mgmt_ucl_node *n)
{
	const char *t = n->text;
	static const char *const truth[] = {"true", "yes", "on"};
	static const char *const falsity[] = {"false", "no", "off"};

	for (unsigned i = 0; i < 3; i++) {
		if (strcasecmp(t, truth[i]) == 0 ||
		    strcasecmp(t, falsity[i]) == 0) {
			n->type = MGMT_UCL_BOOL;
			n->i = strcasecmp(t, truth[i]) == 0;
			return true;
		}
	}
	if (strcasecmp(t, "null") == 0) {
		n->type = MGMT_UCL_NULL;
		return true;
	}
	const char *d = t + (*t == '-' || *t == '+');
	if (!((*d >= '0' && *d <= '9') ||
	      (*d == '.' && d[1] >= '0' && d[1] <= '9'))) {
		n->type = MGMT_UCL_STRING;
		return true;
	}
	char *rest;
	bool is_float = false;
	errno = 0;
	long long iv = strtoll(t, &rest, 0);
	bool int_range = errno != ERANGE;
	if (*rest == '.' || *rest == 'e' || *rest == 'E') {
		double dv = strtod(t, &rest);
		is_float = true;
		n->d = dv;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		const struct suffix *s = &suffixes[i];
		if (strcasecmp(rest, s->s) != 0)
			continue;
		if (s->type == MGMT_UCL_TIME) {
			n->type = MGMT_UCL_TIME;
			n->d = (is_float ? n->d : (double)iv) * s->factor;
			return true;
		}
		if (is_float && s->mult == MGMT_UCL_MULT_NONE) {
			n->type = MGMT_UCL_FLOAT;
			return true;
		}
		double v = (is_float ? n->d : (double)iv) * s->factor;
		if (!int_range || v > 9.2e18 || v < -9.2e18)
			return perr(ps, "number '%s' is out of range", t);
		n->type = MGMT_UCL_INT;
		n->mult = s->mult;
		n->i = is_float ? (int64_t)llround(v)
				: (int64_t)iv * (int64_t)s->factor;
		return true;
	}
	/* Not a number after all: "10.0.0.1", "127.0.0.1:25", "1st". */
	n->type = MGMT_UCL_STRING;
	return true;
}

static struct mgmt_ucl_node *parse_scalar(struct mgmt_ucl_parser *ps)
{
	struct mgmt_ucl_node *n = node_new(ps, MGMT_UCL_STRING);

	if (n == NULL)
		return NULL;
	if (*ps->p == '"' || *ps->p == '\'') {
		n->text = read_quoted(ps);
		n->quoted = true;
		return n->text != NULL ? n : NULL;
	}
	const char *s = ps->p;
	while (ps->p < ps->end && !is_atom_end(ps, ps->p))
		ps->p++;
	if (ps->p == s) {
		perr(ps, "expected a value, found '%c'", *ps->p);
		return NULL;
	}
	n->text = arena_strndup(ps->doc, s, (size_t)(ps->p - s));
	if (n->text == NULL) {
		perr(ps, "out of memory");
		return NULL;
	}
	return atom_classify(ps, n) ? n : NULL;
}

static bool parse_members(struct mgmt_ucl_parser *ps, struct mgmt_ucl_node *obj,
			  char close);
static struct mgmt_ucl_node *parse_value(struct mgmt_ucl_parser *ps);

static struct mgmt_ucl_node *parse_array(struct mgmt_ucl_parser *ps)
{
	struct mgmt_ucl_node *arr = node_new(ps, MGMT_UCL_ARRAY);

	if (arr == NULL)
		return NULL;
	ps->p++;
	for (;;) {
		if (!skip_ws(ps, true))
			return NULL;
		if (ps->p >= ps->end) {
			perr(ps, "unterminated array (opened at line %u)",
			     arr->line);
			return NULL;
		}
		if (*ps->p == ']') {
			ps->p++;
			return arr;
		}
		struct mgmt_ucl_node *v = parse_value(ps);
		if (v == NULL)
			return NULL;
		child_append(arr, v);
		if (!skip_ws(ps, true))
			return NULL;
		if (ps->p < ps->end && *ps->p == ',')
			ps->p++;
		else if (ps->p < ps->end && *ps->p != ']') {
			perr(ps, "expected ',' or ']' in array");
			return NULL;
		}
	}
}

static struct mgmt_ucl_node *parse_value(struct mgmt_ucl_parser *ps)
{
	if (ps->p >= ps->end) {
		perr(ps, "expected a value, found end of file");
		return NULL;
	}
	if (*ps->p == '{' || *ps->p == '[') {
		if (++ps->nest > MGMT_UCL_NEST_MAX) {
			perr(ps, "nesting deeper than %d", MGMT_UCL_NEST_MAX);
			return NULL;
		}
		struct mgmt_ucl_node *n;
		if (*ps->p == '[') {
			n = parse_array(ps);
		} else {
			n = node_new(ps, MGMT_UCL_OBJECT);
			ps->p++;
			if (n != NULL && !parse_members(ps, n, '}'))
				n = NULL;
		}
		ps->nest--;
		return n;
	}
	return parse_scalar(ps);
}

static bool parse_file_into(struct mgmt_ucl_parser *parent,
			    struct mgmt_ucl_node *obj, const char *path,
			    bool must_exist);

/* `.include [(try=true)] "path"` at ps->p (after the '.include' word). */
static bool parse_include(struct mgmt_ucl_parser *ps, struct mgmt_ucl_node *obj)
{
	bool try = false;

	if (!skip_ws(ps, false))
		return false;
	if (ps->p < ps->end && *ps->p == '(') {
		const char *close =
		    memchr(ps->p, ')', (size_t)(ps->end - ps->p));
		if (close == NULL)
			return perr(ps, ".include: unterminated parameters");
		size_t len = (size_t)(close - ps->p - 1);
		if (len == 8 && memcmp(ps->p + 1, "try=true", 8) == 0)
			try = true;
		else if (!(len == 9 && memcmp(ps->p + 1, "try=false", 9) == 0))
			return perr(ps,
				    ".include: unknown parameters '%.*s' "
				    "(only try=true|false)",
				    (int)len, ps->p + 1);
		ps->p = close + 1;
		if (!skip_ws(ps, false))
			return false;
	}
	if (ps->p >= ps->end || (*ps->p != '"' && *ps->p != '\''))
		return perr(ps, ".include: expected a quoted path");
	char *rel = read_quoted(ps);
	if (rel == NULL)
		return false;
	if (ps->include_depth >= MGMT_UCL_INCLUDE_DEPTH_MAX)
		return perr(ps, ".include: nested deeper than %d",
			    MGMT_UCL_INCLUDE_DEPTH_MAX);
	char path[PATH_MAX];
	const char *slash = strrchr(ps->file, '/');
	int n;
	if (rel[0] == '/' || slash == NULL)
		n = snprintf(path, sizeof(path), "%s", rel);
	else
		n = snprintf(path, sizeof(path), "%.*s/%s",
			     (int)(slash - ps->file), ps->file, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return perr(ps, ".include: path too long");
	if (strpbrk(rel, "*?[") == NULL)
		return parse_file_into(ps, obj, path, !try);
	glob_t g;
	int rc = glob(path, 0, NULL, &g);
	if (rc == GLOB_NOMATCH)
		return true;
	if (rc != 0)
		return perr(ps, ".include: cannot expand '%s'", path);
	bool ok = true;
	for (size_t i = 0; ok && i < g.gl_pathc; i++)
		ok = parse_file_into(ps, obj, g.gl_pathv[i], true);
	globfree(&g);
	return ok;
}

/* After a scalar: the rest of the line must be empty or a separator. */
static bool expect_value_end(struct mgmt_ucl_parser *ps)
{
	if (!skip_ws(ps, false))
		return false;
	if (ps->p >= ps->end || strchr("\n;,}]", *ps->p) != NULL)
		return true;
	return perr(ps,
		    "expected ';' or a newline after the value, found "
		    "'%c'",
		    *ps->p);
}

static bool parse_member(struct mgmt_ucl_parser *ps, struct mgmt_ucl_node *obj)
{
	unsigned key_line = ps->line;
	char *key;

	if (*ps->p == '"' || *ps->p == '\'') {
		key = read_quoted(ps);
		if (key == NULL)
			return false;
	} else {
		const char *s = ps->p;
		while (ps->p < ps->end && is_key_char(*ps->p))
			ps->p++;
		if (ps->p == s)
			return perr(ps, "expected a key, found '%c'", *ps->p);
		if (ps->p - s == 8 && memcmp(s, ".include", 8) == 0)
			return parse_include(ps, obj);
		key = arena_strndup(ps->doc, s, (size_t)(ps->p - s));
		if (key == NULL)
			return perr(ps, "out of memory");
	}
	if (key[0] == '\0')
		return perr(ps, "empty key");
	if (!skip_ws(ps, true))
		return false;
	bool assigned = false;
	if (ps->p < ps->end && (*ps->p == '=' || *ps->p == ':')) {
		ps->p++;
		assigned = true;
		if (!skip_ws(ps, true))
			return false;
	}
	if (ps->p >= ps->end)
		return perr(ps, "%s: expected a value, found end of file", key);
	bool scalar = *ps->p != '{' && *ps->p != '[';
	struct mgmt_ucl_node *v = parse_value(ps);
	if (v == NULL)
		return false;
	v->key = key;
	v->line = key_line;
	if (scalar && !assigned && v->type == MGMT_UCL_STRING) {
		/* `key "name" { ... }` is `key { "name" { ... } }`. */
		const char *save_p = ps->p;
		unsigned save_line = ps->line;
		if (!skip_ws(ps, true))
			return false;
		if (ps->p < ps->end && *ps->p == '{') {
			struct mgmt_ucl_node *inner = parse_value(ps);
			if (inner == NULL)
				return false;
			inner->key = v->text;
			inner->line = v->line;
			v->type = MGMT_UCL_OBJECT;
			v->text = NULL;
			child_append(v, inner);
			return obj_insert(ps, obj, v);
		}
		ps->p = save_p;
		ps->line = save_line;
	}
	if (scalar && !expect_value_end(ps))
		return false;
	return obj_insert(ps, obj, v);
}

static bool parse_members(struct mgmt_ucl_parser *ps, struct mgmt_ucl_node *obj,
			  char close)
{
	unsigned open_line = ps->line;

	for (;;) {
		if (!skip_ws(ps, true))
			return false;
		if (ps->p >= ps->end) {
			if (close == '\0')
				return true;
			ps->line = open_line;
			return perr(ps, "unterminated object (missing '}')");
		}
		if (*ps->p == close) {
			ps->p++;
			return true;
		}
		if (*ps->p == '}' || *ps->p == ']')
			return perr(ps, "unexpected '%c'", *ps->p);
		if (!parse_member(ps, obj))
			return false;
		if (!skip_ws(ps, true))
			return false;
		if (ps->p < ps->end && (*ps->p == ';' || *ps->p == ','))
			ps->p++;
	}
}

static bool parse_buffer(struct mgmt_ucl_parser *ps, struct mgmt_ucl_node *obj)
{
	if (!skip_ws(ps, true))
		return false;
	if (ps->p < ps->end && *ps->p == '{') {
		ps->p++;
		if (!parse_members(ps, obj, '}'))
			return false;
		if (!skip_ws(ps, true))
			return false;
		if (ps->p < ps->end)
			return perr(ps, "text after the closing '}'");
		return true;
	}
	return parse_members(ps, obj, '\0');
}

static char *read_file(const char *path, size_t *len, int *err_no)
{
	FILE *f = fopen(path, "r");
	struct stat st;

	if (f == NULL) {
		*err_no = errno;
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)MGMT_UCL_FILE_SIZE_MAX) {
		*err_no = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
		fclose(f);
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		*err_no = ENOMEM;
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static bool parse_text_into(struct mgmt_ucl_parser *parent,
			    struct mgmt_ucl_node *obj, const char *name,
			    const char *text, size_t len)
{
	struct mgmt_ucl_parser ps = {
	    .doc = parent->doc,
	    .file = mgmt_ucl_doc_file(parent->doc, name),
	    .p = text,
	    .end = text + len,
	    .line = 1,
	    .include_depth = parent->include_depth + 1,
	    .err = parent->err,
	    .errlen = parent->errlen,
	};
	if (ps.file == NULL)
		return perr(parent, "out of memory");
	if (memchr(text, '\0', len) != NULL) {
		ps.line = 1;
		for (const char *c = text; *c != '\0'; c++)
			ps.line += *c == '\n';
		perr(&ps, "NUL byte in configuration");
		parent->failed = true;
		return false;
	}
	bool ok = parse_buffer(&ps, obj);
	if (!ok)
		parent->failed = true;
	return ok;
}

static bool parse_file_into(struct mgmt_ucl_parser *parent,
			    struct mgmt_ucl_node *obj, const char *path,
			    bool must_exist)
{
	size_t len = 0;
	int e = 0;
	char *text = read_file(path, &len, &e);

	if (text == NULL) {
		if (e == ENOENT && !must_exist)
			return true;
		return perr(parent, "cannot read '%s': %s", path, strerror(e));
	}
	bool ok = parse_text_into(parent, obj, path, text, len);
	free(text);
	return ok;
}

static struct mgmt_ucl_doc *doc_new(void)
{
	struct mgmt_ucl_doc *doc = calloc(1, sizeof(*doc));

	if (doc == NULL)
		return NULL;
	doc->root = arena_alloc(doc, sizeof(*doc->root));
	if (doc->root == NULL) {
		free(doc);
		return NULL;
	}
	doc->root->type = MGMT_UCL_OBJECT;
	return doc;
}

static struct mgmt_ucl_doc *parse_common(const char *name, const char *text,
					 size_t len, bool is_file, char *err,
					 size_t errlen)
{
	struct mgmt_ucl_doc *doc = doc_new();

	if (doc == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	/* The outer parser only carries the document and the error sink;
	 * its include depth makes the top file depth 0. */
	struct mgmt_ucl_parser top = {
	    .doc = doc,
	    .file = name,
	    .line = 0,
	    .err = err,
	    .errlen = errlen,
	};
	top.include_depth = (unsigned)-1;
	doc->root->file = mgmt_ucl_doc_file(doc, name);
	doc->root->line = 1;
	bool ok;
	if (is_file) {
		size_t flen = 0;
		int e = 0;
		char *buf = read_file(name, &flen, &e);
		if (buf == NULL) {
			snprintf(err, errlen, "%s: cannot read: %s", name,
				 strerror(e));
			ok = false;
		} else {
			ok = parse_text_into(&top, doc->root, name, buf, flen);
			free(buf);
		}
	} else {
		ok = parse_text_into(&top, doc->root, name, text, len);
	}
	if (!ok) {
		mgmt_ucl_free(doc);
		return NULL;
	}
	return doc;
}

struct mgmt_ucl_doc *mgmt_ucl_parse_file(const char *path, char *err,
					 size_t errlen)
{
	return parse_common(path, NULL, 0, true, err, errlen);
}

struct mgmt_ucl_doc *mgmt_ucl_parse_text(const char *name, const char *text,
					 size_t len, char *err, size_t errlen)
{
	return parse_common(name, text, len, false, err, errlen);
}

struct mgmt_ucl_doc *mgmt_ucl_parse_value(const char *name, const char *text,
					  char *err, size_t errlen)
{
	struct mgmt_ucl_doc *doc = doc_new();

	if (doc == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	struct mgmt_ucl_parser ps = {
	    .doc = doc,
	    .file = mgmt_ucl_doc_file(doc, name),
	    .p = text,
	    .end = text + strlen(text),
	    .line = 1,
	    .err = err,
	    .errlen = errlen,
	};
	struct mgmt_ucl_node *v = NULL;
	if (ps.file != NULL && skip_ws(&ps, true)) {
		if (ps.p >= ps.end) {
			/* "-o key=" sets the empty string. */
			v = node_new(&ps, MGMT_UCL_STRING);
			if (v != NULL)
				v->text = arena_strndup(doc, "", 0);
		} else {
			v = parse_value(&ps);
		}
	}
	if (v != NULL && skip_ws(&ps, true) && ps.p < ps.end) {
		perr(&ps, "unexpected text after the value: '%s'", ps.p);
		v = NULL;
	}
	if (v == NULL) {
		if (!ps.failed)
			snprintf(err, errlen, "%s: out of memory", name);
		mgmt_ucl_free(doc);
		return NULL;
	}
	doc->root = v;
	return doc;
}

struct mgmt_ucl_node *mgmt_ucl_root(struct mgmt_ucl_doc *doc)
{
	return doc->root;
}

void mgmt_ucl_doc_adopt(struct mgmt_ucl_doc *doc, struct mgmt_ucl_doc *src)
{
	struct mgmt_ucl_block **tail = &doc->blocks;

	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = src->blocks;
	src->blocks = NULL;
	for (unsigned i = 0; i < src->file_count; i++) {
		const char **nf =
		    realloc(doc->files, (doc->file_count + 1) * sizeof(*nf));
		if (nf == NULL)
			break;
		doc->files = nf;
		doc->files[doc->file_count++] = src->files[i];
	}
	free(src->files);
	free(src);
}

struct mgmt_ucl_node *mgmt_ucl_obj_child(struct mgmt_ucl_doc *doc,
					 struct mgmt_ucl_node *obj,
					 const char *key, const char *file,
					 unsigned line)
{
	struct mgmt_ucl_node *c = mgmt_ucl_lookup(obj, key);

	if (c != NULL)
		return c->type == MGMT_UCL_OBJECT ? c : NULL;
	c = arena_alloc(doc, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->type = MGMT_UCL_OBJECT;
	c->key = arena_strndup(doc, key, strlen(key));
	c->file = file;
	c->line = line;
	if (c->key == NULL)
		return NULL;
	child_append(obj, c);
	return c;
}

int mgmt_ucl_obj_replace(struct mgmt_ucl_doc *doc, struct mgmt_ucl_node *obj,
			 const char *key, struct mgmt_ucl_node *value)
{
	struct mgmt_ucl_node **pp = &obj->child, *prev = NULL;
	char *k = arena_strndup(doc, key, strlen(key));

	if (k == NULL)
		return -ENOMEM;

	while (*pp != NULL) {
		if ((*pp)->key != NULL && strcmp((*pp)->key, key) == 0) {
			*pp = (*pp)->next;
			obj->child_count--;
			continue;
		}
		prev = *pp;
		pp = &(*pp)->next;
	}
	obj->last = prev;
	value->key = k;
	child_append(obj, value);
	return 0;
}

const char *mgmt_ucl_type_name(enum mgmt_ucl_type type)
{
	static const char *const names[] = {
	    [MGMT_UCL_OBJECT] = "object", [MGMT_UCL_ARRAY] = "array",
	    [MGMT_UCL_STRING] = "string", [MGMT_UCL_INT] = "integer",
	    [MGMT_UCL_FLOAT] = "number",  [MGMT_UCL_TIME] = "duration",
	    [MGMT_UCL_BOOL] = "boolean",  [MGMT_UCL_NULL] = "null",
	};
	return names[type];
}

void mgmt_ucl_free(struct mgmt_ucl_doc *doc)
{
	if (doc == NULL)
		return;
	struct mgmt_ucl_block *b = doc->blocks;
	while (b != NULL) {
		struct mgmt_ucl_block *next = b->next;
		free(b);
		b = next;
	}
	free(doc->files);
	free(doc);
}
