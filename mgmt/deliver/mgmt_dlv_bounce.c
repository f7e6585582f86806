/*
 * mgmt_dlv_bounce — who gets a DSN and under which envelope.
 */
#include "mgmt_dlv_bounce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mgmt_dlv_bounce_build(const char *reporting_mta, const struct q_msg_view *v,
			  const struct mgmt_dlv_bounce_rcpt *rcpts, unsigned n,
			  enum mgmt_dlv_dsn_action action, uint64_t now_wall_ns,
			  size_t full_max, struct mgmt_dlv_bounce *out)
{
	const struct q_envelope *env = v->env;
	struct mgmt_dlv_dsn_rcpt *dr;
	struct mgmt_dlv_dsn_msg m;
	char qid[17];
	unsigned k = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	/* RFC 5321 §4.5.5 and §6.1: nothing goes back to <>. */
	if (env->mail_from == NULL || env->mail_from[0] == '\0' ||
	    v->state == Q_ST_QUARANTINED)
		return -EPERM;
	if (n == 0)
		return -EPERM;
	dr = calloc(n, sizeof(*dr));
	if (dr == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const struct mgmt_dlv_bounce_rcpt *b = &rcpts[i];
		const struct q_rcpt *r;

		if (b->idx >= env->rcpt_count) {
			free(dr);
			return -EINVAL;
		}
		r = &env->rcpt[b->idx];
		/* Delay warnings are built only when the operator enabled
		 * them, so recipients without NOTIFY get them too. */
		if (!mgmt_dlv_dsn_notify_wants(r->notify, action, true))
			continue;
		dr[k].addr = r->addr;
		dr[k].orcpt = r->orcpt;
		dr[k].action = action;
		dr[k].status = b->status;
		dr[k].remote_mta = b->remote_mta;
		dr[k].diag = b->diag;
		dr[k].diag_is_smtp = b->diag_is_smtp;
		dr[k].last_attempt_wall_ns = b->last_attempt_wall_ns;
		dr[k].will_retry_until_wall_ns = b->will_retry_until_wall_ns;
		k++;
	}
	if (k == 0) {
		free(dr);
		return -EPERM;
	}
	snprintf(qid, sizeof(qid), "%016llx", (unsigned long long)v->id);
	memset(&m, 0, sizeof(m));
	m.reporting_mta = reporting_mta;
	m.mail_from = env->mail_from;
	m.envid = env->envid;
	m.ret = env->ret;
	m.client_helo = env->helo;
	m.queue_id = qid;
	m.arrival_wall_ns =
	    v->received_wall_ns ? v->received_wall_ns : env->received_wall_ns;
	m.now_wall_ns = now_wall_ns;
	m.body = v->body;
	m.body_len = v->body_len;
	m.full_max = full_max;
	m.rcpt = dr;
	m.rcpt_count = k;
	rc = mgmt_dlv_dsn_build(&m, &out->body, &out->body_len);
	free(dr);
	if (rc < 0)
		return rc;
	out->to = strdup(env->mail_from);
	if (out->to == NULL) {
		mgmt_dlv_bounce_free(out);
		return -ENOMEM;
	}
	out->rcpt.addr = out->to;
	out->rcpt.notify = Q_NOTIFY_NEVER;
	out->env.client_addr = (char *)"127.0.0.1";
	out->env.helo = (char *)reporting_mta;
	out->env.proto = (char *)"LOCAL";
	out->env.mail_from = (char *)"";
	out->env.ret = Q_RET_NONE;
	for (size_t i = 0; i < out->body_len; i++)
		if (out->body[i] & 0x80) {
			out->env.flags |= Q_ENV_8BIT;
			break;
		}
	out->env.rcpt = &out->rcpt;
	out->env.rcpt_count = 1;
	out->env.received_wall_ns = now_wall_ns;
	return 0;
}

void mgmt_dlv_bounce_free(struct mgmt_dlv_bounce *b)
{
	if (b == NULL)
		return;
	free(b->body);
	free(b->to);
	memset(b, 0, sizeof(*b));
}
