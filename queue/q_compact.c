/*
 * q_compact — retention of the store: copy-forward of the few live
 * messages left in an old ingest segment, and compaction of the state log.
 * Store thread only, called from q_store_poll after the state log is
 * synced (nothing pending).
 *
 * Copy-forward: a sealed ingest segment whose live bytes are below
 * conf.copy_forward_pct of its size gets, for each live message, a copy of
 * its MSG record (re-sealed with the state segment's salt) followed by a
 * SNAPSHOT record of its state appended to the state log and synced; only
 * then does the index point at the copy, so the segment has no live
 * message left and retire() deletes it.  The snapshot is what makes that
 * safe: the state records written before the copy may name a message the
 * replay no longer knows when it reaches them (its segment is gone), so
 * the copy must carry the state itself.
 *
 * Compaction: after conf.state_compact_bytes were appended to the state
 * log, a new state segment is started and gets a SNAPSHOT of every live
 * message (plus a copy of its record if that lives in an old state
 * segment) and a DELETED(final) record for every finished message whose
 * record is still in an ingest segment (or whose commit failed: its bytes
 * may be there).  Once that is synced the older state segments are
 * deleted.  A crash at any point leaves either the old log (complete) or
 * the old log plus a (maybe torn) new one whose records agree with it,
 * because replay reads state segments in sequence order.
 *
 * Failure: a write or sync error is a state-log failure (q_store.h): the
 * store refuses state changes until restart and poll returns -EIO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_log.h"
#include "mx_time.h"
#include "q_store_int.h"

/* Records for the current state segment, written with one write + sync. */
struct out {
	uint8_t *buf;
	size_t len, cap;
	/* copies to re-index once durable */
	struct moved {
		struct q_ent *e;
		struct q_seg *seg;
		uint64_t off;
		uint32_t len;
	} *mv;
	size_t nmv, capmv;
	uint64_t written;
};

static int out_flush(struct q_store *s, struct out *o)
{
	struct q_seg *seg = s->state_seg;
	int rc;

	if (!o->len)
		return 0;
	rc = q_io_pwrite_all(s->io, seg->fd, o->buf, o->len, (off_t)s->state_off);
	if (!rc && s->conf.durability == Q_DURABILITY_SYNC)
		rc = s->io->fdatasync(s->io->ctx, seg->fd);
	if (rc < 0)
		return rc;
	s->state_off += o->len;
	o->written += o->len;
	o->len = 0;
	return 0;
}

static int out_room(struct q_store *s, struct out *o, size_t need)
{
	char err[PATH_MAX + 128];
	int rc;

	if (s->state_off + o->len + need > s->state_seg->size) {
		if ((rc = out_flush(s, o)) < 0)
			return rc;
		if (q_store_state_seg_new(s, err, sizeof(err)) < 0) {
			mx_log(MX_LOG_ERR, "queue", "msg=\"state log\" err=\"%s\"",
			       err);
			return -EIO;
		}
		if (need > s->state_seg->size - s->state_off)
			return -EFBIG;
	}
	if (o->cap - o->len < need) {
		size_t nc = o->cap ? o->cap : 65536;
		uint8_t *nb;

		while (nc - o->len < need)
			nc *= 2;
		if (!(nb = realloc(o->buf, nc)))
			return -ENOMEM;
		o->buf = nb;
		o->cap = nc;
	}
	return 0;
}

/* Appends an encoded record (len bytes at rec, header filled) sealed for
 * the current state segment; *off gets its offset there. */
static int out_rec(struct q_store *s, struct out *o, const uint8_t *rec,
		   uint32_t len, uint64_t *off)
{
	uint64_t padded = q_rec_padded(len, 3);
	int rc = out_room(s, o, padded);

	if (rc < 0)
		return rc;
	memcpy(o->buf + o->len, rec, len);
	memset(o->buf + o->len + len, 0, padded - len);
	q_rec_seal(o->buf + o->len, s->state_seg->salt);
	if (off)
		*off = s->state_off + o->len;
	o->len += padded;
	return 0;
}

static int out_snapshot(struct q_store *s, struct out *o, struct q_ent *e)
{
	size_t size = 4096 + 16384 + (size_t)e->env.rcpt_count;
	uint8_t *tmp;
	long n;
	int rc;

	for (;;) {
		if (!(tmp = malloc(size)))
			return -ENOMEM;
		n = q_store_snapshot_encode(e, tmp, size);
		if (n != -ENOBUFS)
			break;
		free(tmp);
		size *= 2;
	}
	rc = n < 0 ? (int)n : out_rec(s, o, tmp, (uint32_t)n, NULL);
	free(tmp);
	return rc;
}

