/*
 * mgmt_conf_load — loading a configuration: defaults from the schema, the
 * parsed file laid over them key by key, `-o` overrides spliced into the
 * parsed tree first (so they are validated exactly like the file), then
 * the checks that involve more than one key.
 *
 * Every error is one line "FILE:LINE: KEY: REASON".  Unknown keys get a
 * "did you mean" when a schema key is within edit distance 2.
 */
#include "mgmt_conf.h"
#include "mgmt_conf_schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MGMT_CONF_PATH_MAX 512

struct load_ctx {
	struct mgmt_conf *conf;
	const char *top_file;
	char *err;
	size_t errlen;
};

static int kerr(struct load_ctx *lc, const char *file, unsigned line,
		const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int kerr(struct load_ctx *lc, const char *file, unsigned line,
		const char *key, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(lc->err, lc->errlen, "%s:%u: %s: %s", file, line, key,
			 reason);
	else
		snprintf(lc->err, lc->errlen, "%s: %s: %s", file, key, reason);
	return -1;
}

static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[MGMT_CONF_PATH_MAX + 1];

	if (lb > MGMT_CONF_PATH_MAX)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static int unknown_key(struct load_ctx *lc, const struct mgmt_ucl_node *n,
		       const char *path)
{
	const char *best = NULL;
	unsigned best_d = 3;

	for (unsigned i = 0; i < mgmt_conf_key_count; i++) {
		unsigned d = edit_distance(path, mgmt_conf_keys[i].path);
		if (d < best_d) {
			best_d = d;
			best = mgmt_conf_keys[i].path;
		}
	}
	if (best != NULL)
		return kerr(lc, n->file, n->line, path,
			    "unknown key (did you mean %s?)", best);
	return kerr(lc, n->file, n->line, path, "unknown key");
}

/* Applies every child of `obj` (a section at `prefix`, "" for the top). */
static int walk(struct load_ctx *lc, const struct mgmt_ucl_node *obj,
		const char *prefix)
{
	char path[MGMT_CONF_PATH_MAX];

	for (const struct mgmt_ucl_node *c = obj->child; c; c = c->next) {
		int n = snprintf(path, sizeof(path), "%s%s%s", prefix,
				 prefix[0] ? "." : "", c->key);
		if (n < 0 || (size_t)n >= sizeof(path))
			return kerr(lc, c->file, c->line, c->key,
				    "key too long");
		const struct mgmt_conf_key *key = mgmt_conf_key_find(path);
		if (key != NULL) {
			char why[512];
			const struct mgmt_ucl_node *at = c;
			if (mgmt_conf_key_set(key, c, lc->conf, &at, why,
					      sizeof(why)) != 0)
				return kerr(lc, at->file, at->line, path, "%s",
					    why);
			continue;
		}
		if (!mgmt_conf_is_section(path))
			return unknown_key(lc, c, path);
		if (c->type != MGMT_UCL_OBJECT)
			return kerr(lc, c->file, c->line, path,
				    "expected a section { ... }, got %s",
				    mgmt_ucl_type_name(c->type));
		if (walk(lc, c, path) != 0)
			return -1;
	}
	return 0;
}

static int apply_defaults(struct load_ctx *lc)
{
	char why[512];

	for (unsigned i = 0; i < mgmt_conf_key_count; i++) {
		const struct mgmt_conf_key *key = &mgmt_conf_keys[i];
		/* The host name default (gethostname) is resolved only if the
		 * file does not set one: see finish_defaults(). */
		if (key->def == NULL || key->type == MGMT_CONF_T_HOSTNAME)
			continue;
		struct mgmt_ucl_doc *d =
		    mgmt_ucl_parse_value("default", key->def, why, sizeof(why));
		if (d == NULL)
			return kerr(lc, "default", 0, key->path, "%s", why);
		const struct mgmt_ucl_node *at;
		int rc = mgmt_conf_key_set(key, mgmt_ucl_root(d), lc->conf, &at,
					   why, sizeof(why));
		mgmt_ucl_free(d);
		if (rc != 0)
			return kerr(lc, "default", 0, key->path, "%s", why);
	}
	return 0;
}

static void lines_clear(struct mgmt_ucl_node *n)
{
	n->line = 0;
	for (struct mgmt_ucl_node *c = n->child; c; c = c->next)
		lines_clear(c);
}

/*
 * Splices "path=value" into the tree.  The path is split by the schema:
 * a known key or section path, or "domains.NAME.FIELD" and
 * "delivery.routes.NAME" whose NAME may itself contain dots.
 */
static int apply_override(struct load_ctx *lc, struct mgmt_ucl_doc *doc,
			  const char *ov, unsigned idx)
{
	char origin[32], path[MGMT_CONF_PATH_MAX], why[512];
	const char *eq = strchr(ov, '=');

	snprintf(origin, sizeof(origin), "-o[%u]", idx);
	const char *file = mgmt_ucl_doc_file(doc, origin);
	if (file == NULL)
		return kerr(lc, origin, 0, "-o", "out of memory");
	if (eq == NULL || eq == ov || (size_t)(eq - ov) >= sizeof(path))
		return kerr(lc, origin, 0, ov, "expected key=value");
	memcpy(path, ov, (size_t)(eq - ov));
	path[eq - ov] = '\0';
	for (size_t n = strlen(path);
	     n > 0 && (path[n - 1] == ' ' || path[n - 1] == '\t');)
		path[--n] = '\0';

	/* Segments: the object names to walk, then the leaf key. */
	const char *segs[8];
	unsigned nseg = 0;
	char split[MGMT_CONF_PATH_MAX];
	snprintf(split, sizeof(split), "%s", path);
	if (strncmp(split, "domains.", 8) == 0) {
		char *last = strrchr(split + 8, '.');
		if (last == NULL || last == split + 8)
			return kerr(lc, origin, 0, path,
				    "expected "
				    "domains.NAME.recipients or "
				    "domains.NAME.map");
		*last = '\0';
		split[7] = '\0';
		segs[nseg++] = split;
		segs[nseg++] = split + 8;
		segs[nseg++] = last + 1;
	} else if (strncmp(split, "delivery.routes.", 16) == 0 &&
		   split[16] != '\0') {
		split[8] = '\0';
		split[15] = '\0';
		segs[nseg++] = split;
		segs[nseg++] = split + 9;
		segs[nseg++] = split + 16;
	} else {
		if (mgmt_conf_key_find(path) == NULL) {
			struct mgmt_ucl_node fake = {.file = file};
			return unknown_key(lc, &fake, path);
		}
		for (char *s = split, *dot; nseg < 8; s = dot + 1) {
			segs[nseg++] = s;
			dot = strchr(s, '.');
			if (dot == NULL)
				break;
			*dot = '\0';
		}
	}
	struct mgmt_ucl_doc *vd =
	    mgmt_ucl_parse_value(origin, eq + 1, why, sizeof(why));
	if (vd == NULL) {
		/* Drop the parser's "-o[N]:1: " prefix; ours says it. */
		const char *r = strstr(why, ": ");
		return kerr(lc, origin, 0, path, "%s", r ? r + 2 : why);
	}
	struct mgmt_ucl_node *v = mgmt_ucl_root(vd);
	mgmt_ucl_doc_adopt(doc, vd);
	lines_clear(v);
	v->file = file;
	struct mgmt_ucl_node *obj = mgmt_ucl_root(doc);
	for (unsigned i = 0; i + 1 < nseg; i++) {
		obj = mgmt_ucl_obj_child(doc, obj, segs[i], file, 0);
		if (obj == NULL)
			return kerr(lc, origin, 0, path,
				    "cannot set inside "
				    "a value that is not a section");
	}
	if (mgmt_ucl_obj_replace(doc, obj, segs[nseg - 1], v) != 0)
		return kerr(lc, origin, 0, path, "out of memory");
	return 0;
}

/* Defaults that depend on the machine, applied only when still unset. */
static int finish_defaults(struct load_ctx *lc)
{
	static const struct mgmt_ucl_node empty = {
	    .type = MGMT_UCL_STRING,
	    .text = (char *)"",
	};
	const struct mgmt_ucl_node *at;
	char why[512];

	for (unsigned i = 0; i < mgmt_conf_key_count; i++) {
		const struct mgmt_conf_key *key = &mgmt_conf_keys[i];
		if (key->type != MGMT_CONF_T_HOSTNAME ||
		    *(char **)((char *)lc->conf + key->off) != NULL)
			continue;
		if (mgmt_conf_key_set(key, &empty, lc->conf, &at, why,
				      sizeof(why)) != 0)
			return kerr(lc, lc->top_file, 0, key->path,
				    "%s (set it explicitly)", why);
	}
	return 0;
}

/* Checks that involve several keys, after everything is set. */
static int cross_check(struct load_ctx *lc, struct mgmt_ucl_node *root)
{
	struct mgmt_conf *c = lc->conf;
	const struct mgmt_ucl_node *n;

	if (c->domain_count == 0) {
		n = mgmt_ucl_lookup(root, "domains");
		return kerr(lc, n ? n->file : lc->top_file, n ? n->line : 0,
			    "domains",
			    "at least one accepted domain is "
			    "required (mxgate is never an open relay)");
	}
	if (c->queue.low_water >= c->queue.high_water) {
		n = mgmt_ucl_lookup(mgmt_ucl_lookup(root, "queue"),
				    "low_water");
		return kerr(lc, n ? n->file : lc->top_file, n ? n->line : 0,
			    "queue.low_water",
			    "must be below queue.high_water "
			    "(%u)",
			    c->queue.high_water);
	}
	for (unsigned i = 0; i < c->delivery.route_count; i++) {
		bool found = false;
		for (unsigned j = 0; j < c->domain_count; j++)
			found |= strcmp(c->domains[j].name,
					c->delivery.routes[i].domain) == 0;
		if (!found) {
			n = mgmt_ucl_lookup(mgmt_ucl_lookup(root, "delivery"),
					    "routes");
			return kerr(lc, n ? n->file : lc->top_file,
				    n ? n->line : 0, "delivery.routes",
				    "route for \"%s\", which is not in "
				    "domains",
				    c->delivery.routes[i].domain);
		}
	}
	return 0;
}

int mgmt_conf_load(const char *path, const char *const *overrides,
		   unsigned n_overrides, struct mgmt_conf *out, char *err,
		   size_t errlen)
{
	struct load_ctx lc = {
	    .conf = out,
	    .top_file = path ? path : "(defaults)",
	    .err = err,
	    .errlen = errlen,
	};
	struct mgmt_ucl_doc *doc;

	memset(out, 0, sizeof(*out));
	if (path != NULL)
		doc = mgmt_ucl_parse_file(path, err, errlen);
	else
		doc = mgmt_ucl_parse_text("(defaults)", "", 0, err, errlen);
	if (doc == NULL)
		return -1;
	int rc = apply_defaults(&lc);
	for (unsigned i = 0; rc == 0 && i < n_overrides; i++)
		rc = apply_override(&lc, doc, overrides[i], i + 1);
	if (rc == 0)
		rc = walk(&lc, mgmt_ucl_root(doc), "");
	if (rc == 0)
		rc = finish_defaults(&lc);
	if (rc == 0)
		rc = cross_check(&lc, mgmt_ucl_root(doc));
	if (rc == 0 && (out->source = strdup(lc.top_file)) == NULL)
		rc = kerr(&lc, lc.top_file, 0, "-", "out of memory");
	mgmt_ucl_free(doc);
	if (rc != 0)
		mgmt_conf_free(out);
	return rc;
}

int mgmt_conf_check(const char *path, const char *const *overrides,
		    unsigned n_overrides, char *err, size_t errlen)
{
	struct mgmt_conf c;
	int rc = mgmt_conf_load(path, overrides, n_overrides, &c, err, errlen);

	if (rc == 0)
		mgmt_conf_free(&c);
	return rc;
}

void mgmt_conf_free(struct mgmt_conf *conf)
{
	if (conf == NULL)
		return;
	for (unsigned i = 0; i < mgmt_conf_key_count; i++)
		mgmt_conf_key_free(&mgmt_conf_keys[i], conf);
	free(conf->source);
	memset(conf, 0, sizeof(*conf));
}

static const char *type_name(enum mgmt_conf_type t)
{
	switch (t) {
	case MGMT_CONF_T_BOOL:
		return "bool";
	case MGMT_CONF_T_UINT:
		return "integer";
	case MGMT_CONF_T_SIZE:
		return "size";
	case MGMT_CONF_T_DURATION:
		return "duration";
	case MGMT_CONF_T_ENUM:
		return "enum";
	case MGMT_CONF_T_LISTEN_LIST:
		return "address list";
	case MGMT_CONF_T_LISTEN_OPT:
		return "address";
	case MGMT_CONF_T_STRLIST:
		return "string list";
	case MGMT_CONF_T_DURLIST:
		return "duration list";
	case MGMT_CONF_T_ROUTE:
		return "route";
	case MGMT_CONF_T_ROUTES:
		return "object";
	case MGMT_CONF_T_DOMAINS:
		return "object";
	case MGMT_CONF_T_CIDR4:
		return "ipv4/prefix";
	case MGMT_CONF_T_IPV4_OPT:
		return "ipv4";
	default:
		return "string";
	}
}

void mgmt_conf_print_keys(FILE *out)
{
	for (unsigned i = 0; i < mgmt_conf_key_count; i++) {
		const struct mgmt_conf_key *k = &mgmt_conf_keys[i];
		fprintf(out, "%-40s %-13s %s%s%s  default %s\n", k->path,
			type_name(k->type), k->help,
			k->enums ? "; one of " : "", k->enums ? k->enums : "",
			k->def ? k->def : "(none)");
	}
}
