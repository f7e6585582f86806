/*
 * mgmt_ctl — the control socket server.  Message format: see the top of
 * mgmt_ctl_proto.c.  Connection rules:
 *
 * Socket.  A unix stream socket at control.socket, created mode 0660 and,
 * when control.group is set, group-owned by it.  Missing parent
 * directories are created (0755).  At start-up a path that accepts a
 * connection belongs to a live daemon, so create() refuses; a path that
 * refuses connections is a stale socket and is unlinked; a path that
 * exists but is not a socket is an error.
 *
 * Access.  At accept the peer's credentials are read with SO_PEERCRED:
 * uid 0, the daemon's own effective uid, and (when a group is configured)
 * a peer whose primary gid is that group or whose user is a member of it
 * are served.  Anyone else gets one "permission_denied" response line and
 * is closed.
 *
 * Limits.  At most MGMT_CTL_CLIENTS_MAX (16) connections at once; the
 * next one gets a "busy" response and is closed.  Requests may be
 * pipelined: they are answered strictly in order, each before the next is
 * read.  While a client has more than MGMT_CTL_OUT_MAX bytes of responses
 * unsent, the server stops reading from it (backpressure, no unbounded
 * buffering).  An over-long request line gets "line_too_long" and the
 * connection is closed after the response is flushed.  There is no idle
 * timeout; a connection lasts until the client closes it.
 *
 * Dispatch.  "cmd" is matched against the registered commands, longest
 * prefix of whole words first: with "queue show" registered, the request
 * "queue show 1f2e" runs it with args.argv = ["1f2e"]; extra words go
 * in front of any args.argv the request carries (which must be an array).
 * No match: "unknown_command".  The built-in "help" lists every command.
 */
#include "mgmt_ctl.h"
#include "mgmt_ctl_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mx_log.h"

MX_COUNTER_SET_DEFINE(mgmt_ctl_counters, "control", MGMT_CTL_COUNTERS)

#define CTL_COUNT(name) MX_COUNT(mgmt_ctl_counters, name)

struct ctl_cmd {
	char *name;
	char *help;
	mgmt_ctl_handler_fn fn;
	void *arg;
};

struct ctl_client {
	int fd;
	uid_t uid;
	bool closing; /* close once `out` is flushed */
	bool dead;    /* closed; on mgmt_ctl.dead until freed */
	struct ctl_client *next_dead;
	bool peer_eof; /* the peer shut down its side */
	bool draining; /* our side shut down; discarding input */
	size_t drained;
	bool reading; /* EPOLLIN armed */
	bool writing; /* EPOLLOUT armed */
	char *out;
	size_t out_len, out_off, out_cap;
	struct mgmt_ctl_framer fr;
};

