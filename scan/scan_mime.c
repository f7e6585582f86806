/*
 * scan_mime — streaming MIME walker (RFC 2045, RFC 2046) for the scanner.
 *
 * Input is cut into lines.  A line is handled in the state of the part it
 * belongs to: header section, leaf body, or the preamble/epilogue of a
 * multipart.  Body lines are checked against every open boundary, innermost
 * first, so a lost closing delimiter of an inner part still ends it when an
 * outer boundary turns up (RFC 2046 §5.1.2 asks that of robust readers).
 * The line end before a boundary belongs to the boundary (RFC 2046 §5.1.1),
 * so each body line's end is held back until the next line is seen.
 */
#include "scan_mime.h"

#include <string.h>
#include <strings.h>

#include "mx_hex.h"

enum {
	ST_HEADERS = 0,
	ST_LEAF, /* body of a leaf part, decoded and reported */
	ST_SKIP, /* preamble or epilogue of a multipart */
};

static void mime_part_reset(struct scan_mime *m, unsigned depth)
{
	memset(&m->part, 0, offsetof(struct scan_mime_part, boundary) + 1);
	m->part.depth = depth;
	strcpy(m->part.type, "text/plain"); /* RFC 2045 §5.2 default */
	m->field_len = 0;
	m->eol_len = 0;
}

void scan_mime_init(struct scan_mime *m, unsigned depth_max,
		    const struct scan_mime_cb *cb, void *arg)
{
	m->cb = cb;
	m->arg = arg;
	if (depth_max < 1)
		depth_max = 1;
	if (depth_max > SCAN_MIME_DEPTH_HARD_MAX)
		depth_max = SCAN_MIME_DEPTH_HARD_MAX;
	m->depth_max = depth_max;
	m->state = ST_HEADERS;
	m->stack_n = 0;
	m->line_len = 0;
	m->line_cut = false;
	m->line_cont = false;
	memset(&m->stats, 0, sizeof(m->stats));
	mime_part_reset(m, 0);
}

static bool is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Line length without its CRLF or LF. */
static size_t strip_eol(const uint8_t *l, size_t len)
{
	if (len && l[len - 1] == '\n')
		len--;
	if (len && l[len - 1] == '\r')
		len--;
	return len;
}

/* ---- parameter values (RFC 2045 §5.1, RFC 2231, RFC 2047) ---- */

/* Undoes RFC 2047 encoded words (=?cs?B?..?= / =?cs?Q?..?=) in place;
 * text between words passes through.  Returns the new length. */
static size_t decode_words(uint8_t *s, size_t len)
{
	uint8_t tmp[SCAN_MIME_NAME_MAX + 4];
	size_t o = 0, i = 0;

	while (i < len && o < SCAN_MIME_NAME_MAX) {
		if (s[i] == '=' && i + 1 < len && s[i + 1] == '?') {
			size_t q1 = i + 2, q2, end;
			while (q1 < len && s[q1] != '?')
				q1++;
			q2 = q1 + 2;
			end = q2 + 1;
			while (end + 1 < len &&
			       !(s[end] == '?' && s[end + 1] == '='))
				end++;
			if (q2 < len && s[q2] == '?' && end + 1 < len) {
				uint8_t enc = s[q1 + 1] | 0x20;
				const uint8_t *t = s + q2 + 1;
				size_t tl = end - (q2 + 1);
				uint8_t
				    out[SCAN_DEC_OUT_MAX(SCAN_MIME_NAME_MAX)];
				size_t n = 0;
				if (tl > SCAN_MIME_NAME_MAX)
					tl = SCAN_MIME_NAME_MAX;
				if (enc == 'b') {
					struct scan_b64 d;
					scan_b64_init(&d);
					n = scan_b64_decode(&d, t, tl, out);
					n += scan_b64_finish(&d, out + n);
				} else {
					for (size_t k = 0; k < tl; k++) {
						int a, b;
						if (t[k] == '_') {
							out[n++] = ' ';
						} else if (t[k] == '=' &&
							   k + 2 < tl &&
							   (a = mx_hexval(
								t[k + 1])) >=
							       0 &&
							   (b = mx_hexval(
								t[k + 2])) >=
							       0) {
							out[n++] =
							    (uint8_t)(a << 4 |
								      b);
							k += 2;
						} else {
							out[n++] = t[k];
						}
					}
				}
				for (size_t k = 0;
				     k < n && o < SCAN_MIME_NAME_MAX; k++)
					tmp[o++] = out[k];
				i = end + 2;
				/* RFC 2047 §6.2: space between adjacent
				 * encoded words is not displayed. */
				size_t j = i;
				while (j < len && is_wsp(s[j]))
					j++;
				if (j + 1 < len && s[j] == '=' &&
				    s[j + 1] == '?')
					i = j;
				continue;
			}
		}
		tmp[o++] = s[i++];
	}
	memcpy(s, tmp, o);
	return o;
}

