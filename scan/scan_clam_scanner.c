/*
 * scan_clam_scanner — one scanner process (protocol in scan_clam_proto.c).
 *
 * The message body is not copied: the requested range of the queue's
 * segment file is mapped read-only and handed to libclamav as an fmap,
 * with mail parsing on so that attachments are decoded and archives
 * opened (CL_SCAN_PARSE_MAIL, CL_SCAN_PARSE_ARCHIVE and the other
 * parsers), under the configured size, depth, count and time limits.
 */
#include "scan_clam_scanner.h"

#include <clamav.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mx_log.h"
#include "scan_clam_proto.h"

static int send_msg(int fd, const struct scan_clam_msg *m)
{
	uint8_t buf[SCAN_CLAM_MSG_MAX];
	ssize_t n = scan_clam_msg_encode(m, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	while (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int send_text(int fd, uint16_t type, uint64_t seq, uint64_t id,
		     uint32_t code, const char *text)
{
	size_t tl = text ? strlen(text) : 0;
	struct scan_clam_msg m = {
	    .type = type,
	    .seq = seq,
	    .msg_id = id,
	    .code = code,
	    .text_len =
		(uint16_t)(tl > SCAN_CLAM_TEXT_MAX ? SCAN_CLAM_TEXT_MAX : tl),
	    .text = text,
	};
	return send_msg(fd, &m);
}

static void scan_options(struct cl_scan_options *o)
{
	memset(o, 0, sizeof(*o));
	o->parse = ~0u; /* every parser: mail, archives, OLE2, PDF, ... */
	o->general = 0;
	o->heuristic = 0;
}

static cl_error_t scan_mem(const struct cl_engine *eng, const void *p,
			   size_t len, const char **virname)
{
	struct cl_scan_options o;
	unsigned long scanned = 0;
	cl_fmap_t *map = cl_fmap_open_memory(p, len);
	cl_error_t r;

	if (!map)
		return CL_EMEM;
	scan_options(&o);
	*virname = NULL;
	r = cl_scanmap_callback(map, NULL, virname, &scanned, eng, &o, NULL);
	cl_fmap_close(map);
	return r;
}

/* EICAR's 68 bytes, assembled at run time so that this binary itself does
 * not carry the test string for other scanners to flag. */
static void eicar(char out[69])
{
	static const char *const part[] = {
	    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
	    "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!",
	    "$H+H*",
	};
	snprintf(out, 69, "%s%s%s", part[0], part[1], part[2]);
}

static int selftest(const struct cl_engine *eng, char *why, size_t size)
{
	static const char clean[] = "From: selftest@example.org\r\n"
				    "Subject: clean\r\n\r\n"
				    "Nothing to see here.\r\n";
	char bad[69];
	const char *vn;
	cl_error_t r;

	eicar(bad);
	r = scan_mem(eng, bad, 68, &vn);
	if (r != CL_VIRUS) {
		snprintf(why, size,
			 "self-test: EICAR sample not detected "
			 "(%s)",
			 cl_strerror(r));
		return -1;
	}
	r = scan_mem(eng, clean, sizeof(clean) - 1, &vn);
	if (r != CL_CLEAN) {
		snprintf(why, size, "self-test: clean sample %s (%s)",
			 r == CL_VIRUS ? "flagged" : "failed",
			 r == CL_VIRUS && vn ? vn : cl_strerror(r));
		return -1;
	}
	return 0;
}

/* libclamav's own messages: malformed input makes it talk, so they go
 * through a rate limiter like anything else a message can trigger. */
static void on_clmsg(enum cl_msg sev, const char *full, const char *msg,
		     void *ctx)
{
	size_t n = strlen(msg);

	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	if (sev >= CL_MSG_ERROR)
		MX_LOG_RL(MX_LOG_ERR, "clamav", "msg=\"%.*s\"", (int)n, msg);
	else if (sev >= CL_MSG_WARN)
		MX_LOG_RL(MX_LOG_WARN, "clamav", "msg=\"%.*s\"", (int)n, msg);
}

static struct cl_engine *engine_load(const char *dir,
				     const struct scan_clam_limits *lim,
				     unsigned *sigs, char *why, size_t size)
{
	struct cl_engine *eng;
	cl_error_t r;

	cl_set_clcb_msg(on_clmsg);
	r = cl_init(CL_INIT_DEFAULT);
	if (r != CL_SUCCESS) {
		snprintf(why, size, "cl_init: %s", cl_strerror(r));
		return NULL;
	}
	eng = cl_engine_new();
	if (!eng) {
		snprintf(why, size, "cl_engine_new: out of memory");
		return NULL;
	}
	cl_engine_set_num(eng, CL_ENGINE_MAX_SCANSIZE,
			  lim->max_scansize ? (long long)lim->max_scansize
					    : 100LL << 20);
	cl_engine_set_num(eng, CL_ENGINE_MAX_FILESIZE,
			  lim->max_filesize ? (long long)lim->max_filesize
					    : 25LL << 20);
	cl_engine_set_num(eng, CL_ENGINE_MAX_RECURSION,
			  lim->max_recursion ? lim->max_recursion : 16);
	cl_engine_set_num(eng, CL_ENGINE_MAX_FILES,
			  lim->max_files ? lim->max_files : 10000);
	cl_engine_set_num(eng, CL_ENGINE_MAX_SCANTIME,
			  lim->max_scantime_ms ? lim->max_scantime_ms : 60000);
	*sigs = 0;
	r = cl_load(dir, eng, sigs, CL_DB_STDOPT);
	if (r != CL_SUCCESS) {
		snprintf(why, size, "cl_load %s: %s", dir, cl_strerror(r));
		goto fail;
	}
	if (*sigs == 0) {
		snprintf(why, size, "cl_load %s: no signatures", dir);
		goto fail;
	}
	r = cl_engine_compile(eng);
	if (r != CL_SUCCESS) {
		snprintf(why, size, "cl_engine_compile: %s", cl_strerror(r));
		goto fail;
	}
	if (selftest(eng, why, size))
		goto fail;
	return eng;
fail:
	cl_engine_free(eng);
	return NULL;
}

#ifdef SCAN_CLAM_TEST_HOOKS
/* Test builds only (mxgate-scanner-test): a body that starts with a magic
 * word makes this scanner misbehave on purpose. */
static void test_hooks(const uint8_t *p, size_t len)
{
	if (len >= 16 && memcmp(p, "MXGATE-TEST-HANG", 16) == 0)
		for (;;)
			pause();
	if (len >= 17 && memcmp(p, "MXGATE-TEST-CRASH", 17) == 0)
		abort();
	if (len >= 17 && memcmp(p, "MXGATE-TEST-SLOW ", 17) == 0) {
		long ms = strtol((const char *)p + 17, NULL, 10);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}
#endif

static void scan_one(int fd, const struct cl_engine *eng,
		     const struct scan_clam_msg *req)
{
	char path[SCAN_CLAM_TEXT_MAX + 1];
	long page = sysconf(_SC_PAGESIZE);
	const char *vn = NULL;
	cl_error_t r;

	memcpy(path, req->text, req->text_len);
	path[req->text_len] = 0;
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		char why[256];
		snprintf(why, sizeof(why), "open: %s", strerror(errno));
		MX_LOG_RL(MX_LOG_WARN, "scanner",
			  "msg=%llx event=open_failed "
			  "path=\"%s\" err=\"%s\"",
			  (unsigned long long)req->msg_id, path,
			  strerror(errno));
		send_text(fd, SCAN_CLAM_RSP_VERDICT, req->seq, req->msg_id,
			  SCAN_V_ERROR, why);
		return;
	}
	/* A range past the end would fault (SIGBUS) when touched: refuse it
	 * as an error instead of dying on it. */
	struct stat st;
	if (fstat(f, &st) < 0 || req->off + req->len > (uint64_t)st.st_size) {
		close(f);
		send_text(fd, SCAN_CLAM_RSP_VERDICT, req->seq, req->msg_id,
			  SCAN_V_ERROR, "range beyond end of file");
		return;
	}
	uint64_t base = req->off & ~(uint64_t)(page - 1);
	size_t delta = (size_t)(req->off - base);
	void *map =
	    mmap(NULL, req->len + delta, PROT_READ, MAP_SHARED, f, (off_t)base);
	close(f);
	if (map == MAP_FAILED) {
		char why[256];
		snprintf(why, sizeof(why), "mmap: %s", strerror(errno));
		send_text(fd, SCAN_CLAM_RSP_VERDICT, req->seq, req->msg_id,
			  SCAN_V_ERROR, why);
		return;
	}
	const uint8_t *body = (const uint8_t *)map + delta;
#ifdef SCAN_CLAM_TEST_HOOKS
	test_hooks(body, req->len);
#endif
	r = scan_mem(eng, body, req->len, &vn);
	munmap(map, req->len + delta);
	if (r == CL_VIRUS) {
		send_text(fd, SCAN_CLAM_RSP_VERDICT, req->seq, req->msg_id,
			  SCAN_V_INFECTED, vn ? vn : "unknown");
	} else if (r == CL_CLEAN) {
		send_text(fd, SCAN_CLAM_RSP_VERDICT, req->seq, req->msg_id,
			  SCAN_V_CLEAN, NULL);
	} else {
		MX_LOG_RL(MX_LOG_WARN, "scanner",
			  "msg=%llx event=scan_error "
			  "err=\"%s\"",
			  (unsigned long long)req->msg_id, cl_strerror(r));
		send_text(fd, SCAN_CLAM_RSP_VERDICT, req->seq, req->msg_id,
			  SCAN_V_ERROR, cl_strerror(r));
	}
}

int scan_clam_scanner_main(int fd, const char *db_dir,
			   const struct scan_clam_limits *lim)
{
	char why[512], desc[128];
	unsigned sigs;
	struct cl_engine *eng =
	    engine_load(db_dir, lim, &sigs, why, sizeof(why));

	if (!eng) {
		mx_log(MX_LOG_ERR, "scanner",
		       "event=load_failed db=\"%s\" "
		       "reason=\"%s\"",
		       db_dir, why);
		send_text(fd, SCAN_CLAM_RSP_LOADFAIL, 0, 0, 0, why);
		return 1;
	}
	snprintf(desc, sizeof(desc), "libclamav %s, %u signatures", cl_retver(),
		 sigs);
	if (send_text(fd, SCAN_CLAM_RSP_READY, 0, 0, sigs, desc) < 0)
		return 2;
	for (;;) {
		uint8_t buf[SCAN_CLAM_MSG_MAX];
		struct scan_clam_msg req;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break; /* the pool closed us: normal exit */
		if (n < 0 || scan_clam_msg_decode(buf, (size_t)n, &req) ||
		    req.type != SCAN_CLAM_REQ_SCAN) {
			mx_log(MX_LOG_ERR, "scanner", "event=bad_request");
			cl_engine_free(eng);
			return 2;
		}
		scan_one(fd, eng, &req);
	}
	cl_engine_free(eng);
	return 0;
}
