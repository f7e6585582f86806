/*
 * bench_scan — throughput of the scan module on a generated mail corpus.
 *
 *   bench_scan RULES SCANNER DB_DIR [MESSAGES] [SECONDS]
 *
 * (DB_DIR "-" measures the pre-filter only.)
 * The corpus is generated (fixed seed, so runs compare) and mixes, by
 * message count:
 *   40% plain text, 2-24 KiB (some quoted-printable)
 *   20% newsletters: multipart/alternative text + HTML, 8-64 KiB
 *       (1 in 10 of them with a <form>)
 *   12% a PDF attachment, base64, 40-300 KiB
 *   10% an image attachment (PNG), base64, 30-200 KiB
 *    8% an Office document (.docx, a ZIP container), base64, 20-150 KiB
 *    4% a .zip attachment, base64, 20-100 KiB
 *    3% a forwarded message (message/rfc822) around a text body
 *    2% an .exe attachment (MZ), base64, 30-120 KiB
 *    1% GTUBE in a text body
 * Attachment bytes are random after their magic, so they do not compress
 * and ClamAV's parsers see plausible types.
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

#include "mx_time.h"
#include "scan_clam_pool.h"
#include "scan_pf.h"

struct msg {
	char *p;
	size_t len;
	uint64_t off;	/* in the segment file */
	bool clam;	/* the pre-filter wants ClamAV */
	bool reject;
};

static struct msg *msgs;
static size_t nmsgs, total_bytes;
static uint64_t rng = 0x243f6a8885a308d3ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static size_t between(size_t lo, size_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

struct sb {
	char *p;
	size_t len, size;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->size) {
		b->size = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->size);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_str(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static const char *const words[] = {
	"the", "meeting", "report", "quarter", "please", "attached", "find",
	"schedule", "project", "update", "thanks", "regards", "customer",
	"order", "shipping", "invoice", "review", "budget", "team", "today",
	"tomorrow", "we", "will", "discuss", "results", "and", "next", "steps",
};

static void text(struct sb *b, size_t n, bool html)
{
	size_t start = b->len, col = 0;

	if (html)
		sb_str(b, "<html><body><table><tr><td><p>");
	while (b->len - start < n) {
		const char *w = words[rnd() % (sizeof(words) / sizeof(*words))];
		sb_str(b, w);
		col += strlen(w) + 1;
		if (col > 72) {
			sb_str(b, html ? "</p>\r\n<p>" : "\r\n");
			col = 0;
		} else {
			sb_str(b, " ");
		}
	}
	if (html)
		sb_str(b, "</p></td></tr></table></body></html>");
	sb_str(b, "\r\n");
}

static void base64(struct sb *b, const uint8_t *in, size_t len)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
				"vwxyz0123456789+/";
	char line[80];
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		line[o++] = a[v >> 18 & 63];
		line[o++] = a[v >> 12 & 63];
		line[o++] = i + 1 < len ? a[v >> 6 & 63] : '=';
		line[o++] = i + 2 < len ? a[v & 63] : '=';
		if (o == 76) {
			line[o++] = '\r';
			line[o++] = '\n';
			sb_put(b, line, o);
			o = 0;
		}
	}
	if (o) {
		sb_put(b, line, o);
		sb_str(b, "\r\n");
	}
}

static void headers(struct sb *b, size_t i, const char *subject)
{
	char h[512];
	snprintf(h, sizeof(h),
		 "Received: from mx%zu.example.net (mx%zu.example.net "
		 "[192.0.2.%zu]) by mxgate.example.org with ESMTP id %zx\r\n"
		 "From: Sender %zu <sender%zu@example.net>\r\n"
		 "To: user%zu@example.org\r\n"
		 "Subject: %s %zu\r\n"
		 "Date: Wed, 25 Nov 2026 16:57:50 +0000\r\n"
		 "Message-ID: <%zx.%zu@example.net>\r\nMIME-Version: 1.0\r\n",
		 i % 50, i % 50, i % 250, i, i, i, i % 1000, subject, i, i, i);
	sb_str(b, h);
}

