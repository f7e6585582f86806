/*
 * q_store — the queue as the management plane sees it: open (recovery),
 * the index of live messages, reading them without copying, and the state
 * changes made by scanning and delivery.
 *
 * Threads: q_store_open/close on the main thread before the cores start /
 * after they stop; everything else from ONE thread, the management thread.
 * Ingest writers (q_shard.h, one per dataplane core) talk to the store only
 * through SPSC rings, drained in q_store_poll().
 *
 * Ownership: the store owns its segments, their read-only mappings and the
 * decoded envelopes.  A q_msg_view points into them and is valid until the
 * next q_store_poll() (which may retire segments) or q_store_close().
 *
 * Failure: functions return 0 or -errno.  An I/O error on the state log is
 * reported by q_store_poll (-EIO) and the store stops accepting state
 * changes (-EIO) until restart: recovery then reads only what was synced.
 * It also stops making segments, so shards refuse new mail once theirs is
 * full (-ENOSPC, 452 4.3.1) rather than hold it waiting.
 *
 * Disk layout under conf.dir:
 *   lock                   flock()ed while a process has the store open
 *   shard-NNN/SSSSSSSSSSSSSSSS.seg   ingest segments of shard NNN (seq hex)
 *   shard-NNN/SSSSSSSSSSSSSSSS.free  retired segments kept for reuse
 *   shard-NNN/SSSSSSSSSSSSSSSS.seg.tmp  a segment being made (removed at
 *                                    start: it never held anything)
 *   state/SSSSSSSSSSSSSSSS.seg       the store's own log: state records,
 *                                    messages copied forward and snapshots
 *
 * Retention: disk use stays bounded by live data plus a margin.  Ingest
 * segments go once every message in them is final: renamed to .free and
 * reused as the shard's next spare (no zeroing, no online discard of a
 * deleted file; up to spare_segments + 2 per shard, the rest deleted);
 * one that holds only a
 * few live messages has them copied forward (record + snapshot of its
 * state) into the state log first.  The state log is compacted: a new
 * state segment gets a snapshot of every message still on disk, then the
 * older state segments are deleted.  See q_compact.c.
 * The byte format of segments and records is specified in q_record.c.
 */
#ifndef Q_STORE_H
#define Q_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "q_envelope.h"
#include "q_io.h"

#define Q_DURABILITY_SYNC 0
#define Q_DURABILITY_NONE 1	/* no syncs at all: benchmarks only */

#define Q_SYNC_FDATASYNC 0	/* buffered writes + linked fdatasync */
#define Q_SYNC_ODIRECT_DSYNC 1	/* O_DIRECT + RWF_DSYNC, pre-zeroed segments */

#define Q_IO_URING 0		/* shard I/O through the core's io_uring */
#define Q_IO_SYNC 1		/* shard I/O through q_io_ops, blocking */
#define Q_IO_THREAD 2		/* through q_io_ops on the shard's commit
				 * thread, which wakes the core through its
				 * ring (the default) */

#define Q_SHARD_MAX 64

struct q_conf {
	char dir[PATH_MAX];
	uint64_t segment_size;		/* bytes per segment file, default 64 MiB */
	int durability;			/* Q_DURABILITY_* */
	int sync_method;		/* Q_SYNC_* */
	int io_mode;			/* Q_IO_* */
	uint64_t quota_bytes;		/* 0 = no quota */
	unsigned high_water_pct, low_water_pct;	/* of quota_bytes */
	unsigned shard_count;		/* 1..Q_SHARD_MAX */
	uint64_t msg_size_max;		/* envelope + body bytes per message */
	unsigned staging_count;		/* messages open or in flight per shard */
	unsigned spare_segments;	/* prepared ahead per shard, default 2 */
	unsigned batches_max;		/* group commits in flight per shard,
					 * 1..16: while they are, new messages
					 * wait and join the next batch */
	const struct q_io_ops *io;	/* NULL = q_io_posix */
	/* retention: a sealed ingest segment whose live bytes fall below
	 * copy_forward_pct of its size has its live messages copied forward
	 * into the state log (0 = never), so it can be deleted; the state
	 * log is compacted (a snapshot of every message, older state
	 * segments deleted) after state_compact_bytes were appended to it
	 * (0 = segment_size). */
	unsigned copy_forward_pct;
	uint64_t state_compact_bytes;
};

/* Fills conf with the defaults (dir "./var/queue"). */
void q_conf_defaults(struct q_conf *conf);

struct q_store;

struct q_store *q_store_open(const struct q_conf *conf, char *err,
			     size_t errlen);
void q_store_close(struct q_store *s);	/* accepts NULL */

