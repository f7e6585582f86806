/*
 * mgmt_conf_schema — the table of every configuration key and the typed
 * setters that turn a parsed UCL value into a validated C value.
 *
 * Adding a key: add a field to struct mgmt_conf, a row here (the default
 * is written in UCL syntax and goes through the same setter as the file,
 * so a bad default fails every test), a line in docs/config.md and a
 * commented line in configs/mxgate.conf.
 */
#include "mgmt_conf_schema.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OFF(f) offsetof(struct mgmt_conf, f)
#define MS_DAY (86400ull * 1000)
#define KiB 1024ull
#define GiB (1024ull * 1024 * 1024)

/* clang-format off */
const struct mgmt_conf_key mgmt_conf_keys[] = {
	{ "dataplane.backend", MGMT_CONF_T_ENUM, "socket", 0, 0, "socket|dpdk",
	  OFF(dataplane.backend), 0,
	  "packet I/O: kernel sockets via io_uring, or DPDK with the userspace TCP/IP stack" },
	{ "dataplane.cores", MGMT_CONF_T_UINT, "1", 1, 128, NULL,
	  OFF(dataplane.cores), 0, "dataplane cores (one SMTP loop and queue shard each)" },
	{ "dataplane.dpdk.eal_args", MGMT_CONF_T_STRLIST,
	  "[\"--no-huge\", \"-m\", \"512\", \"--no-pci\"]", 0, 0, NULL,
	  OFF(dataplane.dpdk.eal_args), OFF(dataplane.dpdk.eal_arg_count),
	  "DPDK EAL arguments (dpdk backend only)" },
	{ "dataplane.dpdk.port", MGMT_CONF_T_PATH, "\"net_tap0,iface=mx0\"", 0, 0, NULL,
	  OFF(dataplane.dpdk.port), 0, "the DPDK port: a --vdev spec or a PCI address" },
	{ "dataplane.dpdk.address", MGMT_CONF_T_CIDR4, "\"10.77.0.1/24\"", 0, 0, NULL,
	  OFF(dataplane.dpdk.address), 0, "our IPv4 address/prefix on the DPDK port" },
	{ "dataplane.dpdk.gateway", MGMT_CONF_T_IPV4_OPT, "\"\"", 0, 0, NULL,
	  OFF(dataplane.dpdk.gateway), 0, "IPv4 default gateway, \"\" for none" },
	{ "dataplane.dpdk.mbufs", MGMT_CONF_T_UINT, "4096", 512, 1048576, NULL,
	  OFF(dataplane.dpdk.mbufs), 0, "mbufs in the packet pool" },
	{ "dataplane.dpdk.synq_entries", MGMT_CONF_T_UINT, "65536", 0, 16777216, NULL,
	  OFF(dataplane.dpdk.synq_entries), 0,
	  "SYN-ACK resend cache per core (rounded up to a power of two; 0 = off)" },
	{ "dataplane.dpdk.synq_resends_per_s", MGMT_CONF_T_UINT, "1000", 0, 1000000, NULL,
	  OFF(dataplane.dpdk.synq_resends_per_s), 0,
	  "SYN-ACK resends allowed per second per core (the backscatter cap)" },

	{ "smtp.listen", MGMT_CONF_T_LISTEN_LIST, "[\"127.0.0.1:2525\"]", 0, 0, NULL,
	  OFF(smtp.listen), OFF(smtp.listen_count),
	  "addresses to accept SMTP on: IPv4:port or [IPv6]:port (port 0 = any free port)" },
	{ "smtp.hostname", MGMT_CONF_T_HOSTNAME, "\"\"", 0, 0, NULL,
	  OFF(smtp.hostname), 0, "name in the greeting and Received: headers (default: gethostname)" },
	{ "smtp.proxy_protocol", MGMT_CONF_T_BOOL, "false", 0, 0, NULL,
	  OFF(smtp.proxy_protocol), 0, "expect a PROXY protocol v1/v2 header on every connection" },
	{ "smtp.max_message_size", MGMT_CONF_T_SIZE, "35M", 1 * KiB, 4 * GiB, NULL,
	  OFF(smtp.max_message_size), 0, "largest message accepted (SIZE, RFC 1870)" },
	{ "smtp.max_recipients", MGMT_CONF_T_UINT, "100", 1, 10000, NULL,
	  OFF(smtp.max_recipients), 0, "recipients per message (RFC 5321 4.5.3.1.8: at least 100)" },
	{ "smtp.max_errors", MGMT_CONF_T_UINT, "10", 1, 1000, NULL,
	  OFF(smtp.max_errors), 0, "error replies before the session is closed" },
	{ "smtp.max_junk_commands", MGMT_CONF_T_UINT, "20", 1, 1000, NULL,
	  OFF(smtp.max_junk_commands), 0, "NOOP/RSET/VRFY-like commands before the session is closed" },
	{ "smtp.command_line_max", MGMT_CONF_T_UINT, "512", 512, 65536, NULL,
	  OFF(smtp.command_line_max), 0, "longest command line in bytes (RFC 5321 4.5.3.1.4: at least 512)" },
	{ "smtp.text_line_max", MGMT_CONF_T_UINT, "1000", 1000, 1048576, NULL,
	  OFF(smtp.text_line_max), 0, "longest DATA line in bytes (RFC 5321 4.5.3.1.6: at least 1000)" },
	{ "smtp.command_timeout", MGMT_CONF_T_DURATION, "300s", 1000, MS_DAY, NULL,
	  OFF(smtp.command_timeout_ms), 0, "idle time allowed between commands (RFC 5321 4.5.3.2.7)" },
	{ "smtp.data_timeout", MGMT_CONF_T_DURATION, "180s", 1000, MS_DAY, NULL,
	  OFF(smtp.data_timeout_ms), 0, "idle time allowed inside DATA (RFC 5321 4.5.3.2.6)" },
	{ "smtp.pregreet_delay", MGMT_CONF_T_DURATION, "0s", 0, 60000, NULL,
	  OFF(smtp.pregreet_delay_ms), 0, "wait before the greeting; clients that talk first are rejected" },
	{ "smtp.max_connections", MGMT_CONF_T_UINT, "10000", 1, 10000000, NULL,
	  OFF(smtp.max_connections), 0, "concurrent SMTP sessions over all cores" },
	{ "smtp.max_connections_per_ip", MGMT_CONF_T_UINT, "50", 1, 10000000, NULL,
	  OFF(smtp.max_connections_per_ip), 0, "concurrent sessions from one client address" },
	{ "smtp.max_messages_per_ip_per_minute", MGMT_CONF_T_UINT, "0", 0, 10000000, NULL,
	  OFF(smtp.max_messages_per_ip_per_minute), 0, "messages accepted per client address per minute, 0 = unlimited" },

	{ "domains", MGMT_CONF_T_DOMAINS, NULL, 0, 0, NULL,
	  OFF(domains), OFF(domain_count),
	  "accepted domains: name { recipients = \"catch-all\" or [list]; } or name { map = PATH; }" },

	{ "queue.dir", MGMT_CONF_T_PATH, "\"./var/queue\"", 0, 0, NULL,
	  OFF(queue.dir), 0, "queue directory (one shard subdirectory per core)" },
	{ "queue.segment_size", MGMT_CONF_T_SIZE, "64M", 1024 * KiB, 4 * GiB, NULL,
	  OFF(queue.segment_size), 0, "size of each preallocated segment file" },
	{ "queue.durability", MGMT_CONF_T_ENUM, "sync", 0, 0, "sync|none",
	  OFF(queue.durability), 0, "sync: 250 only after a data sync; none: tests and benchmarks only" },
	{ "queue.sync_method", MGMT_CONF_T_ENUM, "fdatasync", 0, 0, "fdatasync|odirect",
	  OFF(queue.sync_method), 0, "how a group commit reaches stable storage" },
	{ "queue.io", MGMT_CONF_T_ENUM, "thread", 0, 0, "thread|uring",
	  OFF(queue.io), 0, "who runs a group commit's write and sync: a commit thread per shard, or the core's io_uring" },
	{ "queue.quota", MGMT_CONF_T_SIZE, "10G", 1024 * KiB, UINT64_MAX / 2, NULL,
	  OFF(queue.quota), 0, "disk the queue may use" },
	{ "queue.high_water", MGMT_CONF_T_UINT, "90", 1, 100, NULL,
	  OFF(queue.high_water), 0, "percent of quota at which new mail gets 452 4.3.1" },
	{ "queue.low_water", MGMT_CONF_T_UINT, "80", 0, 99, NULL,
	  OFF(queue.low_water), 0, "percent of quota below which mail is accepted again" },
	{ "queue.batches_max", MGMT_CONF_T_UINT, "2", 1, 16, NULL,
	  OFF(queue.batches_max), 0, "group commits in flight per shard (more messages wait and join the next)" },
	{ "queue.copy_forward_pct", MGMT_CONF_T_UINT, "25", 0, 100, NULL,
	  OFF(queue.copy_forward_pct), 0, "live messages of a finished segment below this percent of it are copied forward so it can be deleted (0 = never)" },
	{ "queue.state_compact_size", MGMT_CONF_T_SIZE, "0", 0, UINT64_MAX / 2, NULL,
	  OFF(queue.state_compact_size), 0, "compact the state log after this much was appended (0 = queue.segment_size)" },
	{ "queue.max_lifetime", MGMT_CONF_T_DURATION, "5d", 60000, 365 * MS_DAY, NULL,
	  OFF(queue.max_lifetime_ms), 0, "undeliverable mail is bounced after this long" },

	{ "scan.enabled", MGMT_CONF_T_BOOL, "true", 0, 0, NULL,
	  OFF(scan.enabled), 0, "scan messages before delivery" },
	{ "scan.prefilter_rules", MGMT_CONF_T_PATH, "\"./configs/prefilter.rules\"", 0, 0, NULL,
	  OFF(scan.prefilter_rules), 0, "Hyperscan prefilter rule file" },
	{ "scan.default_action", MGMT_CONF_T_ENUM, "scan", 0, 0, "scan|pass",
	  OFF(scan.default_action), 0, "what happens to a message no prefilter rule matched" },
	{ "scan.inline_prefilter", MGMT_CONF_T_BOOL, "false", 0, 0, NULL,
	  OFF(scan.inline_prefilter), 0, "run the prefilter on the dataplane core before 250" },
	{ "scan.workers", MGMT_CONF_T_UINT, "1", 1, 128, NULL,
	  OFF(scan.workers), 0, "prefilter worker threads" },
	{ "scan.on_no_scanner", MGMT_CONF_T_ENUM, "hold", 0, 0, "hold|tempfail|pass",
	  OFF(scan.on_no_scanner), 0, "when no scanner is available: keep queued, 4xx new mail, or deliver unscanned" },
	{ "scan.clamav.enabled", MGMT_CONF_T_BOOL, "true", 0, 0, NULL,
	  OFF(scan.clamav.enabled), 0, "scan with libclamav in scanner processes" },
	{ "scan.clamav.database", MGMT_CONF_T_PATH, "\"./configs/clamav\"", 0, 0, NULL,
	  OFF(scan.clamav.database), 0, "ClamAV signature directory" },
	{ "scan.clamav.processes", MGMT_CONF_T_UINT, "1", 1, 64, NULL,
	  OFF(scan.clamav.processes), 0, "scanner processes" },
	{ "scan.clamav.max_scan_time", MGMT_CONF_T_DURATION, "30s", 1000, 3600000, NULL,
	  OFF(scan.clamav.max_scan_time_ms), 0, "a scan taking longer is killed and counted as a failure" },
	{ "scan.clamav.max_scan_size", MGMT_CONF_T_SIZE, "50M", 1 * KiB, 4 * GiB, NULL,
	  OFF(scan.clamav.max_scan_size), 0, "bytes of a message ClamAV looks at" },
	{ "scan.clamav.max_recursion", MGMT_CONF_T_UINT, "16", 1, 64, NULL,
	  OFF(scan.clamav.max_recursion), 0, "archive/MIME nesting depth" },
	{ "scan.clamav.max_files", MGMT_CONF_T_UINT, "1000", 1, 100000, NULL,
	  OFF(scan.clamav.max_files), 0, "files extracted from one message" },

	{ "delivery.default_route", MGMT_CONF_T_ROUTE, "\"maildir:./var/mail\"", 0, 0, NULL,
	  OFF(delivery.default_route), 0,
	  "next hop for domains without a route: smtp:[host]:port, lmtp:[host]:port, lmtp:unix:/path, maildir:/path, discard" },
	{ "delivery.routes", MGMT_CONF_T_ROUTES, "{}", 0, 0, NULL,
	  OFF(delivery.routes), OFF(delivery.route_count), "per-domain next hops: \"domain\" = ROUTE" },
	{ "delivery.concurrency_per_destination", MGMT_CONF_T_UINT, "10", 1, 1000, NULL,
	  OFF(delivery.concurrency_per_destination), 0, "parallel connections to one next hop" },
	{ "delivery.retry_schedule", MGMT_CONF_T_DURLIST, "[60s, 5min, 15min, 1h, 4h]", 1000, 7 * MS_DAY, NULL,
	  OFF(delivery.retry_schedule_ms), OFF(delivery.retry_count),
	  "waits between delivery attempts; the last repeats until queue.max_lifetime" },
	{ "delivery.connect_timeout", MGMT_CONF_T_DURATION, "30s", 100, 600000, NULL,
	  OFF(delivery.connect_timeout_ms), 0, "TCP connect timeout to a next hop" },
	{ "delivery.delay_warning", MGMT_CONF_T_DURATION, "0s", 0, 365 * MS_DAY, NULL,
	  OFF(delivery.delay_warning_ms), 0, "send a delay DSN after this long, 0 = never" },

	{ "control.socket", MGMT_CONF_T_PATH, "\"" MGMT_CONF_DEFAULT_SOCKET "\"", 0, 0, NULL,
	  OFF(control.socket), 0, "control socket for mxgatectl (unix stream, mode 0660)" },
	{ "control.group", MGMT_CONF_T_GROUP, "\"\"", 0, 0, NULL,
	  OFF(control.group), 0, "group allowed to use the control socket besides root, \"\" = none" },

	{ "log.level", MGMT_CONF_T_ENUM, "info", 0, 0, "err|warn|info|debug",
	  OFF(log.level), 0, "least severe level logged" },
	{ "log.target", MGMT_CONF_T_LOGTARGET, "stderr", 0, 0, NULL,
	  OFF(log.target), 0, "stderr, syslog, or a file path (appended)" },

	{ "pid_file", MGMT_CONF_T_PATH, "\"./var/run/mxgate.pid\"", 0, 0, NULL,
	  OFF(pid_file), 0, "the daemon's pid file" },

	{ "metrics.http_listen", MGMT_CONF_T_LISTEN_OPT, "\"\"", 0, 0, NULL,
	  OFF(metrics.http_listen), 0, "address for Prometheus /metrics over HTTP, \"\" = off" },
};
/* clang-format on */

