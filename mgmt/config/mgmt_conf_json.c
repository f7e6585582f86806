/*
 * mgmt_conf_json — the effective configuration as JSON (for `mxgatectl
 * config`), built by walking the schema table so that every key appears
 * under its dotted path.  Sizes are integers in bytes; durations are
 * strings in UCL syntax ("300s", "5min") so the output reads like the file.
 */
#include "mgmt_conf.h"
#include "mgmt_conf_schema.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define FIELD(conf, key, type)                                                 \
	((const type *)((const char *)(conf) + (key)->off))
#define COUNT(conf, key)                                                       \
	(*(const unsigned *)((const char *)(conf) + (key)->off2))

static json_t *duration_json(uint64_t ms)
{
	char buf[32];

	if (ms % 1000 != 0)
		snprintf(buf, sizeof(buf), "%llums", (unsigned long long)ms);
	else if (ms != 0 && ms % 86400000 == 0)
		snprintf(buf, sizeof(buf), "%llud",
			 (unsigned long long)(ms / 86400000));
	else if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, sizeof(buf), "%lluh",
			 (unsigned long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, sizeof(buf), "%llumin",
			 (unsigned long long)(ms / 60000));
	else
		snprintf(buf, sizeof(buf), "%llus",
			 (unsigned long long)(ms / 1000));
	return json_string(buf);
}

static const char *enum_name(const char *enums, int idx, char *buf, size_t len)
{
	const char *e = enums;

	for (int i = 0; i < idx && e != NULL; i++) {
		e = strchr(e, '|');
		if (e != NULL)
			e++;
	}
	if (e == NULL)
		return "?";
	const char *bar = strchr(e, '|');
	size_t n = bar ? (size_t)(bar - e) : strlen(e);
	snprintf(buf, len, "%.*s", (int)n, e);
	return buf;
}

static json_t *domains_json(const struct mgmt_conf *c)
{
	json_t *o = json_object();

	for (unsigned i = 0; o && i < c->domain_count; i++) {
		const struct mgmt_conf_domain *d = &c->domains[i];
		json_t *v = json_object();
		if (d->map != NULL) {
			json_object_set_new(v, "map", json_string(d->map));
		} else if (d->catch_all) {
			json_object_set_new(v, "recipients",
					    json_string("catch-all"));
		} else {
			json_t *a = json_array();
			for (unsigned j = 0; j < d->recipient_count; j++)
				json_array_append_new(
				    a, json_string(d->recipients[j]));
			json_object_set_new(v, "recipients", a);
		}
		json_object_set_new(o, d->name, v);
	}
	return o;
}

static json_t *value_json(const struct mgmt_conf_key *k,
			  const struct mgmt_conf *c)
{
	char buf[64];
	json_t *a;

	switch (k->type) {
	case MGMT_CONF_T_BOOL:
		return json_boolean(*FIELD(c, k, bool));
	case MGMT_CONF_T_UINT:
		return json_integer(*FIELD(c, k, unsigned));
	case MGMT_CONF_T_SIZE:
		return json_integer((json_int_t)*FIELD(c, k, uint64_t));
	case MGMT_CONF_T_DURATION:
		return duration_json(*FIELD(c, k, uint64_t));
	case MGMT_CONF_T_ENUM:
		return json_string(
		    enum_name(k->enums, *FIELD(c, k, int), buf, sizeof(buf)));
	case MGMT_CONF_T_LISTEN_LIST: {
		const struct mgmt_conf_addr *l =
		    *FIELD(c, k, struct mgmt_conf_addr *);
		a = json_array();
		for (unsigned i = 0; a && i < COUNT(c, k); i++)
			json_array_append_new(a, json_string(l[i].text));
		return a;
	}
	case MGMT_CONF_T_STRLIST: {
		char **l = *(char **const *)((const char *)c + k->off);
		a = json_array();
		for (unsigned i = 0; a && i < COUNT(c, k); i++)
			json_array_append_new(a, json_string(l[i]));
		return a;
	}
	case MGMT_CONF_T_DURLIST: {
		const uint64_t *l = *FIELD(c, k, uint64_t *);
		a = json_array();
		for (unsigned i = 0; a && i < COUNT(c, k); i++)
			json_array_append_new(a, duration_json(l[i]));
		return a;
	}
	case MGMT_CONF_T_ROUTE:
		return json_string(FIELD(c, k, struct mgmt_conf_route)->text);
	case MGMT_CONF_T_ROUTES:
		a = json_object();
		for (unsigned i = 0; a && i < c->delivery.route_count; i++)
			json_object_set_new(
			    a, c->delivery.routes[i].domain,
			    json_string(c->delivery.routes[i].text));
		return a;
	case MGMT_CONF_T_DOMAINS:
		return domains_json(c);
	default: {
		const char *s = *FIELD(c, k, char *);
		return json_string(s ? s : "");
	}
	}
}

json_t *mgmt_conf_dump_json(const struct mgmt_conf *conf)
{
	json_t *root = json_object();

	for (unsigned i = 0; root != NULL && i < mgmt_conf_key_count; i++) {
		const struct mgmt_conf_key *k = &mgmt_conf_keys[i];
		char path[256];
		json_t *obj = root;
		snprintf(path, sizeof(path), "%s", k->path);
		char *seg = path, *dot;
		while ((dot = strchr(seg, '.')) != NULL) {
			*dot = '\0';
			json_t *next = json_object_get(obj, seg);
			if (next == NULL) {
				next = json_object();
				if (json_object_set_new(obj, seg, next) != 0) {
					json_decref(root);
					return NULL;
				}
			}
			obj = next;
			seg = dot + 1;
		}
		json_t *v = value_json(k, conf);
		if (v == NULL || json_object_set_new(obj, seg, v) != 0) {
			json_decref(root);
			return NULL;
		}
	}
	if (root != NULL && conf->source != NULL)
		json_object_set_new(root, "_source", json_string(conf->source));
	return root;
}
