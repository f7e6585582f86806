/*
 * mgmt_inject.c — messages born in the management plane (bounces, delay
 * notices) enter the queue like any other: through a shard of their own
 * (index = number of cores), written by the management thread on its own
 * io_uring ring.  The ring's completions wake the management loop through
 * an eventfd, so the loop never blocks on the disk.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mgmt_daemon.h"
#include "mgmt_dlv.h"
#include "mx_log.h"
#include "q_shard.h"
#include "q_store.h"

#define MGMT_UD_INJECT (0x49ull << 56)

static void mgmt_inject_done(void *arg, uint64_t cookie, uint64_t id,
			     int status)
{
	struct mgmt_daemon *d = arg;
	char ids[17];

	/* Only now may delivery record the bounced recipients: a crash
	 * before this point repeats the bounce instead of losing it. */
	if (cookie != MGMT_DLV_TOKEN_NONE)
		mgmt_dlv_inject_done(d->dlv, cookie, status);
	q_id_fmt(id, ids);
	if (status == 0)
		mx_log(MX_LOG_INFO, "inject", "id=%s event=queued", ids);
	else
		mx_log(MX_LOG_ERR, "inject", "id=%s event=failed error=%s",
		       ids, strerror(-status));
}

int mgmt_inject_init(struct mgmt_daemon *d)
{
	int r;

	r = io_uring_queue_init(256, &d->ring, 0);
	if (r < 0)
		return r;
	d->ring_ready = true;
	d->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->ring_efd < 0)
		return -errno;
	r = io_uring_register_eventfd(&d->ring, d->ring_efd);
	if (r < 0)
		return r;
	return q_shard_attach(d->shards[d->cores], &d->ring, MGMT_UD_INJECT,
			      mgmt_inject_done, d);
}

void mgmt_inject_fini(struct mgmt_daemon *d)
{
	struct q_shard *sh = d->shards[d->cores];

	if (!d->ring_ready)
		return;
	/* Let what is in flight finish: a bounce that was handed to the
	 * queue should not be lost to a shutdown. */
	for (int i = 0; i < 500 && sh && q_shard_inflight(sh) > 0; i++) {
		struct io_uring_cqe *cqe;

		q_shard_flush(sh);
		io_uring_submit(&d->ring);
		if (io_uring_wait_cqe(&d->ring, &cqe) == 0) {
			q_shard_cqe(sh, cqe);
			io_uring_cqe_seen(&d->ring, cqe);
		}
	}
	io_uring_queue_exit(&d->ring);
	close(d->ring_efd);
	d->ring_ready = false;
}

int mgmt_inject(void *arg, const struct q_envelope *env, const uint8_t *body,
		size_t len, uint64_t token)
{
	struct mgmt_daemon *d = arg;
	struct q_shard *sh = d->shards[d->cores];
	struct q_msg *m;
	uint64_t id;
	int r;

	r = q_shard_msg_open(sh, env, token, &m, &id);
	if (r < 0)
		return r;
	r = q_shard_msg_write(m, body, len);
	if (r < 0) {
		q_shard_msg_abort(m);
		return r;
	}
	q_shard_msg_commit(m);
	return 0;
}

void mgmt_inject_poll(struct mgmt_daemon *d)
{
	struct q_shard *sh = d->shards[d->cores];
	struct io_uring_cqe *cqe;
	uint64_t v;

	if (read(d->ring_efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled since the last poll. */
	}
	q_shard_flush(sh);
	io_uring_submit(&d->ring);
	while (io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		q_shard_cqe(sh, cqe);
		io_uring_cqe_seen(&d->ring, cqe);
	}
}
