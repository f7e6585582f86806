/*
 * mgmt_dlv_route — parse and print delivery routes.  Pure string work with
 * no dependencies beyond libc, so that config validation can share it.
 */
#include "mgmt_dlv_route.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int
route_err(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (err_size > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/*
 * A host name (RFC 1035 §2.3.1 letters, digits, hyphens; labels of 1-63
 * octets, not starting or ending in a hyphen), a dotted IPv4 literal (which
 * is a valid name by those rules too), or an IPv6 literal (hex digits,
 * colons and dots for an embedded IPv4 tail).
 */
static bool host_valid(const char *h, size_t len)
{
	bool has_colon = memchr(h, ':', len) != NULL;
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	if (has_colon) {
		for (size_t i = 0; i < len; i++)
			if (!is_hex(h[i]) && h[i] != ':' && h[i] != '.')
				return false;
		return len >= 2;
	}
	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && h[len - 1] != '-';
}

/* "[host]" or "[host]:port" at s; fills host and port. */
static int parse_inet(const char *s, struct mgmt_dlv_route *r,
		      uint16_t default_port, char *err, size_t err_size)
{
	const char *close;
	size_t hlen;

	if (*s != '[')
		return route_err(err, err_size,
				 "expected [host] after the scheme, got \"%s\"",
				 s);
	close = strchr(s, ']');
	if (close == NULL)
		return route_err(err, err_size, "missing ']' after host");
	hlen = (size_t)(close - s - 1);
	if (!host_valid(s + 1, hlen))
		return route_err(err, err_size, "invalid host \"%.*s\"",
				 (int)hlen, s + 1);
	memcpy(r->host, s + 1, hlen);
	r->host[hlen] = '\0';
	r->port = default_port;
	s = close + 1;
	if (*s == '\0')
		return 0;
	if (*s != ':')
		return route_err(err, err_size, "unexpected \"%s\" after host",
				 s);
	s++;
	if (*s == '\0')
		return route_err(err, err_size, "empty port");
	unsigned long port = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return route_err(err, err_size, "invalid port \"%s\"",
					 s);
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > 65535)
			break;
	}
	if (port == 0 || port > 65535)
		return route_err(err, err_size, "port out of range: \"%s\"", s);
	r->port = (uint16_t)port;
	return 0;
}

static int parse_path(const char *s, char *out, size_t out_size,
		      const char *what, char *err, size_t err_size)
{
	size_t len = strlen(s);

	if (s[0] != '/')
		return route_err(err, err_size,
				 "%s path must be absolute: \"%s\"", what, s);
	if (len >= out_size)
		return route_err(err, err_size,
				 "%s path too long (%zu bytes, max %zu)", what,
				 len, out_size - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return route_err(err, err_size,
					 "control character in %s path", what);
	memcpy(out, s, len + 1);
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int mgmt_dlv_route_parse(const char *text, struct mgmt_dlv_route *r, char *err,
			 size_t err_size)
{
	if (err_size > 0)
		err[0] = '\0';
	memset(r, 0, sizeof(*r));
	if (text == NULL || text[0] == '\0')
		return route_err(err, err_size, "empty route");
	if (strcmp(text, "discard") == 0) {
		r->kind = MGMT_DLV_ROUTE_DISCARD;
		return 0;
	}
	if (has_prefix(text, "smtp:")) {
		r->kind = MGMT_DLV_ROUTE_SMTP;
		return parse_inet(text + 5, r, 25, err, err_size);
	}
	if (has_prefix(text, "lmtp:unix:")) {
		r->kind = MGMT_DLV_ROUTE_LMTP_UNIX;
		/* sun_path is 108 bytes including the NUL (unix(7)). */
		return parse_path(text + 10, r->path, 108, "unix socket", err,
				  err_size);
	}
	if (has_prefix(text, "lmtp:")) {
		r->kind = MGMT_DLV_ROUTE_LMTP_TCP;
		return parse_inet(text + 5, r, 24, err, err_size);
	}
	if (has_prefix(text, "maildir:")) {
		r->kind = MGMT_DLV_ROUTE_MAILDIR;
		return parse_path(text + 8, r->path, sizeof(r->path), "maildir",
				  err, err_size);
	}
	return route_err(err, err_size,
			 "unknown route \"%s\" (want smtp:[host]:port, "
			 "lmtp:unix:/path, lmtp:[host]:port, maildir:/path "
			 "or discard)",
			 text);
}

int mgmt_dlv_route_format(const struct mgmt_dlv_route *r, char *buf,
			  size_t size)
{
	int n;

	switch (r->kind) {
	case MGMT_DLV_ROUTE_SMTP:
	case MGMT_DLV_ROUTE_LMTP_TCP:
		n = snprintf(buf, size, "%s:[%s]:%u",
			     r->kind == MGMT_DLV_ROUTE_SMTP ? "smtp" : "lmtp",
			     r->host, (unsigned)r->port);
		break;
	case MGMT_DLV_ROUTE_LMTP_UNIX:
		n = snprintf(buf, size, "lmtp:unix:%s", r->path);
		break;
	case MGMT_DLV_ROUTE_MAILDIR:
		n = snprintf(buf, size, "maildir:%s", r->path);
		break;
	case MGMT_DLV_ROUTE_DISCARD:
		n = snprintf(buf, size, "discard");
		break;
	default:
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return n;
}

const char *mgmt_dlv_route_kind_name(enum mgmt_dlv_route_kind kind)
{
	switch (kind) {
	case MGMT_DLV_ROUTE_SMTP:
		return "smtp";
	case MGMT_DLV_ROUTE_LMTP_TCP:
		return "lmtp";
	case MGMT_DLV_ROUTE_LMTP_UNIX:
		return "lmtp-unix";
	case MGMT_DLV_ROUTE_MAILDIR:
		return "maildir";
	case MGMT_DLV_ROUTE_DISCARD:
		return "discard";
	}
	return "?";
}
