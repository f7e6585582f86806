/*
 * q_store_state — the index entries of the store and the state machine of
 * a queued message: every change (verdict, delivered, deferred, held, ...)
 * is one state record, applied the same way live and during replay, and
 * appended to the store's state log to be synced by the next q_store_poll.
 * Also the read side: views, iteration by state, history.
 * Management thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mx_log.h"
#include "mx_time.h"
#include "q_index.h"
#include "q_store_int.h"

#define TEXT_MAX 4096

static const char *const state_names[Q_ST__COUNT] = {
	[Q_ST_NEW] = "new",		[Q_ST_SCANNED] = "scanned",
	[Q_ST_DEFERRED] = "deferred",	[Q_ST_HELD] = "held",
	[Q_ST_QUARANTINED] = "quarantined", [Q_ST_DONE] = "done",
};

const char *q_state_name(enum q_state st)
{
	return (unsigned)st < Q_ST__COUNT ? state_names[st] : "?";
}

static const char *const rec_names[Q_REC__END] = {
	[Q_REC_MSG] = "received",	[Q_REC_VERDICT] = "verdict",
	[Q_REC_DELIVERED] = "delivered", [Q_REC_BOUNCED] = "bounced",
	[Q_REC_DEFERRED] = "deferred",	[Q_REC_HELD] = "held",
	[Q_REC_RELEASED] = "released",	[Q_REC_QUARANTINED] = "quarantined",
	[Q_REC_DELETED] = "deleted",	[Q_REC_FLUSHED] = "flushed",
	[Q_REC_SNAPSHOT] = "compacted",
};

void q_id_fmt(uint64_t id, char buf[17])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, id >>= 4)
		buf[i] = hex[id & 15];
	buf[16] = 0;
}

static void seg_link(struct q_ent *e, struct q_seg *seg)
{
	e->seg = seg;
	e->seg_prev = NULL;
	e->seg_next = seg->ents;
	if (seg->ents)
		seg->ents->seg_prev = e;
	seg->ents = e;
	seg->msgs++;
}

static void seg_unlink(struct q_ent *e)
{
	struct q_seg *seg = e->seg;

	if (e->seg_prev)
		e->seg_prev->seg_next = e->seg_next;
	else
		seg->ents = e->seg_next;
	if (e->seg_next)
		e->seg_next->seg_prev = e->seg_prev;
	seg->msgs--;
}

static uint64_t ent_bytes(const struct q_ent *e)
{
	return q_rec_padded(e->rec_len, e->seg->align_shift);
}

static void live_add(struct q_store *s, struct q_ent *e, int sign)
{
	uint64_t b = ent_bytes(e);

	if (sign > 0) {
		e->seg->live_msgs++;
		e->seg->live_bytes += b;
		s->live_bytes += b;
	} else {
		e->seg->live_msgs--;
		e->seg->live_bytes -= b;
		s->live_bytes -= b;
	}
}

/* Moves e from the by-state view of its state to that of st. */
static void by_state_move(struct q_store *s, struct q_ent *e, int from, int to)
{
	if (from >= 0)
		q_index_del(s->by_state[from], e->id);
	if (to >= 0 && s->by_state_ok &&
	    q_index_put(s->by_state[to], e->id, e) < 0) {
		s->by_state_ok = false;
		MX_LOG_RL(MX_LOG_WARN, "queue",
			  "msg=\"by-state index insert failed; next() scans\"");
	}
}

void q_store_ent_drop(struct q_store *s, struct q_ent *e)
{
	q_index_del(s->idx, e->id);
	by_state_move(s, e, e->state, -1);
	s->count[e->state]--;
	q_store_ent_free(e);
}

static void set_state(struct q_store *s, struct q_ent *e, enum q_state st)
{
	if (e->state == st)
		return;
	if ((unsigned)st >= Q_ST__COUNT)
		mx_panic("queue: bad state %d", (int)st);
	by_state_move(s, e, e->state, st);
	s->count[e->state]--;
	s->count[st]++;
	if (st == Q_ST_DONE)
		live_add(s, e, -1);
	else if (e->state == Q_ST_DONE)
		live_add(s, e, +1);
	e->state = (uint8_t)st;
}

void q_store_ent_free(struct q_ent *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; i < e->nhist; i++)
		free(e->hist[i].text);
	free(e->hist);
	free(e->env_mem);
	free(e->rcpt_status);
	free(e->verdict);
	free(e->last_error);
	free(e);
}

