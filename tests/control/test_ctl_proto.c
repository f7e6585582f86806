/*
 * test_ctl_proto — the control protocol without sockets: the line framer
 * (every input also fed split at every byte), over-long lines, the request
 * parser's table of good and bad lines, the response builders, and the
 * Prometheus renderer.
 */
#include "mgmt_ctl_proto.h"
#include "mgmt_metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct frame_case {
	const char *in;
	const char *lines[4]; /* expected, in order */
	const char *rest;     /* bytes left without LF */
};

static const struct frame_case frame_cases[] = {
    {"{\"cmd\":\"a\"}\n", {"{\"cmd\":\"a\"}"}, ""},
    {"a\r\nb\n", {"a", "b"}, ""},
    {"\n\r\n\nx\n", {"x"}, ""},
    {"one\ntwo", {"one"}, "two"},
    {"a\rb\n", {"a\rb"}, ""},
    {"", {NULL}, ""},
};

/* Feeds `in` in pieces of at most `chunk` bytes, collecting lines. */
static void frame_run(const struct frame_case *c, size_t chunk)
{
	static struct mgmt_ctl_framer f;
	size_t n = strlen(c->in), off = 0, got = 0;

	mgmt_ctl_framer_init(&f);
	while (off < n) {
		size_t take = n - off < chunk ? n - off : chunk;
		CHECK(mgmt_ctl_framer_feed(&f, c->in + off, take) == take,
		      "feed");
		off += take;
		const char *line;
		size_t len;
		int rc;
		while ((rc = mgmt_ctl_framer_next(&f, &line, &len)) == 1) {
			CHECK(got < 4 && c->lines[got] != NULL &&
				  len == strlen(c->lines[got]) &&
				  memcmp(line, c->lines[got], len) == 0,
			      "input %s chunk %zu: line %zu '%.*s'", c->in,
			      chunk, got, (int)len, line);
			got++;
		}
		CHECK(rc == 0, "rc %d", rc);
	}
	size_t want = 0;
	while (want < 4 && c->lines[want] != NULL)
		want++;
	CHECK(got == want, "input %s chunk %zu: %zu lines, want %zu", c->in,
	      chunk, got, want);
	const char *line;
	size_t len;
	CHECK(mgmt_ctl_framer_next(&f, &line, &len) == 0, "drained");
	CHECK(f.len == strlen(c->rest) && memcmp(f.buf, c->rest, f.len) == 0,
	      "rest");
}

static void test_framer(void)
{
	for (size_t i = 0; i < sizeof(frame_cases) / sizeof(frame_cases[0]);
	     i++) {
		size_t n = strlen(frame_cases[i].in);
		for (size_t chunk = 1; chunk <= n + 1; chunk++)
			frame_run(&frame_cases[i], chunk);
	}
}

static void test_long_lines(void)
{
	static struct mgmt_ctl_framer f;
	static char big[MGMT_CTL_LINE_MAX + 10];
	const char *line;
	size_t len;

	/* The longest legal line: MGMT_CTL_LINE_MAX bytes including LF. */
	mgmt_ctl_framer_init(&f);
	memset(big, 'a', MGMT_CTL_LINE_MAX - 1);
	big[MGMT_CTL_LINE_MAX - 1] = '\n';
	CHECK(mgmt_ctl_framer_feed(&f, big, MGMT_CTL_LINE_MAX) ==
		  MGMT_CTL_LINE_MAX,
	      "fits");
	CHECK(mgmt_ctl_framer_next(&f, &line, &len) == 1 &&
		  len == MGMT_CTL_LINE_MAX - 1,
	      "max line");

	/* One more byte: no LF within the limit. */
	mgmt_ctl_framer_init(&f);
	memset(big, 'a', sizeof(big));
	size_t took = mgmt_ctl_framer_feed(&f, big, sizeof(big));
	CHECK(took == MGMT_CTL_LINE_MAX, "feed stops at the limit: %zu", took);
	CHECK(mgmt_ctl_framer_next(&f, &line, &len) == -EMSGSIZE, "too long");

	/* Fed a byte at a time, the verdict is the same. */
	mgmt_ctl_framer_init(&f);
	int rc = 0;
	for (size_t i = 0; i < sizeof(big) && rc == 0; i++) {
		if (mgmt_ctl_framer_feed(&f, "b", 1) != 1)
			break;
		rc = mgmt_ctl_framer_next(&f, &line, &len);
	}
	CHECK(rc == -EMSGSIZE, "byte-wise too long: %d", rc);
}

struct req_case {
	const char *line;
	int rc;
	const char *cmd; /* rc == 0 */
	const char *err; /* rc != 0: prefix of the error */
};

