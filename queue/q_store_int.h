/*
 * q_store_int — structures shared by the queue's own files (store, shard,
 * segment preparation, index).  Not for use outside queue/.
 */
#ifndef Q_STORE_INT_H
#define Q_STORE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#include "q_record.h"
#include "q_store.h"

struct mx_ring;
struct q_ent;

/* One segment file.  Owned by the store; a shard only reads the immutable
 * fields (fd, seq, salt, size, align_shift) of segments handed to it. */
struct q_seg {
	uint16_t shard;		/* or Q_SEG_SHARD_STATE */
	uint8_t align_shift;
	uint64_t seq, salt, size;
	int fd;
	const uint8_t *map;	/* read-only, whole file */
	char path[PATH_MAX];
	/* writer side, touched only by the shard it was handed to: offset of
	 * the first batch whose write or sync failed, UINT64_MAX if none */
	uint64_t w_fail_off;
	/* store side */
	bool sealed;		/* no writer will append to it again */
	bool handed;		/* given to a shard */
	uint64_t msgs, live_msgs, live_bytes;
	struct q_ent *ents;	/* messages whose record is in this segment */
	/* preparation (q_seg_start/step): zeroed up to here; O_DIRECT fd */
	uint64_t zero_off;
	int zfd;
	bool recycled;		/* reused file: its header says so */
	struct q_seg *next;
};

/* Commit notices: shard -> store through sh->to_store, returned through
 * sh->free_notes. */
enum q_note_kind { Q_NOTE_COMMITTED, Q_NOTE_FAILED, Q_NOTE_SEALED };

struct q_note_ent {
	uint64_t id;
	uint64_t off;
	uint32_t len;
};

struct q_note {
	enum q_note_kind kind;
	struct q_seg *seg;
	uint32_t count;
	uint32_t cap;		/* of ent: grown by the shard as batches need */
	struct q_note_ent *ent;
};

struct q_shard;

struct q_hist_rec {
	uint64_t wall_ns;
	uint8_t type;		/* enum q_rec_type */
	uint32_t aux;
	char *text;
};

/* One message in the index.  Entries made from commit notices are lazy:
 * the envelope is decoded from the segment on first use. */
struct q_ent {
	uint64_t id;
	struct q_seg *seg;
	uint64_t off;
	uint32_t rec_len;
	struct q_ent *seg_prev, *seg_next;
	bool loaded;
	struct q_envelope env;
	void *env_mem;
	const uint8_t *body;
	size_t body_len;
	uint8_t state;		/* enum q_state */
	uint8_t held_from;
	uint32_t attempts;
	uint64_t next_attempt_wall_ns;
	uint8_t *rcpt_status;
	char *verdict, *last_error;
	struct q_hist_rec *hist;
	uint32_t nhist, hist_cap;
};

#define Q_SEG_RETRY_NS 1000000000ull	/* segment creation retry */

struct q_store {
	struct q_conf conf;
	const struct q_io_ops *io;
	int lock_fd;
	int efd;
	struct q_shard *shards[Q_SHARD_MAX];
	uint64_t next_seq[Q_SHARD_MAX];	/* next ingest segment per shard */
	uint64_t recovered_max_id[Q_SHARD_MAX];
	struct q_seg *segs;		/* every segment we know */
	struct q_seg *prep[Q_SHARD_MAX];	/* spare being prepared */
	/* retired segments kept for reuse (.free files), per shard */
	struct q_seg *pool[Q_SHARD_MAX];
	unsigned npool[Q_SHARD_MAX];
	uint64_t pool_bytes, recycled;
	uint64_t prep_budget;		/* zero bytes per poll, UINT64_MAX = all */
	uint64_t prep_tokens, prep_last_ns, prep_zeroed;	/* pacing */
	uint64_t win_bytes, win_start_ns, win_rate;	/* ingest rate */
	/* state log */
	struct q_seg *state_seg;
	uint64_t state_off;		/* next append offset */
	uint64_t state_next_seq;
	uint8_t *pend;			/* encoded, not yet written */
	size_t pend_len, pend_size;
	bool failed;			/* state log I/O failed */
	uint64_t state_since_compact;	/* state log bytes since compaction */
	uint64_t last_compact_bytes;	/* what the last compaction wrote */
	uint64_t copied_msgs, compactions;	/* for stats and tests */
	/* index */
	struct q_index *idx;
	/* the same entries by state, for q_store_next; if an insert ever
	 * failed (ENOMEM) by_state_ok is false and next() scans idx */
	struct q_index *by_state[Q_ST__COUNT];
	bool by_state_ok;
	uint64_t count[Q_ST__COUNT];
	atomic_bool over_quota;
	/* Segment creation failing (the file system is full below the
	 * quota, or I/O errors): shards with no segment left fail what they
	 * hold with -ENOSPC instead of waiting, and creation is retried at
	 * most every Q_SEG_RETRY_NS rather than on every poll. */
	atomic_bool seg_fail;
	uint64_t seg_retry_ns;
	uint64_t disk_bytes;
	uint64_t live_bytes;
	uint64_t recovered_msgs, recovered_discarded;
};

