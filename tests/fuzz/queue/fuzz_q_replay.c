/*
 * fuzz_q_replay — libFuzzer target for the queue's record decoder and
 * segment replay: the input is a segment image (header + records).  Every
 * valid message record's envelope is decoded as well.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "q_envelope.h"
#include "q_record.h"

static int on_rec(void *arg, const struct q_rec *r, uint64_t off)
{
	struct q_envelope env;
	void *mem;

	if (r->type == Q_REC_MSG &&
	    q_envelope_decode(r->env, r->env_len, &env, &mem) >= 0)
		free(mem);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct q_replay rp;
	struct q_envelope env;
	void *mem;

	q_replay_segment(data, size, on_rec, NULL, &rp);
	if (q_envelope_decode(data, size, &env, &mem) >= 0)
		free(mem);
	return 0;
}
