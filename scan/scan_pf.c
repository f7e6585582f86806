/*
 * scan_pf — Hyperscan pre-filter: compile, publish, scan.
 *
 * A rule set (struct pf_set) is immutable once published.  Publication is
 * one atomic pointer store; retirement uses one hazard pointer per worker:
 * a worker announces the set it is about to use and re-checks that it is
 * still current, the reclaimer frees a retired set only when no hazard
 * names it.  Workers never take a lock to scan.
 */
#include "scan_pf.h"

#include <errno.h>
#include <hs/hs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_log.h"
#include "scan_counters.h"
#include "scan_mime.h"

#define PF_HDR_SIZE (64 * 1024) /* header text scanned in one block */

struct pf_set {
	hs_database_t *db[SCAN_PART__COUNT];
	uint32_t *ids[SCAN_PART__COUNT]; /* expression -> rule id */
	uint8_t *acts[SCAN_PART__COUNT]; /* expression -> action */
	size_t rule_count;
	uint64_t gen;
	struct pf_set *retired_next;
};

struct scan_pf {
	struct scan_pf_conf conf;
	_Atomic(struct pf_set *) cur;
	uint64_t gen;
	pthread_mutex_t lock; /* workers list, retired list */
	struct scan_pf_worker *workers;
	struct pf_set *retired;
};

struct scan_pf_worker {
	struct scan_pf *pf;
	struct scan_pf_worker *next;
	_Atomic(struct pf_set *) hazard;
	hs_scratch_t *scratch;
	uint64_t scratch_gen;
	/* Per-message state. */
	struct pf_set *set;
	struct scan_pf_result *res;
	int err;
	uint8_t *hdr;
	size_t hdr_len;
	uint8_t *body;
	size_t body_len;
	bool body_cut;
	struct scan_mime mime;
};

static void set_free(struct pf_set *s)
{
	if (!s)
		return;
	for (int p = 0; p < SCAN_PART__COUNT; p++) {
		hs_free_database(s->db[p]);
		free(s->ids[p]);
		free(s->acts[p]);
	}
	free(s);
}

int scan_pf_create(const struct scan_pf_conf *conf, struct scan_pf **out)
{
	struct scan_pf *pf;

	if (conf->default_action != SCAN_ACT_SCAN &&
	    conf->default_action != SCAN_ACT_PASS)
		return -EINVAL;
	if (hs_valid_platform() != HS_SUCCESS)
		return -ENOTSUP;
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return -ENOMEM;
	pf->conf = *conf;
	if (!pf->conf.decode_max)
		pf->conf.decode_max = 1024 * 1024;
	if (!pf->conf.depth_max)
		pf->conf.depth_max = 8;
	pthread_mutex_init(&pf->lock, NULL);
	atomic_init(&pf->cur, NULL);
	*out = pf;
	return 0;
}

static bool set_held(struct scan_pf *pf, struct pf_set *s)
{
	for (struct scan_pf_worker *w = pf->workers; w; w = w->next)
		if (atomic_load(&w->hazard) == s)
			return true;
	return false;
}

static void reclaim_locked(struct scan_pf *pf)
{
	struct pf_set **pp = &pf->retired;

	while (*pp) {
		struct pf_set *s = *pp;
		if (set_held(pf, s)) {
			pp = &s->retired_next;
			continue;
		}
		*pp = s->retired_next;
		set_free(s);
	}
}

void scan_pf_reclaim(struct scan_pf *pf)
{
	pthread_mutex_lock(&pf->lock);
	reclaim_locked(pf);
	pthread_mutex_unlock(&pf->lock);
}

void scan_pf_destroy(struct scan_pf *pf)
{
	if (!pf)
		return;
	MX_ASSERT(pf->workers == NULL);
	reclaim_locked(pf);
	set_free(atomic_load(&pf->cur));
	pthread_mutex_destroy(&pf->lock);
	free(pf);
}

uint64_t scan_pf_generation(const struct scan_pf *pf)
{
	struct pf_set *s = atomic_load(&((struct scan_pf *)pf)->cur);
	return s ? s->gen : 0;
}

size_t scan_pf_rule_count(const struct scan_pf *pf)
{
	struct pf_set *s = atomic_load(&((struct scan_pf *)pf)->cur);
	return s ? s->rule_count : 0;
}

