/*
 * mx_hex — the value of one hexadecimal digit, for the parsers that meet
 * them (config escapes, xtext, quoted-printable, RFC 2047/2231).  Header
 * only, no state: any thread.
 */
#ifndef MX_HEX_H
#define MX_HEX_H

/* 0-15 for [0-9a-fA-F], else -1. */
static inline int mx_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 0-15 for [0-9A-F] only, else -1: xtext (RFC 3461 §4) allows no
 * lower-case hex. */
static inline int mx_hexval_upper(int c)
{
	return c >= 'a' && c <= 'f' ? -1 : mx_hexval(c);
}

#endif
