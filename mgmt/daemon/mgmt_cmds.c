/*
 * mgmt_cmds.c — the daemon's control commands, registered on the control
 * socket (protocol: mgmt/control/mgmt_ctl.c, docs/control-protocol.md).
 * Each handler runs on the management thread, reads the state it reports
 * directly (the queue index, the delivery engine, counters summed over the
 * cores), and answers with a JSON object.  Positional words after a
 * command arrive in args.argv; flags as named args.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgmt_ctl.h"
#include "mgmt_gauges.h"
#include "mgmt_daemon.h"
#include "mgmt_dlv.h"
#include "mgmt_policy.h"
#include "mgmt_scan.h"
#include "mx_build_config.h"
#include "mx_log.h"
#include "mx_time.h"
#include "q_store.h"

#define CMD(name)                                                              \
	static int name(void *arg, const json_t *args, json_t **result,        \
			char *err, size_t errlen)

/* args.argv[i] or args[key] as a string, or NULL. */
static const char *mgmt_arg(const json_t *args, unsigned i, const char *key)
{
	json_t *v = NULL;

	if (key)
		v = json_object_get(args, key);
	if (!v) {
		json_t *argv = json_object_get(args, "argv");

		if (json_is_array(argv) && i < json_array_size(argv))
			v = json_array_get(argv, i);
	}
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int mgmt_arg_id(const json_t *args, uint64_t *id, char *err,
		       size_t errlen)
{
	const char *s = mgmt_arg(args, 0, "id");
	char *end;

	if (!s) {
		snprintf(err, errlen, "missing message id");
		return -1;
	}
	errno = 0;
	*id = strtoull(s, &end, 16);
	if (errno || *end || end == s || strlen(s) > 16) {
		snprintf(err, errlen, "bad message id: %s (16 hex digits)", s);
		return -1;
	}
	return 0;
}

static int mgmt_store_err(int r, uint64_t id, char *err, size_t errlen)
{
	char ids[17];

	q_id_fmt(id, ids);
	if (r == -ENOENT)
		snprintf(err, errlen, "no such message: %s", ids);
	else if (r == -EINVAL)
		snprintf(err, errlen, "not allowed in its current state: %s",
			 ids);
	else
		snprintf(err, errlen, "%s: %s", ids, strerror(-r));
	return -1;
}

static json_t *mgmt_queue_summary(struct mgmt_daemon *d)
{
	struct q_stats st;
	json_t *o = json_object(), *by = json_object();
	uint64_t now = mx_wall_ns();

	q_store_stats(d->store, &st);
	for (int i = 0; i < Q_ST__COUNT; i++)
		json_object_set_new(by, q_state_name((enum q_state)i),
				    json_integer((json_int_t)st.count[i]));
	json_object_set_new(o, "messages", by);
	json_object_set_new(o, "bytes_on_disk",
			    json_integer((json_int_t)st.bytes_on_disk));
	json_object_set_new(o, "live_bytes",
			    json_integer((json_int_t)st.live_bytes));
	json_object_set_new(o, "segments",
			    json_integer((json_int_t)st.segments));
	json_object_set_new(o, "segments_free",
			    json_integer((json_int_t)st.segments_free));
	json_object_set_new(o, "segments_recycled",
			    json_integer((json_int_t)st.segments_recycled));
	json_object_set_new(
		o, "oldest_age_s",
		json_integer(st.oldest_received_wall_ns
				     ? (json_int_t)((now -
						     st.oldest_received_wall_ns) /
						    1000000000u)
				     : 0));
	json_object_set_new(o, "over_quota", json_boolean(st.over_quota));
	json_object_set_new(o, "quota_bytes",
			    json_integer((json_int_t)st.quota_bytes));
	json_object_set_new(o, "recovered_messages",
			    json_integer((json_int_t)st.recovered_msgs));
	json_object_set_new(
		o, "recovered_discarded_bytes",
		json_integer((json_int_t)st.recovered_discarded_bytes));
	return o;
}

CMD(cmd_status)
{
	struct mgmt_daemon *d = arg;
	json_t *o = json_object();

	(void)args;
	(void)err;
	(void)errlen;
	json_object_set_new(o, "version", json_string(MX_VERSION));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "uptime_s",
			    json_integer((json_int_t)((mx_wall_ns() -
						       d->started_wall_ns) /
						      1000000000u)));
	json_object_set_new(o, "config", json_string(d->conf_path));
	json_object_set_new(o, "backend", json_string(d->backend->name));
	json_object_set_new(o, "cores", json_integer(d->cores));
	json_object_set_new(
		o, "sessions",
		json_integer((json_int_t)d->backend->sessions(d->backend_arg)));
	json_object_set_new(o, "draining", json_boolean(d->draining));
	json_object_set_new(o, "delivery_paused",
			    json_boolean(d->delivery_paused));
	json_object_set_new(o, "delivery_inflight",
			    json_integer(mgmt_dlv_inflight(d->dlv)));
	json_object_set_new(o, "queue", mgmt_queue_summary(d));
	json_object_set_new(o, "scan_enabled",
			    json_boolean(d->conf.scan.enabled));
	json_object_set_new(o, "scan_healthy",
			    json_boolean(mgmt_scan_healthy(d)));
	json_object_set_new(o, "scan_status", json_string(mgmt_scan_status(d)));
	json_object_set_new(o, "reloads", json_integer((json_int_t)d->reloads));
	json_object_set_new(o, "reload_failures",
			    json_integer((json_int_t)d->reload_failures));
	json_object_set_new(o, "last_reload_error",
			    json_string(d->last_reload_error));
	json_object_set_new(o, "log_level",
			    json_string(mx_log_level_name(mx_log_get_level())));
	*result = o;
	return 0;
}

