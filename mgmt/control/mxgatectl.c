/*
 * mxgatectl — the command-line client of the control socket.
 *
 *   mxgatectl [-s SOCKET] [-t SECONDS] COMMAND [WORD...] [--key value...]
 *
 * Built-in renderings: status, stats (table), metrics (Prometheus text,
 * rendered here from the `stats` result by the same code an HTTP listener
 * uses), config (JSON), reload [config|signatures], log-level [LEVEL].
 * Anything else is passed through: the words become "cmd" (up to the first
 * word that is not [a-z0-9_-], the rest go to args.argv) and `--key value`
 * flags become args (integers and true/false typed; a flag with no value
 * is true).  `map build SRC DST` runs locally, without a daemon.
 *
 * Exit status: 0 ok; 1 the daemon ran the command and it failed; 2 usage
 * error, daemon not running or unreachable, or a command the daemon does
 * not know.  Errors are one line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_policy.h"
#include "mgmt_conf.h"
#include "mgmt_ctl_client.h"
#include "mgmt_ctl_proto.h"
#include "mgmt_metrics.h"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: mxgatectl [-s SOCKET] [-t SECONDS] COMMAND [ARGS]\n"
	    "  -s SOCKET   control socket (default $MXGATE_SOCKET "
	    "or " MGMT_CONF_DEFAULT_SOCKET ")\n"
	    "  -t SECONDS  how long to wait for an answer (default 30)\n"
	    "commands:\n"
	    "  status [--json]            daemon state\n"
	    "  stats [--json]             counters (name, value, help)\n"
	    "  metrics                    counters, Prometheus text format\n"
	    "  config                     effective configuration (JSON)\n"
	    "  reload [config|signatures] reload (default: config)\n"
	    "  log-level [LEVEL]          show or set: err, warn, info, "
	    "debug\n"
	    "  map build SRC DST          build an LMDB recipient map "
	    "(local)\n"
	    "  help                       commands the daemon answers\n"
	    "  WORDS... [--key value]     any other daemon command, e.g.\n"
	    "                             queue list --state deferred\n");
}

static bool word_is_cmd(const char *w)
{
	if (*w == '\0')
		return false;
	for (; *w; w++)
		if (!((*w >= 'a' && *w <= 'z') || (*w >= '0' && *w <= '9') ||
		      *w == '-' || *w == '_'))
			return false;
	return true;
}

static json_t *typed_value(const char *v)
{
	char *end;

	if (strcmp(v, "true") == 0)
		return json_true();
	if (strcmp(v, "false") == 0)
		return json_false();
	if (*v != '\0') {
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (*end == '\0' && errno == 0 && (v[0] != '0' || v[1] == '\0'))
			return json_integer(n);
	}
	return json_string(v);
}

struct request {
	char cmd[MGMT_CTL_CMD_MAX + 1];
	json_t *args;
	bool json_out;
};

/* Words and flags -> cmd and args.  Returns 0 or -1 (message printed). */
static int build_request(int argc, char **argv, struct request *r)
{
	json_t *extra = json_array();
	size_t len = 0;
	bool in_cmd = true;

	r->args = json_object();
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
			char key[128];
			const char *eq = strchr(a + 2, '=');
			const char *val = NULL;
			size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			if (kl >= sizeof(key))
				kl = sizeof(key) - 1;
			memcpy(key, a + 2, kl);
			key[kl] = '\0';
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2))
				val = argv[++i];
			if (strcmp(key, "json") == 0 && val == NULL) {
				r->json_out = true;
				continue;
			}
			json_object_set_new(
			    r->args, key, val ? typed_value(val) : json_true());
			continue;
		}
		if (in_cmd && word_is_cmd(a) &&
		    len + strlen(a) + 1 <= MGMT_CTL_CMD_MAX) {
			len +=
			    (size_t)snprintf(r->cmd + len, sizeof(r->cmd) - len,
					     "%s%s", len ? " " : "", a);
			continue;
		}
		in_cmd = false;
		json_array_append_new(extra, json_string(a));
	}
	if (len == 0) {
		fprintf(stderr, "mxgatectl: no command given (try "
				"mxgatectl help)\n");
		json_decref(extra);
		return -1;
	}
	if (json_array_size(extra) > 0)
		json_object_set_new(r->args, "argv", extra);
	else
		json_decref(extra);
	return 0;
}