struct mgmt_ctl {
	int epfd;
	int lfd;
	char *path;
	bool has_group;
	gid_t gid;
	char *group;
	struct ctl_cmd *cmds;
	unsigned cmd_count;
	struct ctl_client *clients[MGMT_CTL_CLIENTS_MAX];
	unsigned client_count;
	/* Closed during this mgmt_ctl_process() call; freed at its end so a
	 * later event of the same batch never sees a reused address. */
	struct ctl_client *dead;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int mkdir_parents(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Refuses a path a live daemon listens on; unlinks a stale socket. */
static int claim_path(const char *path, const struct sockaddr_un *sun,
		      char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT
			   ? 0
			   : fail(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return fail(err, errlen, "%s exists and is not a socket", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, errlen, "socket: %s", strerror(errno));
	int rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	int e = errno;
	close(fd);
	if (rc == 0)
		return fail(err, errlen, "a daemon is already listening on %s",
			    path);
	if (e != ECONNREFUSED)
		return fail(err, errlen,
			    "%s: cannot test for a live daemon: "
			    "%s",
			    path, strerror(e));
	if (unlink(path) != 0)
		return fail(err, errlen, "cannot remove stale socket %s: %s",
			    path, strerror(errno));
	return 0;
}

static int help_cmd(void *arg, const json_t *args, json_t **result, char *err,
		    size_t errlen);

static int ep_set(struct mgmt_ctl *ctl, struct ctl_client *c, bool add)
{
	struct epoll_event ev = {
	    .events =
		(c->reading ? EPOLLIN : 0u) | (c->writing ? EPOLLOUT : 0u),
	    .data.ptr = c,
	};
	return epoll_ctl(ctl->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd,
			 &ev);
}

struct mgmt_ctl *mgmt_ctl_create(const char *path, const char *group, char *err,
				 size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct mgmt_ctl *ctl;

	if (path == NULL || path[0] == '\0' ||
	    strlen(path) >= sizeof(sun.sun_path)) {
		fail(err, errlen, "control socket path must be 1-%zu bytes",
		     sizeof(sun.sun_path) - 1);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	ctl->lfd = -1;
	ctl->epfd = -1;
	ctl->path = strdup(path);
	ctl->group = strdup(group ? group : "");
	if (ctl->path == NULL || ctl->group == NULL) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	if (ctl->group[0] != '\0') {
		struct group *gr = getgrnam(ctl->group);
		if (gr == NULL) {
			fail(err, errlen, "control group \"%s\" does not exist",
			     ctl->group);
			goto out;
		}
		ctl->gid = gr->gr_gid;
		ctl->has_group = true;
	}
	int rc = mkdir_parents(path);
	if (rc != 0) {
		fail(err, errlen, "cannot create the directory of %s: %s", path,
		     strerror(-rc));
		goto out;
	}
	if (claim_path(path, &sun, err, errlen) != 0)
		goto out;
	ctl->lfd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->lfd < 0 ||
	    bind(ctl->lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fail(err, errlen, "bind %s: %s", path, strerror(errno));
		goto out;
	}
	if (chmod(path, 0660) != 0 ||
	    (ctl->has_group && chown(path, (uid_t)-1, ctl->gid) != 0)) {
		fail(err, errlen, "set mode/group of %s: %s", path,
		     strerror(errno));
		unlink(path);
		goto out;
	}
	if (listen(ctl->lfd, 16) != 0) {
		fail(err, errlen, "listen %s: %s", path, strerror(errno));
		unlink(path);
		goto out;
	}
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (ctl->epfd < 0 ||
	    epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->lfd, &ev) != 0) {
		fail(err, errlen, "epoll: %s", strerror(errno));
		unlink(path);
		goto out;
	}
	if (mgmt_ctl_register(ctl, "help", help_cmd, ctl,
			      "list the commands this daemon answers") != 0) {
		fail(err, errlen, "out of memory");
		unlink(path);
		goto out;
	}
	return ctl;
out:
	if (ctl->lfd >= 0)
		close(ctl->lfd);
	if (ctl->epfd >= 0)
		close(ctl->epfd);
	free(ctl->cmds);
	free(ctl->path);
	free(ctl->group);
	free(ctl);
	return NULL;
}

int mgmt_ctl_fd(const struct mgmt_ctl *ctl)
{
	return ctl->epfd;
}

unsigned mgmt_ctl_client_count(const struct mgmt_ctl *ctl)
{
	return ctl->client_count;
}

static bool peer_allowed(const struct mgmt_ctl *ctl, const struct ucred *cr)
{
	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	if (!ctl->has_group)
		return false;
	if (cr->gid == ctl->gid)
		return true;
	struct passwd *pw = getpwuid(cr->uid);
	gid_t groups[256];
	int n = (int)(sizeof(groups) / sizeof(groups[0]));
	if (pw == NULL || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == ctl->gid)
			return true;
	return false;
}

/* Best effort: one line to a socket we are about to close. */
static void refuse(int fd, const char *code, const char *msg)
{
	size_t len;
	char *line = mgmt_ctl_response_err(NULL, code, msg, &len);

	if (line != NULL) {
		ssize_t n = send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)n;
		free(line);
	}
	close(fd);
}

static void client_close(struct mgmt_ctl *ctl, struct ctl_client *c)
{
	epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	for (unsigned i = 0; i < ctl->client_count; i++) {
		if (ctl->clients[i] == c) {
			ctl->clients[i] = ctl->clients[--ctl->client_count];
			break;
		}
	}
	free(c->out);
	c->out = NULL;
	c->dead = true;
	c->next_dead = ctl->dead;
	ctl->dead = c;
}

static void reap_dead(struct mgmt_ctl *ctl)
{
	while (ctl->dead != NULL) {
		struct ctl_client *c = ctl->dead;
		ctl->dead = c->next_dead;
		free(c);
	}
}

static void do_accept(struct mgmt_ctl *ctl)
{
	for (;;) {
		int fd =
		    accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				MX_LOG_RL(MX_LOG_WARN, "ctl",
					  "msg=\"accept "
					  "failed\" err=\"%s\"",
					  strerror(errno));
			return;
		}
		struct ucred cr;
		socklen_t len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
		    !peer_allowed(ctl, &cr)) {
			CTL_COUNT(ctl_conn_denied);
			MX_LOG_RL(MX_LOG_WARN, "ctl",
				  "msg=\"connection "
				  "refused\" uid=%d",
				  (int)cr.uid);
			refuse(fd, MGMT_CTL_E_DENIED,
			       "permission denied: "
			       "root or the control group only");
			continue;
		}
		struct ctl_client *c = NULL;
		if (ctl->client_count < MGMT_CTL_CLIENTS_MAX)
			c = malloc(sizeof(*c));
		if (c == NULL) {
			CTL_COUNT(ctl_conn_overflow);
			refuse(fd, MGMT_CTL_E_BUSY,
			       "too many control "
			       "connections");
			continue;
		}
		memset(c, 0, offsetof(struct ctl_client, fr));
		mgmt_ctl_framer_init(&c->fr);
		c->fd = fd;
		c->uid = cr.uid;
		c->reading = true;
		if (ep_set(ctl, c, true) != 0) {
			CTL_COUNT(ctl_io_errors);
			close(fd);
			free(c);
			continue;
		}
		ctl->clients[ctl->client_count++] = c;
		CTL_COUNT(ctl_conn_accepted);
	}
}

