/*
 * q_record — the on-disk format of queue segments and the records in them:
 * encoding, validation and replay of one segment held in memory.  The byte
 * layout and the validity rules are specified at the top of q_record.c.
 *
 * Pure functions over caller buffers; any thread.  Replay never trusts the
 * input: it is the target of tests/fuzz/queue.
 */
#ifndef Q_RECORD_H
#define Q_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define Q_SEG_MAGIC "MXGQSEG1"
#define Q_SEG_VERSION 1
#define Q_SEG_HDR_SIZE 4096u
#define Q_REC_HDR_SIZE 32u
#define Q_SEG_SHARD_STATE 0xffffu	/* the store's own log */

enum q_rec_type {
	Q_REC_MSG = 1,		/* envelope + body */
	Q_REC_VERDICT,		/* aux = enum q_verdict, text = detail */
	Q_REC_DELIVERED,	/* aux = recipient index */
	Q_REC_BOUNCED,		/* aux = recipient index, text = diagnostic */
	Q_REC_DEFERRED,		/* aux = attempts, u64 until, text = error */
	Q_REC_HELD,
	Q_REC_RELEASED,		/* text = who */
	Q_REC_QUARANTINED,	/* text = reason */
	Q_REC_DELETED,		/* aux = Q_DEL_* */
	Q_REC_FLUSHED,		/* deferred message made due at wall_ns */
	Q_REC_SNAPSHOT,		/* aux = state: the whole state of a message */
	Q_REC__END
};

#define Q_DEL_OPERATOR 0	/* q_store_delete */
#define Q_DEL_WRITE_FAILED 1	/* its commit failed; never acknowledged */
#define Q_DEL_FINAL 2		/* written by compaction: already final */

#define Q_SEG_F_RECYCLED 0x01	/* the file had an earlier life (q_record.c) */

struct q_seg_hdr {
	uint16_t shard;
	uint8_t align_shift;	/* records start at multiples of 1 << this */
	uint8_t flags;		/* Q_SEG_F_* */
	uint64_t seq;
	uint64_t salt;
	uint64_t created_wall_ns;
	uint64_t size;		/* bytes in the segment file */
};

/* A decoded record; payload points into the segment buffer. */
struct q_rec {
	uint8_t type;
	uint32_t aux;
	uint64_t id;
	uint64_t wall_ns;
	uint32_t len;		/* whole record, header included, unpadded */
	const uint8_t *payload;
	size_t payload_len;
	/* Q_REC_MSG only: */
	const uint8_t *env;
	size_t env_len;
	const uint8_t *body;
	size_t body_len;
	/* Q_REC_DEFERRED only: */
	uint64_t until_wall_ns;
	/* text records: the text (no NUL inside, not terminated);
	 * SNAPSHOT: the last deferral error */
	const uint8_t *text;
	size_t text_len;
	/* Q_REC_SNAPSHOT only (aux = state, until_wall_ns = next attempt): */
	struct q_snap_rec {
		uint8_t held_from;
		bool has_verdict, has_error;
		uint32_t attempts;
		uint32_t rcpt_count;
		const uint8_t *rcpt_status;	/* rcpt_count bytes, 0..3 */
		const uint8_t *verdict;
		size_t verdict_len;
	} snap;
};

/* What a SNAPSHOT record says (encoding side). */
struct q_snap {
	uint8_t state, held_from;
	uint32_t attempts;
	uint64_t next_attempt_wall_ns;
	uint32_t rcpt_count;
	const uint8_t *rcpt_status;
	const char *verdict;		/* NULL: none */
	const char *last_error;		/* NULL: none */
};

void q_seg_hdr_encode(const struct q_seg_hdr *h, uint8_t out[Q_SEG_HDR_SIZE]);
/* 0, or -EBADMSG when buf is not a valid segment header. */
int q_seg_hdr_decode(const uint8_t *buf, size_t len, struct q_seg_hdr *h);

static inline uint64_t q_rec_padded(uint64_t len, unsigned align_shift)
{
	uint64_t a = (uint64_t)1 << align_shift;

	return (len + a - 1) & ~(a - 1);
}

/* Writes the 32-byte header of a record of len bytes at rec (CRC zero). */
void q_rec_hdr_fill(uint8_t *rec, uint32_t len, uint8_t type, uint32_t aux,
		    uint64_t id, uint64_t wall_ns);
/* Computes and stores the CRC of a complete record for segment salt. */
void q_rec_seal(uint8_t *rec, uint64_t salt);

/*
 * Encodes a state record (every type but MSG) into buf; returns its length
 * (unpadded) or -ENOBUFS.  text may be NULL; until only for DEFERRED.
 */
long q_rec_encode_state(uint8_t *buf, size_t size, uint8_t type, uint32_t aux,
			uint64_t id, uint64_t wall_ns, uint64_t until,
			const char *text, uint64_t salt);

/* Encodes a SNAPSHOT record; its length (unpadded) or -ENOBUFS. */
long q_rec_encode_snapshot(uint8_t *buf, size_t size, uint64_t id,
			   uint64_t wall_ns, const struct q_snap *sn,
			   uint64_t salt);

/*
 * Decodes the record at off in a segment of seg_len bytes.  Returns 1 and
 * fills r for a valid record, 0 when the header bytes are all zero (the
 * clean end of the log), -EBADMSG for anything invalid.
 */
int q_rec_decode(const uint8_t *seg, size_t seg_len, size_t off,
		 uint64_t salt, struct q_rec *r);

struct q_replay {
	struct q_seg_hdr hdr;
	uint64_t end;		/* offset just past the last valid record */
	uint64_t records;
	uint64_t discarded;	/* non-zero bytes past end (a torn tail) */
	bool torn;		/* stopped at an invalid record, not at zeros */
	bool stale;		/* stopped at a record of the file's earlier
				 * life (a recycled segment): a clean end */
};

/*
 * Replays a whole segment held in memory: checks the header, then calls fn
 * for each valid record in order and stops at the first invalid one or at
 * the zero-filled tail.  fn returning non-zero stops replay and is
 * returned.  -EBADMSG if the header is invalid (a foreign file).
 */
int q_replay_segment(const uint8_t *seg, size_t len,
		     int (*fn)(void *arg, const struct q_rec *r, uint64_t off),
		     void *arg, struct q_replay *out);

/* Message ids: unix seconds (32 bits) | shard (6 bits) | sequence (26). */
#define Q_ID_SEQ_BITS 26
#define Q_ID_SHARD_BITS 6
static inline unsigned q_id_shard(uint64_t id)
{
	return (unsigned)(id >> Q_ID_SEQ_BITS) & ((1u << Q_ID_SHARD_BITS) - 1);
}

#endif
