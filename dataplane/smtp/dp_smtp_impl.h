/*
 * dp_smtp_impl — the session layout and the functions the engine's files
 * share.  Private to dataplane/smtp; the backends see only dp_smtp.h.
 *
 * A session is one struct followed, in the same caller memory, by the
 * command line buffer, the HELO buffer, the output buffer, the recipient
 * table and the envelope string arena (dp_smtp_session.c lays them out).
 * The session (per connection) and the transaction (per message, reset by
 * RSET, EHLO/HELO, a finished message) are separate structs.
 */
#ifndef DP_SMTP_IMPL_H
#define DP_SMTP_IMPL_H

#include "dp_smtp.h"
#include "dp_smtp_line.h"
#include "mx_log.h"

/* Where the dialogue is (RFC 5321 §4.1.4 ordering). */
enum dp_smtp_state {
	DP_SMTP_ST_INIT, /* no EHLO/HELO yet */
	DP_SMTP_ST_HELO, /* greeted, no transaction */
	DP_SMTP_ST_MAIL, /* MAIL accepted, no recipient yet */
	DP_SMTP_ST_RCPT, /* at least one recipient */
	DP_SMTP_ST_BDAT, /* BDAT chunks under way (RFC 3030) */
	DP_SMTP_ST__COUNT
};

/* What the input bytes are. */
enum dp_smtp_mode {
	DP_SMTP_MODE_CMD,   /* command lines */
	DP_SMTP_MODE_DATA,  /* DATA text up to <CRLF>.<CRLF> */
	DP_SMTP_MODE_CHUNK, /* BDAT chunk bytes */
};

/* Why the message in progress will be refused, lowest priority first:
 * the highest one set decides the reply at the end. */
/* Bytes of message text that count as progress against the data timeout. */
#define DP_SMTP_PROGRESS_MIN 512

#define DP_SMTP_REPLY_AGAIN "451 4.7.1 Try again later"

enum dp_smtp_fail {
	DP_SMTP_FAIL_NONE,
	DP_SMTP_FAIL_HOST_TEMP,	 /* 451 4.3.0 */
	DP_SMTP_FAIL_HOST_AGAIN, /* 451 4.7.1: policy deferral (rate, no scanner) */
	DP_SMTP_FAIL_HOST_NOSPC, /* 452 4.3.1 */
	DP_SMTP_FAIL_LONG_LINE,	 /* 500 5.5.2 */
	DP_SMTP_FAIL_SIZE,	 /* 552 5.3.4 */
	DP_SMTP_FAIL_NUL,	 /* 554 5.6.0 */
	DP_SMTP_FAIL_BARE_NL,	 /* 554 5.6.0 */
};

/* DATA text scanner states (dp_smtp_data.c). */
enum dp_smtp_data_st {
	DP_SMTP_D_BOL,	 /* at the start of a line */
	DP_SMTP_D_MID,	 /* inside a line */
	DP_SMTP_D_CR,	 /* inside a line, after a CR */
	DP_SMTP_D_DOT,	 /* "." at the start of a line */
	DP_SMTP_D_DOTCR, /* ".<CR>" at the start of a line */
};

struct dp_smtp_txn {
	char *mail_from; /* arena; NULL until MAIL */
	char *envid;
	uint64_t size_declared;
	bool body_8bit, body_binary, smtputf8;
	int ret;
	bool rcpt_tried; /* a RCPT was given (for 554 vs 503 at DATA) */
	unsigned rcpt_count;
	size_t arena_len;

	/* The message in progress (DATA or BDAT). */
	bool msg_open; /* host msg_open succeeded, not yet ended */
	enum dp_smtp_fail fail;
	uint64_t id;
	uint64_t body_len; /* bytes written, Received excluded */
	uint8_t data_st;   /* enum dp_smtp_data_st */
	bool held_cr;	   /* a CR ended the last input, not yet written */
	size_t text_line_len;

	uint64_t chunk_size; /* of the current BDAT */
	uint64_t chunk_left; /* BDAT bytes still to read */
	bool chunk_last;
	int chunk_reply; /* 0 or the refusal to send after the chunk */
};

/* Refusals of a BDAT command, sent once its chunk has been read. */
enum {
	DP_SMTP_CHUNK_OK = 0,
	DP_SMTP_CHUNK_SEQUENCE, /* out of sequence: dp_smtp_sequence_error */
	DP_SMTP_CHUNK_NOT_OFFERED,
	DP_SMTP_CHUNK_FAIL, /* the message failed: reply by txn.fail */
};

