/*
 * bench_scan — throughput of the scan module on a generated mail corpus.
 *
 *   bench_scan [RULES SCANNER DB_DIR [MESSAGES] [SECONDS]]
 *
 * Without arguments it measures configs/prefilter.rules, the build's
 * mxgate-scanner and configs/clamav with 500 messages, 2 s each.
 * (DB_DIR "-" measures the pre-filter only.)
 * The corpus (bench_corpus.h) mixes plain text, newsletters, PDF, image,
 * Office, zip, forwarded, exe and GTUBE messages.
 *
 * Prints: pre-filter GB/s on one core (one worker) and with one worker
 * per core; the share of messages that need no ClamAV under the rules
 * given (action pass, or tag with default pass; default scan); ClamAV
 * MB/s with one scanner process (all messages, and the pre-filtered
 * ones); and with one scanner per core.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_corpus.h"
#include "mx_time.h"
#include "scan_clam_pool.h"
#include "scan_pf.h"

struct run {
	struct scan_pf *pf;
	double seconds;
	double cpu_seconds; /* this thread's CPU time */
	uint64_t bytes;
	bool record;
};

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double children_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void *pf_thread(void *arg)
{
	struct run *r = arg;
	struct scan_pf_worker *w = scan_pf_worker_create(r->pf);
	struct scan_pf_result res;
	uint64_t t0 = mx_now_ns(), bytes = 0;
	double c0 = thread_cpu();

	for (size_t i = 0;; i = (i + 1) % nmsgs) {
		scan_pf_scan(w, msgs[i].p, msgs[i].len, &res);
		if (r->record) {
			msgs[i].clam = res.clam;
			msgs[i].reject = res.action == SCAN_ACT_REJECT;
			if (i + 1 == nmsgs)
				break;
		}
		bytes += msgs[i].len;
		if (i + 1 == nmsgs && mx_now_ns() - t0 > r->seconds * 1e9)
			break;
	}
	r->seconds = (mx_now_ns() - t0) / 1e9;
	r->cpu_seconds = thread_cpu() - c0;
	r->bytes = bytes;
	scan_pf_worker_destroy(w);
	return NULL;
}

/* Returns wall-clock GB/s summed over threads; *per_cpu gets GB/s per
 * second of CPU the scanning threads actually had (the figure that
 * survives a busy machine). */
