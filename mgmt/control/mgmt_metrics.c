/*
 * mgmt_metrics — counters to a JSON snapshot, and a snapshot to the
 * Prometheus text format or a human table.
 */
#include "mgmt_metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt_ctl.h"
#include "mx_counter.h"

static void visit(const struct mx_counter_set *set,
		  const struct mx_counter_desc *desc, uint64_t value, void *arg)
{
	json_t *list = arg;

	json_array_append_new(
	    list, json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", desc->name,
			    "module", set->module, "help", desc->help, "type",
			    "counter", "value", (json_int_t)value));
}

json_t *mgmt_metrics_snapshot(void)
{
	json_t *list = json_array();

	if (list == NULL)
		return NULL;
	mx_counter_foreach(visit, list);
	return json_pack("{s:o}", "counters", list);
}

int mgmt_metrics_add_gauge(json_t *snapshot, const char *name, const char *help,
			   uint64_t value)
{
	json_t *list = json_object_get(snapshot, "counters");
	json_t *g =
	    json_pack("{s:s, s:s, s:s, s:I}", "name", name, "help", help,
		      "type", "gauge", "value", (json_int_t)value);

	if (!json_is_array(list) || g == NULL ||
	    json_array_append_new(list, g) != 0)
		return -ENOMEM;
	return 0;
}

static bool name_ok(const char *s)
{
	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* HELP text escaping of the exposition format: backslash and LF. */
static void sb_help(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			sb_str(b, "\\\\");
		else if (*s == '\n')
			sb_str(b, "\\n");
		else
			sb_put(b, s, 1);
	}
}

char *mgmt_metrics_prometheus(const json_t *snapshot, size_t *len)
{
	struct sbuf b = {0};
	json_t *list = json_object_get(snapshot, "counters");
	size_t i;
	json_t *e;

	sb_str(&b, "");
	json_array_foreach(list, i, e)
	{
		const char *name =
		    json_string_value(json_object_get(e, "name"));
		const char *help =
		    json_string_value(json_object_get(e, "help"));
		const char *type =
		    json_string_value(json_object_get(e, "type"));
		json_t *v = json_object_get(e, "value");
		if (!name_ok(name) || !json_is_integer(v))
			continue;
		bool gauge = type != NULL && strcmp(type, "gauge") == 0;
		char full[256], num[32];
		size_t nl = strlen(name);
		bool has_total =
		    nl >= 6 && strcmp(name + nl - 6, "_total") == 0;
		snprintf(full, sizeof(full), "%s%s%s", MGMT_METRICS_PREFIX,
			 name, gauge || has_total ? "" : "_total");
		sb_str(&b, "# HELP ");
		sb_str(&b, full);
		sb_str(&b, " ");
		sb_help(&b, help ? help : "");
		sb_str(&b, "\n# TYPE ");
		sb_str(&b, full);
		sb_str(&b, gauge ? " gauge\n" : " counter\n");
		snprintf(num, sizeof(num), " %lld\n",
			 (long long)json_integer_value(v));
		sb_str(&b, full);
		sb_str(&b, num);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len != NULL)
		*len = b.len;
	return b.p;
}

void mgmt_metrics_print_table(const json_t *snapshot, FILE *out)
{
	json_t *list = json_object_get(snapshot, "counters");
	size_t i, width = 4;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n != NULL && strlen(n) > width)
			width = strlen(n);
	}
	fprintf(out, "%-*s %14s  %s\n", (int)width, "NAME", "VALUE", "HELP");
	json_array_foreach(list, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		const char *h = json_string_value(json_object_get(e, "help"));
		fprintf(
		    out, "%-*s %14lld  %s\n", (int)width, n ? n : "?",
		    (long long)json_integer_value(json_object_get(e, "value")),
		    h ? h : "");
	}
}

static int stats_cmd(void *arg, const json_t *args, json_t **result, char *err,
		     size_t errlen)
{
	*result = mgmt_metrics_snapshot();
	if (*result == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int mgmt_metrics_register(struct mgmt_ctl *ctl)
{
	return mgmt_ctl_register(ctl, "stats", stats_cmd, NULL,
				 "every counter with its value and help");
}
