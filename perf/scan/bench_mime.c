/*
 * bench_mime — the MIME walk and decode that the pre-filter needs, done by
 * scan_mime (ours) and by GMime 3, on the same generated corpus
 * (bench_corpus.h): every header line seen, every leaf part decoded
 * (base64, quoted-printable), attachment names read.  Prints MB/s per
 * CPU-second for each.  This is the measurement behind using our own
 * walker rather than GMime.
 *
 *   bench_mime [MESSAGES] [SECONDS]
 */
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_corpus.h"
#include "scan_mime.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t sink;

static void on_header(void *a, unsigned d, const uint8_t *l, size_t n)
{
	sink += n;
}

static void on_name(void *a, const uint8_t *n, size_t len)
{
	sink += len;
}

static void on_body(void *a, const uint8_t *d, size_t n)
{
	sink += n + d[0];
}

static const struct scan_mime_cb cb = {
    .header = on_header,
    .filename = on_name,
    .body = on_body,
};

static void walk_ours(const struct msg *m)
{
	static struct scan_mime w;

	scan_mime_init(&w, 8, &cb, NULL);
	scan_mime_feed(&w, (const uint8_t *)m->p, m->len);
	scan_mime_finish(&w);
}

static void gm_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	GMimeStream *null = data;

	if (!GMIME_IS_PART(part))
		return;
	const char *fn = g_mime_part_get_filename(GMIME_PART(part));
	if (fn)
		sink += strlen(fn);
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
	if (w)
		sink += (uint64_t)g_mime_data_wrapper_write_to_stream(w, null);
}

static void walk_gmime(const struct msg *m)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(m->p, m->len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *msg = g_mime_parser_construct_message(p, NULL);
	GMimeStream *null = g_mime_stream_null_new();

	if (msg) {
		GMimeHeaderList *h =
		    g_mime_object_get_header_list(GMIME_OBJECT(msg));
		sink += (uint64_t)g_mime_header_list_get_count(h);
		g_mime_message_foreach(msg, gm_part, null);
		g_object_unref(msg);
	}
	g_object_unref(null);
	g_object_unref(p);
	g_object_unref(s);
}

static double run(void (*walk)(const struct msg *), double secs)
{
	double c0 = cpu_now(), bytes = 0;

	do {
		for (size_t i = 0; i < nmsgs; i++) {
			walk(&msgs[i]);
			bytes += msgs[i].len;
		}
	} while (cpu_now() - c0 < secs);
	return bytes / (cpu_now() - c0) / 1e6;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 500;
	double secs = argc > 2 ? atof(argv[2]) : 3.0;

	g_mime_init();
	bench_corpus_gen(n);
	printf("mime walk+decode, scan_mime: %.0f MB/s per CPU-second\n",
	       run(walk_ours, secs));
	printf("mime walk+decode, GMime %d.%d.%d: %.0f MB/s per CPU-second\n",
	       gmime_major_version, gmime_minor_version, gmime_micro_version,
	       run(walk_gmime, secs));
	g_mime_shutdown();
	return sink == 42; /* keeps the work observable */
}
