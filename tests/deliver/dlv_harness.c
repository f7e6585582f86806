/*
 * dlv_harness — runs the delivery engine on a real queue for the
 * integration tests.  It plays the daemon's part: opens a q_store in a
 * directory, queues the messages of a JSON spec through a shard (Q_IO_SYNC),
 * marks new messages clean (the scanner's part), injects bounces through
 * the same shard, and drives q_store_poll + mgmt_dlv_run from one thread
 * until a stop condition holds.  It then prints a JSON report: per message
 * state, attempts and recipient statuses, the bounces it queued, the
 * counters and the routes table.
 *
 * Spec (all keys but messages optional):
 *   { "queue_dir": DIR, "hostname": "gw.test", "default": ROUTE,
 *     "routes": {DOMAIN: ROUTE}, "retry": "1s", "lifetime_ms": N,
 *     "dest_retry_ms": N, "idle_ms": N, "timeout_ms": N, "conn_max": N,
 *     "stop_after_ms": N, "stop_attempts": N, "bounce_dir": DIR,
 *     "delay_warn_ms": N, "watch_existing": true (messages already in
 *     the queue count as spec messages: restart tests),
 *     "ctl": [ {"at_ms": N, "cmd": "pause"|"resume"|"flush", "dest": D} ],
 *     "inject": "async" (default: completions delivered from the loop, as
 *     the daemon does) | "async_now" (from inside the call) | "sync",
 *     "inject_fail": N (the first N bounces are lost: completion -EIO),
 *     "messages": [ { "from": A, "rcpts": [ {"addr": A, "notify":
 *        ["FAILURE", ...], "orcpt": "rfc822;..."} ], "envid": S,
 *        "ret": "FULL"|"HDRS", "age_ms": N, "body": TEXT,
 *        "8bit": true (BODY=8BITMIME), "repeat": N (queue N copies;
 *        for measurements) } ] }
 * Stops when every queued message (bounces included) is DONE, or when
 * every spec message has stop_attempts attempts or is DONE and every bounce
 * is DONE, or after stop_after_ms (exit 3).
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt_dlv.h"
#include "mx_counter.h"
#include "mx_log.h"
#include "mx_time.h"
#include "q_shard.h"
#include "q_store.h"

#define MSGS_MAX 4096
#define RCPTS_MAX 128

static struct q_store *store;
static struct q_shard *shard;
static uint64_t spec_ids[MSGS_MAX];
static unsigned spec_count;
static uint64_t bounce_ids[MSGS_MAX];
static bool spec_seen[MSGS_MAX], bounce_seen[MSGS_MAX]; /* indexed once */
static unsigned bounce_count;
static const char *bounce_dir;
static int last_done_status;

static void on_done(void *arg, uint64_t cookie, uint64_t id, int status)
{
	last_done_status = status;
}

static int queue_msg(const struct q_envelope *env, const uint8_t *body,
		     size_t len, uint64_t *id)
{
	struct q_msg *m;
	int rc;

	rc = q_shard_msg_open(shard, env, 0, &m, id);
	if (rc < 0)
		return rc;
	rc = q_shard_msg_write(m, body, len);
	if (rc < 0) {
		q_shard_msg_abort(m);
		return rc;
	}
	last_done_status = 1;
	q_shard_msg_commit(m);
	q_shard_flush(shard);
	return last_done_status; /* Q_IO_SYNC: done() already ran */
}

static struct mgmt_dlv *eng;
static const char *inject_mode = "async";
static int inject_fail;
static uint64_t done_token[MSGS_MAX];
static int done_status[MSGS_MAX];
static unsigned done_count;

static int inject(void *arg, const struct q_envelope *env, const uint8_t *body,
		  size_t len);

/* The daemon's asynchronous inject: the completion comes later (from the
 * loop), or at once, or reports a lost bounce. */
static int inject_async(void *arg, const struct q_envelope *env,
			const uint8_t *body, size_t len, uint64_t token)
{
	int rc = 0;

	if (inject_fail > 0) {
		inject_fail--;
		rc = -EIO; /* the write failed: nothing was queued */
	} else {
		rc = inject(arg, env, body, len);
		if (rc < 0)
			return rc;
	}
	if (strcmp(inject_mode, "async_now") == 0) {
		mgmt_dlv_inject_done(eng, token, rc);
		return 0;
	}
	if (done_count < MSGS_MAX) {
		done_token[done_count] = token;
		done_status[done_count++] = rc;
	}
	return 0;
}