CMD(cmd_config)
{
	struct mgmt_daemon *d = arg;

	(void)args;
	*result = mgmt_conf_dump_json(&d->conf);
	if (!*result) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int mgmt_reload(struct mgmt_daemon *d, char *err, size_t errlen)
{
	struct mgmt_conf next;
	struct mgmt_policy *np, *old;
	int r;

	if (mgmt_conf_load(d->conf_path, d->overrides, d->override_count,
			   &next, err, errlen) < 0)
		goto fail;
	/* Settings fixed at start-up: refuse rather than half-apply. */
	if (next.dataplane.backend != d->conf.dataplane.backend ||
	    next.dataplane.cores != d->conf.dataplane.cores ||
	    strcmp(next.queue.dir, d->conf.queue.dir) != 0 ||
	    strcmp(next.control.socket, d->conf.control.socket) != 0 ||
	    next.smtp.listen_count != d->conf.smtp.listen_count) {
		snprintf(err, errlen,
			 "%s: dataplane.backend, dataplane.cores, queue.dir, "
			 "control.socket and smtp.listen need a restart",
			 d->conf_path);
		mgmt_conf_free(&next);
		goto fail;
	}
	for (unsigned i = 0; i < next.smtp.listen_count; i++) {
		if (strcmp(next.smtp.listen[i].text,
			   d->conf.smtp.listen[i].text) != 0) {
			snprintf(err, errlen,
				 "%s: smtp.listen changes need a restart",
				 d->conf_path);
			mgmt_conf_free(&next);
			goto fail;
		}
	}
	np = mgmt_policy_create(&next, err, errlen);
	if (!np) {
		mgmt_conf_free(&next);
		goto fail;
	}
	if ((r = mx_log_open(next.log.target)) < 0) {
		snprintf(err, errlen, "log.target %s: %s", next.log.target,
			 strerror(-r));
		mgmt_policy_destroy(np);
		mgmt_conf_free(&next);
		goto fail;
	}
	/* Commit point: everything below cannot fail. */
	mx_log_set_level((enum mx_log_level)next.log.level);
	old = atomic_exchange_explicit(&d->policy, np, memory_order_acq_rel);
	/* Cores may be inside a check on the old policy, and each keeps a
	 * reader on it until its next RCPT; it is small and reloads are
	 * rare, so it is kept until exit rather than tracked. */
	(void)old;
	mgmt_conf_free(&d->conf);
	d->conf = next;
	d->reloads++;
	d->last_reload_error[0] = '\0';
	mx_log(MX_LOG_INFO, "main", "event=reloaded config=%s", d->conf_path);
	return 0;
fail:
	d->reload_failures++;
	snprintf(d->last_reload_error, sizeof(d->last_reload_error), "%s",
		 err);
	return -1;
}

CMD(cmd_reload)
{
	struct mgmt_daemon *d = arg;
	const char *what = mgmt_arg(args, 0, "what");

	if (!what || strcmp(what, "config") == 0) {
		if (mgmt_reload(d, err, errlen) < 0)
			return -1;
		*result = json_pack("{s:s}", "reloaded", "config");
		return 0;
	}
	if (strcmp(what, "signatures") == 0) {
		if (mgmt_scan_reload(d, err, errlen) < 0)
			return -1;
		*result = json_pack("{s:s,s:s}", "reloaded", "signatures",
				    "status", mgmt_scan_status(d));
		return 0;
	}
	snprintf(err, errlen, "reload what? config or signatures, not %s",
		 what);
	return -1;
}

CMD(cmd_log_level)
{
	const char *lv = mgmt_arg(args, 0, "level");
	int l;

	(void)arg;
	if (!lv) {
		*result = json_pack("{s:s}", "level",
				    mx_log_level_name(mx_log_get_level()));
		return 0;
	}
	l = mx_log_level_parse(lv);
	if (l < 0) {
		snprintf(err, errlen,
			 "unknown level %s (err, warn, info, debug)", lv);
		return -1;
	}
	mx_log_set_level((enum mx_log_level)l);
	*result = json_pack("{s:s}", "level", mx_log_level_name(l));
	return 0;
}

CMD(cmd_drain)
{
	struct mgmt_daemon *d = arg;
	const char *on = mgmt_arg(args, 0, "state");

	(void)err;
	(void)errlen;
	d->draining = !(on && (strcmp(on, "off") == 0 ||
			       strcmp(on, "false") == 0));
	d->backend->drain(d->backend_arg, d->draining);
	mx_log(MX_LOG_INFO, "main", "event=drain state=%s",
	       d->draining ? "on" : "off");
	*result = json_pack("{s:b}", "draining", d->draining);
	return 0;
}

CMD(cmd_queue)
{
	struct mgmt_daemon *d = arg;

	(void)args;
	(void)err;
	(void)errlen;
	*result = mgmt_queue_summary(d);
	return 0;
}

static json_t *mgmt_msg_json(const struct q_msg_view *v)
{
	char ids[17];
	json_t *o = json_object(), *rc = json_array();

	q_id_fmt(v->id, ids);
	json_object_set_new(o, "id", json_string(ids));
	json_object_set_new(o, "state", json_string(q_state_name(v->state)));
	json_object_set_new(o, "from", json_string(v->env->mail_from));
	for (uint32_t i = 0; i < v->env->rcpt_count; i++)
		json_array_append_new(rc, json_string(v->env->rcpt[i].addr));
	json_object_set_new(o, "rcpt", rc);
	json_object_set_new(o, "size", json_integer((json_int_t)v->body_len));
	json_object_set_new(o, "received_s",
			    json_integer((json_int_t)(v->received_wall_ns /
						      1000000000u)));
	json_object_set_new(o, "attempts", json_integer(v->attempts));
	if (v->verdict)
		json_object_set_new(o, "verdict", json_string(v->verdict));
	if (v->last_error)
		json_object_set_new(o, "last_error",
				    json_string(v->last_error));
	return o;
}

static int mgmt_state_parse(const char *s, enum q_state *st)
{
	for (int i = 0; i < Q_ST__COUNT; i++) {
		if (strcmp(s, q_state_name((enum q_state)i)) == 0) {
			*st = (enum q_state)i;
			return 0;
		}
	}
	return -1;
}

static json_t *mgmt_list(struct mgmt_daemon *d, int only, unsigned limit)
{
	json_t *arr = json_array();
	struct q_msg_view v;

	for (int st = 0; st < Q_ST__COUNT; st++) {
		uint64_t after = 0;

		if (only >= 0 && st != only)
			continue;
		if (only < 0 && st == Q_ST_DONE)
			continue;
		while (json_array_size(arr) < limit &&
		       q_store_next(d->store, (enum q_state)st, after, &v) ==
			       0) {
			after = v.id;
			json_array_append_new(arr, mgmt_msg_json(&v));
		}
	}
	return arr;
}

CMD(cmd_queue_list)
{
	struct mgmt_daemon *d = arg;
	const char *s = mgmt_arg(args, 0, "state");
	const char *lim = mgmt_arg(args, 1, "limit");
	enum q_state st;
	int only = -1;

	if (s) {
		if (mgmt_state_parse(s, &st) < 0) {
			snprintf(err, errlen,
				 "unknown state %s (new, scanned, deferred, "
				 "held, quarantined, done)",
				 s);
			return -1;
		}
		only = (int)st;
	}
	*result = json_pack("{s:o}", "messages",
			    mgmt_list(d, only, lim ? (unsigned)atoi(lim)
						   : 1000));
	return 0;
}

struct mgmt_hist_ctx {
	json_t *arr;
};

static void mgmt_hist_fn(void *arg, const struct q_hist *h)
{
	struct mgmt_hist_ctx *c = arg;
	json_t *o = json_object();

	json_object_set_new(o, "time_s",
			    json_integer((json_int_t)(h->wall_ns / 1000000000u)));
	json_object_set_new(o, "what", json_string(h->what));
	if (h->detail)
		json_object_set_new(o, "detail", json_string(h->detail));
	if (h->rcpt_idx >= 0)
		json_object_set_new(o, "rcpt", json_integer(h->rcpt_idx));
	json_array_append_new(c->arr, o);
}

CMD(cmd_queue_show)
{
	struct mgmt_daemon *d = arg;
	struct mgmt_hist_ctx hc;
	struct q_msg_view v;
	uint64_t id;
	json_t *o, *rc;
	int r;

	if (mgmt_arg_id(args, &id, err, errlen) < 0)
		return -1;
	if ((r = q_store_get(d->store, id, &v)) < 0)
		return mgmt_store_err(r, id, err, errlen);
	o = mgmt_msg_json(&v);
	json_object_set_new(o, "client", json_string(v.env->client_addr));
	json_object_set_new(o, "helo", json_string(v.env->helo));
	json_object_set_new(o, "proto", json_string(v.env->proto));
	rc = json_array();
	for (uint32_t i = 0; i < v.env->rcpt_count; i++) {
		static const char *const names[] = {"pending", "delivered",
						    "bounced", "deferred"};
		uint8_t s = v.rcpt_status ? v.rcpt_status[i] : 0;

		json_array_append_new(
			rc, json_pack("{s:s,s:s}", "addr", v.env->rcpt[i].addr,
				      "status", s < 4 ? names[s] : "?"));
	}
	json_object_set_new(o, "recipients", rc);
	json_object_set_new(o, "headers",
			    json_stringn((const char *)v.body,
					 q_msg_header_len(&v)));
	hc.arr = json_array();
	q_store_history(d->store, id, mgmt_hist_fn, &hc);
	json_object_set_new(o, "history", hc.arr);
	*result = o;
	return 0;
}

/* hold / release / delete / quarantine release / quarantine delete */
static int mgmt_msg_op(struct mgmt_daemon *d, const json_t *args,
		       json_t **result, char *err, size_t errlen,
		       const char *op)
{
	uint64_t id;
	int r;

	if (mgmt_arg_id(args, &id, err, errlen) < 0)
		return -1;
	if (strcmp(op, "hold") == 0)
		r = q_store_hold(d->store, id);
	else if (strcmp(op, "release") == 0)
		r = q_store_release(d->store, id, "mxgatectl");
	else
		r = q_store_delete(d->store, id);
	if (r < 0)
		return mgmt_store_err(r, id, err, errlen);
	if (strcmp(op, "release") == 0)
		mgmt_dlv_kick(d->dlv);
	char ids[17];

	q_id_fmt(id, ids);
	mx_log(MX_LOG_INFO, "queue", "id=%s event=%s by=mxgatectl", ids, op);
	*result = json_pack("{s:s,s:s}", "id", ids, "done", op);
	return 0;
}

CMD(cmd_queue_hold)
{
	return mgmt_msg_op(arg, args, result, err, errlen, "hold");
}

CMD(cmd_queue_release)
{
	return mgmt_msg_op(arg, args, result, err, errlen, "release");
}

CMD(cmd_queue_delete)
{
	return mgmt_msg_op(arg, args, result, err, errlen, "delete");
}

CMD(cmd_queue_flush)
{
	struct mgmt_daemon *d = arg;
	const char *dest = mgmt_arg(args, 0, "dest");

	(void)err;
	(void)errlen;
	if (!dest)
		q_store_flush_deferred(d->store);
	*result = mgmt_dlv_ctl_flush(d->dlv, dest);
	mgmt_dlv_kick(d->dlv);
	return 0;
}

CMD(cmd_quarantine_list)
{
	struct mgmt_daemon *d = arg;

	(void)args;
	(void)err;
	(void)errlen;
	*result = json_pack("{s:o}", "messages",
			    mgmt_list(d, Q_ST_QUARANTINED, 100000));
	return 0;
}

CMD(cmd_deliver_pause)
{
	struct mgmt_daemon *d = arg;
	const char *dest = mgmt_arg(args, 0, "dest");

	(void)err;
	(void)errlen;
	if (!dest)
		d->delivery_paused = true;
	*result = mgmt_dlv_ctl_pause(d->dlv, dest);
	return 0;
}

CMD(cmd_deliver_resume)
{
	struct mgmt_daemon *d = arg;
	const char *dest = mgmt_arg(args, 0, "dest");

	(void)err;
	(void)errlen;
	if (!dest)
		d->delivery_paused = false;
	*result = mgmt_dlv_ctl_resume(d->dlv, dest);
	mgmt_dlv_kick(d->dlv);
	return 0;
}

CMD(cmd_routes)
{
	struct mgmt_daemon *d = arg;

	(void)args;
	(void)err;
	(void)errlen;
	*result = mgmt_dlv_ctl_routes(d->dlv);
	return 0;
}

int mgmt_cmds_register(struct mgmt_daemon *d)
{
	static const struct {
		const char *cmd;
		mgmt_ctl_handler_fn fn;
		const char *help;
	} cmds[] = {
		{"status", cmd_status, "daemon, queue and scanner state"},
		{"config", cmd_config, "the effective configuration"},
		{"reload", cmd_reload,
		 "reload config (default) or signatures; a bad one changes "
		 "nothing"},
		{"log-level", cmd_log_level, "show or set the log level"},
		{"drain", cmd_drain,
		 "stop accepting (421 to new connections); drain off resumes"},
		{"queue", cmd_queue, "queue summary"},
		{"queue list", cmd_queue_list, "list messages [STATE] [LIMIT]"},
		{"queue show", cmd_queue_show,
		 "envelope, history and headers of ID"},
		{"queue hold", cmd_queue_hold, "hold ID"},
		{"queue release", cmd_queue_release, "release held ID"},
		{"queue delete", cmd_queue_delete, "delete ID"},
		{"queue flush", cmd_queue_flush,
		 "retry deferred mail now [DEST]"},
		{"quarantine list", cmd_quarantine_list,
		 "quarantined messages"},
		{"quarantine show", cmd_queue_show,
		 "envelope, history and headers of ID"},
		{"quarantine release", cmd_queue_release,
		 "deliver quarantined ID"},
		{"quarantine delete", cmd_queue_delete,
		 "delete quarantined ID"},
		{"deliver pause", cmd_deliver_pause, "pause delivery [DEST]"},
		{"deliver resume", cmd_deliver_resume,
		 "resume delivery [DEST]"},
		{"routes", cmd_routes, "routing table and destination state"},
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (mgmt_ctl_register(d->ctl, cmds[i].cmd, cmds[i].fn, d,
				      cmds[i].help) < 0)
			return -1;
	return mgmt_gauges_register(d);
}
