/*
 * q_shard — the ingest writer of one dataplane core: messages are staged in
 * queue-owned memory while their data arrives, then appended to the shard's
 * current segment with one write and one sync per loop round (group commit).
 * Only after that sync succeeded is done(cookie, id, 0) called, and only
 * then may the session answer 250.
 *
 * Threads: q_shard_create runs on the main thread before the cores start;
 * every other function only on the owning core's thread.  No locks and no
 * malloc after create: staging buffers and commit notices come from pools
 * sized by q_conf.staging_count.  The store learns about committed messages
 * through an SPSC ring (shard -> store) and supplies prepared segments
 * through another (store -> shard), so the core never creates a file.
 *
 * I/O: in Q_IO_URING mode the shard submits SQEs to the core's ring, each
 * with user_data = ud_tag | (shard bits in the low 56 bits); the core hands
 * every CQE whose top byte matches back through q_shard_cqe().  In
 * Q_IO_THREAD mode (the default) the writes and syncs run through q_io_ops
 * on a commit thread the shard owns (started by q_shard_create, joined by
 * the store's close), and the core learns of their completion through one
 * read SQE on its ring (ud_tag as above) or, with no ring, from the next
 * q_shard_flush.  In Q_IO_SYNC mode (fault tests) q_shard_flush writes and
 * syncs through q_io_ops and calls done() before returning.
 *
 * Failure: a failed write or sync completes every message of that batch
 * and of every later batch already in flight with done(..., -EIO or the
 * error), abandons the segment (later messages go to a fresh one), and
 * tells the store, which records the failed ids as deleted so they never
 * reappear after a restart.  Messages acknowledged earlier stay intact.
 */
#ifndef Q_SHARD_H
#define Q_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "q_envelope.h"

struct io_uring;
struct io_uring_cqe;
struct q_store;
struct q_shard;
struct q_msg;

#define Q_UD_TAG_MASK 0xff00000000000000ull

typedef void (*q_shard_done_fn)(void *arg, uint64_t cookie, uint64_t id,
				int status);

/* The store's shard idx (< conf.shard_count); NULL on failure (logged). */
struct q_shard *q_shard_create(struct q_store *store, unsigned idx);

/* Binds the shard to its core.  ring may be NULL except in Q_IO_URING
 * mode (in Q_IO_THREAD mode completions are then only seen by flush).
 * ud_tag must have only bits of Q_UD_TAG_MASK set.  0 or -EINVAL. */
int q_shard_attach(struct q_shard *sh, struct io_uring *ring, uint64_t ud_tag,
		   q_shard_done_fn done, void *arg);

/* A CQE whose user_data carries this shard's ud_tag. */
void q_shard_cqe(struct q_shard *sh, const struct io_uring_cqe *cqe);

/*
 * Starts a message: encodes env into a staging buffer and assigns its id.
 * -ENOSPC over the high-water mark or no segment ready (answer 452 4.3.1),
 * -ENOMEM no staging buffer free, -E2BIG envelope too large, -EIO the shard
 * has failed and no fresh segment is ready yet.
 */
int q_shard_msg_open(struct q_shard *sh, const struct q_envelope *env,
		     uint64_t cookie, struct q_msg **m, uint64_t *id);
/* Appends body bytes.  -EFBIG past conf.msg_size_max (the message stays
 * open; the caller aborts it). */
int q_shard_msg_write(struct q_msg *m, const void *data, size_t len);
/* The body bytes written so far, in the staging buffer (valid until
 * commit or abort); for an inline look at the message before commit. */
const uint8_t *q_shard_msg_body(const struct q_msg *m, size_t *len);
uint64_t q_shard_msg_id(const struct q_msg *m);
/* Queues the message for the next group commit; m is no longer the
 * caller's. */
void q_shard_msg_commit(struct q_msg *m);
/* Drops the message; its staging buffer is free again. */
void q_shard_msg_abort(struct q_msg *m);

/* End of the core's loop round: submits every committed message (one
 * write chain + one sync).  Cheap when nothing is pending. */
void q_shard_flush(struct q_shard *sh);

/* true when msg_open would fail now (quota, pool, no segment). */
bool q_shard_full(const struct q_shard *sh);

/* Messages committed but not yet completed (tests, shutdown drain). */
unsigned q_shard_inflight(const struct q_shard *sh);

/* The group-commit data syncs of every shard so far (the counters
 * q_syncs, q_sync_ns, q_sync_le_* of `mxgatectl stats`), for benchmarks
 * that set commit latency beside the disk's. */
struct q_sync_stats {
	uint64_t syncs, ns, le_1ms, le_5ms, le_20ms, gt_20ms, errors;
	uint64_t past5_ns;	/* sum over syncs of the time past 5 ms */
};
void q_sync_stats_get(struct q_sync_stats *st);

#endif
