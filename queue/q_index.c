/*
 * q_index — hash table plus per-shard sorted arrays (see q_index.h).
 */
#include "q_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "q_record.h"

#define SHARDS (1u << Q_ID_SHARD_BITS)
#define TOMB ((void *)1)

struct slot {
	uint64_t id;
	void *val;		/* NULL empty, TOMB deleted */
};

struct ord {
	uint64_t *ids;
	void **vals;		/* NULL once deleted */
	size_t n, cap, dead;
};

struct q_index {
	struct slot *tab;
	size_t mask, used, live;	/* used counts tombstones too */
	struct ord ord[SHARDS];
};

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	return k ^ (k >> 33);
}

struct q_index *q_index_create(void)
{
	struct q_index *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->mask = 1023;
	x->tab = calloc(x->mask + 1, sizeof(*x->tab));
	if (!x->tab) {
		free(x);
		return NULL;
	}
	return x;
}

void q_index_destroy(struct q_index *x)
{
	if (!x)
		return;
	for (unsigned i = 0; i < SHARDS; i++) {
		free(x->ord[i].ids);
		free(x->ord[i].vals);
	}
	free(x->tab);
	free(x);
}

static struct slot *find(const struct q_index *x, uint64_t id)
{
	for (size_t i = mix(id) & x->mask;; i = (i + 1) & x->mask) {
		struct slot *s = &x->tab[i];

		if (!s->val)
			return NULL;
		if (s->val != TOMB && s->id == id)
			return s;
	}
}

static int grow(struct q_index *x)
{
	size_t nmask = x->live * 4 > x->mask ? x->mask * 2 + 1 : x->mask;
	struct slot *nt = calloc(nmask + 1, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i <= x->mask; i++) {
		struct slot *s = &x->tab[i];
		size_t j;

		if (!s->val || s->val == TOMB)
			continue;
		for (j = mix(s->id) & nmask; nt[j].val; j = (j + 1) & nmask)
			;
		nt[j] = *s;
	}
	free(x->tab);
	x->tab = nt;
	x->mask = nmask;
	x->used = x->live;
	return 0;
}

static int ord_insert(struct ord *o, uint64_t id, void *val)
{
	size_t lo = 0, hi = o->n;

	if (o->n == o->cap) {
		size_t ncap = o->cap ? o->cap * 2 : 256;
		uint64_t *ni = realloc(o->ids, ncap * sizeof(*ni));
		void **nv;

		if (!ni)
			return -ENOMEM;
		o->ids = ni;
		nv = realloc(o->vals, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		o->vals = nv;
		o->cap = ncap;
	}
	if (o->n && o->ids[o->n - 1] > id) {
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (o->ids[mid] < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		memmove(o->ids + lo + 1, o->ids + lo, (o->n - lo) * sizeof(*o->ids));
		memmove(o->vals + lo + 1, o->vals + lo,
			(o->n - lo) * sizeof(*o->vals));
	} else {
		lo = o->n;
	}
	o->ids[lo] = id;
	o->vals[lo] = val;
	o->n++;
	return 0;
}

/* First position with ids[pos] > after. */
static size_t ord_after(const struct ord *o, uint64_t after)
{
	size_t lo = 0, hi = o->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (o->ids[mid] <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void ord_remove(struct ord *o, uint64_t id)
{
	size_t pos = ord_after(o, id - 1), j = 0;

	if (id == 0)
		pos = 0;
	if (pos < o->n && o->ids[pos] == id && o->vals[pos]) {
		o->vals[pos] = NULL;
		o->dead++;
	}
	if (o->dead * 2 <= o->n || o->dead < 64)
		return;
	for (size_t i = 0; i < o->n; i++) {
		if (!o->vals[i])
			continue;
		o->ids[j] = o->ids[i];
		o->vals[j++] = o->vals[i];
	}
	o->n = j;
	o->dead = 0;
}

int q_index_put(struct q_index *x, uint64_t id, void *val)
{
	size_t i;

	if (find(x, id))
		return -EEXIST;
	if ((x->used + 1) * 4 > (x->mask + 1) * 3 && grow(x) < 0)
		return -ENOMEM;
	if (ord_insert(&x->ord[q_id_shard(id)], id, val) < 0)
		return -ENOMEM;
	for (i = mix(id) & x->mask; x->tab[i].val && x->tab[i].val != TOMB;
	     i = (i + 1) & x->mask)
		;
	if (!x->tab[i].val)
		x->used++;
	x->tab[i].id = id;
	x->tab[i].val = val;
	x->live++;
	return 0;
}

void *q_index_get(const struct q_index *x, uint64_t id)
{
	struct slot *s = find(x, id);

	return s ? s->val : NULL;
}

void *q_index_del(struct q_index *x, uint64_t id)
{
	struct slot *s = find(x, id);
	void *val;

	if (!s)
		return NULL;
	val = s->val;
	s->val = TOMB;
	x->live--;
	ord_remove(&x->ord[q_id_shard(id)], id);
	return val;
}

size_t q_index_count(const struct q_index *x)
{
	return x->live;
}

void *q_index_next(const struct q_index *x, uint64_t after,
		   bool (*match)(const void *val, const void *arg),
		   const void *arg)
{
	uint64_t best_id = 0;
	void *best = NULL;

	for (unsigned sh = 0; sh < SHARDS; sh++) {
		const struct ord *o = &x->ord[sh];

		for (size_t i = ord_after(o, after); i < o->n; i++) {
			if (best && o->ids[i] >= best_id)
				break;
			if (o->vals[i] && (!match || match(o->vals[i], arg))) {
				best = o->vals[i];
				best_id = o->ids[i];
				break;
			}
		}
	}
	return best;
}
