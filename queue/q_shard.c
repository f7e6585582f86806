/*
 * q_shard — the ingest writer of one dataplane core (see q_shard.h).
 *
 * Life of a message: msg_open takes a staging slot (a fixed-size region of
 * one anonymous mapping made at create time) and encodes the envelope after
 * room for the record header; msg_write appends body bytes; msg_commit puts
 * it on the pending list.  flush() packs pending messages into a batch: it
 * assigns each its offset in the current segment, fills in the record
 * header and CRC, and writes the whole batch with one vectored write straight
 * from the staging slots (no copy), followed by one linked fdatasync — or,
 * in O_DIRECT mode, one RWF_DSYNC write, records padded to 4 KiB.
 *
 * Batches complete in FIFO order: a batch is acknowledged only when it and
 * every batch before it finished, so an acknowledged record never sits
 * behind one that may be torn.  Acknowledging calls done() per message,
 * hands a commit notice to the store (carrying id, offset and length) and
 * frees the staging slots.  A shard has NOTES notices (hundreds of
 * milliseconds of batches); should the store hold them all, because it
 * sat in a slow unlink or sync, acknowledgement waits and the store wakes
 * the core when it returns some (q_shard_notes_returned), rather than the
 * core finding out at its next timer tick.
 *
 * Q_IO_THREAD: the core hands finished batches, in order, to the shard's
 * commit thread, which writes each with one pwritev and then makes all it
 * took with one fdatasync per segment file, so batches that queue up
 * behind a slow sync are committed together.  The two threads share only
 * two counters: `handed` (batches given, written by the core) and
 * `finished` (batches done, written by the thread); the n-th batch ever
 * handed over sits in slot n % BATCHES, which the core does not reuse
 * before the thread finished it.  An eventfd wakes the thread; another,
 * read through the core's ring, wakes the core.  This is the default
 * because it measured better here than io_uring's own offload of the same
 * calls (an fdatasync in flight from io-wq workers on two shards showed
 * 15-25 ms stalls every ~100 ms; see perf/queue/bench_queue -i).
 *
 * user_data of our SQEs: ud_tag | batch index << 8 | op.
 */
#include "q_shard.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mx_counter.h"
#include "mx_log.h"
#include "mx_ring.h"
#include "mx_time.h"
#include "q_store_int.h"

/* How long the data syncs of group commits take (queue.io = thread, and
 * the blocking Q_IO_SYNC mode): what the disk adds to every 250, so a
 * benchmark can set the gateway's latency beside the device's in the same
 * run.  Buckets, not a histogram type: each is a plain counter.
 * q_sync_past5_ns sums, over syncs longer than 5 ms, their length minus
 * 5 ms: the time during which a message whose data completes then waits
 * more than 5 ms for the running sync alone (it ends more than 5 ms
 * later).  That sum over a run's length is a lower bound, set by the
 * disk, on the share of 250s later than 5 ms. */
#define Q_SYNC_COUNTERS(X)                                                     \
	X(q_syncs, "data syncs of ingest segments (group commits)")          \
	X(q_sync_ns, "time spent in those syncs, nanoseconds")                \
	X(q_sync_le_1ms, "syncs that took at most 1 ms")                      \
	X(q_sync_le_5ms, "syncs that took more than 1 ms, at most 5 ms")      \
	X(q_sync_le_20ms, "syncs that took more than 5 ms, at most 20 ms")    \
	X(q_sync_gt_20ms, "syncs that took more than 20 ms")                  \
	X(q_sync_past5_ns, "sum over syncs over 5 ms of their length - 5 ms, ns") \
	X(q_sync_errors, "syncs that failed")
enum q_sync_counter { Q_SYNC_COUNTERS(MX_COUNTER_ENUM) Q_SC__COUNT };
MX_COUNTER_SET_DEFINE(q_sync_counters, "queue", Q_SYNC_COUNTERS);

void q_sync_stats_get(struct q_sync_stats *st)
{
	const struct mx_counter_set *c = &q_sync_counters;

	st->syncs = mx_counter_sum(c, q_syncs);
	st->ns = mx_counter_sum(c, q_sync_ns);
	st->le_1ms = mx_counter_sum(c, q_sync_le_1ms);
	st->le_5ms = mx_counter_sum(c, q_sync_le_5ms);
	st->le_20ms = mx_counter_sum(c, q_sync_le_20ms);
	st->gt_20ms = mx_counter_sum(c, q_sync_gt_20ms);
	st->past5_ns = mx_counter_sum(c, q_sync_past5_ns);
	st->errors = mx_counter_sum(c, q_sync_errors);
}

