/*
 * mgmt_dlv — delivery of queued mail to its next hop: routes by recipient
 * domain, a non-blocking SMTP/LMTP client with pooled connections and a
 * per-destination concurrency limit, Maildir and discard, retries with
 * backoff kept in the queue, and bounces (RFC 3464 DSNs) handed back to the
 * daemon for queueing.
 *
 * Threads: everything here runs on the management thread, the one thread
 * that owns the q_store.  The engine never blocks on the network: its
 * sockets are non-blocking and registered in its own epoll instance, whose
 * descriptor (mgmt_dlv_fd) the daemon adds to its event loop; when that fd
 * is readable, or mgmt_dlv_timeout_ms() has passed, the daemon calls
 * mgmt_dlv_run().  Maildir delivery is blocking file I/O (write + fsync) on
 * this thread, one message per recipient.
 *
 * Queue access goes through struct mgmt_dlv_source (function pointers with
 * q_store's signatures); mgmt_dlv_source_qstore() binds it to a q_store.
 * Message bytes are never copied: the engine re-reads the q_msg_view each
 * time it needs the body, within one mgmt_dlv_run() call, so views never
 * outlive a q_store_poll().
 *
 * At least once: a recipient is recorded delivered only after the next hop
 * accepted it (250 after DATA/BDAT, or the LMTP per-recipient reply, or the
 * Maildir file linked into new/ and synced).  A crash before the record
 * means the message is delivered again, never lost.  A bounce is injected
 * before its recipients are recorded bounced, for the same reason.
 *
 * Failure: functions return 0 or -errno; configuration errors carry a
 * reason in err.  Network and peer failures become deferrals or bounces of
 * the recipients concerned plus counters and rate-limited log lines.
 */
#ifndef MGMT_DLV_H
#define MGMT_DLV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgmt_dlv_route.h"
#include "mx_counter.h"
#include "q_envelope.h"
#include "q_store.h"

#define MGMT_DLV_COUNTERS(X)                                                   \
	X(dlv_rcpt_delivered, "recipients accepted by the next hop")           \
	X(dlv_rcpt_deferred, "recipient attempts that failed temporarily")     \
	X(dlv_rcpt_bounced, "recipients failed permanently")                   \
	X(dlv_rcpt_expired, "recipients bounced after the queue lifetime")     \
	X(dlv_rcpt_discarded, "recipients dropped by a discard route")         \
	X(dlv_msg_attempts, "messages taken for a delivery attempt")           \
	X(dlv_msg_deferred, "messages deferred for a later retry")             \
	X(dlv_conn_opened, "next-hop connections established")                 \
	X(dlv_conn_failed, "next-hop connections that failed to set up")       \
	X(dlv_conn_reused, "transactions on a cached connection")              \
	X(dlv_conn_timeouts, "next-hop replies that timed out")                \
	X(dlv_conn_lost, "next-hop connections lost mid-transaction")          \
	X(dlv_proto_errors, "malformed replies from a next hop")               \
	X(dlv_dsn_sent, "bounces (DSNs) handed to the queue")                  \
	X(dlv_dsn_delay_sent, "delay warnings handed to the queue")            \
	X(dlv_dsn_suppressed, "bounces not sent: null sender or NOTIFY")       \
	X(dlv_dsn_inject_failed, "bounces the queue did not take")             \
	X(dlv_maildir_errors, "failed Maildir deliveries")                     \
	X(dlv_record_errors, "queue state changes that failed")

enum mgmt_dlv_counter { MGMT_DLV_COUNTERS(MX_COUNTER_ENUM) MGMT_DLV_C__COUNT };
MX_COUNTER_SET_DECLARE(mgmt_dlv_counters);

/* Per-command reply timeouts (RFC 5321 §4.5.3.2 minimums as defaults). */
struct mgmt_dlv_timeouts {
	uint64_t connect_ns;	/* ours: 30 s */
	uint64_t greeting_ns;	/* §4.5.3.2.1: 5 min */
	uint64_t helo_ns;	/* EHLO/LHLO, like MAIL: 5 min */
	uint64_t mail_ns;	/* §4.5.3.2.2: 5 min */
	uint64_t rcpt_ns;	/* §4.5.3.2.3: 5 min */
	uint64_t data_init_ns;	/* §4.5.3.2.4: 2 min */
	uint64_t data_block_ns; /* §4.5.3.2.5: 3 min per write */
	uint64_t data_term_ns;	/* §4.5.3.2.6: 10 min */
	uint64_t rset_ns;	/* ours: 2 min */
	uint64_t quit_ns;	/* ours: 10 s */
};

struct mgmt_dlv_route_entry {
	const char *domain; /* recipient domain, case-insensitive */
	const char *route;  /* mgmt_dlv_route syntax */
};

struct mgmt_dlv_conf {
	const char *hostname;	   /* EHLO name and Reporting-MTA */
	const char *default_route; /* for domains not in routes */
	const struct mgmt_dlv_route_entry *routes;
	unsigned route_count;
	unsigned dest_conn_max;	    /* connections per destination (4) */
	unsigned dest_queue_max;    /* jobs waiting per destination (64) */
	unsigned msgs_inflight_max; /* messages in delivery at once (256) */
	const char *retry_schedule; /* mgmt_dlv_backoff syntax */
	unsigned retry_jitter_pct;  /* 10 */
	uint64_t max_lifetime_ns;   /* deferred mail bounces after (5 d) */
	uint64_t dest_retry_ns;	    /* a failed next hop is left alone (60 s) */
	uint64_t scan_interval_ns;  /* queue scan period (1 s) */
	uint64_t idle_timeout_ns;   /* cached connection lifetime (10 s) */
	size_t dsn_full_max;	    /* return whole bodies up to (1 MiB) */
	uint64_t delay_warn_ns;	    /* warn the sender once mail is this
				     * old and still deferred; 0 = off */
	struct mgmt_dlv_timeouts timeouts;
};