const unsigned mgmt_conf_key_count =
    sizeof(mgmt_conf_keys) / sizeof(mgmt_conf_keys[0]);

const struct mgmt_conf_key *mgmt_conf_key_find(const char *path)
{
	for (unsigned i = 0; i < mgmt_conf_key_count; i++)
		if (strcmp(mgmt_conf_keys[i].path, path) == 0)
			return &mgmt_conf_keys[i];
	return NULL;
}

int mgmt_conf_is_section(const char *path)
{
	size_t n = strlen(path);

	for (unsigned i = 0; i < mgmt_conf_key_count; i++) {
		const char *k = mgmt_conf_keys[i].path;
		if (strncmp(k, path, n) == 0 && k[n] == '.')
			return 1;
	}
	return 0;
}

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

#define FIELD(conf, key, type) ((type *)((char *)(conf) + (key)->off))
#define COUNT(conf, key) ((unsigned *)((char *)(conf) + (key)->off2))

static int want_type(const struct mgmt_ucl_node *v, const char *what, char *err,
		     size_t errlen)
{
	return fail(err, errlen, "expected %s, got %s", what,
		    mgmt_ucl_type_name(v->type));
}

/* Scalars usable as text: strings, and numbers as written. */
static const char *scalar_text(const struct mgmt_ucl_node *v)
{
	if (v->type == MGMT_UCL_STRING || v->type == MGMT_UCL_INT ||
	    v->type == MGMT_UCL_FLOAT || v->type == MGMT_UCL_TIME)
		return v->text;
	return NULL;
}

