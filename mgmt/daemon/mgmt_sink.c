/*
 * mgmt_sink.c — dp_sink over q_shard (see mgmt_sink.h).
 *
 * Inline pre-filter (scan.inline_prefilter): just before a message is
 * committed, the core runs the Hyperscan pre-filter over its staged bytes
 * with a scratch of its own.  The message is committed either way — a
 * rejected message is kept for audit, and the scan stage quarantines it by
 * the same rules — but a session whose message a `reject` rule hit hears
 * 550 5.7.1 instead of 250 once the commit is durable.
 */
#include <errno.h>
#include <stdlib.h>

#include "dp_smtp.h"
#include "mgmt_sink.h"
#include "mx_build_config.h"
#include "mx_counter.h"
#include "q_shard.h"

#if MX_HAVE_HYPERSCAN && MX_HAVE_CLAMAV
#define MGMT_SINK_INLINE 1
#include "scan_pf.h"
#else
#define MGMT_SINK_INLINE 0
#endif

#define MGMT_SINK_COUNTERS(X)                                                  \
	X(inline_scanned, "messages pre-filtered inline before the 250")       \
	X(inline_rejected, "messages answered 550 by the inline pre-filter")   \
	X(inline_overflow, "inline rejects past the per-core table, left "     \
			   "to the scan stage (the client got 250)")
enum mgmt_sink_counter { MGMT_SINK_COUNTERS(MX_COUNTER_ENUM) MGMT_SINK_C__COUNT };
MX_COUNTER_SET_DEFINE(mgmt_sink_counters, "sink", MGMT_SINK_COUNTERS)

/* Rejected messages whose commit is still in flight, per core. */
#define MGMT_SINK_REJECT_MAX 64

struct mgmt_sink {
	struct q_shard *shard;
	struct q_rcpt *rcpt;	/* scratch for one envelope's recipients */
	unsigned rcpt_max;
	dp_sink_done_fn done;
	void *core;
	struct scan_pf *pf;	/* inline pre-filter, or NULL */
#if MGMT_SINK_INLINE
	struct scan_pf_worker *pfw;
#endif
	uint64_t reject_id[MGMT_SINK_REJECT_MAX];
	unsigned reject_count;
};

static bool mgmt_sink_take_reject(struct mgmt_sink *ms, uint64_t id)
{
	for (unsigned i = 0; i < ms->reject_count; i++) {
		if (ms->reject_id[i] == id) {
			ms->reject_id[i] = ms->reject_id[--ms->reject_count];
			return true;
		}
	}
	return false;
}

static void mgmt_sink_done(void *arg, uint64_t cookie, uint64_t id,
			   int status)
{
	struct mgmt_sink *ms = arg;

	if (ms->reject_count && mgmt_sink_take_reject(ms, id) &&
	    status == 0)
		status = -EPERM;
	ms->done(ms->core, cookie, id, status);
}

void mgmt_sink_set_inline(struct mgmt_sink *ms, struct scan_pf *pf)
{
#if MGMT_SINK_INLINE
	/* Turning it off (the core has stopped): the worker's scratch
	 * belongs to pf, so it goes before pf does. */
	if (!pf) {
		scan_pf_worker_destroy(ms->pfw);
		ms->pfw = NULL;
	}
#endif
	ms->pf = pf;
}

static int mgmt_sink_attach(void *arg, struct io_uring *ring,
			    dp_sink_done_fn done, void *core)
{
	struct mgmt_sink *ms = arg;

	ms->done = done;
	ms->core = core;
#if MGMT_SINK_INLINE
	if (ms->pf) {
		/* Scratch is per thread: made here, on the core's own. */
		ms->pfw = scan_pf_worker_create(ms->pf);
		if (!ms->pfw)
			return -ENOMEM;
	}
#endif
	return q_shard_attach(ms->shard, ring, DP_UD_SINK, mgmt_sink_done,
			      ms);
}

static uint8_t mgmt_sink_notify(unsigned n)
{
	uint8_t q = 0;

	if (n & DP_SMTP_NOTIFY_NEVER)
		q |= Q_NOTIFY_NEVER;
	if (n & DP_SMTP_NOTIFY_SUCCESS)
		q |= Q_NOTIFY_SUCCESS;
	if (n & DP_SMTP_NOTIFY_FAILURE)
		q |= Q_NOTIFY_FAILURE;
	if (n & DP_SMTP_NOTIFY_DELAY)
		q |= Q_NOTIFY_DELAY;
	return q;
}