/* fdatasync through the I/O table, counted. */
static int timed_sync(const struct q_io_ops *io, int fd)
{
	uint64_t t0 = mx_now_ns(), d;
	int rc = io->fdatasync(io->ctx, fd);

	d = mx_now_ns() - t0;
	MX_COUNT(q_sync_counters, q_syncs);
	MX_COUNT_ADD(q_sync_counters, q_sync_ns, d);
	if (rc < 0)
		MX_COUNT(q_sync_counters, q_sync_errors);
	if (d <= 1000000)
		MX_COUNT(q_sync_counters, q_sync_le_1ms);
	else if (d <= 5000000)
		MX_COUNT(q_sync_counters, q_sync_le_5ms);
	else if (d <= 20000000)
		MX_COUNT(q_sync_counters, q_sync_le_20ms);
	else
		MX_COUNT(q_sync_counters, q_sync_gt_20ms);
	if (d > 5000000)
		MX_COUNT_ADD(q_sync_counters, q_sync_past5_ns, d - 5000000);
	return rc;
}

#define BATCHES 16		/* batch slots per shard: q_conf.batches_max <= */
#define NOTES 512		/* commit notices per shard */
#define NOTE_CAP0 16		/* entries a notice starts with */
#define BATCH_MSGS_MAX 1024	/* one writev: IOV_MAX */
#define MSG_HDR (Q_REC_HDR_SIZE + 4)	/* record header + env_len */

enum { OP_WRITE = 1, OP_SYNC = 2, OP_EFD = 3, OP_WAKE = 4 };

struct q_msg {
	struct q_shard *sh;
	uint8_t *buf;
	size_t len;		/* record bytes so far */
	size_t body_off;	/* where the body starts in buf */
	uint64_t id, cookie;
	uint64_t off;		/* in the segment, once batched */
	unsigned slot;
};

struct q_batch {
	struct q_seg *seg;
	struct q_msg **msgs;
	struct iovec *iov;
	uint32_t count;
	unsigned niov;		/* count, + 1 with a page-fill tail */
	uint64_t off, bytes;
	unsigned ops;		/* CQEs still to come */
	int err;
	bool seal_after;	/* last batch of its segment */
};

/* Q_IO_THREAD: the commit thread of a shard. */
struct q_committer {
	pthread_t th;
	bool started;
	int kick_fd;		/* core -> thread */
	_Atomic uint64_t handed;	/* batches handed over; core writes */
	_Atomic uint64_t finished;	/* batches done; thread writes */
	_Atomic bool stop;
	uint64_t reaped;	/* core: finished batches taken back */
	/* thread only: after a failed write, later batches of that segment
	 * fail too rather than land behind the hole */
	const struct q_seg *fail_seg;
	int fail_err;
};

struct q_shard {
	struct q_store *store;
	unsigned idx;
	const struct q_io_ops *io;
	int io_mode, sync_method, durability;
	unsigned batches_max;	/* batches (syncs) in flight at once */
	struct io_uring *ring;
	uint64_t ud_tag;
	q_shard_done_fn done;
	void *done_arg;

	size_t slot_size;
	uint64_t msg_size_max;
	uint8_t *staging;
	size_t staging_len;
	struct q_msg *msgs;
	unsigned nmsgs;
	unsigned *free_slots;
	unsigned nfree;
	struct q_msg **pending;
	unsigned npending;
	unsigned batch_max;

	struct q_batch batches[BATCHES];
	unsigned b_head, b_count;	/* FIFO of batches in flight */
	unsigned inflight;

	struct q_seg *cur;
	uint64_t cur_off;
	struct q_seg *seal_q[BATCHES + 2];
	unsigned nseal;

	struct q_note *notes;	/* NOTES of them */
	struct mx_ring *to_store, *free_notes, *spares;
	struct q_note *held;	/* taken from free_notes, not yet used */
	_Atomic bool note_wait;	/* acks wait for the store to return notices */

	/* Wakes the core through a read on its ring: the commit thread when
	 * batches are done, the store when it returns notices. */
	int wake_fd;
	uint64_t wake_buf;
	bool wake_armed;	/* a read of wake_fd is in the core's ring */

	uint64_t id_secs;
	uint32_t id_seq;
	uint64_t efd_val;
	struct q_committer cm;
};

