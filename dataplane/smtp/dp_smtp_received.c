/*
 * dp_smtp_received — the Received: trace header the engine prepends to
 * every message (RFC 5321 §4.4, RFC 5322 §3.6.7):
 *
 *   Received: from HELO (NAME [ADDR])
 *   	by HOSTNAME (mxgate) with PROTO id ID
 *   	for <RCPT>; DATE
 *
 * NAME is the verified client name or "unknown", ADDR an address literal
 * ("192.0.2.1", "IPv6:2001:db8::1"); PROTO is SMTP (HELO),
 * ESMTP (EHLO) or UTF8SMTP (EHLO + SMTPUTF8, RFC 6531 §3.7.3); the "for"
 * clause only names a single recipient (several would disclose the Bcc
 * list).  DATE is RFC 5322 §3.3 in UTC.
 */
#include <stdio.h>
#include <string.h>

#include "dp_smtp_impl.h"
#include "mx_time.h"

size_t dp_smtp_received_fmt(const struct dp_smtp_session *s, char *buf,
			    size_t size, uint64_t wall_ns)
{
	const struct dp_smtp_txn *t = &s->txn;
	const char *proto = !s->esmtp	  ? "SMTP"
			    : t->smtputf8 ? "UTF8SMTP"
					  : "ESMTP";
	/* RFC 5321 §4.1.3: an IPv6 address literal carries the tag. */
	const char *tag = strchr(s->client_addr, ':') ? "IPv6:" : "";
	char date[64];
	int n;

	if (mx_time_fmt_rfc5322(date, sizeof(date), wall_ns) == 0)
		return 0;
	if (t->rcpt_count == 1)
		n = snprintf(buf, size,
			     "Received: from %s (%s [%s%s])\r\n"
			     "\tby %s (mxgate) with %s id %016llx\r\n"
			     "\tfor <%s>; %s\r\n",
			     s->helo, s->client_name, tag, s->client_addr,
			     s->conf->hostname, proto,
			     (unsigned long long)t->id, s->rcpt[0].addr, date);
	else
		n = snprintf(buf, size,
			     "Received: from %s (%s [%s%s])\r\n"
			     "\tby %s (mxgate) with %s id %016llx;\r\n"
			     "\t%s\r\n",
			     s->helo, s->client_name, tag, s->client_addr,
			     s->conf->hostname, proto,
			     (unsigned long long)t->id, date);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}
