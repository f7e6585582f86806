/*
 * test_conf — the configuration loader: a table of bad configurations,
 * each with the exact error it must produce (file:line: key: reason), a
 * table of good ones with the values they must yield, overrides, includes,
 * the shipped configs/mxgate.conf, and the JSON dump.
 *
 * Runs in a fresh temporary directory (files are written there and named
 * relative to it), removed at the end.
 */
#include "mgmt_conf.h"
#include "mgmt_ucl.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(name);
		exit(1);
	}
}

#define DOM "domains { \"example.test\" { recipients = \"catch-all\"; } }\n"

struct bad_case {
	const char *name;
	const char *text;     /* written to x.conf */
	const char *inc;      /* written to inc.conf when set */
	const char *override; /* one -o when set */
	const char *want;
};

static const struct bad_case bad_cases[] = {
    {"unknown key", DOM "smtp {\n  colour = 3;\n}\n", NULL, NULL,
     "x.conf:3: smtp.colour: unknown key"},
    {"typo'd key", DOM "smtp {\n  max_recipient = 3;\n}\n", NULL, NULL,
     "x.conf:3: smtp.max_recipient: unknown key (did you mean "
     "smtp.max_recipients?)"},
    {"unknown section", DOM "smpt { listen = \"127.0.0.1:25\"; }\n", NULL, NULL,
     "x.conf:2: smpt: unknown key"},
    {"wrong type", DOM "smtp { max_recipients = \"many\"; }\n", NULL, NULL,
     "x.conf:2: smtp.max_recipients: expected an integer, got string"},
    {"bool wrong type", DOM "smtp { proxy_protocol = 1; }\n", NULL, NULL,
     "x.conf:2: smtp.proxy_protocol: expected true or false, got "
     "integer"},
    {"out of range", DOM "\n\nsmtp {\n max_recipients = 10001\n}\n", NULL, NULL,
     "x.conf:5: smtp.max_recipients: must be between 1 and 10000"},
    {"zero recipients", DOM "smtp { max_recipients = 0 }\n", NULL, NULL,
     "x.conf:2: smtp.max_recipients: must be between 1 and 10000"},
    {"bad enum", DOM "dataplane { backend = \"netmap\"; }\n", NULL, NULL,
     "x.conf:2: dataplane.backend: must be one of socket|dpdk, got "
     "\"netmap\""},
    {"bad log level", DOM "log { level = loud }\n", NULL, NULL,
     "x.conf:2: log.level: must be one of err|warn|info|debug, got "
     "\"loud\""},
    {"bad route", DOM "delivery { default_route = \"ftp:[1.2.3.4]:21\"; }\n",
     NULL, NULL,
     "x.conf:2: delivery.default_route: bad route \"ftp:[1.2.3.4]:21\": "
     "unknown route \"ftp:[1.2.3.4]:21\" (want smtp:[host]:port, "
     "lmtp:unix:/path, lmtp:[host]:port, maildir:/path or discard)"},
    {"bad route port",
     DOM "delivery {\n routes {\n  \"example.test\" = "
	 "\"smtp:[10.0.0.1]:99999\";\n }\n}\n",
     NULL, NULL,
     "x.conf:4: delivery.routes: example.test: bad route "
     "\"smtp:[10.0.0.1]:99999\": port out of range: \"99999\""},
    {"route for unknown domain",
     DOM "delivery {\n routes {\n  "
	 "\"other.test\" = discard;\n }\n}\n",
     NULL, NULL,
     "x.conf:3: delivery.routes: route for \"other.test\", which is not "
     "in domains"},
    {"bad listen address",
     DOM "smtp { listen = [\"127.0.0.1:2525\", "
	 "\"localhost:25\"]; }\n",
     NULL, NULL,
     "x.conf:2: smtp.listen: bad IPv4 address \"localhost\" (an IP "
     "literal; IPv6 goes in brackets)"},
    {"bare ipv6 listen", DOM "smtp { listen = \"::1:25\"; }\n", NULL, NULL,
     "x.conf:2: smtp.listen: bad address \"::1:25\" (want IPv4:port or "
     "[IPv6]:port)"},
    {"listen port range", DOM "smtp { listen = \"[::1]:65536\"; }\n", NULL,
     NULL, "x.conf:2: smtp.listen: bad port in \"[::1]:65536\" (0-65535)"},
    {"missing domain", "smtp { max_errors = 3; }\n", NULL, NULL,
     "x.conf: domains: at least one accepted domain is required (mxgate "
     "is never an open relay)"},
    {"empty domains", "\ndomains {\n}\n", NULL, NULL,
     "x.conf:2: domains: at least one domain is required"},
    {"bad domain name",
     "domains { \"bad_name.test\" { recipients = "
     "\"catch-all\" } }\n",
     NULL, NULL,
     "x.conf:1: domains: bad domain name \"bad_name.test\" (RFC 1035 "
     "2.3.1: letters, digits, '-', labels of 1-63)"},
    {"domain without recipients", "domains {\n \"a.test\" { }\n}\n", NULL, NULL,
     "x.conf:2: domains: a.test: needs exactly one of recipients "
     "or map"},
    {"bad include", DOM ".include \"missing.conf\"\n", NULL, NULL,
     "x.conf:2: cannot read 'missing.conf': No such file or directory"},
    {"error inside include", DOM "\n.include \"inc.conf\"\n",
     "# included\nqueue {\n  high_water = 101;\n}\n", NULL,
     "inc.conf:3: queue.high_water: must be between 1 and 100"},
    {"syntax error", DOM "smtp { max_errors = 3 4; }\n", NULL, NULL,
     "x.conf:2: expected ';' or a newline after the value, found '4'"},
    {"unterminated section", DOM "smtp {\n max_errors = 3;\n", NULL, NULL,
     "x.conf:2: unterminated object (missing '}')"},
    {"unterminated string", DOM "log {\n target = \"abc\n}\n", NULL, NULL,
     "x.conf:3: unterminated string"},
    {"duplicate scalar",
     DOM "smtp {\n max_errors = 3;\n max_errors = "
	 "4;\n}\n",
     NULL, NULL, "x.conf:4: max_errors: duplicate key (first set at x.conf:3)"},
    {"bad size", DOM "smtp { max_message_size = 10s; }\n", NULL, NULL,
     "x.conf:2: smtp.max_message_size: expected a size (e.g. 35M, 64mb), "
     "got the duration '10s'"},
    {"size too small", DOM "smtp { max_message_size = 10; }\n", NULL, NULL,
     "x.conf:2: smtp.max_message_size: must be between 1024 and "
     "4294967296 bytes"},
    {"mega is not minutes", DOM "smtp { command_timeout = 5m; }\n", NULL, NULL,
     "x.conf:2: smtp.command_timeout: '5m' is a size multiplier "
     "(m = million), not a duration; write e.g. 5min, 30s, 2h"},
    {"bad duration", DOM "smtp { data_timeout = soon; }\n", NULL, NULL,
     "x.conf:2: smtp.data_timeout: expected a duration (e.g. 30s, 5min, "
     "1h, 5d), got string"},
    {"duration range", DOM "smtp { command_timeout = 2d; }\n", NULL, NULL,
     "x.conf:2: smtp.command_timeout: must be between 1s and 24h"},
    {"bad retry schedule",
     DOM "delivery { retry_schedule = [60s, "
	 "never]; }\n",
     NULL, NULL,
     "x.conf:2: delivery.retry_schedule: expected a duration (e.g. 30s, "
     "5min, 1h, 5d), got string"},
    {"water marks", DOM "queue {\n high_water = 50;\n low_water = 60;\n}\n",
     NULL, NULL,
     "x.conf:4: queue.low_water: must be below "
     "queue.high_water (50)"},
    {"bad cidr", DOM "dataplane { dpdk { address = \"10.0.0.1\"; } }\n", NULL,
     NULL,
     "x.conf:2: dataplane.dpdk.address: expected IPv4/prefix "
     "(e.g. 10.77.0.1/24), got \"10.0.0.1\""},
    {"bad group", DOM "control { group = \"no-such-group-mx\"; }\n", NULL, NULL,
     "x.conf:2: control.group: no such group \"no-such-group-mx\""},
    {"section as scalar", DOM "smtp = 3;\n", NULL, NULL,
     "x.conf:2: smtp: expected a section { ... }, got integer"},
    {"override out of range", DOM, NULL, "smtp.max_recipients=0",
     "-o[1]: smtp.max_recipients: must be between 1 and 10000"},
    {"override unknown key", DOM, NULL, "smtp.max_recipent=5",
     "-o[1]: smtp.max_recipent: unknown key (did you mean "
     "smtp.max_recipients?)"},
    {"override no value", DOM, NULL, "smtp.max_recipients",
     "-o[1]: smtp.max_recipients: expected key=value"},
    {"override bad listen", DOM, NULL, "smtp.listen=127.0.0.1",
     "-o[1]: smtp.listen: bad address \"127.0.0.1\" (want IPv4:port or "
     "[IPv6]:port)"},
    {"override bad syntax", DOM, NULL, "smtp.listen=[\"a\"",
     "-o[1]: smtp.listen: unterminated array (opened at line 1)"},
    {"override domain field", DOM, NULL, "domains.example.test.colour=red",
     "-o[1]: domains: example.test: unknown key 'colour' (a domain has "
     "recipients or map)"},
};

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct mgmt_conf conf;
		char err[1024] = "";
		write_file("x.conf", c->text);
		if (c->inc != NULL)
			write_file("inc.conf", c->inc);
		const char *ov[1] = {c->override};
		int rc = mgmt_conf_load("x.conf", ov, c->override ? 1 : 0,
					&conf, err, sizeof(err));
		CHECK(rc == -1, "%s: loaded a bad config", c->name);
		CHECK(strcmp(err, c->want) == 0,
		      "%s:\n  got  '%s'\n  want '%s'", c->name, err, c->want);
		CHECK(conf.domains == NULL && conf.smtp.listen == NULL,
		      "%s: struct not cleared on failure", c->name);
		unlink("inc.conf");
	}
}