/* Makes a segment ready in one go (q_seg_start + q_seg_step to the end). */
struct q_seg *q_seg_create(struct q_store *s, uint16_t shard, uint64_t seq,
			   char *err, size_t errlen);
/* Creates the file under a .tmp name; q_seg_step then zeroes up to budget
 * bytes a call and returns 1 once the segment is ready under its real
 * name (0 = call again, -errno = failed: q_seg_abort it). */
struct q_seg *q_seg_start(struct q_store *s, uint16_t shard, uint64_t seq,
			  char *err, size_t errlen);
int q_seg_step(struct q_store *s, struct q_seg *seg, uint64_t budget,
	       char *err, size_t errlen);
void q_seg_abort(struct q_store *s, struct q_seg *seg);
/* Recycling (q_record.c): whether a retired segment can be reused; renames
 * it to its .free name for the pool (durably; on failure seg->path names
 * the file wherever it is, for q_seg_free to delete); takes a .free file
 * found at recovery into the pool (NULL if it does not fit this
 * configuration); turns a pooled segment into a spare in preparation
 * (under the .tmp name of seq, needing no zeroing: q_seg_step finishes
 * it; on failure the segment stays where it was). */
bool q_seg_can_recycle(const struct q_store *s, const struct q_seg *seg);
int q_seg_retire_free(struct q_store *s, struct q_seg *seg);
struct q_seg *q_seg_free_adopt(struct q_store *s, uint16_t shard,
			       const char *path);
struct q_seg *q_seg_recycle(struct q_store *s, struct q_seg *seg, uint64_t seq,
			    char *err, size_t errlen);
int q_seg_map(struct q_store *s, struct q_seg *seg);
void q_seg_free(struct q_store *s, struct q_seg *seg, bool unlink_file);
void q_seg_path(const struct q_store *s, uint16_t shard, uint64_t seq,
		char *buf, size_t size);

/* Starts a new state-log segment (the current one is sealed). */
int q_store_state_seg_new(struct q_store *s, char *err, size_t errlen);
/* Drops every index entry of seg. */
void q_store_ents_free(struct q_store *s, struct q_seg *seg);

/* Tops up every shard's ring of prepared segments to conf.spare_segments
 * (at most want_max of them if it is not 0); how many were made. */
int q_store_supply_spares(struct q_store *s, unsigned want_max);

/* shard internals the store drives */
void q_shard_destroy(struct q_shard *sh);
struct mx_ring *q_shard_to_store(struct q_shard *sh);
struct mx_ring *q_shard_free_notes(struct q_shard *sh);
struct mx_ring *q_shard_spares(struct q_shard *sh);
/* Store side, after it pushed notices back to q_shard_free_notes(): wakes
 * the core if it ran out of them with acknowledgements waiting. */
void q_shard_notes_returned(struct q_shard *sh);

/* index entry apply (q_store_state.c) */
/* Adds (or, for a copy, moves) a message; r may be NULL for a lazy entry
 * made from a commit notice of len bytes. */
int q_store_index_msg(struct q_store *s, struct q_seg *seg, uint64_t id,
		      uint64_t off, uint32_t len, const struct q_rec *r);
int q_store_apply(struct q_store *s, const struct q_rec *r, bool replay);
void q_store_ent_free(struct q_ent *e);
/* SNAPSHOT record of e's whole state into buf (unsealed); -errno. */
long q_store_snapshot_encode(struct q_ent *e, uint8_t *buf, size_t size);
/* Indexes a message whose commit failed, already final (DONE). */
int q_store_index_failed(struct q_store *s, struct q_seg *seg, uint64_t id,
			 uint64_t off, uint32_t len);
/* Copy-forward and state-log compaction (q_compact.c): from poll, after
 * the state log is synced.  Returns work done or -errno (state log). */
int q_compact_poll(struct q_store *s);
/* Drops e from the index (both views) and frees it. */
void q_store_ent_drop(struct q_store *s, struct q_ent *e);
/* Writes and syncs the pending state records; 0 or -errno. */
int q_store_state_commit(struct q_store *s);
/* Appends one state record to the pending buffer (not applied). */
int q_store_state_append(struct q_store *s, uint8_t type, uint32_t aux,
			 uint64_t id, uint64_t wall_ns, uint64_t until,
			 const char *text);

#endif