static void deliver_completions(void)
{
	unsigned n = done_count;
	uint64_t tok[MSGS_MAX];
	int st[MSGS_MAX];

	memcpy(tok, done_token, n * sizeof(tok[0]));
	memcpy(st, done_status, n * sizeof(st[0]));
	done_count = 0;
	for (unsigned i = 0; i < n; i++)
		mgmt_dlv_inject_done(eng, tok[i], st[i]);
}

/* The daemon's inject: a bounce enters the queue like any message. */
static int inject(void *arg, const struct q_envelope *env, const uint8_t *body,
		  size_t len)
{
	uint64_t id;
	int rc;

	if (bounce_count == MSGS_MAX)
		return -ENOSPC;
	rc = queue_msg(env, body, len, &id);
	if (rc < 0)
		return rc;
	if (bounce_dir) {
		char path[4200];
		FILE *f;

		snprintf(path, sizeof(path), "%s/bounce-%u.eml", bounce_dir,
			 bounce_count);
		f = fopen(path, "wb");
		if (f) {
			fwrite(body, 1, len, f);
			fclose(f);
		}
	}
	bounce_ids[bounce_count++] = id;
	return 0;
}

static uint8_t notify_bits(json_t *arr)
{
	static const struct {
		const char *name;
		uint8_t bit;
	} names[] = {{"SUCCESS", Q_NOTIFY_SUCCESS},
		     {"FAILURE", Q_NOTIFY_FAILURE},
		     {"DELAY", Q_NOTIFY_DELAY},
		     {"NEVER", Q_NOTIFY_NEVER}};
	uint8_t bits = 0;
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) for (unsigned k = 0; k < 4;
					   k++) if (json_is_string(v) &&
						    strcmp(json_string_value(v),
							   names[k].name) == 0)
	    bits |= names[k].bit;
	return bits;
}

static int queue_spec(json_t *msgs)
{
	size_t i;
	json_t *jm;

	json_array_foreach(msgs, i, jm)
	{
		json_t *jr = json_object_get(jm, "rcpts"), *x;
		static struct q_rcpt rc[RCPTS_MAX];
		struct q_envelope env = {0};
		const char *body =
		    json_string_value(json_object_get(jm, "body"));
		const char *ret = json_string_value(json_object_get(jm, "ret"));
		size_t k;
		int rcode;

		if (spec_count == MSGS_MAX || json_array_size(jr) > RCPTS_MAX)
			return -E2BIG;
		memset(rc, 0, sizeof(rc));
		json_array_foreach(jr, k, x)
		{
			rc[k].addr = (char *)json_string_value(
			    json_object_get(x, "addr"));
			rc[k].notify =
			    notify_bits(json_object_get(x, "notify"));
			rc[k].orcpt = (char *)json_string_value(
			    json_object_get(x, "orcpt"));
		}
		env.client_addr = (char *)"127.0.0.1";
		env.helo = (char *)"client.test";
		env.proto = (char *)"ESMTP";
		env.mail_from =
		    (char *)json_string_value(json_object_get(jm, "from"));
		env.envid =
		    (char *)json_string_value(json_object_get(jm, "envid"));
		env.ret = ret == NULL		     ? Q_RET_NONE
			  : strcmp(ret, "HDRS") == 0 ? Q_RET_HDRS
						     : Q_RET_FULL;
		env.rcpt = rc;
		env.rcpt_count = (uint32_t)json_array_size(jr);
		if (json_is_true(json_object_get(jm, "8bit")))
			env.flags |= Q_ENV_8BIT;
		env.received_wall_ns =
		    mx_wall_ns() - (uint64_t)json_integer_value(
				       json_object_get(jm, "age_ms")) *
				       1000000u;
		if (body == NULL || env.mail_from == NULL)
			return -EINVAL;
		json_int_t copies =
		    json_integer_value(json_object_get(jm, "repeat"));
		for (json_int_t c = 0; c < (copies > 0 ? copies : 1); c++) {
			if (spec_count == MSGS_MAX)
				return -E2BIG;
			rcode = queue_msg(&env, (const uint8_t *)body,
					  strlen(body), &spec_ids[spec_count]);
			if (rcode < 0)
				return rcode;
			/* The engine is not running yet: polling here is
			 * safe, and keeps the shard supplied with segments. */
			q_store_poll(store);
			spec_seen[spec_count++] = true;
		}
	}
	return 0;
}

