/*
 * ml_worker — one mxload worker thread: its io_uring, its connections, its
 * share of the messages and of the target rate, its statistics.
 *
 * The main thread fills the fields marked "in" and calls ml_worker_init();
 * ml_worker_run() then runs on the worker's own thread and touches nothing
 * outside its struct but the read-only options, pool and stop flag.  Every
 * connection, buffer and pending-reply slot is allocated by ml_worker_init()
 * (which returns -errno), so the run loop never allocates.  The main thread
 * reads `st` after joining.
 *
 * ml_smtp.c drives the SMTP client side of a connection through the
 * functions declared at the bottom; ml_worker.c owns the ring and the
 * dispatching of messages to connections.
 */
#ifndef ML_WORKER_H
#define ML_WORKER_H

#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ml_msg.h"
#include "ml_opts.h"
#include "ml_stats.h"

#define ML_RBUF_SIZE 2048

enum ml_conn_state {
	ML_CS_FREE, /* no socket; on the free list */
	ML_CS_CONNECTING,
	ML_CS_OPEN,
	ML_CS_CLOSING, /* shut down, waiting for its operations */
};

/* One message's transaction on a connection. */
struct ml_txn {
	bool active;
	const struct ml_msg *msg;
	uint64_t t_intended_ns;
	uint64_t t_eod_ns;
	uint64_t t_reply_ns;
	bool eod_done;
	bool use_bdat;
	bool mail_ok;
	unsigned rcpt_sent, rcpt_ok;
	int fail;      /* enum ml_outcome, or -1 while none */
	int rcpt_fail; /* outcome of the first refused RCPT */
};

struct ml_conn {
	int fd;
	uint32_t idx;
	enum ml_conn_state state;
	unsigned inflight; /* ring operations not yet completed */
	bool recv_inflight;
	bool send_inflight;
	bool act_due;	 /* all replies in: decide the next step */
	bool pipelining; /* offered by the server and allowed */
	bool chunking;
	unsigned msgs_on_conn;
	uint64_t deadline_ns;

	/* Commands whose replies are due, oldest first (a ring): the
	 * command in the low 4 bits, its transaction's slot in tx[] above
	 * (ml_pend_cmd). */
	uint16_t *pend;
	unsigned pend_cap, pend_head, pend_count;
	enum ml_cmd last_cmd;
	int last_code;

	/* Transactions: tx[cur] is the one replies are for; with PIPELINING
	 * the next one's envelope may follow the current one's body in the
	 * same write (RFC 2920 §3.1), so it lives in the other slot.  With
	 * --depth K (PIPELINING and CHUNKING) a write carries whole
	 * transactions in tx[0..batch_n-1] and each reply names its slot. */
	struct ml_txn *tx;
	unsigned ntx; /* max(2, depth) */
	unsigned cur;
	bool in_batch; /* tx[0..batch_n-1] were sent as one batch */
	unsigned batch_n;
	bool need_rset; /* a batched transaction failed after its MAIL */

	/* Reply bytes not yet parsed. */
	char rbuf[ML_RBUF_SIZE];
	unsigned rlen;

	/* Commands being sent, and what the current send covers. */
	char *obuf;
	size_t obuf_cap;
	size_t olen;
	struct iovec *iov; /* 2 * ntx: an envelope and a body each */
	unsigned iov_i, iov_n;
	bool send_has_eod; /* the send ends tx[cur]'s (or the batch's)
			    * content */
	struct msghdr mh;
};

struct ml_worker {
	/* in */
	unsigned id;
	unsigned nconns;
	uint64_t total; /* messages this worker sends */
	double rate;	/* msg/s for this worker, 0 = closed loop */
	const struct ml_opts *o;
	const struct ml_pool *pool;
	const volatile sig_atomic_t *stop;

	struct io_uring ring;
	bool ring_ready;
	struct ml_conn *conns;
	uint32_t *idle; /* open connections without a message */
	unsigned nidle;
	uint32_t *freel; /* closed slots */
	unsigned nfree;
	uint64_t dispatched;
	uint64_t interval_ns;
	uint64_t t0_ns;
	uint64_t stop_at_ns; /* no new message after this; 0 = never */
	bool draining;
	uint64_t rng;
	uint64_t msg_seq;
	uint64_t rcpt_seq;

	/* out */
	struct ml_stats st;
	uint64_t t_start_ns;
	uint64_t t_end_ns;
	int err;
};

/* A pending entry: the command, and the tx[] slot it belongs to. */
#define ML_PEND_SLOT_SHIFT 4
_Static_assert(ML_CMD_COUNT <= (1 << ML_PEND_SLOT_SHIFT), "ml_cmd fits");
_Static_assert(ML_DEPTH_MAX <= (0xffff >> ML_PEND_SLOT_SHIFT), "slot fits");

static inline enum ml_cmd ml_pend_cmd(uint16_t e)
{
	return (enum ml_cmd)(e & ((1u << ML_PEND_SLOT_SHIFT) - 1));
}

int ml_worker_init(struct ml_worker *w);
void *ml_worker_run(void *arg);
void ml_worker_fini(struct ml_worker *w);

uint64_t ml_now_ns(void);

/* Called by ml_smtp.c. */
void ml_worker_send(struct ml_worker *w, struct ml_conn *c);
void ml_worker_close(struct ml_worker *w, struct ml_conn *c);
/* A message for t if one is due now: fills and activates t. */
bool ml_worker_take_msg(struct ml_worker *w, struct ml_txn *t);
/* True once no further message will be handed out. */
bool ml_worker_exhausted(const struct ml_worker *w);
/* c is open and has nothing to do until a message is due. */
void ml_worker_park(struct ml_worker *w, struct ml_conn *c);

/* ml_smtp.c: the client side of the SMTP dialogue. */
void ml_smtp_connected(struct ml_worker *w, struct ml_conn *c);
void ml_smtp_received(struct ml_worker *w, struct ml_conn *c, size_t n);
void ml_smtp_sent(struct ml_worker *w, struct ml_conn *c);
void ml_smtp_start(struct ml_worker *w, struct ml_conn *c);
/* An idle connection with nothing more to send says goodbye. */
void ml_smtp_quit(struct ml_worker *w, struct ml_conn *c);
/* The connection failed or timed out: end its messages with outcome. */
void ml_smtp_abort(struct ml_worker *w, struct ml_conn *c, int outcome);

#endif
