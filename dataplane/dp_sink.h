/*
 * dp_sink — where a dataplane core puts the messages its SMTP sessions
 * accept.  The dataplane never includes queue headers: the management
 * plane hands each core a sink (a function table and its argument) that is
 * implemented over that core's queue shard.  This keeps the dependency
 * arrows one way (lib <- queue, dataplane <- mgmt) and lets tests plug in a
 * sink of their own.
 *
 * Threading: a sink belongs to one core; every call below is made from that
 * core's thread, and the sink calls `done` from inside flush() or cqe() on
 * the same thread.  Nothing here blocks.
 *
 * The sink submits its I/O on the core's io_uring ring, given once by
 * attach(); every SQE it submits carries user_data with the DP_UD_SINK tag
 * in the top byte, and the core hands each such completion back to cqe().
 * So the core reaps the queue's completions in its own loop, no extra hop.
 *
 * Ownership: a message handle returned by open() belongs to the sink; the
 * core must end it with exactly one commit() or abort().  After commit()
 * the core must not touch the handle; the outcome arrives through done().
 */
#ifndef DP_SINK_H
#define DP_SINK_H

#include <stddef.h>
#include <stdint.h>

struct io_uring;
struct io_uring_cqe;
struct dp_smtp_envelope;

#define DP_UD_TAG_SHIFT 56
#define DP_UD_TAG(ud) ((uint8_t)((ud) >> DP_UD_TAG_SHIFT))
#define DP_UD_SINK ((uint64_t)0x51 << DP_UD_TAG_SHIFT)
#define DP_UD_PAYLOAD_MASK (((uint64_t)1 << DP_UD_TAG_SHIFT) - 1)

/*
 * status: 0 durable (the session may say 250), -ENOSPC over quota
 * (452 4.3.1), -EPERM rejected by content policy (550 5.7.1), any other
 * -errno a temporary failure (451 4.3.0).  cookie is what open() was given.
 */
typedef void (*dp_sink_done_fn)(void *core, uint64_t cookie, uint64_t id,
				int status);

struct dp_sink_ops {
	/* Once, in the core's thread, before any other call. 0 or -errno. */
	int (*attach)(void *sink, struct io_uring *ring, dp_sink_done_fn done,
		      void *core);
	/*
	 * Starts a message for a complete envelope (valid during the call
	 * only).  On success stores the handle in *msg and the 64-bit queue
	 * id in *id.  -ENOSPC: over the high-water mark; -ENOMEM: no free
	 * staging buffer; other -errno: I/O trouble.
	 */
	int (*open)(void *sink, const struct dp_smtp_envelope *env,
		    uint64_t cookie, uint64_t *id, void **msg);
	/* Appends body bytes.  -EFBIG past the size limit; the message must
	 * then be aborted. */
	int (*write)(void *sink, void *msg, const void *data, size_t len);
	void (*commit)(void *sink, void *msg);
	void (*abort)(void *sink, void *msg);
	/* End of a loop round: submit the group commit for what is pending. */
	void (*flush)(void *sink);
	/* A completion whose user_data carries DP_UD_SINK. */
	void (*cqe)(void *sink, const struct io_uring_cqe *cqe);
	/* true while the sink refuses new messages (over quota): the core
	 * stops reading from sessions that are about to send data. */
	int (*full)(void *sink);
};

struct dp_sink {
	const struct dp_sink_ops *ops;
	void *arg;
};

#endif
