/*
 * mgmt_dlv_dsn — builds a delivery status notification (RFC 3464): a
 * multipart/report; report-type=delivery-status message (RFC 6522) with a
 * human-readable part, the message/delivery-status part (per-message and
 * per-recipient fields), and the original message or its headers (RET,
 * RFC 3461 §4.3), addressed from the null sender to the original
 * envelope sender.
 *
 * Pure: no I/O, no clock (the caller passes the time), so golden tests are
 * byte-exact.  Any thread.  The result is malloc()ed and owned by the
 * caller.
 *
 * Whether a DSN is sent at all (null sender, NOTIFY=NEVER, quarantine) is
 * decided by mgmt_dlv_dsn_wanted(); the builder only formats.
 */
#ifndef MGMT_DLV_DSN_H
#define MGMT_DLV_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mgmt_dlv_dsn_action {
	MGMT_DLV_DSN_FAILED = 0, /* RFC 3464 §2.3.3 "failed" */
	MGMT_DLV_DSN_DELAYED,	 /* "delayed" */
};

struct mgmt_dlv_dsn_rcpt {
	const char *addr;  /* Final-Recipient (rfc822) */
	const char *orcpt; /* ORCPT= value "type;xtext", or NULL */
	enum mgmt_dlv_dsn_action action;
	const char *status;	       /* "5.1.1" (RFC 3463) */
	const char *remote_mta;	       /* host name/address, or NULL */
	const char *diag;	       /* remote reply "550 5.1.1 ...", or our
					* own reason; NULL = none */
	bool diag_is_smtp;	       /* diag is an SMTP reply ("smtp;") vs.
					* our own text ("x-mxgate;") */
	uint64_t last_attempt_wall_ns; /* 0 = omit */
	uint64_t will_retry_until_wall_ns; /* delayed only; 0 = omit */
};

struct mgmt_dlv_dsn_msg {
	const char *reporting_mta; /* our host name */
	const char *mail_from;	   /* original sender: the DSN's To */
	const char *envid;	   /* ENVID= or NULL */
	uint8_t ret;		   /* Q_RET_* value: 0 none, 1 full, 2 hdrs */
	const char *client_helo;   /* Received-From-MTA, or NULL */
	const char *queue_id;	   /* for the human part, or NULL */
	uint64_t arrival_wall_ns;
	uint64_t now_wall_ns; /* Date: and Message-ID: */
	const uint8_t *body;  /* original message, CRLF lines */
	size_t body_len;
	size_t full_max; /* bodies larger than this are returned
			  * as headers only; 0 = no limit */
	const struct mgmt_dlv_dsn_rcpt *rcpt;
	unsigned rcpt_count;
};

/*
 * Builds the DSN into a malloc()ed buffer (*out, *out_len; CRLF lines).
 * 0, -EINVAL (no recipients, null sender), -ENOMEM.
 */
int mgmt_dlv_dsn_build(const struct mgmt_dlv_dsn_msg *m, uint8_t **out,
		       size_t *out_len);

/*
 * RFC 3461 §4.1 / RFC 3464: whether a recipient with these NOTIFY bits
 * (Q_NOTIFY_*) asks for a DSN of this action.  No NOTIFY given means
 * FAILURE (and DELAY at the MTA's discretion: we honour delay_default).
 */
bool mgmt_dlv_dsn_notify_wants(uint8_t notify, enum mgmt_dlv_dsn_action action,
			       bool delay_default);

/* Decodes an RFC 3461 §4 xtext value ("a+2Bb" -> "a+b") into buf; returns
 * the length or -EINVAL on a bad "+XX" escape (buf truncated at size-1). */
int mgmt_dlv_xtext_decode(const char *in, char *buf, size_t size);

#endif
