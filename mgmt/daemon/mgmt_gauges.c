/*
 * mgmt_gauges.c — see mgmt_gauges.h.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "mgmt_ctl.h"
#include "mgmt_daemon.h"
#include "mgmt_gauges.h"
#include "mgmt_metrics.h"
#include "mgmt_scan.h"
#include "q_store.h"

static _Atomic uint64_t g_state[Q_ST__COUNT];
static _Atomic uint64_t g_disk, g_live, g_segments, g_over_quota;
static _Atomic uint64_t g_sessions, g_scan_healthy, g_draining;

void mgmt_gauges_update(struct mgmt_daemon *d)
{
	struct q_stats st;

	q_store_stats(d->store, &st);
	for (int i = 0; i < Q_ST__COUNT; i++)
		atomic_store_explicit(&g_state[i], st.count[i],
				      memory_order_relaxed);
	atomic_store_explicit(&g_disk, st.bytes_on_disk, memory_order_relaxed);
	atomic_store_explicit(&g_live, st.live_bytes, memory_order_relaxed);
	atomic_store_explicit(&g_segments, st.segments, memory_order_relaxed);
	atomic_store_explicit(&g_over_quota, st.over_quota,
			      memory_order_relaxed);
	atomic_store_explicit(&g_sessions,
			      d->backend->sessions(d->backend_arg),
			      memory_order_relaxed);
	atomic_store_explicit(&g_scan_healthy, mgmt_scan_healthy(d),
			      memory_order_relaxed);
	atomic_store_explicit(&g_draining, d->draining, memory_order_relaxed);
}

json_t *mgmt_gauges_snapshot(void)
{
	static const char *const help[Q_ST__COUNT] = {
		"messages queued, not yet scanned",
		"messages scanned clean, waiting for delivery",
		"messages waiting for a delivery retry",
		"messages held by an operator",
		"messages in quarantine",
		"messages finished, space not yet reclaimed",
	};
	json_t *snap = mgmt_metrics_snapshot();
	char name[64];

	if (!snap)
		return NULL;
	for (int i = 0; i < Q_ST__COUNT; i++) {
		snprintf(name, sizeof(name), "queue_messages_%s",
			 q_state_name((enum q_state)i));
		mgmt_metrics_add_gauge(snap, name, help[i],
				       atomic_load(&g_state[i]));
	}
	mgmt_metrics_add_gauge(snap, "queue_bytes_on_disk",
			       "bytes of queue segment files",
			       atomic_load(&g_disk));
	mgmt_metrics_add_gauge(snap, "queue_live_bytes",
			       "bytes of records of unfinished messages",
			       atomic_load(&g_live));
	mgmt_metrics_add_gauge(snap, "queue_segments", "queue segment files",
			       atomic_load(&g_segments));
	mgmt_metrics_add_gauge(snap, "queue_over_quota",
			       "1 while new mail is refused (high water)",
			       atomic_load(&g_over_quota));
	mgmt_metrics_add_gauge(snap, "smtp_sessions_active",
			       "SMTP sessions open now",
			       atomic_load(&g_sessions));
	mgmt_metrics_add_gauge(snap, "scan_healthy",
			       "1 while a scanner process is ready",
			       atomic_load(&g_scan_healthy));
	mgmt_metrics_add_gauge(snap, "draining",
			       "1 while new connections are refused",
			       atomic_load(&g_draining));
	return snap;
}

static int mgmt_stats_cmd(void *arg, const json_t *args, json_t **result,
			  char *err, size_t errlen)
{
	(void)args;
	mgmt_gauges_update(arg);
	*result = mgmt_gauges_snapshot();
	if (!*result) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int mgmt_gauges_register(struct mgmt_daemon *d)
{
	return mgmt_ctl_register(d->ctl, "stats", mgmt_stats_cmd, d,
				 "every counter and gauge");
}
