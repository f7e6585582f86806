/*
 * mgmt_ctl_proto — the control protocol's framing and messages, without
 * any I/O: a line framer with a hard length limit, the request parser and
 * the response builders.  The byte-level spec is at the top of
 * mgmt_ctl_proto.c and in docs/control-protocol.md.
 *
 * Shared by the server (mgmt_ctl.c), the client (mgmt_ctl_client.c) and
 * the fuzz target.  No shared state: any thread, one framer per
 * connection.  Allocation failures surface as -ENOMEM.
 */
#ifndef MGMT_CTL_PROTO_H
#define MGMT_CTL_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MGMT_CTL_LINE_MAX 65536 /* bytes, including the LF */
#define MGMT_CTL_CMD_MAX 128	/* bytes of "cmd" */

/* Machine-readable error codes carried in a failed response's "code". */
#define MGMT_CTL_E_BAD_REQUEST "bad_request"
#define MGMT_CTL_E_UNKNOWN "unknown_command"
#define MGMT_CTL_E_FAILED "failed"
#define MGMT_CTL_E_TOO_LONG "line_too_long"
#define MGMT_CTL_E_DENIED "permission_denied"
#define MGMT_CTL_E_BUSY "busy"

/*
 * Framer: bytes in, complete lines out.  Caller-provided storage of
 * MGMT_CTL_LINE_MAX bytes avoids a second copy.
 */
struct mgmt_ctl_framer {
	char buf[MGMT_CTL_LINE_MAX];
	size_t len;	 /* bytes buffered */
	size_t scanned;	 /* bytes of buf already searched for LF */
	size_t consumed; /* bytes of the line handed out last */
};

void mgmt_ctl_framer_init(struct mgmt_ctl_framer *f);

/* Room for the next read, at buf + len: fill it, then framer_added(). */
static inline size_t mgmt_ctl_framer_room(const struct mgmt_ctl_framer *f)
{
	return sizeof(f->buf) - f->len;
}

/* Copies as much of data as fits; returns the number of bytes taken. */
size_t mgmt_ctl_framer_feed(struct mgmt_ctl_framer *f, const void *data,
			    size_t len);

/*
 * The next complete line (without LF, and without a CR before it).
 * Returns 1 with *line and *len set (valid until the next framer call), 0 if
 * more bytes are needed, -EMSGSIZE if MGMT_CTL_LINE_MAX bytes hold no LF
 * (the connection must be closed: the line boundary is lost).
 */
int mgmt_ctl_framer_next(struct mgmt_ctl_framer *f, const char **line,
			 size_t *len);

struct mgmt_ctl_request {
	json_t *msg;	 /* the whole request (owned) */
	const char *cmd; /* borrowed from msg */
	json_t *args;	 /* object, borrowed from msg (or an empty one) */
	json_t *id;	 /* borrowed, NULL if absent */
};

/*
 * Parses one line.  Returns 0, or -EINVAL with a reason in err; then
 * req->id may still hold the id if the line was a JSON object with one,
 * so the error response can carry it.  Always call request_fini().
 */
int mgmt_ctl_request_parse(const char *line, size_t len,
			   struct mgmt_ctl_request *req, char *err,
			   size_t errlen);
void mgmt_ctl_request_fini(struct mgmt_ctl_request *req);

/*
 * Response lines, newline-terminated, malloc'ed (free()); NULL on ENOMEM.
 * `result` is stolen (may be NULL: {} is sent).  `id` is borrowed (NULL:
 * null).
 */
char *mgmt_ctl_response_ok(const json_t *id, json_t *result, size_t *len);
char *mgmt_ctl_response_err(const json_t *id, const char *code, const char *msg,
			    size_t *len);

/* A request line for a client; args stolen (NULL: none). */
char *mgmt_ctl_request_line(const char *cmd, json_t *args, long long id,
			    size_t *len);

#endif
