/*
 * q_envelope — the SMTP envelope of one queued message (who connected,
 * what they said in HELO/MAIL/RCPT, with the DSN parameters of RFC 3461),
 * and its byte encoding inside a queue message record.
 *
 * The struct is plain data.  The ingest side fills one in (pointers into
 * its own session storage) and hands it to q_shard_msg_open(), which
 * encodes it into queue-owned memory at once; the caller keeps ownership.
 * Views returned by the store (q_store_get) point at an envelope the store
 * owns, valid until the next q_store_poll().
 *
 * Encoding and decoding are pure functions, safe in any thread.  The wire
 * layout is specified in q_envelope.c.
 */
#ifndef Q_ENVELOPE_H
#define Q_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

/* RFC 3461 §4.1 NOTIFY= values, as bits; NEVER excludes the others. */
#define Q_NOTIFY_SUCCESS 0x01
#define Q_NOTIFY_FAILURE 0x02
#define Q_NOTIFY_DELAY 0x04
#define Q_NOTIFY_NEVER 0x08

/* RFC 3461 §4.3 RET= */
#define Q_RET_NONE 0
#define Q_RET_FULL 1
#define Q_RET_HDRS 2

/* Envelope flags: BODY=8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531). */
#define Q_ENV_8BIT 0x01
#define Q_ENV_SMTPUTF8 0x02

/* Limits of the encoding; longer input makes encode fail with -E2BIG. */
#define Q_ENV_STR_MAX 65535u	/* any one string */
#define Q_ENV_RCPT_MAX 65535u

struct q_rcpt {
	char *addr;
	uint8_t notify;		/* Q_NOTIFY_* bits, 0 = not given */
	char *orcpt;		/* ORCPT= (RFC 3461 §4.2) or NULL */
};

struct q_envelope {
	char *client_addr;	/* printable address, "192.0.2.1" or "2001:db8::1" */
	uint16_t client_port;
	char *helo;
	char *proto;		/* "SMTP", "ESMTP", "ESMTPS", ... */
	char *mail_from;	/* "" = null reverse-path */
	uint8_t ret;		/* Q_RET_* */
	char *envid;		/* ENVID= or NULL */
	uint8_t flags;		/* Q_ENV_* */
	struct q_rcpt *rcpt;
	uint32_t rcpt_count;
	uint64_t received_wall_ns;
};

/* Bytes q_envelope_encode() needs for env, or -E2BIG. */
long q_envelope_encoded_len(const struct q_envelope *env);

/* Writes the encoding into buf (size bytes); returns its length, -E2BIG
 * if a field is over a limit, -ENOBUFS if size is too small. */
long q_envelope_encode(const struct q_envelope *env, void *buf, size_t size);

/*
 * Decodes len bytes.  On success *env is filled, *mem is one malloc()ed
 * block holding every string and the recipient array (free(*mem) releases
 * all of it; env itself is caller storage), and the number of bytes
 * consumed is returned.  -EBADMSG on malformed input, -ENOMEM.
 */
long q_envelope_decode(const void *buf, size_t len, struct q_envelope *env,
		       void **mem);

/* Validates an encoding without allocating; bytes consumed or -EBADMSG. */
long q_envelope_check(const void *buf, size_t len);

#endif
