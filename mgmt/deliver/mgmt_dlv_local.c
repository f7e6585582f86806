/*
 * mgmt_dlv_local — the destinations that need no connection: discard
 * (accept and drop) and Maildir (mgmt_dlv_maildir), run inline on the
 * management thread when their jobs are dispatched.
 */
#include <string.h>
#include <stdio.h>

#include "mgmt_dlv_int.h"
#include "mgmt_dlv_maildir.h"
#include "mx_log.h"

void dlv_local_run(struct mgmt_dlv *d, struct dlv_job *job)
{
	struct q_msg_view v;

	if (job->dest->route.kind == MGMT_DLV_ROUTE_DISCARD) {
		MX_COUNT_ADD(mgmt_dlv_counters, dlv_rcpt_discarded,
			     job->rcpt_count);
		for (unsigned pos = 0; pos < job->rcpt_count; pos++)
			dlv_rcpt_result(job, pos, DLV_R_OK, "2.0.0",
					"discarded", false);
		dlv_job_done(d, job);
		return;
	}
	if (dlv_msg_view(d, job->msg->id, &v) < 0) {
		dlv_job_done(d, job); /* gone: nothing to deliver */
		return;
	}
	char trace[256];

	dlv_trace_header(&v, trace, sizeof(trace));
	for (unsigned pos = 0; pos < job->rcpt_count; pos++) {
		const char *rcpt = v.env->rcpt[job->rcpt[pos]].addr;
		struct mgmt_dlv_maildir_result res;

		if (mgmt_dlv_maildir_deliver_hdr(
			    job->dest->route.path, rcpt, v.env->mail_from,
			    trace[0] ? trace : NULL, v.body, v.body_len,
			    &res) == 0) {
			dlv_rcpt_result(job, pos, DLV_R_OK, "2.0.0",
					"delivered to maildir", false);
			continue;
		}
		MX_COUNT(mgmt_dlv_counters, dlv_maildir_errors);
		MX_LOG_RL(MX_LOG_WARN, "deliver",
			  "id=%016llx event=maildir_failed diag=\"%s\"",
			  (unsigned long long)job->msg->id, res.diag);
		dlv_rcpt_result(job, pos,
				res.permanent ? DLV_R_BOUNCE : DLV_R_DEFER,
				res.status, res.diag, false);
	}
	dlv_job_done(d, job);
}

size_t dlv_trace_header(const struct q_msg_view *v, char *buf, size_t size)
{
	static const char name[] = "X-Mxgate-Scan: ";
	size_t n = 0;

	buf[0] = '\0';
	if (!v->verdict || size < sizeof(name) + 1)
		return 0;
	memcpy(buf, name, sizeof(name) - 1);
	n = sizeof(name) - 1;
	for (const char *p = v->verdict; *p && n + 1 < size; p++)
		buf[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '_';
	buf[n] = '\0';
	return n;
}