void mgmt_dlv_conf_defaults(struct mgmt_dlv_conf *conf);

/*
 * How the engine reads and changes the queue: the signatures of the
 * q_store functions, so the binding to q_store is direct.
 *
 * Bounces enter the queue through the daemon (new messages come in
 * through a shard), by one of two callbacks; both must copy what they need
 * before returning:
 *   inject        returns 0 once the bounce is durable in the queue;
 *   inject_async  (preferred when set) returns 0 once the bounce is handed
 *                 to the queue, and the daemon later calls
 *                 mgmt_dlv_inject_done(d, token, status) on the management
 *                 thread when it is durable (0) or lost (-errno).  The
 *                 failed recipients are recorded bounced only then, so a
 *                 crash in between repeats the bounce rather than losing
 *                 it.  token MGMT_DLV_TOKEN_NONE (delay warnings) needs no
 *                 completion call.  The completion may also come from
 *                 inside inject_async.
 */
#define MGMT_DLV_TOKEN_NONE UINT64_MAX

struct mgmt_dlv_source {
	void *arg;
	int (*next)(void *arg, enum q_state st, uint64_t after_id,
		    struct q_msg_view *v);
	int (*get)(void *arg, uint64_t id, struct q_msg_view *v);
	int (*rcpt_delivered)(void *arg, uint64_t id, unsigned rcpt_idx);
	int (*rcpt_bounced)(void *arg, uint64_t id, unsigned rcpt_idx,
			    const char *diag);
	int (*defer)(void *arg, uint64_t id, uint64_t until_wall_ns,
		     const char *last_error);
	void *inject_arg;
	int (*inject)(void *inject_arg, const struct q_envelope *env,
		      const uint8_t *body, size_t len);
	int (*inject_async)(void *inject_arg, const struct q_envelope *env,
			    const uint8_t *body, size_t len, uint64_t token);
};

/* Fills src with q_store's functions; inject is the daemon's. */
void mgmt_dlv_source_qstore(struct mgmt_dlv_source *src, struct q_store *s,
			    int (*inject)(void *, const struct q_envelope *,
					  const uint8_t *, size_t),
			    void *inject_arg);
/* The same with an asynchronous inject (inject_async above). */
void mgmt_dlv_source_qstore_async(
    struct mgmt_dlv_source *src, struct q_store *s,
    int (*inject_async)(void *, const struct q_envelope *, const uint8_t *,
			size_t, uint64_t),
    void *inject_arg);

struct mgmt_dlv;

/* Validates conf (routes, schedule) and creates the engine; NULL with the
 * reason in err.  conf strings are copied; src is copied. */
struct mgmt_dlv *mgmt_dlv_create(const struct mgmt_dlv_conf *conf,
				 const struct mgmt_dlv_source *src, char *err,
				 size_t err_size);
/* Closes every connection (in-flight recipients stay pending in the queue,
 * to be delivered again after restart).  Accepts NULL. */
void mgmt_dlv_destroy(struct mgmt_dlv *d);

/* The epoll fd to watch for readability. */
int mgmt_dlv_fd(const struct mgmt_dlv *d);
/* Milliseconds until mgmt_dlv_run() has timed work (scan, timeouts);
 * 0 = now, capped at the scan interval. */
int mgmt_dlv_timeout_ms(const struct mgmt_dlv *d);
/* Does all ready work without blocking; returns the number of events
 * handled.  Call after q_store_poll() in the same loop round. */
int mgmt_dlv_run(struct mgmt_dlv *d);
/* The completion of an inject_async bounce (see struct mgmt_dlv_source);
 * unknown tokens, and d == NULL (after destroy), are ignored. */
void mgmt_dlv_inject_done(struct mgmt_dlv *d, uint64_t token, int status);

/* Asks for a queue scan at the next run (new mail was committed). */
void mgmt_dlv_kick(struct mgmt_dlv *d);
/* Recipients (of messages) currently in delivery; 0 when idle. */
unsigned mgmt_dlv_inflight(const struct mgmt_dlv *d);

/*
 * Control commands (return a new JSON object the caller owns; on error
 * {"error": "..."}).  dest is a destination name ("smtp:[10.0.0.1]:25"),
 * a recipient domain from the table, or NULL for all.
 *   deliver pause|resume [DEST]   no new transactions to DEST
 *   queue flush [DEST]            deferred mail for DEST is due now
 *   routes                        the table and per-destination state
 */
json_t *mgmt_dlv_ctl_pause(struct mgmt_dlv *d, const char *dest);
json_t *mgmt_dlv_ctl_resume(struct mgmt_dlv *d, const char *dest);
json_t *mgmt_dlv_ctl_flush(struct mgmt_dlv *d, const char *dest);
json_t *mgmt_dlv_ctl_routes(struct mgmt_dlv *d);

#endif
