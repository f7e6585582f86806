/*
 * q_record — queue segment and record format.
 *
 * A SEGMENT is one file of fixed size (q_conf.segment_size), preallocated
 * when it is created and never extended.  All integers are little-endian.
 *
 * Segment header, the first 4096 bytes (one block, so O_DIRECT writes of
 * records stay aligned):
 *
 *   0   8  magic "MXGQSEG1"
 *   8   4  format version (1)
 *   12  2  shard index, 0..63; 0xffff for the store's own state log
 *   14  1  align_shift: records start at multiples of 1 << align_shift
 *          (3 for buffered segments, 12 for O_DIRECT segments)
 *   15  1  flags: 0x01 = recycled (the file held an earlier segment, see
 *          RECYCLING below); other bits 0
 *   16  8  sequence number of the segment within its shard (from 1)
 *   24  8  salt: random, different for every segment file
 *   32  8  creation time, ns since the Unix epoch
 *   40  8  segment size in bytes (must equal the file size)
 *   48  4  CRC32C of bytes 0..47
 *   52  .. zero up to 4096
 *
 * A header is valid when magic, version, CRC match, align_shift is 3..12,
 * unknown flag bits are 0 and size is > 4096.  A file whose header is invalid
 * is not ours (or was never completed): recovery leaves it alone and
 * reports it.
 *
 * RECORDS follow from offset 4096, each at the next multiple of
 * 1 << align_shift after the previous one (padding bytes are zero and not
 * part of any record):
 *
 *   0   4  CRC32C: crc32c(crc32c(0, salt as 8 LE bytes), bytes 4..len-1)
 *   4   4  len: the whole record including this header, >= 32
 *   8   1  type (enum q_rec_type)
 *   9   1  flags, 0
 *   10  2  reserved, 0
 *   12  4  aux: a per-type small integer (recipient index, verdict,
 *          attempts, deletion reason)
 *   16  8  message id
 *   24  8  time the record was written, ns since the Unix epoch
 *   32  .. payload, len - 32 bytes:
 *      MSG         u32 env_len, env_len bytes of envelope (q_envelope.c),
 *                  then the body (the message as received, CRLF lines)
 *      DEFERRED    u64 retry-at wall ns, then text
 *      VERDICT, BOUNCED, RELEASED, QUARANTINED: text
 *      DELIVERED, HELD, DELETED, FLUSHED: empty
 *   FLUSHED with message id 0 applies to every message deferred at that
 *   point of the log (one record for `queue flush`).
 *      SNAPSHOT    (aux = state 0..5, as enum q_state) the whole state of
 *                  a message, written by copy-forward and compaction so
 *                  older state records can go:
 *                    0  1  held_from (a state, 0..5)
 *                    1  1  flags: 1 = has verdict, 2 = has last error
 *                    2  2  reserved, 0
 *                    4  4  attempts
 *                    8  8  next attempt, wall ns
 *                    16 4  rcpt_count R
 *                    20 R  recipient status, one byte each, 0..3
 *                    .. 4  verdict length V (0 unless flag 1)
 *                    .. V  verdict text
 *                    ..    the rest: last error text (empty unless flag 2)
 *   text is UTF-8 without NUL bytes, not terminated.
 *   DELETED aux: 0 operator, 1 write failed (never acknowledged), 2 final
 *   (written by compaction for a message already finished).
 *
 * A record is valid when: it starts inside the segment, its 32-byte header
 * lies inside it, len >= 32 and off + len <= segment size (a record never
 * spans two segments), the CRC matches with THIS segment's salt (so a
 * record left over from another segment or copied from one is rejected),
 * type is known, flags and reserved are 0, and its payload follows the
 * per-type rules above (the envelope decodes and fits in the record, text
 * has no NUL, fixed-size payloads have their exact size).
 *
 * RECOVERY reads records in order and stops at the first position where the
 * header is all zero (the clean end: segments are zero-filled) or the record
 * is invalid (a torn tail: a crash in the middle of a write, or a write
 * that never reached the disk before a later one did).  Everything from
 * there to the end of the file is discarded: the store zeroes it and reports
 * how many non-zero bytes it held.  Nothing after the first invalid record
 * is trusted, even if it looks valid — a record is acknowledged only after
 * its sync completed and every earlier batch of its segment was durable,
 * so an acknowledged record is never behind a torn one.  A shard never
 * appends to a segment again after a restart or after an I/O error: it
 * starts a fresh one, so a discarded tail is never overwritten by live data.
 *
 * RECYCLING.  A retired ingest segment (every message in it final, and
 * that durable in the state log) is not deleted but renamed to
 * SSSSSSSSSSSSSSSS.free and later reused as a new segment of its shard:
 * renamed to the new name's .tmp, given a new header (new sequence number,
 * new salt, new creation time), synced, renamed into place.  Its blocks are
 * already written, so it needs no zeroing, and deleting it would cost an
 * online discard of the whole file.  Past the new records lie the old
 * ones: their CRCs were made with the old salt, so none is valid here, and
 * replay stops at the first of them as it would at a torn record.  The
 * header says so (flag 0x01), and for such a segment the report tells the
 * two apart (the stopping rule above does not change): replay stopped at
 * a torn record only if the header there is well formed and written at or
 * after this segment's creation time; anything else is the earlier life,
 * a clean end, nothing discarded.  A torn tail counts and zeroes only the
 * bytes up to the first header of the earlier life after it (written
 * before the creation time), not the rest of the file.  A torn write
 * whose first sector did not reach the disk reads as a clean end, and a
 * wall clock stepped back across a recycling can make a stale header look
 * torn: both only change the report; nothing valid is dropped or kept.
 */
