/*
 * golden_run — drives the SMTP engine through a client script (*.in) and
 * compares the transcript with the expected one (*.ref).
 *
 * Script lines:
 *   C: text        the text and CRLF
 *   R: text        raw bytes, no CRLF added; escapes \r \n \t \0 \\ \xHH
 *   !fill N text   the (escaped) text N times, no CRLF
 *   !repeat N C: text / !repeat N R: text
 *   !conf KEY VAL  engine limits (before any input)
 *   !nostart       do not send the banner before the first input
 *   !start         send the banner now
 *   !open ERRNO    the next msg_open fails (ENOSPC, EIO, ...)
 *   !writefail ERRNO  the next message's first body write fails
 *   !commit ERRNO|ok  outcome of the next commit (default ok)
 *   !synccommit    the host commits from inside msg_commit
 *   !drainmax N    the host takes at most N output bytes at a time
 *   !tick MS       advance the clock and call dp_smtp_timeout
 *   !refuse TEXT   dp_smtp_refuse(TEXT) now (drain, shutdown)
 *   !split         the bytes before and after go in separate input calls
 *   # comment
 *
 * The transcript has the server's lines (S:), [close], each message the
 * host saw (envelope, status, exact body) and the non-zero counters.  The
 * script is run whole, then split in two at every byte offset, then one
 * byte per call; every run must give the same transcript (the pipelining
 * counter, which measures segmentation, is left out of the comparison).
 *
 * Usage: golden_run FILE.in FILE.ref [--update]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_policy.h"
#include "dp_smtp.h"
#include "mx_hex.h"
#include "mx_log.h"
#include "smtp_test_host.h"

enum item_kind { IT_BYTES, IT_START, IT_TICK, IT_REFUSE, IT_SPLIT };

struct item {
	enum item_kind kind;
	size_t off, len; /* IT_BYTES: range in the script's bytes */
	uint64_t ms;
	char text[128]; /* IT_REFUSE */
};

struct script {
	struct dp_smtp_conf conf;
	bool nostart, sync_commit;
	size_t drain_max;
	int open_fail[TH_QUEUE_MAX];
	unsigned open_fail_count;
	int write_fail;
	int commits[TH_QUEUE_MAX];
	unsigned commit_count;
	uint8_t *bytes;
	size_t len, size;
	struct item items[1024];
	unsigned item_count;
};

struct out {
	char *p;
	size_t len, size;
};

