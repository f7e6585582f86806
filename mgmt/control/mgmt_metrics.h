/*
 * mgmt_metrics — the process's counters as data: a JSON snapshot (the
 * result of the `stats` control command) and the Prometheus text
 * exposition rendered from such a snapshot (for `mxgatectl metrics` and an
 * HTTP /metrics listener alike, so both print exactly the same thing).
 *
 * Snapshot format (docs/control-protocol.md):
 *   {"counters":[{"name":"q_msgs_committed","module":"queue",
 *                 "help":"...","type":"counter","value":12}, ...]}
 * "type" is "counter" (monotonic) or "gauge"; the daemon may append gauges
 * of its own to the array before answering.
 *
 * Threading: snapshot() reads counters of live threads without locking
 * them (see mx_counter.h), from any thread.  The renderers are pure.
 * Failure: NULL on allocation failure.
 */
#ifndef MGMT_METRICS_H
#define MGMT_METRICS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

struct mgmt_ctl;

#define MGMT_METRICS_PREFIX "mxgate_"

/* All registered counters with their summed values (new reference). */
json_t *mgmt_metrics_snapshot(void);

/* Appends one gauge to a snapshot; 0 or -ENOMEM. */
int mgmt_metrics_add_gauge(json_t *snapshot, const char *name, const char *help,
			   uint64_t value);

/*
 * Prometheus text exposition format 0.0.4 of a snapshot: per metric a
 * "# HELP", a "# TYPE" and a sample line; counters get a "_total" suffix.
 * Entries with names outside [a-z0-9_] or non-integer values are skipped.
 * Returns a malloc'ed NUL-terminated string (length in *len if non-NULL).
 */
char *mgmt_metrics_prometheus(const json_t *snapshot, size_t *len);

/* Human table (name, value, help) of a snapshot to `out`. */
void mgmt_metrics_print_table(const json_t *snapshot, FILE *out);

/* Registers the `stats` command (result: a snapshot) on a server. */
int mgmt_metrics_register(struct mgmt_ctl *ctl);

#endif
