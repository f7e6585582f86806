/*
 * smoke_sink — a dp_sink for the DPDK smoke test: each message becomes one
 * file in a directory.  Body bytes are staged in memory; at flush() the
 * sink submits, on the core's io_uring ring, a write linked to an fsync,
 * and only when the fsync completes (cqe) is the file renamed to its final
 * name "msg.<id>" and done(0) called, so a 250 means the bytes are on
 * disk.  Fixed pool of message slots allocated at create; full() when none
 * is free.  One sink per core, used on that core's thread only.
 */
#ifndef SMOKE_SINK_H
#define SMOKE_SINK_H

#include "dp_sink.h"

struct smoke_sink;

/* dir must exist; core goes into the high bits of every id.  dir NULL:
 * discard mode for benchmarks (no I/O, done(0) at the next flush).
 * Returns NULL when out of memory. */
struct smoke_sink *smoke_sink_create(const char *dir, unsigned core);
void smoke_sink_destroy(struct smoke_sink *s);
struct dp_sink smoke_sink_get(struct smoke_sink *s);
/* Messages completed with status 0 so far (read on the sink's thread, or
 * after it stopped). */
unsigned long smoke_sink_done_count(const struct smoke_sink *s);

#endif