static void attachment(struct sb *b, const char *type, const char *name,
		       const void *magic, size_t mlen, size_t size)
{
	uint8_t *d = malloc(size);
	char h[512];

	memcpy(d, magic, mlen);
	for (size_t k = mlen; k < size; k++)
		d[k] = (uint8_t)rnd();
	snprintf(h, sizeof(h),
		 "--b1\r\nContent-Type: %s; name=\"%s\"\r\n"
		 "Content-Disposition: attachment; filename=\"%s\"\r\n"
		 "Content-Transfer-Encoding: base64\r\n\r\n", type, name, name);
	sb_str(b, h);
	base64(b, d, size);
	free(d);
}

static void gen(size_t n)
{
	static const uint8_t pdf[] = "%PDF-1.7\n", png[] = "\x89PNG\r\n\x1a\n",
			     zip[] = "PK\x03\x04", mz[] = "MZ\x90";
	unsigned mix[9] = { 0 };

	msgs = calloc(n, sizeof(*msgs));
	nmsgs = n;
	for (size_t i = 0; i < n; i++) {
		struct sb b = { 0 };
		unsigned r = rnd() % 100;
		if (r < 40) {
			mix[0]++;
			headers(&b, i, "status");
			if (i % 4 == 0) {
				sb_str(&b, "Content-Type: text/plain; charset=utf-8\r\n"
					   "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
				size_t s = b.len;
				text(&b, between(2048, 24576), false);
				/* A few QP escapes to decode. */
				for (size_t k = s + 50; k + 3 < b.len; k += 400)
					memcpy(b.p + k, "=C3=A9", 3);
			} else {
				sb_str(&b, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
				text(&b, between(2048, 24576), false);
			}
		} else if (r < 60) {
			mix[1]++;
			headers(&b, i, "newsletter");
			sb_str(&b, "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
				   "--b1\r\nContent-Type: text/plain\r\n\r\n");
			size_t sz = between(4096, 32768);
			text(&b, sz, false);
			sb_str(&b, "--b1\r\nContent-Type: text/html\r\n\r\n");
			if (rnd() % 10 == 0)
				sb_str(&b, "<form action=\"https://phish.example/\">\r\n");
			text(&b, sz, true);
			sb_str(&b, "--b1--\r\n");
		} else {
			const char *subj = "files";
			headers(&b, i, subj);
			sb_str(&b, "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
				   "--b1\r\nContent-Type: text/plain\r\n\r\n");
			text(&b, between(500, 3000), false);
			if (r < 72) {
				mix[2]++;
				attachment(&b, "application/pdf", "report.pdf", pdf, 9,
					   between(40 << 10, 300 << 10));
			} else if (r < 82) {
				mix[3]++;
				attachment(&b, "image/png", "photo.png", png, 8,
					   between(30 << 10, 200 << 10));
			} else if (r < 90) {
				mix[4]++;
				attachment(&b, "application/vnd.openxmlformats-"
					   "officedocument.wordprocessingml.document",
					   "minutes.docx", zip, 4,
					   between(20 << 10, 150 << 10));
			} else if (r < 94) {
				mix[5]++;
				attachment(&b, "application/zip", "photos.zip", zip, 4,
					   between(20 << 10, 100 << 10));
			} else if (r < 97) {
				mix[6]++;
				sb_str(&b, "--b1\r\nContent-Type: message/rfc822\r\n\r\n");
				headers(&b, i + 1, "fwd");
				sb_str(&b, "Content-Type: text/plain\r\n\r\n");
				text(&b, between(1000, 8000), false);
			} else if (r < 99) {
				mix[7]++;
				attachment(&b, "application/octet-stream", "setup.exe",
					   mz, 3, between(30 << 10, 120 << 10));
			} else {
				mix[8]++;
				sb_str(&b, "--b1\r\nContent-Type: text/plain\r\n\r\n"
					   "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD"
					   "-ANTI-UBE-TEST-EMAIL*C.34X\r\n");
			}
			sb_str(&b, "--b1--\r\n");
		}
		msgs[i].p = b.p;
		msgs[i].len = b.len;
		total_bytes += b.len;
	}
	printf("corpus: %zu messages, %.1f MiB, mean %.1f KiB\n", n,
	       total_bytes / 1048576.0, total_bytes / 1024.0 / n);
	printf("  mix: plain %u, newsletter %u, pdf %u, image %u, docx %u, "
	       "zip %u, forwarded %u, exe %u, gtube %u\n", mix[0], mix[1],
	       mix[2], mix[3], mix[4], mix[5], mix[6], mix[7], mix[8]);
}

struct run {
	struct scan_pf *pf;
	double seconds;
	double cpu_seconds;	/* this thread's CPU time */
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
		r[i] = (struct run){ pf, seconds, 0, 0, false };
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
		.scanner_path = scanner, .db_dir = db, .procs = procs,
		.queue_max = (unsigned)nmsgs + 1, .done = on_done,
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
	if (argc < 4) {
		fprintf(stderr, "usage: %s RULES SCANNER DB_DIR [MESSAGES] "
				"[SECONDS]\n", argv[0]);
		return 2;
	}
	size_t n = argc > 4 ? strtoul(argv[4], NULL, 10) : 2000;
	double secs = argc > 5 ? atof(argv[5]) : 3.0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct scan_pf_conf conf = { .default_action = SCAN_ACT_SCAN };
	struct scan_pf *pf;
	char err[512];

	gen(n);
	if (scan_pf_create(&conf, &pf) ||
	    scan_pf_load(pf, argv[1], err, sizeof(err))) {
		fprintf(stderr, "rules: %s\n", err);
		return 1;
	}
	printf("rules: %s, %zu rules, default scan\n", argv[1],
	       scan_pf_rule_count(pf));

	struct run rec = { pf, 0, 0, 0, true };
	pf_thread(&rec);
	size_t skip = 0, rej = 0, skip_bytes = 0;
	for (size_t i = 0; i < nmsgs; i++) {
		skip += !msgs[i].clam;
		rej += msgs[i].reject;
		skip_bytes += msgs[i].clam ? 0 : msgs[i].len;
	}
	printf("prefilter: %.1f%% of messages (%.1f%% of bytes) skip ClamAV "
	       "(%.1f%% rejected outright)\n", 100.0 * skip / nmsgs,
	       100.0 * skip_bytes / total_bytes, 100.0 * rej / nmsgs);
	double cpu1, cpun;
	double one = pf_run(pf, 1, secs, &cpu1);
	printf("prefilter: %.2f GB/s per CPU-second on 1 worker "
	       "(%.2f GB/s wall clock)\n", cpu1, one);
	double all = pf_run(pf, (int)cores, secs, &cpun);
	printf("prefilter: %.2f GB/s per CPU-second on %ld workers "
	       "(%.2f GB/s wall clock in total)\n", cpun, cores, all);
	scan_pf_destroy(pf);

	if (strcmp(argv[3], "-") == 0)
		return 0;	/* pre-filter only */
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
	       "scanner, all %zu messages (%.1f MiB, db %s)\n", cpu, mbps, c,
	       b / 1048576.0, argv[3]);
	mbps = clam_run(argv[2], argv[3], seg, 1, true, &c, &b, &cpu);
	printf("clamav: %.1f MB/s per CPU-second, %.1f MB/s wall clock, 1 "
	       "scanner, the %zu messages the pre-filter sends (%.1f MiB)\n",
	       cpu, mbps, c, b / 1048576.0);
	mbps = clam_run(argv[2], argv[3], seg, (unsigned)cores, false, &c, &b,
			&cpu);
	printf("clamav: %.1f MB/s per CPU-second, %.1f MB/s wall clock in "
	       "total, %ld scanners\n", cpu, mbps, cores);
	unlink(seg);
	return 0;
}
