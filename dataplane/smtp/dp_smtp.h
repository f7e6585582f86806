/*
 * dp_smtp — the SMTP server engine: a pure state machine.  Bytes from the
 * client go in, reply bytes and message events come out.  It knows nothing
 * of sockets, mbufs or disks; the backends (io_uring sockets, DPDK) drive it
 * and implement struct dp_smtp_host.
 *
 * Protocol: RFC 5321 with PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME
 * (RFC 6152), ENHANCEDSTATUSCODES (RFC 2034/3463), CHUNKING and BINARYMIME
 * (RFC 3030), SMTPUTF8 (RFC 6531) and DSN (RFC 3461).
 *
 * Threading: a session belongs to one dataplane core; every function here
 * is called from that core's thread only.  The conf is shared read-only by
 * all sessions of a core.  Host callbacks are made synchronously from inside
 * dp_smtp_input() / dp_smtp_commit_done() / dp_smtp_session_fini().
 *
 * Memory: a session lives in caller-provided memory of
 * dp_smtp_session_size(conf) bytes (8-byte aligned).  The engine never
 * allocates.  It owns its line buffer, its output buffer and the envelope
 * strings inside that memory; pointers handed to callbacks are valid for
 * the duration of the callback only.
 *
 * Failure: peer errors get an SMTP reply and a counter (dp_smtp_counters);
 * limits are named in struct dp_smtp_conf.  Host errors are -errno values
 * mapped to replies as documented on each callback.  Misuse of the API
 * (e.g. commit_done while no commit is pending) is a bug: mx_panic().
 *
 * Chosen behaviours (documented here because peers see them):
 * - Only CRLF ends a line.  In commands a bare LF still ends the line (so a
 *   broken client gets an answer rather than a hang) but the line is
 *   refused with 500 5.5.2; so is a line holding a bare CR or a NUL.
 * - In DATA, a bare CR or bare LF anywhere makes the message rejected at
 *   its end with 554 5.6.0 (Postfix style), and so does a NUL (RFC 6152); the
 * end of data is only <CRLF>.<CRLF> (RFC 5321 §4.1.1.4), so no smuggling
 * variant
 *   (<LF>.<LF>, <CR>.<CR>, <LF>.<CRLF>, ...) ever ends a message.
 * - A text line over text_line_max (RFC 5321 §4.5.3.1.6) rejects the
 *   message at its end with 500 5.5.2, the code §4.5.3.1.10 names.
 * - A message over msg_size_max: 552 5.3.4 (at MAIL when SIZE= declares
 *   it, else at the end of data or at the BDAT chunk that crosses it).
 *   Precedence when several apply: bare CR/LF, NUL, size, long line.
 * - Envelope strings share a bounded arena (envelope_arena_size); running
 *   out of it is answered like too many recipients: 452 4.5.3.
 * - The greeting and the EHLO/HELO replies carry no enhanced status code
 *   (RFC 2034 §3); every other reply does.
 * - BDAT chunk bytes are always consumed when the size parsed, even when
 *   the command is refused, so the stream never desynchronises; a failed
 *   chunk ends the transaction.
 */
#ifndef DP_SMTP_H
#define DP_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_smtp_counters.h"

struct dp_smtp_conf {
	char hostname[256];	 /* banner, EHLO, Received */
	size_t cmd_line_max;	 /* 512 incl. CRLF, RFC 5321 §4.5.3.1.4 */
	size_t text_line_max;	 /* 1000 incl. CRLF, RFC 5321 §4.5.3.1.6 */
	size_t msg_size_max;	 /* SIZE advertised and enforced (body bytes) */
	unsigned rcpt_max;	 /* 100, RFC 5321 §4.5.3.1.8 -> 452 4.5.3 */
	unsigned errors_max;	 /* 4xx/5xx replies before 421 4.7.0 + close */
	unsigned junk_max;	 /* NOOP/RSET/VRFY/HELP/unknown before 421 */
	uint32_t cmd_timeout_ms; /* RFC 5321 §4.5.3.2.7: 5 min */
	uint32_t data_timeout_ms; /* RFC 5321 §4.5.3.2.6: 3 min */
	bool pregreet;		  /* input before the banner => 554, close */
	size_t out_size; /* output buffer bytes (>= 2 * DP_SMTP_REPLY_ROOM) */
	size_t envelope_arena_size; /* bytes for sender/recipient strings */
	/* Advertised (and accepted) extensions; all true by default. */
	bool ext_pipelining, ext_8bitmime, ext_chunking, ext_smtputf8, ext_dsn;
};

/* Worst-case bytes of one reply (the EHLO reply with a 255-byte name). */
#define DP_SMTP_REPLY_ROOM 1024

/* Fills the defaults above; hostname "localhost". */
void dp_smtp_conf_defaults(struct dp_smtp_conf *c);
/* 0, or -EINVAL if a limit is out of range (checked by mgmt at load). */
int dp_smtp_conf_check(const struct dp_smtp_conf *c);

#define DP_SMTP_NOTIFY_NEVER 1u
#define DP_SMTP_NOTIFY_SUCCESS 2u
#define DP_SMTP_NOTIFY_FAILURE 4u
#define DP_SMTP_NOTIFY_DELAY 8u

enum { DP_SMTP_RET_NONE = 0, DP_SMTP_RET_FULL, DP_SMTP_RET_HDRS };

struct dp_smtp_rcpt {
	const char *addr;  /* mailbox as given, without <>; "Postmaster" */
	unsigned notify;   /* DP_SMTP_NOTIFY_* flags; 0 if absent */
	const char *orcpt; /* "type;addr" decoded from xtext; NULL if absent */
};