static void out_add(struct out *o, const void *p, size_t n)
{
	if (o->len + n + 1 > o->size) {
		o->size = (o->len + n + 1) * 2;
		o->p = realloc(o->p, o->size);
		if (o->p == NULL)
			abort();
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* Printable transcript of raw bytes: CR LF as \r\n plus a newline. */
static void out_escaped(struct out *o, const uint8_t *p, size_t n,
			const char *prefix)
{
	bool bol = true;

	for (size_t i = 0; i < n; i++) {
		char tmp[8];
		uint8_t c = p[i];

		if (bol)
			out_str(o, prefix);
		bol = false;
		if (c == '\r')
			out_str(o, "\\r");
		else if (c == '\n') {
			out_str(o, "\\n\n");
			bol = true;
		} else if (c == '\\')
			out_str(o, "\\\\");
		else if (c == '\t')
			out_str(o, "\\t");
		else if (c < 32 || c >= 127) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			out_str(o, tmp);
		} else
			out_add(o, &c, 1);
	}
	if (!bol)
		out_str(o, "[no newline]\n");
}

static void die(const char *file, unsigned line, const char *what)
{
	fprintf(stderr, "%s:%u: %s\n", file, line, what);
	exit(2);
}

static void add_bytes(struct script *sc, const void *p, size_t n)
{
	struct item *it;

	if (sc->len + n > sc->size) {
		sc->size = (sc->len + n) * 2 + 4096;
		sc->bytes = realloc(sc->bytes, sc->size);
		if (sc->bytes == NULL)
			abort();
	}
	memcpy(sc->bytes + sc->len, p, n);
	it = sc->item_count ? &sc->items[sc->item_count - 1] : NULL;
	if (it == NULL || it->kind != IT_BYTES) {
		if (sc->item_count == 1024)
			abort();
		it = &sc->items[sc->item_count++];
		it->kind = IT_BYTES;
		it->off = sc->len;
		it->len = 0;
	}
	it->len += n;
	sc->len += n;
}

static size_t unescape(const char *s, uint8_t *out)
{
	size_t n = 0;

	for (; *s; s++) {
		if (*s != '\\') {
			out[n++] = (uint8_t)*s;
			continue;
		}
		s++;
		switch (*s) {
		case 'r':
			out[n++] = '\r';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case '0':
			out[n++] = '\0';
			break;
		case '\\':
			out[n++] = '\\';
			break;
		case 'x':
			if (mx_hexval(s[1]) < 0 || mx_hexval(s[2]) < 0)
				return (size_t)-1;
			out[n++] = (uint8_t)(mx_hexval(s[1]) * 16 + mx_hexval(s[2]));
			s += 2;
			break;
		default:
			return (size_t)-1;
		}
	}
	return n;
}

static int errno_of(const char *name)
{
	static const struct {
		const char *n;
		int e;
	} t[] = {
	    {"ok", 0},	      {"ENOSPC", ENOSPC}, {"EIO", EIO},
	    {"EPERM", EPERM}, {"EFBIG", EFBIG},	  {"ENOMEM", ENOMEM},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].n, name) == 0)
			return -t[i].e;
	return 1;
}

static bool conf_set(struct dp_smtp_conf *c, const char *key,
		     unsigned long long v)
{
	if (!strcmp(key, "rcpt_max"))
		c->rcpt_max = (unsigned)v;
	else if (!strcmp(key, "errors_max"))
		c->errors_max = (unsigned)v;
	else if (!strcmp(key, "junk_max"))
		c->junk_max = (unsigned)v;
	else if (!strcmp(key, "msg_size_max"))
		c->msg_size_max = v;
	else if (!strcmp(key, "cmd_line_max"))
		c->cmd_line_max = v;
	else if (!strcmp(key, "text_line_max"))
		c->text_line_max = v;
	else if (!strcmp(key, "pregreet"))
		c->pregreet = v != 0;
	else if (!strcmp(key, "pipelining"))
		c->ext_pipelining = v != 0;
	else if (!strcmp(key, "8bitmime"))
		c->ext_8bitmime = v != 0;
	else if (!strcmp(key, "chunking"))
		c->ext_chunking = v != 0;
	else if (!strcmp(key, "smtputf8"))
		c->ext_smtputf8 = v != 0;
	else if (!strcmp(key, "dsn"))
		c->ext_dsn = v != 0;
	else if (!strcmp(key, "arena"))
		c->envelope_arena_size = v;
	else if (!strcmp(key, "out_size"))
		c->out_size = v;
	else if (!strcmp(key, "cmd_timeout_ms"))
		c->cmd_timeout_ms = (uint32_t)v;
	else if (!strcmp(key, "data_timeout_ms"))
		c->data_timeout_ms = (uint32_t)v;
	else
		return false;
	return true;
}

static void parse_line(struct script *sc, const char *file, unsigned ln,
		       char *line, unsigned repeat)
{
	static uint8_t buf[1 << 16];
	size_t n;

	if (strncmp(line, "C: ", 3) == 0 || strncmp(line, "R: ", 3) == 0) {
		n = unescape(line + 3, buf);
		if (n == (size_t)-1)
			die(file, ln, "bad escape");
		if (line[0] == 'C') {
			buf[n++] = '\r';
			buf[n++] = '\n';
		}
		for (unsigned r = 0; r < repeat; r++)
			add_bytes(sc, buf, n);
	} else if (strcmp(line, "C:") == 0) {
		for (unsigned r = 0; r < repeat; r++)
			add_bytes(sc, "\r\n", 2);
	} else {
		die(file, ln, "expected C: or R:");
	}
}

