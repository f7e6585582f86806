/*
 * ml_report — format mxload's results as a summary line and as JSON.
 */
#include "ml_report.h"

#include <errno.h>
#include <string.h>

static const char *const cmd_names[] = {
#define ML_CMD_NAME(e, s) s,
    ML_CMD_LIST(ML_CMD_NAME)
#undef ML_CMD_NAME
};

static const char *const outcome_names[] = {
#define ML_OUT_NAME(e, s) s,
    ML_OUTCOME_LIST(ML_OUT_NAME)
#undef ML_OUT_NAME
};

static const char *const class_names[] = {"2xx", "3xx", "4xx", "5xx", "other"};

uint64_t ml_result_failed(const struct ml_result *r)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < ML_OUT_COUNT; i++)
		if (i != ML_OUT_OK)
			n += r->st.outcome[i];
	/* Started but never ended would be a bug in mxload; count it. */
	if (r->st.started > n + r->st.outcome[ML_OUT_OK])
		n += r->st.started - n - r->st.outcome[ML_OUT_OK];
	return n;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double rate(const struct ml_result *r)
{
	return r->elapsed_s > 0
		   ? (double)r->st.outcome[ML_OUT_OK] / r->elapsed_s
		   : 0.0;
}

/* Transactions per write actually achieved under --depth. */
static double depth_mean(const struct ml_stats *s)
{
	return s->batches ? (double)s->batch_txns / (double)s->batches : 0.0;
}

/* --depth's line: what was asked, what the writes carried, and the
 * connections that had to use 1 (no PIPELINING or no CHUNKING: RFC 2920
 * §3.1 ends a group at DATA). */
static void ml_report_depth(FILE *f, const struct ml_result *r)
{
	const struct ml_stats *s = &r->st;

	fprintf(f,
		"mxload: depth=%u batches=%llu txns_per_write=%.2f "
		"depth_fallback_conns=%llu%s\n",
		r->o->depth, (unsigned long long)s->batches, depth_mean(s),
		(unsigned long long)s->depth_fallback,
		s->depth_fallback ? " (server lacks PIPELINING+CHUNKING: "
				    "those connections used depth 1)"
				  : "");
}

void ml_report_summary(FILE *f, const struct ml_result *r)
{
	const struct ml_stats *s = &r->st;
	const struct ml_hist *h = r->o->rate > 0 ? &s->sched : &s->eod;

	fprintf(f,
		"mxload: sent=%llu ok=%llu failed=%llu (4xx=%llu 5xx=%llu "
		"conn=%llu timeout=%llu proto=%llu) %.1f msg/s %.3f s "
		"%s p50=%.3fms p99=%.3fms p99.9=%.3fms max=%.3fms "
		"conns=%u threads=%u\n",
		(unsigned long long)s->started,
		(unsigned long long)s->outcome[ML_OUT_OK],
		(unsigned long long)ml_result_failed(r),
		(unsigned long long)s->outcome[ML_OUT_REJ4],
		(unsigned long long)s->outcome[ML_OUT_REJ5],
		(unsigned long long)s->outcome[ML_OUT_CONN_ERR],
		(unsigned long long)s->outcome[ML_OUT_TIMEOUT],
		(unsigned long long)s->outcome[ML_OUT_PROTO], rate(r),
		r->elapsed_s, r->o->rate > 0 ? "sched->250" : "eod->250",
		ms(ml_hist_percentile(h, 50)), ms(ml_hist_percentile(h, 99)),
		ms(ml_hist_percentile(h, 99.9)), ms(h->count ? h->max_ns : 0),
		r->o->conns, r->o->threads);
	if (r->o->depth > 1)
		ml_report_depth(f, r);
}

