/*
 * ml_report — mxload's results: the one-line summary on stdout and the
 * JSON document (--json).  Main thread only, after the workers are joined.
 * ml_report_json() returns -errno if the file cannot be written.
 */
#ifndef ML_REPORT_H
#define ML_REPORT_H

#include <stdio.h>

#include "ml_msg.h"
#include "ml_opts.h"
#include "ml_stats.h"

struct ml_result {
	const struct ml_opts *o;
	const struct ml_pool *pool;
	struct ml_stats st; /* summed over the workers */
	double elapsed_s;
	double cpu_user_s; /* mxload's own CPU time */
	double cpu_sys_s;
};

/* Messages that did not get their final 250. */
uint64_t ml_result_failed(const struct ml_result *r);
void ml_report_summary(FILE *f, const struct ml_result *r);
int ml_report_json(const char *path, const struct ml_result *r);

#endif