static void print_flat(const char *prefix, json_t *v)
{
	const char *k;
	json_t *c;

	if (json_is_object(v)) {
		json_object_foreach(v, k, c)
		{
			char p[256];
			snprintf(p, sizeof(p), "%s%s%s", prefix,
				 prefix[0] ? "." : "", k);
			print_flat(p, c);
		}
		return;
	}
	char *s = json_is_string(v)
		      ? strdup(json_string_value(v))
		      : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	printf("%s: %s\n", prefix, s ? s : "?");
	free(s);
}

static void print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

static int map_build(int argc, char **argv)
{
	char err[512];

	if (argc != 4) {
		fprintf(stderr, "mxgatectl: usage: map build SRC DST\n");
		return EXIT_USAGE;
	}
	int rc = dp_policy_map_build(argv[2], argv[3], err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "mxgatectl: map build: %s\n", err);
		return EXIT_FAILED;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("MXGATE_SOCKET");
	int timeout_s = 30, opt;

	if (sock == NULL || *sock == '\0')
		sock = MGMT_CONF_DEFAULT_SOCKET;
	while ((opt = getopt(argc, argv, "+s:t:h")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0 || timeout_s > 86400) {
				fprintf(stderr, "mxgatectl: -t: 1-86400\n");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc >= 2 && strcmp(argv[0], "map") == 0 &&
	    strcmp(argv[1], "build") == 0)
		return map_build(argc, argv);

	struct request r = {.args = NULL};
	const char *view = argv[0];
	if (build_request(argc, argv, &r) != 0)
		return EXIT_USAGE;
	if (strcmp(r.cmd, "metrics") == 0) {
		snprintf(r.cmd, sizeof(r.cmd), "stats");
	} else if (strcmp(r.cmd, "reload") == 0) {
		snprintf(r.cmd, sizeof(r.cmd), "reload config");
	} else if (strncmp(r.cmd, "log-level ", 10) == 0) {
		const char *lvl = r.cmd + 10;
		if (strchr(lvl, ' ') != NULL) {
			fprintf(stderr, "mxgatectl: usage: log-level "
					"[err|warn|info|debug]\n");
			json_decref(r.args);
			return EXIT_USAGE;
		}
		json_object_set_new(r.args, "level", json_string(lvl));
		r.cmd[9] = '\0';
	}

	char err[512];
	int fd = mgmt_ctl_client_connect(sock, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "mxgatectl: %s\n", err);
		json_decref(r.args);
		return EXIT_USAGE;
	}
	json_t *resp;
	int rc = mgmt_ctl_client_call(fd, r.cmd, r.args, timeout_s * 1000,
				      &resp, err, sizeof(err));
	close(fd);
	if (rc != 0) {
		fprintf(stderr, "mxgatectl: %s\n", err);
		return EXIT_USAGE;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		const char *e =
		    json_string_value(json_object_get(resp, "error"));
		const char *code =
		    json_string_value(json_object_get(resp, "code"));
		fprintf(stderr, "mxgatectl: %s\n", e ? e : "command failed");
		rc = code != NULL && strcmp(code, MGMT_CTL_E_FAILED) == 0
			 ? EXIT_FAILED
			 : EXIT_USAGE;
		json_decref(resp);
		return rc;
	}
	json_t *result = json_object_get(resp, "result");
	if (strcmp(view, "metrics") == 0) {
		char *text = mgmt_metrics_prometheus(result, NULL);
		if (text == NULL) {
			fprintf(stderr, "mxgatectl: out of memory\n");
			rc = EXIT_FAILED;
		} else {
			fputs(text, stdout);
		}
		free(text);
	} else if (r.json_out) {
		print_json(result);
	} else if (strcmp(r.cmd, "stats") == 0) {
		mgmt_metrics_print_table(result, stdout);
	} else if (strcmp(r.cmd, "status") == 0) {
		print_flat("", result);
	} else if (strcmp(r.cmd, "help") == 0 &&
		   json_is_array(json_object_get(result, "commands"))) {
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(result, "commands"), i, c)
		    printf("%-28s %s\n",
			   json_string_value(json_object_get(c, "cmd")),
			   json_string_value(json_object_get(c, "help")));
	} else if (json_is_object(result) && json_object_size(result) == 0) {
		printf("ok\n");
	} else {
		print_json(result);
	}
	json_decref(resp);
	return rc;
}
