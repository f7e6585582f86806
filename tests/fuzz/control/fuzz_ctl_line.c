/*
 * fuzz_ctl_line — libFuzzer target for the control protocol: the input is
 * fed to the line framer in chunks (sizes taken from the first byte), and
 * every line goes through the request parser and the response builders.
 * Checks: framing never hands out a line with an LF in it, a parsed
 * request has a valid cmd and an args object, and every response is one
 * LF-terminated line of valid JSON that carries the request's id.
 */
#include "mgmt_ctl_proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct mgmt_ctl_framer framer;

static void check_response(char *resp, size_t len)
{
	if (resp == NULL)
		return;
	if (len == 0 || resp[len - 1] != '\n' ||
	    memchr(resp, '\n', len - 1) != NULL)
		abort();
	json_t *j = json_loadb(resp, len - 1, 0, NULL);
	if (!json_is_object(j) || json_object_get(j, "ok") == NULL)
		abort();
	json_decref(j);
	free(resp);
}

static void one_line(const char *line, size_t len)
{
	struct mgmt_ctl_request req;
	char err[256];
	size_t rlen;

	if (memchr(line, '\n', len) != NULL)
		abort();
	int rc = mgmt_ctl_request_parse(line, len, &req, err, sizeof(err));
	if (rc == 0) {
		size_t n = strlen(req.cmd);
		if (n == 0 || n > MGMT_CTL_CMD_MAX || !json_is_object(req.args))
			abort();
		check_response(mgmt_ctl_response_ok(
				   req.id, json_deep_copy(req.args), &rlen),
			       rlen);
	} else {
		if (rc != -EINVAL || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		check_response(mgmt_ctl_response_err(
				   req.id, MGMT_CTL_E_BAD_REQUEST, err, &rlen),
			       rlen);
	}
	mgmt_ctl_request_fini(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	data++;
	size--;
	mgmt_ctl_framer_init(&framer);
	while (size > 0) {
		size_t take = size < chunk ? size : chunk;
		size_t took = mgmt_ctl_framer_feed(&framer, data, take);
		data += took;
		size -= took;
		const char *line;
		size_t len;
		int rc;
		while ((rc = mgmt_ctl_framer_next(&framer, &line, &len)) == 1)
			one_line(line, len);
		if (rc == -EMSGSIZE)
			mgmt_ctl_framer_init(&framer);
		else if (took == 0)
			abort();
	}
	return 0;
}