#include "q_record.h"

#include <errno.h>
#include <string.h>

#include "mx_crc32c.h"
#include "q_envelope.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void q_seg_hdr_encode(const struct q_seg_hdr *h, uint8_t out[Q_SEG_HDR_SIZE])
{
	memset(out, 0, Q_SEG_HDR_SIZE);
	memcpy(out, Q_SEG_MAGIC, 8);
	put32(out + 8, Q_SEG_VERSION);
	put16(out + 12, h->shard);
	out[14] = h->align_shift;
	out[15] = h->flags;
	put64(out + 16, h->seq);
	put64(out + 24, h->salt);
	put64(out + 32, h->created_wall_ns);
	put64(out + 40, h->size);
	put32(out + 48, mx_crc32c(0, out, 48));
}

int q_seg_hdr_decode(const uint8_t *buf, size_t len, struct q_seg_hdr *h)
{
	if (len < Q_SEG_HDR_SIZE || memcmp(buf, Q_SEG_MAGIC, 8) != 0 ||
	    get32(buf + 8) != Q_SEG_VERSION ||
	    get32(buf + 48) != mx_crc32c(0, buf, 48) ||
	    (buf[15] & ~Q_SEG_F_RECYCLED) != 0 ||
	    buf[14] < 3 || buf[14] > 12)
		return -EBADMSG;
	h->shard = get16(buf + 12);
	h->align_shift = buf[14];
	h->flags = buf[15];
	h->seq = get64(buf + 16);
	h->salt = get64(buf + 24);
	h->created_wall_ns = get64(buf + 32);
	h->size = get64(buf + 40);
	if (h->size <= Q_SEG_HDR_SIZE)
		return -EBADMSG;
	return 0;
}

void q_rec_hdr_fill(uint8_t *rec, uint32_t len, uint8_t type, uint32_t aux,
		    uint64_t id, uint64_t wall_ns)
{
	put32(rec, 0);
	put32(rec + 4, len);
	rec[8] = type;
	rec[9] = 0;
	put16(rec + 10, 0);
	put32(rec + 12, aux);
	put64(rec + 16, id);
	put64(rec + 24, wall_ns);
}

static uint32_t rec_crc(const uint8_t *rec, uint32_t len, uint64_t salt)
{
	uint8_t s[8];

	put64(s, salt);
	return mx_crc32c(mx_crc32c(0, s, 8), rec + 4, len - 4);
}

void q_rec_seal(uint8_t *rec, uint64_t salt)
{
	put32(rec, rec_crc(rec, get32(rec + 4), salt));
}

long q_rec_encode_state(uint8_t *buf, size_t size, uint8_t type, uint32_t aux,
			uint64_t id, uint64_t wall_ns, uint64_t until,
			const char *text, uint64_t salt)
{
	size_t tlen = text ? strlen(text) : 0;
	size_t fixed = type == Q_REC_DEFERRED ? 8 : 0;
	size_t len = Q_REC_HDR_SIZE + fixed + tlen;

	if (len > size || len > UINT32_MAX)
		return -ENOBUFS;
	q_rec_hdr_fill(buf, (uint32_t)len, type, aux, id, wall_ns);
	if (fixed)
		put64(buf + Q_REC_HDR_SIZE, until);
	if (tlen)
		memcpy(buf + Q_REC_HDR_SIZE + fixed, text, tlen);
	q_rec_seal(buf, salt);
	return (long)len;
}