/* A copy of e's MSG record, then its snapshot. */
static int out_copy(struct q_store *s, struct out *o, struct q_ent *e)
{
	uint64_t off;
	int rc;

	if (o->nmv == o->capmv) {
		size_t nc = o->capmv ? o->capmv * 2 : 64;
		struct moved *nm = realloc(o->mv, nc * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		o->mv = nm;
		o->capmv = nc;
	}
	rc = out_rec(s, o, e->seg->map + e->off, e->rec_len, &off);
	if (rc < 0)
		return rc;
	o->mv[o->nmv++] = (struct moved){ e, s->state_seg, off, e->rec_len };
	return out_snapshot(s, o, e);
}

static int out_deleted(struct q_store *s, struct out *o, uint64_t id)
{
	uint8_t rec[64];
	long n = q_rec_encode_state(rec, sizeof(rec), Q_REC_DELETED,
				    Q_DEL_FINAL, id, mx_wall_ns(), 0, NULL, 0);

	return n < 0 ? (int)n : out_rec(s, o, rec, (uint32_t)n, NULL);
}

/* Syncs what is left and points the index at the copies. */
static int out_finish(struct q_store *s, struct out *o)
{
	int rc = out_flush(s, o);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < o->nmv; i++) {
		struct moved *m = &o->mv[i];
		struct q_rec r;

		if (q_rec_decode(m->seg->map, m->seg->size, m->off, m->seg->salt,
				 &r) != 1 || r.id != m->e->id)
			mx_panic("queue: copied record %016llx unreadable",
				 (unsigned long long)m->e->id);
		rc = q_store_index_msg(s, m->seg, m->e->id, m->off, m->len, &r);
		if (rc < 0)
			return rc;
		s->copied_msgs++;
	}
	o->nmv = 0;
	return 0;
}

static void out_free(struct out *o)
{
	free(o->buf);
	free(o->mv);
}

static bool is_state(const struct q_seg *seg)
{
	return seg->shard == Q_SEG_SHARD_STATE;
}

/* One ingest segment with little left alive, or NULL. */
static struct q_seg *copy_candidate(struct q_store *s)
{
	unsigned pct = s->conf.copy_forward_pct;

	if (!pct)
		return NULL;
	for (struct q_seg *seg = s->segs; seg; seg = seg->next)
		if (!is_state(seg) && seg->sealed && seg->live_msgs &&
		    seg->live_bytes * 100 < seg->size * pct)
			return seg;
	return NULL;
}

static int copy_forward(struct q_store *s, struct q_seg *seg)
{
	struct out o = { 0 };
	unsigned n = 0;
	int rc = 0;

	for (struct q_ent *e = seg->ents; e && !rc; e = e->seg_next)
		if (e->state != Q_ST_DONE) {
			rc = out_copy(s, &o, e);
			n++;
		}
	if (!rc)
		rc = out_finish(s, &o);
	s->state_since_compact += o.written;
	out_free(&o);
	if (rc < 0)
		return rc;
	mx_log(MX_LOG_INFO, "queue",
	       "msg=\"copied forward\" seg=%s msgs=%u", seg->path, n);
	return (int)n;
}

static int compact(struct q_store *s)
{
	uint64_t first_new = s->state_next_seq;
	struct q_seg *seg, **pp, *start;
	struct out o = { 0 };
	char err[PATH_MAX + 128];
	unsigned gone = 0;
	int rc = 0;

	if (q_store_state_seg_new(s, err, sizeof(err)) < 0) {
		mx_log(MX_LOG_ERR, "queue", "msg=\"state log\" err=\"%s\"", err);
		return -EIO;
	}
	start = s->segs;	/* new state segments are added before it */
	for (seg = start; seg && !rc; seg = seg->next) {
		bool old_state = is_state(seg) && seg->seq < first_new;

		if (is_state(seg) && !old_state)
			continue;
		for (struct q_ent *e = seg->ents; e && !rc; e = e->seg_next) {
			if (e->state != Q_ST_DONE)
				rc = old_state ? out_copy(s, &o, e)
					       : out_snapshot(s, &o, e);
			else if (!old_state)
				rc = out_deleted(s, &o, e->id);
		}
	}
	if (!rc)
		rc = out_finish(s, &o);
	s->last_compact_bytes = o.written;
	out_free(&o);
	if (rc < 0)
		return rc;
	/* Durable: the older state segments can go. */
	for (pp = &s->segs; (seg = *pp);) {
		if (!is_state(seg) || seg->seq >= first_new) {
			pp = &seg->next;
			continue;
		}
		*pp = seg->next;
		q_store_ents_free(s, seg);
		s->disk_bytes -= seg->size;
		q_seg_free(s, seg, true);
		gone++;
	}
	s->state_since_compact = 0;
	s->compactions++;
	mx_log(MX_LOG_INFO, "queue",
	       "msg=\"state log compacted\" bytes=%llu segments_deleted=%u",
	       (unsigned long long)s->last_compact_bytes, gone);
	return (int)gone + 1;
}

/* State segments other than the current one: each restart starts a new
 * state segment, so without this a daemon that restarts often (or is
 * killed) would keep every old one and replay them all at start. */
static bool old_state_segments(const struct q_store *s)
{
	for (const struct q_seg *seg = s->segs; seg; seg = seg->next)
		if (is_state(seg) && seg != s->state_seg)
			return true;
	return false;
}

int q_compact_poll(struct q_store *s)
{
	uint64_t every = s->conf.state_compact_bytes ? s->conf.state_compact_bytes
						     : s->conf.segment_size;
	struct q_seg *seg;
	int rc = 0;

	if (s->failed || s->pend_len)
		return 0;
	if ((seg = copy_candidate(s)))
		rc = copy_forward(s, seg);
	/* Compacting costs about what the last compaction wrote: wait until
	 * at least that much more was appended, so a big live set does not
	 * make it run on every poll. */
	if (rc >= 0 && s->state_since_compact >= s->last_compact_bytes &&
	    (s->state_since_compact >= every || old_state_segments(s)))
		rc = compact(s);
	if (rc < 0) {
		s->failed = true;
		mx_log(MX_LOG_ERR, "queue",
		       "msg=\"retention write failed; state changes refused "
		       "until restart\" err=%d", rc);
		return -EIO;
	}
	return rc;
}
