/*
 * mgmt_dlv_dsn — formats delivery status notifications (RFC 3464, with the
 * multipart/report container of RFC 6522 and the DSN extension fields of
 * RFC 3461).  Layout of what we build:
 *
 *   headers (From MAILER-DAEMON, To sender, Subject, Date, Message-ID,
 *            Auto-Submitted: auto-replied (RFC 3834 §5), MIME)
 *   part 1  text/plain: what happened, one line per recipient
 *   part 2  message/delivery-status: per-message fields, then one block
 *           per recipient (RFC 3464 §2.2, §2.3)
 *   part 3  message/rfc822 (RET=FULL or unspecified, and small enough) or
 *           text/rfc822-headers (RET=HDRS, delay warnings, large bodies)
 */
#include "mgmt_dlv_dsn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt_dlv_sbuf.h"
#include "mx_hex.h"
#include "mx_time.h"

#define DSN_NOTIFY_SUCCESS 0x01 /* same bits as Q_NOTIFY_* */
#define DSN_NOTIFY_FAILURE 0x02
#define DSN_NOTIFY_DELAY 0x04
#define DSN_NOTIFY_NEVER 0x08
#define DSN_RET_HDRS 2
#define DSN_VALUE_MAX 900 /* keeps every line under 998 octets */

bool mgmt_dlv_dsn_notify_wants(uint8_t notify, enum mgmt_dlv_dsn_action action,
			       bool delay_default)
{
	if (notify & DSN_NOTIFY_NEVER)
		return false;
	if (notify == 0)
		return action == MGMT_DLV_DSN_FAILED || delay_default;
	if (action == MGMT_DLV_DSN_FAILED)
		return (notify & DSN_NOTIFY_FAILURE) != 0;
	return (notify & DSN_NOTIFY_DELAY) != 0;
}

int mgmt_dlv_xtext_decode(const char *in, char *buf, size_t size)
{
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; in[i]; i++) {
		char c = in[i];

		if (c == '+') {
			int hi = in[i + 1] ? mx_hexval_upper(in[i + 1]) : -1;
			int lo = hi >= 0 && in[i + 2] ? mx_hexval_upper(in[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				rc = -EINVAL;
				break;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	if (size > 0)
		buf[n] = '\0';
	return rc < 0 ? rc : (int)n;
}

/* Length of the header section including the empty line, or the whole
 * body if it has no empty line. */
static size_t header_len(const uint8_t *b, size_t len)
{
	if (len >= 2 && b[0] == '\r' && b[1] == '\n')
		return 2;
	for (size_t i = 0; i + 3 < len; i++)
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' &&
		    b[i + 3] == '\n')
			return i + 4;
	return len;
}

static bool has_8bit(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] & 0x80)
			return true;
	return false;
}

static void put_date(struct mgmt_dlv_sbuf *b, const char *field,
		     uint64_t wall_ns)
{
	char d[40];

	if (wall_ns == 0 || mx_time_fmt_rfc5322(d, sizeof(d), wall_ns) == 0)
		return;
	mgmt_dlv_sbuf_printf(b, "%s: %s\r\n", field, d);
}

static void put_field(struct mgmt_dlv_sbuf *b, const char *field,
		      const char *prefix, const char *value)
{
	mgmt_dlv_sbuf_printf(b, "%s: %s", field, prefix);
	mgmt_dlv_sbuf_put_clean(b, value, DSN_VALUE_MAX);
	mgmt_dlv_sbuf_puts(b, "\r\n");
}