static const struct req_case req_cases[] = {
    {"{\"cmd\":\"status\"}", 0, "status", NULL},
    {"{\"cmd\":\"queue list\",\"args\":{\"state\":\"deferred\"},\"id\":1}", 0,
     "queue list", NULL},
    {"{\"cmd\":\"help\",\"args\":null,\"id\":null}", 0, "help", NULL},
    {"{\"id\":\"x\",\"cmd\":\"a-b_c 9\"}", 0, "a-b_c 9", NULL},
    {"{\"cmd\":\"status\"", -EINVAL, NULL, "bad JSON"},
    {"not json", -EINVAL, NULL, "bad JSON"},
    {"{\"cmd\":\"a\"} trailing", -EINVAL, NULL, "bad JSON"},
    {"[\"status\"]", -EINVAL, NULL, "a request must be a JSON object"},
    {"{\"args\":{}}", -EINVAL, NULL, "\"cmd\" must be a string"},
    {"{\"cmd\":7}", -EINVAL, NULL, "\"cmd\" must be a string"},
    {"{\"cmd\":\"\"}", -EINVAL, NULL, "\"cmd\" must be 1-128"},
    {"{\"cmd\":\"Status\"}", -EINVAL, NULL, "\"cmd\" must be 1-128"},
    {"{\"cmd\":\"a  b\"}", -EINVAL, NULL, "\"cmd\" must be 1-128"},
    {"{\"cmd\":\" a\"}", -EINVAL, NULL, "\"cmd\" must be 1-128"},
    {"{\"cmd\":\"a\\u0000b\"}", -EINVAL, NULL, "bad JSON"},
    {"{\"cmd\":\"a\",\"args\":[]}", -EINVAL, NULL,
     "\"args\" must be an object"},
    {"{\"cmd\":\"a\",\"id\":[1]}", -EINVAL, NULL, "\"id\" must be"},
    {"{\"cmd\":\"a\",\"extra\":1}", -EINVAL, NULL, "unknown member"},
    {"{\"cmd\":\"a\",\"cmd\":\"b\"}", -EINVAL, NULL, "bad JSON"},
    {"{\"cmd\":\"\xff\"}", -EINVAL, NULL, "bad JSON"},
};

static void test_requests(void)
{
	for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];
		struct mgmt_ctl_request r;
		char err[256] = "";
		int rc = mgmt_ctl_request_parse(c->line, strlen(c->line), &r,
						err, sizeof(err));
		CHECK(rc == c->rc, "%s: rc %d (%s)", c->line, rc, err);
		if (rc == 0 && c->rc == 0) {
			CHECK(strcmp(r.cmd, c->cmd) == 0, "%s: cmd %s", c->line,
			      r.cmd);
			CHECK(json_is_object(r.args), "%s: args", c->line);
		}
		if (rc != 0 && c->err != NULL)
			CHECK(strncmp(err, c->err, strlen(c->err)) == 0,
			      "%s: err '%s' want '%s'", c->line, err, c->err);
		mgmt_ctl_request_fini(&r);
	}
	/* An error response still carries the id of a parseable object. */
	struct mgmt_ctl_request r;
	char err[128];
	const char *l = "{\"cmd\":\"BAD\",\"id\":42}";
	CHECK(mgmt_ctl_request_parse(l, strlen(l), &r, err, sizeof(err)) != 0 &&
		  json_integer_value(r.id) == 42,
	      "id kept on error");
	size_t len;
	char *resp =
	    mgmt_ctl_response_err(r.id, MGMT_CTL_E_BAD_REQUEST, err, &len);
	CHECK(resp != NULL && resp[len - 1] == '\n' &&
		  strchr(resp, '\n') == resp + len - 1 &&
		  strncmp(resp, "{\"id\":42,\"ok\":false,", 20) == 0,
	      "error response: %s", resp);
	free(resp);
	mgmt_ctl_request_fini(&r);

	json_t *res = json_pack("{s:s}", "text", "a\nb");
	resp = mgmt_ctl_response_ok(NULL, res, &len);
	CHECK(resp != NULL &&
		  strcmp(resp, "{\"id\":null,\"ok\":true,\"result\":"
			       "{\"text\":\"a\\nb\"}}\n") == 0,
	      "ok response: %s", resp);
	free(resp);
}

static void test_prometheus(void)
{
	json_t *snap = json_pack(
	    "{s:[{s:s,s:s,s:s,s:I},{s:s,s:s,s:s,s:I},{s:s,s:s,s:s,s:I},"
	    "{s:s,s:s,s:s,s:s}]}",
	    "counters", "name", "q_msgs_committed", "help",
	    "messages made\ndurable \\ ok", "type", "counter", "value",
	    (json_int_t)12, "name", "Bad-Name", "help", "x", "type", "counter",
	    "value", (json_int_t)1, "name", "q_depth", "help",
	    "messages queued", "type", "gauge", "value", (json_int_t)3, "name",
	    "no_value", "help", "h", "type", "counter", "value", "7");
	char *text = mgmt_metrics_prometheus(snap, NULL);
	const char *want =
	    "# HELP mxgate_q_msgs_committed_total messages made\\ndurable "
	    "\\\\ ok\n"
	    "# TYPE mxgate_q_msgs_committed_total counter\n"
	    "mxgate_q_msgs_committed_total 12\n"
	    "# HELP mxgate_q_depth messages queued\n"
	    "# TYPE mxgate_q_depth gauge\n"
	    "mxgate_q_depth 3\n";
	CHECK(text != NULL && strcmp(text, want) == 0, "prometheus:\n%s", text);
	free(text);
	json_decref(snap);

	/* The live snapshot has the control counters, all rendered. */
	snap = mgmt_metrics_snapshot();
	CHECK(mgmt_metrics_add_gauge(snap, "test_gauge", "g", 5) == 0, "gauge");
	text = mgmt_metrics_prometheus(snap, NULL);
	CHECK(text != NULL &&
		  strstr(text, "\nmxgate_ctl_requests_total 0\n") != NULL &&
		  strstr(text, "\nmxgate_test_gauge 5\n") != NULL,
	      "live: %s", text);
	free(text);
	json_decref(snap);
}

int main(void)
{
	test_framer();
	test_long_lines();
	test_requests();
	test_prometheus();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("test_ctl_proto: ok\n");
	return 0;
}