static void load(struct script *sc, const char *file)
{
	FILE *f = fopen(file, "r");
	static char line[1 << 16];
	unsigned ln = 0;

	if (f == NULL)
		die(file, 0, strerror(errno));
	memset(sc, 0, sizeof(*sc));
	dp_smtp_conf_defaults(&sc->conf);
	strcpy(sc->conf.hostname, "mx.test");
	while (fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);
		char key[64], arg[256];
		unsigned long long v;
		unsigned count;
		int pos;

		ln++;
		if (l > 0 && line[l - 1] == '\n')
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		if (line[0] != '!') {
			parse_line(sc, file, ln, line, 1);
		} else if (sscanf(line, "!conf %63s %llu", key, &v) == 2) {
			if (!conf_set(&sc->conf, key, v))
				die(file, ln, "unknown conf key");
		} else if (strcmp(line, "!nostart") == 0) {
			sc->nostart = true;
		} else if (sscanf(line, "!drainmax %llu", &v) == 1) {
			sc->drain_max = v;
		} else if (strcmp(line, "!synccommit") == 0) {
			sc->sync_commit = true;
		} else if (strcmp(line, "!split") == 0) {
			sc->items[sc->item_count++].kind = IT_SPLIT;
		} else if (strcmp(line, "!start") == 0) {
			sc->items[sc->item_count++].kind = IT_START;
		} else if (sscanf(line, "!tick %llu", &v) == 1) {
			sc->items[sc->item_count].kind = IT_TICK;
			sc->items[sc->item_count++].ms = v;
		} else if (strncmp(line, "!refuse ", 8) == 0) {
			struct item *it = &sc->items[sc->item_count++];

			it->kind = IT_REFUSE;
			snprintf(it->text, sizeof(it->text), "%.127s",
				 line + 8);
		} else if (sscanf(line, "!open %255s", arg) == 1) {
			sc->open_fail[sc->open_fail_count++] = errno_of(arg);
		} else if (sscanf(line, "!writefail %255s", arg) == 1) {
			sc->write_fail = errno_of(arg);
		} else if (sscanf(line, "!commit %255s", arg) == 1) {
			if (errno_of(arg) > 0)
				die(file, ln, "unknown errno name");
			sc->commits[sc->commit_count++] = errno_of(arg);
		} else if (sscanf(line, "!repeat %u %n", &count, &pos) == 1) {
			parse_line(sc, file, ln, line + pos, count);
		} else if (sscanf(line, "!fill %u %n", &count, &pos) == 1) {
			static uint8_t one[4096];
			size_t n = unescape(line + pos, one);

			if (n == (size_t)-1)
				die(file, ln, "bad escape");
			for (unsigned r = 0; r < count; r++)
				add_bytes(sc, one, n);
		} else {
			die(file, ln, "unknown directive");
		}
	}
	fclose(f);
	if (dp_smtp_conf_check(&sc->conf) != 0)
		die(file, 0, "conf rejected by dp_smtp_conf_check");
}

struct run {
	struct th_host host;
	struct dp_smtp_session *s;
	struct out out;	  /* the server's bytes */
	uint8_t *pending; /* bytes the engine has not taken yet */
	size_t pending_len;
	uint64_t now;
	size_t drain_max;
	bool closed;
};

/* Takes output as a socket would (all of it, or drain_max at most);
 * returns the bytes taken. */
static size_t drain(struct run *r)
{
	size_t n;
	const uint8_t *p = dp_smtp_output(r->s, &n);

	if (r->drain_max && n > r->drain_max)
		n = r->drain_max;
	out_add(&r->out, p, n);
	dp_smtp_output_consume(r->s, n);
	return n;
}

static void drain_all(struct run *r)
{
	while (drain(r) > 0)
		;
}

