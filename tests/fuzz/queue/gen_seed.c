/*
 * gen_seed — writes the seed corpus of fuzz_q_replay: a small segment with
 * a message record, a few state records and a snapshot.  Run once; the
 * output is kept in corpus/.
 */
#include <stdio.h>
#include <string.h>

#include "q_envelope.h"
#include "q_record.h"

int main(int argc, char **argv)
{
	static uint8_t seg[16384];
	struct q_rcpt rc = { "a@b.example", Q_NOTIFY_FAILURE, "rfc822;a@b" };
	struct q_envelope env = { .client_addr = "192.0.2.1", .helo = "h",
				  .proto = "ESMTP", .mail_from = "s@x",
				  .envid = "X", .rcpt = &rc, .rcpt_count = 1 };
	struct q_seg_hdr h = { .shard = 0, .align_shift = 3, .seq = 1,
			       .salt = 5, .size = sizeof(seg) };
	size_t off = Q_SEG_HDR_SIZE;
	long e, n;
	FILE *f;

	q_seg_hdr_encode(&h, seg);
	e = q_envelope_encode(&env, seg + off + 36, 4096);
	seg[off + 32] = (uint8_t)e;
	memcpy(seg + off + 36 + e, "Subject: s\r\n\r\nbody\r\n", 20);
	q_rec_hdr_fill(seg + off, (uint32_t)(36 + e + 20), Q_REC_MSG, 0, 1, 1);
	q_rec_seal(seg + off, 5);
	off = q_rec_padded(off + 36 + (size_t)e + 20, 3);
	n = q_rec_encode_state(seg + off, 512, Q_REC_DEFERRED, 1, 1, 2, 3,
			       "451 later", 5);
	off = q_rec_padded(off + (size_t)n, 3);
	n = q_rec_encode_state(seg + off, 512, Q_REC_BOUNCED, 0, 1, 2, 0,
			       "550 no", 5);
	off = q_rec_padded(off + (size_t)n, 3);
	q_rec_encode_snapshot(seg + off, 512, 1, 3, &(struct q_snap){
		.state = 2, .held_from = 0, .attempts = 1,
		.next_attempt_wall_ns = 9, .rcpt_count = 1,
		.rcpt_status = (const uint8_t[]){ 3 }, .verdict = "ok",
		.last_error = "451 later" }, 5);
	f = fopen(argc > 1 ? argv[1] : "seed-segment", "wb");
	if (!f || fwrite(seg, sizeof(seg), 1, f) != 1)
		return 1;
	return fclose(f) ? 1 : 0;
}
