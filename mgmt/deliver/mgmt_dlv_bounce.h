/*
 * mgmt_dlv_bounce — turns failed recipients of a queued message into a
 * bounce ready for the queue: the DSN bytes (mgmt_dlv_dsn) and the
 * envelope to queue them under (null sender, RFC 5321 §4.5.5; the original
 * sender as the only recipient).  It applies the rules for whether a
 * bounce is sent at all:
 *   - never to the null sender (RFC 5321 §4.5.5: no bounce loops);
 *   - never for quarantined messages (malware is not sent back);
 *   - only for recipients whose NOTIFY asks for it (RFC 3461 §4.1; no
 *     NOTIFY = FAILURE, plus DELAY: delay warnings are built only when the
 *     operator enabled them).
 *
 * The daemon uses this for bounces it makes itself (an operator deleting
 * a message with "bounce", say); the delivery engine uses it after a
 * round.  Pure apart from malloc; any thread.
 */
#ifndef MGMT_DLV_BOUNCE_H
#define MGMT_DLV_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgmt_dlv_dsn.h"
#include "q_envelope.h"
#include "q_store.h"

struct mgmt_dlv_bounce_rcpt {
	unsigned idx;	    /* into v->env->rcpt */
	const char *status; /* RFC 3463 code */
	const char *diag;   /* reply or reason, or NULL */
	bool diag_is_smtp;
	const char *remote_mta;		   /* or NULL */
	uint64_t last_attempt_wall_ns;	   /* 0 = omit */
	uint64_t will_retry_until_wall_ns; /* delayed only */
};

struct mgmt_dlv_bounce {
	struct q_envelope env; /* points into this struct */
	struct q_rcpt rcpt;
	char *to;      /* the original sender */
	uint8_t *body; /* the DSN, CRLF lines */
	size_t body_len;
};

/*
 * Builds the bounce of v for rcpts (those not asking for this action are
 * left out).  0 and *out filled (free with mgmt_dlv_bounce_free), -EPERM
 * when no bounce is due (null sender, quarantine, nobody asked), -EINVAL,
 * -ENOMEM.
 */
int mgmt_dlv_bounce_build(const char *reporting_mta, const struct q_msg_view *v,
			  const struct mgmt_dlv_bounce_rcpt *rcpts, unsigned n,
			  enum mgmt_dlv_dsn_action action, uint64_t now_wall_ns,
			  size_t full_max, struct mgmt_dlv_bounce *out);

void mgmt_dlv_bounce_free(struct mgmt_dlv_bounce *b); /* accepts NULL */

#endif
