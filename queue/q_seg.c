/*
 * q_seg — segment files: creating one ahead of need (preallocated, header
 * written and synced, renamed into place so a crash never leaves a
 * half-made segment under a real name), mapping it read-only, removing it.
 * Spares are prepared a step at a time (q_seg_start, q_seg_step) so the
 * store's poll stays short.  Store thread only; all I/O through the
 * q_io_ops table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mx_log.h"
#include "mx_time.h"
#include "q_store_int.h"


static void seg_dir(const struct q_store *s, uint16_t shard, char *buf,
		    size_t size)
{
	if (shard == Q_SEG_SHARD_STATE)
		snprintf(buf, size, "%.*s/state", PATH_MAX - 64, s->conf.dir);
	else
		snprintf(buf, size, "%.*s/shard-%03u", PATH_MAX - 64, s->conf.dir,
			 shard);
}

void q_seg_path(const struct q_store *s, uint16_t shard, uint64_t seq,
		char *buf, size_t size)
{
	char dir[PATH_MAX];

	seg_dir(s, shard, dir, sizeof(dir));
	snprintf(buf, size, "%.*s/%016llx.seg", PATH_MAX - 32, dir,
		 (unsigned long long)seq);
}

int q_seg_map(struct q_store *s, struct q_seg *seg)
{
	void *p = mmap(NULL, seg->size, PROT_READ, MAP_SHARED, seg->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	seg->map = p;
	return 0;
}

void q_seg_free(struct q_store *s, struct q_seg *seg, bool unlink_file)
{
	if (!seg)
		return;
	if (seg->map)
		munmap((void *)seg->map, seg->size);
	if (seg->fd >= 0)
		s->io->close(s->io->ctx, seg->fd);
	if (unlink_file)
		s->io->unlink(s->io->ctx, seg->path);
	free(seg);
}

/* Durable segments are written out with zeros once, ahead of need, so
 * later appends land in allocated, initialised blocks: an fdatasync (or an
 * RWF_DSYNC write) then has only data to flush.  Appending into fallocated
 * but unwritten extents instead makes every sync convert extents, i.e. a
 * journal commit: on ext4 that alone took a 4 KB write + fdatasync from
 * p99 0.2 ms to p99 7.5 ms, and dominated the queue's commit latency.
 *
 * The zeros go out with O_DIRECT where the file system has it, a chunk at
 * a time (q_seg_step), so preparing a spare never fills the device queue
 * or the page cache ahead of the shards' own syncs, and never blocks the
 * store thread for long. */
#define ZERO_STEP (256u << 10)

static void new_salt(struct q_seg *seg)
{
	if (getrandom(&seg->salt, sizeof(seg->salt), 0) != sizeof(seg->salt))
		seg->salt = mx_now_ns() ^ ((uint64_t)seg->shard << 48) ^ seg->seq;
}

/* ---- recycling (the format side is described in q_record.c) ---- */

bool q_seg_can_recycle(const struct q_store *s, const struct q_seg *seg)
{
	return seg->shard != Q_SEG_SHARD_STATE && seg->fd >= 0 &&
	       s->conf.sync_method == Q_SYNC_FDATASYNC &&
	       seg->align_shift == 3 && seg->size == s->conf.segment_size;
}

int q_seg_retire_free(struct q_store *s, struct q_seg *seg)
{
	const struct q_io_ops *io = s->io;
	char path[PATH_MAX], dir[PATH_MAX];
	int rc;

	seg_dir(s, seg->shard, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%.*s/%016llx.free", PATH_MAX - 32, dir,
		 (unsigned long long)seg->seq);
	rc = io->rename(io->ctx, seg->path, path);
	if (rc < 0)
		return rc;
	/* From here a failure leaves the caller to delete the .free file. */
	snprintf(seg->path, sizeof(seg->path), "%s", path);
	/* Durable before anything forgets these messages (compaction drops
	 * their state): the old name must not come back after a crash. */
	if (s->conf.durability == Q_DURABILITY_SYNC &&
	    (rc = io->fsync_dir(io->ctx, dir)) < 0)
		return rc;
	if (seg->map)
		munmap((void *)seg->map, seg->size);
	seg->map = NULL;
	return 0;
}