static void test_defaults_and_values(void)
{
	struct mgmt_conf c;
	char err[512] = "";

	write_file("good.conf",
		   "# a comment\n"
		   "/* a /* nested */ comment */\n"
		   "dataplane { backend = dpdk; cores = 2;\n"
		   "  dpdk { gateway = 10.77.0.254; } }\n"
		   "smtp {\n"
		   "  listen = [\"127.0.0.1:2600\", \"[::1]:2601\"];\n"
		   "  max_message_size = 10mb;\n"
		   "  command_timeout = 5min;\n"
		   "  data_timeout = 90;\n"
		   "  proxy_protocol = yes;\n"
		   "  hostname = MX.Example.TEST;\n"
		   "}\n"
		   "domain_include_test = 1;\n");
	int rc = mgmt_conf_load("good.conf", NULL, 0, &c, err, sizeof(err));
	CHECK(rc == -1 && strstr(err, "good.conf:13: domain_include_test: "
				      "unknown key") == err,
	      "unknown top-level key: %s", err);

	write_file(
	    "good.conf",
	    "dataplane { backend = dpdk; cores = 2;\n"
	    "  dpdk { gateway = 10.77.0.254; } }\n"
	    "smtp {\n"
	    "  listen = [\"127.0.0.1:2600\", \"[::1]:2601\"];\n"
	    "  max_message_size = 10mb;\n"
	    "  command_timeout = 5min;\n"
	    "  data_timeout = 90;\n"
	    "  proxy_protocol = yes;\n"
	    "  hostname = MX.Example.TEST;\n"
	    "}\n"
	    "domains {\n"
	    "  \"Example.TEST\" { recipients = [alice, bob]; }\n"
	    "  other.test { map = \"./var/maps/other.lmdb\"; }\n"
	    "}\n"
	    "domains \"third.test\" { recipients = catch-all; }\n"
	    "delivery {\n"
	    "  routes { \"other.test\" = \"smtp:[127.0.0.1]:2526\";\n"
	    "           third.test = \"lmtp:unix:/run/dovecot/lmtp\"; }\n"
	    "  retry_schedule = [1s, 2min];\n"
	    "}\n");
	rc = mgmt_conf_load("good.conf", NULL, 0, &c, err, sizeof(err));
	CHECK(rc == 0, "good.conf: %s", err);
	if (rc != 0)
		return;
	CHECK(c.dataplane.backend == MGMT_CONF_BACKEND_DPDK, "backend");
	CHECK(c.dataplane.cores == 2, "cores");
	CHECK(c.dataplane.dpdk.eal_arg_count == 4 &&
		  strcmp(c.dataplane.dpdk.eal_args[2], "512") == 0,
	      "eal default");
	CHECK(c.dataplane.dpdk.prefix_len == 24 &&
		  c.dataplane.dpdk.addr_be == inet_addr("10.77.0.1"),
	      "dpdk address");
	CHECK(c.dataplane.dpdk.gateway_be == inet_addr("10.77.0.254"), "gw");
	CHECK(c.smtp.listen_count == 2, "listen count %u", c.smtp.listen_count);
	CHECK(c.smtp.listen[1].sa.ss_family == AF_INET6, "v6 listen");
	CHECK(c.smtp.max_message_size == 10u * 1024 * 1024, "size %llu",
	      (unsigned long long)c.smtp.max_message_size);
	CHECK(c.smtp.command_timeout_ms == 300000, "5min");
	CHECK(c.smtp.data_timeout_ms == 90000, "plain seconds");
	CHECK(c.smtp.proxy_protocol, "yes is true");
	CHECK(strcmp(c.smtp.hostname, "mx.example.test") == 0, "hostname %s",
	      c.smtp.hostname);
	CHECK(c.smtp.max_recipients == 100, "default recipients");
	CHECK(c.queue.quota == 10000000000ull, "10G is decimal");
	CHECK(c.queue.max_lifetime_ms == 5ull * 86400 * 1000, "5d");
	CHECK(c.domain_count == 3, "domains %u", c.domain_count);
	CHECK(strcmp(c.domains[0].name, "example.test") == 0 &&
		  c.domains[0].recipient_count == 2 && !c.domains[0].catch_all,
	      "domain 0");
	CHECK(c.domains[1].map != NULL, "map domain");
	CHECK(strcmp(c.domains[2].name, "third.test") == 0 &&
		  c.domains[2].catch_all,
	      "named section syntax");
	CHECK(c.delivery.route_count == 2 &&
		  c.delivery.routes[0].route.kind == MGMT_DLV_ROUTE_SMTP &&
		  c.delivery.routes[0].route.port == 2526,
	      "routes");
	CHECK(c.delivery.routes[1].route.kind == MGMT_DLV_ROUTE_LMTP_UNIX,
	      "lmtp route");
	CHECK(c.delivery.default_route.route.kind == MGMT_DLV_ROUTE_MAILDIR &&
		  c.delivery.default_route.route.path[0] == '/' &&
		  strstr(c.delivery.default_route.route.path, "/var/mail") !=
		      NULL,
	      "relative maildir made absolute: %s",
	      c.delivery.default_route.route.path);
	CHECK(c.delivery.retry_count == 2 &&
		  c.delivery.retry_schedule_ms[1] == 120000,
	      "retry schedule");
	CHECK(c.log.level == 2 && strcmp(c.log.target, "stderr") == 0, "log");

	json_t *j = mgmt_conf_dump_json(&c);
	CHECK(j != NULL, "dump");
	if (j != NULL) {
		json_t *v = json_object_get(json_object_get(j, "smtp"),
					    "command_timeout");
		CHECK(json_is_string(v) &&
			  strcmp(json_string_value(v), "5min") == 0,
		      "json duration");
		v = json_object_get(
		    json_object_get(json_object_get(j, "dataplane"), "dpdk"),
		    "mbufs");
		CHECK(json_integer_value(v) == 4096, "json nested");
		v = json_object_get(
		    json_object_get(json_object_get(j, "delivery"), "routes"),
		    "other.test");
		CHECK(json_is_string(v), "json routes");
		json_decref(j);
	}
	mgmt_conf_free(&c);
	mgmt_conf_free(&c);
}