static unsigned hs_flags(unsigned f)
{
	unsigned h = HS_FLAG_SINGLEMATCH;

	if (f & SCAN_RULE_F_CASELESS)
		h |= HS_FLAG_CASELESS;
	if (f & SCAN_RULE_F_DOTALL)
		h |= HS_FLAG_DOTALL;
	if (f & SCAN_RULE_F_MULTILINE)
		h |= HS_FLAG_MULTILINE;
	return h;
}

static int compile_part(const struct scan_rules *rules, enum scan_part part,
			struct pf_set *s, char *err, size_t errlen)
{
	size_t n = 0, k = 0;
	const char **expr;
	unsigned *flags, *ids;
	const struct scan_rule **which;
	int e = 0;

	for (size_t i = 0; i < rules->count; i++)
		n += rules->v[i].part == part;
	if (!n)
		return 0;
	expr = calloc(n, sizeof(*expr));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	which = calloc(n, sizeof(*which));
	s->ids[part] = calloc(n, sizeof(uint32_t));
	s->acts[part] = calloc(n, 1);
	if (!expr || !flags || !ids || !which || !s->ids[part] ||
	    !s->acts[part]) {
		e = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", rules->file);
		goto out;
	}
	for (size_t i = 0; i < rules->count; i++) {
		const struct scan_rule *r = &rules->v[i];
		if (r->part != part)
			continue;
		expr[k] = r->pattern;
		flags[k] = hs_flags(r->flags);
		ids[k] = (unsigned)k;
		which[k] = r;
		s->ids[part][k] = r->id;
		s->acts[part][k] = (uint8_t)r->action;
		k++;
	}
	hs_compile_error_t *cerr = NULL;
	if (hs_compile_multi(expr, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL,
			     &s->db[part], &cerr) != HS_SUCCESS) {
		if (cerr && cerr->expression >= 0 &&
		    (size_t)cerr->expression < n) {
			const struct scan_rule *r = which[cerr->expression];
			snprintf(err, errlen,
				 "%s:%u: rule %u: pattern /%s/ does not "
				 "compile: %s",
				 rules->file, r->line, r->id, r->pattern,
				 cerr->message);
		} else {
			snprintf(err, errlen, "%s: %s rules do not compile: %s",
				 rules->file, scan_part_name(part),
				 cerr ? cerr->message : "unknown error");
		}
		hs_free_compile_error(cerr);
		e = -EINVAL;
	}
out:
	free(expr);
	free(flags);
	free(ids);
	free(which);
	return e;
}

static int selftest_cb(unsigned id, unsigned long long from,
		       unsigned long long to, unsigned fl, void *ctx)
{
	return 0;
}

/* A new set must work before it is published: scratch for every database
 * and one scan of a small sample through each. */
static int set_selftest(struct pf_set *s, const char *file, char *err,
			size_t errlen)
{
	static const char sample[] = "From: a@example.org\r\n"
				     "Subject: self-test\r\n\r\nhello\r\n";
	hs_scratch_t *scr = NULL;
	int e = 0;

	for (int p = 0; p < SCAN_PART__COUNT && !e; p++) {
		if (s->db[p] && hs_alloc_scratch(s->db[p], &scr) != HS_SUCCESS)
			e = -ENOMEM;
	}
	for (int p = 0; p < SCAN_PART__COUNT && !e; p++) {
		if (s->db[p] && hs_scan(s->db[p], sample, sizeof(sample) - 1, 0,
					scr, selftest_cb, NULL) != HS_SUCCESS)
			e = -EIO;
	}
	if (e)
		snprintf(err, errlen,
			 "%s: self-test of the compiled rules "
			 "failed",
			 file);
	hs_free_scratch(scr);
	return e;
}

int scan_pf_load_rules(struct scan_pf *pf, const struct scan_rules *rules,
		       char *err, size_t errlen)
{
	struct pf_set *s = calloc(1, sizeof(*s));
	int e = 0;

	if (!s)
		return -ENOMEM;
	for (int p = 0; p < SCAN_PART__COUNT && !e; p++)
		e = compile_part(rules, (enum scan_part)p, s, err, errlen);
	if (!e)
		e = set_selftest(s, rules->file, err, errlen);
	if (e) {
		set_free(s);
		MX_COUNT(scan_counters, scan_pf_reload_failures);
		mx_log(MX_LOG_ERR, "scan", "event=rules_refused reason=\"%s\"",
		       err);
		return e;
	}
	s->rule_count = rules->count;
	pthread_mutex_lock(&pf->lock);
	s->gen = ++pf->gen;
	struct pf_set *old = atomic_exchange(&pf->cur, s);
	if (old) {
		old->retired_next = pf->retired;
		pf->retired = old;
	}
	reclaim_locked(pf);
	pthread_mutex_unlock(&pf->lock);
	MX_COUNT(scan_counters, scan_pf_reloads);
	mx_log(MX_LOG_INFO, "scan",
	       "event=rules_loaded file=\"%s\" rules=%zu generation=%llu",
	       rules->file, rules->count, (unsigned long long)s->gen);
	return 0;
}

