/*
 * mgmt_ctl_client — the client side of the control protocol: connect to
 * the daemon's socket and make blocking request/response calls.  Used by
 * mxgatectl and by tests; never by the daemon.
 *
 * Threading: one connection per thread.  Failure: -1 with a one-line
 * reason in err; mgmt_ctl_client_connect() reports -2 when no daemon is
 * there (ENOENT or ECONNREFUSED), so callers can say "not running".
 */
#ifndef MGMT_CTL_CLIENT_H
#define MGMT_CTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#define MGMT_CTL_CLIENT_RESPONSE_MAX (64u << 20)

/* Returns a connected fd, -2 if no daemon listens at path, -1 otherwise. */
int mgmt_ctl_client_connect(const char *path, char *err, size_t errlen);

/*
 * Sends {"cmd":cmd,"args":args,"id":N} (args stolen, NULL = {}) and waits
 * up to timeout_ms for the response line, parsed into *response (new
 * reference: the whole {"id","ok",...} object).  0 or -1 with err.
 */
int mgmt_ctl_client_call(int fd, const char *cmd, json_t *args, int timeout_ms,
			 json_t **response, char *err, size_t errlen);

#endif