static bool out_append(struct ctl_client *c, char *line, size_t len)
{
	if (line == NULL)
		return false;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		char *n = realloc(c->out, cap);
		if (n == NULL) {
			free(line);
			return false;
		}
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
	free(line);
	return true;
}

static const struct ctl_cmd *cmd_find(const struct mgmt_ctl *ctl,
				      const char *name, size_t len)
{
	for (unsigned i = 0; i < ctl->cmd_count; i++)
		if (strlen(ctl->cmds[i].name) == len &&
		    memcmp(ctl->cmds[i].name, name, len) == 0)
			return &ctl->cmds[i];
	return NULL;
}

static int help_cmd(void *arg, const json_t *args, json_t **result, char *err,
		    size_t errlen)
{
	const struct mgmt_ctl *ctl = arg;
	json_t *list = json_array();

	for (unsigned i = 0; list && i < ctl->cmd_count; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "cmd",
						      ctl->cmds[i].name, "help",
						      ctl->cmds[i].help));
	*result = json_pack("{s:o}", "commands", list);
	return *result ? 0 : fail(err, errlen, "out of memory");
}

/* Runs one request line; appends exactly one response. */
static char *dispatch(struct mgmt_ctl *ctl, const char *line, size_t len,
		      size_t *out_len)
{
	struct mgmt_ctl_request req;
	char err[512];
	char *resp;

	if (mgmt_ctl_request_parse(line, len, &req, err, sizeof(err)) != 0) {
		CTL_COUNT(ctl_bad_requests);
		resp = mgmt_ctl_response_err(req.id, MGMT_CTL_E_BAD_REQUEST,
					     err, out_len);
		mgmt_ctl_request_fini(&req);
		return resp;
	}
	CTL_COUNT(ctl_requests);
	const struct ctl_cmd *cmd = NULL;
	size_t n = strlen(req.cmd);
	while (cmd == NULL) {
		cmd = cmd_find(ctl, req.cmd, n);
		if (cmd != NULL)
			break;
		const char *sp = memrchr(req.cmd, ' ', n);
		if (sp == NULL)
			break;
		n = (size_t)(sp - req.cmd);
	}
	if (cmd == NULL) {
		CTL_COUNT(ctl_requests_failed);
		snprintf(err, sizeof(err), "unknown command: %s", req.cmd);
		resp = mgmt_ctl_response_err(req.id, MGMT_CTL_E_UNKNOWN, err,
					     out_len);
		mgmt_ctl_request_fini(&req);
		return resp;
	}
	if (req.cmd[n] != '\0') {
		json_t *argv = json_object_get(req.args, "argv");
		if (argv != NULL && !json_is_array(argv)) {
			CTL_COUNT(ctl_requests_failed);
			resp = mgmt_ctl_response_err(
			    req.id, MGMT_CTL_E_BAD_REQUEST,
			    "args.argv must be an array", out_len);
			mgmt_ctl_request_fini(&req);
			return resp;
		}
		json_t *words = json_array();
		const char *w = req.cmd + n + 1;
		while (words != NULL && *w != '\0') {
			const char *sp = strchr(w, ' ');
			size_t wl = sp ? (size_t)(sp - w) : strlen(w);
			json_array_append_new(words, json_stringn(w, wl));
			w += wl + (sp != NULL);
		}
		if (argv != NULL)
			json_array_extend(words, argv);
		json_object_set_new(req.args, "argv", words);
	}
	json_t *result = NULL;
	err[0] = '\0';
	if (cmd->fn(cmd->arg, req.args, &result, err, sizeof(err)) != 0) {
		CTL_COUNT(ctl_requests_failed);
		json_decref(result);
		resp = mgmt_ctl_response_err(req.id, MGMT_CTL_E_FAILED,
					     err[0] ? err : "command failed",
					     out_len);
	} else {
		resp = mgmt_ctl_response_ok(req.id, result, out_len);
	}
	if (resp == NULL)
		resp =
		    mgmt_ctl_response_err(req.id, MGMT_CTL_E_FAILED,
					  "cannot encode the result", out_len);
	mgmt_ctl_request_fini(&req);
	return resp;
}