long scan_mime_param(const uint8_t *v, size_t len, const char *attr,
		     uint8_t *out, size_t size)
{
	size_t alen = strlen(attr), o = 0, i = 0;
	bool found = false, any_encoded_word = false;

	/* Skip the leading value ("attachment", "text/plain"). */
	while (i < len && v[i] != ';')
		i++;
	while (i < len) {
		i++; /* ';' */
		while (i < len &&
		       (is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n'))
			i++;
		size_t ns = i;
		while (i < len && v[i] != '=' && v[i] != ';' && !is_wsp(v[i]))
			i++;
		size_t nl = i - ns;
		while (i < len && is_wsp(v[i]))
			i++;
		if (i >= len || v[i] != '=')
			goto next;
		i++;
		while (i < len && is_wsp(v[i]))
			i++;
		bool match = false, ext = false, first = true;
		if (nl >= alen &&
		    strncasecmp((const char *)v + ns, attr, alen) == 0) {
			const uint8_t *rest = v + ns + alen;
			size_t rl = nl - alen;
			if (rl == 0) {
				match = true;
			} else if (rest[0] == '*') {
				/* attr*, attr*N, attr*N* (RFC 2231 §3, §4) */
				size_t k = 1;
				bool digits = false;
				while (k < rl && rest[k] >= '0' &&
				       rest[k] <= '9') {
					digits = true;
					if (rest[k] != '0')
						first = false;
					k++;
				}
				if (k == rl) {
					match = true;
					ext = !digits;
				} else if (k + 1 == rl && rest[k] == '*') {
					match = true;
					ext = true;
				}
			}
		}
		/* The value: quoted-string or token. */
		if (i < len && v[i] == '"') {
			i++;
			while (i < len && v[i] != '"') {
				uint8_t c = v[i];
				if (c == '\\' && i + 1 < len)
					c = v[++i];
				if (match && o < size && c != '\r' && c != '\n')
					out[o++] = c;
				i++;
			}
			if (i < len)
				i++;
		} else {
			size_t vs = i;
			while (i < len && v[i] != ';' && !is_wsp(v[i]) &&
			       v[i] != '\r' && v[i] != '\n')
				i++;
			if (match) {
				size_t k = vs;
				if (ext && first) {
					/* charset'language'value */
					size_t q = vs, ticks = 0;
					while (q < i && ticks < 2)
						if (v[q++] == '\'')
							ticks++;
					if (ticks == 2)
						k = q;
				}
				for (; k < i && o < size; k++) {
					int a, b;
					if (ext && v[k] == '%' && k + 2 < i &&
					    (a = mx_hexval(v[k + 1])) >= 0 &&
					    (b = mx_hexval(v[k + 2])) >= 0) {
						out[o++] =
						    (uint8_t)(a << 4 | b);
						k += 2;
					} else {
						out[o++] = v[k];
					}
				}
			}
		}
		if (match)
			found = true;
	next:
		while (i < len && v[i] != ';')
			i++;
	}
	if (!found)
		return -1;
	for (size_t k = 0; k + 1 < o; k++)
		if (out[k] == '=' && out[k + 1] == '?')
			any_encoded_word = true;
	if (any_encoded_word && size >= SCAN_MIME_NAME_MAX)
		o = decode_words(out, o);
	return (long)o;
}

/* ---- header fields ---- */

static bool field_is(const uint8_t *f, size_t len, const char *name,
		     size_t *val)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp((const char *)f, name, n) != 0)
		return false;
	size_t i = n;
	while (i < len && is_wsp(f[i]))
		i++;
	if (i >= len || f[i] != ':')
		return false;
	i++;
	while (i < len && (is_wsp(f[i]) || f[i] == '\r' || f[i] == '\n'))
		i++;
	*val = i;
	return true;
}

