/*
 * smoke_sink — see smoke_sink.h.  user_data of its SQEs: DP_UD_SINK |
 * slot << 1 | (0 for the write, 1 for the fsync).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_smtp.h"
#include "smoke_sink.h"

#define SLOTS 64
#define MSG_MAX (4u << 20)

enum { FREE = 0, OPEN, COMMITTED, WRITING };

struct fmsg {
	int state;
	int fd;
	int err;
	uint64_t cookie, id;
	uint8_t *buf;
	size_t len;
	char tmp[320], final[320];
};

struct smoke_sink {
	char dir[256];
	unsigned core;
	uint64_t seq;
	bool discard;
	unsigned long done_ok;
	struct io_uring *ring;
	dp_sink_done_fn done;
	void *done_core;
	struct fmsg *m; /* SLOTS of them */
};

static int ss_attach(void *arg, struct io_uring *ring, dp_sink_done_fn done,
		     void *core)
{
	struct smoke_sink *s = arg;

	s->ring = ring;
	s->done = done;
	s->done_core = core;
	return 0;
}

static int put(struct fmsg *m, const char *str)
{
	size_t n = strlen(str);

	if (m->len + n > MSG_MAX)
		return -EFBIG;
	memcpy(m->buf + m->len, str, n);
	m->len += n;
	return 0;
}

static int ss_open(void *arg, const struct dp_smtp_envelope *env,
		   uint64_t cookie, uint64_t *id, void **msg)
{
	struct smoke_sink *s = arg;
	struct fmsg *m = NULL;
	char line[600];

	for (unsigned i = 0; i < SLOTS; i++)
		if (s->m[i].state == FREE) {
			m = &s->m[i];
			break;
		}
	if (!m)
		return -ENOMEM;
	m->id = (uint64_t)s->core << 48 | ++s->seq;
	m->len = 0;
	m->err = 0;
	m->cookie = cookie;
	m->fd = -1;
	if (s->discard) {
		m->state = OPEN;
		*id = m->id;
		*msg = m;
		return 0;
	}
	snprintf(m->tmp, sizeof(m->tmp), "%s/tmp.%016llx", s->dir,
		 (unsigned long long)m->id);
	snprintf(m->final, sizeof(m->final), "%s/msg.%016llx", s->dir,
		 (unsigned long long)m->id);
	m->fd = open(m->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (m->fd < 0)
		return -errno;
	snprintf(line, sizeof(line), "X-Smoke-From: <%s>\r\n", env->mail_from);
	put(m, line);
	for (unsigned i = 0; i < env->rcpt_count; i++) {
		snprintf(line, sizeof(line), "X-Smoke-To: <%s>\r\n",
			 env->rcpt[i].addr);
		put(m, line);
	}
	m->state = OPEN;
	*id = m->id;
	*msg = m;
	return 0;
}

static int ss_write(void *arg, void *msg, const void *data, size_t len)
{
	struct fmsg *m = msg;

	if (m->len + len > MSG_MAX)
		return -EFBIG;
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	return 0;
}

static void ss_commit(void *arg, void *msg)
{
	((struct fmsg *)msg)->state = COMMITTED;
}

static void release(struct fmsg *m, bool unlink_tmp)
{
	if (m->fd < 0) {
		m->state = FREE;
		return;
	}
	close(m->fd);
	if (unlink_tmp)
		unlink(m->tmp);
	m->state = FREE;
}

static void ss_abort(void *arg, void *msg)
{
	release(msg, true);
}

static void ss_flush(void *arg)
{
	struct smoke_sink *s = arg;

	for (unsigned i = 0; i < SLOTS; i++) {
		struct fmsg *m = &s->m[i];
		struct io_uring_sqe *w, *f;

		if (m->state != COMMITTED)
			continue;
		if (s->discard) {
			release(m, false);
			s->done_ok++;
			s->done(s->done_core, m->cookie, m->id, 0);
			continue;
		}
		if (io_uring_sq_space_left(s->ring) < 2)
			return; /* the rest next round */
		w = io_uring_get_sqe(s->ring);
		f = io_uring_get_sqe(s->ring);
		io_uring_prep_write(w, m->fd, m->buf, (unsigned)m->len, 0);
		io_uring_sqe_set_flags(w, IOSQE_IO_LINK);
		io_uring_sqe_set_data64(w, DP_UD_SINK | (uint64_t)i << 1);
		io_uring_prep_fsync(f, m->fd, 0);
		io_uring_sqe_set_data64(f, DP_UD_SINK | (uint64_t)i << 1 | 1);
		m->state = WRITING;
	}
}

static void ss_cqe(void *arg, const struct io_uring_cqe *cqe)
{
	struct smoke_sink *s = arg;
	uint64_t p = cqe->user_data & DP_UD_PAYLOAD_MASK;
	struct fmsg *m = &s->m[(p >> 1) % SLOTS];
	int status;

	if (m->state != WRITING)
		return;
	if (!(p & 1)) {
		if (cqe->res < 0)
			m->err = cqe->res;
		else if ((size_t)cqe->res != m->len)
			m->err = -EIO;
		return;
	}
	status = m->err ? m->err : (cqe->res < 0 ? cqe->res : 0);
	if (!status && rename(m->tmp, m->final) != 0)
		status = -errno;
	release(m, status != 0);
	if (!status)
		s->done_ok++;
	s->done(s->done_core, m->cookie, m->id, status);
}

static int ss_full(void *arg)
{
	struct smoke_sink *s = arg;

	for (unsigned i = 0; i < SLOTS; i++)
		if (s->m[i].state == FREE)
			return 0;
	return 1;
}

static const struct dp_sink_ops smoke_ops = {
    .attach = ss_attach,
    .open = ss_open,
    .write = ss_write,
    .commit = ss_commit,
    .abort = ss_abort,
    .flush = ss_flush,
    .cqe = ss_cqe,
    .full = ss_full,
};

struct smoke_sink *smoke_sink_create(const char *dir, unsigned core)
{
	struct smoke_sink *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->discard = !dir;
	snprintf(s->dir, sizeof(s->dir), "%s", dir ? dir : "");
	s->core = core;
	s->m = calloc(SLOTS, sizeof(*s->m));
	if (!s->m) {
		free(s);
		return NULL;
	}
	for (unsigned i = 0; i < SLOTS; i++) {
		s->m[i].buf = malloc(MSG_MAX);
		if (!s->m[i].buf) {
			smoke_sink_destroy(s);
			return NULL;
		}
	}
	return s;
}

void smoke_sink_destroy(struct smoke_sink *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < SLOTS; i++)
		free(s->m[i].buf);
	free(s->m);
	free(s);
}

struct dp_sink smoke_sink_get(struct smoke_sink *s)
{
	struct dp_sink k = {&smoke_ops, s};

	return k;
}

unsigned long smoke_sink_done_count(const struct smoke_sink *s)
{
	return s->done_ok;
}
