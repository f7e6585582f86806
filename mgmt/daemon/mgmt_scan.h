/*
 * mgmt_scan — the scan stage between the queue and delivery: every
 * message the queue holds as NEW goes through the Hyperscan pre-filter on
 * a worker thread, and, when a rule or the default says so, through a
 * ClamAV scanner process.  The verdict is recorded in the queue (clean
 * mail becomes ready for delivery; infected or rejected mail is
 * quarantined, never bounced).
 *
 * With scan.enabled = false every new message is recorded clean at once
 * (detail "not scanned").  When no scanner process is healthy, the
 * on_no_scanner policy applies: hold (keep the message NEW until one is),
 * or pass (record clean with detail "unscanned").  tempfail is applied at
 * the SMTP side by the daemon.
 *
 * Threads: every function on the management thread; the pre-filter
 * workers only see (id, segment path, offset, length) and answer through
 * SPSC rings.  Failure: start returns -1 with a reason (bad rule file,
 * scanner binary missing); at run time faults become verdicts or retries.
 */
#ifndef MGMT_SCAN_H
#define MGMT_SCAN_H

#include <stdbool.h>
#include <stddef.h>

struct mgmt_daemon;

int mgmt_scan_start(struct mgmt_daemon *d, char *err, size_t errlen);
void mgmt_scan_stop(struct mgmt_daemon *d);
void mgmt_scan_epoll_add(struct mgmt_daemon *d, int epoll_fd);
/* One round: hand NEW messages to workers, record finished verdicts. */
void mgmt_scan_step(struct mgmt_daemon *d);
/* SIGCHLD: a scanner process changed state. */
void mgmt_scan_child(struct mgmt_daemon *d);
/* Reload the pre-filter rules and the ClamAV signatures, each built and
 * tested beside the running one; -1 with the reason if either failed (the
 * old one keeps running). */
int mgmt_scan_reload(struct mgmt_daemon *d, char *err, size_t errlen);
/* For `status`: healthy, engine, last reload result. */
bool mgmt_scan_healthy(const struct mgmt_daemon *d);
const char *mgmt_scan_status(const struct mgmt_daemon *d);

#endif
