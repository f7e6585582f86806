/*
 * q_index — the in-memory index of the store: message id -> entry, and
 * in-order iteration by id.  Management thread only (the store's thread).
 *
 * Lookup is a hash table (open addressing); order comes from one sorted
 * array per shard (a shard's ids only grow, so inserts are appends; the
 * rare out-of-order insert shifts).  Iteration merges the shard arrays.
 * Allocation failure returns -ENOMEM and leaves the index unchanged.
 */
#ifndef Q_INDEX_H
#define Q_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct q_index;

struct q_index *q_index_create(void);
void q_index_destroy(struct q_index *x);	/* accepts NULL; not the values */

/* 0, -EEXIST, -ENOMEM. */
int q_index_put(struct q_index *x, uint64_t id, void *val);
void *q_index_get(const struct q_index *x, uint64_t id);
/* Returns the removed value or NULL. */
void *q_index_del(struct q_index *x, uint64_t id);
size_t q_index_count(const struct q_index *x);

/* The value with the smallest id > after for which match(val, arg) is true
 * (match NULL: any), or NULL.  Cost: a binary search per shard plus the
 * entries skipped, so an index holding only the wanted entries (one per
 * state, as the store keeps) answers in O(shards * log n). */
void *q_index_next(const struct q_index *x, uint64_t after,
		   bool (*match)(const void *val, const void *arg),
		   const void *arg);

#endif
