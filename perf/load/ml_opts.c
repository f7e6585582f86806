/*
 * ml_opts — parse mxload's command line into struct ml_opts.
 */
#include "ml_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

void ml_opts_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mxload [options] -s HOST:PORT\n"
	    "  -s, --server HOST:PORT   target (IPv6 as [::1]:PORT)\n"
	    "      --netns NAME         run inside network namespace "
	    "/run/netns/NAME\n"
	    "  -c, --conns N            concurrent connections (8)\n"
	    "  -t, --threads N          worker threads, one io_uring each (1)\n"
	    "  -m, --messages N         messages in total (1000)\n"
	    "  -k, --per-conn N         messages per connection, 1 = new "
	    "connection\n"
	    "                           per message, 0 = unlimited (0)\n"
	    "  -r, --rcpts N            recipients per message (1)\n"
	    "      --rcpt TEMPLATE      recipient template with one %%d\n"
	    "                           (user%%d@example.test)\n"
	    "      --rcpt-users N       distinct %%d values (1000)\n"
	    "      --from ADDR          envelope sender (load@mxload.test)\n"
	    "      --helo NAME          EHLO name (mxload.test)\n"
	    "  -l, --size BYTES         fixed message size, k/m suffix (1k)\n"
	    "      --lognormal MED:SIG  sizes lognormal: median bytes, sigma "
	    "of ln\n"
	    "      --size-file FILE     sizes drawn from FILE (one byte count "
	    "a line)\n"
	    "      --content KIND       text | html | attach (base64 "
	    "attachment)\n"
	    "      --eml-dir DIR        send the .eml files of DIR instead\n"
	    "      --eicar RATE         fraction of messages carrying EICAR "
	    "(0)\n"
	    "      --pool N             distinct prebuilt messages (256)\n"
	    "      --seed N             generator seed (1)\n"
	    "      --no-pipelining      never pipeline, even if offered\n"
	    "      --no-chunking        never use BDAT, even if offered\n"
	    "      --depth K            with PIPELINING and CHUNKING, up to K "
	    "whole\n"
	    "                           transactions (MAIL, RCPT, BDAT LAST + "
	    "data)\n"
	    "                           in one write before their replies; "
	    "without\n"
	    "                           CHUNKING a connection uses 1 (1, at "
	    "most %u)\n"
	    "      --pipeline-next      send the next envelope in the same "
	    "write as\n"
	    "                           the end of data (RFC 2920 allows it; "
	    "some\n"
	    "                           servers, e.g. Haraka 3, refuse it with "
	    "5xx)\n"
	    "  -R, --rate MSG/S         open loop at this rate (default: "
	    "closed loop)\n"
	    "  -d, --duration SEC       stop starting messages after SEC "
	    "seconds\n"
	    "      --timeout SEC        per reply and connect (30)\n"
	    "      --quickack           ACK every reply at once "
	    "(TCP_QUICKACK): avoids\n"
	    "                           the 40 ms delayed-ACK stall with "
	    "servers that\n"
	    "                           write one reply in several Nagle'd "
	    "segments\n"
	    "      --json FILE          write the full result as JSON\n"
	    "  -q, --quiet              no summary line\n",
	    ML_DEPTH_MAX);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v *= 1024;
		end++;
		break;
	case 'm':
	case 'M':
		v *= 1024 * 1024;
		end++;
		break;
	default:
		break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned *out, unsigned max)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*out) || *out < 0)
		return -EINVAL;
	return 0;
}

static int parse_target(struct ml_opts *o, const char *s)
{
	char host[64];
	const char *colon, *hs = s;
	size_t hl;
	unsigned port;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = 0;
	if (parse_uint(colon + 1, &port, 65535) < 0 || port == 0)
		return -EINVAL;

	memset(&o->addr, 0, sizeof(o->addr));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&o->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o->addr;

	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		o->addr_len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		o->addr_len = sizeof(*a6);
	} else {
		return -EINVAL;
	}
	snprintf(o->target, sizeof(o->target), "%s", s);
	return 0;
}

