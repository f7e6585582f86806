/*
 * q_fault — a q_io_ops shim for tests: fails the Nth write or sync with a
 * chosen error, or simulates a crash at the Nth sync.  Writes not yet
 * synced are remembered with the bytes they replaced, so at the crash each
 * can be dropped (old bytes back), kept, or corrupted.  Syncs are not
 * passed to the disk: durability is what the shim says it is.
 * QF_FAIL_CQE replaces the result of the Nth io_uring completion of a
 * shard (write or sync, through the cqe_res hook) with -err.
 */
#ifndef Q_FAULT_H
#define Q_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "q_io.h"

enum q_fault_mode {
	QF_NONE, QF_FAIL_WRITE, QF_FAIL_SYNC, QF_CRASH_SYNC, QF_FAIL_CQE
};
enum q_fault_crash { QF_DROP, QF_KEEP, QF_CORRUPT, QF_MIXED };

struct q_fault;

struct q_fault *q_fault_create(enum q_fault_mode mode, long nth, int err,
			       enum q_fault_crash policy, uint32_t seed);
const struct q_io_ops *q_fault_ops(struct q_fault *f);
bool q_fault_fired(const struct q_fault *f);
bool q_fault_crashed(const struct q_fault *f);
long q_fault_writes(const struct q_fault *f);
long q_fault_syncs(const struct q_fault *f);
long q_fault_cqes(const struct q_fault *f);	/* ring completions seen */
/* After a crash: applies the policy to every unsynced write. */
void q_fault_apply_crash(struct q_fault *f);
void q_fault_destroy(struct q_fault *f);

#endif