static void put_human(struct mgmt_dlv_sbuf *b, const struct mgmt_dlv_dsn_msg *m,
		      bool delayed)
{
	mgmt_dlv_sbuf_puts(b, "Content-Type: text/plain; charset=us-ascii\r\n"
			      "Content-Description: Notification\r\n\r\n");
	mgmt_dlv_sbuf_puts(b, "This is the mail system at host ");
	mgmt_dlv_sbuf_put_clean(b, m->reporting_mta, 255);
	mgmt_dlv_sbuf_puts(b, ".\r\n\r\n");
	if (delayed)
		mgmt_dlv_sbuf_puts(
		    b, "Your message could not be delivered yet to the "
		       "recipients below.\r\nThe mail system will keep "
		       "trying; you do not need to send it again.\r\n");
	else
		mgmt_dlv_sbuf_puts(
		    b, "Your message could not be delivered to the "
		       "recipients below.\r\nThe mail system has given up; "
		       "its headers or the whole message follow.\r\n");
	if (m->queue_id) {
		mgmt_dlv_sbuf_puts(b, "Queue id: ");
		mgmt_dlv_sbuf_put_clean(b, m->queue_id, 64);
		mgmt_dlv_sbuf_puts(b, "\r\n");
	}
	mgmt_dlv_sbuf_puts(b, "\r\n");
	for (unsigned i = 0; i < m->rcpt_count; i++) {
		const struct mgmt_dlv_dsn_rcpt *r = &m->rcpt[i];

		mgmt_dlv_sbuf_puts(b, "<");
		mgmt_dlv_sbuf_put_clean(b, r->addr, 320);
		mgmt_dlv_sbuf_puts(b, ">: ");
		mgmt_dlv_sbuf_put_clean(b, r->diag ? r->diag : r->status,
					DSN_VALUE_MAX);
		mgmt_dlv_sbuf_puts(b, "\r\n");
	}
	mgmt_dlv_sbuf_puts(b, "\r\n");
}

static void put_orcpt(struct mgmt_dlv_sbuf *b, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	char dec[1024];

	/* RFC 3461 §4.2: "addr-type ; xtext"; shown decoded (RFC 3464
	 * §2.3.1).  A malformed value is left out rather than guessed. */
	if (semi == NULL || semi == orcpt ||
	    mgmt_dlv_xtext_decode(semi + 1, dec, sizeof(dec)) < 0)
		return;
	mgmt_dlv_sbuf_puts(b, "Original-Recipient: ");
	mgmt_dlv_sbuf_put_clean(b, orcpt, (size_t)(semi - orcpt));
	mgmt_dlv_sbuf_puts(b, "; ");
	mgmt_dlv_sbuf_put_clean(b, dec, DSN_VALUE_MAX);
	mgmt_dlv_sbuf_puts(b, "\r\n");
}

static void put_status(struct mgmt_dlv_sbuf *b,
		       const struct mgmt_dlv_dsn_msg *m)
{
	char dec[1024];

	mgmt_dlv_sbuf_puts(b, "Content-Type: message/delivery-status\r\n"
			      "Content-Description: Delivery report\r\n\r\n");
	/* RFC 3464 §2.2: per-message fields. */
	put_field(b, "Reporting-MTA", "dns; ", m->reporting_mta);
	if (m->envid && mgmt_dlv_xtext_decode(m->envid, dec, sizeof(dec)) >= 0)
		put_field(b, "Original-Envelope-Id", "", dec);
	if (m->client_helo && m->client_helo[0])
		put_field(b, "Received-From-MTA", "dns; ", m->client_helo);
	put_date(b, "Arrival-Date", m->arrival_wall_ns);
	/* RFC 3464 §2.3: one block per recipient, each after a blank line. */
	for (unsigned i = 0; i < m->rcpt_count; i++) {
		const struct mgmt_dlv_dsn_rcpt *r = &m->rcpt[i];

		mgmt_dlv_sbuf_puts(b, "\r\n");
		if (r->orcpt)
			put_orcpt(b, r->orcpt);
		put_field(b, "Final-Recipient", "rfc822; ", r->addr);
		put_field(b, "Action", "",
			  r->action == MGMT_DLV_DSN_FAILED ? "failed"
							   : "delayed");
		put_field(b, "Status", "", r->status);
		if (r->remote_mta)
			put_field(b, "Remote-MTA", "dns; ", r->remote_mta);
		if (r->diag)
			put_field(b, "Diagnostic-Code",
				  r->diag_is_smtp ? "smtp; " : "x-mxgate; ",
				  r->diag);
		put_date(b, "Last-Attempt-Date", r->last_attempt_wall_ns);
		if (r->action == MGMT_DLV_DSN_DELAYED)
			put_date(b, "Will-Retry-Until",
				 r->will_retry_until_wall_ns);
	}
	mgmt_dlv_sbuf_puts(b, "\r\n");
}

