/*
 * fuzz_dlv_reply — libFuzzer target for the delivery client's parsers.
 * The input goes to the SMTP reply parser in chunks whose sizes come from
 * the first byte, and as a string to the route parser and the xtext
 * decoder.  Checks: the parser never consumes more than it was given,
 * reports codes in 200..599 with NUL-terminated text inside its buffer,
 * and a route that parses prints a canonical form that parses to the same
 * route.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt_dlv_dsn.h"
#include "mgmt_dlv_reply.h"
#include "mgmt_dlv_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mgmt_dlv_reply_parser parser;

static void fuzz_reply(const uint8_t *data, size_t size)
{
	size_t chunk = size ? (size_t)(data[0] % 17) + 1 : 1;
	struct mgmt_dlv_reply r;
	char line[256];

	mgmt_dlv_reply_init(&parser);
	for (size_t off = size ? 1 : 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t used = 0;
		int rc =
		    mgmt_dlv_reply_parse(&parser, data + off, n, &used, &r);

		if (used > n || (rc == 0 && used != n))
			abort();
		if (rc == 1) {
			if (r.code < 200 || r.code > 599 ||
			    r.text_len >= sizeof(r.text) ||
			    r.text[r.text_len] != '\0' ||
			    strlen(r.enh) >= sizeof(r.enh))
				abort();
			if (mgmt_dlv_reply_format(&r, line, sizeof(line)) >=
			    sizeof(line))
				abort();
		}
		if (rc < 0)
			mgmt_dlv_reply_init(&parser);
		off += used ? used : n;
	}
}

static void fuzz_route(const uint8_t *data, size_t size)
{
	static struct mgmt_dlv_route r, again;
	char text[512], canon[MGMT_DLV_ROUTE_PATH_SIZE + 32], err[256];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

	memcpy(text, data, n);
	text[n] = '\0';
	if (mgmt_dlv_route_parse(text, &r, err, sizeof(err)) == 0) {
		if (mgmt_dlv_route_format(&r, canon, sizeof(canon)) <= 0)
			abort();
		if (mgmt_dlv_route_parse(canon, &again, err, sizeof(err)) !=
			0 ||
		    memcmp(&r, &again, sizeof(r)) != 0)
			abort();
	}
	char dec[64];
	int len = mgmt_dlv_xtext_decode(text, dec, sizeof(dec));
	if (len >= (int)sizeof(dec) ||
	    (len >= 0 && strlen(dec) != (size_t)len &&
	     memchr(dec, 0, (size_t)len) == NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reply(data, size);
	fuzz_route(data, size);
	return 0;
}