static char *dup_or_fail(const char *s, char *err, size_t errlen)
{
	char *d = strdup(s);

	if (d == NULL)
		fail(err, errlen, "out of memory");
	return d;
}

static int set_string(const struct mgmt_conf_key *key, const char *s,
		      struct mgmt_conf *conf, char *err, size_t errlen)
{
	char *d = dup_or_fail(s, err, errlen);

	if (d == NULL)
		return -1;
	free(*FIELD(conf, key, char *));
	*FIELD(conf, key, char *) = d;
	return 0;
}

static int text_check(const char *s, char *err, size_t errlen)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return fail(err, errlen, "control character in value");
	return 0;
}

/* Milliseconds from a duration: "30s"/"5min" or plain seconds. */
static int duration_ms(const struct mgmt_ucl_node *v, uint64_t *ms, char *err,
		       size_t errlen)
{
	double s;

	if (v->type == MGMT_UCL_TIME || v->type == MGMT_UCL_FLOAT) {
		s = v->d;
	} else if (v->type == MGMT_UCL_INT && v->mult == MGMT_UCL_MULT_NONE) {
		s = (double)v->i;
	} else if (v->type == MGMT_UCL_INT) {
		return fail(err, errlen,
			    "'%s' is a size multiplier (m = million), not a "
			    "duration; write e.g. 5min, 30s, 2h",
			    v->text);
	} else {
		return fail(err, errlen,
			    "expected a duration (e.g. 30s, 5min, "
			    "1h, 5d), got %s",
			    mgmt_ucl_type_name(v->type));
	}
	if (s < 0 || s > 1e13)
		return fail(err, errlen, "duration '%s' out of range", v->text);
	*ms = (uint64_t)(s * 1000.0 + 0.5);
	return 0;
}

