/*
 * mx_ring.c — bounded SPSC pointer ring (see mx_ring.h).
 *
 * head is written only by the producer, tail only by the consumer; both
 * increase forever and are masked on use.  The producer publishes a slot
 * with a release store of head after writing it; the consumer reads head
 * with acquire before reading the slot (and symmetrically for tail).  Each
 * side keeps a private copy of the other side's index and refreshes it
 * only when the ring looks full (or empty), so the shared lines move
 * between cores once per batch rather than once per object.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "mx_ring.h"

#define MX_CACHELINE 64

struct mx_ring {
	_Alignas(MX_CACHELINE) _Atomic unsigned head;
	unsigned tail_cache;		/* producer's view of tail */
	_Alignas(MX_CACHELINE) _Atomic unsigned tail;
	unsigned head_cache;		/* consumer's view of head */
	_Alignas(MX_CACHELINE) unsigned mask;
	void *slot[];
};

struct mx_ring *mx_ring_create(unsigned capacity)
{
	struct mx_ring *r;
	unsigned size = 1;

	if (capacity == 0 || capacity > (1u << 30))
		return NULL;
	while (size < capacity)
		size <<= 1;
	r = aligned_alloc(MX_CACHELINE,
			  (sizeof(*r) + size * sizeof(void *) + MX_CACHELINE -
			   1) / MX_CACHELINE * MX_CACHELINE);
	if (!r)
		return NULL;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->tail_cache = 0;
	r->head_cache = 0;
	r->mask = size - 1;
	return r;
}

void mx_ring_destroy(struct mx_ring *ring)
{
	free(ring);
}

unsigned mx_ring_push_bulk(struct mx_ring *r, void *const *objs, unsigned n)
{
	unsigned head = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned free_slots = r->mask + 1 - (head - r->tail_cache);

	if (free_slots < n) {
		r->tail_cache =
			atomic_load_explicit(&r->tail, memory_order_acquire);
		free_slots = r->mask + 1 - (head - r->tail_cache);
	}
	if (n > free_slots)
		n = free_slots;
	for (unsigned i = 0; i < n; i++)
		r->slot[(head + i) & r->mask] = objs[i];
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

bool mx_ring_push(struct mx_ring *r, void *obj)
{
	return mx_ring_push_bulk(r, &obj, 1) == 1;
}

unsigned mx_ring_pop_bulk(struct mx_ring *r, void **objs, unsigned n)
{
	unsigned tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned avail = r->head_cache - tail;

	if (avail < n) {
		r->head_cache =
			atomic_load_explicit(&r->head, memory_order_acquire);
		avail = r->head_cache - tail;
	}
	if (n > avail)
		n = avail;
	for (unsigned i = 0; i < n; i++)
		objs[i] = r->slot[(tail + i) & r->mask];
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

void *mx_ring_pop(struct mx_ring *r)
{
	void *obj;

	return mx_ring_pop_bulk(r, &obj, 1) == 1 ? obj : NULL;
}

unsigned mx_ring_count(const struct mx_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) -
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

unsigned mx_ring_capacity(const struct mx_ring *r)
{
	return r->mask + 1;
}
