/*
 * dp_smtp_addr — RFC 5321 §4.1.2 path syntax (see dp_smtp_addr.h).
 */
#include "dp_smtp_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

bool dp_smtp_utf8_valid(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* atext of RFC 5322 §3.2.3, which RFC 5321 §4.1.2 uses for Atom. */
static bool is_atext(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool is_letdig(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

struct cursor {
	const uint8_t *p;
	size_t i, len;
	bool utf8;
	bool non_ascii;
};

static int peek(const struct cursor *c)
{
	return c->i < c->len ? c->p[c->i] : -1;
}

/* A non-ASCII byte is allowed only under SMTPUTF8 (RFC 6531 §3.3). */
static int high_byte(struct cursor *c)
{
	if (!c->utf8)
		return -EILSEQ;
	c->non_ascii = true;
	c->i++;
	return 0;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]. */
static int parse_domain(struct cursor *c)
{
	for (;;) {
		size_t start = c->i;
		int last = -1;

		for (int ch; (ch = peek(c)) >= 0;) {
			if (is_letdig((uint8_t)ch) ||
			    (ch == '-' && c->i > start)) {
				c->i++;
			} else if (ch >= 0x80) {
				int rc = high_byte(c);

				if (rc < 0)
					return rc;
			} else {
				break;
			}
			last = ch;
		}
		if (c->i == start || last == '-')
			return -EINVAL;
		if (peek(c) != '.')
			return 0;
		c->i++;
	}
}

/* address-literal, RFC 5321 §4.1.3: IPv4, "IPv6:" or a tagged literal. */
static int parse_literal(struct cursor *c)
{
	size_t start = ++c->i; /* past '[' */
	char text[64];
	size_t n;

	while (c->i < c->len && c->p[c->i] != ']') {
		uint8_t ch = c->p[c->i];

		/* dcontent = %d33-90 / %d94-126 */
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return -EINVAL;
		c->i++;
	}
	if (c->i >= c->len)
		return -EINVAL;
	n = c->i - start;
	c->i++; /* ']' */
	if (n == 0 || n >= sizeof(text))
		return -EINVAL;
	memcpy(text, c->p + start, n);
	text[n] = '\0';
	if (n > 5 && strncasecmp(text, "IPv6:", 5) == 0) {
		struct in6_addr a6;

		return inet_pton(AF_INET6, text + 5, &a6) == 1 ? 0 : -EINVAL;
	}
	if (text[0] >= '0' && text[0] <= '9') {
		struct in_addr a4;

		return inet_pton(AF_INET, text, &a4) == 1 ? 0 : -EINVAL;
	}
	/* General-address-literal: Standardized-tag ":" 1*dcontent. */
	{
		const char *colon = strchr(text, ':');
		size_t k;

		if (colon == NULL || colon == text || colon[1] == '\0')
			return -EINVAL;
		for (k = 0; text + k < colon; k++)
			if (!is_letdig((uint8_t)text[k]) && text[k] != '-')
				return -EINVAL;
		if (text[k - 1] == '-')
			return -EINVAL;
	}
	return 0;
}

static int parse_quoted(struct cursor *c)
{
	c->i++; /* opening DQUOTE */
	for (int ch; (ch = peek(c)) >= 0;) {
		if (ch == '"') {
			c->i++;
			return 0;
		}
		if (ch == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			c->i++;
			ch = peek(c);
			if (ch < 32 || ch > 126)
				return -EINVAL;
			c->i++;
		} else if (ch >= 0x80) {
			int rc = high_byte(c);

			if (rc < 0)
				return rc;
		} else if (ch >= 32 && ch <= 126) {
			/* qtextSMTP = %d32-33 / %d35-91 / %d93-126 */
			c->i++;
		} else {
			return -EINVAL;
		}
	}
	return -EINVAL;
}

/* Dot-string = Atom *("." Atom) */
static int parse_dot_string(struct cursor *c)
{
	for (;;) {
		size_t start = c->i;

		for (int ch; (ch = peek(c)) >= 0;) {
			if (is_atext((uint8_t)ch)) {
				c->i++;
			} else if (ch >= 0x80) {
				int rc = high_byte(c);

				if (rc < 0)
					return rc;
			} else {
				break;
			}
		}
		if (c->i == start)
			return -EINVAL;
		if (peek(c) != '.')
			return 0;
		c->i++;
	}
}

/* A-d-l = At-domain *( "," At-domain ) ":" — obsolete, skipped. */
static int skip_source_route(struct cursor *c)
{
	for (;;) {
		int rc;

		if (peek(c) != '@')
			return -EINVAL;
		c->i++;
		rc = parse_domain(c);
		if (rc < 0)
			return rc;
		if (peek(c) == ':') {
			c->i++;
			return 0;
		}
		if (peek(c) != ',')
			return -EINVAL;
		c->i++;
	}
}

long dp_smtp_addr_parse(const char *s, size_t len, unsigned flags,
			struct dp_smtp_addr *out)
{
	struct cursor c = {(const uint8_t *)s, 0, len,
			   (flags & DP_SMTP_ADDR_UTF8) != 0, false};
	size_t local_start, dom_start;
	int rc;

	memset(out, 0, sizeof(*out));
	if (peek(&c) != '<')
		return -EINVAL;
	c.i++;
	if (peek(&c) == '>') {
		if (!(flags & DP_SMTP_ADDR_NULL_OK))
			return -EINVAL;
		out->mbox = s + 1;
		out->is_null = true;
		return 2;
	}
	if ((flags & DP_SMTP_ADDR_POSTMASTER_OK) && len - c.i >= 11 &&
	    strncasecmp(s + c.i, "postmaster>", 11) == 0) {
		out->mbox = out->local = s + c.i;
		out->mbox_len = out->local_len = 10;
		out->is_postmaster = true;
		return (long)(c.i + 11);
	}
	if (peek(&c) == '@') {
		rc = skip_source_route(&c);
		if (rc < 0)
			return rc;
	}
	local_start = c.i;
	rc = peek(&c) == '"' ? parse_quoted(&c) : parse_dot_string(&c);
	if (rc < 0)
		return rc;
	out->local = s + local_start;
	out->local_len = c.i - local_start;
	if (peek(&c) != '@')
		return -EINVAL;
	c.i++;
	dom_start = c.i;
	rc = peek(&c) == '[' ? parse_literal(&c) : parse_domain(&c);
	if (rc < 0)
		return rc;
	out->domain = s + dom_start;
	out->domain_len = c.i - dom_start;
	if (peek(&c) != '>')
		return -EINVAL;
	out->mbox = out->local;
	out->mbox_len = c.i - local_start;
	c.i++;
	if (out->local_len > DP_SMTP_LOCAL_MAX ||
	    out->domain_len > DP_SMTP_DOMAIN_MAX ||
	    out->mbox_len + 2 > DP_SMTP_PATH_MAX)
		return -ENAMETOOLONG;
	if (c.non_ascii) {
		if (!dp_smtp_utf8_valid(out->mbox, out->mbox_len))
			return -EINVAL;
		out->non_ascii = true;
	}
	return (long)c.i;
}

long dp_smtp_addr_local_decode(const struct dp_smtp_addr *a, char *buf,
			       size_t size)
{
	size_t n = 0;
	size_t i = 0, end = a->local_len;

	if (end >= 2 && a->local[0] == '"') {
		i = 1;
		end--;
	}
	for (; i < end; i++) {
		char ch = a->local[i];

		if (a->local[0] == '"' && ch == '\\' && i + 1 < end)
			ch = a->local[++i];
		if (n + 1 >= size)
			return -ENOSPC;
		buf[n++] = ch;
	}
	if (size == 0)
		return -ENOSPC;
	buf[n] = '\0';
	return (long)n;
}
