/*
 * test_ctl_server — a real control server (mgmt_ctl) on a temporary
 * socket, run by a thread of this process, driven by raw protocol clients
 * (pipelining, split writes, bad lines, over-long lines, connection limit,
 * a refused uid) and by the real mxgatectl binary (argv[1]): status,
 * stats, metrics, passthrough, unknown command and daemon-not-running
 * exit codes.
 */
#include "mgmt_conf.h"
#include "mgmt_ctl.h"
#include "mgmt_ctl_client.h"
#include "mgmt_ctl_proto.h"
#include "mgmt_metrics.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			failures++;                                            \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

static atomic_bool stop;
static char sock_path[96];
static const char *ctl_bin;

static int status_cmd(void *arg, const json_t *args, json_t **result, char *err,
		      size_t errlen)
{
	*result = json_pack("{s:s, s:{s:i}}", "state", "running", "queue",
			    "messages", 3);
	return 0;
}

static int echo_cmd(void *arg, const json_t *args, json_t **result, char *err,
		    size_t errlen)
{
	*result = json_deep_copy(args);
	return 0;
}

static int fail_cmd(void *arg, const json_t *args, json_t **result, char *err,
		    size_t errlen)
{
	snprintf(err, errlen, "no such message");
	return -1;
}

static struct mgmt_conf conf;

static int big_cmd(void *arg, const json_t *args, json_t **result, char *err,
		   size_t errlen)
{
	static char pad[4097];

	memset(pad, 'x', sizeof(pad) - 1);
	*result = json_pack("{s:s}", "pad", pad);
	return 0;
}

static int config_cmd(void *arg, const json_t *args, json_t **result, char *err,
		      size_t errlen)
{
	*result = mgmt_conf_dump_json(&conf);
	return *result ? 0 : -1;
}

static void *server_main(void *arg)
{
	struct mgmt_ctl *ctl = arg;

	mx_counter_thread_attach();
	while (!atomic_load(&stop)) {
		struct pollfd p = {.fd = mgmt_ctl_fd(ctl), .events = POLLIN};
		if (poll(&p, 1, 20) > 0)
			mgmt_ctl_process(ctl);
	}
	mx_counter_thread_detach();
	return NULL;
}

static int raw_connect(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

/* Reads until `lines` LFs arrived or EOF; returns the bytes (malloc). */
static char *read_lines(int fd, int lines, size_t *out_len)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	int seen = 0;

	while (seen < lines) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			break;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			seen += buf[len + (size_t)i] == '\n';
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (out_len)
		*out_len = len;
	return buf;
}

static bool at_eof(int fd)
{
	char c;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 5000) == 1 && recv(fd, &c, 1, 0) == 0;
}

