/*
 * test_counter_ring.c — per-thread counters summed across threads (and
 * kept after a thread detaches), and the SPSC ring: order, capacity, bulk
 * operations, and a two-thread hand-off of a million objects.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "mx_buf.h"
#include "mx_counter.h"
#include "mx_ring.h"
#include "mx_time.h"
#include "mx_test.h"

#define T_COUNTERS(X)                                                          \
	X(t_events, "events seen by the test")                                 \
	X(t_bytes, "bytes seen by the test")
enum t_counter { T_COUNTERS(MX_COUNTER_ENUM) T_C__COUNT };
MX_COUNTER_SET_DEFINE(t_counters, "test", T_COUNTERS)

#define THREADS 4
#define PER_THREAD 100000

static void *count_thread(void *arg)
{
	(void)arg;
	mx_counter_thread_attach();
	for (int i = 0; i < PER_THREAD; i++) {
		MX_COUNT(t_counters, t_events);
		MX_COUNT_ADD(t_counters, t_bytes, 3);
	}
	mx_counter_thread_detach();
	return NULL;
}

struct visit {
	int seen;
	uint64_t events;
};

static void visit_fn(const struct mx_counter_set *set,
		     const struct mx_counter_desc *d, uint64_t v, void *arg)
{
	struct visit *vis = arg;

	if (set != &t_counters)
		return;
	vis->seen++;
	if (strcmp(d->name, "t_events") == 0)
		vis->events = v;
}

static void test_counters(void)
{
	pthread_t th[THREADS];
	struct visit vis = {0};

	mx_counter_thread_attach();
	MX_COUNT(t_counters, t_events);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, count_thread, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_U64(mx_counter_sum(&t_counters, t_events),
		     THREADS * PER_THREAD + 1);
	CHECK_EQ_U64(mx_counter_sum(&t_counters, t_bytes),
		     THREADS * PER_THREAD * 3);
	CHECK_EQ_U64(mx_counter_local(&t_counters, t_events), 1);
	mx_counter_foreach(visit_fn, &vis);
	CHECK(vis.seen == T_C__COUNT);
	CHECK_EQ_U64(vis.events, THREADS * PER_THREAD + 1);
}

static void test_ring_basic(void)
{
	struct mx_ring *r = mx_ring_create(5);
	uintptr_t v[16];
	void *out[16];

	CHECK(r != NULL);
	CHECK(mx_ring_capacity(r) == 8);
	CHECK(mx_ring_pop(r) == NULL);
	for (uintptr_t i = 1; i <= 8; i++)
		CHECK(mx_ring_push(r, (void *)i));
	CHECK(!mx_ring_push(r, (void *)99));
	CHECK(mx_ring_count(r) == 8);
	for (uintptr_t i = 1; i <= 8; i++)
		CHECK((uintptr_t)mx_ring_pop(r) == i);
	CHECK(mx_ring_pop(r) == NULL);
	/* bulk across the wrap point */
	for (int i = 0; i < 16; i++)
		v[i] = (uintptr_t)i + 100;
	CHECK(mx_ring_push_bulk(r, (void *const *)v, 5) == 5);
	CHECK(mx_ring_pop_bulk(r, out, 3) == 3);
	CHECK(mx_ring_push_bulk(r, (void *const *)(v + 5), 16) == 6);
	CHECK(mx_ring_pop_bulk(r, out, 16) == 8);
	for (int i = 0; i < 8; i++)
		CHECK((uintptr_t)out[i] == (uintptr_t)i + 103);
	mx_ring_destroy(r);
	mx_ring_destroy(NULL);
	CHECK(mx_ring_create(0) == NULL);
}

#define HANDOFF 1000000u

static void *producer(void *arg)
{
	struct mx_ring *r = arg;

	for (uintptr_t i = 1; i <= HANDOFF;)
		if (mx_ring_push(r, (void *)i))
			i++;
	return NULL;
}

static void test_ring_threads(void)
{
	struct mx_ring *r = mx_ring_create(256);
	pthread_t th;
	uintptr_t expect = 1;
	void *batch[32];

	pthread_create(&th, NULL, producer, r);
	while (expect <= HANDOFF) {
		unsigned n = mx_ring_pop_bulk(r, batch, 32);

		for (unsigned i = 0; i < n; i++) {
			if ((uintptr_t)batch[i] != expect) {
				CHECK((uintptr_t)batch[i] == expect);
				expect = HANDOFF + 1;
				break;
			}
			expect++;
		}
	}
	pthread_join(th, NULL);
	CHECK(mx_ring_count(r) == 0);
	mx_ring_destroy(r);
}

static void test_buf_time(void)
{
	uint8_t store[16];
	struct mx_buf b;
	char d[40];

	mx_buf_init(&b, store, sizeof(store));
	CHECK(mx_buf_append(&b, "hello ", 6) == 0);
	CHECK(mx_buf_appendf(&b, "%d", 12345) == 0);
	CHECK(mx_buf_appendf(&b, "%s", "toolong") != 0);
	CHECK(b.len == 11);
	mx_buf_consume(&b, 6);
	CHECK(b.len == 5 && memcmp(b.data, "12345", 5) == 0);
	/* 2026-11-25 16:57:50 UTC */
	CHECK(mx_time_fmt_rfc5322(d, sizeof(d), 1795625870ull * 1000000000u) >
	      0);
	CHECK(strcmp(d, "Wed, 25 Nov 2026 16:57:50 +0000") == 0);
	CHECK(mx_time_fmt_iso8601(d, sizeof(d),
				  1795625870ull * 1000000000u + 123456789) >
	      0);
	CHECK(strcmp(d, "2026-11-25T16:57:50.123Z") == 0);
	CHECK(mx_time_fmt_rfc5322(d, 8, 0) == 0);
}

int main(void)
{
	test_counters();
	test_ring_basic();
	test_ring_threads();
	test_buf_time();
	return TEST_EXIT();
}