long q_rec_encode_snapshot(uint8_t *buf, size_t size, uint64_t id,
			   uint64_t wall_ns, const struct q_snap *sn,
			   uint64_t salt)
{
	size_t vlen = sn->verdict ? strlen(sn->verdict) : 0;
	size_t elen = sn->last_error ? strlen(sn->last_error) : 0;
	size_t len = Q_REC_HDR_SIZE + 24 + sn->rcpt_count + vlen + elen;
	uint8_t *p = buf + Q_REC_HDR_SIZE;

	if (len > size || len > UINT32_MAX)
		return -ENOBUFS;
	q_rec_hdr_fill(buf, (uint32_t)len, Q_REC_SNAPSHOT, sn->state, id,
		       wall_ns);
	p[0] = sn->held_from;
	p[1] = (uint8_t)((sn->verdict ? 1 : 0) | (sn->last_error ? 2 : 0));
	put16(p + 2, 0);
	put32(p + 4, sn->attempts);
	put64(p + 8, sn->next_attempt_wall_ns);
	put32(p + 16, sn->rcpt_count);
	memcpy(p + 20, sn->rcpt_status, sn->rcpt_count);
	p += 20 + sn->rcpt_count;
	put32(p, (uint32_t)vlen);
	memcpy(p + 4, sn->verdict ? sn->verdict : "", vlen);
	memcpy(p + 4 + vlen, sn->last_error ? sn->last_error : "", elen);
	q_rec_seal(buf, salt);
	return (long)len;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Per-type payload rules; fills the decoded fields of r. */
static int rec_payload(struct q_rec *r)
{
	const uint8_t *p = r->payload;
	size_t n = r->payload_len;

	switch (r->type) {
	case Q_REC_MSG: {
		uint32_t elen;

		if (n < 4 || r->aux != 0)
			return -EBADMSG;
		elen = get32(p);
		if (elen > n - 4 || q_envelope_check(p + 4, elen) != (long)elen)
			return -EBADMSG;
		r->env = p + 4;
		r->env_len = elen;
		r->body = p + 4 + elen;
		r->body_len = n - 4 - elen;
		return 0;
	}
	case Q_REC_DEFERRED:
		if (n < 8)
			return -EBADMSG;
		r->until_wall_ns = get64(p);
		p += 8;
		n -= 8;
		break;
	case Q_REC_VERDICT:
		if (r->aux > 3)
			return -EBADMSG;
		break;
	case Q_REC_BOUNCED:
	case Q_REC_RELEASED:
	case Q_REC_QUARANTINED:
		break;
	case Q_REC_SNAPSHOT: {
		struct q_snap_rec *sn = &r->snap;
		uint32_t vlen;

		if (n < 24 || r->aux > 5 || p[0] > 5 || p[1] > 3 ||
		    get16(p + 2) != 0)
			return -EBADMSG;
		sn->held_from = p[0];
		sn->has_verdict = p[1] & 1;
		sn->has_error = p[1] & 2;
		sn->attempts = get32(p + 4);
		r->until_wall_ns = get64(p + 8);
		sn->rcpt_count = get32(p + 16);
		if (sn->rcpt_count > n - 24)
			return -EBADMSG;
		sn->rcpt_status = p + 20;
		for (uint32_t i = 0; i < sn->rcpt_count; i++)
			if (sn->rcpt_status[i] > 3)
				return -EBADMSG;
		p += 20 + sn->rcpt_count;
		n -= 20 + sn->rcpt_count;
		vlen = get32(p);
		if (vlen > n - 4 || (vlen && !sn->has_verdict) ||
		    memchr(p + 4, 0, vlen))
			return -EBADMSG;
		sn->verdict = p + 4;
		sn->verdict_len = vlen;
		p += 4 + vlen;
		n -= 4 + vlen;
		if (n && !sn->has_error)
			return -EBADMSG;
		break;
	}
	case Q_REC_DELETED:
		if (r->aux > Q_DEL_FINAL)
			return -EBADMSG;
		/* fall through */
	case Q_REC_DELIVERED:
	case Q_REC_HELD:
	case Q_REC_FLUSHED:
		return n == 0 ? 0 : -EBADMSG;
	default:
		return -EBADMSG;
	}
	if (memchr(p, 0, n))
		return -EBADMSG;
	r->text = p;
	r->text_len = n;
	return 0;
}

int q_rec_decode(const uint8_t *seg, size_t seg_len, size_t off,
		 uint64_t salt, struct q_rec *r)
{
	const uint8_t *h;
	uint32_t len;

	if (off > seg_len || seg_len - off < Q_REC_HDR_SIZE)
		return off >= seg_len || all_zero(seg + off, seg_len - off)
			       ? 0 : -EBADMSG;
	h = seg + off;
	if (all_zero(h, Q_REC_HDR_SIZE))
		return 0;
	len = get32(h + 4);
	if (len < Q_REC_HDR_SIZE || len > seg_len - off)
		return -EBADMSG;
	if (get32(h) != rec_crc(h, len, salt))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->type = h[8];
	if (h[9] != 0 || get16(h + 10) != 0 || r->type == 0 ||
	    r->type >= Q_REC__END)
		return -EBADMSG;
	r->aux = get32(h + 12);
	r->id = get64(h + 16);
	r->wall_ns = get64(h + 24);
	r->len = len;
	r->payload = h + Q_REC_HDR_SIZE;
	r->payload_len = len - Q_REC_HDR_SIZE;
	return rec_payload(r) == 0 ? 1 : -EBADMSG;
}

/* From off to the last non-zero byte before len: the size of a torn
 * tail. */
static uint64_t tail_garbage(const uint8_t *seg, size_t len, size_t off)
{
	size_t last = len;

	while (last > off && seg[last - 1] == 0)
		last--;
	return last - off;
}

/* Whether the 32 bytes at h are shaped like a record header (CRC aside)
 * written at or after `from` and before `to` (wall ns). */
static bool hdr_shaped(const uint8_t *h, size_t room, uint64_t from,
		       uint64_t to)
{
	uint32_t len = get32(h + 4);
	uint64_t t = get64(h + 24);

	return room >= Q_REC_HDR_SIZE && len >= Q_REC_HDR_SIZE && len <= room &&
	       h[8] != 0 && h[8] < Q_REC__END && h[9] == 0 &&
	       get16(h + 10) == 0 && t >= from && t < to;
}

/* Where a torn tail of a recycled segment ends: at the first 8-byte
 * aligned header of its earlier life (written before `created`), or len. */
static size_t stale_from(const uint8_t *seg, size_t len, size_t end,
			 uint64_t created)
{
	for (size_t p = end; p + Q_REC_HDR_SIZE <= len; p += 8)
		if (get32(seg + p + 4) &&
		    hdr_shaped(seg + p, len - p, 1, created))
			return p;
	return len;
}

int q_replay_segment(const uint8_t *seg, size_t len,
		     int (*fn)(void *arg, const struct q_rec *r, uint64_t off),
		     void *arg, struct q_replay *out)
{
	uint64_t off = Q_SEG_HDR_SIZE;
	struct q_rec r;
	size_t lim;
	int rc;

	memset(out, 0, sizeof(*out));
	if (q_seg_hdr_decode(seg, len, &out->hdr) < 0)
		return -EBADMSG;
	/* The file may be shorter than the header says (a crash while it was
	 * being created, or a truncated copy): replay what is there. */
	if (out->hdr.size < len)
		len = out->hdr.size;
	for (;;) {
		rc = q_rec_decode(seg, len, off, out->hdr.salt, &r);
		if (rc <= 0) {
			out->torn = rc < 0;
			break;
		}
		out->records++;
		if (fn) {
			rc = fn(arg, &r, off);
			if (rc) {
				out->end = off;
				return rc;
			}
		}
		off = q_rec_padded(off + r.len, out->hdr.align_shift);
		if (off >= len)
			break;
	}
	out->end = off < len ? off : len;
	lim = len;
	if (out->hdr.flags & Q_SEG_F_RECYCLED) {
		uint64_t created = out->hdr.created_wall_ns;

		/* Torn only if what stopped replay looks like a record of
		 * this life; else it is the earlier life: a clean end. */
		if (out->torn &&
		    !hdr_shaped(seg + out->end, len - out->end, created,
				UINT64_MAX)) {
			out->torn = false;
			out->stale = true;
		}
		lim = out->torn ? stale_from(seg, len, out->end, created)
				: out->end;
	}
	out->discarded = tail_garbage(seg, lim, out->end);
	return 0;
}