/* Sends what is buffered.  false: the client was closed (send error). */
static bool client_flush(struct mgmt_ctl *ctl, struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n =
		    send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			CTL_COUNT(ctl_io_errors);
			client_close(ctl, c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = 0;
		c->out_len = 0;
	} else if (c->out_off >= c->out_cap / 2) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	return true;
}

#define CTL_DRAIN_MAX (1u << 20)

/* Discards input after our side shut down.  false: the client was
 * closed (peer EOF, error, or it kept sending). */
static bool client_drain(struct mgmt_ctl *ctl, struct ctl_client *c)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		c->drained += n > 0 ? (size_t)n : 0;
		if (n <= 0 || c->drained > CTL_DRAIN_MAX) {
			client_close(ctl, c);
			return false;
		}
	}
}

/*
 * Answers the complete lines already buffered while the output is below
 * its limit.  Returns 1 if it produced output, 0 if there was no complete
 * line, -1 if the client was closed.
 */
static int client_lines(struct mgmt_ctl *ctl, struct ctl_client *c)
{
	const char *line;
	size_t len, rlen;
	int rc = 0, produced = 0;

	while (c->out_len < MGMT_CTL_OUT_MAX &&
	       (rc = mgmt_ctl_framer_next(&c->fr, &line, &len)) == 1) {
		char *resp = dispatch(ctl, line, len, &rlen);
		if (!out_append(c, resp, rlen)) {
			CTL_COUNT(ctl_io_errors);
			client_close(ctl, c);
			return -1;
		}
		produced = 1;
	}
	if (rc < 0) {
		char msg[80];
		CTL_COUNT(ctl_lines_too_long);
		snprintf(msg, sizeof(msg),
			 "request line too long (max %d bytes)",
			 MGMT_CTL_LINE_MAX);
		char *resp = mgmt_ctl_response_err(NULL, MGMT_CTL_E_TOO_LONG,
						   msg, &rlen);
		if (!out_append(c, resp, rlen)) {
			client_close(ctl, c);
			return -1;
		}
		c->closing = true;
		produced = 1;
	}
	return produced;
}

/*
 * Does all the work a client allows without blocking: flush output,
 * answer buffered lines (stopping while MGMT_CTL_OUT_MAX bytes are
 * unsent), read more input, and close when done.  Then arms epoll for
 * what is left: EPOLLOUT while output is pending, EPOLLIN while more input
 * may be taken.
 */
