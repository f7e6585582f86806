/*
 * q_fault — the fault and crash shim under the queue's I/O table (see
 * q_fault.h).  Closing an fd is deferred while it has unsynced writes, so
 * the crash can still be applied to the file through it.
 */
#include "q_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pend {
	int fd;
	off_t off;
	size_t len;
	uint8_t *old;
	struct pend *next;
};

struct q_fault {
	struct q_io_ops ops;
	enum q_fault_mode mode;
	long nth, writes, syncs, cqes;
	int err;
	enum q_fault_crash policy;
	uint32_t rng;
	bool fired, crashed;
	struct pend *pend;	/* newest first */
	int deferred[256];
	int ndeferred;
};

static uint32_t rnd(struct q_fault *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 17;
	f->rng ^= f->rng << 5;
	return f->rng;
}

static int f_open(void *ctx, const char *path, int flags, mode_t mode)
{
	struct q_fault *f = ctx;

	if (f->crashed)
		return -EIO;
	return q_io_posix.open(NULL, path, flags & ~O_DIRECT, mode);
}

static bool has_pend(struct q_fault *f, int fd)
{
	for (struct pend *p = f->pend; p; p = p->next)
		if (p->fd == fd)
			return true;
	return false;
}

static int f_close(void *ctx, int fd)
{
	struct q_fault *f = ctx;

	if (has_pend(f, fd) && f->ndeferred < 256) {
		f->deferred[f->ndeferred++] = fd;
		return 0;
	}
	return close(fd) < 0 ? -errno : 0;
}

static ssize_t f_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	return q_io_posix.pread(NULL, fd, buf, len, off);
}

static ssize_t f_pwritev(void *ctx, int fd, const struct iovec *iov,
			 int iovcnt, off_t off)
{
	struct q_fault *f = ctx;
	struct pend *p;
	size_t len = 0;
	ssize_t got;

	if (f->crashed)
		return -EIO;
	f->writes++;
	if (f->mode == QF_FAIL_WRITE && f->writes == f->nth) {
		f->fired = true;
		return -f->err;
	}
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	p = calloc(1, sizeof(*p));
	p->old = calloc(1, len ? len : 1);
	got = pread(fd, p->old, len, off);
	if (got < (ssize_t)len && got >= 0)
		memset(p->old + got, 0, len - (size_t)got);
	p->fd = fd;
	p->off = off;
	p->len = len;
	p->next = f->pend;
	f->pend = p;
	return q_io_posix.pwritev(NULL, fd, iov, iovcnt, off);
}

static int f_fdatasync(void *ctx, int fd)
{
	struct q_fault *f = ctx;
	struct pend **pp = &f->pend, *p;

	if (f->crashed)
		return -EIO;
	f->syncs++;
	if (f->mode == QF_CRASH_SYNC && f->syncs == f->nth) {
		f->fired = f->crashed = true;
		return -EIO;
	}
	if (f->mode == QF_FAIL_SYNC && f->syncs == f->nth) {
		/* Like Linux after a writeback error: the pages stay dirty or
		 * are lost; the shim keeps them unsynced. */
		f->fired = true;
		return -f->err;
	}
	while ((p = *pp)) {
		if (p->fd == fd) {
			*pp = p->next;
			free(p->old);
			free(p);
		} else {
			pp = &p->next;
		}
	}
	return 0;
}

static int f_fallocate(void *ctx, int fd, off_t off, off_t len)
{
	struct q_fault *f = ctx;

	return f->crashed ? -EIO : q_io_posix.fallocate(NULL, fd, off, len);
}

static int f_ftruncate(void *ctx, int fd, off_t len)
{
	struct q_fault *f = ctx;

	return f->crashed ? -EIO : q_io_posix.ftruncate(NULL, fd, len);
}

static int f_unlink(void *ctx, const char *path)
{
	struct q_fault *f = ctx;

	return f->crashed ? -EIO : q_io_posix.unlink(NULL, path);
}

static int f_rename(void *ctx, const char *a, const char *b)
{
	struct q_fault *f = ctx;

	return f->crashed ? -EIO : q_io_posix.rename(NULL, a, b);
}

static int f_fsync_dir(void *ctx, const char *dir)
{
	struct q_fault *f = ctx;

	return f->crashed ? -EIO : 0;
}

static int f_cqe_res(void *ctx, int fd, enum q_io_kind kind, int res)
{
	struct q_fault *f = ctx;

	f->cqes++;
	if (f->mode == QF_FAIL_CQE && f->cqes == f->nth) {
		f->fired = true;
		return -f->err;
	}
	return res;
}

struct q_fault *q_fault_create(enum q_fault_mode mode, long nth, int err,
			       enum q_fault_crash policy, uint32_t seed)
{
	struct q_fault *f = calloc(1, sizeof(*f));

	f->mode = mode;
	f->nth = nth;
	f->err = err;
	f->policy = policy;
	f->rng = seed ? seed : 1;
	f->ops = (struct q_io_ops){
		.open = f_open, .close = f_close, .pread = f_pread,
		.pwritev = f_pwritev, .fdatasync = f_fdatasync,
		.fallocate = f_fallocate, .ftruncate = f_ftruncate,
		.unlink = f_unlink, .rename = f_rename,
		.fsync_dir = f_fsync_dir, .cqe_res = f_cqe_res, .ctx = f,
	};
	return f;
}

const struct q_io_ops *q_fault_ops(struct q_fault *f)
{
	return &f->ops;
}

bool q_fault_fired(const struct q_fault *f)
{
	return f->fired;
}

bool q_fault_crashed(const struct q_fault *f)
{
	return f->crashed;
}

long q_fault_writes(const struct q_fault *f)
{
	return f->writes;
}

long q_fault_cqes(const struct q_fault *f)
{
	return f->cqes;
}

long q_fault_syncs(const struct q_fault *f)
{
	return f->syncs;
}

void q_fault_apply_crash(struct q_fault *f)
{
	/* Newest first, so a dropped write restores what the older one left. */
	for (struct pend *p = f->pend; p; p = p->next) {
		enum q_fault_crash pol = f->policy;
		ssize_t n = 0;

		if (pol == QF_MIXED)
			pol = (enum q_fault_crash)(rnd(f) % 3);
		if (pol == QF_DROP) {
			n = pwrite(p->fd, p->old, p->len, p->off);
		} else if (pol == QF_CORRUPT && p->len) {
			uint8_t junk[16];
			size_t at = rnd(f) % p->len;
			size_t k = p->len - at < 16 ? p->len - at : 16;

			for (size_t i = 0; i < k; i++)
				junk[i] = (uint8_t)rnd(f);
			n = pwrite(p->fd, junk, k, p->off + (off_t)at);
		}
		(void)n;
	}
}

void q_fault_destroy(struct q_fault *f)
{
	struct pend *p, *next;

	if (!f)
		return;
	for (p = f->pend; p; p = next) {
		next = p->next;
		free(p->old);
		free(p);
	}
	for (int i = 0; i < f->ndeferred; i++)
		close(f->deferred[i]);
	free(f);
}