static void send_str(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void test_pipelined_split(void)
{
	const char *reqs =
	    "{\"cmd\":\"status\",\"id\":1}\n"
	    "{\"cmd\":\"nosuch thing\",\"id\":2}\r\n"
	    "not json\n"
	    "{\"cmd\":\"queue show 1f2e x\",\"args\":{\"argv\":[\"y\"]},"
	    "\"id\":\"s\"}\n"
	    "{\"cmd\":\"queue hold\",\"id\":4}\n";
	const char *want =
	    "{\"id\":1,\"ok\":true,\"result\":{\"state\":\"running\","
	    "\"queue\":{\"messages\":3}}}\n"
	    "{\"id\":2,\"ok\":false,\"error\":\"unknown command: nosuch "
	    "thing\",\"code\":\"unknown_command\"}\n"
	    "{\"id\":null,\"ok\":false,\"error\":\"bad JSON at column 3: "
	    "'[' or '{' expected near 'not'\",\"code\":\"bad_request\"}\n"
	    "{\"id\":\"s\",\"ok\":true,\"result\":{\"argv\":[\"1f2e\",\"x\","
	    "\"y\"]}}\n"
	    "{\"id\":4,\"ok\":false,\"error\":\"no such message\","
	    "\"code\":\"failed\"}\n";
	size_t n = strlen(reqs);

	/* All at once, then split at every byte position. */
	for (size_t split = 0; split < n; split += (split < 40 ? 1 : 7)) {
		int fd = raw_connect();
		send_str(fd, reqs, split);
		usleep(split < 3 ? 2000 : 0);
		send_str(fd, reqs + split, n - split);
		char *got = read_lines(fd, 5, NULL);
		bool same = strcmp(got, want) == 0;
		CHECK(same, "split %zu:\n%s", split, got);
		free(got);
		close(fd);
		if (!same)
			break;
	}
}

#define BIG_REQUESTS 2000 /* all in one 64 KiB read; 8 MB of answers */

struct sender {
	int fd;
	bool half_close;
	char *buf;
	size_t len;
};

static void *sender_main(void *arg)
{
	struct sender *sd = arg;
	size_t off = 0;

	while (off < sd->len) {
		ssize_t n =
		    send(sd->fd, sd->buf + off, sd->len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (sd->half_close)
		shutdown(sd->fd, SHUT_WR);
	return NULL;
}

/* Pipelined requests whose answers (8 MB) exceed MGMT_CTL_OUT_MAX: the
 * server must stop answering while output is full, resume answering the
 * lines it already holds once the client reads (no new input arrives to
 * wake it), keep order, and, after a half-close, answer everything and
 * close. */
static void test_backpressure(bool half_close)
{
	struct sender sd = {.fd = raw_connect(), .half_close = half_close};
	size_t cap = BIG_REQUESTS * 40;

	sd.buf = malloc(cap);
	for (int i = 0; i < BIG_REQUESTS; i++)
		sd.len += (size_t)snprintf(sd.buf + sd.len, cap - sd.len,
					   "{\"cmd\":\"big\",\"id\":%d}\n", i);
	pthread_t t;
	pthread_create(&t, NULL, sender_main, &sd);
	/* Let the server fill its output limit before reading anything. */
	usleep(200000);
	size_t len;
	char *got = read_lines(sd.fd, BIG_REQUESTS, &len);
	pthread_join(t, NULL);
	int lines = 0, in_order = 1;
	for (char *p = got, *lf;
	     (lf = memchr(p, '\n', len - (size_t)(p - got))); p = lf + 1) {
		if (strncmp(p, "{\"id\":", 6) != 0 || atoi(p + 6) != lines)
			in_order = 0;
		lines++;
	}
	CHECK(lines == BIG_REQUESTS && in_order,
	      "backpressure: %d answers, in order %d, %zu bytes", lines,
	      in_order, len);
	if (half_close)
		CHECK(at_eof(sd.fd), "closed after the half-close");
	free(got);
	free(sd.buf);
	close(sd.fd);
}

static void test_too_long(void)
{
	int fd = raw_connect();
	size_t n = MGMT_CTL_LINE_MAX + 100;
	char *big = malloc(n);

	memset(big, ' ', n);
	const char *req = "{\"cmd\":\"status\",\"id\":9}\n";
	send_str(fd, req, strlen(req));
	send_str(fd, big, n);
	char *got = read_lines(fd, 2, NULL);
	CHECK(strstr(got, "{\"id\":9,\"ok\":true") == got &&
		  strstr(got, "\"code\":\"line_too_long\"") != NULL,
	      "too long: %s", got);
	CHECK(at_eof(fd), "closed after an over-long line");
	free(got);
	free(big);
	close(fd);
}

static void test_conn_limit(struct mgmt_ctl *ctl)
{
	int fds[MGMT_CTL_CLIENTS_MAX];

	for (int i = 0; i < MGMT_CTL_CLIENTS_MAX; i++)
		fds[i] = raw_connect();
	for (int i = 0;
	     i < 200 && mgmt_ctl_client_count(ctl) < MGMT_CTL_CLIENTS_MAX; i++)
		usleep(5000);
	int extra = raw_connect();
	char *got = read_lines(extra, 1, NULL);
	CHECK(strstr(got, "\"code\":\"busy\"") != NULL, "busy: %s", got);
	CHECK(at_eof(extra), "busy closes");
	free(got);
	close(extra);
	for (int i = 0; i < MGMT_CTL_CLIENTS_MAX; i++)
		close(fds[i]);
}

/* A peer with another uid and no group is refused (needs root to be that
 * peer: skipped otherwise). */
static void test_denied(void)
{
	if (geteuid() != 0)
		return;
	/* Let the file mode through so SO_PEERCRED is what refuses. */
	chmod(sock_path, 0666);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		int fd = raw_connect();
		char *got = read_lines(fd, 1, NULL);
		_exit(strstr(got, "\"code\":\"permission_denied\"") &&
			      at_eof(fd)
			  ? 0
			  : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	chmod(sock_path, 0660);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "denied: status %d", st);
}

/* With control.group = nogroup, the socket is group-owned by it and a
 * peer whose gid is nogroup is served (root only: skipped otherwise). */
static void test_group(const char *dir)
{
	struct group *gr = getgrnam("nogroup");
	char path[100], err[256];

	if (geteuid() != 0 || gr == NULL)
		return;
	snprintf(path, sizeof(path), "%s/group.sock", dir);
	struct mgmt_ctl *ctl =
	    mgmt_ctl_create(path, "nogroup", err, sizeof(err));
	CHECK(ctl != NULL, "group server: %s", err);
	if (ctl == NULL)
		return;
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_gid == gr->gr_gid &&
		  (st.st_mode & 0777) == 0660,
	      "socket group %d mode %o", (int)st.st_gid, st.st_mode & 0777);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(gr->gr_gid) != 0 || setuid(65534) != 0)
			_exit(3);
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
			_exit(4);
		const char *req = "{\"cmd\":\"help\",\"id\":7}\n";
		send_str(fd, req, strlen(req));
		char *got = read_lines(fd, 1, NULL);
		_exit(strncmp(got, "{\"id\":7,\"ok\":true,", 18) == 0 ? 0 : 1);
	}
	int status = -1;
	for (int i = 0; i < 500; i++) {
		struct pollfd p = {.fd = mgmt_ctl_fd(ctl), .events = POLLIN};
		if (poll(&p, 1, 10) > 0)
			mgmt_ctl_process(ctl);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "group member served: status %d", status);
	mgmt_ctl_destroy(ctl);
	CHECK(mgmt_ctl_create(path, "no-such-group-mx", err, sizeof(err)) ==
		      NULL &&
		  strstr(err, "does not exist") != NULL,
	      "bad group: %s", err);
}

