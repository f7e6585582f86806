/*
 * dp_smtp_param — ESMTP parameter lists and xtext (see dp_smtp_param.h).
 */
#include "dp_smtp_param.h"

#include <errno.h>
#include <stdint.h>
#include <strings.h>

#include "mx_hex.h"

static bool is_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

int dp_smtp_param_next(const char *s, size_t len, size_t *pos,
		       struct dp_smtp_param *out)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = *pos, start;

	if (i < len && p[i] != ' ')
		return -EINVAL;
	while (i < len && p[i] == ' ')
		i++;
	if (i == len) {
		*pos = i;
		return 0;
	}
	start = i;
	if (!is_alnum(p[i]))
		return -EINVAL;
	while (i < len && (is_alnum(p[i]) || p[i] == '-'))
		i++;
	out->key = s + start;
	out->key_len = i - start;
	out->value = NULL;
	out->value_len = 0;
	if (i < len && p[i] == '=') {
		start = ++i;
		while (i < len && p[i] != ' ') {
			if (p[i] < 33 || p[i] == '=' || p[i] == 127)
				return -EINVAL;
			i++;
		}
		if (i == start)
			return -EINVAL;
		out->value = s + start;
		out->value_len = i - start;
	}
	if (i < len && p[i] != ' ')
		return -EINVAL;
	*pos = i;
	return 1;
}

bool dp_smtp_param_is(const char *s, size_t len, const char *name)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char a = s[i], b = name[i];

		if (b == '\0')
			return false;
		if (a >= 'a' && a <= 'z')
			a = (char)(a - 32);
		if (b >= 'a' && b <= 'z')
			b = (char)(b - 32);
		if (a != b)
			return false;
	}
	return name[i] == '\0';
}

long dp_smtp_xtext_decode(const char *in, size_t len, char *out, size_t size)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (c == '+') {
			int hi, lo;

			if (len - i < 3)
				return -EINVAL;
			hi = mx_hexval_upper(p[i + 1]);
			lo = mx_hexval_upper(p[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (uint8_t)(hi * 16 + lo);
			i += 2;
			if (c < 32 || c > 126)
				return -EINVAL;
		} else if (c < 33 || c > 126 || c == '=') {
			return -EINVAL;
		}
		if (n + 1 >= size)
			return -ENOSPC;
		out[n++] = (char)c;
	}
	if (size == 0)
		return -ENOSPC;
	out[n] = '\0';
	return (long)n;
}
