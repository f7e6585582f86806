/*
 * dp_smtp_param — the ESMTP parameter list after a MAIL or RCPT path
 * (RFC 5321 §4.1.2 Mail-parameters / Rcpt-parameters) and the xtext
 * encoding of DSN values (RFC 3461 §4).
 *
 * Pure functions; any thread; results point into the input text.
 */
#ifndef DP_SMTP_PARAM_H
#define DP_SMTP_PARAM_H

#include <stdbool.h>
#include <stddef.h>

struct dp_smtp_param {
	const char *key; /* esmtp-keyword */
	size_t key_len;
	const char *value; /* esmtp-value; NULL when there is no "=" */
	size_t value_len;
};

/*
 * Parses the next parameter of s[*pos..len): one or more SP, then
 * esmtp-keyword ["=" esmtp-value] where keyword = (ALPHA / DIGIT)
 * *(ALPHA / DIGIT / "-") and value = 1*(%d33-60 / %d62-126), plus UTF-8
 * bytes (RFC 6531 §3.3; the caller decides whether they are allowed).
 * Returns 1 and advances *pos, 0 at the end (only spaces left), -EINVAL on
 * bad syntax.
 */
int dp_smtp_param_next(const char *s, size_t len, size_t *pos,
		       struct dp_smtp_param *out);

/* Case-insensitive keyword (or value) comparison with a NUL-ended name. */
bool dp_smtp_param_is(const char *s, size_t len, const char *name);

/*
 * xtext = *( xchar / hexchar ), xchar = %d33-126 except "+" and "=",
 * hexchar = "+" 2(DIGIT / "A"-"F").  Decodes into out with a NUL; decoded
 * bytes must be printable ASCII or space (%d32-126).  Returns the decoded
 * length, -EINVAL on bad syntax, -ENOSPC if out is too small.
 */
long dp_smtp_xtext_decode(const char *in, size_t len, char *out, size_t size);

#endif
