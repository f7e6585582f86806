/*
 * ml_stats — what one worker counted: replies per command and class,
 * message outcomes, connection events, latency histograms.
 *
 * Each worker owns one and writes it without locks; the main thread sums
 * them (ml_stats_merge) after joining the workers.
 */
#ifndef ML_STATS_H
#define ML_STATS_H

#include <stdint.h>

#include "ml_hist.h"

/* Commands whose replies are counted; X(enum suffix, name in reports). */
#define ML_CMD_LIST(X)                                                         \
	X(GREETING, "greeting")                                                \
	X(EHLO, "ehlo")                                                        \
	X(HELO, "helo")                                                        \
	X(MAIL, "mail")                                                        \
	X(RCPT, "rcpt")                                                        \
	X(DATA, "data")                                                        \
	X(DOT, "data_end")                                                     \
	X(BDAT, "bdat")                                                        \
	X(RSET, "rset")                                                        \
	X(QUIT, "quit")

enum ml_cmd {
#define ML_CMD_ENUM(e, s) ML_CMD_##e,
	ML_CMD_LIST(ML_CMD_ENUM)
#undef ML_CMD_ENUM
	    ML_CMD_COUNT
};

/* Reply classes: 2xx, 3xx, 4xx, 5xx and anything else. */
enum {
	ML_CLASS_2,
	ML_CLASS_3,
	ML_CLASS_4,
	ML_CLASS_5,
	ML_CLASS_OTHER,
	ML_CLASS_COUNT
};

/* How a message ended; X(enum suffix, name in reports). */
#define ML_OUTCOME_LIST(X)                                                     \
	X(OK, "ok")                                                            \
	X(REJ4, "rejected_4xx")                                                \
	X(REJ5, "rejected_5xx")                                                \
	X(CONN_ERR, "conn_error")                                              \
	X(TIMEOUT, "timeout")                                                  \
	X(PROTO, "protocol_error")

enum ml_outcome {
#define ML_OUT_ENUM(e, s) ML_OUT_##e,
	ML_OUTCOME_LIST(ML_OUT_ENUM)
#undef ML_OUT_ENUM
	    ML_OUT_COUNT
};

struct ml_stats {
	uint64_t replies[ML_CMD_COUNT][ML_CLASS_COUNT];
	uint64_t outcome[ML_OUT_COUNT];
	uint64_t started;    /* messages handed to a connection */
	uint64_t eicar_sent; /* of those, carrying EICAR */
	uint64_t bytes_sent; /* message bytes (after stuffing) */
	uint64_t conn_opened;
	uint64_t conn_failed;  /* connect() failed */
	uint64_t conn_dropped; /* EOF or error while a reply was due */
	uint64_t timeouts;
	uint64_t proto_errors;	 /* unparseable or unexpected replies */
	uint64_t bdat_used;	 /* messages sent with BDAT */
	uint64_t pipelined;	 /* transactions sent pipelined */
	uint64_t pipelined_next; /* envelopes sent behind a dot */
	uint64_t batches;	 /* --depth writes of whole transactions */
	uint64_t batch_txns;	 /* transactions in those writes */
	uint64_t depth_fallback; /* connections that could not use --depth */
	struct ml_hist eod;	 /* end of data -> final reply */
	struct ml_hist sched;	 /* intended start -> final reply */
};

static inline unsigned ml_reply_class(int code)
{
	if (code >= 200 && code < 600)
		return (unsigned)(code / 100 - 2);
	return ML_CLASS_OTHER;
}

/* Adds every counter and histogram of src into dst. */
static inline void ml_stats_merge(struct ml_stats *dst,
				  const struct ml_stats *src)
{
	unsigned i, j;

	for (i = 0; i < ML_CMD_COUNT; i++)
		for (j = 0; j < ML_CLASS_COUNT; j++)
			dst->replies[i][j] += src->replies[i][j];
	for (i = 0; i < ML_OUT_COUNT; i++)
		dst->outcome[i] += src->outcome[i];
	dst->started += src->started;
	dst->eicar_sent += src->eicar_sent;
	dst->bytes_sent += src->bytes_sent;
	dst->conn_opened += src->conn_opened;
	dst->conn_failed += src->conn_failed;
	dst->conn_dropped += src->conn_dropped;
	dst->timeouts += src->timeouts;
	dst->proto_errors += src->proto_errors;
	dst->bdat_used += src->bdat_used;
	dst->pipelined += src->pipelined;
	dst->pipelined_next += src->pipelined_next;
	dst->batches += src->batches;
	dst->batch_txns += src->batch_txns;
	dst->depth_fallback += src->depth_fallback;
	ml_hist_merge(&dst->eod, &src->eod);
	ml_hist_merge(&dst->sched, &src->sched);
}

#endif