static void fmt_ms(char *buf, size_t n, uint64_t ms)
{
	if (ms % 1000 != 0)
		snprintf(buf, n, "%llums", (unsigned long long)ms);
	else if (ms % 3600000 == 0 && ms != 0)
		snprintf(buf, n, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms != 0)
		snprintf(buf, n, "%llumin", (unsigned long long)(ms / 60000));
	else
		snprintf(buf, n, "%llus", (unsigned long long)(ms / 1000));
}

static int range_check_ms(const struct mgmt_conf_key *key, uint64_t ms,
			  char *err, size_t errlen)
{
	char lo[32], hi[32];

	if (ms >= key->min && ms <= key->max)
		return 0;
	fmt_ms(lo, sizeof(lo), key->min);
	fmt_ms(hi, sizeof(hi), key->max);
	return fail(err, errlen, "must be between %s and %s", lo, hi);
}

int mgmt_conf_addr_parse(const char *text, struct mgmt_conf_addr *addr,
			 char *err, size_t errlen)
{
	char host[64];
	const char *port_s;

	memset(addr, 0, sizeof(*addr));
	if (strlen(text) >= sizeof(addr->text))
		return fail(err, errlen, "address too long: \"%s\"", text);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':' ||
		    (size_t)(close - text - 1) >= sizeof(host))
			return fail(err, errlen,
				    "bad address \"%s\" (want "
				    "[IPv6]:port)",
				    text);
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		port_s = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (colon == NULL || strchr(text, ':') != colon ||
		    (size_t)(colon - text) >= sizeof(host))
			return fail(err, errlen,
				    "bad address \"%s\" (want "
				    "IPv4:port or [IPv6]:port)",
				    text);
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		port_s = colon + 1;
	}
	char *end;
	errno = 0;
	unsigned long port = strtoul(port_s, &end, 10);
	if (port_s[0] < '0' || port_s[0] > '9' || *end != '\0' ||
	    port > 65535 || errno != 0)
		return fail(err, errlen, "bad port in \"%s\" (0-65535)", text);
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&addr->sa;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return fail(err, errlen, "bad IPv6 address \"%s\"",
				    host);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		addr->sa_len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&addr->sa;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return fail(err, errlen,
				    "bad IPv4 address \"%s\" "
				    "(an IP literal; IPv6 goes in brackets)",
				    host);
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		addr->sa_len = sizeof(*s4);
	}
	snprintf(addr->text, sizeof(addr->text), "%s", text);
	return 0;
}

