/*
 * scan_mime — a small streaming MIME walker for the pre-filter.
 *
 * Bytes of one message go in (any split); events come out through
 * callbacks, in message order:
 *   header(depth, line)      every raw header line of the message and of
 *                            every MIME part (continuation lines included)
 *   part_begin(part)         a leaf part's header section ended; `part` says
 *                            its type, encoding and names
 *   headers_end(depth)       any header section ended (containers too);
 *                            comes before part_begin
 *   filename(name)           each attachment name found (Content-Disposition
 *                            filename, Content-Type name; RFC 2231 and
 *                            RFC 2047 encodings undone)
 *   body(data)               decoded content of the current leaf part
 *                            (base64 and quoted-printable undone)
 *   part_end()               the current leaf part ended
 * Multipart containers are walked, not reported as leaves; message/rfc822
 * parts are walked as nested messages.  Nesting deeper than depth_max is
 * treated as an opaque leaf and counted.
 *
 * The walker never fails: malformed input yields a best-effort walk.  It
 * does not allocate; `struct scan_mime` is caller storage (about 8 KiB).
 * One walker per thread; callbacks run on the feeding thread.
 */
#ifndef SCAN_MIME_H
#define SCAN_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan_decode.h"

#define SCAN_MIME_LINE_MAX 1024	   /* header lines are cut here */
#define SCAN_MIME_FIELD_MAX 4096   /* one unfolded header field */
#define SCAN_MIME_BOUNDARY_MAX 128 /* RFC 2046 §5.1.1 says 70 */
#define SCAN_MIME_NAME_MAX 256
#define SCAN_MIME_DEPTH_HARD_MAX 16

enum scan_mime_cte {
	SCAN_MIME_CTE_IDENTITY = 0, /* 7bit, 8bit, binary, unknown */
	SCAN_MIME_CTE_BASE64,
	SCAN_MIME_CTE_QP,
};

struct scan_mime_part {
	unsigned depth;
	enum scan_mime_cte cte;
	char type[64];			      /* "text/plain", lower case */
	uint8_t filename[SCAN_MIME_NAME_MAX]; /* from Content-Disposition */
	size_t filename_len;
	uint8_t name[SCAN_MIME_NAME_MAX]; /* from Content-Type */
	size_t name_len;
	char boundary[SCAN_MIME_BOUNDARY_MAX + 1];
};

struct scan_mime_cb {
	void (*header)(void *arg, unsigned depth, const uint8_t *line,
		       size_t len);
	void (*headers_end)(void *arg, unsigned depth);
	void (*part_begin)(void *arg, const struct scan_mime_part *part);
	void (*filename)(void *arg, const uint8_t *name, size_t len);
	void (*body)(void *arg, const uint8_t *data, size_t len);
	void (*part_end)(void *arg);
};

struct scan_mime_stats {
	uint64_t too_deep;   /* nesting cut at depth_max */
	uint64_t long_lines; /* header lines cut at SCAN_MIME_LINE_MAX */
	uint64_t parts;	     /* leaf parts seen */
};

struct scan_mime {
	const struct scan_mime_cb *cb;
	void *arg;
	unsigned depth_max;
	unsigned state; /* private from here on */
	struct scan_mime_part part;
	struct {
		char b[SCAN_MIME_BOUNDARY_MAX + 1];
		size_t len;
		unsigned depth;
	} stack[SCAN_MIME_DEPTH_HARD_MAX];
	unsigned stack_n;
	uint8_t line[SCAN_MIME_LINE_MAX];
	size_t line_len;
	bool line_cut;	/* rest of an over-long line is dropped */
	bool line_cont; /* an over-long body line is being streamed */
	uint8_t field[SCAN_MIME_FIELD_MAX];
	size_t field_len;
	uint8_t eol[2]; /* held-back line end of the last body line */
	size_t eol_len;
	union {
		struct scan_b64 b64;
		struct scan_qp qp;
	} dec;
	struct scan_mime_stats stats;
};

/* depth_max: 1..SCAN_MIME_DEPTH_HARD_MAX (clamped). */
void scan_mime_init(struct scan_mime *m, unsigned depth_max,
		    const struct scan_mime_cb *cb, void *arg);
void scan_mime_feed(struct scan_mime *m, const uint8_t *p, size_t len);
/* End of message: flushes the last line and closes every open part. */
void scan_mime_finish(struct scan_mime *m);

/*
 * Value of parameter `attr` in a header field body such as
 * `attachment; filename="a.exe"` (RFC 2045 §5.1, RFC 2231 §3-4 continuations
 * and charset'lang'%XX values, RFC 2047 encoded words).  Writes at most
 * `size` bytes; returns the length, or -1 if absent.  Exposed for tests.
 */
long scan_mime_param(const uint8_t *v, size_t len, const char *attr,
		     uint8_t *out, size_t size);

#endif