struct q_seg *q_seg_free_adopt(struct q_store *s, uint16_t shard,
			       const char *path)
{
	struct q_seg *seg;
	struct stat st;
	int fd = s->io->open(s->io->ctx, path, O_RDWR, 0);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != s->conf.segment_size ||
	    !(seg = calloc(1, sizeof(*seg)))) {
		s->io->close(s->io->ctx, fd);
		return NULL;
	}
	seg->fd = fd;
	seg->zfd = -1;
	seg->shard = shard;
	seg->align_shift = 3;
	seg->size = (uint64_t)st.st_size;
	snprintf(seg->path, sizeof(seg->path), "%s", path);
	return seg;
}

struct q_seg *q_seg_recycle(struct q_store *s, struct q_seg *seg, uint64_t seq,
			    char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8], path[PATH_MAX];
	int rc;

	q_seg_path(s, seg->shard, seq, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* A crash from here on leaves a .tmp, which recovery removes. */
	rc = s->io->rename(s->io->ctx, seg->path, tmp);
	if (rc < 0) {
		snprintf(err, errlen, "segment %s: recycle: rename: %s",
			 seg->path, strerror(-rc));
		return NULL;
	}
	snprintf(seg->path, sizeof(seg->path), "%s", path);
	seg->seq = seq;
	new_salt(seg);
	seg->w_fail_off = UINT64_MAX;
	seg->sealed = seg->handed = false;
	seg->msgs = seg->live_msgs = seg->live_bytes = 0;
	seg->ents = NULL;
	seg->next = NULL;
	seg->zero_off = seg->size;	/* written once already: no zeroing */
	seg->recycled = true;
	seg->zfd = -1;
	return seg;
}