struct mx_ring *q_shard_to_store(struct q_shard *sh)
{
	return sh->to_store;
}

struct mx_ring *q_shard_free_notes(struct q_shard *sh)
{
	return sh->free_notes;
}

struct mx_ring *q_shard_spares(struct q_shard *sh)
{
	return sh->spares;
}

/* Commit thread: writes batches [from, to) in order, then syncs each
 * segment file they touched once.  A batch's err is set before `finished`
 * moves past it. */
static void commit_run(struct q_shard *sh, uint64_t from, uint64_t to)
{
	struct q_committer *c = &sh->cm;
	int fds[BATCHES], nfd = 0;

	for (uint64_t q = from; q < to; q++) {
		struct q_batch *b = &sh->batches[q % BATCHES];
		ssize_t n;
		int k;

		/* Batches come in order, and the core moves to a fresh
		 * segment only after it took the failure back: a batch of
		 * another segment means the failed one is behind us (its
		 * memory may be reused for a new segment later). */
		if (c->fail_seg && b->seg != c->fail_seg)
			c->fail_seg = NULL;
		if (b->seg == c->fail_seg) {
			b->err = c->fail_err;
			continue;
		}
		n = sh->io->pwritev(sh->io->ctx, b->seg->fd, b->iov,
				    (int)b->niov, (off_t)b->off);
		b->err = n < 0 ? (int)n : (uint64_t)n != b->bytes ? -EIO : 0;
		if (b->err) {
			c->fail_seg = b->seg;
			c->fail_err = b->err;
			continue;
		}
		for (k = 0; k < nfd && fds[k] != b->seg->fd; k++)
			;
		if (k == nfd)
			fds[nfd++] = b->seg->fd;
	}
	if (sh->durability != Q_DURABILITY_SYNC)
		return;
	for (int k = 0; k < nfd; k++) {
		int rc = timed_sync(sh->io, fds[k]);

		if (rc >= 0)
			continue;
		for (uint64_t q = from; q < to; q++) {
			struct q_batch *b = &sh->batches[q % BATCHES];

			if (b->seg->fd != fds[k])
				continue;
			if (!b->err)
				b->err = rc;
			c->fail_seg = b->seg;
			c->fail_err = rc;
		}
	}
}

static void kick(int fd)
{
	uint64_t v = 1;

	if (write(fd, &v, sizeof(v)) < 0)
		mx_panic("queue: eventfd write: %s", strerror(errno));
}

static void *committer_main(void *arg)
{
	struct q_shard *sh = arg;
	struct q_committer *c = &sh->cm;
	uint64_t done = 0, upto, v;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	mx_counter_thread_attach();
	for (;;) {
		upto = atomic_load_explicit(&c->handed, memory_order_acquire);
		if (upto == done) {
			if (atomic_load(&c->stop)) {
				mx_counter_thread_detach();
				return NULL;
			}
			/* The core bumps `handed` before it kicks, and an
			 * eventfd keeps a count: no wake-up is lost. */
			if (read(c->kick_fd, &v, sizeof(v)) < 0 && errno != EINTR)
				mx_panic("queue: commit thread kick: %s",
					 strerror(errno));
			continue;
		}
		commit_run(sh, done, upto);
		done = upto;
		atomic_store_explicit(&c->finished, done, memory_order_release);
		kick(sh->wake_fd);
	}
}

static int committer_start(struct q_shard *sh)
{
	struct q_committer *c = &sh->cm;
	char name[16];
	int rc;

	c->kick_fd = eventfd(0, EFD_CLOEXEC);
	if (c->kick_fd < 0)
		return -errno;
	rc = pthread_create(&c->th, NULL, committer_main, sh);
	if (rc)
		return -rc;
	c->started = true;
	snprintf(name, sizeof(name), "mx-commit-%u", sh->idx);
	pthread_setname_np(c->th, name);
	return 0;
}

static void committer_stop(struct q_shard *sh)
{
	struct q_committer *c = &sh->cm;

	if (c->started) {
		atomic_store(&c->stop, true);
		kick(c->kick_fd);
		pthread_join(c->th, NULL);
		c->started = false;
	}
	if (c->kick_fd >= 0)
		close(c->kick_fd);
	c->kick_fd = -1;
}

