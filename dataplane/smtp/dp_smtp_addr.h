/*
 * dp_smtp_addr — the envelope address parser: Reverse-path / Forward-path
 * of RFC 5321 §4.1.2, with quoted local parts, address literals (§4.1.3),
 * source routes (parsed and dropped, §4.1.2 / Appendix C), the null sender
 * <> and <Postmaster> (§4.5.1), the length limits of §4.5.3.1.1-3 and
 * UTF-8 mailboxes when SMTPUTF8 is in force (RFC 6531 §3.3).
 *
 * Pure functions over caller memory; any thread.  Results point into the
 * input text.
 */
#ifndef DP_SMTP_ADDR_H
#define DP_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define DP_SMTP_ADDR_NULL_OK 1u	      /* "<>" accepted (MAIL FROM) */
#define DP_SMTP_ADDR_POSTMASTER_OK 2u /* "<Postmaster>" accepted (RCPT) */
#define DP_SMTP_ADDR_UTF8 4u	      /* UTF-8 allowed in the mailbox */

#define DP_SMTP_LOCAL_MAX 64   /* RFC 5321 §4.5.3.1.1 */
#define DP_SMTP_DOMAIN_MAX 255 /* RFC 5321 §4.5.3.1.2 */
#define DP_SMTP_PATH_MAX 256   /* RFC 5321 §4.5.3.1.3, brackets included */

struct dp_smtp_addr {
	const char *mbox;  /* mailbox without <> and source route */
	size_t mbox_len;   /* 0 for <> */
	const char *local; /* local part as written (quotes included) */
	size_t local_len;
	const char *domain; /* domain or [address-literal]; 0 len if none */
	size_t domain_len;
	bool is_null;	    /* <> */
	bool is_postmaster; /* <Postmaster> without a domain */
	bool non_ascii;	    /* has bytes >= 0x80 (valid UTF-8) */
};

/*
 * Parses a path at the start of s (s[0] must be '<').  Returns the bytes
 * consumed (through the '>'), or -EINVAL (syntax, including malformed
 * UTF-8), -ENAMETOOLONG (a length limit), -EILSEQ (non-ASCII without
 * DP_SMTP_ADDR_UTF8).
 */
long dp_smtp_addr_parse(const char *s, size_t len, unsigned flags,
			struct dp_smtp_addr *out);

/*
 * Writes the local part with quoting removed (quoted-pairs unescaped) and
 * a NUL into buf.  Returns its length, or -ENOSPC if buf is too small.
 */
long dp_smtp_addr_local_decode(const struct dp_smtp_addr *a, char *buf,
			       size_t size);

/* true if s[0..len) is well-formed UTF-8 (RFC 3629), no overlongs or
 * surrogates. */
bool dp_smtp_utf8_valid(const char *s, size_t len);

#endif
