/*
 * dp_sock_core.c — one core's loop.  The canonical shape:
 *
 *   for (;;) {
 *       sink flush          (the round's group commit goes out)
 *       submit and wait     (one io_uring_enter: all sends, recvs, writes)
 *       dispatch every CQE  (accept, recv, send, close, sink, timers)
 *       every 100 ms: timeouts, re-arm starved receives, stop/drain
 *   }
 *
 * Nothing here blocks except io_uring_submit_and_wait_timeout itself, which
 * wakes for any completion, for the eventfd that dp_sock_stop() writes, or
 * after 100 ms.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dp_sock_internal.h"
#include "mx_log.h"
#include "mx_time.h"

#define DP_SCAN_INTERVAL_MS 100

struct io_uring_sqe *dp_sock_sqe(struct dp_sock_core *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	if (!sqe) {
		/* The SQ is sized for a full round; running out means an
		 * unusually busy one: push what we have and carry on. */
		MX_COUNT(dp_sock_counters, sock_sqe_full);
		io_uring_submit(&c->ring);
		sqe = io_uring_get_sqe(&c->ring);
		if (!sqe)
			mx_panic("io_uring SQ still full after submit core=%u",
				 c->idx);
	}
	return sqe;
}

void dp_sock_core_wake(struct dp_sock_core *c)
{
	uint64_t one = 1;

	if (write(c->wake_fd, &one, sizeof(one)) < 0) {
		/* eventfd write fails only on overflow: already woken. */
	}
}

static void dp_sock_arm_accept(struct dp_sock_core *c, unsigned l)
{
	struct io_uring_sqe *sqe = dp_sock_sqe(c);

	io_uring_prep_multishot_accept(sqe, c->listen_fd[l], NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_ACCEPT, l));
	c->accept_armed[l] = true;
}

static void dp_sock_arm_wake(struct dp_sock_core *c)
{
	struct io_uring_sqe *sqe = dp_sock_sqe(c);

	io_uring_prep_read(sqe, c->wake_fd, &c->wake_val, sizeof(c->wake_val),
			   0);
	io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_WAKE, 0));
}

static int dp_sock_core_setup(struct dp_sock_core *c)
{
	struct io_uring_params p;
	struct io_uring_buf_reg reg;
	unsigned entries = 4096;
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = entries * 4;
	r = io_uring_queue_init_params(entries, &c->ring, &p);
	if (r < 0) {
		/* Older kernels: fall back to the plain flags. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		r = io_uring_queue_init_params(entries, &c->ring, &p);
		if (r < 0)
			return r;
	}
	c->ring_ready = true;

	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)c->br;
	reg.ring_entries = c->buf_count;
	reg.bgid = DP_BGID;
	r = io_uring_register_buf_ring(&c->ring, &reg, 0);
	if (r < 0)
		return r;
	io_uring_buf_ring_init(c->br);
	for (unsigned i = 0; i < c->buf_count; i++)
		io_uring_buf_ring_add(c->br, c->buf_mem + (size_t)i * c->buf_size,
				      c->buf_size, (uint16_t)i,
				      io_uring_buf_ring_mask(c->buf_count),
				      (int)i);
	io_uring_buf_ring_advance(c->br, (int)c->buf_count);
	c->buf_free = c->buf_count;

	if (c->sink.ops) {
		r = c->sink.ops->attach(c->sink.arg, &c->ring,
					dp_sock_commit_done, c);
		if (r < 0)
			return r;
	}
	for (unsigned l = 0; l < c->ds->conf.listen_count; l++)
		dp_sock_arm_accept(c, l);
	dp_sock_arm_wake(c);
	c->listening = true;
	return 0;
}

void dp_sock_buf_recycle(struct dp_sock_core *c, uint16_t bid)
{
	io_uring_buf_ring_add(c->br, c->buf_mem + (size_t)bid * c->buf_size,
			      c->buf_size, bid,
			      io_uring_buf_ring_mask(c->buf_count), 0);
	io_uring_buf_ring_advance(c->br, 1);
	c->buf_free++;
}

static void dp_sock_close_listeners(struct dp_sock_core *c)
{
	struct io_uring_sqe *sqe;

	if (!c->listening)
		return;
	c->listening = false;
	for (unsigned l = 0; l < c->ds->conf.listen_count; l++) {
		if (c->listen_fd[l] < 0)
			continue;
		sqe = dp_sock_sqe(c);
		io_uring_prep_cancel_fd(sqe, c->listen_fd[l], 0);
		io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_CANCEL, 0));
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
}

static void dp_sock_dispatch(struct dp_sock_core *c,
			     const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint64_t payload = ud & DP_UD_PAYLOAD_MASK;

	switch (DP_UD_TAG(ud)) {
	case DP_OP_ACCEPT:
		if (!(cqe->flags & IORING_CQE_F_MORE))
			c->accept_armed[payload] = false;
		if (cqe->res >= 0)
			dp_sock_conn_accept(c, (unsigned)payload, cqe->res);
		else if (cqe->res != -ECANCELED)
			MX_COUNT(dp_sock_counters, sock_accept_errors);
		if (!c->accept_armed[payload] && c->listening)
			dp_sock_arm_accept(c, (unsigned)payload);
		break;
	case DP_OP_RECV:
		dp_sock_conn_recv(c, payload, cqe);
		break;
	case DP_OP_SEND:
		dp_sock_conn_sent(c, payload, cqe->res);
		break;
	case DP_OP_CLOSE:
		dp_sock_conn_closed(c, payload);
		break;
	case DP_OP_REFUSE:
		/* payload is the fd; the 421 went out or failed: close. */
		close((int)payload);
		break;
	case DP_OP_CANCEL:
		if (payload)
			dp_sock_conn_cancelled(c, payload, cqe->res);
		break;
	case DP_OP_PREGREET:
		dp_sock_conn_pregreet(c, payload);
		break;
	case DP_OP_WAKE:
		if (!atomic_load(&c->ds->stop))
			dp_sock_arm_wake(c);
		break;
	default:
		if ((ud & ~DP_UD_PAYLOAD_MASK) == DP_UD_SINK && c->sink.ops) {
			c->sink.ops->cqe(c->sink.arg, cqe);
			break;
		}
		mx_panic("socket core=%u: completion with unknown tag %#llx",
			 c->idx, (unsigned long long)ud);
	}
}

