/* bench_corpus — generator of the scan benchmarks' mail corpus (what it
 * holds is in bench_corpus.h). */
#include "bench_corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct msg *msgs;
size_t nmsgs, total_bytes;
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
    "the",	"meeting",  "report",	"quarter", "please", "attached",
    "find",	"schedule", "project",	"update",  "thanks", "regards",
    "customer", "order",    "shipping", "invoice", "review", "budget",
    "team",	"today",    "tomorrow", "we",	   "will",   "discuss",
    "results",	"and",	    "next",	"steps",
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
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
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
		 "Content-Transfer-Encoding: base64\r\n\r\n",
		 type, name, name);
	sb_str(b, h);
	base64(b, d, size);
	free(d);
}

void bench_corpus_gen(size_t n)
{
	static const uint8_t pdf[] = "%PDF-1.7\n", png[] = "\x89PNG\r\n\x1a\n",
			     zip[] = "PK\x03\x04", mz[] = "MZ\x90";
	unsigned mix[9] = {0};

	msgs = calloc(n, sizeof(*msgs));
	nmsgs = n;
	for (size_t i = 0; i < n; i++) {
		struct sb b = {0};
		unsigned r = rnd() % 100;
		if (r < 40) {
			mix[0]++;
			headers(&b, i, "status");
			if (i % 4 == 0) {
				sb_str(&b, "Content-Type: text/plain; "
					   "charset=utf-8\r\n"
					   "Content-Transfer-Encoding: "
					   "quoted-printable\r\n\r\n");
				size_t s = b.len;
				text(&b, between(2048, 24576), false);
				/* A few QP escapes to decode. */
				for (size_t k = s + 50; k + 3 < b.len; k += 400)
					memcpy(b.p + k, "=C3=A9", 3);
			} else {
				sb_str(&b, "Content-Type: text/plain; "
					   "charset=us-ascii\r\n\r\n");
				text(&b, between(2048, 24576), false);
			}
		} else if (r < 60) {
			mix[1]++;
			headers(&b, i, "newsletter");
			sb_str(&b, "Content-Type: multipart/alternative; "
				   "boundary=\"b1\"\r\n\r\n"
				   "--b1\r\nContent-Type: text/plain\r\n\r\n");
			size_t sz = between(4096, 32768);
			text(&b, sz, false);
			sb_str(&b, "--b1\r\nContent-Type: text/html\r\n\r\n");
			if (rnd() % 10 == 0)
				sb_str(
				    &b,
				    "<form "
				    "action=\"https://phish.example/\">\r\n");
			text(&b, sz, true);
			sb_str(&b, "--b1--\r\n");
		} else {
			const char *subj = "files";
			headers(&b, i, subj);
			sb_str(&b, "Content-Type: multipart/mixed; "
				   "boundary=\"b1\"\r\n\r\n"
				   "--b1\r\nContent-Type: text/plain\r\n\r\n");
			text(&b, between(500, 3000), false);
			if (r < 72) {
				mix[2]++;
				attachment(&b, "application/pdf", "report.pdf",
					   pdf, 9,
					   between(40 << 10, 300 << 10));
			} else if (r < 82) {
				mix[3]++;
				attachment(&b, "image/png", "photo.png", png, 8,
					   between(30 << 10, 200 << 10));
			} else if (r < 90) {
				mix[4]++;
				attachment(
				    &b,
				    "application/vnd.openxmlformats-"
				    "officedocument.wordprocessingml.document",
				    "minutes.docx", zip, 4,
				    between(20 << 10, 150 << 10));
			} else if (r < 94) {
				mix[5]++;
				attachment(&b, "application/zip", "photos.zip",
					   zip, 4,
					   between(20 << 10, 100 << 10));
			} else if (r < 97) {
				mix[6]++;
				sb_str(&b, "--b1\r\nContent-Type: "
					   "message/rfc822\r\n\r\n");
				headers(&b, i + 1, "fwd");
				sb_str(&b, "Content-Type: text/plain\r\n\r\n");
				text(&b, between(1000, 8000), false);
			} else if (r < 99) {
				mix[7]++;
				attachment(&b, "application/octet-stream",
					   "setup.exe", mz, 3,
					   between(30 << 10, 120 << 10));
			} else {
				mix[8]++;
				sb_str(
				    &b,
				    "--b1\r\nContent-Type: text/plain\r\n\r\n"
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
	       "zip %u, forwarded %u, exe %u, gtube %u\n",
	       mix[0], mix[1], mix[2], mix[3], mix[4], mix[5], mix[6], mix[7],
	       mix[8]);
}