void q_shard_destroy(struct q_shard *sh)
{
	if (!sh)
		return;
	committer_stop(sh);
	if (sh->wake_fd >= 0)
		close(sh->wake_fd);
	if (sh->staging)
		munmap(sh->staging, sh->staging_len);
	for (unsigned i = 0; i < BATCHES; i++) {
		free(sh->batches[i].msgs);
		free(sh->batches[i].iov);
	}
	for (unsigned i = 0; sh->notes && i < NOTES; i++)
		free(sh->notes[i].ent);
	free(sh->notes);
	free(sh->msgs);
	free(sh->free_slots);
	free(sh->pending);
	mx_ring_destroy(sh->to_store);
	mx_ring_destroy(sh->free_notes);
	mx_ring_destroy(sh->spares);
	free(sh);
}

struct q_shard *q_shard_create(struct q_store *s, unsigned idx)
{
	const struct q_conf *c = &s->conf;
	struct q_shard *sh;
	uint64_t rec_secs;

	if (idx >= c->shard_count || s->shards[idx]) {
		mx_log(MX_LOG_ERR, "queue", "msg=\"bad shard index\" shard=%u",
		       idx);
		return NULL;
	}
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return NULL;
	sh->cm.kick_fd = sh->wake_fd = -1;
	sh->store = s;
	sh->idx = idx;
	sh->io = s->io;
	sh->io_mode = c->io_mode;
	sh->sync_method = c->sync_method;
	sh->durability = c->durability;
	sh->batches_max = c->batches_max;
	sh->msg_size_max = c->msg_size_max;
	sh->nmsgs = c->staging_count;
	sh->batch_max = sh->nmsgs < BATCH_MSGS_MAX ? sh->nmsgs : BATCH_MSGS_MAX;
	/* Room for the record header, the envelope and body, and the padding
	 * to a 4 KiB boundary O_DIRECT needs. */
	sh->slot_size = q_rec_padded(MSG_HDR + c->msg_size_max, 12);
	sh->staging_len = sh->slot_size * sh->nmsgs;
	sh->staging = mmap(NULL, sh->staging_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh->staging == MAP_FAILED) {
		sh->staging = NULL;
		goto fail;
	}
	sh->msgs = calloc(sh->nmsgs, sizeof(*sh->msgs));
	sh->free_slots = calloc(sh->nmsgs, sizeof(*sh->free_slots));
	sh->pending = calloc(sh->nmsgs, sizeof(*sh->pending));
	sh->notes = calloc(NOTES, sizeof(*sh->notes));
	sh->to_store = mx_ring_create(NOTES);
	sh->free_notes = mx_ring_create(NOTES);
	sh->spares = mx_ring_create(16);
	if (!sh->msgs || !sh->free_slots || !sh->pending || !sh->notes ||
	    !sh->to_store || !sh->free_notes || !sh->spares)
		goto fail;
	for (unsigned i = 0; i < sh->nmsgs; i++) {
		sh->msgs[i].sh = sh;
		sh->msgs[i].slot = i;
		sh->msgs[i].buf = sh->staging + (size_t)i * sh->slot_size;
		sh->free_slots[sh->nfree++] = sh->nmsgs - 1 - i;
	}
	for (unsigned i = 0; i < BATCHES; i++) {
		sh->batches[i].msgs = calloc(sh->batch_max, sizeof(void *));
		sh->batches[i].iov = calloc(sh->batch_max + 1,
					    sizeof(struct iovec));
		if (!sh->batches[i].msgs || !sh->batches[i].iov)
			goto fail;
	}
	for (unsigned i = 0; i < NOTES; i++) {
		sh->notes[i].cap = NOTE_CAP0;
		sh->notes[i].ent = calloc(NOTE_CAP0, sizeof(struct q_note_ent));
		if (!sh->notes[i].ent || !mx_ring_push(sh->free_notes, &sh->notes[i]))
			goto fail;
	}
	if (sh->io_mode != Q_IO_SYNC) {
		sh->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (sh->wake_fd < 0)
			goto fail;
	}
	/* Ids: wall seconds in the top half, never below what a previous run
	 * of this shard used, so ids stay unique across restarts. */
	sh->id_secs = mx_wall_ns() / 1000000000u;
	rec_secs = s->recovered_max_id[idx] >> 32;
	if (s->recovered_max_id[idx] && sh->id_secs <= rec_secs)
		sh->id_secs = rec_secs + 1;
	sh->efd_val = 1;
	if (sh->io_mode == Q_IO_THREAD && committer_start(sh) < 0)
		goto fail;
	s->shards[idx] = sh;
	/* One spare now, so the core can take mail at once; the store's
	 * paced preparation makes the rest while it runs. */
	q_store_supply_spares(s, 1);
	return sh;
fail:
	mx_log(MX_LOG_ERR, "queue", "msg=\"shard create failed\" shard=%u", idx);
	q_shard_destroy(sh);
	return NULL;
}