static void watch_existing(void)
{
	static const enum q_state st[] = {Q_ST_SCANNED, Q_ST_DEFERRED};
	struct q_msg_view v;

	for (unsigned s = 0; s < 2; s++) {
		uint64_t after = 0;

		while (spec_count < MSGS_MAX &&
		       q_store_next(store, st[s], after, &v) == 0) {
			after = v.id;
			spec_seen[spec_count] = true;
			spec_ids[spec_count++] = v.id;
		}
	}
}

/* Control commands at their time, as the control socket would run them;
 * each result is kept for the report. */
static void run_ctl(struct mgmt_dlv *d, json_t *ctl, uint64_t start,
		    json_t *results)
{
	size_t i;
	json_t *c;

	json_array_foreach(ctl, i, c)
	{
		const char *cmd = json_string_value(json_object_get(c, "cmd"));
		const char *dest =
		    json_string_value(json_object_get(c, "dest"));
		uint64_t at = start + (uint64_t)json_integer_value(
					  json_object_get(c, "at_ms")) *
					  1000000u;
		json_t *r;

		if (json_is_true(json_object_get(c, "done")) ||
		    mx_now_ns() < at || cmd == NULL)
			continue;
		if (strcmp(cmd, "pause") == 0)
			r = mgmt_dlv_ctl_pause(d, dest);
		else if (strcmp(cmd, "resume") == 0)
			r = mgmt_dlv_ctl_resume(d, dest);
		else if (strcmp(cmd, "flush") == 0)
			r = mgmt_dlv_ctl_flush(d, dest);
		else
			r = mgmt_dlv_ctl_routes(d);
		json_array_append_new(results, r);
		json_object_set_new(c, "done", json_true());
	}
}

/* The scanner's part: every new message is clean. */
static unsigned scan_new(void)
{
	struct q_msg_view v;
	static uint64_t ids[MSGS_MAX];
	unsigned n = 0;

	while (n < MSGS_MAX &&
	       q_store_next(store, Q_ST_NEW, n ? ids[n - 1] : 0, &v) == 0)
		ids[n++] = v.id;
	for (unsigned i = 0; i < n; i++)
		q_store_set_verdict(store, ids[i], Q_VERDICT_CLEAN, "harness");
	return n;
}

/* Visits every message (not stopping at the first busy one) so that each
 * is marked seen before it can be retired from the index. */
static bool all_done(const uint64_t *ids, bool *seen, unsigned n,
		     uint32_t attempts)
{
	bool done = true;

	for (unsigned i = 0; i < n; i++) {
		struct q_msg_view v;

		/* Not in the index: not polled in yet, or retired. */
		if (q_store_get(store, ids[i], &v) < 0) {
			if (!seen[i])
				done = false;
			continue;
		}
		seen[i] = true;
		if (v.state == Q_ST_DONE)
			continue;
		if (attempts && v.attempts >= attempts)
			continue;
		done = false;
	}
	return done;
}

/* The last state seen of each message: a finished message may be retired
 * from the index before the report is written. */
static json_t *last_seen;

static json_t *msg_json(uint64_t id)
{
	struct q_msg_view v;
	json_t *o, *st;
	char key[24];

	snprintf(key, sizeof(key), "%llu", (unsigned long long)id);
	if (q_store_get(store, id, &v) < 0) {
		o = json_object_get(last_seen, key);
		if (o)
			return json_incref(o);
		return json_pack("{s:I, s:s}", "id", (json_int_t)id, "state",
				 "gone");
	}
	st = json_array();
	for (uint32_t i = 0; i < v.env->rcpt_count; i++) {
		static const char *const names[] = {"pending", "delivered",
						    "bounced", "deferred"};
		uint8_t s = v.rcpt_status ? v.rcpt_status[i] : 0;

		json_array_append_new(st, json_string(s < 4 ? names[s] : "?"));
	}
	o = json_pack("{s:I, s:s, s:i, s:o, s:s, s:s}", "id", (json_int_t)id,
		      "state", q_state_name(v.state), "attempts",
		      (int)v.attempts, "rcpts", st, "from", v.env->mail_from,
		      "last_error", v.last_error ? v.last_error : "");
	json_object_set_new(
	    o, "next_attempt_in_ms",
	    json_integer(
		v.next_attempt_wall_ns > mx_wall_ns()
		    ? (json_int_t)((v.next_attempt_wall_ns - mx_wall_ns()) /
				   1000000)
		    : 0));
	json_object_set(last_seen, key, o);
	return o;
}

