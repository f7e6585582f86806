/*
 * mgmt_ctl_proto — the control protocol's messages.  (The connection rules
 * — who may connect, how many, pipelining, when the server closes — are at
 * the top of mgmt_ctl.c.)
 *
 * Framing.  A message is one line: UTF-8 JSON text followed by LF (0x0a).
 * A CR (0x0d) immediately before the LF is dropped.  A line is at most
 * MGMT_CTL_LINE_MAX (65536) bytes including the LF; a peer that sends that
 * many bytes without an LF gets a "line_too_long" error and is closed,
 * because the next line boundary can no longer be trusted.  Empty lines
 * (after CR removal) are ignored.  The JSON text must not contain a raw LF,
 * which JSON never needs (strings escape it as \n).
 *
 * Request (client -> server): a JSON object with exactly these members:
 *   "cmd"  string, required: 1-128 bytes of [a-z0-9_-] words separated by
 *          single spaces ("queue list", "reload config").
 *   "args" object, optional (absent or null = {}): named arguments; a
 *          server may put extra positional words in args.argv (see
 *          mgmt_ctl.c, "Dispatch").
 *   "id"   integer, string or null, optional: echoed in the response.
 * Any other member, a duplicate member, invalid UTF-8, or trailing text is
 * a "bad_request" error; the connection stays open (the line ended).
 *
 * Response (server -> client): one JSON object per request, in order:
 *   {"id":ID,"ok":true,"result":VALUE}
 *   {"id":ID,"ok":false,"error":"one line for humans","code":"CODE"}
 * ID is the request's id, or null when it had none or could not be
 * parsed.  CODE is one of bad_request, unknown_command, failed,
 * line_too_long, permission_denied, busy.  The server writes compact JSON
 * (no raw LF inside), so a client may frame responses by LF too; a
 * response may exceed MGMT_CTL_LINE_MAX (clients read it unbounded up to
 * their own limit).
 */
#include "mgmt_ctl_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mgmt_ctl_framer_init(struct mgmt_ctl_framer *f)
{
	f->len = 0;
	f->scanned = 0;
	f->consumed = 0;
}

static void framer_compact(struct mgmt_ctl_framer *f)
{
	if (f->consumed == 0)
		return;
	memmove(f->buf, f->buf + f->consumed, f->len - f->consumed);
	f->len -= f->consumed;
	f->consumed = 0;
	f->scanned = 0;
}

size_t mgmt_ctl_framer_feed(struct mgmt_ctl_framer *f, const void *data,
			    size_t len)
{
	framer_compact(f);
	size_t n = mgmt_ctl_framer_room(f);
	if (n > len)
		n = len;
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return n;
}

int mgmt_ctl_framer_next(struct mgmt_ctl_framer *f, const char **line,
			 size_t *len)
{
	for (;;) {
		framer_compact(f);
		char *lf =
		    memchr(f->buf + f->scanned, '\n', f->len - f->scanned);
		if (lf == NULL) {
			f->scanned = f->len;
			return f->len == sizeof(f->buf) ? -EMSGSIZE : 0;
		}
		size_t n = (size_t)(lf - f->buf);
		f->consumed = n + 1;
		if (n > 0 && f->buf[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		*line = f->buf;
		*len = n;
		return 1;
	}
}

static bool cmd_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MGMT_CTL_CMD_MAX || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == ' ' && s[i + 1] == ' ')
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == ' '))
			return false;
	}
	return true;
}

static int bad(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

int mgmt_ctl_request_parse(const char *line, size_t len,
			   struct mgmt_ctl_request *req, char *err,
			   size_t errlen)
{
	json_error_t je;

	memset(req, 0, sizeof(*req));
	if (memchr(line, '\n', len) != NULL)
		return bad(err, errlen, "raw LF inside a request");
	req->msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (req->msg == NULL) {
		snprintf(err, errlen, "bad JSON at column %d: %s", je.column,
			 je.text);
		return -EINVAL;
	}
	if (!json_is_object(req->msg))
		return bad(err, errlen, "a request must be a JSON object");
	json_t *id = json_object_get(req->msg, "id");
	if (id != NULL &&
	    (json_is_integer(id) || json_is_string(id) || json_is_null(id)))
		req->id = id;
	else if (id != NULL)
		return bad(err, errlen,
			   "\"id\" must be an integer, a string "
			   "or null");
	const char *k;
	json_t *v;
	json_object_foreach(req->msg, k, v)
	{
		if (strcmp(k, "cmd") != 0 && strcmp(k, "args") != 0 &&
		    strcmp(k, "id") != 0) {
			snprintf(err, errlen,
				 "unknown member \"%.64s\" (a "
				 "request has cmd, args and id)",
				 k);
			return -EINVAL;
		}
	}
	json_t *cmd = json_object_get(req->msg, "cmd");
	if (!json_is_string(cmd))
		return bad(err, errlen, "\"cmd\" must be a string");
	req->cmd = json_string_value(cmd);
	if (strlen(req->cmd) != json_string_length(cmd) || !cmd_valid(req->cmd))
		return bad(err, errlen,
			   "\"cmd\" must be 1-128 bytes of "
			   "[a-z0-9_-] words separated by single spaces");
	json_t *args = json_object_get(req->msg, "args");
	if (args == NULL || json_is_null(args)) {
		args = json_object();
		if (args == NULL ||
		    json_object_set_new(req->msg, "args", args) != 0)
			return bad(err, errlen, "out of memory");
	} else if (!json_is_object(args)) {
		return bad(err, errlen, "\"args\" must be an object");
	}
	req->args = args;
	return 0;
}

void mgmt_ctl_request_fini(struct mgmt_ctl_request *req)
{
	json_decref(req->msg);
	memset(req, 0, sizeof(*req));
}

static char *dump_line(json_t *msg, size_t *len)
{
	char *s =
	    msg ? json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	json_decref(msg);
	if (s == NULL)
		return NULL;
	size_t n = strlen(s);
	char *line = realloc(s, n + 2);
	if (line == NULL) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

static json_t *id_copy(const json_t *id)
{
	return id ? json_deep_copy(id) : json_null();
}

char *mgmt_ctl_response_ok(const json_t *id, json_t *result, size_t *len)
{
	if (result == NULL)
		result = json_object();
	json_t *msg = json_pack("{s:o, s:b, s:o}", "id", id_copy(id), "ok", 1,
				"result", result);
	return dump_line(msg, len);
}

char *mgmt_ctl_response_err(const json_t *id, const char *code, const char *msg,
			    size_t *len)
{
	json_t *m = json_pack("{s:o, s:b, s:s, s:s}", "id", id_copy(id), "ok",
			      0, "error", msg, "code", code);
	return dump_line(m, len);
}

char *mgmt_ctl_request_line(const char *cmd, json_t *args, long long id,
			    size_t *len)
{
	if (args == NULL)
		args = json_object();
	json_t *msg = json_pack("{s:s, s:o, s:I}", "cmd", cmd, "args", args,
				"id", (json_int_t)id);
	return dump_line(msg, len);
}