static void client_service(struct mgmt_ctl *ctl, struct ctl_client *c)
{
	for (;;) {
		if (!client_flush(ctl, c))
			return;
		if (c->out_len >= MGMT_CTL_OUT_MAX)
			break;
		if (c->closing) {
			if (c->out_len > 0)
				break;
			if (c->peer_eof) {
				client_close(ctl, c);
				return;
			}
			/* Closing with unread input makes the kernel reset
			 * the connection and the peer may lose our last
			 * response: shut our side, discard input until EOF. */
			if (!c->draining) {
				shutdown(c->fd, SHUT_WR);
				c->draining = true;
			}
			if (!client_drain(ctl, c))
				return;
			break;
		}
		int rc = client_lines(ctl, c);
		if (rc < 0)
			return;
		if (rc > 0)
			continue;
		ssize_t n = recv(c->fd, c->fr.buf + c->fr.len,
				 mgmt_ctl_framer_room(&c->fr), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EOF (or reset): answer what we have, then close. */
			if (n < 0)
				CTL_COUNT(ctl_io_errors);
			c->closing = true;
			c->peer_eof = true;
			continue;
		}
		c->fr.len += (size_t)n;
	}
	bool want_write = c->out_len > 0;
	bool want_read =
	    c->draining || (!c->closing && c->out_len < MGMT_CTL_OUT_MAX);
	if (want_write != c->writing || want_read != c->reading) {
		c->writing = want_write;
		c->reading = want_read;
		if (ep_set(ctl, c, false) != 0) {
			CTL_COUNT(ctl_io_errors);
			client_close(ctl, c);
		}
	}
}

void mgmt_ctl_process(struct mgmt_ctl *ctl)
{
	struct epoll_event evs[MGMT_CTL_CLIENTS_MAX + 1];
	int n = epoll_wait(ctl->epfd, evs, MGMT_CTL_CLIENTS_MAX + 1, 0);

	for (int i = 0; i < n; i++) {
		struct ctl_client *c = evs[i].data.ptr;
		if (c == NULL) {
			do_accept(ctl);
			continue;
		}
		/* A client closed earlier in this batch stays allocated (and
		 * marked) until the batch is done. */
		if (!c->dead)
			client_service(ctl, c);
	}
	reap_dead(ctl);
}

int mgmt_ctl_register(struct mgmt_ctl *ctl, const char *cmd,
		      mgmt_ctl_handler_fn fn, void *arg, const char *help)
{
	struct mgmt_ctl_request probe;
	char line[MGMT_CTL_CMD_MAX + 64], err[128];

	if (cmd == NULL || fn == NULL || strlen(cmd) > MGMT_CTL_CMD_MAX)
		return -EINVAL;
	/* The same rules as on the wire, so every command is reachable. */
	snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}", cmd);
	int rc = mgmt_ctl_request_parse(line, strlen(line), &probe, err,
					sizeof(err));
	mgmt_ctl_request_fini(&probe);
	if (rc != 0)
		return -EINVAL;
	if (cmd_find(ctl, cmd, strlen(cmd)) != NULL)
		return -EEXIST;
	struct ctl_cmd *n =
	    realloc(ctl->cmds, (ctl->cmd_count + 1) * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	ctl->cmds = n;
	struct ctl_cmd *c = &ctl->cmds[ctl->cmd_count];
	c->name = strdup(cmd);
	c->help = strdup(help ? help : "");
	if (c->name == NULL || c->help == NULL) {
		free(c->name);
		free(c->help);
		return -ENOMEM;
	}
	c->fn = fn;
	c->arg = arg;
	ctl->cmd_count++;
	return 0;
}

void mgmt_ctl_destroy(struct mgmt_ctl *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->client_count > 0)
		client_close(ctl, ctl->clients[0]);
	reap_dead(ctl);
	close(ctl->lfd);
	close(ctl->epfd);
	unlink(ctl->path);
	for (unsigned i = 0; i < ctl->cmd_count; i++) {
		free(ctl->cmds[i].name);
		free(ctl->cmds[i].help);
	}
	free(ctl->cmds);
	free(ctl->path);
	free(ctl->group);
	free(ctl);
}
