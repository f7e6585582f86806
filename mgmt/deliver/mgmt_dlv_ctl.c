/*
 * mgmt_dlv_ctl — the delivery commands of the control socket: pause and
 * resume, flush, and the routes table with per-destination state, as
 * jansson objects the control module serialises.  Management thread.
 */
#include <string.h>
#include <strings.h>

#include "mgmt_dlv_int.h"
#include "mx_time.h"

static json_t *ctl_error(const char *fmt, const char *arg)
{
	return json_pack("{s:s+}", "error", fmt, arg ? arg : "");
}

/* A destination by name, by a recipient domain of the table, or by any
 * spelling of its route; NULL if none matches. */
static struct dlv_dest *ctl_find(struct mgmt_dlv *d, const char *what)
{
	struct mgmt_dlv_route r;
	char name[DLV_NAME_SIZE], err[8];

	for (unsigned i = 0; i < d->dest_count; i++)
		if (strcmp(d->dests[i]->name, what) == 0)
			return d->dests[i];
	for (unsigned i = 0; i < d->map_count; i++)
		if (strcasecmp(d->map[i].domain, what) == 0)
			return d->map[i].dest;
	if (mgmt_dlv_route_parse(what, &r, err, sizeof(err)) == 0 &&
	    mgmt_dlv_route_format(&r, name, sizeof(name)) > 0)
		for (unsigned i = 0; i < d->dest_count; i++)
			if (strcmp(d->dests[i]->name, name) == 0)
				return d->dests[i];
	return NULL;
}

static json_t *set_paused(struct mgmt_dlv *d, const char *what, bool paused)
{
	struct dlv_dest *dest;

	if (what == NULL) {
		d->paused_all = paused;
		d->scan_now = true;
		return json_pack("{s:b, s:s, s:b}", "ok", 1, "dest", "all",
				 "paused", paused);
	}
	dest = ctl_find(d, what);
	if (dest == NULL)
		return ctl_error("unknown destination: ", what);
	dest->paused = paused;
	d->scan_now = true;
	return json_pack("{s:b, s:s, s:b}", "ok", 1, "dest", dest->name,
			 "paused", paused);
}

json_t *mgmt_dlv_ctl_pause(struct mgmt_dlv *d, const char *dest)
{
	return set_paused(d, dest, true);
}

json_t *mgmt_dlv_ctl_resume(struct mgmt_dlv *d, const char *dest)
{
	return set_paused(d, dest, false);
}

json_t *mgmt_dlv_ctl_flush(struct mgmt_dlv *d, const char *what)
{
	struct dlv_dest *dest;

	d->scan_now = true;
	if (what == NULL) {
		d->flush_all = true;
		for (unsigned i = 0; i < d->dest_count; i++)
			d->dests[i]->down_until_ns = 0;
		return json_pack("{s:b, s:s}", "ok", 1, "dest", "all");
	}
	dest = ctl_find(d, what);
	if (dest == NULL)
		return ctl_error("unknown destination: ", what);
	dest->flush = true;
	d->any_dest_flush = true;
	dest->down_until_ns = 0;
	return json_pack("{s:b, s:s}", "ok", 1, "dest", dest->name);
}

json_t *mgmt_dlv_ctl_routes(struct mgmt_dlv *d)
{
	json_t *out = json_object(), *routes = json_array(),
	       *dests = json_array();
	uint64_t now = mx_now_ns();

	if (out == NULL || routes == NULL || dests == NULL) {
		json_decref(out);
		json_decref(routes);
		json_decref(dests);
		return NULL;
	}
	for (unsigned i = 0; i < d->map_count; i++)
		json_array_append_new(
		    routes, json_pack("{s:s, s:s}", "domain", d->map[i].domain,
				      "dest", d->map[i].dest->name));
	for (unsigned i = 0; i < d->dest_count; i++) {
		const struct dlv_dest *x = d->dests[i];
		bool down = x->down_until_ns > now;

		json_array_append_new(
		    dests,
		    json_pack(
			"{s:s, s:s, s:b, s:b, s:I, s:i, s:i, s:i, "
			"s:I, s:I, s:I, s:I, s:s}",
			"name", x->name, "kind",
			mgmt_dlv_route_kind_name(x->route.kind), "paused",
			x->paused || d->paused_all, "down", down, "down_for_ms",
			(json_int_t)(down ? (x->down_until_ns - now) / 1000000
					  : 0),
			"connections", (int)x->conn_count, "busy",
			(int)dlv_conn_busy_count(x), "queued", (int)x->q_count,
			"deferred_rcpts", (json_int_t)x->deferred_rcpts,
			"delivered", (json_int_t)x->delivered, "deferred",
			(json_int_t)x->deferred, "bounced",
			(json_int_t)x->bounced, "last_error", x->last_error));
	}
	json_object_set_new(out, "default", json_string(d->default_dest->name));
	json_object_set_new(out, "routes", routes);
	json_object_set_new(out, "destinations", dests);
	json_object_set_new(out, "paused", json_boolean(d->paused_all));
	json_object_set_new(out, "inflight_msgs", json_integer(d->msg_count));
	json_object_set_new(out, "inflight_rcpts",
			    json_integer(d->rcpt_inflight));
	return out;
}