int mgmt_conf_domain_check(char *name, char *err, size_t errlen)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	if (len == 0 || len > 253)
		return fail(err, errlen, "bad domain name \"%s\"", name);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c >= 'A' && c <= 'Z')
			name[i] = c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return fail(err, errlen,
					    "bad domain name "
					    "\"%s\" (empty label or label ends "
					    "in '-')",
					    name);
			label = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '-';
		if (!ok || (c == '-' && label == 0) || ++label > 63)
			return fail(err, errlen,
				    "bad domain name \"%s\" (RFC "
				    "1035 2.3.1: letters, digits, '-', labels "
				    "of 1-63)",
				    name);
	}
	if (name[len - 1] == '-')
		return fail(err, errlen, "bad domain name \"%s\"", name);
	return 0;
}

/* Relative maildir and LMTP socket paths are taken against the working
 * directory at load time; the delivery module wants them absolute. */
static int route_parse(const char *text, struct mgmt_conf_route *r, char *err,
		       size_t errlen)
{
	char buf[MGMT_DLV_ROUTE_PATH_SIZE + 64];
	const char *prefix = NULL;

	if (strncmp(text, "maildir:", 8) == 0 && text[8] != '/' &&
	    text[8] != '\0')
		prefix = "maildir:";
	else if (strncmp(text, "lmtp:unix:", 10) == 0 && text[10] != '/' &&
		 text[10] != '\0')
		prefix = "lmtp:unix:";
	const char *use = text;
	if (prefix != NULL) {
		char cwd[PATH_MAX];
		const char *rel = text + strlen(prefix);
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return fail(err, errlen, "getcwd: %s", strerror(errno));
		if (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		int n = snprintf(buf, sizeof(buf), "%s%s%s%s", prefix, cwd,
				 strcmp(cwd, "/") == 0 ? "" : "/", rel);
		if (n < 0 || (size_t)n >= sizeof(buf))
			return fail(err, errlen, "route path too long");
		use = buf;
	}
	char why[256];
	if (mgmt_dlv_route_parse(use, &r->route, why, sizeof(why)) != 0)
		return fail(err, errlen, "bad route \"%s\": %s", text, why);
	char *t = dup_or_fail(text, err, errlen);
	if (t == NULL)
		return -1;
	free(r->text);
	r->text = t;
	return 0;
}

static void route_free(struct mgmt_conf_route *r)
{
	free(r->domain);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

static void domains_free(struct mgmt_conf *conf)
{
	for (unsigned i = 0; i < conf->domain_count; i++) {
		struct mgmt_conf_domain *d = &conf->domains[i];
		free(d->name);
		free(d->map);
		for (unsigned j = 0; j < d->recipient_count; j++)
			free(d->recipients[j]);
		free(d->recipients);
	}
	free(conf->domains);
	conf->domains = NULL;
	conf->domain_count = 0;
}

/* One domain's body: { recipients = "catch-all" | [..] } or { map = P }. */
static int domain_set(struct mgmt_conf_domain *d,
		      const struct mgmt_ucl_node *body,
		      const struct mgmt_ucl_node **where, char *err,
		      size_t errlen)
{
	if (body->type != MGMT_UCL_OBJECT)
		return fail(err, errlen,
			    "expected an object { recipients = "
			    "...; } or { map = ...; }, got %s",
			    mgmt_ucl_type_name(body->type));
	const struct mgmt_ucl_node *rcpt = NULL, *map = NULL;
	for (const struct mgmt_ucl_node *c = body->child; c; c = c->next) {
		if (strcmp(c->key, "recipients") == 0)
			rcpt = c;
		else if (strcmp(c->key, "map") == 0)
			map = c;
		else {
			*where = c;
			return fail(err, errlen,
				    "unknown key '%s' (a domain "
				    "has recipients or map)",
				    c->key);
		}
	}
	if ((rcpt == NULL) == (map == NULL))
		return fail(err, errlen,
			    "needs exactly one of recipients or "
			    "map");
	*where = map != NULL ? map : rcpt;
	if (map != NULL) {
		if (map->type != MGMT_UCL_STRING || map->text[0] == '\0')
			return fail(err, errlen, "map: expected a path");
		if (text_check(map->text, err, errlen) != 0)
			return -1;
		d->map = dup_or_fail(map->text, err, errlen);
		return d->map == NULL ? -1 : 0;
	}
	if (rcpt->type == MGMT_UCL_STRING) {
		if (strcmp(rcpt->text, "catch-all") != 0)
			return fail(err, errlen,
				    "recipients: expected "
				    "\"catch-all\" or a list, got \"%s\"",
				    rcpt->text);
		d->catch_all = true;
		return 0;
	}
	if (rcpt->type != MGMT_UCL_ARRAY || rcpt->child_count == 0)
		return fail(err, errlen,
			    "recipients: expected \"catch-all\" "
			    "or a non-empty list of local parts");
	d->recipients = calloc(rcpt->child_count, sizeof(char *));
	if (d->recipients == NULL)
		return fail(err, errlen, "out of memory");
	for (const struct mgmt_ucl_node *c = rcpt->child; c; c = c->next) {
		if (c->type != MGMT_UCL_STRING || c->text[0] == '\0' ||
		    strpbrk(c->text, " \t<>@\"") != NULL ||
		    strlen(c->text) > 64)
			return fail(err, errlen,
				    "recipients: bad local part "
				    "\"%s\" (RFC 5321 4.5.3.1.1: at most 64 "
				    "octets, no '@')",
				    c->text ? c->text
					    : mgmt_ucl_type_name(c->type));
		char *r = dup_or_fail(c->text, err, errlen);
		if (r == NULL)
			return -1;
		d->recipients[d->recipient_count++] = r;
	}
	return 0;
}

static int domains_set(const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		       const struct mgmt_ucl_node **where, char *err,
		       size_t errlen)
{
	if (v->type != MGMT_UCL_OBJECT)
		return want_type(v, "an object of domains", err, errlen);
	domains_free(conf);
	if (v->child_count == 0)
		return fail(err, errlen, "at least one domain is required");
	conf->domains = calloc(v->child_count, sizeof(*conf->domains));
	if (conf->domains == NULL)
		return fail(err, errlen, "out of memory");
	for (const struct mgmt_ucl_node *c = v->child; c; c = c->next) {
		struct mgmt_conf_domain *d = &conf->domains[conf->domain_count];
		*where = c;
		char name[300];
		char why[200];
		snprintf(name, sizeof(name), "%s", c->key);
		if (mgmt_conf_domain_check(name, why, sizeof(why)) != 0)
			return fail(err, errlen, "%s", why);
		for (unsigned i = 0; i < conf->domain_count; i++)
			if (strcmp(conf->domains[i].name, name) == 0)
				return fail(err, errlen,
					    "domain \"%s\" "
					    "listed twice",
					    name);
		d->name = dup_or_fail(name, err, errlen);
		if (d->name == NULL)
			return -1;
		conf->domain_count++;
		if (domain_set(d, c, where, why, sizeof(why)) != 0)
			return fail(err, errlen, "%s: %s", name, why);
	}
	return 0;
}

static void routes_free(struct mgmt_conf *conf)
{
	for (unsigned i = 0; i < conf->delivery.route_count; i++)
		route_free(&conf->delivery.routes[i]);
	free(conf->delivery.routes);
	conf->delivery.routes = NULL;
	conf->delivery.route_count = 0;
}

static int routes_set(const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		      const struct mgmt_ucl_node **where, char *err,
		      size_t errlen)
{
	if (v->type != MGMT_UCL_OBJECT)
		return want_type(v, "an object of \"domain\" = route", err,
				 errlen);
	routes_free(conf);
	if (v->child_count == 0)
		return 0;
	conf->delivery.routes =
	    calloc(v->child_count, sizeof(*conf->delivery.routes));
	if (conf->delivery.routes == NULL)
		return fail(err, errlen, "out of memory");
	for (const struct mgmt_ucl_node *c = v->child; c; c = c->next) {
		struct mgmt_conf_route *r =
		    &conf->delivery.routes[conf->delivery.route_count++];
		*where = c;
		char name[300], why[400];
		snprintf(name, sizeof(name), "%s", c->key);
		if (mgmt_conf_domain_check(name, why, sizeof(why)) != 0)
			return fail(err, errlen, "%s", why);
		r->domain = dup_or_fail(name, err, errlen);
		if (r->domain == NULL)
			return -1;
		if (c->type != MGMT_UCL_STRING)
			return fail(err, errlen,
				    "%s: expected a route string, "
				    "got %s",
				    name, mgmt_ucl_type_name(c->type));
		if (route_parse(c->text, r, why, sizeof(why)) != 0)
			return fail(err, errlen, "%s: %s", name, why);
	}
	return 0;
}

static int set_enum(const struct mgmt_conf_key *key,
		    const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		    char *err, size_t errlen)
{
	if (v->type != MGMT_UCL_STRING)
		return fail(err, errlen, "expected one of %s, got %s",
			    key->enums, mgmt_ucl_type_name(v->type));
	size_t n = strlen(v->text);
	const char *e = key->enums;
	for (int idx = 0; *e != '\0'; idx++) {
		const char *bar = strchr(e, '|');
		size_t len = bar ? (size_t)(bar - e) : strlen(e);
		if (len == n && memcmp(e, v->text, n) == 0) {
			*FIELD(conf, key, int) = idx;
			return 0;
		}
		e += len + (bar != NULL);
	}
	return fail(err, errlen, "must be one of %s, got \"%s\"", key->enums,
		    v->text);
}

static int set_uint(const struct mgmt_conf_key *key,
		    const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		    char *err, size_t errlen)
{
	if (v->type != MGMT_UCL_INT || v->mult == MGMT_UCL_MULT_BIN)
		return want_type(v, "an integer", err, errlen);
	if (v->i < 0 || (uint64_t)v->i < key->min || (uint64_t)v->i > key->max)
		return fail(err, errlen, "must be between %llu and %llu",
			    (unsigned long long)key->min,
			    (unsigned long long)key->max);
	*FIELD(conf, key, unsigned) = (unsigned)v->i;
	return 0;
}

static int set_size(const struct mgmt_conf_key *key,
		    const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		    char *err, size_t errlen)
{
	if (v->type == MGMT_UCL_TIME)
		return fail(err, errlen,
			    "expected a size (e.g. 35M, 64mb), got "
			    "the duration '%s'",
			    v->text);
	if (v->type != MGMT_UCL_INT)
		return want_type(v, "a size (e.g. 35M, 64mb)", err, errlen);
	if (v->i < 0 || (uint64_t)v->i < key->min || (uint64_t)v->i > key->max)
		return fail(err, errlen, "must be between %llu and %llu bytes",
			    (unsigned long long)key->min,
			    (unsigned long long)key->max);
	*FIELD(conf, key, uint64_t) = (uint64_t)v->i;
	return 0;
}

static int set_listen_list(const struct mgmt_conf_key *key,
			   const struct mgmt_ucl_node *v,
			   struct mgmt_conf *conf,
			   const struct mgmt_ucl_node **where, char *err,
			   size_t errlen)
{
	const struct mgmt_ucl_node *items = v;
	unsigned n = 1;

	if (v->type == MGMT_UCL_ARRAY) {
		items = v->child;
		n = v->child_count;
	} else if (v->type != MGMT_UCL_STRING) {
		return want_type(v, "an address or a list of them", err,
				 errlen);
	}
	if (n == 0)
		return fail(err, errlen, "at least one address is required");
	struct mgmt_conf_addr *a = calloc(n, sizeof(*a));
	if (a == NULL)
		return fail(err, errlen, "out of memory");
	for (unsigned i = 0; i < n; i++, items = items->next) {
		*where = items;
		if (items->type != MGMT_UCL_STRING ||
		    mgmt_conf_addr_parse(items->text, &a[i], err, errlen) !=
			0) {
			if (items->type != MGMT_UCL_STRING)
				want_type(items, "an address string", err,
					  errlen);
			free(a);
			return -1;
		}
		for (unsigned j = 0; j < i; j++) {
			if (a[j].sa_len == a[i].sa_len &&
			    memcmp(&a[j].sa, &a[i].sa, a[i].sa_len) == 0 &&
			    ((struct sockaddr_in *)&a[i].sa)->sin_port != 0) {
				fail(err, errlen, "address %s listed twice",
				     a[i].text);
				free(a);
				return -1;
			}
		}
	}
	free(*FIELD(conf, key, struct mgmt_conf_addr *));
	*FIELD(conf, key, struct mgmt_conf_addr *) = a;
	*COUNT(conf, key) = n;
	return 0;
}

static void strlist_free(char **l, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static int set_strlist(const struct mgmt_conf_key *key,
		       const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		       const struct mgmt_ucl_node **where, char *err,
		       size_t errlen)
{
	if (v->type != MGMT_UCL_ARRAY)
		return want_type(v, "a list of strings", err, errlen);
	char **l = calloc(v->child_count + 1, sizeof(char *));
	unsigned n = 0;
	if (l == NULL)
		return fail(err, errlen, "out of memory");
	for (const struct mgmt_ucl_node *c = v->child; c; c = c->next) {
		const char *t = scalar_text(c);
		*where = c;
		if (t == NULL || text_check(t, err, errlen) != 0 ||
		    (l[n] = dup_or_fail(t, err, errlen)) == NULL) {
			if (t == NULL)
				want_type(c, "a string", err, errlen);
			strlist_free(l, n);
			return -1;
		}
		n++;
	}
	strlist_free(*FIELD(conf, key, char **), *COUNT(conf, key));
	*FIELD(conf, key, char **) = l;
	*COUNT(conf, key) = n;
	return 0;
}

static int set_durlist(const struct mgmt_conf_key *key,
		       const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		       const struct mgmt_ucl_node **where, char *err,
		       size_t errlen)
{
	if (v->type != MGMT_UCL_ARRAY || v->child_count == 0)
		return fail(err, errlen,
			    "expected a non-empty list of "
			    "durations, e.g. [60s, 5min, 1h]");
	uint64_t *l = calloc(v->child_count, sizeof(*l));
	unsigned n = 0;
	if (l == NULL)
		return fail(err, errlen, "out of memory");
	for (const struct mgmt_ucl_node *c = v->child; c; c = c->next, n++) {
		*where = c;
		if (duration_ms(c, &l[n], err, errlen) != 0 ||
		    range_check_ms(key, l[n], err, errlen) != 0) {
			free(l);
			return -1;
		}
	}
	free(*FIELD(conf, key, uint64_t *));
	*FIELD(conf, key, uint64_t *) = l;
	*COUNT(conf, key) = n;
	return 0;
}

static int ipv4_parse(const char *s, uint32_t *be)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*be = a.s_addr;
	return 0;
}

static int set_text_typed(const struct mgmt_conf_key *key,
			  const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
			  char *err, size_t errlen)
{
	const char *t = scalar_text(v);

	if (t == NULL)
		return want_type(v, "a string", err, errlen);
	if (text_check(t, err, errlen) != 0)
		return -1;
	switch (key->type) {
	case MGMT_CONF_T_PATH:
		if (t[0] == '\0')
			return fail(err, errlen, "must not be empty");
		if (strlen(t) >= PATH_MAX)
			return fail(err, errlen, "path too long");
		break;
	case MGMT_CONF_T_LISTEN_OPT: {
		struct mgmt_conf_addr a;
		memset(&a, 0, sizeof(a));
		if (t[0] != '\0' && mgmt_conf_addr_parse(t, &a, err, errlen))
			return -1;
		conf->metrics.http_enabled = t[0] != '\0';
		conf->metrics.http = a;
		break;
	}
	case MGMT_CONF_T_CIDR4: {
		char ip[32];
		const char *slash = strchr(t, '/');
		char *end;
		unsigned long len = slash ? strtoul(slash + 1, &end, 10) : 99;
		if (slash == NULL || (size_t)(slash - t) >= sizeof(ip) ||
		    slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
		    len < 1 || len > 32)
			return fail(err, errlen,
				    "expected IPv4/prefix (e.g. "
				    "10.77.0.1/24), got \"%s\"",
				    t);
		memcpy(ip, t, (size_t)(slash - t));
		ip[slash - t] = '\0';
		if (ipv4_parse(ip, &conf->dataplane.dpdk.addr_be) != 0)
			return fail(err, errlen, "bad IPv4 address \"%s\"", ip);
		conf->dataplane.dpdk.prefix_len = (unsigned)len;
		break;
	}
	case MGMT_CONF_T_IPV4_OPT:
		conf->dataplane.dpdk.gateway_be = 0;
		if (t[0] != '\0' &&
		    ipv4_parse(t, &conf->dataplane.dpdk.gateway_be) != 0)
			return fail(err, errlen, "bad IPv4 address \"%s\"", t);
		break;
	case MGMT_CONF_T_LOGTARGET:
		if (t[0] == '\0')
			return fail(err, errlen,
				    "expected stderr, syslog or "
				    "a file path");
		break;
	case MGMT_CONF_T_HOSTNAME: {
		char name[300], host[256];
		if (t[0] == '\0') {
			if (gethostname(host, sizeof(host)) != 0)
				return fail(err, errlen, "gethostname: %s",
					    strerror(errno));
			host[sizeof(host) - 1] = '\0';
			t = host;
		}
		snprintf(name, sizeof(name), "%s", t);
		if (mgmt_conf_domain_check(name, err, errlen) != 0)
			return -1;
		return set_string(key, name, conf, err, errlen);
	}
	case MGMT_CONF_T_GROUP:
		if (t[0] != '\0' && getgrnam(t) == NULL)
			return fail(err, errlen, "no such group \"%s\"", t);
		break;
	default:
		break;
	}
	return set_string(key, t, conf, err, errlen);
}

int mgmt_conf_key_set(const struct mgmt_conf_key *key,
		      const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		      const struct mgmt_ucl_node **where, char *err,
		      size_t errlen)
{
	uint64_t ms;

	*where = v;
	switch (key->type) {
	case MGMT_CONF_T_BOOL:
		if (v->type != MGMT_UCL_BOOL)
			return want_type(v, "true or false", err, errlen);
		*FIELD(conf, key, bool) = v->i != 0;
		return 0;
	case MGMT_CONF_T_UINT:
		return set_uint(key, v, conf, err, errlen);
	case MGMT_CONF_T_SIZE:
		return set_size(key, v, conf, err, errlen);
	case MGMT_CONF_T_DURATION:
		if (duration_ms(v, &ms, err, errlen) != 0 ||
		    range_check_ms(key, ms, err, errlen) != 0)
			return -1;
		*FIELD(conf, key, uint64_t) = ms;
		return 0;
	case MGMT_CONF_T_ENUM:
		return set_enum(key, v, conf, err, errlen);
	case MGMT_CONF_T_LISTEN_LIST:
		return set_listen_list(key, v, conf, where, err, errlen);
	case MGMT_CONF_T_STRLIST:
		return set_strlist(key, v, conf, where, err, errlen);
	case MGMT_CONF_T_DURLIST:
		return set_durlist(key, v, conf, where, err, errlen);
	case MGMT_CONF_T_ROUTE:
		if (v->type != MGMT_UCL_STRING)
			return want_type(v, "a route string", err, errlen);
		return route_parse(v->text,
				   FIELD(conf, key, struct mgmt_conf_route),
				   err, errlen);
	case MGMT_CONF_T_ROUTES:
		return routes_set(v, conf, where, err, errlen);
	case MGMT_CONF_T_DOMAINS:
		return domains_set(v, conf, where, err, errlen);
	default:
		return set_text_typed(key, v, conf, err, errlen);
	}
}

void mgmt_conf_key_free(const struct mgmt_conf_key *key, struct mgmt_conf *conf)
{
	switch (key->type) {
	case MGMT_CONF_T_BOOL:
	case MGMT_CONF_T_UINT:
	case MGMT_CONF_T_SIZE:
	case MGMT_CONF_T_DURATION:
	case MGMT_CONF_T_ENUM:
		return;
	case MGMT_CONF_T_LISTEN_LIST:
	case MGMT_CONF_T_DURLIST:
		free(*FIELD(conf, key, void *));
		*FIELD(conf, key, void *) = NULL;
		*COUNT(conf, key) = 0;
		return;
	case MGMT_CONF_T_STRLIST:
		strlist_free(*FIELD(conf, key, char **), *COUNT(conf, key));
		*FIELD(conf, key, char **) = NULL;
		*COUNT(conf, key) = 0;
		return;
	case MGMT_CONF_T_ROUTE:
		route_free(FIELD(conf, key, struct mgmt_conf_route));
		return;
	case MGMT_CONF_T_ROUTES:
		routes_free(conf);
		return;
	case MGMT_CONF_T_DOMAINS:
		domains_free(conf);
		return;
	default:
		free(*FIELD(conf, key, char *));
		*FIELD(conf, key, char *) = NULL;
		return;
	}
}