static char *text_dup(const struct q_rec *r)
{
	char *t;

	/* On disk no text and empty text are the same: both read as none,
	 * live and after a restart alike. */
	if (!r->text || !r->text_len)
		return NULL;
	t = malloc(r->text_len + 1);
	if (t) {
		memcpy(t, r->text, r->text_len);
		t[r->text_len] = 0;
	}
	return t;
}

static void hist_add(struct q_ent *e, const struct q_rec *r)
{
	struct q_hist_rec *h;

	if (e->nhist == e->hist_cap) {
		uint32_t ncap = e->hist_cap ? e->hist_cap * 2 : 4;
		struct q_hist_rec *n = realloc(e->hist, ncap * sizeof(*n));

		if (!n)
			return;	/* history is informational; state still moves */
		e->hist = n;
		e->hist_cap = ncap;
	}
	h = &e->hist[e->nhist++];
	h->wall_ns = r->wall_ns;
	h->type = r->type;
	h->aux = r->aux;
	h->text = text_dup(r);
}

/* Decodes the envelope of e from its record (validated again). */
static int ent_load_rec(struct q_ent *e, const struct q_rec *r)
{
	long n = q_envelope_decode(r->env, r->env_len, &e->env, &e->env_mem);

	if (n < 0)
		return (int)n;
	e->body = r->body;
	e->body_len = r->body_len;
	e->rcpt_status = calloc(e->env.rcpt_count ? e->env.rcpt_count : 1, 1);
	if (!e->rcpt_status) {
		free(e->env_mem);
		e->env_mem = NULL;
		return -ENOMEM;
	}
	e->loaded = true;
	return 0;
}

static int ent_load(struct q_ent *e)
{
	struct q_rec r;

	if (e->loaded)
		return 0;
	if (q_rec_decode(e->seg->map, e->seg->size, e->off, e->seg->salt, &r) != 1 ||
	    r.type != Q_REC_MSG || r.id != e->id) {
		MX_LOG_RL(MX_LOG_ERR, "queue",
			  "msg=\"record unreadable\" id=%016llx seg=%s off=%llu",
			  (unsigned long long)e->id, e->seg->path,
			  (unsigned long long)e->off);
		return -EIO;
	}
	if (ent_load_rec(e, &r) < 0)
		return -ENOMEM;
	if (e->nhist == 0)
		hist_add(e, &r);
	return 0;
}

