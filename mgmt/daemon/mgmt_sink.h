/*
 * mgmt_sink — the dp_sink of one dataplane core, implemented over that
 * core's queue shard.  This is the one place where an SMTP envelope
 * (dataplane's view) becomes a queue envelope, which keeps dataplane and
 * queue independent of each other.
 *
 * Threads: created on the main thread; every dp_sink call then comes from
 * the owning core's thread.  Failure: creation returns NULL (out of
 * memory); at run time the shard's -errno values pass through unchanged.
 */
#ifndef MGMT_SINK_H
#define MGMT_SINK_H

#include "dp_sink.h"

struct q_shard;
struct mgmt_sink;

/* rcpt_max: the most recipients one envelope can have (smtp conf). */
struct mgmt_sink *mgmt_sink_create(struct q_shard *shard, unsigned rcpt_max);
void mgmt_sink_destroy(struct mgmt_sink *ms);	/* accepts NULL */
/* Turns on the inline pre-filter before the core starts; NULL turns it
 * off again once the core has stopped, before pf is destroyed. */
struct scan_pf;
void mgmt_sink_set_inline(struct mgmt_sink *ms, struct scan_pf *pf);
/* The sink to hand to the core. */
struct dp_sink mgmt_sink_get(struct mgmt_sink *ms);

#endif