static void json_hist(FILE *f, const char *name, const struct ml_hist *h)
{
	static const double pcts[] = {50, 75, 90, 95, 99, 99.9, 99.99};
	unsigned i;
	bool first = true;

	fprintf(f,
		"  \"%s\": {\"count\": %llu, \"min_ms\": %.4f, "
		"\"mean_ms\": %.4f, \"max_ms\": %.4f, \"percentiles_ms\": {",
		name, (unsigned long long)h->count,
		ms(h->count ? h->min_ns : 0),
		h->count ? ms(h->sum_ns) / (double)h->count : 0.0,
		ms(h->count ? h->max_ns : 0));
	for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
		fprintf(f, "%s\"%g\": %.4f", i ? ", " : "", pcts[i],
			ms(ml_hist_percentile(h, pcts[i])));
	/* Non-empty buckets as [upper bound ms, count], for plots. */
	fprintf(f, "}, \"buckets\": [");
	for (i = 0; i < ML_HIST_BUCKETS; i++) {
		uint64_t lo, hi;

		if (!h->bucket[i])
			continue;
		ml_hist_range(i, &lo, &hi);
		fprintf(f, "%s[%.4f, %llu]", first ? "" : ", ", ms(hi),
			(unsigned long long)h->bucket[i]);
		first = false;
	}
	fprintf(f, "]}");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int ml_report_json(const char *path, const struct ml_result *r)
{
	static const char *const content[] = {"text", "html", "attach", "eml"};
	static const char *const sizek[] = {"fixed", "lognormal", "file"};
	const struct ml_stats *s = &r->st;
	const struct ml_opts *o = r->o;
	FILE *f = fopen(path, "w");
	unsigned i, j;

	if (!f)
		return -errno;
	fprintf(f, "{\n  \"tool\": \"mxload\",\n  \"target\": ");
	json_str(f, o->target);
	fprintf(f,
		",\n  \"params\": {\"conns\": %u, \"threads\": %u, "
		"\"messages\": %llu, \"per_conn\": %u, \"rcpts\": %u, "
		"\"size_kind\": \"%s\", \"size\": %llu, \"sigma\": %g, "
		"\"content\": \"%s\", \"eicar_rate\": %g, "
		"\"pipelining\": %s, \"chunking\": %s, "
		"\"pipeline_next\": %s, \"depth\": %u, \"rate\": %g, "
		"\"duration_s\": %g, \"quickack\": %s, \"pool_messages\": %u, "
		"\"pool_bytes\": %llu},\n",
		o->conns, o->threads, (unsigned long long)o->msgs,
		o->msgs_per_conn, o->rcpts, sizek[o->size_kind],
		(unsigned long long)o->size, o->sigma, content[o->content],
		o->eicar_rate, o->pipelining ? "true" : "false",
		o->chunking ? "true" : "false",
		o->pipeline_next ? "true" : "false", o->depth, o->rate,
		o->duration_s, o->quickack ? "true" : "false",
		r->pool->clean_count + r->pool->eicar_count,
		(unsigned long long)r->pool->bytes);
	fprintf(
	    f,
	    "  \"elapsed_s\": %.6f,\n  \"msgs_per_s\": %.2f,\n"
	    "  \"sent\": %llu,\n  \"ok\": %llu,\n  \"failed\": %llu,\n"
	    "  \"eicar_sent\": %llu,\n  \"bytes_sent\": %llu,\n"
	    "  \"bdat_used\": %llu,\n  \"pipelined\": %llu,\n"
	    "  \"pipelined_next\": %llu,\n"
	    "  \"depth\": {\"requested\": %u, \"batches\": %llu, "
	    "\"batch_txns\": %llu, \"txns_per_write\": %.3f, "
	    "\"fallback_conns\": %llu},\n"
	    "  \"client_cpu_s\": {\"user\": %.3f, \"sys\": %.3f},\n",
	    r->elapsed_s, rate(r), (unsigned long long)s->started,
	    (unsigned long long)s->outcome[ML_OUT_OK],
	    (unsigned long long)ml_result_failed(r),
	    (unsigned long long)s->eicar_sent,
	    (unsigned long long)s->bytes_sent, (unsigned long long)s->bdat_used,
	    (unsigned long long)s->pipelined,
	    (unsigned long long)s->pipelined_next, o->depth,
	    (unsigned long long)s->batches, (unsigned long long)s->batch_txns,
	    depth_mean(s), (unsigned long long)s->depth_fallback, r->cpu_user_s,
	    r->cpu_sys_s);
	fprintf(f, "  \"outcomes\": {");
	for (i = 0; i < ML_OUT_COUNT; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", outcome_names[i],
			(unsigned long long)s->outcome[i]);
	fprintf(f,
		"},\n  \"connections\": {\"opened\": %llu, "
		"\"connect_failed\": %llu, \"dropped\": %llu, "
		"\"timeouts\": %llu, \"protocol_errors\": %llu},\n",
		(unsigned long long)s->conn_opened,
		(unsigned long long)s->conn_failed,
		(unsigned long long)s->conn_dropped,
		(unsigned long long)s->timeouts,
		(unsigned long long)s->proto_errors);
	fprintf(f, "  \"replies\": {");
	for (i = 0; i < ML_CMD_COUNT; i++) {
		fprintf(f, "%s\n    \"%s\": {", i ? "," : "", cmd_names[i]);
		for (j = 0; j < ML_CLASS_COUNT; j++)
			fprintf(f, "%s\"%s\": %llu", j ? ", " : "",
				class_names[j],
				(unsigned long long)s->replies[i][j]);
		fputc('}', f);
	}
	fprintf(f, "\n  },\n  \"histogram_precision\": \"log-linear, 64 "
		   "sub-buckets per power of two, values within ~0.8%%\",\n");
	json_hist(f, "latency_eod", &s->eod);
	fprintf(f, ",\n");
	json_hist(f, "latency_sched", &s->sched);
	fprintf(f, "\n}\n");
	if (fclose(f) != 0)
		return -errno;
	return 0;
}