static void test_overrides_and_includes(void)
{
	struct mgmt_conf c;
	char err[512] = "";

	write_file("sub.conf", "smtp { max_errors = 7; }\n");
	write_file("inc2.conf", "domains { \"b.test\" { recipients = "
				"\"catch-all\"; } }\n");
	write_file("main.conf", DOM
		   ".include \"sub.conf\"\n"
		   ".include(try=true) \"absent.conf\"\n"
		   ".include \"inc[2].conf\"\n"
		   "smtp { listen = [\"127.0.0.1:1\", \"127.0.0.1:2\"]; }\n");
	const char *ov[] = {
	    "smtp.listen=127.0.0.1:2600",
	    "smtp.max_recipients = 50",
	    "log.level=debug",
	    "delivery.routes.b.test=discard",
	    "domains.example.test.recipients=[postmaster]",
	    "queue.dir=",
	};
	int rc = mgmt_conf_load("main.conf", ov, 5, &c, err, sizeof(err));
	CHECK(rc == 0, "overrides: %s", err);
	if (rc == 0) {
		CHECK(c.smtp.max_errors == 7, "include applied");
		CHECK(c.domain_count == 2, "glob include merged domains");
		CHECK(c.smtp.listen_count == 1 &&
			  strcmp(c.smtp.listen[0].text, "127.0.0.1:2600") == 0,
		      "-o smtp.listen replaces the list");
		CHECK(c.smtp.max_recipients == 50, "-o integer");
		CHECK(c.log.level == 3, "-o enum");
		CHECK(c.delivery.route_count == 1 &&
			  c.delivery.routes[0].route.kind ==
			      MGMT_DLV_ROUTE_DISCARD,
		      "-o route with dotted domain");
		CHECK(c.domains[0].recipient_count == 1, "-o domain field");
		CHECK(c.smtp.hostname != NULL && c.smtp.hostname[0] != '\0',
		      "hostname defaults to gethostname()");
		mgmt_conf_free(&c);
	}
	rc = mgmt_conf_load("main.conf", ov, 6, &c, err, sizeof(err));
	CHECK(rc == -1 && strcmp(err, "-o[6]: queue.dir: must not be "
				      "empty") == 0,
	      "empty path override: %s", err);
	CHECK(mgmt_conf_check("main.conf", NULL, 0, err, sizeof(err)) == 0,
	      "check: %s", err);

	/* An include inside a section adds to that section; the whole file
	 * may be wrapped in braces. */
	write_file("sub.conf", "max_errors = 5\n");
	write_file("main.conf", "{\n" DOM "smtp {\n .include \"sub.conf\"\n "
				"max_recipients = 7 }\n}\n");
	rc = mgmt_conf_load("main.conf", NULL, 0, &c, err, sizeof(err));
	CHECK(rc == 0 && c.smtp.max_errors == 5 && c.smtp.max_recipients == 7,
	      "include in a section: %s", err);
	if (rc == 0)
		mgmt_conf_free(&c);
	write_file("main.conf", "{\n" DOM "}\nsmtp { }\n");
	rc = mgmt_conf_load("main.conf", NULL, 0, &c, err, sizeof(err));
	CHECK(rc == -1 && strcmp(err, "main.conf:4: text after the closing "
				      "'}'") == 0,
	      "after braces: %s", err);

	/* Includes nest at most 16 deep; a self-include hits the limit. */
	write_file("loop.conf", ".include \"loop.conf\"\n");
	rc = mgmt_conf_load("loop.conf", NULL, 0, &c, err, sizeof(err));
	CHECK(rc == -1 && strstr(err, "nested deeper than 16") != NULL,
	      "include loop: %s", err);
}