int q_shard_attach(struct q_shard *sh, struct io_uring *ring, uint64_t ud_tag,
		   q_shard_done_fn done, void *arg)
{
	if ((ud_tag & ~Q_UD_TAG_MASK) || !done ||
	    (sh->io_mode == Q_IO_URING && !ring))
		return -EINVAL;
	sh->ring = ring;
	sh->ud_tag = ud_tag;
	sh->done = done;
	sh->done_arg = arg;
	return 0;
}

static bool cur_usable(const struct q_shard *sh)
{
	return sh->cur && sh->cur->w_fail_off == UINT64_MAX;
}

bool q_shard_full(const struct q_shard *sh)
{
	return atomic_load_explicit(&sh->store->over_quota,
				    memory_order_relaxed) ||
	       sh->nfree == 0 ||
	       (!cur_usable(sh) && mx_ring_count(sh->spares) == 0);
}

unsigned q_shard_inflight(const struct q_shard *sh)
{
	return sh->inflight;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int q_shard_msg_open(struct q_shard *sh, const struct q_envelope *env,
		     uint64_t cookie, struct q_msg **mp, uint64_t *id)
{
	struct q_msg *m;
	long elen;

	if (atomic_load_explicit(&sh->store->over_quota, memory_order_relaxed))
		return -ENOSPC;
	if (!cur_usable(sh) && mx_ring_count(sh->spares) == 0)
		return sh->cur && !atomic_load_explicit(&sh->store->seg_fail,
							memory_order_relaxed)
			       ? -EIO
			       : -ENOSPC;
	if (sh->nfree == 0)
		return -ENOMEM;
	m = &sh->msgs[sh->free_slots[sh->nfree - 1]];
	elen = q_envelope_encode(env, m->buf + MSG_HDR, sh->msg_size_max);
	if (elen < 0)
		return elen == -ENOBUFS ? -E2BIG : (int)elen;
	sh->nfree--;
	put32(m->buf + Q_REC_HDR_SIZE, (uint32_t)elen);
	m->len = MSG_HDR + (size_t)elen;
	m->body_off = m->len;
	m->cookie = cookie;
	m->id = sh->id_secs << 32 |
		(uint64_t)sh->idx << Q_ID_SEQ_BITS | sh->id_seq;
	if (++sh->id_seq == 1u << Q_ID_SEQ_BITS) {
		sh->id_seq = 0;
		sh->id_secs++;
	}
	*mp = m;
	*id = m->id;
	return 0;
}

int q_shard_msg_write(struct q_msg *m, const void *data, size_t len)
{
	if (len > m->sh->msg_size_max + MSG_HDR - m->len)
		return -EFBIG;
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	return 0;
}

uint64_t q_shard_msg_id(const struct q_msg *m)
{
	return m->id;
}

const uint8_t *q_shard_msg_body(const struct q_msg *m, size_t *len)
{
	*len = m->len - m->body_off;
	return m->buf + m->body_off;
}

static void slot_free(struct q_shard *sh, struct q_msg *m)
{
	sh->free_slots[sh->nfree++] = m->slot;
}

void q_shard_msg_commit(struct q_msg *m)
{
	struct q_shard *sh = m->sh;

	q_rec_hdr_fill(m->buf, (uint32_t)m->len, Q_REC_MSG, 0, m->id,
		       mx_wall_ns());
	sh->pending[sh->npending++] = m;
	sh->inflight++;
}

void q_shard_msg_abort(struct q_msg *m)
{
	slot_free(m->sh, m);
}

/* Moves to the next prepared segment; false if none is ready. */
static bool seg_switch(struct q_shard *sh)
{
	struct q_seg *next = mx_ring_pop(sh->spares);

	if (!next)
		return false;
	if (sh->cur) {
		if (sh->b_count) {
			unsigned last = (sh->b_head + sh->b_count - 1) % BATCHES;

			sh->batches[last].seal_after = true;
		} else {
			sh->seal_q[sh->nseal++] = sh->cur;
		}
	}
	sh->cur = next;
	sh->cur_off = Q_SEG_HDR_SIZE;
	return true;
}

static void ring_eventfd(struct q_shard *sh)
{
	struct io_uring_sqe *sqe;

	if (sh->io_mode == Q_IO_SYNC || !sh->ring) {
		ssize_t n = write(sh->store->efd, &sh->efd_val, 8);

		(void)n;
		return;
	}
	sqe = io_uring_get_sqe(sh->ring);
	if (!sqe)
		return;		/* the store polls on a timer as well */
	io_uring_prep_write(sqe, sh->store->efd, &sh->efd_val, 8, 0);
	sqe->user_data = sh->ud_tag | OP_EFD;
}

/* A free notice with room for count entries, or NULL: then the store has
 * all of them, and it wakes the core when it gives some back. */
static struct q_note *note_get(struct q_shard *sh, uint32_t count)
{
	struct q_note *n = sh->held;
	uint32_t cap;
	void *ent;

	if (!n)
		n = mx_ring_pop(sh->free_notes);
	if (!n) {
		/* Say so before looking again: a notice the store returns in
		 * between is either seen here or followed by a wake-up. */
		atomic_store(&sh->note_wait, true);
		atomic_thread_fence(memory_order_seq_cst);
		n = mx_ring_pop(sh->free_notes);
		if (!n)
			return NULL;
	}
	sh->held = n;
	if (n->cap < count) {
		for (cap = n->cap ? n->cap : NOTE_CAP0; cap < count; cap *= 2)
			;
		ent = realloc(n->ent, cap * sizeof(*n->ent));
		if (!ent)
			return NULL;	/* kept in held; tried again next time */
		n->ent = ent;
		n->cap = cap;
	}
	sh->held = NULL;
	return n;
}

void q_shard_notes_returned(struct q_shard *sh)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (sh->wake_fd >= 0 && atomic_exchange(&sh->note_wait, false))
		kick(sh->wake_fd);
}

