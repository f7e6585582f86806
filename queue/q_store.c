/*
 * q_store — opening the queue (lock, recovery of every shard and of the
 * state log, index rebuild), the management-thread poll that takes commit
 * notices from the shards, keeps them supplied with prepared segments,
 * group-commits the state log, enforces the quota and retires segments
 * whose messages are all final.  See q_store.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mx_log.h"
#include "mx_ring.h"
#include "mx_time.h"
#include "q_index.h"
#include "q_shard.h"
#include "q_store_int.h"

void q_conf_defaults(struct q_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "./var/queue");
	c->segment_size = 64ull << 20;
	c->durability = Q_DURABILITY_SYNC;
	c->sync_method = Q_SYNC_FDATASYNC;
	c->io_mode = Q_IO_THREAD;
	c->quota_bytes = 0;
	c->high_water_pct = 90;
	c->low_water_pct = 80;
	c->shard_count = 1;
	c->msg_size_max = 10ull << 20;
	c->staging_count = 256;
	c->spare_segments = 2;
	c->batches_max = 2;
	c->state_compact_bytes = 0;
	c->copy_forward_pct = 25;
}

int q_store_fd(struct q_store *s)
{
	return s->efd;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void seg_add(struct q_store *s, struct q_seg *seg)
{
	seg->next = s->segs;
	s->segs = seg;
}

/* ---- recovery ---- */

struct replay_ctx {
	struct q_store *s;
	struct q_seg *seg;
	uint64_t msgs;
	int err;
};

static int replay_rec(void *arg, const struct q_rec *r, uint64_t off)
{
	struct replay_ctx *c = arg;
	struct q_store *s = c->s;
	int rc = 0;

	if (r->type == Q_REC_MSG) {
		unsigned sh = q_id_shard(r->id);

		/* A message record in a shard segment must carry that shard's
		 * id; the state log holds copies of any shard's messages. */
		if (c->seg->shard != Q_SEG_SHARD_STATE && sh != c->seg->shard)
			return 0;
		rc = q_store_index_msg(s, c->seg, r->id, off, r->len, r);
		if (r->id > s->recovered_max_id[sh])
			s->recovered_max_id[sh] = r->id;
		c->msgs++;
	} else if (c->seg->shard == Q_SEG_SHARD_STATE) {
		rc = q_store_apply(s, r, true);
	}
	if (rc == -ENOMEM) {
		c->err = rc;
		return 1;
	}
	return 0;
}

/* Zeroes a torn tail so the next recovery sees a clean end. */
static int zero_tail(struct q_store *s, int fd, uint64_t off, uint64_t len)
{
	static const uint8_t z[65536];
	int rc = 0;

	while (len && !rc) {
		uint64_t n = len < sizeof(z) ? len : sizeof(z);

		rc = q_io_pwrite_all(s->io, fd, z, n, (off_t)off);
		off += n;
		len -= n;
	}
	return rc ? rc : s->io->fdatasync(s->io->ctx, fd);
}

