/*
 * mgmt_ctl_client — blocking control-protocol client (for mxgatectl and
 * tests): connect, write one request line, read one response line.
 */
#include "mgmt_ctl_client.h"
#include "mgmt_ctl_proto.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int mgmt_ctl_client_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED) {
			snprintf(err, errlen,
				 "mxgate is not running (nothing "
				 "listens on %s)",
				 path);
			return -2;
		}
		snprintf(err, errlen, "cannot connect to %s: %s", path,
			 strerror(e));
		return -1;
	}
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int mgmt_ctl_client_call(int fd, const char *cmd, json_t *args, int timeout_ms,
			 json_t **response, char *err, size_t errlen)
{
	static long long next_id = 1;
	size_t len;
	char *line = mgmt_ctl_request_line(cmd, args, next_id++, &len);

	*response = NULL;
	if (line == NULL) {
		snprintf(err, errlen, "cannot encode the request");
		return -1;
	}
	int rc = send_all(fd, line, len);
	free(line);
	if (rc != 0) {
		snprintf(err, errlen, "send: %s", strerror(-rc));
		return -1;
	}
	char *buf = NULL;
	size_t used = 0, cap = 0;
	long long deadline = now_ms() + timeout_ms;
	char *lf = NULL;
	while (lf == NULL) {
		long long left = deadline - now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			snprintf(err, errlen, "no answer within %d ms",
				 timeout_ms);
			free(buf);
			return -1;
		}
		if (used + 65536 > cap) {
			if (cap >= MGMT_CTL_CLIENT_RESPONSE_MAX) {
				snprintf(err, errlen, "response too large");
				free(buf);
				return -1;
			}
			cap = cap ? cap * 2 : 65536 * 2;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				snprintf(err, errlen, "out of memory");
				free(buf);
				return -1;
			}
			buf = nb;
		}
		ssize_t n = recv(fd, buf + used, cap - used, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "connection closed by mxgate%s%s",
				 n < 0 ? ": " : "",
				 n < 0 ? strerror(errno) : "");
			free(buf);
			return -1;
		}
		lf = memchr(buf + used, '\n', (size_t)n);
		used += (size_t)n;
	}
	json_error_t je;
	*response = json_loadb(buf, (size_t)(lf - buf), 0, &je);
	free(buf);
	if (!json_is_object(*response)) {
		json_decref(*response);
		*response = NULL;
		snprintf(err, errlen, "bad response from mxgate: %s", je.text);
		return -1;
	}
	return 0;
}
