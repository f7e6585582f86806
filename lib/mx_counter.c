/*
 * mx_counter.c — the counter registry and per-thread blocks.
 *
 * Every thread has a thread-local array of MX_COUNTER_MAX words (zeroed by
 * the TLS machinery, so counting needs no set-up).  Attached threads are
 * linked on a list so that a reader can sum them; a detaching thread adds
 * its block into `retired` first, so totals never go backwards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "mx_counter.h"
#include "mx_log.h"

_Thread_local uint64_t mx_counter_tls[MX_COUNTER_MAX];

#define MX_COUNTER_SETS_MAX 64

struct mx_counter_thread {
	uint64_t *block;
	struct mx_counter_thread *next;
};

static _Thread_local struct mx_counter_thread mx_counter_self;
static _Thread_local bool mx_counter_attached;

static pthread_mutex_t mx_counter_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mx_counter_thread *mx_counter_threads;
static uint64_t mx_counter_retired[MX_COUNTER_MAX];
static struct mx_counter_set *mx_counter_sets[MX_COUNTER_SETS_MAX];
static unsigned mx_counter_set_count;
static unsigned mx_counter_used;

void mx_counter_set_register(struct mx_counter_set *set)
{
	pthread_mutex_lock(&mx_counter_lock);
	if (mx_counter_set_count == MX_COUNTER_SETS_MAX ||
	    mx_counter_used + set->count > MX_COUNTER_MAX)
		mx_panic("counter registry full registering module=%s",
			 set->module);
	set->base = mx_counter_used;
	mx_counter_used += set->count;
	mx_counter_sets[mx_counter_set_count++] = set;
	pthread_mutex_unlock(&mx_counter_lock);
}

void mx_counter_thread_attach(void)
{
	if (mx_counter_attached)
		return;
	pthread_mutex_lock(&mx_counter_lock);
	mx_counter_self.block = mx_counter_tls;
	mx_counter_self.next = mx_counter_threads;
	mx_counter_threads = &mx_counter_self;
	mx_counter_attached = true;
	pthread_mutex_unlock(&mx_counter_lock);
}

void mx_counter_thread_detach(void)
{
	struct mx_counter_thread **pp;

	if (!mx_counter_attached)
		return;
	pthread_mutex_lock(&mx_counter_lock);
	for (pp = &mx_counter_threads; *pp; pp = &(*pp)->next) {
		if (*pp == &mx_counter_self) {
			*pp = mx_counter_self.next;
			break;
		}
	}
	for (unsigned i = 0; i < mx_counter_used; i++)
		mx_counter_retired[i] += mx_counter_tls[i];
	memset(mx_counter_tls, 0, sizeof(mx_counter_tls));
	mx_counter_attached = false;
	pthread_mutex_unlock(&mx_counter_lock);
}

static uint64_t mx_counter_sum_locked(unsigned slot)
{
	uint64_t v = mx_counter_retired[slot];

	for (struct mx_counter_thread *t = mx_counter_threads; t; t = t->next)
		v += __atomic_load_n(&t->block[slot], __ATOMIC_RELAXED);
	return v;
}

uint64_t mx_counter_sum(const struct mx_counter_set *set, unsigned idx)
{
	uint64_t v;

	MX_ASSERT(idx < set->count);
	pthread_mutex_lock(&mx_counter_lock);
	v = mx_counter_sum_locked(set->base + idx);
	pthread_mutex_unlock(&mx_counter_lock);
	return v;
}

void mx_counter_foreach(mx_counter_visit_fn fn, void *arg)
{
	/* Values are gathered under the lock, callbacks run outside it so a
	 * visitor may itself read counters. */
	static uint64_t snap[MX_COUNTER_MAX];
	static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
	struct mx_counter_set *sets[MX_COUNTER_SETS_MAX];
	unsigned nsets;

	pthread_mutex_lock(&snap_lock);
	pthread_mutex_lock(&mx_counter_lock);
	nsets = mx_counter_set_count;
	memcpy(sets, mx_counter_sets, nsets * sizeof(sets[0]));
	for (unsigned i = 0; i < mx_counter_used; i++)
		snap[i] = mx_counter_sum_locked(i);
	pthread_mutex_unlock(&mx_counter_lock);

	for (unsigned s = 0; s < nsets; s++)
		for (unsigned i = 0; i < sets[s]->count; i++)
			fn(sets[s], &sets[s]->desc[i], snap[sets[s]->base + i],
			   arg);
	pthread_mutex_unlock(&snap_lock);
}