int mgmt_dlv_dsn_build(const struct mgmt_dlv_dsn_msg *m, uint8_t **out,
		       size_t *out_len)
{
	struct mgmt_dlv_sbuf b = {0};
	char boundary[96], date[40];
	bool delayed = true, headers_only, eight;
	size_t ret_len;

	if (m->rcpt_count == 0 || m->mail_from == NULL || !m->mail_from[0])
		return -EINVAL;
	for (unsigned i = 0; i < m->rcpt_count; i++)
		if (m->rcpt[i].action == MGMT_DLV_DSN_FAILED)
			delayed = false;
	/* RFC 3461 §4.3: RET=HDRS asks for headers only; we also send only
	 * headers for warnings and for bodies over the configured size. */
	headers_only = m->ret == DSN_RET_HDRS || delayed ||
		       (m->full_max > 0 && m->body_len > m->full_max);
	ret_len = headers_only ? header_len(m->body, m->body_len) : m->body_len;
	eight = has_8bit(m->body, ret_len);
	snprintf(boundary, sizeof(boundary), "%016llx.%s/%s",
		 (unsigned long long)m->now_wall_ns,
		 m->queue_id ? m->queue_id : "0", "mxgate");
	if (mx_time_fmt_rfc5322(date, sizeof(date), m->now_wall_ns) == 0)
		return -EINVAL;

	mgmt_dlv_sbuf_puts(&b, "From: Mail Delivery System <MAILER-DAEMON@");
	mgmt_dlv_sbuf_put_clean(&b, m->reporting_mta, 255);
	mgmt_dlv_sbuf_puts(&b, ">\r\nTo: <");
	mgmt_dlv_sbuf_put_clean(&b, m->mail_from, 320);
	mgmt_dlv_sbuf_printf(&b, ">\r\nSubject: %s\r\n",
			     delayed ? "Delayed Mail (still being retried)"
				     : "Undelivered Mail Returned to Sender");
	mgmt_dlv_sbuf_printf(&b, "Date: %s\r\n", date);
	mgmt_dlv_sbuf_printf(&b, "Message-ID: <%016llx.%s@",
			     (unsigned long long)m->now_wall_ns,
			     m->queue_id ? m->queue_id : "dsn");
	mgmt_dlv_sbuf_put_clean(&b, m->reporting_mta, 255);
	mgmt_dlv_sbuf_puts(&b, ">\r\nAuto-Submitted: auto-replied\r\n"
			       "MIME-Version: 1.0\r\n");
	mgmt_dlv_sbuf_printf(&b,
			     "Content-Type: multipart/report; "
			     "report-type=delivery-status;\r\n"
			     "\tboundary=\"%s\"\r\n",
			     boundary);
	if (eight)
		mgmt_dlv_sbuf_puts(&b, "Content-Transfer-Encoding: 8bit\r\n");
	mgmt_dlv_sbuf_puts(&b, "\r\nThis is a MIME-encapsulated message.\r\n");

	mgmt_dlv_sbuf_printf(&b, "\r\n--%s\r\n", boundary);
	put_human(&b, m, delayed);
	mgmt_dlv_sbuf_printf(&b, "--%s\r\n", boundary);
	put_status(&b, m);
	mgmt_dlv_sbuf_printf(&b, "--%s\r\n", boundary);
	mgmt_dlv_sbuf_printf(&b, "Content-Type: %s\r\n",
			     headers_only ? "text/rfc822-headers"
					  : "message/rfc822");
	mgmt_dlv_sbuf_printf(&b, "Content-Description: %s\r\n",
			     headers_only ? "Headers of the original message"
					  : "Undelivered Message");
	if (eight)
		mgmt_dlv_sbuf_puts(&b, "Content-Transfer-Encoding: 8bit\r\n");
	mgmt_dlv_sbuf_puts(&b, "\r\n");
	mgmt_dlv_sbuf_append(&b, m->body, ret_len);
	if (ret_len >= 2 &&
	    !(m->body[ret_len - 2] == '\r' && m->body[ret_len - 1] == '\n'))
		mgmt_dlv_sbuf_puts(&b, "\r\n");
	mgmt_dlv_sbuf_printf(&b, "\r\n--%s--\r\n", boundary);

	if (b.failed) {
		mgmt_dlv_sbuf_free(&b);
		return -ENOMEM;
	}
	*out = b.data;
	*out_len = b.len;
	return 0;
}