/* Acknowledges finished batches in order and publishes notices.  An
 * acknowledgement goes with its notice: the store learns of every message
 * a client was told is safe. */
static void publish(struct q_shard *sh)
{
	bool told = false;

	while (sh->b_count) {
		struct q_batch *b = &sh->batches[sh->b_head];
		struct q_note *n;

		if (b->ops)
			break;
		n = note_get(sh, b->count);
		if (!n)
			break;
		/* A failure poisons the rest of the segment: later records may
		 * sit behind a hole, so they are failed too. */
		if (!b->err && b->off > b->seg->w_fail_off)
			b->err = -EIO;
		n->kind = b->err ? Q_NOTE_FAILED : Q_NOTE_COMMITTED;
		n->seg = b->seg;
		n->count = b->count;
		for (uint32_t i = 0; i < b->count; i++) {
			struct q_msg *m = b->msgs[i];

			n->ent[i].id = m->id;
			n->ent[i].off = m->off;
			n->ent[i].len = (uint32_t)m->len;
			sh->done(sh->done_arg, m->cookie, m->id, b->err);
			slot_free(sh, m);
		}
		sh->inflight -= b->count;
		if (b->err)
			MX_LOG_RL(MX_LOG_ERR, "queue",
				  "msg=\"commit failed\" shard=%u seq=%llu "
				  "msgs=%u err=%d", sh->idx,
				  (unsigned long long)b->seg->seq, b->count,
				  b->err);
		if (!mx_ring_push(sh->to_store, n))
			mx_panic("queue: notice ring overflow");
		told = true;
		if (b->seal_after)
			sh->seal_q[sh->nseal++] = b->seg;
		sh->b_head = (sh->b_head + 1) % BATCHES;
		sh->b_count--;
	}
	while (sh->nseal) {
		struct q_note *n = note_get(sh, 0);

		if (!n)
			break;
		n->kind = Q_NOTE_SEALED;
		n->seg = sh->seal_q[0];
		n->count = 0;
		memmove(sh->seal_q, sh->seal_q + 1,
			--sh->nseal * sizeof(sh->seal_q[0]));
		if (!mx_ring_push(sh->to_store, n))
			mx_panic("queue: notice ring overflow");
		told = true;
	}
	if (told)
		ring_eventfd(sh);
}

static int io_res(struct q_shard *sh, int fd, enum q_io_kind k, int res)
{
	return sh->io->cqe_res ? sh->io->cqe_res(sh->io->ctx, fd, k, res) : res;
}

/* Records where the segment went bad, so nothing after it is written or
 * acknowledged there. */
static void batch_failed(struct q_batch *b)
{
	if (b->err && b->off < b->seg->w_fail_off)
		b->seg->w_fail_off = b->off;
}