/* Interprets the completed field in m->field. */
static void field_done(struct scan_mime *m)
{
	const uint8_t *f = m->field;
	size_t len = m->field_len, v;
	struct scan_mime_part *p = &m->part;

	m->field_len = 0;
	if (field_is(f, len, "Content-Type", &v)) {
		size_t k = 0;
		while (v + k < len && k + 1 < sizeof(p->type) &&
		       f[v + k] != ';' && !is_wsp(f[v + k]) &&
		       f[v + k] != '\r' && f[v + k] != '\n') {
			uint8_t c = f[v + k];
			p->type[k++] =
			    (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
		}
		p->type[k] = 0;
		long b = scan_mime_param(f + v, len - v, "boundary",
					 (uint8_t *)p->boundary,
					 SCAN_MIME_BOUNDARY_MAX);
		p->boundary[b > 0 ? b : 0] = 0;
		long n = scan_mime_param(f + v, len - v, "name", p->name,
					 sizeof(p->name));
		p->name_len = n > 0 ? (size_t)n : 0;
	} else if (field_is(f, len, "Content-Transfer-Encoding", &v)) {
		const char *e = (const char *)f + v;
		size_t el = len - v;
		if (el >= 6 && strncasecmp(e, "base64", 6) == 0)
			p->cte = SCAN_MIME_CTE_BASE64;
		else if (el >= 16 &&
			 strncasecmp(e, "quoted-printable", 16) == 0)
			p->cte = SCAN_MIME_CTE_QP;
		else
			p->cte = SCAN_MIME_CTE_IDENTITY;
	} else if (field_is(f, len, "Content-Disposition", &v)) {
		long n = scan_mime_param(f + v, len - v, "filename",
					 p->filename, sizeof(p->filename));
		p->filename_len = n > 0 ? (size_t)n : 0;
	}
}

static void field_append(struct scan_mime *m, const uint8_t *l, size_t len)
{
	size_t room = SCAN_MIME_FIELD_MAX - m->field_len;

	if (len > room)
		len = room;
	memcpy(m->field + m->field_len, l, len);
	m->field_len += len;
}

/* ---- body ---- */

#define BODY_CHUNK 4096

static void body_emit(struct scan_mime *m, const uint8_t *d, size_t len)
{
	uint8_t out[SCAN_DEC_OUT_MAX(BODY_CHUNK)];

	if (!m->cb->body)
		return;
	while (len) {
		size_t n = len > BODY_CHUNK ? BODY_CHUNK : len, w;
		switch (m->part.cte) {
		case SCAN_MIME_CTE_BASE64:
			w = scan_b64_decode(&m->dec.b64, d, n, out);
			if (w)
				m->cb->body(m->arg, out, w);
			break;
		case SCAN_MIME_CTE_QP:
			w = scan_qp_decode(&m->dec.qp, d, n, out);
			if (w)
				m->cb->body(m->arg, out, w);
			break;
		default:
			/* Identity: no copy, hand the input over. */
			m->cb->body(m->arg, d, len);
			return;
		}
		d += n;
		len -= n;
	}
}

static void leaf_end(struct scan_mime *m)
{
	uint8_t out[8];
	size_t w = 0;

	if (m->part.cte == SCAN_MIME_CTE_BASE64)
		w = scan_b64_finish(&m->dec.b64, out);
	else if (m->part.cte == SCAN_MIME_CTE_QP)
		w = scan_qp_finish(&m->dec.qp, out);
	if (w && m->cb->body)
		m->cb->body(m->arg, out, w);
	m->eol_len = 0;
	if (m->cb->part_end)
		m->cb->part_end(m->arg);
}

static void emit_name(struct scan_mime *m, const uint8_t *n, size_t len)
{
	if (len && m->cb->filename)
		m->cb->filename(m->arg, n, len);
}

/* The blank line after a header section: what kind of body follows. */
static void headers_done(struct scan_mime *m)
{
	struct scan_mime_part *p = &m->part;

	if (m->field_len)
		field_done(m);
	if (m->cb->headers_end)
		m->cb->headers_end(m->arg, p->depth);
	bool multipart =
	    strncmp(p->type, "multipart/", 10) == 0 && p->boundary[0];
	bool message = strcmp(p->type, "message/rfc822") == 0 &&
		       p->cte == SCAN_MIME_CTE_IDENTITY;

	if ((multipart || message) &&
	    (p->depth + 1 >= m->depth_max ||
	     m->stack_n >= SCAN_MIME_DEPTH_HARD_MAX)) {
		m->stats.too_deep++;
		multipart = message = false;
	}
	if (multipart) {
		size_t bl = strlen(p->boundary);
		memcpy(m->stack[m->stack_n].b, p->boundary, bl + 1);
		m->stack[m->stack_n].len = bl;
		m->stack[m->stack_n].depth = p->depth;
		m->stack_n++;
		m->state = ST_SKIP; /* preamble, RFC 2046 §5.1.1 */
		return;
	}
	if (message) {
		/* The body is a whole message: walk its headers next. */
		mime_part_reset(m, p->depth + 1);
		m->state = ST_HEADERS;
		return;
	}
	m->stats.parts++;
	if (m->cb->part_begin)
		m->cb->part_begin(m->arg, p);
	emit_name(m, p->filename, p->filename_len);
	if (p->name_len != p->filename_len ||
	    memcmp(p->name, p->filename, p->name_len) != 0)
		emit_name(m, p->name, p->name_len);
	if (p->cte == SCAN_MIME_CTE_BASE64)
		scan_b64_init(&m->dec.b64);
	else if (p->cte == SCAN_MIME_CTE_QP)
		scan_qp_init(&m->dec.qp);
	m->eol_len = 0;
	m->state = ST_LEAF;
}

/* Is this line a delimiter of an open multipart?  Returns its stack index
 * or -1; *close is set for a close delimiter ("--b--"). */
static int boundary_match(const struct scan_mime *m, const uint8_t *l,
			  size_t len, bool *close)
{
	if (len < 3 || l[0] != '-' || l[1] != '-')
		return -1;
	for (int k = (int)m->stack_n - 1; k >= 0; k--) {
		size_t bl = m->stack[k].len;
		if (len < 2 + bl || memcmp(l + 2, m->stack[k].b, bl) != 0)
			continue;
		size_t i = 2 + bl;
		*close = false;
		if (i + 2 <= len && l[i] == '-' && l[i + 1] == '-') {
			*close = true;
			i += 2;
		}
		/* Transport padding may follow (RFC 2046 §5.1.1). */
		while (i < len && is_wsp(l[i]))
			i++;
		if (i == len)
			return k;
	}
	return -1;
}

static bool on_boundary(struct scan_mime *m, const uint8_t *l, size_t len)
{
	bool close;
	int k = boundary_match(m, l, len, &close);

	if (k < 0)
		return false;
	if (m->state == ST_LEAF)
		leaf_end(m);
	m->stack_n = (unsigned)k + 1;
	unsigned depth = m->stack[k].depth + 1;
	if (close) {
		m->stack_n = (unsigned)k;
		m->state = ST_SKIP; /* epilogue */
	} else {
		mime_part_reset(m, depth);
		m->state = ST_HEADERS;
	}
	return true;
}

/* One complete line, its line end included (absent at end of input). */
static void line_done(struct scan_mime *m, const uint8_t *l, size_t len)
{
	size_t cl = strip_eol(l, len);

	if (m->stack_n && cl >= 3 && l[0] == '-' && l[1] == '-' &&
	    on_boundary(m, l, cl))
		return;
	switch (m->state) {
	case ST_HEADERS:
		if (cl == 0) {
			headers_done(m);
			return;
		}
		if (m->cb->header)
			m->cb->header(m->arg, m->part.depth, l, len);
		if (!is_wsp(l[0]) && m->field_len)
			field_done(m);
		field_append(m, l, len);
		return;
	case ST_LEAF:
		if (m->eol_len)
			body_emit(m, m->eol, m->eol_len);
		body_emit(m, l, cl);
		/* Line ends carry no base64 data: do not hold them back. */
		m->eol_len = m->part.cte == SCAN_MIME_CTE_BASE64 ? 0 : len - cl;
		memcpy(m->eol, l + cl, m->eol_len);
		return;
	default:
		return;
	}
}

/* Bytes of whole lines at p (a line start) that cannot hold a delimiter:
 * up to the first line that starts with '-', or the last complete line.
 * Base64 never has '-', so a body is usually one run. */
static size_t leaf_run(const uint8_t *p, size_t len)
{
	const uint8_t *q;
	size_t off = 1;

	if (p[0] == '-')
		return 0;
	while (off < len && (q = memchr(p + off, '-', len - off))) {
		if (q[-1] == '\n')
			return (size_t)(q - p);
		off = (size_t)(q - p) + 1;
	}
	/* No delimiter candidate: up to the end of the last whole line (the
	 * tail is short, a partial line). */
	while (len && p[len - 1] != '\n')
		len--;
	return len;
}

void scan_mime_feed(struct scan_mime *m, const uint8_t *p, size_t len)
{
	while (len) {
		if (m->state == ST_LEAF && !m->line_len && !m->line_cont &&
		    !m->line_cut) {
			/* Fast path: many body lines in one go, with the same
			 * line-end rules as line by line. */
			size_t r = leaf_run(p, len);
			if (r) {
				size_t cl = strip_eol(p, r);
				if (m->eol_len)
					body_emit(m, m->eol, m->eol_len);
				body_emit(m, p, cl);
				m->eol_len = m->part.cte == SCAN_MIME_CTE_BASE64
						 ? 0
						 : r - cl;
				memcpy(m->eol, p + cl, m->eol_len);
				p += r;
				len -= r;
				continue;
			}
		}
		const uint8_t *nl = memchr(p, '\n', len);
		size_t n = nl ? (size_t)(nl - p) + 1 : len;

		if (m->line_cont) {
			/* Tail of an over-long body line: pure content. */
			size_t cl = nl ? strip_eol(p, n) : n;
			body_emit(m, p, cl);
			if (nl) {
				m->eol_len = n - cl;
				memcpy(m->eol, p + cl, m->eol_len);
				m->line_cont = false;
			}
		} else if (m->line_cut) {
			if (nl)
				m->line_cut = false;
		} else if (nl && m->line_len == 0 && n <= SCAN_MIME_LINE_MAX) {
			line_done(m, p, n); /* whole line in input */
		} else if (m->line_len + n <= SCAN_MIME_LINE_MAX) {
			memcpy(m->line + m->line_len, p, n);
			m->line_len += n;
			if (nl) {
				line_done(m, m->line, m->line_len);
				m->line_len = 0;
			}
		} else if (m->state == ST_LEAF) {
			/* Too long to be a delimiter: stream it as body. */
			if (m->eol_len)
				body_emit(m, m->eol, m->eol_len);
			m->eol_len = 0;
			body_emit(m, m->line, m->line_len);
			m->line_len = 0;
			size_t cl = nl ? strip_eol(p, n) : n;
			body_emit(m, p, cl);
			if (nl) {
				m->eol_len = n - cl;
				memcpy(m->eol, p + cl, m->eol_len);
			} else {
				m->line_cont = true;
			}
		} else {
			/* A header or skipped line past the limit: keep the
			 * first SCAN_MIME_LINE_MAX bytes, drop the rest. */
			size_t room = SCAN_MIME_LINE_MAX - m->line_len;
			memcpy(m->line + m->line_len, p, room);
			m->line_len += room;
			if (m->state == ST_HEADERS)
				m->stats.long_lines++;
			line_done(m, m->line, m->line_len);
			m->line_len = 0;
			m->line_cut = !nl;
		}
		p += n;
		len -= n;
	}
}

void scan_mime_finish(struct scan_mime *m)
{
	if (m->line_len && !m->line_cont) {
		line_done(m, m->line, m->line_len);
		m->line_len = 0;
	}
	m->line_cont = false;
	m->line_cut = false;
	if (m->state == ST_HEADERS)
		headers_done(m); /* headers only, no body */
	if (m->state == ST_LEAF)
		leaf_end(m);
	m->state = ST_SKIP;
	m->stack_n = 0;
}
