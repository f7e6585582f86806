/*
 * mx_counter — named counters, one copy per thread, summed on demand.
 *
 * A module declares its counters once, as an X-macro list with help
 * strings, and defines one counter set from it:
 *
 *   #define Q_COUNTERS(X)                                        \
 *           X(q_msgs_committed, "messages made durable")          \
 *           X(q_sync_errors,    "failed data syncs")
 *   enum q_counter { Q_COUNTERS(MX_COUNTER_ENUM) Q_C__COUNT };
 *   MX_COUNTER_SET_DECLARE(q_counters);            (in the header)
 *   MX_COUNTER_SET_DEFINE(q_counters, "queue", Q_COUNTERS);  (in one .c)
 *
 * and counts with MX_COUNT(q_counters, q_msgs_committed) or MX_COUNT_ADD.
 * The set registers itself before main() runs, so counting works in any
 * thread at any time; it is a plain add to thread-local memory, no atomics.
 *
 * A thread's counts are visible to mx_counter_sum() once the thread has
 * called mx_counter_thread_attach(); mx_counter_thread_detach() (at thread
 * exit) folds them into a process-wide total so nothing is lost.  Sums are
 * read without locking the owners: each value is a naturally aligned 64-bit
 * word, so a read sees either the old or the new value.
 *
 * Names are Prometheus-safe ([a-z0-9_]) and unique across the process.
 */
#ifndef MX_COUNTER_H
#define MX_COUNTER_H

#include <stdint.h>

#define MX_COUNTER_MAX 1024	/* counters across all sets, per thread */

struct mx_counter_desc {
	const char *name;
	const char *help;
};

struct mx_counter_set {
	const char *module;
	const struct mx_counter_desc *desc;
	unsigned count;
	unsigned base;		/* assigned at registration */
};

extern _Thread_local uint64_t mx_counter_tls[MX_COUNTER_MAX];

#define MX_COUNTER_ENUM(name, help) name,
#define MX_COUNTER_DESC(name, help) { #name, help },

#define MX_COUNTER_SET_DECLARE(set) extern struct mx_counter_set set

#define MX_COUNTER_SET_DEFINE(set, module_name, LIST)                          \
	static const struct mx_counter_desc set##_desc_[] = {                  \
		LIST(MX_COUNTER_DESC)                                          \
	};                                                                     \
	struct mx_counter_set set = {                                          \
		.module = module_name,                                         \
		.desc = set##_desc_,                                           \
		.count = sizeof(set##_desc_) / sizeof(set##_desc_[0]),         \
	};                                                                     \
	__attribute__((constructor)) static void set##_register_(void)         \
	{                                                                      \
		mx_counter_set_register(&set);                                 \
	}

#define MX_COUNT_ADD(set, name, n) (mx_counter_tls[(set).base + (name)] += (n))
#define MX_COUNT(set, name) MX_COUNT_ADD(set, name, 1)

/* Called by MX_COUNTER_SET_DEFINE; panics past MX_COUNTER_MAX. */
void mx_counter_set_register(struct mx_counter_set *set);

void mx_counter_thread_attach(void);
void mx_counter_thread_detach(void);

/* Sum of one counter over every attached thread and every detached one. */
uint64_t mx_counter_sum(const struct mx_counter_set *set, unsigned idx);

/* The calling thread's own value (tests use this). */
static inline uint64_t mx_counter_local(const struct mx_counter_set *set,
					unsigned idx)
{
	return mx_counter_tls[set->base + idx];
}

/* Visit every registered counter with its summed value, in registration
 * order (stable within one binary). */
typedef void (*mx_counter_visit_fn)(const struct mx_counter_set *set,
				    const struct mx_counter_desc *desc,
				    uint64_t value, void *arg);
void mx_counter_foreach(mx_counter_visit_fn fn, void *arg);

#endif