/* The template must hold exactly one %d and no other conversion. */
static bool rcpt_tmpl_ok(const char *t)
{
	unsigned n = 0;

	for (; *t; t++) {
		if (*t != '%')
			continue;
		if (t[1] != 'd')
			return false;
		n++;
		t++;
	}
	return n == 1;
}

enum {
	OPT_RCPT = 256,
	OPT_RCPT_USERS,
	OPT_FROM,
	OPT_HELO,
	OPT_LOGNORMAL,
	OPT_SIZE_FILE,
	OPT_CONTENT,
	OPT_EML_DIR,
	OPT_EICAR,
	OPT_POOL,
	OPT_SEED,
	OPT_NO_PIPE,
	OPT_NO_CHUNK,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_NETNS,
	OPT_QUICKACK,
	OPT_PIPE_NEXT,
	OPT_DEPTH,
};

static const struct option long_opts[] = {
    {"server", required_argument, NULL, 's'},
    {"conns", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"messages", required_argument, NULL, 'm'},
    {"per-conn", required_argument, NULL, 'k'},
    {"rcpts", required_argument, NULL, 'r'},
    {"size", required_argument, NULL, 'l'},
    {"rate", required_argument, NULL, 'R'},
    {"duration", required_argument, NULL, 'd'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"rcpt", required_argument, NULL, OPT_RCPT},
    {"rcpt-users", required_argument, NULL, OPT_RCPT_USERS},
    {"from", required_argument, NULL, OPT_FROM},
    {"helo", required_argument, NULL, OPT_HELO},
    {"lognormal", required_argument, NULL, OPT_LOGNORMAL},
    {"size-file", required_argument, NULL, OPT_SIZE_FILE},
    {"content", required_argument, NULL, OPT_CONTENT},
    {"eml-dir", required_argument, NULL, OPT_EML_DIR},
    {"eicar", required_argument, NULL, OPT_EICAR},
    {"pool", required_argument, NULL, OPT_POOL},
    {"seed", required_argument, NULL, OPT_SEED},
    {"no-pipelining", no_argument, NULL, OPT_NO_PIPE},
    {"no-chunking", no_argument, NULL, OPT_NO_CHUNK},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", required_argument, NULL, OPT_JSON},
    {"netns", required_argument, NULL, OPT_NETNS},
    {"quickack", no_argument, NULL, OPT_QUICKACK},
    {"pipeline-next", no_argument, NULL, OPT_PIPE_NEXT},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {NULL, 0, NULL, 0},
};

static void set_defaults(struct ml_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->conns = 8;
	o->threads = 1;
	o->msgs = 1000;
	o->rcpts = 1;
	o->rcpt_users = 1000;
	o->rcpt_tmpl = "user%d@example.test";
	o->from = "load@mxload.test";
	o->helo = "mxload.test";
	o->size_kind = ML_SIZE_FIXED;
	o->size = 1024;
	o->content = ML_CONTENT_TEXT;
	o->pool_max = 256;
	o->seed = 1;
	o->pipelining = true;
	o->chunking = true;
	o->depth = 1;
	o->timeout_ns = 30ull * 1000000000ull;
}

static int bad(const char *opt, const char *arg)
{
	fprintf(stderr, "mxload: bad value for %s: '%s'\n", opt, arg);
	return -EINVAL;
}

