/*
 * q_seg — segment files: creating one ahead of need (preallocated, header
 * written and synced, renamed into place so a crash never leaves a
 * half-made segment under a real name), mapping it read-only, removing it.
 * Store thread only; all I/O through the q_io_ops table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "mx_log.h"
#include "mx_time.h"
#include "q_store_int.h"

#define ZERO_CHUNK (1u << 20)

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

/* O_DIRECT segments are written out with zeros once, so later RWF_DSYNC
 * writes land in allocated, initialised blocks and need no metadata
 * update; buffered segments make do with fallocate. */
static int seg_zero(struct q_store *s, int fd, uint64_t size)
{
	void *z;
	int rc = 0;

	if (posix_memalign(&z, 4096, ZERO_CHUNK))
		return -ENOMEM;
	memset(z, 0, ZERO_CHUNK);
	for (uint64_t off = Q_SEG_HDR_SIZE; off < size && !rc;
	     off += ZERO_CHUNK) {
		uint64_t n = size - off < ZERO_CHUNK ? size - off : ZERO_CHUNK;

		rc = q_io_pwrite_all(s->io, fd, z, n, (off_t)off);
	}
	free(z);
	return rc;
}

struct q_seg *q_seg_create(struct q_store *s, uint16_t shard, uint64_t seq,
			   char *err, size_t errlen)
{
	const struct q_io_ops *io = s->io;
	bool direct = shard != Q_SEG_SHARD_STATE &&
		      s->conf.sync_method == Q_SYNC_ODIRECT_DSYNC;
	bool sync = s->conf.durability == Q_DURABILITY_SYNC;
	struct q_seg *seg = calloc(1, sizeof(*seg));
	char tmp[PATH_MAX + 8] = "", dir[PATH_MAX];
	struct q_seg_hdr h = { 0 };
	uint8_t *hdr = NULL;
	const char *what = "alloc";
	int rc = -ENOMEM;

	if (!seg)
		goto fail_nofd;
	seg->fd = -1;
	seg->w_fail_off = UINT64_MAX;
	seg->shard = shard;
	seg->seq = seq;
	seg->size = s->conf.segment_size;
	seg->align_shift = direct ? 12 : 3;
	if (getrandom(&seg->salt, sizeof(seg->salt), 0) != sizeof(seg->salt))
		seg->salt = mx_now_ns() ^ ((uint64_t)shard << 48) ^ seq;
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
	what = "zero";
	if (direct && (rc = seg_zero(s, seg->fd, seg->size)) < 0)
		goto fail;
	what = "header";
	rc = -ENOMEM;
	if (posix_memalign((void **)&hdr, 4096, Q_SEG_HDR_SIZE))
		goto fail;
	h.shard = shard;
	h.align_shift = seg->align_shift;
	h.seq = seq;
	h.salt = seg->salt;
	h.created_wall_ns = mx_wall_ns();
	h.size = seg->size;
	q_seg_hdr_encode(&h, hdr);
	rc = q_io_pwrite_all(io, seg->fd, hdr, Q_SEG_HDR_SIZE, 0);
	free(hdr);
	if (rc < 0)
		goto fail;
	what = "sync";
	if (sync && (rc = io->fdatasync(io->ctx, seg->fd)) < 0)
		goto fail;
	what = "rename";
	if ((rc = io->rename(io->ctx, tmp, seg->path)) < 0)
		goto fail;
	seg_dir(s, shard, dir, sizeof(dir));
	what = "dirsync";
	if (sync && (rc = io->fsync_dir(io->ctx, dir)) < 0)
		goto fail;
	what = "mmap";
	if ((rc = q_seg_map(s, seg)) < 0)
		goto fail;
	s->disk_bytes += seg->size;
	return seg;
fail:
	if (seg->fd >= 0)
		io->close(io->ctx, seg->fd);
	io->unlink(io->ctx, tmp);
	free(seg);
fail_nofd:
	snprintf(err, errlen, "segment %s: %s: %s", tmp, what, strerror(-rc));
	return NULL;
}
