/*
 * scan_counters — the counters of the scan module (pre-filter and ClamAV
 * pool), one X-macro list with help strings.  Any thread may count; the
 * pre-filter counts on worker threads, the pool on the management thread.
 */
#ifndef SCAN_COUNTERS_H
#define SCAN_COUNTERS_H

#include "mx_counter.h"

#define SCAN_COUNTERS(X)                                                       \
	X(scan_pf_msgs, "messages run through the pre-filter")                 \
	X(scan_pf_bytes, "message bytes run through the pre-filter")           \
	X(scan_pf_act_reject, "pre-filter verdicts: reject")                   \
	X(scan_pf_act_scan, "pre-filter verdicts: scan")                       \
	X(scan_pf_act_tag, "pre-filter verdicts: tag")                         \
	X(scan_pf_act_pass, "pre-filter verdicts: pass")                       \
	X(scan_pf_no_match, "messages that matched no rule (default action)")  \
	X(scan_pf_errors, "pre-filter scans that failed (hyperscan error)")    \
	X(scan_pf_decode_truncated, "parts whose decoded content hit the cap") \
	X(scan_pf_mime_too_deep, "MIME nesting beyond the depth limit")        \
	X(scan_pf_mime_long_lines, "header lines cut at the line limit")       \
	X(scan_pf_reloads, "rule reloads that took effect")                    \
	X(scan_pf_reload_failures, "rule reloads refused (old rules kept)")    \
	X(scan_clam_submitted, "messages submitted to ClamAV")                 \
	X(scan_clam_clean, "ClamAV verdicts: clean")                           \
	X(scan_clam_infected, "ClamAV verdicts: infected")                     \
	X(scan_clam_errors, "ClamAV verdicts: error")                          \
	X(scan_clam_failed, "messages that took down a scanner twice")         \
	X(scan_clam_retries, "scans retried after a scanner died")             \
	X(scan_clam_crashes, "scanner processes that died")                    \
	X(scan_clam_timeouts, "scanner processes killed at the time limit")    \
	X(scan_clam_spawns, "scanner processes started")                       \
	X(scan_clam_queue_full, "submissions refused: queue full")             \
	X(scan_clam_proto_errors, "malformed messages from a scanner")         \
	X(scan_clam_reloads, "signature reloads that took effect")             \
	X(scan_clam_reload_failures, "signature reloads refused (old kept)")

enum scan_counter { SCAN_COUNTERS(MX_COUNTER_ENUM) SCAN_C__COUNT };
MX_COUNTER_SET_DECLARE(scan_counters);

#endif
