/*
 * q_io — the plain-syscall implementation of the queue's file operations
 * table, and small helpers on top of any table.
 */
#include "q_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int posix_open(void *ctx, const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CLOEXEC, mode);

	return fd < 0 ? -errno : fd;
}

static int posix_close(void *ctx, int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

static ssize_t posix_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	return n < 0 ? -errno : n;
}

static ssize_t posix_pwritev(void *ctx, int fd, const struct iovec *iov,
			     int iovcnt, off_t off)
{
	ssize_t n = pwritev(fd, iov, iovcnt, off);

	return n < 0 ? -errno : n;
}

static int posix_fdatasync(void *ctx, int fd)
{
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int posix_falloc(void *ctx, int fd, off_t off, off_t len)
{
	/* posix_fallocate returns the error number instead of setting errno. */
	int rc = posix_fallocate(fd, off, len);

	return -rc;
}

static int posix_ftruncate(void *ctx, int fd, off_t len)
{
	return ftruncate(fd, len) < 0 ? -errno : 0;
}

static int posix_unlink(void *ctx, const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
	return rename(from, to) < 0 ? -errno : 0;
}

static int posix_fsync_dir(void *ctx, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

const struct q_io_ops q_io_posix = {
	.open = posix_open,
	.close = posix_close,
	.pread = posix_pread,
	.pwritev = posix_pwritev,
	.fdatasync = posix_fdatasync,
	.fallocate = posix_falloc,
	.ftruncate = posix_ftruncate,
	.unlink = posix_unlink,
	.rename = posix_rename,
	.fsync_dir = posix_fsync_dir,
	.cqe_res = NULL,
	.ctx = NULL,
};

ssize_t q_io_pwrite(const struct q_io_ops *io, int fd, const void *buf,
		    size_t len, off_t off)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return io->pwritev(io->ctx, fd, &iov, 1, off);
}

int q_io_pwrite_all(const struct q_io_ops *io, int fd, const void *buf,
		    size_t len, off_t off)
{
	ssize_t n = q_io_pwrite(io, fd, buf, len, off);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}
