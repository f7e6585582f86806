/*
 * dp_proxy.c — PROXY protocol v1/v2 header parser (see dp_proxy.h).
 *
 * v1 (text): "PROXY" SP ("TCP4" | "TCP6" | "UNKNOWN") [SP src SP dst SP
 *   sport SP dport] CRLF, at most 107 bytes including the CRLF.  Addresses
 *   must parse with inet_pton for the named family; ports are 0..65535
 *   without leading zeros.  UNKNOWN may carry anything up to the CRLF.
 * v2 (binary): the 12-byte signature 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A,
 *   then ver_cmd (high nibble 2; low nibble 0 LOCAL, 1 PROXY), fam
 *   (0x11 TCP/IPv4, 0x21 TCP/IPv6, 0x00 UNSPEC; anything else is refused
 *   since this is an SMTP listener), a 16-bit big-endian length of what
 *   follows, then the addresses (v4: 4+4+2+2 bytes, v6: 16+16+2+2) and
 *   TLVs, which are skipped.
 * Anything else, from the first byte on, is -EINVAL: a listener that
 * expects PROXY never falls back to treating bytes as SMTP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dp_proxy.h"

static const uint8_t dp_proxy_sig2[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					  0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define DP_PROXY_V1_MAX 107

static int dp_proxy_port(const char *s, uint16_t *port)
{
	unsigned v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

static int dp_proxy_addr(int fam, const char *a, const char *p,
			 struct sockaddr_storage *ss)
{
	uint16_t port;

	memset(ss, 0, sizeof(*ss));
	if (dp_proxy_port(p, &port) < 0)
		return -EINVAL;
	if (fam == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return inet_pton(AF_INET, a, &sin->sin_addr) == 1 ? 0
								  : -EINVAL;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	return inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1 ? 0 : -EINVAL;
}

static int dp_proxy_v1(const uint8_t *buf, size_t len,
		       struct dp_proxy_result *out)
{
	char line[DP_PROXY_V1_MAX + 1];
	char *f[6], *save = NULL;
	size_t end;
	int fam, n = 0;

	for (end = 0; end + 1 < len && end + 2 <= DP_PROXY_V1_MAX; end++)
		if (buf[end] == '\r' && buf[end + 1] == '\n')
			break;
	if (end + 1 >= len)
		return len >= DP_PROXY_V1_MAX ? -EINVAL : 0;
	if (buf[end] != '\r' || buf[end + 1] != '\n')
		return -EINVAL;
	memcpy(line, buf, end);
	line[end] = '\0';
	if (memchr(line, '\0', end))
		return -EINVAL;
	for (char *t = strtok_r(line, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		if (n == 6)
			return -EINVAL;
		f[n++] = t;
	}
	/* Exactly one space between fields: rebuild and compare lengths. */
	if (n < 2 || strcmp(f[0], "PROXY") != 0)
		return -EINVAL;
	if (strcmp(f[1], "UNKNOWN") == 0) {
		out->local = true;
		return (int)(end + 2);
	}
	if (strcmp(f[1], "TCP4") == 0)
		fam = AF_INET;
	else if (strcmp(f[1], "TCP6") == 0)
		fam = AF_INET6;
	else
		return -EINVAL;
	if (n != 6)
		return -EINVAL;
	size_t want = 0;
	for (int i = 0; i < 6; i++)
		want += strlen(f[i]) + 1;
	if (want - 1 != end)
		return -EINVAL;
	if (dp_proxy_addr(fam, f[2], f[4], &out->src) < 0 ||
	    dp_proxy_addr(fam, f[3], f[5], &out->dst) < 0)
		return -EINVAL;
	out->local = false;
	return (int)(end + 2);
}

static int dp_proxy_v2(const uint8_t *buf, size_t len,
		       struct dp_proxy_result *out)
{
	size_t body, total;
	uint8_t cmd, fam;

	if (len < 16)
		return 0;
	if ((buf[12] >> 4) != 2)
		return -EINVAL;
	cmd = buf[12] & 0x0f;
	fam = buf[13];
	body = (size_t)buf[14] << 8 | buf[15];
	total = 16 + body;
	if (total > DP_PROXY_MAX || cmd > 1)
		return -EINVAL;
	if (len < total)
		return 0;
	memset(out, 0, sizeof(*out));
	if (cmd == 0 || fam == 0x00) {
		out->local = true;
		return (int)total;
	}
	if (fam == 0x11) {
		struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;

		if (body < 12)
			return -EINVAL;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, buf + 16, 4);
		memcpy(&d->sin_addr, buf + 20, 4);
		memcpy(&s->sin_port, buf + 24, 2);
		memcpy(&d->sin_port, buf + 26, 2);
	} else if (fam == 0x21) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;

		if (body < 36)
			return -EINVAL;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, buf + 16, 16);
		memcpy(&d->sin6_addr, buf + 32, 16);
		memcpy(&s->sin6_port, buf + 48, 2);
		memcpy(&d->sin6_port, buf + 50, 2);
	} else {
		return -EINVAL;
	}
	out->local = false;
	return (int)total;
}

int dp_proxy_parse(const uint8_t *buf, size_t len,
		   struct dp_proxy_result *out)
{
	size_t n = len < 12 ? len : 12;

	if (len == 0)
		return 0;
	if (memcmp(buf, dp_proxy_sig2, n) == 0)
		return len < 12 ? 0 : dp_proxy_v2(buf, len, out);
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) != 0)
		return -EINVAL;
	return len < 6 ? 0 : dp_proxy_v1(buf, len, out);
}
