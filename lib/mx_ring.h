/*
 * mx_ring — a bounded single-producer single-consumer ring of pointers for
 * hand-off between two threads (a dataplane core and the management plane,
 * say).  Exactly one thread pushes and exactly one thread pops; neither
 * blocks.  A push to a full ring fails and the object stays with the caller
 * (ownership moves only on success).
 *
 * Head and tail live on separate cache lines; each side caches the other's
 * index so the common case touches one shared line.
 */
#ifndef MX_RING_H
#define MX_RING_H

#include <stdbool.h>
#include <stddef.h>

struct mx_ring;

/* capacity is rounded up to a power of two; NULL on allocation failure. */
struct mx_ring *mx_ring_create(unsigned capacity);
void mx_ring_destroy(struct mx_ring *ring);	/* accepts NULL */

/* Producer side.  false when the ring is full. */
bool mx_ring_push(struct mx_ring *ring, void *obj);
/* Pushes up to n objects in order; returns how many were taken. */
unsigned mx_ring_push_bulk(struct mx_ring *ring, void *const *objs,
			   unsigned n);

/* Consumer side.  NULL when the ring is empty. */
void *mx_ring_pop(struct mx_ring *ring);
/* Pops up to n objects; returns how many were stored in objs. */
unsigned mx_ring_pop_bulk(struct mx_ring *ring, void **objs, unsigned n);

/* Either side; a snapshot that may be stale by the time it is used. */
unsigned mx_ring_count(const struct mx_ring *ring);
unsigned mx_ring_capacity(const struct mx_ring *ring);

#endif