int scan_pf_load(struct scan_pf *pf, const char *path, char *err, size_t errlen)
{
	struct scan_rules *rules;
	int e = scan_rules_load(path, &rules, err, errlen);

	if (e) {
		MX_COUNT(scan_counters, scan_pf_reload_failures);
		mx_log(MX_LOG_ERR, "scan", "event=rules_refused reason=\"%s\"",
		       err);
		return e;
	}
	e = scan_pf_load_rules(pf, rules, err, errlen);
	scan_rules_free(rules);
	return e;
}

/* ---- scanning ---- */

static void note_match(struct scan_pf_result *r, uint32_t id,
		       enum scan_action a)
{
	if (!r->matched || a > r->action)
		r->action = a;
	r->matched = true;
	for (unsigned i = 0; i < r->match_count; i++)
		if (r->match[i] == id)
			return;
	if (r->match_count < SCAN_PF_MATCH_MAX)
		r->match[r->match_count++] = id;
	else
		r->truncated = true;
}

struct match_ctx {
	struct scan_pf_worker *w;
	enum scan_part part;
};

static int on_match(unsigned idx, unsigned long long from,
		    unsigned long long to, unsigned fl, void *ctx)
{
	struct match_ctx *m = ctx;
	struct pf_set *s = m->w->set;

	note_match(m->w->res, s->ids[m->part][idx],
		   (enum scan_action)s->acts[m->part][idx]);
	return 0;
}

static void run(struct scan_pf_worker *w, enum scan_part part, const void *data,
		size_t len)
{
	hs_database_t *db = w->set->db[part];
	struct match_ctx m = {w, part};

	if (!db || w->err)
		return;
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	hs_error_t he =
	    hs_scan(db, data, (unsigned)len, 0, w->scratch, on_match, &m);
	if (he != HS_SUCCESS) {
		w->err = -EIO;
		MX_LOG_RL(MX_LOG_ERR, "scan", "event=hs_scan_failed err=%d",
			  he);
	}
}

static void hdr_flush(struct scan_pf_worker *w)
{
	if (w->hdr_len)
		run(w, SCAN_PART_HEADER, w->hdr, w->hdr_len);
	w->hdr_len = 0;
}

static void cb_header(void *arg, unsigned depth, const uint8_t *l, size_t len)
{
	struct scan_pf_worker *w = arg;

	if (!w->set->db[SCAN_PART_HEADER])
		return;
	if (len > PF_HDR_SIZE - w->hdr_len)
		hdr_flush(w); /* a giant header section: scan in blocks */
	if (len > PF_HDR_SIZE)
		len = PF_HDR_SIZE;
	memcpy(w->hdr + w->hdr_len, l, len);
	w->hdr_len += len;
}

static void cb_headers_end(void *arg, unsigned depth)
{
	hdr_flush(arg);
}

static void cb_part_begin(void *arg, const struct scan_mime_part *part)
{
	struct scan_pf_worker *w = arg;

	w->body_len = 0;
	w->body_cut = false;
}

static void cb_filename(void *arg, const uint8_t *name, size_t len)
{
	struct scan_pf_worker *w = arg;

	run(w, SCAN_PART_FILENAME, name, len);
}

static void cb_body(void *arg, const uint8_t *d, size_t len)
{
	struct scan_pf_worker *w = arg;
	size_t room = w->pf->conf.decode_max - w->body_len;

	if (!w->set->db[SCAN_PART_BODY])
		return;
	if (len > room) {
		len = room;
		w->body_cut = true;
	}
	memcpy(w->body + w->body_len, d, len);
	w->body_len += len;
}

static void cb_part_end(void *arg)
{
	struct scan_pf_worker *w = arg;

	if (w->body_cut)
		MX_COUNT(scan_counters, scan_pf_decode_truncated);
	run(w, SCAN_PART_BODY, w->body, w->body_len);
	w->body_len = 0;
	w->body_cut = false;
}

static const struct scan_mime_cb pf_mime_cb = {
    .header = cb_header,
    .headers_end = cb_headers_end,
    .part_begin = cb_part_begin,
    .filename = cb_filename,
    .body = cb_body,
    .part_end = cb_part_end,
};

