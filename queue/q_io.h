/*
 * q_io — the table of file operations the queue uses for every byte it
 * reads, writes or syncs outside io_uring, so tests can put a fault shim
 * underneath: fail the Nth write or sync, or simulate a crash at the Nth
 * sync (see tests/queue/q_fault.c).
 *
 * Which path uses it:
 *   - the store (recovery, state log, segment preparation, copy-forward)
 *     always goes through the table;
 *   - a shard in Q_IO_SYNC mode writes and syncs through the table too
 *     (pwritev + fdatasync, completions delivered from q_shard_flush);
 *   - a shard in Q_IO_URING mode submits SQEs to its core's ring; the table's
 *     cqe_res hook sees every completion result of the shard's writes and
 *     syncs and may replace it with an error, so error handling of the ring
 *     path is tested with the same shim.
 * The table is set once in q_conf before q_store_open and never changes.
 * All functions return >= 0 or -errno (never set errno for the caller).
 */
#ifndef Q_IO_H
#define Q_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum q_io_kind { Q_IO_K_WRITE, Q_IO_K_SYNC };

struct q_io_ops {
	int (*open)(void *ctx, const char *path, int flags, mode_t mode);
	int (*close)(void *ctx, int fd);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwritev)(void *ctx, int fd, const struct iovec *iov,
			   int iovcnt, off_t off);
	int (*fdatasync)(void *ctx, int fd);
	int (*fallocate)(void *ctx, int fd, off_t off, off_t len);
	int (*ftruncate)(void *ctx, int fd, off_t len);
	int (*unlink)(void *ctx, const char *path);
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*fsync_dir)(void *ctx, const char *dir);
	/* Ring-mode completions: returns the result to act on (res or an
	 * injected -errno).  NULL = use res as is. */
	int (*cqe_res)(void *ctx, int fd, enum q_io_kind kind, int res);
	void *ctx;
};

/* Plain system calls. */
extern const struct q_io_ops q_io_posix;

/* Convenience wrappers used inside the queue. */
ssize_t q_io_pwrite(const struct q_io_ops *io, int fd, const void *buf,
		    size_t len, off_t off);
/* Writes all of len or fails (-EIO on a short write). */
int q_io_pwrite_all(const struct q_io_ops *io, int fd, const void *buf,
		    size_t len, off_t off);

#endif