int ml_opts_parse(struct ml_opts *o, int argc, char **argv)
{
	bool have_target = false;
	double d;
	int c;

	set_defaults(o);
	while ((c = getopt_long(argc, argv, "s:c:t:m:k:r:l:R:d:qh", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_target(o, optarg) < 0)
				return bad("--server", optarg);
			have_target = true;
			break;
		case 'c':
			if (parse_uint(optarg, &o->conns, 1000000) < 0 ||
			    o->conns == 0)
				return bad("--conns", optarg);
			break;
		case 't':
			if (parse_uint(optarg, &o->threads, 1024) < 0 ||
			    o->threads == 0)
				return bad("--threads", optarg);
			break;
		case 'm':
			if (parse_u64(optarg, &o->msgs) < 0)
				return bad("--messages", optarg);
			break;
		case 'k':
			if (parse_uint(optarg, &o->msgs_per_conn, 1u << 30) < 0)
				return bad("--per-conn", optarg);
			break;
		case 'r':
			if (parse_uint(optarg, &o->rcpts, 1000) < 0 ||
			    o->rcpts == 0)
				return bad("--rcpts", optarg);
			break;
		case 'l':
			if (parse_u64(optarg, &o->size) < 0 ||
			    o->size > (64u << 20))
				return bad("--size", optarg);
			o->size_kind = ML_SIZE_FIXED;
			break;
		case 'R':
			if (parse_double(optarg, &o->rate) < 0)
				return bad("--rate", optarg);
			break;
		case 'd':
			if (parse_double(optarg, &o->duration_s) < 0)
				return bad("--duration", optarg);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			ml_opts_usage(stdout);
			exit(0);
		case OPT_RCPT:
			if (!rcpt_tmpl_ok(optarg) || strlen(optarg) > 200)
				return bad("--rcpt", optarg);
			o->rcpt_tmpl = optarg;
			break;
		case OPT_RCPT_USERS:
			if (parse_uint(optarg, &o->rcpt_users, 1u << 30) < 0 ||
			    o->rcpt_users == 0)
				return bad("--rcpt-users", optarg);
			break;
		case OPT_FROM:
			if (strlen(optarg) > 200 || strpbrk(optarg, "<>\r\n"))
				return bad("--from", optarg);
			o->from = optarg;
			break;
		case OPT_HELO:
			if (strlen(optarg) > 200 || strpbrk(optarg, " \r\n"))
				return bad("--helo", optarg);
			o->helo = optarg;
			break;
		case OPT_LOGNORMAL: {
			char *colon = strchr(optarg, ':');

			if (!colon)
				return bad("--lognormal", optarg);
			*colon = 0;
			if (parse_u64(optarg, &o->size) < 0 || o->size == 0 ||
			    parse_double(colon + 1, &o->sigma) < 0)
				return bad("--lognormal", optarg);
			o->size_kind = ML_SIZE_LOGNORMAL;
			break;
		}
		case OPT_SIZE_FILE:
			o->size_file = optarg;
			o->size_kind = ML_SIZE_FILE;
			break;
		case OPT_CONTENT:
			if (!strcmp(optarg, "text"))
				o->content = ML_CONTENT_TEXT;
			else if (!strcmp(optarg, "html"))
				o->content = ML_CONTENT_HTML;
			else if (!strcmp(optarg, "attach"))
				o->content = ML_CONTENT_ATTACH;
			else
				return bad("--content", optarg);
			break;
		case OPT_EML_DIR:
			o->eml_dir = optarg;
			o->content = ML_CONTENT_EML;
			break;
		case OPT_EICAR:
			if (parse_double(optarg, &o->eicar_rate) < 0 ||
			    o->eicar_rate > 1.0)
				return bad("--eicar", optarg);
			break;
		case OPT_POOL:
			if (parse_uint(optarg, &o->pool_max, 1u << 20) < 0 ||
			    o->pool_max == 0)
				return bad("--pool", optarg);
			break;
		case OPT_SEED:
			if (parse_u64(optarg, &o->seed) < 0)
				return bad("--seed", optarg);
			break;
		case OPT_NO_PIPE:
			o->pipelining = false;
			break;
		case OPT_NO_CHUNK:
			o->chunking = false;
			break;
		case OPT_TIMEOUT:
			if (parse_double(optarg, &d) < 0 || d <= 0)
				return bad("--timeout", optarg);
			o->timeout_ns = (uint64_t)(d * 1e9);
			break;
		case OPT_JSON:
			o->json_path = optarg;
			break;
		case OPT_NETNS:
			o->netns = optarg;
			break;
		case OPT_QUICKACK:
			o->quickack = true;
			break;
		case OPT_PIPE_NEXT:
			o->pipeline_next = true;
			break;
		case OPT_DEPTH:
			if (parse_uint(optarg, &o->depth, ML_DEPTH_MAX) < 0 ||
			    o->depth == 0)
				return bad("--depth", optarg);
			break;
		default:
			ml_opts_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || !have_target) {
		ml_opts_usage(stderr);
		return -EINVAL;
	}
	if (o->threads > o->conns)
		o->threads = o->conns;
	return 0;
}