struct dp_smtp_envelope {	 /* valid only during the msg_open callback */
	const char *client_addr; /* text, "127.0.0.1" or "::1" */
	uint16_t client_port;
	const char *helo;	/* as given */
	const char *proto;	/* "SMTP", "ESMTP" or "UTF8SMTP" */
	const char *mail_from;	/* "" for the null sender <> */
	uint64_t size_declared; /* SIZE=, 0 if absent */
	bool body_8bit;		/* BODY=8BITMIME or BINARYMIME */
	bool body_binary;	/* BODY=BINARYMIME (only with BDAT) */
	bool smtputf8;
	int ret;	   /* DP_SMTP_RET_* */
	const char *envid; /* decoded from xtext; NULL if absent */
	const struct dp_smtp_rcpt *rcpt;
	unsigned rcpt_count;
	uint64_t received_wall_ns;
};

enum dp_smtp_rcpt_verdict {
	DP_SMTP_RCPT_OK,
	DP_SMTP_RCPT_UNKNOWN,  /* 550 5.1.1 */
	DP_SMTP_RCPT_RELAY,    /* 554 5.7.1 relay access denied */
	DP_SMTP_RCPT_TEMPFAIL, /* 451 4.3.0 */
};

/* Implemented by the backend; ctx is its per-session pointer. */
struct dp_smtp_host {
	/* 0 and *id_out set | -ENOSPC -> 452 4.3.1 | -EAGAIN (a policy
	 * deferral: rate limit, no healthy scanner) -> 451 4.7.1 |
	 * other -> 451 4.3.0 */
	int (*msg_open)(void *ctx, const struct dp_smtp_envelope *env,
			uint64_t *id_out);
	/* Body bytes, dot-unstuffed, the Received header first.
	 * 0 | -EFBIG -> 552 5.3.4 | other -errno -> 451 4.3.0; after an
	 * error the engine calls msg_abort and writes nothing more. */
	int (*msg_write)(void *ctx, const void *data, size_t len);
	/* Async: the host later calls dp_smtp_commit_done() (it may do so
	 * from inside this callback). */
	void (*msg_commit)(void *ctx);
	void (*msg_abort)(void *ctx);
	enum dp_smtp_rcpt_verdict (*rcpt_check)(void *ctx, const char *local,
						const char *domain);
	uint64_t (*wall_ns)(void *ctx); /* clock for Received: */
};

struct dp_smtp_peer {
	const char *addr; /* client address text */
	uint16_t port;
	const char *local_addr;
	uint16_t local_port;
	const char *name; /* verified client host name, NULL: "unknown" */
};

struct dp_smtp_session;

/* Bytes of caller memory one session needs: state, line buffer, output
 * buffer, recipient table and envelope arena.  Bounded by the conf. */
size_t dp_smtp_session_size(const struct dp_smtp_conf *conf);

/* conf and host must outlive the session; peer strings are copied. */
void dp_smtp_session_init(struct dp_smtp_session *s,
			  const struct dp_smtp_conf *conf,
			  const struct dp_smtp_host *host, void *ctx,
			  const struct dp_smtp_peer *peer, uint64_t now_ms);
/* Aborts an open message.  A pending commit is left to the host. */
void dp_smtp_session_fini(struct dp_smtp_session *s);

/* Emits the 220 banner (the host may delay this for pre-greet checks). */
void dp_smtp_start(struct dp_smtp_session *s);
/* Sends reply (one line, e.g. "421 4.3.2 Service shutting down"; CRLF is
 * added), aborts any open message and asks for close. */
void dp_smtp_refuse(struct dp_smtp_session *s, const char *reply);

/*
 * Feeds client bytes.  Returns the bytes consumed; less than len means the
 * engine is blocked (awaiting a commit, output buffer nearly full, or not
 * started yet): the host keeps the rest and calls again after
 * dp_smtp_commit_done(), after draining output, or after dp_smtp_start().
 * Once dp_smtp_want_close() is true, input is discarded (all consumed).
 */
size_t dp_smtp_input(struct dp_smtp_session *s, const uint8_t *buf, size_t len,
		     uint64_t now_ms);

/* 0 -> "250 2.0.0 Ok: queued as %016llx"; -ENOSPC -> 452 4.3.1;
 * -EPERM -> 550 5.7.1; other -> 451 4.3.0. */
void dp_smtp_commit_done(struct dp_smtp_session *s, int status, uint64_t id);

/* Pending reply bytes.  The pointer and the bytes stay valid until
 * dp_smtp_output_consume(): new replies are appended behind them and
 * never move them, so a send may be in flight from this pointer while the
 * host keeps feeding input.  consume() may move what remains to the
 * front: call dp_smtp_output() again after it. */
const uint8_t *dp_smtp_output(const struct dp_smtp_session *s, size_t *len);
void dp_smtp_output_consume(struct dp_smtp_session *s, size_t n);

bool dp_smtp_want_close(const struct dp_smtp_session *s); /* after drain */
bool dp_smtp_awaiting_commit(const struct dp_smtp_session *s);
/* Next timeout (monotonic ms); UINT64_MAX while a commit is pending. */
uint64_t dp_smtp_deadline_ms(const struct dp_smtp_session *s);
/* 421 4.4.2 and close if now_ms is past the deadline. */
void dp_smtp_timeout(struct dp_smtp_session *s, uint64_t now_ms);

#endif