static double pf_run(struct scan_pf *pf, int threads, double seconds,
		     double *per_cpu)
{
	pthread_t t[64];
	struct run r[64];
	double gbps = 0, bytes = 0, cpu = 0;

	for (int i = 0; i < threads; i++) {
		r[i] = (struct run){pf, seconds, 0, 0, false};
		pthread_create(&t[i], NULL, pf_thread, &r[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		gbps += r[i].bytes / r[i].seconds / 1e9;
		bytes += r[i].bytes;
		cpu += r[i].cpu_seconds;
	}
	*per_cpu = bytes / cpu / 1e9;
	return gbps;
}

static size_t done_count;

static void on_done(void *arg, void *cookie, enum scan_verdict v,
		    const char *sig)
{
	done_count++;
}

/* Returns wall-clock MB/s; *per_cpu gets MB/s per CPU-second of the
 * scanner processes (reaped by destroy, so RUSAGE_CHILDREN has them;
 * engine loading is included, a few ms with the test database). */
static double clam_run(const char *scanner, const char *db, const char *seg,
		       unsigned procs, bool only_clam, size_t *count,
		       size_t *bytes, double *per_cpu)
{
	struct scan_clam_conf conf = {
	    .scanner_path = scanner,
	    .db_dir = db,
	    .procs = procs,
	    .queue_max = (unsigned)nmsgs + 1,
	    .done = on_done,
	};
	struct scan_clam_pool *pool;
	double c0 = children_cpu();

	if (scan_clam_pool_create(&conf, &pool) ||
	    scan_clam_pool_wait_ready(pool, 120000))
		return -1;
	/* Wait until every scanner is up, not just the first. */
	for (unsigned i = 0; i < 50; i++) {
		scan_clam_pool_poll(pool);
		usleep(20000);
	}
	*count = *bytes = 0;
	done_count = 0;
	uint64_t t0 = mx_now_ns();
	for (size_t i = 0; i < nmsgs; i++) {
		if (only_clam && !msgs[i].clam)
			continue;
		scan_clam_pool_submit(pool, i, seg, msgs[i].off, msgs[i].len,
				      NULL);
		(*count)++;
		*bytes += msgs[i].len;
	}
	scan_clam_pool_drain(pool, 600000);
	double s = (mx_now_ns() - t0) / 1e9;
	scan_clam_pool_destroy(pool);
	*per_cpu = *bytes / (children_cpu() - c0) / 1e6;
	return *bytes / s / 1e6;
}

int main(int argc, char **argv)
{
	/* With no arguments: the tree's rules and test signatures and the
	 * build's scanner (paths fixed by meson), 500 messages, 2 s a
	 * measurement, so perf/bench runs it as it runs the others. */
	static char *defaults[] = {NULL, BENCH_SCAN_RULES, BENCH_SCAN_SCANNER,
				   BENCH_SCAN_DB, "500", "2", NULL};

	if (argc == 1) {
		defaults[0] = argv[0];
		argv = defaults;
		argc = 6;
	}
	if (argc < 4) {
		fprintf(stderr,
			"usage: %s [RULES SCANNER DB_DIR [MESSAGES] "
			"[SECONDS]]\n",
			argv[0]);
		return 2;
	}
	size_t n = argc > 4 ? strtoul(argv[4], NULL, 10) : 2000;
	double secs = argc > 5 ? atof(argv[5]) : 3.0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct scan_pf_conf conf = {.default_action = SCAN_ACT_SCAN};
	struct scan_pf *pf;
	char err[512];

	bench_corpus_gen(n);
	if (scan_pf_create(&conf, &pf) ||
	    scan_pf_load(pf, argv[1], err, sizeof(err))) {
		fprintf(stderr, "rules: %s\n", err);
		return 1;
	}
	printf("rules: %s, %zu rules, default scan\n", argv[1],
	       scan_pf_rule_count(pf));

	struct run rec = {pf, 0, 0, 0, true};
	pf_thread(&rec);
	size_t skip = 0, rej = 0, skip_bytes = 0;
	for (size_t i = 0; i < nmsgs; i++) {
		skip += !msgs[i].clam;
		rej += msgs[i].reject;
		skip_bytes += msgs[i].clam ? 0 : msgs[i].len;
	}
	printf("prefilter: %.1f%% of messages (%.1f%% of bytes) skip ClamAV "
	       "(%.1f%% rejected outright)\n",
	       100.0 * skip / nmsgs, 100.0 * skip_bytes / total_bytes,
	       100.0 * rej / nmsgs);
	double cpu1, cpun;
	double one = pf_run(pf, 1, secs, &cpu1);
	printf("prefilter: %.2f GB/s per CPU-second on 1 worker "
	       "(%.2f GB/s wall clock)\n",
	       cpu1, one);
	double all = pf_run(pf, (int)cores, secs, &cpun);
	printf("prefilter: %.2f GB/s per CPU-second on %ld workers "
	       "(%.2f GB/s wall clock in total)\n",
	       cpun, cores, all);
	scan_pf_destroy(pf);

	if (strcmp(argv[3], "-") == 0)
		return 0; /* pre-filter only */
	char seg[] = "/tmp/bench_scan_segXXXXXX";
	int fd = mkstemp(seg);
	uint64_t off = 0;
	for (size_t i = 0; i < nmsgs; i++) {
		msgs[i].off = off;
		if (write(fd, msgs[i].p, msgs[i].len) != (ssize_t)msgs[i].len)
			return 1;
		off += msgs[i].len;
	}
	close(fd);
	size_t c, b;
	double cpu;
	double mbps = clam_run(argv[2], argv[3], seg, 1, false, &c, &b, &cpu);
	printf("clamav: %.1f MB/s per CPU-second, %.1f MB/s wall clock, 1 "
	       "scanner, all %zu messages (%.1f MiB, db %s)\n",
	       cpu, mbps, c, b / 1048576.0, argv[3]);
	mbps = clam_run(argv[2], argv[3], seg, 1, true, &c, &b, &cpu);
	printf("clamav: %.1f MB/s per CPU-second, %.1f MB/s wall clock, 1 "
	       "scanner, the %zu messages the pre-filter sends (%.1f MiB)\n",
	       cpu, mbps, c, b / 1048576.0);
	mbps = clam_run(argv[2], argv[3], seg, (unsigned)cores, false, &c, &b,
			&cpu);
	printf("clamav: %.1f MB/s per CPU-second, %.1f MB/s wall clock in "
	       "total, %ld scanners\n",
	       cpu, mbps, cores);
	unlink(seg);
	return 0;
}