/* Non-blocking: takes commit notices from the shards into the index,
 * prepares spare segments, group-commits the state log, retires segments.
 * Returns the number of events handled, or -errno (state log I/O failed). */
int q_store_poll(struct q_store *s);
/* An eventfd, readable when shards have handed over work for poll(). */
int q_store_fd(struct q_store *s);

enum q_state {
	Q_ST_NEW = 0,		/* durable, not yet scanned */
	Q_ST_SCANNED,		/* clean: ready for delivery */
	Q_ST_DEFERRED,		/* a delivery attempt failed; retry later */
	Q_ST_HELD,		/* held by an operator */
	Q_ST_QUARANTINED,	/* rejected content, kept for inspection */
	Q_ST_DONE,		/* every recipient final, or deleted */
	Q_ST__COUNT
};
const char *q_state_name(enum q_state st);

enum q_verdict {
	Q_VERDICT_CLEAN = 0,
	Q_VERDICT_INFECTED,
	Q_VERDICT_REJECTED,
	Q_VERDICT_SCAN_FAILED,
};

#define Q_RCPT_PENDING 0
#define Q_RCPT_DELIVERED 1
#define Q_RCPT_BOUNCED 2
#define Q_RCPT_DEFERRED 3

struct q_msg_view {
	uint64_t id;
	enum q_state state;
	const struct q_envelope *env;
	const uint8_t *body;		/* read-only mapping of the segment */
	size_t body_len;
	const char *seg_path;		/* for processes that map it themselves */
	uint64_t offset;		/* of the body within seg_path */
	uint64_t length;		/* = body_len */
	uint64_t received_wall_ns;
	uint32_t attempts;
	uint64_t next_attempt_wall_ns;
	const uint8_t *rcpt_status;	/* env->rcpt_count entries, Q_RCPT_* */
	const char *verdict;		/* last verdict detail, or NULL */
	const char *last_error;		/* last deferral reason, or NULL */
};

int q_store_get(struct q_store *s, uint64_t id, struct q_msg_view *v);
/* Next message in state st with id > after_id (ids ascending); -ENOENT. */
int q_store_next(struct q_store *s, enum q_state st, uint64_t after_id,
		 struct q_msg_view *v);

/* State changes: applied to the index at once, durable at the next
 * q_store_poll().  -ENOENT unknown id, -EINVAL bad argument or transition,
 * -EIO after a state-log failure. */
int q_store_set_verdict(struct q_store *s, uint64_t id, enum q_verdict v,
			const char *detail);
int q_store_rcpt_delivered(struct q_store *s, uint64_t id, unsigned rcpt_idx);
int q_store_rcpt_bounced(struct q_store *s, uint64_t id, unsigned rcpt_idx,
			 const char *diag);
int q_store_defer(struct q_store *s, uint64_t id, uint64_t until_wall_ns,
		  const char *last_error);	/* attempts++ */
int q_store_hold(struct q_store *s, uint64_t id);
int q_store_release(struct q_store *s, uint64_t id, const char *who);
int q_store_quarantine(struct q_store *s, uint64_t id, const char *reason);
int q_store_delete(struct q_store *s, uint64_t id);
int q_store_flush_deferred(struct q_store *s);	/* returns how many */

/* One history entry of a message, oldest first (for `queue show`). */
struct q_hist {
	uint64_t wall_ns;
	const char *what;	/* "received", "verdict", "delivered", ... */
	const char *detail;	/* may be NULL */
	int rcpt_idx;		/* -1 when not about one recipient */
};
/* Calls fn for each history entry of id; -ENOENT. */
int q_store_history(struct q_store *s, uint64_t id,
		    void (*fn)(void *arg, const struct q_hist *h), void *arg);
/* Length of the header section of the body (up to and including the empty
 * line), for `queue show`. */
size_t q_msg_header_len(const struct q_msg_view *v);

struct q_stats {
	uint64_t count[Q_ST__COUNT];
	uint64_t bytes_on_disk;		/* all segment files */
	uint64_t live_bytes;		/* records of messages not DONE */
	uint64_t segments;
	uint64_t segments_free;		/* retired, kept for reuse (.free) */
	uint64_t segments_recycled;	/* reused as new segments since open */
	uint64_t oldest_received_wall_ns;	/* 0 if empty */
	bool over_quota;		/* shards refuse new messages */
	uint64_t quota_bytes;
	uint64_t recovered_msgs, recovered_discarded_bytes;	/* at open */
	uint64_t copied_forward;	/* messages copied forward */
	uint64_t compactions;		/* state-log compactions */
};
void q_store_stats(struct q_store *s, struct q_stats *st);

/* "%016llx" of a message id into buf (>= 17 bytes). */
void q_id_fmt(uint64_t id, char buf[17]);

#endif