int q_store_index_msg(struct q_store *s, struct q_seg *seg, uint64_t id,
		      uint64_t off, uint32_t len, const struct q_rec *r)
{
	struct q_ent *e = q_index_get(s->idx, id);
	bool live;
	int rc;

	if (e) {
		/* A copy made by copy-forward: the entry moves to it. */
		live = e->state != Q_ST_DONE;
		if (live)
			live_add(s, e, -1);
		seg_unlink(e);
		e->off = off;
		e->rec_len = len;
		seg_link(e, seg);
		if (live)
			live_add(s, e, +1);
		if (e->loaded && r) {
			e->body = r->body;
			e->body_len = r->body_len;
		} else if (e->loaded) {
			e->loaded = false;
			free(e->env_mem);
			e->env_mem = NULL;
			free(e->rcpt_status);
			e->rcpt_status = NULL;
		}
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->id = id;
	e->off = off;
	e->rec_len = len;
	e->state = Q_ST_NEW;
	if (r && (rc = ent_load_rec(e, r)) < 0) {
		free(e);
		return rc;
	}
	if ((rc = q_index_put(s->idx, id, e)) < 0) {
		q_store_ent_free(e);
		return rc;
	}
	seg_link(e, seg);
	live_add(s, e, +1);
	s->count[Q_ST_NEW]++;
	by_state_move(s, e, -1, Q_ST_NEW);
	if (r)
		hist_add(e, r);
	return 0;
}

static bool all_final(const struct q_ent *e)
{
	for (uint32_t i = 0; i < e->env.rcpt_count; i++)
		if (e->rcpt_status[i] != Q_RCPT_DELIVERED &&
		    e->rcpt_status[i] != Q_RCPT_BOUNCED)
			return false;
	return true;
}

static int flush_all(struct q_store *s, const struct q_rec *r);

static char *bytes_dup(const uint8_t *p, size_t n)
{
	char *t = malloc(n + 1);

	if (t) {
		memcpy(t, p, n);
		t[n] = 0;
	}
	return t;
}

/* A snapshot replaces everything the records before it said. */
static void snap_apply(struct q_store *s, struct q_ent *e,
		       const struct q_rec *r)
{
	const struct q_snap_rec *sn = &r->snap;

	if (sn->rcpt_count == e->env.rcpt_count)
		memcpy(e->rcpt_status, sn->rcpt_status, sn->rcpt_count);
	e->held_from = sn->held_from;
	e->attempts = sn->attempts;
	e->next_attempt_wall_ns = r->until_wall_ns;
	free(e->verdict);
	e->verdict = sn->has_verdict ? bytes_dup(sn->verdict, sn->verdict_len)
				     : NULL;
	free(e->last_error);
	e->last_error = sn->has_error ? bytes_dup(r->text, r->text_len) : NULL;
	set_state(s, e, (enum q_state)r->aux);
}

/* Encodes the whole state of e as a SNAPSHOT record (salt 0: sealed when
 * written). */
long q_store_snapshot_encode(struct q_ent *e, uint8_t *buf, size_t size)
{
	struct q_snap sn = {
		.state = e->state, .held_from = e->held_from,
		.attempts = e->attempts,
		.next_attempt_wall_ns = e->next_attempt_wall_ns,
		.rcpt_count = e->env.rcpt_count, .rcpt_status = e->rcpt_status,
		.verdict = e->verdict, .last_error = e->last_error,
	};
	int rc = ent_load(e);

	if (rc < 0)
		return rc;
	sn.rcpt_count = e->env.rcpt_count;
	sn.rcpt_status = e->rcpt_status;
	return q_rec_encode_snapshot(buf, size, e->id, mx_wall_ns(), &sn, 0);
}

/* Index entry for a message whose commit failed: final at once, kept until
 * its segment goes so compaction keeps saying so. */
int q_store_index_failed(struct q_store *s, struct q_seg *seg, uint64_t id,
			 uint64_t off, uint32_t len)
{
	struct q_ent *e;
	int rc;

	if (q_index_get(s->idx, id))
		return 0;
	rc = q_store_index_msg(s, seg, id, off, len, NULL);
	if (rc < 0)
		return rc;
	e = q_index_get(s->idx, id);
	set_state(s, e, Q_ST_DONE);
	return 0;
}

/* The transition rules, shared by live changes and replay.  Live changes
 * are checked (-EINVAL); replay applies what was once accepted. */
int q_store_apply(struct q_store *s, const struct q_rec *r, bool replay)
{
	struct q_ent *e = q_index_get(s->idx, r->id);
	enum q_state st;
	int rc;

	if (r->type == Q_REC_FLUSHED && r->id == 0 && replay) {
		flush_all(s, r);
		return 0;
	}
	if (!e)
		return replay ? 0 : -ENOENT;
	if ((rc = ent_load(e)) < 0)
		return replay ? 0 : rc;
	st = e->state;
	if (!replay && st == Q_ST_DONE)
		return -EINVAL;
	switch (r->type) {
	case Q_REC_VERDICT:
		if (!replay && st != Q_ST_NEW && st != Q_ST_HELD)
			return -EINVAL;
		free(e->verdict);
		e->verdict = text_dup(r);
		if (st == Q_ST_NEW && r->aux == Q_VERDICT_CLEAN)
			set_state(s, e, Q_ST_SCANNED);
		else if (st == Q_ST_NEW && r->aux != Q_VERDICT_SCAN_FAILED)
			set_state(s, e, Q_ST_QUARANTINED);
		break;
	case Q_REC_DELIVERED:
	case Q_REC_BOUNCED:
		if (r->aux >= e->env.rcpt_count)
			return replay ? 0 : -EINVAL;
		e->rcpt_status[r->aux] = r->type == Q_REC_DELIVERED
						 ? Q_RCPT_DELIVERED
						 : Q_RCPT_BOUNCED;
		if (all_final(e))
			set_state(s, e, Q_ST_DONE);
		break;
	case Q_REC_DEFERRED:
		e->attempts = r->aux;
		e->next_attempt_wall_ns = r->until_wall_ns;
		free(e->last_error);
		e->last_error = text_dup(r);
		for (uint32_t i = 0; i < e->env.rcpt_count; i++)
			if (e->rcpt_status[i] == Q_RCPT_PENDING)
				e->rcpt_status[i] = Q_RCPT_DEFERRED;
		if (st != Q_ST_DONE && st != Q_ST_HELD)
			set_state(s, e, Q_ST_DEFERRED);
		break;
	case Q_REC_HELD:
		if (st == Q_ST_HELD || st == Q_ST_DONE)
			return replay ? 0 : -EINVAL;
		e->held_from = (uint8_t)st;
		set_state(s, e, Q_ST_HELD);
		break;
	case Q_REC_RELEASED:
		if (st == Q_ST_HELD)
			set_state(s, e, (enum q_state)e->held_from);
		else if (st == Q_ST_QUARANTINED)
			set_state(s, e, Q_ST_SCANNED);
		else
			return replay ? 0 : -EINVAL;
		break;
	case Q_REC_QUARANTINED:
		free(e->verdict);
		e->verdict = text_dup(r);
		set_state(s, e, Q_ST_QUARANTINED);
		break;
	case Q_REC_DELETED:
		set_state(s, e, Q_ST_DONE);
		break;
	case Q_REC_FLUSHED:
		if (st != Q_ST_DEFERRED)
			return replay ? 0 : -EINVAL;
		e->next_attempt_wall_ns = r->wall_ns;
		break;
	case Q_REC_SNAPSHOT:
		if (!replay)
			return -EINVAL;
		snap_apply(s, e, r);
		break;
	default:
		return replay ? 0 : -EINVAL;
	}
	hist_add(e, r);
	return 0;
}

/* One live state change: checked and applied to the index, then queued for
 * the state log. */
static int state_op(struct q_store *s, uint8_t type, uint32_t aux, uint64_t id,
		    uint64_t until, const char *text)
{
	struct q_rec r = { .type = type, .aux = aux, .id = id,
			   .wall_ns = mx_wall_ns(), .until_wall_ns = until };
	size_t tlen = text ? strlen(text) : 0;
	char cut[TEXT_MAX + 1];
	int rc;

	if (s->failed)
		return -EIO;
	if (tlen > TEXT_MAX) {
		/* a diagnostic longer than that is cut */
		memcpy(cut, text, TEXT_MAX);
		cut[TEXT_MAX] = 0;
		text = cut;
		tlen = TEXT_MAX;
	}
	r.text = (const uint8_t *)text;
	r.text_len = tlen;
	rc = q_store_apply(s, &r, false);
	if (rc < 0)
		return rc;
	return q_store_state_append(s, type, aux, id, r.wall_ns, until, text);
}

int q_store_set_verdict(struct q_store *s, uint64_t id, enum q_verdict v,
			const char *detail)
{
	if ((unsigned)v > Q_VERDICT_SCAN_FAILED)
		return -EINVAL;
	return state_op(s, Q_REC_VERDICT, v, id, 0, detail);
}

int q_store_rcpt_delivered(struct q_store *s, uint64_t id, unsigned rcpt_idx)
{
	return state_op(s, Q_REC_DELIVERED, rcpt_idx, id, 0, NULL);
}

int q_store_rcpt_bounced(struct q_store *s, uint64_t id, unsigned rcpt_idx,
			 const char *diag)
{
	return state_op(s, Q_REC_BOUNCED, rcpt_idx, id, 0, diag);
}

int q_store_defer(struct q_store *s, uint64_t id, uint64_t until_wall_ns,
		  const char *last_error)
{
	struct q_ent *e = q_index_get(s->idx, id);

	if (!e)
		return -ENOENT;
	return state_op(s, Q_REC_DEFERRED, e->attempts + 1, id, until_wall_ns,
			last_error);
}

int q_store_hold(struct q_store *s, uint64_t id)
{
	return state_op(s, Q_REC_HELD, 0, id, 0, NULL);
}

int q_store_release(struct q_store *s, uint64_t id, const char *who)
{
	return state_op(s, Q_REC_RELEASED, 0, id, 0, who);
}

int q_store_quarantine(struct q_store *s, uint64_t id, const char *reason)
{
	return state_op(s, Q_REC_QUARANTINED, 0, id, 0, reason);
}

int q_store_delete(struct q_store *s, uint64_t id)
{
	return state_op(s, Q_REC_DELETED, Q_DEL_OPERATOR, id, 0, NULL);
}

static bool match_state(const void *val, const void *arg)
{
	return ((const struct q_ent *)val)->state == *(const enum q_state *)arg;
}

/* The entry in state st with the smallest id > after, or NULL. */
static struct q_ent *next_in(struct q_store *s, enum q_state st, uint64_t after)
{
	if (s->by_state_ok)
		return q_index_next(s->by_state[st], after, NULL, NULL);
	return q_index_next(s->idx, after, match_state, &st);
}

/* FLUSHED with id 0: every message deferred at that point is due at
 * wall_ns.  Applied the same way live and in replay, where the set of
 * deferred messages at that point of the log is the same. */
static int flush_all(struct q_store *s, const struct q_rec *r)
{
	struct q_ent *e;
	uint64_t after = 0;
	int n = 0;

	while ((e = next_in(s, Q_ST_DEFERRED, after))) {
		after = e->id;
		e->next_attempt_wall_ns = r->wall_ns;
		hist_add(e, r);
		n++;
	}
	return n;
}

int q_store_flush_deferred(struct q_store *s)
{
	struct q_rec r = { .type = Q_REC_FLUSHED, .id = 0,
			   .wall_ns = mx_wall_ns() };
	int n, rc;

	if (s->failed)
		return -EIO;
	if (!s->count[Q_ST_DEFERRED])
		return 0;
	/* One record for all of them. */
	rc = q_store_state_append(s, Q_REC_FLUSHED, 0, 0, r.wall_ns, 0, NULL);
	if (rc < 0)
		return rc;
	n = flush_all(s, &r);
	return n;
}

static int view_fill(struct q_ent *e, struct q_msg_view *v)
{
	int rc = ent_load(e);

	if (rc < 0)
		return rc;
	memset(v, 0, sizeof(*v));
	v->id = e->id;
	v->state = (enum q_state)e->state;
	v->env = &e->env;
	v->body = e->body;
	v->body_len = e->body_len;
	v->seg_path = e->seg->path;
	v->offset = (uint64_t)(e->body - e->seg->map);
	v->length = e->body_len;
	v->received_wall_ns = e->env.received_wall_ns;
	v->attempts = e->attempts;
	v->next_attempt_wall_ns = e->next_attempt_wall_ns;
	v->rcpt_status = e->rcpt_status;
	v->verdict = e->verdict;
	v->last_error = e->last_error;
	return 0;
}

int q_store_get(struct q_store *s, uint64_t id, struct q_msg_view *v)
{
	struct q_ent *e = q_index_get(s->idx, id);

	return e ? view_fill(e, v) : -ENOENT;
}

int q_store_next(struct q_store *s, enum q_state st, uint64_t after_id,
		 struct q_msg_view *v)
{
	struct q_ent *e;

	if ((unsigned)st >= Q_ST__COUNT)
		return -EINVAL;
	while ((e = next_in(s, st, after_id))) {
		if (view_fill(e, v) == 0)
			return 0;
		after_id = e->id;	/* unreadable: logged, skipped */
	}
	return -ENOENT;
}

int q_store_history(struct q_store *s, uint64_t id,
		    void (*fn)(void *arg, const struct q_hist *h), void *arg)
{
	struct q_ent *e = q_index_get(s->idx, id);

	if (!e)
		return -ENOENT;
	for (uint32_t i = 0; i < e->nhist; i++) {
		const struct q_hist_rec *r = &e->hist[i];
		bool per_rcpt = r->type == Q_REC_DELIVERED ||
				r->type == Q_REC_BOUNCED;
		struct q_hist h = {
			.wall_ns = r->wall_ns,
			.what = r->type < Q_REC__END && rec_names[r->type]
					? rec_names[r->type] : "?",
			.detail = r->text,
			.rcpt_idx = per_rcpt ? (int)r->aux : -1,
		};

		fn(arg, &h);
	}
	return 0;
}

size_t q_msg_header_len(const struct q_msg_view *v)
{
	const uint8_t *b = v->body;
	size_t n = v->body_len;

	if (n >= 2 && b[0] == '\r' && b[1] == '\n')
		return 2;
	for (size_t i = 0; i + 3 < n; i++)
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' &&
		    b[i + 3] == '\n')
			return i + 4;
	return n;
}