struct dp_smtp_session {
	const struct dp_smtp_conf *conf;
	const struct dp_smtp_host *host;
	void *ctx;
	char client_addr[64];
	char client_name[256];
	uint16_t client_port;

	bool started;
	bool closing;  /* close once the output is drained */
	bool awaiting; /* msg_commit called, commit_done not yet */
	bool esmtp;    /* EHLO (not HELO) */
	uint8_t state; /* enum dp_smtp_state */
	uint8_t mode;  /* enum dp_smtp_mode */
	unsigned errors;
	unsigned junk;
	uint64_t last_ms; /* start of the current timeout period */
	uint64_t input_ms; /* time of the last input call */
	uint32_t progress; /* DATA/BDAT bytes since last_ms moved */

	struct dp_smtp_line line;
	char *helo; /* cmd_line_max bytes */

	uint8_t *out;
	size_t out_head, out_tail, out_size;

	struct dp_smtp_rcpt *rcpt; /* rcpt_max entries */
	char *arena;
	size_t arena_size;

	struct dp_smtp_txn txn;
};

/*
 * A log line for a rare peer event worth a human's attention (smuggling
 * attempt, pregreet, limits, timeouts).  Each use is its own rate-limited
 * call site (MX_LOG_RL), so a flood of one kind cannot hide another.
 */
#define DP_SMTP_NOTE(s, event)                                                 \
	MX_LOG_RL(MX_LOG_INFO, "smtp", "event=" event " client=%s port=%u",    \
		  (s)->client_addr, (unsigned)(s)->client_port)

/* dp_smtp_reply.c */
bool dp_smtp_out_has_room(const struct dp_smtp_session *s);
void dp_smtp_reply(struct dp_smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A refusal caused by the peer: counts `err` (if >= 0) and the error
 * limit; at errors_max adds 421 4.7.0 and closes. */
void dp_smtp_reply_error(struct dp_smtp_session *s, int err, const char *fmt,
			 ...) __attribute__((format(printf, 3, 4)));
void dp_smtp_close(struct dp_smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* dp_smtp_cmd.c */
void dp_smtp_cmd_line(struct dp_smtp_session *s, bool more_input);
void dp_smtp_txn_reset(struct dp_smtp_session *s);
/* The one answer to a command out of sequence: 503 5.5.1 with a hint, or
 * 554 5.5.1 for DATA/BDAT after every recipient was refused (RFC 2920
 * §3.1).  is_mail: the command was MAIL. */
void dp_smtp_sequence_error(struct dp_smtp_session *s, bool is_mail);

/* dp_smtp_mail.c */
void dp_smtp_cmd_mail(struct dp_smtp_session *s, char *arg, size_t len);
void dp_smtp_cmd_rcpt(struct dp_smtp_session *s, char *arg, size_t len);

/* dp_smtp_msg.c: the message lifecycle shared by DATA and BDAT */
int dp_smtp_msg_open(struct dp_smtp_session *s);
void dp_smtp_msg_write(struct dp_smtp_session *s, const void *p, size_t n);
void dp_smtp_msg_fail(struct dp_smtp_session *s, enum dp_smtp_fail why);
void dp_smtp_msg_end(struct dp_smtp_session *s);
void dp_smtp_msg_fail_reply(struct dp_smtp_session *s);

/* dp_smtp_data.c */
void dp_smtp_cmd_data(struct dp_smtp_session *s, char *arg, size_t len);
size_t dp_smtp_data_feed(struct dp_smtp_session *s, const uint8_t *p, size_t n);

/* dp_smtp_bdat.c */
void dp_smtp_cmd_bdat(struct dp_smtp_session *s, char *arg, size_t len);
size_t dp_smtp_chunk_feed(struct dp_smtp_session *s, const uint8_t *p,
			  size_t n);

/* dp_smtp_received.c: the trace header (RFC 5321 §4.4).  Returns its
 * length in buf, 0 if it does not fit. */
size_t dp_smtp_received_fmt(const struct dp_smtp_session *s, char *buf,
			    size_t size, uint64_t wall_ns);

/* Envelope strings: copy of s[0..n) with a NUL, NULL when the arena is
 * full. */
char *dp_smtp_arena_dup(struct dp_smtp_session *s, const char *p, size_t n);

#endif
