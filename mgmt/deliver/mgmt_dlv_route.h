/*
 * mgmt_dlv_route — the syntax of a delivery route (the next hop for a
 * recipient domain), parsed and validated.
 *
 *   smtp:[host]:port      SMTP to a host (IP literal or name), port 1-65535,
 *                         ":port" optional (25)
 *   lmtp:[host]:port      LMTP over TCP, ":port" optional (24)
 *   lmtp:unix:/path       LMTP over a unix socket (absolute path, < 108 bytes)
 *   maildir:/path         local Maildir tree <path>/<domain>/<user>/
 *   discard               accept and drop
 *
 * Self-contained (libc only, no allocation, no I/O, no DNS) so the config
 * validator can compile this file on its own.  Any thread may call; the
 * functions keep no state.
 */
#ifndef MGMT_DLV_ROUTE_H
#define MGMT_DLV_ROUTE_H

#include <stddef.h>
#include <stdint.h>

enum mgmt_dlv_route_kind {
	MGMT_DLV_ROUTE_SMTP = 1,
	MGMT_DLV_ROUTE_LMTP_TCP,
	MGMT_DLV_ROUTE_LMTP_UNIX,
	MGMT_DLV_ROUTE_MAILDIR,
	MGMT_DLV_ROUTE_DISCARD,
};

#define MGMT_DLV_ROUTE_HOST_SIZE 256 /* RFC 1035 §2.3.4: names <= 253 */
#define MGMT_DLV_ROUTE_PATH_SIZE 4096

struct mgmt_dlv_route {
	enum mgmt_dlv_route_kind kind;
	uint16_t port;			     /* SMTP, LMTP_TCP */
	char host[MGMT_DLV_ROUTE_HOST_SIZE]; /* without brackets */
	char path[MGMT_DLV_ROUTE_PATH_SIZE]; /* LMTP_UNIX, MAILDIR */
};

/*
 * Parses `text` into *route.  Returns 0, or -EINVAL with a one-line reason
 * in err (always NUL-terminated when err_size > 0); *route is then
 * undefined.
 */
int mgmt_dlv_route_parse(const char *text, struct mgmt_dlv_route *route,
			 char *err, size_t err_size);

/*
 * The canonical spelling of a parsed route ("smtp:[10.0.0.1]:25"), used as
 * the destination's name.  Returns the length, or -ENOBUFS if size is too
 * small (MGMT_DLV_ROUTE_PATH_SIZE + 16 always fits).
 */
int mgmt_dlv_route_format(const struct mgmt_dlv_route *route, char *buf,
			  size_t size);

const char *mgmt_dlv_route_kind_name(enum mgmt_dlv_route_kind kind);

#endif
