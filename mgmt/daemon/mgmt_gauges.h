/*
 * mgmt_gauges — values that are state rather than counts (messages in the
 * queue by state, bytes on disk, open sessions, scanner health), published
 * by the management thread once per loop round into atomics so that any
 * thread — the control socket's `stats`, the HTTP /metrics listener — can
 * add them to a counter snapshot without touching the queue.
 */
#ifndef MGMT_GAUGES_H
#define MGMT_GAUGES_H

#include <jansson.h>

struct mgmt_daemon;

/* Management thread: refresh the published values. */
void mgmt_gauges_update(struct mgmt_daemon *d);
/* Any thread: the counters plus the gauges (new reference, or NULL). */
json_t *mgmt_gauges_snapshot(void);
/* Registers `stats` (answering mgmt_gauges_snapshot()). */
int mgmt_gauges_register(struct mgmt_daemon *d);

/* The optional HTTP listener (metrics.http_listen): GET /metrics in the
 * Prometheus text format.  0, or -1 with err. */
int mgmt_http_start(struct mgmt_daemon *d, char *err, size_t errlen);
void mgmt_http_stop(struct mgmt_daemon *d);

#endif