/* Q_IO_THREAD, core side: takes back the batches the commit thread
 * finished, and keeps one read of its wake-up eventfd in the ring while
 * batches are out (with no ring, q_shard_flush polls). */
static void reap(struct q_shard *sh)
{
	struct q_committer *c = &sh->cm;
	uint64_t fin = atomic_load_explicit(&c->finished, memory_order_acquire);

	for (; c->reaped < fin; c->reaped++) {
		struct q_batch *b = &sh->batches[c->reaped % BATCHES];

		b->ops = 0;
		batch_failed(b);
	}
}

/* Keeps one read of wake_fd in the core's ring while the core waits for
 * the commit thread (batches out) or for the store (notices). */
static bool arm_wake(struct q_shard *sh)
{
	struct io_uring_sqe *sqe;

	if (!sh->ring || sh->wake_fd < 0 || sh->wake_armed ||
	    !((sh->io_mode == Q_IO_THREAD && sh->b_count) ||
	      atomic_load(&sh->note_wait)))
		return false;
	sqe = io_uring_get_sqe(sh->ring);
	if (!sqe) {
		io_uring_submit(sh->ring);
		sqe = io_uring_get_sqe(sh->ring);
	}
	if (!sqe)
		return false;	/* the next flush tries again */
	io_uring_prep_read(sqe, sh->wake_fd, &sh->wake_buf,
			   sizeof(sh->wake_buf), 0);
	sqe->user_data = sh->ud_tag | OP_WAKE;
	sh->wake_armed = true;
	return true;
}

static void submit_sync(struct q_shard *sh, struct q_batch *b)
{
	ssize_t n = sh->io->pwritev(sh->io->ctx, b->seg->fd, b->iov,
				    (int)b->niov, (off_t)b->off);

	if (n < 0)
		b->err = (int)n;
	else if ((uint64_t)n != b->bytes)
		b->err = -EIO;
	if (!b->err && sh->durability == Q_DURABILITY_SYNC)
		b->err = timed_sync(sh->io, b->seg->fd);
	b->ops = 0;
	batch_failed(b);
}

static void submit_ring(struct q_shard *sh, struct q_batch *b, unsigned bi)
{
	bool want_sync = sh->durability == Q_DURABILITY_SYNC;
	bool dsync = want_sync && sh->sync_method == Q_SYNC_ODIRECT_DSYNC;
	bool fsync_op = want_sync && !dsync;
	unsigned need = fsync_op ? 2 : 1;
	struct io_uring_sqe *w, *f = NULL;

	/* Both SQEs or neither: a write must never go without its sync. */
	if (io_uring_sq_space_left(sh->ring) < need)
		io_uring_submit(sh->ring);
	if (io_uring_sq_space_left(sh->ring) < need) {
		b->err = -EBUSY;
		b->ops = 0;
		batch_failed(b);
		return;
	}
	w = io_uring_get_sqe(sh->ring);
	if (fsync_op)
		f = io_uring_get_sqe(sh->ring);
	io_uring_prep_writev(w, b->seg->fd, b->iov, b->niov, b->off);
	w->user_data = sh->ud_tag | (uint64_t)bi << 8 | OP_WRITE;
	if (dsync)
		w->rw_flags = RWF_DSYNC;
	b->ops = 1;
	if (f) {
		w->flags |= IOSQE_IO_LINK;
		io_uring_prep_fsync(f, b->seg->fd, IORING_FSYNC_DATASYNC);
		f->user_data = sh->ud_tag | (uint64_t)bi << 8 | OP_SYNC;
		b->ops = 2;
	}
}

void q_shard_cqe(struct q_shard *sh, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data & ~Q_UD_TAG_MASK;
	unsigned op = ud & 0xff, bi = (unsigned)(ud >> 8) & 0xffff;
	struct q_batch *b;
	int res;

	if (op == OP_WAKE) {
		sh->wake_armed = false;
		if (sh->io_mode == Q_IO_THREAD)
			reap(sh);
		publish(sh);
		if (arm_wake(sh))
			io_uring_submit(sh->ring);
		return;
	}
	if (op == OP_EFD || bi >= BATCHES)
		return;
	b = &sh->batches[bi];
	MX_ASSERT(b->ops > 0);
	res = io_res(sh, b->seg->fd, op == OP_WRITE ? Q_IO_K_WRITE : Q_IO_K_SYNC,
		     cqe->res);
	if (op == OP_WRITE && res >= 0 && (uint64_t)res != b->bytes)
		res = -EIO;
	/* After a failed write the linked sync comes back -ECANCELED; the
	 * first error is the one reported. */
	if (res < 0 && !b->err) {
		b->err = res;
		batch_failed(b);
	}
	b->ops--;
	publish(sh);
	if (arm_wake(sh))
		io_uring_submit(sh->ring);
}