struct scan_pf_worker *scan_pf_worker_create(struct scan_pf *pf)
{
	struct scan_pf_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->pf = pf;
	w->hdr = malloc(PF_HDR_SIZE);
	w->body = malloc(pf->conf.decode_max);
	if (!w->hdr || !w->body) {
		free(w->hdr);
		free(w->body);
		free(w);
		return NULL;
	}
	atomic_init(&w->hazard, NULL);
	pthread_mutex_lock(&pf->lock);
	w->next = pf->workers;
	pf->workers = w;
	pthread_mutex_unlock(&pf->lock);
	return w;
}

void scan_pf_worker_destroy(struct scan_pf_worker *w)
{
	if (!w)
		return;
	struct scan_pf *pf = w->pf;
	pthread_mutex_lock(&pf->lock);
	for (struct scan_pf_worker **pp = &pf->workers; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&pf->lock);
	hs_free_scratch(w->scratch);
	free(w->hdr);
	free(w->body);
	free(w);
}

/* Takes a hazard on the current set: announce, then confirm it is still
 * current so the reclaimer cannot have missed the announcement. */
static struct pf_set *set_acquire(struct scan_pf_worker *w)
{
	struct pf_set *s;

	for (;;) {
		s = atomic_load(&w->pf->cur);
		atomic_store(&w->hazard, s);
		if (atomic_load(&w->pf->cur) == s)
			return s;
	}
}

static void finish_result(const struct scan_pf *pf, struct scan_pf_result *r)
{
	enum scan_action def = pf->conf.default_action;

	if (!r->matched) {
		r->action = def;
		MX_COUNT(scan_counters, scan_pf_no_match);
	}
	r->clam = r->action == SCAN_ACT_SCAN ||
		  (r->action == SCAN_ACT_TAG && def == SCAN_ACT_SCAN);
	switch (r->action) {
	case SCAN_ACT_REJECT:
		MX_COUNT(scan_counters, scan_pf_act_reject);
		break;
	case SCAN_ACT_SCAN:
		MX_COUNT(scan_counters, scan_pf_act_scan);
		break;
	case SCAN_ACT_TAG:
		MX_COUNT(scan_counters, scan_pf_act_tag);
		break;
	case SCAN_ACT_PASS:
		MX_COUNT(scan_counters, scan_pf_act_pass);
		break;
	}
}

int scan_pf_scan(struct scan_pf_worker *w, const void *msg, size_t len,
		 struct scan_pf_result *res)
{
	struct pf_set *s = set_acquire(w);

	memset(res, 0, sizeof(*res));
	MX_COUNT(scan_counters, scan_pf_msgs);
	MX_COUNT_ADD(scan_counters, scan_pf_bytes, len);
	if (!s) {
		atomic_store(&w->hazard, NULL);
		finish_result(w->pf, res);
		return 0;
	}
	if (w->scratch_gen != s->gen) {
		for (int p = 0; p < SCAN_PART__COUNT; p++)
			if (s->db[p] &&
			    hs_alloc_scratch(s->db[p], &w->scratch) !=
				HS_SUCCESS) {
				atomic_store(&w->hazard, NULL);
				MX_COUNT(scan_counters, scan_pf_errors);
				return -ENOMEM;
			}
		w->scratch_gen = s->gen;
	}
	w->set = s;
	w->res = res;
	w->err = 0;
	w->hdr_len = 0;
	w->body_len = 0;
	w->body_cut = false;
	res->generation = s->gen;

	run(w, SCAN_PART_RAW, msg, len);
	if (s->db[SCAN_PART_HEADER] || s->db[SCAN_PART_BODY] ||
	    s->db[SCAN_PART_FILENAME]) {
		scan_mime_init(&w->mime, w->pf->conf.depth_max, &pf_mime_cb, w);
		scan_mime_feed(&w->mime, msg, len);
		scan_mime_finish(&w->mime);
		hdr_flush(w);
		MX_COUNT_ADD(scan_counters, scan_pf_mime_too_deep,
			     w->mime.stats.too_deep);
		MX_COUNT_ADD(scan_counters, scan_pf_mime_long_lines,
			     w->mime.stats.long_lines);
	}
	w->set = NULL;
	w->res = NULL;
	atomic_store(&w->hazard, NULL);
	if (w->err) {
		MX_COUNT(scan_counters, scan_pf_errors);
		return w->err;
	}
	finish_result(w->pf, res);
	return 0;
}