/* Runs mxgatectl with args; returns exit status, output in out/err. */
static int run_ctl(const char *const *args, char **out, char **err)
{
	int po[2], pe[2];

	if (pipe(po) != 0 || pipe(pe) != 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		const char *argv[16] = {ctl_bin};
		int n = 1;
		for (; args[n - 1] != NULL && n < 15; n++)
			argv[n] = args[n - 1];
		argv[n] = NULL;
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(ctl_bin, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	*out = read_lines(po[0], 1 << 30, NULL);
	*err = read_lines(pe[0], 1 << 30, NULL);
	close(po[0]);
	close(pe[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_mxgatectl(void)
{
	char *out, *err;
	int rc;

	rc = run_ctl((const char *[]){"-s", sock_path, "status", NULL}, &out,
		     &err);
	CHECK(rc == 0 &&
		  strcmp(out, "state: running\nqueue.messages: 3\n") == 0,
	      "status rc %d out '%s' err '%s'", rc, out, err);
	free(out);
	free(err);

	rc =
	    run_ctl((const char *[]){"-s", sock_path, "status", "--json", NULL},
		    &out, &err);
	json_t *j = json_loads(out, 0, NULL);
	CHECK(rc == 0 && json_is_object(j) &&
		  json_integer_value(json_object_get(
		      json_object_get(j, "queue"), "messages")) == 3,
	      "status --json: %s", out);
	json_decref(j);
	free(out);
	free(err);

	rc = run_ctl((const char *[]){"-s", sock_path, "stats", NULL}, &out,
		     &err);
	CHECK(rc == 0 && strncmp(out, "NAME ", 5) == 0 &&
		  strstr(out, "ctl_requests ") != NULL &&
		  strstr(out, "control requests dispatched") != NULL,
	      "stats: rc %d %s %s", rc, out, err);
	free(out);
	free(err);

	rc = run_ctl((const char *[]){"-s", sock_path, "metrics", NULL}, &out,
		     &err);
	CHECK(rc == 0 &&
		  strstr(out,
			 "# HELP mxgate_ctl_conn_accepted_total "
			 "control connections accepted\n"
			 "# TYPE mxgate_ctl_conn_accepted_total "
			 "counter\nmxgate_ctl_conn_accepted_total ") != NULL,
	      "metrics: rc %d %s %s", rc, out, err);
	free(out);
	free(err);

	rc = run_ctl((const char *[]){"-s", sock_path, "queue", "list",
				      "--state", "deferred", "--limit", "5",
				      "--all", NULL},
		     &out, &err);
	j = json_loads(out, 0, NULL);
	CHECK(rc == 0 &&
		  strcmp(json_string_value(json_object_get(j, "state")),
			 "deferred") == 0 &&
		  json_integer_value(json_object_get(j, "limit")) == 5 &&
		  json_is_true(json_object_get(j, "all")),
	      "passthrough: rc %d %s %s", rc, out, err);
	json_decref(j);
	free(out);
	free(err);

	rc = run_ctl(
	    (const char *[]){"-s", sock_path, "queue", "show", "1F2E", NULL},
	    &out, &err);
	CHECK(rc == 0 && strstr(out, "\"1F2E\"") != NULL,
	      "positional: rc %d %s %s", rc, out, err);
	free(out);
	free(err);

	rc = run_ctl(
	    (const char *[]){"-s", sock_path, "queue", "hold", "x", NULL}, &out,
	    &err);
	CHECK(rc == 1 && strcmp(err, "mxgatectl: no such message\n") == 0,
	      "failed: rc %d '%s'", rc, err);
	free(out);
	free(err);

	rc = run_ctl((const char *[]){"-s", sock_path, "frobnicate", NULL},
		     &out, &err);
	CHECK(rc == 2 &&
		  strcmp(err, "mxgatectl: unknown command: "
			      "frobnicate\n") == 0 &&
		  out[0] == '\0',
	      "unknown: rc %d '%s'", rc, err);
	free(out);
	free(err);

	rc = run_ctl((const char *[]){"-s", sock_path, "help", NULL}, &out,
		     &err);
	CHECK(rc == 0 && strstr(out, "queue show") != NULL &&
		  strstr(out, "help ") != NULL,
	      "help: %s", out);
	free(out);
	free(err);

	rc = run_ctl((const char *[]){"-s", sock_path, "config", NULL}, &out,
		     &err);
	j = json_loads(out, 0, NULL);
	CHECK(rc == 0 && json_is_object(j) &&
		  strcmp(
		      json_string_value(json_array_get(
			  json_object_get(json_object_get(j, "smtp"), "listen"),
			  0)),
		      "127.0.0.1:2525") == 0,
	      "config: rc %d %s %s", rc, out, err);
	json_decref(j);
	free(out);
	free(err);

	static const struct {
		const char *a[4];
		const char *want;
	} mapped[] = {
	    {{"reload", NULL}, "{\"argv\": [\"config\"]}"},
	    {{"reload", "signatures", NULL}, "{\"argv\": [\"signatures\"]}"},
	    {{"log-level", "debug", NULL}, "{\"level\": \"debug\"}"},
	    {{"log-level", NULL}, "ok"},
	};
	for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++) {
		const char *args[8] = {"-s", sock_path};
		for (int k = 0; mapped[i].a[k] != NULL; k++)
			args[2 + k] = mapped[i].a[k];
		rc = run_ctl(args, &out, &err);
		size_t n = strlen(out);
		if (n > 0 && out[n - 1] == '\n')
			out[n - 1] = '\0';
		for (char *c = out; *c; c++)
			if (*c == '\n')
				*c = ' ';
		char *sp;
		while ((sp = strstr(out, "  ")) != NULL)
			memmove(sp, sp + 1, strlen(sp));
		while ((sp = strstr(out, "[ ")) != NULL)
			memmove(sp + 1, sp + 2, strlen(sp + 1));
		while ((sp = strstr(out, " ]")) != NULL)
			memmove(sp, sp + 1, strlen(sp));
		while ((sp = strstr(out, "{ ")) != NULL)
			memmove(sp + 1, sp + 2, strlen(sp + 1));
		while ((sp = strstr(out, " }")) != NULL)
			memmove(sp, sp + 1, strlen(sp));
		CHECK(rc == 0 && strcmp(out, mapped[i].want) == 0,
		      "%s: rc %d '%s' want '%s' (%s)", mapped[i].a[0], rc, out,
		      mapped[i].want, err);
		free(out);
		free(err);
	}

	char absent[120];
	snprintf(absent, sizeof(absent), "%s.none", sock_path);
	rc =
	    run_ctl((const char *[]){"-s", absent, "status", NULL}, &out, &err);
	char want[300];
	snprintf(want, sizeof(want),
		 "mxgatectl: mxgate is not running "
		 "(nothing listens on %s)\n",
		 absent);
	CHECK(rc == 2 && strcmp(err, want) == 0, "not running: rc %d '%s'", rc,
	      err);
	free(out);
	free(err);

	setenv("MXGATE_SOCKET", sock_path, 1);
	rc = run_ctl((const char *[]){"status", NULL}, &out, &err);
	CHECK(rc == 0, "MXGATE_SOCKET: rc %d %s", rc, err);
	unsetenv("MXGATE_SOCKET");
	free(out);
	free(err);
}

/* `map build` runs without a daemon (dataplane/smtp dp_policy). */
static void test_map_build(const char *dir)
{
	char src[160], dst[160], *out, *err;

	snprintf(src, sizeof(src), "%s/users.txt", dir);
	snprintf(dst, sizeof(dst), "%s/users.lmdb", dir);
	FILE *f = fopen(src, "w");
	fputs("# users\nalice@example.test\nBob@Example.TEST\n", f);
	fclose(f);
	int rc = run_ctl((const char *[]){"-s", "/nonexistent.sock", "map",
					  "build", src, dst, NULL},
			 &out, &err);
	struct stat st;
	CHECK(rc == 0 && stat(dst, &st) == 0 && st.st_size > 0,
	      "map build: rc %d %s", rc, err);
	free(out);
	free(err);
	unlink(dst);
	f = fopen(src, "w");
	fputs("alice@example.test\nno address here\n", f);
	fclose(f);
	rc = run_ctl((const char *[]){"map", "build", src, dst, NULL}, &out,
		     &err);
	CHECK(rc == 1 && strncmp(err, "mxgatectl: map build: ", 22) == 0 &&
		  strstr(err, ":2: ") != NULL,
	      "bad map: rc %d %s", rc, err);
	free(out);
	free(err);
	rc = run_ctl((const char *[]){"map", "build", src, NULL}, &out, &err);
	CHECK(rc == 2, "map usage: rc %d", rc);
	free(out);
	free(err);
	unlink(src);
	unlink(dst);
	snprintf(src, sizeof(src), "%s/users.lmdb-lock", dir);
	unlink(src);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/mx-ctl-test.XXXXXX", err[256];

	if (argc < 2) {
		fprintf(stderr, "usage: test_ctl_server PATH-TO-mxgatectl\n");
		return 2;
	}
	ctl_bin = argv[1];
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0)
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/run/ctl.sock", dir);

	struct mgmt_ctl *ctl = mgmt_ctl_create(sock_path, "", err, sizeof(err));
	CHECK(ctl != NULL, "create: %s", err);
	if (ctl == NULL)
		return 1;
	struct stat st;
	CHECK(stat(sock_path, &st) == 0 && (st.st_mode & 0777) == 0660,
	      "mode %o", st.st_mode & 0777);
	/* A second server on the same path sees the live one. */
	CHECK(mgmt_ctl_create(sock_path, "", err, sizeof(err)) == NULL &&
		  strstr(err, "already listening") != NULL,
	      "second server: %s", err);
	CHECK(mgmt_ctl_register(ctl, "status", status_cmd, NULL, "state") == 0,
	      "register");
	CHECK(mgmt_ctl_register(ctl, "status", status_cmd, NULL, "x") ==
		  -EEXIST,
	      "dup");
	CHECK(mgmt_ctl_register(ctl, "Bad Name", status_cmd, NULL, "x") ==
		  -EINVAL,
	      "bad name");
	mgmt_ctl_register(ctl, "queue show", echo_cmd, NULL, "show one");
	mgmt_ctl_register(ctl, "queue list", echo_cmd, NULL, "list");
	mgmt_ctl_register(ctl, "queue hold", fail_cmd, NULL, "hold");
	CHECK(mgmt_metrics_register(ctl) == 0, "stats");
	mgmt_ctl_register(ctl, "config", config_cmd, NULL, "config");
	mgmt_ctl_register(ctl, "big", big_cmd, NULL, "4 KiB answer");
	mgmt_ctl_register(ctl, "reload", echo_cmd, NULL, "reload");
	mgmt_ctl_register(ctl, "log-level", echo_cmd, NULL, "level");
	const char *ov = "domains.example.test.recipients=catch-all";
	CHECK(mgmt_conf_load(NULL, &ov, 1, &conf, err, sizeof(err)) == 0,
	      "defaults: %s", err);

	pthread_t t;
	pthread_create(&t, NULL, server_main, ctl);
	test_pipelined_split();
	test_too_long();
	test_backpressure(false);
	test_backpressure(true);
	test_conn_limit(ctl);
	test_denied();
	test_mxgatectl();
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	mgmt_ctl_destroy(ctl);
	mgmt_conf_free(&conf);
	CHECK(access(sock_path, F_OK) != 0, "socket unlinked");

	/* A stale socket file (no listener) is replaced. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	CHECK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "stale");
	close(fd);
	ctl = mgmt_ctl_create(sock_path, "", err, sizeof(err));
	CHECK(ctl != NULL, "over stale socket: %s", err);
	mgmt_ctl_destroy(ctl);

	test_map_build(dir);
	test_group(dir);
	char run[160];
	snprintf(run, sizeof(run), "%s/run", dir);
	rmdir(run);
	rmdir(dir);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("test_ctl_server: ok\n");
	return 0;
}
