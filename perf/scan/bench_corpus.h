/*
 * bench_corpus — the generated mail corpus the scan benchmarks share
 * (fixed seed, so runs compare).  By message count:
 *   40% plain text, 2-24 KiB (a quarter quoted-printable)
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
 * and ClamAV's parsers see plausible types.  Single-threaded generation.
 */
#ifndef BENCH_CORPUS_H
#define BENCH_CORPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msg {
	char *p;
	size_t len;
	uint64_t off; /* in the segment file */
	bool clam;    /* the pre-filter wants ClamAV */
	bool reject;
};

extern struct msg *msgs;
extern size_t nmsgs, total_bytes;

/* Generates n messages into msgs and prints what the corpus holds. */
void bench_corpus_gen(size_t n);

#endif
