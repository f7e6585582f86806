/*
 * mgmt_dlv_qstore — binds the delivery engine's queue interface to the
 * real q_store.  The signatures match, so each entry only restores the
 * store's type.  Management thread only, like q_store itself.
 */
#include "mgmt_dlv.h"

static int qs_next(void *arg, enum q_state st, uint64_t after_id,
		   struct q_msg_view *v)
{
	return q_store_next(arg, st, after_id, v);
}

static int qs_get(void *arg, uint64_t id, struct q_msg_view *v)
{
	return q_store_get(arg, id, v);
}

static int qs_delivered(void *arg, uint64_t id, unsigned rcpt_idx)
{
	return q_store_rcpt_delivered(arg, id, rcpt_idx);
}

static int qs_bounced(void *arg, uint64_t id, unsigned rcpt_idx,
		      const char *diag)
{
	return q_store_rcpt_bounced(arg, id, rcpt_idx, diag);
}

static int qs_defer(void *arg, uint64_t id, uint64_t until_wall_ns,
		    const char *last_error)
{
	return q_store_defer(arg, id, until_wall_ns, last_error);
}

void mgmt_dlv_source_qstore(struct mgmt_dlv_source *src, struct q_store *s,
			    int (*inject)(void *, const struct q_envelope *,
					  const uint8_t *, size_t),
			    void *inject_arg)
{
	src->arg = s;
	src->next = qs_next;
	src->get = qs_get;
	src->rcpt_delivered = qs_delivered;
	src->rcpt_bounced = qs_bounced;
	src->defer = qs_defer;
	src->inject = inject;
	src->inject_async = NULL;
	src->inject_arg = inject_arg;
}

void mgmt_dlv_source_qstore_async(
    struct mgmt_dlv_source *src, struct q_store *s,
    int (*inject_async)(void *, const struct q_envelope *, const uint8_t *,
			size_t, uint64_t),
    void *inject_arg)
{
	mgmt_dlv_source_qstore(src, s, NULL, inject_arg);
	src->inject_async = inject_async;
}