/* Gives the engine all pending bytes it will take, answering commits. */
static void pump(struct run *r)
{
	for (;;) {
		size_t n = 0, taken;

		if (r->pending_len > 0 && !r->closed)
			n = dp_smtp_input(r->s, r->pending, r->pending_len,
					  r->now);
		memmove(r->pending, r->pending + n, r->pending_len - n);
		r->pending_len -= n;
		taken = drain(r);
		if (dp_smtp_awaiting_commit(r->s)) {
			struct th_msg *m = &r->host.msgs[r->host.msg_count - 1];
			int rc = th_host_next_commit(&r->host);

			m->commit_status = rc;
			m->status = rc == 0 ? "committed" : "commit-failed";
			dp_smtp_commit_done(r->s, rc, m->id);
			continue;
		}
		if (dp_smtp_want_close(r->s)) {
			drain_all(r);
			r->closed = true;
			r->pending_len = 0;
			return;
		}
		if (n == 0 && taken == 0)
			return;
	}
}

static void feed(struct run *r, const uint8_t *p, size_t n)
{
	memcpy(r->pending + r->pending_len, p, n);
	r->pending_len += n;
	pump(r);
}

static void render(struct run *r, struct out *t, bool all_counters,
		   const uint64_t *c0)
{
	const char *p = r->out.p ? r->out.p : "";
	size_t len = r->out.len;

	while (len > 0) {
		const char *e = memmem(p, len, "\r\n", 2);
		size_t l = e ? (size_t)(e - p) : len;

		out_str(t, e ? "S: " : "S! ");
		out_add(t, p, l);
		out_str(t, "\n");
		if (e == NULL)
			break;
		p += l + 2;
		len -= l + 2;
	}
	if (r->closed)
		out_str(t, "[close]\n");
	if (r->pending_len)
		out_str(t, "[input left unread]\n");
	for (unsigned i = 0; i < r->host.msg_count; i++) {
		struct th_msg *m = &r->host.msgs[i];
		char hdr[128];

		snprintf(hdr, sizeof(hdr), "== message %016llx %s\n",
			 (unsigned long long)m->id, m->status);
		out_str(t, hdr);
		out_str(t, m->env_text);
		/* How much of an aborted message reached the host before the
		 * abort depends on segmentation; it is never stored. */
		if (strcmp(m->status, "aborted") != 0)
			out_escaped(t, m->body, m->body_len, "| ");
	}
	out_str(t, "== counters\n");
	for (unsigned i = 0; i < DP_SMTP_C__COUNT; i++) {
		uint64_t v = mx_counter_local(&dp_smtp_counters, i) - c0[i];
		char line[128];

		if (v == 0 || (!all_counters && i == smtp_err_pipelining))
			continue;
		snprintf(line, sizeof(line), "%s=%llu\n",
			 dp_smtp_counters.desc[i].name, (unsigned long long)v);
		out_str(t, line);
	}
}

/* One run of the script; split == 0: whole items, split == SIZE_MAX: one
 * byte per call, else the byte stream is also cut at offset split. */