static int recover_segment(struct q_store *s, const char *path,
			   uint16_t want_shard, char *err, size_t errlen)
{
	struct replay_ctx c = { .s = s };
	struct q_replay rp;
	struct q_seg *seg;
	struct stat st;
	void *map;
	int fd, rc;

	fd = s->io->open(s->io->ctx, path, O_RDWR, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: open: %s", path, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)Q_SEG_HDR_SIZE) {
		mx_log(MX_LOG_WARN, "queue",
		       "msg=\"not a segment, left alone\" path=%s", path);
		s->io->close(s->io->ctx, fd);
		return 0;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(-rc));
		s->io->close(s->io->ctx, fd);
		return rc;
	}
	seg = calloc(1, sizeof(*seg));
	if (!seg) {
		munmap(map, (size_t)st.st_size);
		s->io->close(s->io->ctx, fd);
		return -ENOMEM;
	}
	seg->fd = fd;
	seg->zfd = -1;
	seg->map = map;
	seg->size = (uint64_t)st.st_size;
	seg->sealed = true;
	seg->w_fail_off = UINT64_MAX;
	snprintf(seg->path, sizeof(seg->path), "%.*s", PATH_MAX - 1, path);
	if (q_seg_hdr_decode(map, seg->size, &rp.hdr) < 0 ||
	    rp.hdr.shard != want_shard) {
		mx_log(MX_LOG_WARN, "queue",
		       "msg=\"foreign or damaged segment header, left alone\" "
		       "path=%s", path);
		q_seg_free(s, seg, false);
		return 0;
	}
	seg->shard = rp.hdr.shard;
	seg->seq = rp.hdr.seq;
	seg->salt = rp.hdr.salt;
	seg->align_shift = rp.hdr.align_shift;
	if (rp.hdr.size < seg->size)
		seg->size = rp.hdr.size;
	seg_add(s, seg);
	s->disk_bytes += (uint64_t)st.st_size;
	c.seg = seg;
	q_replay_segment(map, seg->size, replay_rec, &c, &rp);
	if (c.err) {
		snprintf(err, errlen, "%s: replay: %s", path, strerror(-c.err));
		return c.err;
	}
	if (seg->shard != Q_SEG_SHARD_STATE) {
		if (seg->seq >= s->next_seq[seg->shard])
			s->next_seq[seg->shard] = seg->seq + 1;
	} else if (seg->seq >= s->state_next_seq) {
		s->state_next_seq = seg->seq + 1;
	}
	s->recovered_msgs += c.msgs;
	s->recovered_discarded += rp.discarded;
	mx_log(rp.discarded ? MX_LOG_WARN : MX_LOG_INFO, "queue",
	       "msg=\"segment replayed\" path=%s records=%llu msgs=%llu "
	       "end=%llu torn=%d stale=%d discarded_bytes=%llu", path,
	       (unsigned long long)rp.records, (unsigned long long)c.msgs,
	       (unsigned long long)rp.end, rp.torn, rp.stale,
	       (unsigned long long)rp.discarded);
	if (rp.discarded) {
		rc = zero_tail(s, fd, rp.end, rp.discarded);
		if (rc < 0) {
			snprintf(err, errlen, "%s: zeroing torn tail: %s", path,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Retired segments kept for reuse, per shard: enough to supply the spares
 * of a shard retiring as fast as it fills, without keeping the disk of a
 * queue that shrank after a backlog. */
static unsigned pool_cap(const struct q_store *s)
{
	return (s->conf.spare_segments ? s->conf.spare_segments : 1) + 2;
}

static void pool_push(struct q_store *s, struct q_seg *seg)
{
	seg->next = s->pool[seg->shard];
	s->pool[seg->shard] = seg;
	s->npool[seg->shard]++;
	s->pool_bytes += seg->size;
}

static struct q_seg *pool_pop(struct q_store *s, unsigned shard)
{
	struct q_seg *seg = s->pool[shard];

	if (seg) {
		s->pool[shard] = seg->next;
		s->npool[shard]--;
		s->pool_bytes -= seg->size;
		seg->next = NULL;
	}
	return seg;
}

/* A .free file found at start: into the pool if it fits, else deleted. */
static void pool_adopt(struct q_store *s, uint16_t shard, const char *path,
		       uint64_t seq)
{
	struct q_seg *seg = NULL;

	/* New segments must not take this name's number while it exists. */
	if (seq >= s->next_seq[shard])
		s->next_seq[shard] = seq + 1;
	if (shard < s->conf.shard_count && s->npool[shard] < pool_cap(s) &&
	    s->conf.sync_method == Q_SYNC_FDATASYNC)
		seg = q_seg_free_adopt(s, shard, path);
	if (seg) {
		seg->seq = seq;
		pool_push(s, seg);
	} else {
		s->io->unlink(s->io->ctx, path);
	}
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every segment of one directory in sequence order (the names are
 * fixed-width hex, so name order is sequence order). */
static int recover_dir(struct q_store *s, const char *dir, uint16_t shard,
		       char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[PATH_MAX + 300];
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
			/* A segment whose creation never finished. */
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			s->io->unlink(s->io->ctx, path);
			continue;
		}
		if (len == 21 && strcmp(de->d_name + 16, ".free") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			pool_adopt(s, shard, path,
				   strtoull(de->d_name, NULL, 16));
			continue;
		}
		if (len != 20 || strcmp(de->d_name + 16, ".seg") != 0)
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) *
							   sizeof(*nn));

			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc && n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n && !rc; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = recover_segment(s, path, shard, err, errlen);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", dir);
	return rc;
}

static int recover(struct q_store *s, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	int rc;

	/* Every shard directory there is, also those of a larger shard
	 * count in an earlier configuration. */
	for (unsigned i = 0; i < Q_SHARD_MAX; i++) {
		snprintf(path, sizeof(path), "%s/shard-%03u", s->conf.dir, i);
		if (i < s->conf.shard_count && (rc = mkdir_p(path)) < 0) {
			snprintf(err, errlen, "%s: mkdir: %s", path,
				 strerror(-rc));
			return rc;
		}
		if ((rc = recover_dir(s, path, (uint16_t)i, err, errlen)) < 0)
			return rc;
		if (!s->next_seq[i])
			s->next_seq[i] = 1;
	}
	snprintf(path, sizeof(path), "%s/state", s->conf.dir);
	if ((rc = mkdir_p(path)) < 0) {
		snprintf(err, errlen, "%s: mkdir: %s", path, strerror(-rc));
		return rc;
	}
	if ((rc = recover_dir(s, path, Q_SEG_SHARD_STATE, err, errlen)) < 0)
		return rc;
	if (!s->state_next_seq)
		s->state_next_seq = 1;
	return 0;
}

static int check_conf(const struct q_conf *c, char *err, size_t errlen)
{
	const char *why = NULL;

	if (!c->dir[0])
		why = "dir: empty";
	else if (c->shard_count < 1 || c->shard_count > Q_SHARD_MAX)
		why = "shard_count: must be 1..64";
	else if (c->segment_size < (1u << 20) || c->segment_size % 4096)
		why = "segment_size: must be >= 1 MiB and a multiple of 4096";
	else if (c->msg_size_max < 1024 ||
		 q_rec_padded(Q_REC_HDR_SIZE + 4 + c->msg_size_max, 12) >
			 c->segment_size - Q_SEG_HDR_SIZE)
		why = "msg_size_max: must be >= 1024 and fit in a segment";
	else if (c->staging_count < 1 || c->staging_count > 65536)
		why = "staging_count: must be 1..65536";
	else if (c->high_water_pct > 100 ||
		 c->low_water_pct > c->high_water_pct)
		why = "water marks: need low <= high <= 100";
	else if (c->durability != Q_DURABILITY_SYNC &&
		 c->durability != Q_DURABILITY_NONE)
		why = "durability: unknown";
	else if (c->sync_method != Q_SYNC_FDATASYNC &&
		 c->sync_method != Q_SYNC_ODIRECT_DSYNC)
		why = "sync_method: unknown";
	else if (c->io_mode != Q_IO_URING && c->io_mode != Q_IO_SYNC &&
		 c->io_mode != Q_IO_THREAD)
		why = "io_mode: unknown";
	else if (c->copy_forward_pct > 100)
		why = "copy_forward_pct: must be 0..100";
	else if (c->batches_max < 1 || c->batches_max > 16)
		why = "batches_max: must be 1..16";
	if (why)
		snprintf(err, errlen, "queue: %s", why);
	return why ? -EINVAL : 0;
}

int q_store_state_seg_new(struct q_store *s, char *err, size_t errlen)
{
	struct q_seg *seg = q_seg_create(s, Q_SEG_SHARD_STATE,
					 s->state_next_seq, err, errlen);

	if (!seg)
		return -EIO;
	s->state_next_seq++;
	seg->sealed = false;
	seg_add(s, seg);
	if (s->state_seg)
		s->state_seg->sealed = true;
	s->state_seg = seg;
	s->state_off = Q_SEG_HDR_SIZE;
	return 0;
}

struct q_store *q_store_open(const struct q_conf *conf, char *err,
			     size_t errlen)
{
	struct q_store *s;
	char path[PATH_MAX + 16];
	uint64_t t0 = mx_now_ns();

	if (check_conf(conf, err, errlen) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "queue: out of memory");
		return NULL;
	}
	s->conf = *conf;
	s->io = conf->io ? conf->io : &q_io_posix;
	s->lock_fd = -1;
	s->prep_budget = UINT64_MAX;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->idx = q_index_create();
	s->by_state_ok = true;
	for (unsigned i = 0; i < Q_ST__COUNT; i++)
		if (!(s->by_state[i] = q_index_create()))
			s->by_state_ok = false;
	if (s->efd < 0 || !s->idx || !s->by_state_ok) {
		snprintf(err, errlen, "queue: eventfd/index: %s",
			 strerror(errno));
		goto fail;
	}
	if (mkdir_p(conf->dir) < 0) {
		snprintf(err, errlen, "%s: mkdir: %s", conf->dir,
			 strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/lock", conf->dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 errno == EWOULDBLOCK
				 ? "queue is in use by another process"
				 : strerror(errno));
		goto fail;
	}
	if (conf->durability == Q_DURABILITY_NONE)
		mx_log(MX_LOG_WARN, "queue",
		       "msg=\"DURABILITY IS OFF: acknowledged mail WILL be "
		       "lost on a crash or power failure; benchmarks only\"");
	if (recover(s, err, errlen) < 0)
		goto fail;
	if (q_store_state_seg_new(s, err, errlen) < 0)
		goto fail;
	mx_log(MX_LOG_INFO, "queue",
	       "msg=\"recovered\" dir=%s msgs=%llu live=%zu "
	       "discarded_bytes=%llu ms=%llu", conf->dir,
	       (unsigned long long)s->recovered_msgs, q_index_count(s->idx),
	       (unsigned long long)s->recovered_discarded,
	       (unsigned long long)((mx_now_ns() - t0) / 1000000));
	/* The state changes replay made are already durable. */
	s->pend_len = 0;
	return s;
fail:
	q_store_close(s);
	return NULL;
}

