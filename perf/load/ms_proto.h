/*
 * ms_proto — the server side of SMTP for mxsink, as a pure state machine:
 * bytes in, replies out, no I/O, no allocation.
 *
 * mxsink is a measuring instrument, not a mail server: it accepts and
 * discards every well-formed message (nothing is stored, nothing is
 * durable).  What it must get right is the framing, so that a client's
 * figures count real transactions: end of data only at CRLF "." CRLF,
 * found across any split of the input (RFC 5321 §4.1.1.4, §4.5.2), BDAT
 * chunks counted to the byte (RFC 3030 §2), command and text lines bounded
 * (RFC 5321 §4.5.3.1.4, §4.5.3.1.6) with 500-class replies, and every
 * pipelined reply batched into the caller's one write (RFC 2920 §3.2).
 *
 * Threads: a session and its stats belong to one thread; ms_proto_conf is
 * read-only once built and may be shared.  Nothing here fails: peer errors
 * become replies and counters.
 */
#ifndef MS_PROTO_H
#define MS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 §4.5.3.1.4 sets 512 octets for a command line; extensions
 * (SIZE=, BODY=) may add to it, so allow twice that. */
#define MS_CMD_LINE_MAX 1024
/* RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its CRLF. */
#define MS_TEXT_LINE_MAX 1000
/* Space a caller leaves free in the output for one more reply; no reply
 * (the EHLO one included) is longer. */
#define MS_REPLY_MAX 512

/* Shared, read-only settings: built once by ms_proto_conf_init(). */
struct ms_proto_conf {
	uint64_t size_max; /* advertised in EHLO SIZE (RFC 1870) */
	char greeting[128];
	size_t greeting_len;
	char ehlo[256];
	size_t ehlo_len;
};

/* Counters of one thread, summed by the caller at the end. */
struct ms_stats {
	uint64_t msgs;	     /* answered 250 at end of data or BDAT LAST */
	uint64_t msgs_data;  /* ... of which by DATA */
	uint64_t msgs_bdat;  /* ... of which by BDAT */
	uint64_t rcpts;	     /* RCPTs answered 250 */
	uint64_t rejected;   /* complete messages answered 5xx */
	uint64_t cmds;	     /* command lines read */
	uint64_t body_bytes; /* DATA and BDAT bytes, framing included */
	uint64_t long_lines; /* over-long command or text lines */
	uint64_t syntax;     /* 501, and 500 for a bare LF */
	uint64_t sequence;   /* 503 and 554: command out of order */
	uint64_t unknown;    /* 500 / 502 for an unknown verb */
	uint64_t too_big;    /* 552: over the SIZE limit */
	uint64_t quits;
};

enum ms_phase {
	MS_PH_CMD,  /* reading command lines */
	MS_PH_DATA, /* after 354, until CRLF . CRLF */
	MS_PH_BDAT, /* consuming a chunk's octets */
	MS_PH_QUIT, /* 221 sent: the rest of the input is ignored */
};

/* One connection's state; caller-provided storage (ms_sess_init). */
struct ms_sess {
	const struct ms_proto_conf *conf;
	enum ms_phase phase;
	bool greeted;	   /* HELO or EHLO seen */
	bool mail;	   /* MAIL accepted: a transaction is open */
	bool bdat_txn;	   /* the transaction's body goes by BDAT */
	bool bdat_last;	   /* the chunk being read is the LAST one */
	bool bdat_ok;	   /* the chunk being read belongs to a valid txn */
	bool long_line;	   /* the body had a text line over the limit */
	bool cmd_overflow; /* dropping an over-long command line */
	unsigned rcpts;
	unsigned dot_state; /* end-of-data scanner, see ms_proto.c */
	uint64_t line_len;  /* octets of the current body line */
	uint64_t msg_size;
	uint64_t bdat_left;
	size_t cmd_len; /* octets of a command line split across reads */
	char cmd[MS_CMD_LINE_MAX];
};

/* Output buffer: replies are appended at len, up to size. */
struct ms_out {
	char *buf;
	size_t len;
	size_t size;
};

/* Builds the greeting and EHLO replies.  hostname is truncated to fit. */
void ms_proto_conf_init(struct ms_proto_conf *conf, const char *hostname,
			uint64_t size_max);

/* Starts a session and appends the 220 greeting to out (which must have
 * MS_REPLY_MAX free). */
void ms_sess_init(struct ms_sess *s, const struct ms_proto_conf *conf,
		  struct ms_out *out);

/*
 * Consumes input and appends the replies it calls for.  Returns how many
 * octets of in were consumed: all of them, except when out has less than
 * MS_REPLY_MAX free (the caller sends out, then feeds the rest again) or
 * after QUIT (the rest is ignored; s->phase is MS_PH_QUIT).
 */
size_t ms_sess_feed(struct ms_sess *s, const char *in, size_t len,
		    struct ms_out *out, struct ms_stats *st);

#endif