static char *run_once(const struct script *sc, const struct dp_policy *pol,
		      size_t split, bool all_counters)
{
	struct dp_smtp_peer peer = {"192.0.2.7", 40000, "192.0.2.1", 25, NULL};
	uint64_t c0[DP_SMTP_C__COUNT];
	struct out t = {0};
	struct run r;

	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < DP_SMTP_C__COUNT; i++)
		c0[i] = mx_counter_local(&dp_smtp_counters, i);
	th_host_init(&r.host, pol);
	r.host.sync_commit = sc->sync_commit;
	memcpy(r.host.open_fail, sc->open_fail, sizeof(sc->open_fail));
	r.host.open_fail_count = sc->open_fail_count;
	r.host.write_fail = sc->write_fail;
	memcpy(r.host.commits, sc->commits, sizeof(sc->commits));
	r.host.commit_count = sc->commit_count;
	r.pending = malloc(sc->len + 1);
	r.s = aligned_alloc(8, (dp_smtp_session_size(&sc->conf) + 7) & ~7ul);
	if (r.pending == NULL || r.s == NULL)
		abort();
	r.now = 1000;
	r.drain_max = sc->drain_max;
	dp_smtp_session_init(r.s, &sc->conf, &r.host.ops, &r.host, &peer,
			     r.now);
	r.host.s = r.s;
	if (!sc->nostart)
		dp_smtp_start(r.s);
	drain(&r);
	for (unsigned i = 0; i < sc->item_count; i++) {
		const struct item *it = &sc->items[i];

		if (it->kind == IT_SPLIT) {
			continue;
		} else if (it->kind == IT_START) {
			dp_smtp_start(r.s);
			drain(&r);
			pump(&r);
		} else if (it->kind == IT_REFUSE) {
			dp_smtp_refuse(r.s, it->text);
			drain(&r);
			pump(&r);
		} else if (it->kind == IT_TICK) {
			r.now += it->ms;
			dp_smtp_timeout(r.s, r.now);
			drain(&r);
			pump(&r);
		} else if (split == SIZE_MAX) {
			for (size_t k = 0; k < it->len; k++)
				feed(&r, sc->bytes + it->off + k, 1);
		} else if (split > it->off && split < it->off + it->len) {
			size_t a = split - it->off;

			feed(&r, sc->bytes + it->off, a);
			feed(&r, sc->bytes + it->off + a, it->len - a);
		} else {
			feed(&r, sc->bytes + it->off, it->len);
		}
	}
	drain_all(&r);
	dp_smtp_session_fini(r.s);
	render(&r, &t, all_counters, c0);
	th_host_fini(&r.host);
	free(r.s);
	free(r.pending);
	free(r.out.p);
	return t.p;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	struct out o = {0};
	char buf[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		out_add(&o, buf, n);
	fclose(f);
	return o.p ? o.p : calloc(1, 1);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/smtp-golden-XXXXXX", db[64];
	struct dp_policy *pol;
	struct script *sc;
	char *whole, *whole_cmp, *ref;
	int failed = 0;

	if (argc < 3) {
		fprintf(stderr,
			"usage: golden_run FILE.in FILE.ref [--update]\n");
		return 2;
	}
	/* The engine's rate-limited notes are not part of the transcript. */
	mx_log_set_level(MX_LOG_WARN);
	sc = malloc(sizeof(*sc));
	if (sc == NULL || mkdtemp(dir) == NULL)
		return 2;
	load(sc, argv[1]);
	if (th_policy_create(dir, &pol) < 0)
		return 2;
	whole = run_once(sc, pol, 0, true);
	whole_cmp = run_once(sc, pol, 0, false);
	if (argc > 3 && strcmp(argv[3], "--update") == 0) {
		FILE *f = fopen(argv[2], "w");

		if (f == NULL || fputs(whole, f) < 0 || fclose(f) != 0)
			return 2;
	}
	ref = slurp(argv[2]);
	if (ref == NULL || strcmp(ref, whole) != 0) {
		fprintf(stderr, "%s: transcript differs from %s; got:\n%s",
			argv[1], argv[2], whole);
		failed = 1;
	}
	for (size_t k = 1; k <= sc->len && !failed; k++) {
		size_t split = k == sc->len ? SIZE_MAX : k;
		char *t = run_once(sc, pol, split, false);

		if (strcmp(t, whole_cmp) != 0) {
			fprintf(stderr, "%s: split at %s%zu differs; got:\n%s",
				argv[1],
				split == SIZE_MAX ? "every byte, " : "", k, t);
			failed = 1;
		}
		free(t);
	}
	dp_policy_destroy(pol);
	snprintf(db, sizeof(db), "%s/users.lmdb", dir);
	unlink(db);
	rmdir(dir);
	free(whole);
	free(whole_cmp);
	free(ref);
	free(sc->bytes);
	free(sc);
	return failed;
}
