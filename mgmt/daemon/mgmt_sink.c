/*
 * mgmt_sink.c — dp_sink over q_shard (see mgmt_sink.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "dp_smtp.h"
#include "mgmt_sink.h"
#include "q_shard.h"

struct mgmt_sink {
	struct q_shard *shard;
	struct q_rcpt *rcpt;	/* scratch for one envelope's recipients */
	unsigned rcpt_max;
	dp_sink_done_fn done;
	void *core;
};

static void mgmt_sink_done(void *arg, uint64_t cookie, uint64_t id,
			   int status)
{
	struct mgmt_sink *ms = arg;

	ms->done(ms->core, cookie, id, status);
}

static int mgmt_sink_attach(void *arg, struct io_uring *ring,
			    dp_sink_done_fn done, void *core)
{
	struct mgmt_sink *ms = arg;

	ms->done = done;
	ms->core = core;
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
	(void)arg;
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
	free(ms->rcpt);
	free(ms);
}

struct dp_sink mgmt_sink_get(struct mgmt_sink *ms)
{
	return (struct dp_sink){.ops = &mgmt_sink_ops, .arg = ms};
}