/* Periodic work: timeouts, starved receives, stop and drain. */
static void dp_sock_periodic(struct dp_sock_core *c)
{
	struct dp_sock *ds = c->ds;

	if (atomic_load(&ds->stop) && !c->stopping) {
		c->stopping = true;
		c->stop_deadline_ms = c->now_ms + ds->conf.stop_timeout_ms;
		dp_sock_close_listeners(c);
	}
	if (c->stopping && !c->refused_stragglers &&
	    c->now_ms >= c->stop_deadline_ms) {
		c->refused_stragglers = true;
		dp_sock_conn_refuse_all(c, "421 4.3.2 Service shutting down");
	}
	dp_sock_conn_scan(c);
}

void *dp_sock_core_main(void *arg)
{
	struct dp_sock_core *c = arg;
	struct __kernel_timespec ts = {.tv_sec = 0,
				       .tv_nsec = DP_SCAN_INTERVAL_MS *
						  1000000};
	char name[16];
	int r;

	snprintf(name, sizeof(name), "mx-core%u", c->idx);
	pthread_setname_np(pthread_self(), name);
	mx_counter_thread_attach();
	r = dp_sock_core_setup(c);
	if (r < 0)
		mx_fatal("socket core=%u: io_uring setup failed: %s", c->idx,
			 strerror(-r));
	mx_log(MX_LOG_INFO, "socket", "core=%u started listeners=%u", c->idx,
	       c->ds->conf.listen_count);
	c->now_ms = mx_now_ms();
	c->next_scan_ms = c->now_ms + DP_SCAN_INTERVAL_MS;

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		if (c->sink.ops)
			c->sink.ops->flush(c->sink.arg);
		r = io_uring_submit_and_wait_timeout(&c->ring, &cqe, 1, &ts,
						     NULL);
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY)
			mx_fatal("socket core=%u: io_uring wait: %s", c->idx,
				 strerror(-r));
		c->now_ms = mx_now_ms();
		io_uring_for_each_cqe(&c->ring, head, cqe)
		{
			dp_sock_dispatch(c, cqe);
			seen++;
		}
		io_uring_cq_advance(&c->ring, seen);

		if (c->now_ms >= c->next_scan_ms ||
		    atomic_load(&c->ds->stop)) {
			c->next_scan_ms = c->now_ms + DP_SCAN_INTERVAL_MS;
			dp_sock_periodic(c);
		}
		if (c->stopping && atomic_load(&c->active) == 0)
			break;
	}
	/* Let the sink finish what it has in flight so that no commit is
	 * left half done; sessions are gone so results are dropped. */
	if (c->sink.ops)
		c->sink.ops->flush(c->sink.arg);
	io_uring_submit(&c->ring);
	mx_log(MX_LOG_INFO, "socket", "core=%u stopped", c->idx);
	io_uring_queue_exit(&c->ring);
	mx_counter_thread_detach();
	return NULL;
}