static int mgmt_sink_open(void *arg, const struct dp_smtp_envelope *e,
			  uint64_t cookie, uint64_t *id, void **msg)
{
	struct mgmt_sink *ms = arg;
	struct q_envelope qe;

	if (e->rcpt_count > ms->rcpt_max)
		return -E2BIG;
	for (unsigned i = 0; i < e->rcpt_count; i++) {
		ms->rcpt[i].addr = (char *)e->rcpt[i].addr;
		ms->rcpt[i].notify = mgmt_sink_notify(e->rcpt[i].notify);
		ms->rcpt[i].orcpt = (char *)e->rcpt[i].orcpt;
	}
	qe = (struct q_envelope){
		.client_addr = (char *)e->client_addr,
		.client_port = e->client_port,
		.helo = (char *)e->helo,
		.proto = (char *)e->proto,
		.mail_from = (char *)e->mail_from,
		.ret = e->ret == DP_SMTP_RET_FULL   ? Q_RET_FULL
		       : e->ret == DP_SMTP_RET_HDRS ? Q_RET_HDRS
						    : Q_RET_NONE,
		.envid = (char *)e->envid,
		.flags = (uint8_t)((e->body_8bit ? Q_ENV_8BIT : 0) |
				   (e->smtputf8 ? Q_ENV_SMTPUTF8 : 0)),
		.rcpt = ms->rcpt,
		.rcpt_count = e->rcpt_count,
		.received_wall_ns = e->received_wall_ns,
	};
	return q_shard_msg_open(ms->shard, &qe, cookie, (struct q_msg **)msg,
				id);
}

static int mgmt_sink_write(void *arg, void *msg, const void *data, size_t len)
{
	(void)arg;
	return q_shard_msg_write(msg, data, len);
}

static void mgmt_sink_commit(void *arg, void *msg)
{
#if MGMT_SINK_INLINE
	struct mgmt_sink *ms = arg;

	if (ms->pfw) {
		struct scan_pf_result res;
		const uint8_t *body;
		size_t len;

		body = q_shard_msg_body(msg, &len);
		MX_COUNT(mgmt_sink_counters, inline_scanned);
		if (scan_pf_scan(ms->pfw, body, len, &res) == 0 &&
		    res.action == SCAN_ACT_REJECT) {
			if (ms->reject_count < MGMT_SINK_REJECT_MAX) {
				ms->reject_id[ms->reject_count++] =
					q_shard_msg_id(msg);
				MX_COUNT(mgmt_sink_counters, inline_rejected);
			} else {
				MX_COUNT(mgmt_sink_counters, inline_overflow);
			}
		}
	}
#else
	(void)arg;
#endif
	q_shard_msg_commit(msg);
}

static void mgmt_sink_abort(void *arg, void *msg)
{
	(void)arg;
	q_shard_msg_abort(msg);
}

static void mgmt_sink_flush(void *arg)
{
	struct mgmt_sink *ms = arg;

	q_shard_flush(ms->shard);
}

static void mgmt_sink_cqe(void *arg, const struct io_uring_cqe *cqe)
{
	struct mgmt_sink *ms = arg;

	q_shard_cqe(ms->shard, cqe);
}

static int mgmt_sink_full(void *arg)
{
	struct mgmt_sink *ms = arg;

	return q_shard_full(ms->shard);
}

static const struct dp_sink_ops mgmt_sink_ops = {
	.attach = mgmt_sink_attach,
	.open = mgmt_sink_open,
	.write = mgmt_sink_write,
	.commit = mgmt_sink_commit,
	.abort = mgmt_sink_abort,
	.flush = mgmt_sink_flush,
	.cqe = mgmt_sink_cqe,
	.full = mgmt_sink_full,
};

struct mgmt_sink *mgmt_sink_create(struct q_shard *shard, unsigned rcpt_max)
{
	struct mgmt_sink *ms = calloc(1, sizeof(*ms));

	if (!ms)
		return NULL;
	ms->shard = shard;
	ms->rcpt_max = rcpt_max;
	ms->rcpt = calloc(rcpt_max ? rcpt_max : 1, sizeof(*ms->rcpt));
	if (!ms->rcpt) {
		free(ms);
		return NULL;
	}
	return ms;
}

void mgmt_sink_destroy(struct mgmt_sink *ms)
{
	if (!ms)
		return;
	mgmt_sink_set_inline(ms, NULL);
	free(ms->rcpt);
	free(ms);
}

struct dp_sink mgmt_sink_get(struct mgmt_sink *ms)
{
	return (struct dp_sink){.ops = &mgmt_sink_ops, .arg = ms};
}