/* Buffered segments: the batch's write runs on to the end of its last
 * page with zeros (what the pre-zeroed segment holds there anyway), so the
 * kernel never has to read that page from disk first (a synchronous read
 * inside the write, once per batch, that showed as tail latency).  The
 * next batch starts at cur_off as before and rewrites that page whole; the
 * page is then in the cache. */
static void page_fill(struct q_shard *sh, struct q_batch *b,
		      const struct q_seg *seg)
{
	static const uint8_t zeros[4096];
	uint64_t end = q_rec_padded(sh->cur_off, 12);

	if (seg->align_shift >= 12 || end == sh->cur_off || end > seg->size)
		return;
	b->iov[b->niov].iov_base = (void *)zeros;
	b->iov[b->niov].iov_len = end - sh->cur_off;
	b->niov++;
	b->bytes += end - sh->cur_off;
}

void q_shard_flush(struct q_shard *sh)
{
	unsigned taken = 0, handed = 0;
	bool submitted = false, stuck = false;

	if (sh->io_mode == Q_IO_THREAD) {
		reap(sh);
		publish(sh);
	}
	while (taken < sh->npending && sh->b_count < sh->batches_max) {
		unsigned bi = (sh->b_head + sh->b_count) % BATCHES;
		struct q_batch *b = &sh->batches[bi];
		struct q_seg *seg;
		bool full = false;

		if (!cur_usable(sh) && !seg_switch(sh)) {
			stuck = true;
			break;
		}
		seg = sh->cur;
		b->seg = seg;
		b->count = 0;
		b->off = sh->cur_off;
		b->bytes = 0;
		b->err = 0;
		b->seal_after = false;
		while (taken < sh->npending && b->count < sh->batch_max) {
			struct q_msg *m = sh->pending[taken];
			uint64_t padded = q_rec_padded(m->len, seg->align_shift);

			if (sh->cur_off + padded > seg->size) {
				full = true;
				break;
			}
			memset(m->buf + m->len, 0, padded - m->len);
			q_rec_seal(m->buf, seg->salt);
			m->off = sh->cur_off;
			sh->cur_off += padded;
			b->iov[b->count].iov_base = m->buf;
			b->iov[b->count].iov_len = padded;
			b->msgs[b->count++] = m;
			b->bytes += padded;
			taken++;
		}
		if (b->count) {
			b->niov = b->count;
			page_fill(sh, b, seg);
			sh->b_count++;
			if (sh->io_mode == Q_IO_SYNC) {
				submit_sync(sh, b);
			} else if (sh->io_mode == Q_IO_THREAD) {
				b->ops = 1;
				handed++;
			} else {
				submit_ring(sh, b, bi);
				submitted = true;
			}
		}
		if (full && !seg_switch(sh)) {
			stuck = true;
			break;
		}
	}
	/* No segment to write into and the store cannot make one (the file
	 * system is full): answer now (452 4.3.1) rather than keep the
	 * clients waiting.  These messages were never written, so there is
	 * nothing for recovery to undo. */
	if (stuck && atomic_load_explicit(&sh->store->seg_fail,
					  memory_order_relaxed)) {
		for (unsigned i = taken; i < sh->npending; i++) {
			struct q_msg *m = sh->pending[i];

			sh->inflight--;
			sh->done(sh->done_arg, m->cookie, m->id, -ENOSPC);
			slot_free(sh, m);
		}
		MX_LOG_RL(MX_LOG_WARN, "queue",
			  "msg=\"no segment: messages refused\" shard=%u "
			  "msgs=%u", sh->idx, sh->npending - taken);
		taken = sh->npending;
	}
	if (taken) {
		sh->npending -= taken;
		memmove(sh->pending, sh->pending + taken,
			sh->npending * sizeof(sh->pending[0]));
	}
	if (handed) {
		atomic_fetch_add_explicit(&sh->cm.handed, handed,
					  memory_order_release);
		kick(sh->cm.kick_fd);
	}
	publish(sh);
	submitted |= arm_wake(sh);
	if (submitted || (sh->ring && io_uring_sq_ready(sh->ring)))
		io_uring_submit(sh->ring);
}
