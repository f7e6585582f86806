/*
 * mgmt_dlv_int — the delivery engine's internal objects, shared by its
 * files (scheduler, connection state machine, control commands).  Not for
 * other modules.  Management thread only.
 *
 * Objects and ownership:
 *   dlv_msg   one message in delivery: per-recipient results of this
 *             round; owned by the engine's hash, freed when its last job
 *             is done and the results are recorded.
 *   dlv_job   the recipients of one message that go to one destination;
 *             queued on the destination, then owned by one connection (or
 *             run inline for maildir/discard).
 *   dlv_dest  a next hop (one per distinct route), with its job queue,
 *             connection list and state; lives as long as the engine.
 *   dlv_conn  one SMTP/LMTP connection (mgmt_dlv_conn.c).
 */
#ifndef MGMT_DLV_INT_H
#define MGMT_DLV_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "mgmt_dlv.h"
#include "mgmt_dlv_backoff.h"
#include "mgmt_dlv_reply.h"
#include "mgmt_dlv_sbuf.h"

#define DLV_DIAG_SIZE 512
#define DLV_NAME_SIZE (MGMT_DLV_ROUTE_PATH_SIZE + 32)

enum dlv_res {
	DLV_R_NONE = 0, /* not attempted this round */
	DLV_R_OK,
	DLV_R_DEFER,
	DLV_R_BOUNCE,
};

struct dlv_rcpt_res {
	uint8_t res;	 /* enum dlv_res */
	char status[16]; /* RFC 3463 code */
	char diag[DLV_DIAG_SIZE];
	bool diag_is_smtp;
	const struct dlv_dest *dest; /* remote MTA for the DSN */
};

enum dlv_inject_state {
	DLV_INJ_NONE = 0,
	DLV_INJ_WAITING,   /* bounce handed to inject_async, not durable */
	DLV_INJ_COMPLETED, /* its completion came during the call */
};

struct dlv_msg {
	uint64_t id;
	struct dlv_msg *hash_next;
	unsigned jobs_left;
	uint32_t attempts; /* failed attempts before this round */
	uint64_t received_wall_ns;
	uint64_t started_wall_ns;
	uint64_t prev_attempt_wall_ns; /* estimated; 0 = first attempt */
	uint8_t inject_state;	       /* enum dlv_inject_state */
	bool in_bounce;		       /* inside the inject_async call */
	int inject_status;
	uint32_t rcpt_count;
	struct dlv_rcpt_res *res; /* rcpt_count entries */
};

struct dlv_job {
	struct dlv_msg *msg;
	struct dlv_dest *dest;
	struct dlv_job *next; /* in the destination's queue */
	unsigned rcpt_count;
	unsigned *rcpt;		 /* indexes into the envelope */
	unsigned accepted_count; /* RCPT accepted in the transaction */
	unsigned *accepted;	 /* positions in rcpt[] */
};

struct dlv_conn;

struct dlv_dest {
	struct mgmt_dlv *eng;
	char name[DLV_NAME_SIZE];
	struct mgmt_dlv_route route;
	struct dlv_job *q_head, *q_tail;
	unsigned q_count;
	struct dlv_conn *conns; /* every connection, any state */
	unsigned conn_count;
	bool paused;
	bool flush;		/* deferred mail for it is due now */
	uint64_t down_until_ns; /* monotonic; 0 = up */
	char last_error[DLV_DIAG_SIZE];
	uint64_t deferred_rcpts; /* seen at the last scan */
	uint64_t delivered, deferred, bounced;
};

struct dlv_route_map {
	char *domain;
	struct dlv_dest *dest;
};

#define DLV_HASH_SIZE 1024

struct mgmt_dlv {
	struct mgmt_dlv_conf conf;
	char *hostname;
	struct mgmt_dlv_source src;
	struct mgmt_dlv_backoff backoff;
	int epfd;
	struct dlv_dest **dests;
	unsigned dest_count;
	struct dlv_route_map *map;
	unsigned map_count;
	struct dlv_dest *default_dest;
	struct dlv_msg *hash[DLV_HASH_SIZE];
	unsigned msg_count;
	unsigned rcpt_inflight;
	bool paused_all;
	bool flush_all;
	bool any_dest_flush; /* some dest->flush is set */
	bool scan_now;
	bool scan_truncated;	   /* the last scan left due mail behind */
	unsigned freed_since_scan; /* messages finished since then */
	uint64_t next_scan_ns;
	uint64_t next_deadline_ns; /* earliest connection deadline */
	uint64_t rng;
};

/* mgmt_dlv.c: results of a job come back here from the executors. */
void dlv_rcpt_result(struct dlv_job *job, unsigned pos, enum dlv_res res,
		     const char *status, const char *diag, bool diag_is_smtp);
/* Every rcpt of the job still without a result gets this one. */
void dlv_job_fail_rest(struct dlv_job *job, enum dlv_res res,
		       const char *status, const char *diag);
/* The job is finished (all results set); frees it. */
void dlv_job_done(struct mgmt_dlv *d, struct dlv_job *job);
/* Takes the next job queued for dest (NULL if none or paused). */
struct dlv_job *dlv_dest_take(struct dlv_dest *dest);
/* Puts a job back at the head of its destination's queue (a cached
 * connection turned out dead before the transaction began). */
void dlv_dest_requeue(struct dlv_dest *dest, struct dlv_job *job);
/* The destination failed to set up a connection: defer its queue, rest. */
void dlv_dest_down(struct dlv_dest *dest, const char *why);
/* A fresh view of the job's message, valid during this run only. */
int dlv_msg_view(struct mgmt_dlv *d, uint64_t id, struct q_msg_view *v);

/*
 * The scan trace header of a delivered message, from its recorded
 * verdict: "X-Mxgate-Scan: <verdict>" (no line end) into buf, or "" when
 * the message has no verdict.  Carries what the scan stage decided — the
 * pre-filter rule ids of a `tag` or `pass` result, "clamav: clean", or
 * "unscanned: ..." when mail was let through with no healthy scanner — so
 * the next hop can see it.  Bytes outside printable ASCII are replaced,
 * so a signature name can never break the header section.
 */
size_t dlv_trace_header(const struct q_msg_view *v, char *buf, size_t size);

/* mgmt_dlv_conn.c */
int dlv_conn_open(struct dlv_dest *dest, struct dlv_job *job);
void dlv_conn_event(struct dlv_conn *c, uint32_t events);
/* Timeouts and idle closes; returns the earliest deadline (monotonic ns)
 * of this destination's connections, or UINT64_MAX. */
uint64_t dlv_conn_tick(struct dlv_dest *dest, uint64_t now);
/* Hands a job to an idle connection of dest; false if none is idle. */
bool dlv_conn_give(struct dlv_dest *dest, struct dlv_job *job);
/* Closes every connection of dest (destroy, pause). idle_only: leave
 * connections in a transaction alone. */
void dlv_conn_close_all(struct dlv_dest *dest, bool idle_only);
unsigned dlv_conn_busy_count(const struct dlv_dest *dest);

/* mgmt_dlv_local.c: maildir and discard, run inline. */
void dlv_local_run(struct mgmt_dlv *d, struct dlv_job *job);

#endif