struct q_seg *q_seg_start(struct q_store *s, uint16_t shard, uint64_t seq,
			  char *err, size_t errlen)
{
	const struct q_io_ops *io = s->io;
	bool direct = shard != Q_SEG_SHARD_STATE &&
		      s->conf.sync_method == Q_SYNC_ODIRECT_DSYNC;
	struct q_seg *seg = calloc(1, sizeof(*seg));
	char tmp[PATH_MAX + 8] = "";
	const char *what = "alloc";
	int rc = -ENOMEM;

	if (!seg)
		goto fail;
	seg->fd = -1;
	seg->zfd = -1;
	seg->w_fail_off = UINT64_MAX;
	seg->shard = shard;
	seg->seq = seq;
	seg->size = s->conf.segment_size;
	seg->align_shift = direct ? 12 : 3;
	new_salt(seg);
	q_seg_path(s, shard, seq, seg->path, sizeof(seg->path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", seg->path);
	what = "open";
	rc = io->open(io->ctx, tmp, O_RDWR | O_CREAT | O_TRUNC |
				      (direct ? O_DIRECT : 0), 0640);
	if (rc < 0)
		goto fail;
	seg->fd = rc;
	what = "fallocate";
	rc = io->fallocate(io->ctx, seg->fd, 0, (off_t)seg->size);
	if (rc < 0)
		goto fail;
	seg->zero_off = seg->size;
	if (s->conf.durability == Q_DURABILITY_SYNC) {
		seg->zero_off = Q_SEG_HDR_SIZE;
		seg->zfd = direct ? -1 : io->open(io->ctx, tmp, O_RDWR | O_DIRECT, 0);
		if (seg->zfd < 0)
			seg->zfd = -1;	/* no O_DIRECT here (tmpfs): buffered */
	}
	return seg;
fail:
	snprintf(err, errlen, "segment %s: %s: %s", tmp, what, strerror(-rc));
	if (seg)
		q_seg_abort(s, seg);
	return NULL;
}

void q_seg_abort(struct q_store *s, struct q_seg *seg)
{
	char tmp[PATH_MAX + 8];

	if (seg->zfd >= 0)
		s->io->close(s->io->ctx, seg->zfd);
	if (seg->fd >= 0) {
		s->io->close(s->io->ctx, seg->fd);
		snprintf(tmp, sizeof(tmp), "%s.tmp", seg->path);
		s->io->unlink(s->io->ctx, tmp);
	}
	free(seg);
}

static int seg_finish(struct q_store *s, struct q_seg *seg, const char **what)
{
	const struct q_io_ops *io = s->io;
	bool sync = s->conf.durability == Q_DURABILITY_SYNC;
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	struct q_seg_hdr h = { 0 };
	uint8_t *hdr = NULL;
	int rc;

	*what = "header";
	if (posix_memalign((void **)&hdr, 4096, Q_SEG_HDR_SIZE))
		return -ENOMEM;
	h.shard = seg->shard;
	h.align_shift = seg->align_shift;
	h.flags = seg->recycled ? Q_SEG_F_RECYCLED : 0;
	h.seq = seg->seq;
	h.salt = seg->salt;
	h.created_wall_ns = mx_wall_ns();
	h.size = seg->size;
	q_seg_hdr_encode(&h, hdr);
	rc = q_io_pwrite_all(io, seg->fd, hdr, Q_SEG_HDR_SIZE, 0);
	free(hdr);
	if (rc < 0)
		return rc;
	*what = "sync";
	if (sync && (rc = io->fdatasync(io->ctx, seg->fd)) < 0)
		return rc;
	*what = "rename";
	snprintf(tmp, sizeof(tmp), "%s.tmp", seg->path);
	if ((rc = io->rename(io->ctx, tmp, seg->path)) < 0)
		return rc;
	seg_dir(s, seg->shard, dir, sizeof(dir));
	*what = "dirsync";
	if (sync && (rc = io->fsync_dir(io->ctx, dir)) < 0) {
		io->unlink(io->ctx, seg->path);
		return rc;
	}
	*what = "mmap";
	if ((rc = q_seg_map(s, seg)) < 0) {
		io->unlink(io->ctx, seg->path);
		return rc;
	}
	s->disk_bytes += seg->size;
	return 0;
}

int q_seg_step(struct q_store *s, struct q_seg *seg, uint64_t budget,
	       char *err, size_t errlen)
{
	const char *what = "zero";
	void *z = NULL;
	int rc = 0;

	if (seg->zero_off < seg->size) {
		if (posix_memalign(&z, 4096, ZERO_STEP)) {
			rc = -ENOMEM;
			goto fail;
		}
		memset(z, 0, ZERO_STEP);
		while (seg->zero_off < seg->size && !rc) {
			uint64_t n = seg->size - seg->zero_off;

			n = n < ZERO_STEP ? n : ZERO_STEP;
			if (budget < n)
				break;
			rc = q_io_pwrite_all(s->io,
					     seg->zfd >= 0 ? seg->zfd : seg->fd,
					     z, n, (off_t)seg->zero_off);
			seg->zero_off += n;
			budget = budget > n ? budget - n : 0;
		}
		free(z);
		if (rc < 0)
			goto fail;
		if (seg->zero_off < seg->size)
			return 0;
	}
	if (seg->zfd >= 0) {
		/* The zeros (and the extent conversion) durable before any
		 * record lands on them. */
		what = "sync";
		rc = s->io->fdatasync(s->io->ctx, seg->zfd);
		s->io->close(s->io->ctx, seg->zfd);
		seg->zfd = -1;
		if (rc < 0)
			goto fail;
	}
	if ((rc = seg_finish(s, seg, &what)) < 0)
		goto fail;
	return 1;
fail:
	snprintf(err, errlen, "segment %s: %s: %s", seg->path, what,
		 strerror(-rc));
	return rc;
}

struct q_seg *q_seg_create(struct q_store *s, uint16_t shard, uint64_t seq,
			   char *err, size_t errlen)
{
	struct q_seg *seg = q_seg_start(s, shard, seq, err, errlen);
	int rc;

	if (!seg)
		return NULL;
	while ((rc = q_seg_step(s, seg, UINT64_MAX, err, errlen)) == 0)
		;
	if (rc < 0) {
		q_seg_abort(s, seg);
		return NULL;
	}
	return seg;
}