/* The parser on every prefix of a good file: never crashes, and either
 * parses or names a line inside the file. */
static void test_prefixes(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[65536];
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	char err[512];

	if (f)
		fclose(f);
	CHECK(n > 0, "read %s", path);
	for (size_t i = 0; i <= n; i++) {
		struct mgmt_ucl_doc *d =
		    mgmt_ucl_parse_text("p.conf", buf, i, err, sizeof(err));
		if (d == NULL)
			CHECK(strncmp(err, "p.conf:", 7) == 0, "prefix %zu: %s",
			      i, err);
		mgmt_ucl_free(d);
	}
}

static void test_shipped(const char *path)
{
	struct mgmt_conf c;
	char err[512] = "";
	int rc = mgmt_conf_load(path, NULL, 0, &c, err, sizeof(err));

	CHECK(rc == 0, "%s: %s", path, err);
	if (rc != 0)
		return;
	CHECK(c.dataplane.backend == MGMT_CONF_BACKEND_SOCKET, "socket");
	CHECK(c.smtp.listen_count == 1 &&
		  strcmp(c.smtp.listen[0].text, "127.0.0.1:2525") == 0,
	      "listen");
	CHECK(strcmp(c.queue.dir, "./var/queue") == 0, "queue dir");
	CHECK(strcmp(c.control.socket, "./var/run/mxgate.sock") == 0, "sock");
	CHECK(c.domain_count == 1 && c.domains[0].catch_all, "domain");
	CHECK(strcmp(c.delivery.default_route.text, "maildir:./var/mail") == 0,
	      "route");
	CHECK(c.queue.segment_size == 64ull << 20, "segment");
	mgmt_conf_free(&c);

	/* The shipped file agrees with the schema defaults where it says it
	 * shows them: load it with every default key and compare dumps. */
	struct mgmt_conf d;
	const char *dom[] = {"domains.example.test.recipients=catch-all",
			     "smtp.hostname=mx.example.test",
			     "queue.segment_size=64mb", "queue.quota=10gb"};
	write_file("empty.conf", "");
	rc = mgmt_conf_load("empty.conf", dom, 4, &d, err, sizeof(err));
	CHECK(rc == 0, "defaults: %s", err);
	rc = mgmt_conf_load(path, NULL, 0, &c, err, sizeof(err));
	if (rc == 0 && d.source != NULL) {
		json_t *a = mgmt_conf_dump_json(&c),
		       *b = mgmt_conf_dump_json(&d);
		json_object_del(a, "_source");
		json_object_del(b, "_source");
		char *sa = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
		char *sb = json_dumps(b, JSON_SORT_KEYS | JSON_COMPACT);
		CHECK(strcmp(sa, sb) == 0,
		      "shipped config differs from "
		      "defaults:\n%s\n%s",
		      sa, sb);
		free(sa);
		free(sb);
		json_decref(a);
		json_decref(b);
	}
	mgmt_conf_free(&c);
	mgmt_conf_free(&d);
}

int main(int argc, char **argv)
{
	char shipped[PATH_MAX], tmpl[] = "/tmp/mx-conf-test.XXXXXX";

	if (argc < 2 || realpath(argv[1], shipped) == NULL) {
		fprintf(stderr, "usage: test_conf configs/mxgate.conf\n");
		return 2;
	}
	if (mkdtemp(tmpl) == NULL || chdir(tmpl) != 0) {
		perror("tmpdir");
		return 1;
	}
	test_bad();
	test_defaults_and_values();
	test_overrides_and_includes();
	test_prefixes(shipped);
	test_shipped(shipped);

	const char *files[] = {"x.conf",    "inc.conf",	 "good.conf",
			       "sub.conf",  "inc2.conf", "main.conf",
			       "loop.conf", "empty.conf"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	if (chdir("/") != 0 || rmdir(tmpl) != 0)
		perror("cleanup");
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("test_conf: ok\n");
	return 0;
}
