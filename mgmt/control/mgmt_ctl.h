/*
 * mgmt_ctl — the control socket server: a unix stream socket speaking the
 * line-delimited JSON protocol of mgmt_ctl_proto.h, dispatching each
 * request to a registered command handler.
 *
 * Threading: everything here runs on the management thread.  The server
 * never blocks: mgmt_ctl_fd() is one epoll fd covering the listener and
 * every client; when it is readable, call mgmt_ctl_process(), which
 * accepts, reads, dispatches and writes whatever is ready and returns.
 * Handlers run synchronously inside mgmt_ctl_process(); they must not
 * block for long (answer from state the mgmt thread already has).
 *
 * Ownership: the server owns the socket file (created 0660, group set to
 * `group`), its connections and their buffers; destroy() closes them and
 * unlinks the socket file.  Registered strings are copied.
 *
 * Failure: create() returns NULL with a reason in err (a live daemon
 * already listening on the path, a bad group, bind errors).  Per-client
 * errors close that client and count; they never reach the caller.
 */
#ifndef MGMT_CTL_H
#define MGMT_CTL_H

#include <jansson.h>
#include <stddef.h>

#include "mx_counter.h"

#define MGMT_CTL_COUNTERS(X)                                                   \
	X(ctl_conn_accepted, "control connections accepted")                   \
	X(ctl_conn_denied, "control connections refused: peer not root or "    \
			   "in the control group")                             \
	X(ctl_conn_overflow, "control connections refused: too many open")     \
	X(ctl_requests, "control requests dispatched")                         \
	X(ctl_requests_failed, "control requests answered with an error")      \
	X(ctl_bad_requests, "control request lines that were not valid")       \
	X(ctl_lines_too_long, "control connections closed for an over-long "   \
			      "line")                                          \
	X(ctl_io_errors, "control connections closed on a read/write error")
enum mgmt_ctl_counter { MGMT_CTL_COUNTERS(MX_COUNTER_ENUM) MGMT_CTL_C__COUNT };
MX_COUNTER_SET_DECLARE(mgmt_ctl_counters);

#define MGMT_CTL_CLIENTS_MAX 16
#define MGMT_CTL_OUT_MAX (4u << 20) /* stop reading a client past this */

struct mgmt_ctl;

/*
 * A command handler.  `args` is the request's args object (borrowed).
 * Return 0 and optionally set *result (a new reference; NULL means {}),
 * or -1 with a one-line reason in err (sent as error code "failed").
 */
typedef int (*mgmt_ctl_handler_fn)(void *arg, const json_t *args,
				   json_t **result, char *err, size_t errlen);

/* group: "" or NULL = root and the daemon's own uid only. */
struct mgmt_ctl *mgmt_ctl_create(const char *path, const char *group, char *err,
				 size_t errlen);

/* Readable when there is work for mgmt_ctl_process(). */
int mgmt_ctl_fd(const struct mgmt_ctl *ctl);

void mgmt_ctl_process(struct mgmt_ctl *ctl);

/*
 * Registers `cmd` (words as in the protocol, e.g. "queue list").  Returns
 * 0, -EEXIST if registered already, -EINVAL for a bad name, -ENOMEM.
 */
int mgmt_ctl_register(struct mgmt_ctl *ctl, const char *cmd,
		      mgmt_ctl_handler_fn fn, void *arg, const char *help);

/* Connected clients (tests, status). */
unsigned mgmt_ctl_client_count(const struct mgmt_ctl *ctl);

void mgmt_ctl_destroy(struct mgmt_ctl *ctl);

#endif