void q_store_ents_free(struct q_store *s, struct q_seg *seg)
{
	struct q_ent *e = seg->ents, *next;

	for (; e; e = next) {
		next = e->seg_next;
		if (e->state != Q_ST_DONE)
			s->live_bytes -= q_rec_padded(e->rec_len,
						      seg->align_shift);
		q_store_ent_drop(s, e);
	}
	seg->ents = NULL;
}

void q_store_close(struct q_store *s)
{
	struct q_seg *seg, *next;

	if (!s)
		return;
	if (s->pend_len && !s->failed)
		q_store_state_commit(s);
	for (unsigned i = 0; i < Q_SHARD_MAX; i++) {
		struct q_shard *sh = s->shards[i];

		if (!sh)
			continue;
		/* Spares never used stay on disk, empty: recovery skips
		 * them quickly and retires them. */
		while (mx_ring_pop(q_shard_spares(sh)))
			;
		q_shard_destroy(sh);
	}
	for (unsigned i = 0; i < Q_SHARD_MAX; i++) {
		if (s->prep[i])
			q_seg_abort(s, s->prep[i]);
		/* .free files: the next start takes them into its pool. */
		while ((seg = pool_pop(s, i)))
			q_seg_free(s, seg, false);
	}
	for (seg = s->segs; seg; seg = next) {
		next = seg->next;
		q_store_ents_free(s, seg);
		q_seg_free(s, seg, false);
	}
	q_index_destroy(s->idx);
	for (unsigned i = 0; i < Q_ST__COUNT; i++)
		q_index_destroy(s->by_state[i]);
	free(s->pend);
	if (s->efd >= 0)
		close(s->efd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}

/* ---- state log ---- */

int q_store_state_append(struct q_store *s, uint8_t type, uint32_t aux,
			 uint64_t id, uint64_t wall_ns, uint64_t until,
			 const char *text)
{
	size_t need = Q_REC_HDR_SIZE + 8 + (text ? strlen(text) : 0) + 8;
	long n;

	if (s->pend_size - s->pend_len < need) {
		size_t ns = (s->pend_size ? s->pend_size * 2 : 65536);
		uint8_t *p;

		while (ns - s->pend_len < need)
			ns *= 2;
		p = realloc(s->pend, ns);
		if (!p)
			return -ENOMEM;
		s->pend = p;
		s->pend_size = ns;
	}
	/* Sealed with the salt of whichever state segment it lands in. */
	n = q_rec_encode_state(s->pend + s->pend_len, s->pend_size - s->pend_len,
			       type, aux, id, wall_ns, until, text, 0);
	if (n < 0)
		return (int)n;
	memset(s->pend + s->pend_len + n, 0, q_rec_padded((uint64_t)n, 3) - (uint64_t)n);
	s->pend_len += q_rec_padded((uint64_t)n, 3);
	return 0;
}

static uint32_t get32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int q_store_state_commit(struct q_store *s)
{
	size_t done = 0;
	char err[256];
	int rc;

	if (s->failed)
		return -EIO;
	while (done < s->pend_len) {
		struct q_seg *seg = s->state_seg;
		size_t chunk = 0;

		/* As many records as fit in the current state segment. */
		while (done + chunk < s->pend_len) {
			uint8_t *r = s->pend + done + chunk;
			size_t len = q_rec_padded(get32le(r + 4), 3);

			if (s->state_off + chunk + len > seg->size)
				break;
			q_rec_seal(r, seg->salt);
			chunk += len;
		}
		if (chunk) {
			rc = q_io_pwrite_all(s->io, seg->fd, s->pend + done,
					     chunk, (off_t)s->state_off);
			if (!rc && s->conf.durability == Q_DURABILITY_SYNC)
				rc = s->io->fdatasync(s->io->ctx, seg->fd);
			if (rc < 0)
				goto fail;
			s->state_off += chunk;
			s->state_since_compact += chunk;
			done += chunk;
		}
		if (done < s->pend_len && q_store_state_seg_new(s, err, sizeof(err)) < 0) {
			mx_log(MX_LOG_ERR, "queue", "msg=\"state log\" err=\"%s\"",
			       err);
			rc = -EIO;
			goto fail;
		}
	}
	s->pend_len = 0;
	return 0;
fail:
	/* What is in memory may now be ahead of the disk; stop taking state
	 * changes so nothing is acted on that a restart would undo. */
	s->failed = true;
	mx_log(MX_LOG_ERR, "queue",
	       "msg=\"state log write failed; state changes refused until "
	       "restart\" err=%d", rc);
	return -EIO;
}

/* ---- poll ---- */

static void take_notice(struct q_store *s, struct q_note *n)
{
	switch (n->kind) {
	case Q_NOTE_COMMITTED:
		for (uint32_t i = 0; i < n->count; i++) {
			s->win_bytes += n->ent[i].len;
			if (q_store_index_msg(s, n->seg, n->ent[i].id,
					      n->ent[i].off, n->ent[i].len,
					      NULL) < 0)
				/* Durable, so it is found again at restart. */
				MX_LOG_RL(MX_LOG_ERR, "queue",
					  "msg=\"index insert failed\" "
					  "id=%016llx",
					  (unsigned long long)n->ent[i].id);
		}
		break;
	case Q_NOTE_FAILED:
		/* Never acknowledged: make sure a restart does not find them
		 * (a failed sync may still have written the bytes). */
		for (uint32_t i = 0; i < n->count; i++) {
			q_store_state_append(s, Q_REC_DELETED,
					     Q_DEL_WRITE_FAILED, n->ent[i].id,
					     mx_wall_ns(), 0, NULL);
			/* Indexed as final, so compaction keeps saying so
			 * while the bytes may still be in the segment. */
			q_store_index_failed(s, n->seg, n->ent[i].id,
					     n->ent[i].off, n->ent[i].len);
		}
		break;
	case Q_NOTE_SEALED:
		n->seg->sealed = true;
		break;
	}
}

/* A prepared segment goes to its shard. */
static void spare_ready(struct q_store *s, struct q_shard *sh, struct q_seg *seg)
{
	seg->handed = true;
	seg_add(s, seg);
	if (!mx_ring_push(q_shard_spares(sh), seg))
		mx_panic("queue: spare ring overflow");
}

int q_store_supply_spares(struct q_store *s, unsigned want_max)
{
	char err[PATH_MAX + 128];
	uint64_t budget = s->prep_budget, before;
	int made = 0, rc;

	for (unsigned i = 0; i < Q_SHARD_MAX; i++) {
		struct q_shard *sh = s->shards[i];
		unsigned want = s->conf.spare_segments ? s->conf.spare_segments : 1;

		if (want_max && want > want_max)
			want = want_max;
		struct q_seg *seg;

		if (!sh)
			continue;
		while (mx_ring_count(q_shard_spares(sh)) < want && budget) {
			/* A retired segment first, even with a new one half
			 * zeroed (that one waits): no new disk, no zeroing,
			 * only a header.  Sequence numbers may then be used
			 * out of order; nothing reads meaning into the order
			 * of a shard's segments. */
			if ((seg = pool_pop(s, i))) {
				struct q_seg *r = q_seg_recycle(
					s, seg, s->next_seq[i], err, sizeof(err));

				if (!r) {
					mx_log(MX_LOG_WARN, "queue",
					       "msg=\"%s\"", err);
					q_seg_free(s, seg, true);
					continue;
				}
				s->next_seq[i]++;
				rc = q_seg_step(s, r, UINT64_MAX, err, sizeof(err));
				if (rc <= 0) {
					q_seg_abort(s, r);
					goto fail;
				}
				s->recycled++;
				spare_ready(s, sh, r);
				made++;
				continue;
			}
			if (!s->prep[i]) {
				if (s->conf.quota_bytes &&
				    s->disk_bytes + s->conf.segment_size >
					    s->conf.quota_bytes)
					return made;
				s->prep[i] = q_seg_start(s, (uint16_t)i,
							 s->next_seq[i], err,
							 sizeof(err));
				if (!s->prep[i])
					goto fail;
				s->next_seq[i]++;
			}
			seg = s->prep[i];
			before = seg->zero_off;
			rc = q_seg_step(s, seg, budget, err, sizeof(err));
			s->prep_zeroed += seg->zero_off - before;
			if (budget != UINT64_MAX)
				budget -= seg->zero_off - before < budget
						  ? seg->zero_off - before
						  : budget;
			if (rc == 0)
				break;
			s->prep[i] = NULL;
			if (rc < 0) {
				q_seg_abort(s, seg);
				goto fail;
			}
			spare_ready(s, sh, seg);
			made++;
		}
	}
	if (made && atomic_load(&s->seg_fail)) {
		atomic_store(&s->seg_fail, false);
		mx_log(MX_LOG_INFO, "queue",
		       "msg=\"segments can be prepared again\"");
	}
	return made;
fail:
	s->seg_retry_ns = mx_now_ns() + Q_SEG_RETRY_NS;
	if (!atomic_exchange(&s->seg_fail, true))
		mx_log(MX_LOG_ERR, "queue",
		       "msg=\"cannot prepare segment, refusing new mail until "
		       "space returns\" err=\"%s\"", err);
	return made;
}

/* Spares are zeroed at a paced rate: 1.25 times what the shards appended
 * over the last 100 ms (at least PREP_RATE_MIN), so the zeroing stays ahead of
 * ingest without filling the device queue in front of the shards' syncs
 * (unpaced, it put p50 commit latency at 5 ms for the first seconds of a
 * run). */
#define PREP_RATE_MIN (32ull << 20)	/* bytes/s */
#define PREP_BURST (8ull << 20)
#define PREP_URGENT (16ull << 20)	/* per poll when a shard has none */

static int prep_spares(struct q_store *s)
{
	uint64_t now = mx_now_ns(), dt = now - s->prep_last_ns, rate, before;
	int made;

	if (now - s->win_start_ns >= 100000000u) {
		s->win_rate = s->win_bytes * 1000000000u / (now - s->win_start_ns);
		s->win_bytes = 0;
		s->win_start_ns = now;
	}
	rate = s->win_rate + s->win_rate / 4;
	rate = rate > PREP_RATE_MIN ? rate : PREP_RATE_MIN;
	s->prep_last_ns = now;
	s->prep_tokens += dt > 1000000000u ? rate : rate * dt / 1000000000u;
	if (s->prep_tokens > PREP_BURST)
		s->prep_tokens = PREP_BURST;
	s->prep_budget = s->prep_tokens;
	/* A shard with no spare left waits for one: zero at full speed,
	 * but still in bounded steps, so notices (acks) keep flowing. */
	for (unsigned i = 0; i < Q_SHARD_MAX; i++)
		if (s->shards[i] && !mx_ring_count(q_shard_spares(s->shards[i])))
			s->prep_budget = PREP_URGENT;
	/* After a failure, try again only every Q_SEG_RETRY_NS. */
	if (atomic_load(&s->seg_fail) && now < s->seg_retry_ns) {
		s->prep_budget = UINT64_MAX;
		return 0;
	}
	before = s->prep_zeroed;
	made = q_store_supply_spares(s, 0);
	s->prep_tokens -= s->prep_zeroed - before < s->prep_tokens
				  ? s->prep_zeroed - before
				  : s->prep_tokens;
	s->prep_budget = UINT64_MAX;
	return made;
}

static void quota_update(struct q_store *s)
{
	uint64_t q = s->conf.quota_bytes;
	bool over = atomic_load(&s->over_quota);

	if (!q)
		return;
	if (!over && s->disk_bytes >= q / 100 * s->conf.high_water_pct) {
		atomic_store(&s->over_quota, true);
		mx_log(MX_LOG_WARN, "queue",
		       "msg=\"over high water, refusing new mail\" bytes=%llu "
		       "quota=%llu", (unsigned long long)s->disk_bytes,
		       (unsigned long long)q);
	} else if (over && s->disk_bytes < q / 100 * s->conf.low_water_pct) {
		atomic_store(&s->over_quota, false);
		mx_log(MX_LOG_INFO, "queue",
		       "msg=\"below low water, accepting mail\" bytes=%llu",
		       (unsigned long long)s->disk_bytes);
	}
}

/* Deletes sealed ingest segments whose messages are all final.  Runs only
 * when the state log is synced, so the records that made them final are
 * durable before the data disappears. */
static int retire(struct q_store *s)
{
	struct q_seg **pp = &s->segs, *seg;
	int n = 0;

	while ((seg = *pp)) {
		if (seg->shard == Q_SEG_SHARD_STATE || !seg->sealed ||
		    seg->live_msgs) {
			pp = &seg->next;
			continue;
		}
		*pp = seg->next;
		q_store_ents_free(s, seg);
		s->disk_bytes -= seg->size;
		/* Kept for reuse where it can be: deleting it costs an online
		 * discard of the whole file here (67-87 ms for 64 MiB, during
		 * which every commit sync waits), and a new one costs zeroing. */
		if (s->shards[seg->shard] && s->npool[seg->shard] < pool_cap(s) &&
		    q_seg_can_recycle(s, seg) && q_seg_retire_free(s, seg) == 0)
			pool_push(s, seg);
		else
			q_seg_free(s, seg, true);
		n++;
	}
	return n;
}

int q_store_poll(struct q_store *s)
{
	uint64_t v;
	int n = 0, rc;

	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	for (unsigned i = 0; i < Q_SHARD_MAX; i++) {
		struct q_shard *sh = s->shards[i];
		struct q_note *note;

		if (!sh)
			continue;
		unsigned got = 0;

		while ((note = mx_ring_pop(q_shard_to_store(sh)))) {
			take_notice(s, note);
			if (!mx_ring_push(q_shard_free_notes(sh), note))
				mx_panic("queue: free notice ring overflow");
			got++;
		}
		if (got)
			q_shard_notes_returned(sh);
		n += (int)got;
	}
	if (s->pend_len) {
		rc = q_store_state_commit(s);
		if (rc < 0) {
			/* No new segments either (nor retirement, which would
			 * act on state a restart may not see): a shard that
			 * fills its segment refuses what it holds with
			 * -ENOSPC (452 4.3.1) instead of keeping clients
			 * waiting for a segment that never comes. */
			atomic_store(&s->seg_fail, true);
			return rc;
		}
	}
	rc = q_compact_poll(s);
	if (rc < 0)
		return rc;
	n += rc;
	n += retire(s);
	n += prep_spares(s);
	quota_update(s);
	return n;
}

void q_store_stats(struct q_store *s, struct q_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < Q_ST__COUNT; i++)
		st->count[i] = s->count[i];
	st->bytes_on_disk = s->disk_bytes + s->pool_bytes;
	for (unsigned i = 0; i < Q_SHARD_MAX; i++)
		st->segments_free += s->npool[i];
	st->segments_recycled = s->recycled;
	st->live_bytes = s->live_bytes;
	for (struct q_seg *seg = s->segs; seg; seg = seg->next) {
		st->segments++;
		for (struct q_ent *e = seg->ents; e; e = e->seg_next) {
			uint64_t t = e->loaded ? e->env.received_wall_ns
					       : (e->id >> 32) * 1000000000u;

			if (e->state != Q_ST_DONE &&
			    (!st->oldest_received_wall_ns ||
			     t < st->oldest_received_wall_ns))
				st->oldest_received_wall_ns = t;
		}
	}
	st->over_quota = atomic_load(&s->over_quota);
	st->quota_bytes = s->conf.quota_bytes;
	st->recovered_msgs = s->recovered_msgs;
	st->recovered_discarded_bytes = s->recovered_discarded;
	st->copied_forward = s->copied_msgs;
	st->compactions = s->compactions;
}