static void counter_visit(const struct mx_counter_set *set,
			  const struct mx_counter_desc *desc, uint64_t value,
			  void *arg)
{
	if (strcmp(set->module, "deliver") == 0)
		json_object_set_new(arg, desc->name,
				    json_integer((json_int_t)value));
}

static int64_t get_int(json_t *spec, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(spec, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

int main(int argc, char **argv)
{
	struct mgmt_dlv_route_entry routes[16];
	struct mgmt_dlv_source src;
	struct mgmt_dlv_conf dc;
	struct q_conf qc;
	struct mgmt_dlv *d;
	json_error_t jerr;
	json_t *spec, *out, *arr, *counters, *jr;
	char err[512];
	const char *key;
	unsigned nroutes = 0;
	uint64_t deadline, tmo;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SPEC.json\n", argv[0]);
		return 2;
	}
	mx_log_set_level(MX_LOG_INFO);
	mx_counter_thread_attach();
	spec = json_load_file(argv[1], 0, &jerr);
	if (spec == NULL) {
		fprintf(stderr, "%s:%d: %s\n", argv[1], jerr.line, jerr.text);
		return 2;
	}
	bounce_dir = json_string_value(json_object_get(spec, "bounce_dir"));

	q_conf_defaults(&qc);
	snprintf(qc.dir, sizeof(qc.dir), "%s",
		 json_string_value(json_object_get(spec, "queue_dir")));
	qc.segment_size = 4 << 20;
	qc.msg_size_max = 2 << 20;
	qc.staging_count = 16;
	qc.io_mode = Q_IO_SYNC;
	qc.spare_segments = 1;
	store = q_store_open(&qc, err, sizeof(err));
	if (store == NULL) {
		fprintf(stderr, "q_store_open: %s\n", err);
		return 2;
	}
	shard = q_shard_create(store, 0);
	if (shard == NULL ||
	    q_shard_attach(shard, NULL, 0, on_done, NULL) < 0) {
		fprintf(stderr, "shard setup failed\n");
		return 2;
	}
	q_store_poll(store);
	if (json_is_true(json_object_get(spec, "watch_existing")))
		watch_existing();
	if (queue_spec(json_object_get(spec, "messages")) < 0) {
		fprintf(stderr, "could not queue the spec messages\n");
		return 2;
	}

	mgmt_dlv_conf_defaults(&dc);
	dc.hostname = "gw.test";
	if (json_object_get(spec, "hostname"))
		dc.hostname =
		    json_string_value(json_object_get(spec, "hostname"));
	if (json_object_get(spec, "default"))
		dc.default_route =
		    json_string_value(json_object_get(spec, "default"));
	json_object_foreach(json_object_get(spec, "routes"), key, jr)
	{
		if (nroutes == 16)
			break;
		routes[nroutes].domain = key;
		routes[nroutes++].route = json_string_value(jr);
	}
	dc.routes = routes;
	dc.route_count = nroutes;
	if (json_object_get(spec, "retry"))
		dc.retry_schedule =
		    json_string_value(json_object_get(spec, "retry"));
	dc.retry_jitter_pct = 0;
	dc.max_lifetime_ns =
	    (uint64_t)get_int(spec, "lifetime_ms", 5 * 86400000ll) * 1000000u;
	dc.dest_retry_ns =
	    (uint64_t)get_int(spec, "dest_retry_ms", 500) * 1000000u;
	dc.idle_timeout_ns = (uint64_t)get_int(spec, "idle_ms", 300) * 1000000u;
	dc.scan_interval_ns = 100000000u;
	dc.dest_conn_max = (unsigned)get_int(spec, "conn_max", 2);
	dc.delay_warn_ns =
	    (uint64_t)get_int(spec, "delay_warn_ms", 0) * 1000000u;
	tmo = (uint64_t)get_int(spec, "timeout_ms", 5000) * 1000000u;
	dc.timeouts.connect_ns = dc.timeouts.greeting_ns = dc.timeouts.helo_ns =
	    dc.timeouts.mail_ns = dc.timeouts.rcpt_ns =
		dc.timeouts.data_init_ns = dc.timeouts.data_block_ns =
		    dc.timeouts.data_term_ns = dc.timeouts.rset_ns =
			dc.timeouts.quit_ns = tmo;
	if (json_object_get(spec, "inject"))
		inject_mode =
		    json_string_value(json_object_get(spec, "inject"));
	inject_fail = (int)get_int(spec, "inject_fail", 0);
	if (strcmp(inject_mode, "sync") == 0)
		mgmt_dlv_source_qstore(&src, store, inject, NULL);
	else
		mgmt_dlv_source_qstore_async(&src, store, inject_async, NULL);
	d = mgmt_dlv_create(&dc, &src, err, sizeof(err));
	eng = d;
	if (d == NULL) {
		fprintf(stderr, "mgmt_dlv_create: %s\n", err);
		return 2;
	}

	deadline = mx_now_ns() +
		   (uint64_t)get_int(spec, "stop_after_ms", 20000) * 1000000u;
	uint32_t stop_attempts = (uint32_t)get_int(spec, "stop_attempts", 0);
	uint64_t start = mx_now_ns();
	last_seen = json_object();
	json_t *ctl = json_object_get(spec, "ctl"), *ctl_results = json_array();
	for (;;) {
		struct pollfd pfd = {.fd = mgmt_dlv_fd(d), .events = POLLIN};
		int t;

		if (q_store_poll(store) < 0) {
			fprintf(stderr, "q_store_poll failed\n");
			rc = 2;
			break;
		}
		if (scan_new() > 0) {
			q_store_poll(store);
			mgmt_dlv_kick(d);
		}
		run_ctl(d, ctl, start, ctl_results);
		mgmt_dlv_run(d);
		deliver_completions();
		/* Snapshots for the report; skipped for measurement runs,
		 * where they would cost more than the delivery. */
		for (unsigned i = 0; spec_count <= 64 && i < spec_count; i++)
			json_decref(msg_json(spec_ids[i]));
		for (unsigned i = 0; bounce_count <= 64 && i < bounce_count;
		     i++)
			json_decref(msg_json(bounce_ids[i]));
		bool specs_done =
		    all_done(spec_ids, spec_seen, spec_count, stop_attempts);
		bool bounces_done =
		    all_done(bounce_ids, bounce_seen, bounce_count, 0);
		if (mgmt_dlv_inflight(d) == 0 && specs_done && bounces_done)
			break;
		if (mx_now_ns() >= deadline) {
			rc = 3;
			break;
		}
		t = mgmt_dlv_timeout_ms(d);
		poll(&pfd, 1, t > 50 ? 50 : t);
	}
	q_store_poll(store);

	out = json_object();
	arr = json_array();
	for (unsigned i = 0; i < spec_count; i++)
		json_array_append_new(arr, msg_json(spec_ids[i]));
	json_object_set_new(out, "messages", arr);
	arr = json_array();
	for (unsigned i = 0; i < bounce_count; i++)
		json_array_append_new(arr, msg_json(bounce_ids[i]));
	json_object_set_new(out, "bounces", arr);
	counters = json_object();
	mx_counter_foreach(counter_visit, counters);
	json_object_set_new(out, "counters", counters);
	json_object_set_new(out, "routes", mgmt_dlv_ctl_routes(d));
	json_object_set_new(out, "timed_out", json_boolean(rc == 3));
	json_object_set_new(out, "ctl", ctl_results);
	json_object_set_new(
	    out, "elapsed_ms",
	    json_integer((json_int_t)((mx_now_ns() - start) / 1000000)));
	json_dumpf(out, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(out);
	json_decref(spec);
	json_decref(last_seen);
	mgmt_dlv_destroy(d);
	q_store_close(store);
	return rc;
}
