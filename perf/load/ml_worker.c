/*
 * ml_worker — one worker thread's io_uring loop: connect, recv and sendmsg
 * for its connections, the schedule that hands messages to connections
 * (closed loop: as soon as one is free; open loop: at fixed intended
 * times), and per-reply timeouts.
 *
 * user_data packs the connection index and the operation.  A connection is
 * recycled only once every operation it submitted has completed.
 */
#include "ml_worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* OP_CANCEL completions belong to no connection's count of operations. */
enum { OP_CANCEL = 0, OP_CONNECT = 1, OP_RECV = 2, OP_SEND = 3 };

#define TICK_NS 50000000ull

uint64_t ml_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct io_uring_sqe *get_sqe(struct ml_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		/* The ring is sized for every operation of every connection,
		 * so this only flushes what is queued. */
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
		if (!sqe)
			abort();
	}
	return sqe;
}

static void set_ud(struct io_uring_sqe *sqe, struct ml_conn *c, unsigned op)
{
	io_uring_sqe_set_data64(sqe, ((uint64_t)c->idx << 2) | op);
}

static void post_recv(struct ml_worker *w, struct ml_conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen,
			   sizeof(c->rbuf) - c->rlen, 0);
	set_ud(sqe, c, OP_RECV);
	c->recv_inflight = true;
	c->inflight++;
}

void ml_worker_send(struct ml_worker *w, struct ml_conn *c)
{
	struct io_uring_sqe *sqe;

	memset(&c->mh, 0, sizeof(c->mh));
	c->mh.msg_iov = c->iov + c->iov_i;
	c->mh.msg_iovlen = c->iov_n - c->iov_i;
	sqe = get_sqe(w);
	io_uring_prep_sendmsg(sqe, c->fd, &c->mh, MSG_NOSIGNAL);
	set_ud(sqe, c, OP_SEND);
	c->send_inflight = true;
	c->inflight++;
	c->deadline_ns = ml_now_ns() + w->o->timeout_ns;
}

static void recycle(struct ml_worker *w, struct ml_conn *c)
{
	if (c->state != ML_CS_CLOSING || c->inflight)
		return;
	close(c->fd);
	c->fd = -1;
	c->state = ML_CS_FREE;
	w->freel[w->nfree++] = c->idx;
}

void ml_worker_close(struct ml_worker *w, struct ml_conn *c)
{
	if (c->state == ML_CS_CLOSING || c->state == ML_CS_FREE)
		return;
	if (c->state == ML_CS_CONNECTING) {
		/* shutdown() does not stop a connect in progress (SYN
		 * retries go on for minutes): cancel it. */
		struct io_uring_sqe *sqe = get_sqe(w);

		io_uring_prep_cancel64(sqe,
				       ((uint64_t)c->idx << 2) | OP_CONNECT, 0);
		io_uring_sqe_set_data64(sqe,
					((uint64_t)c->idx << 2) | OP_CANCEL);
	}
	/* Wakes any pending recv or send with an error or 0. */
	shutdown(c->fd, SHUT_RDWR);
	c->state = ML_CS_CLOSING;
	c->act_due = false;
	recycle(w, c);
}

bool ml_worker_exhausted(const struct ml_worker *w)
{
	return w->draining || w->dispatched >= w->total;
}

static uint64_t intended_ns(const struct ml_worker *w, uint64_t i)
{
	return w->t0_ns + i * w->interval_ns;
}

bool ml_worker_take_msg(struct ml_worker *w, struct ml_txn *t)
{
	const struct ml_pool *p = w->pool;
	uint64_t now;

	if (ml_worker_exhausted(w))
		return false;
	now = ml_now_ns();
	if (w->rate > 0 && intended_ns(w, w->dispatched) > now)
		return false;
	t->t_intended_ns = w->rate > 0 ? intended_ns(w, w->dispatched) : now;
	w->dispatched++;
	if (p->eicar_count && ml_rand01(&w->rng) < w->o->eicar_rate) {
		t->msg = &p->eicar[ml_rand(&w->rng) % p->eicar_count];
		w->st.eicar_sent++;
	} else {
		t->msg = &p->clean[(w->msg_seq++ * w->o->threads + w->id) %
				   p->clean_count];
	}
	t->active = true;
	t->eod_done = false;
	t->use_bdat = false;
	t->t_eod_ns = t->t_reply_ns = 0;
	t->mail_ok = false;
	t->rcpt_sent = t->rcpt_ok = 0;
	t->fail = t->rcpt_fail = -1;
	w->st.started++;
	return true;
}

void ml_worker_park(struct ml_worker *w, struct ml_conn *c)
{
	w->idle[w->nidle++] = c->idx;
}

static void open_conn(struct ml_worker *w, struct ml_conn *c)
{
	const struct ml_opts *o = w->o;
	struct io_uring_sqe *sqe;
	int one = 1;

	c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		w->st.conn_failed++;
		c->state = ML_CS_FREE;
		ml_smtp_abort(w, c, ML_OUT_CONN_ERR);
		w->freel[w->nfree++] = c->idx;
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = ML_CS_CONNECTING;
	c->act_due = false;
	c->deadline_ns = ml_now_ns() + o->timeout_ns;
	sqe = get_sqe(w);
	io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&o->addr,
			      o->addr_len);
	set_ud(sqe, c, OP_CONNECT);
	c->inflight++;
	w->st.conn_opened++;
}

/* Hand every due message to an idle connection or a free slot. */
static void dispatch(struct ml_worker *w)
{
	if (!w->draining &&
	    ((w->stop_at_ns && ml_now_ns() >= w->stop_at_ns) || *w->stop))
		w->draining = true;
	while (!ml_worker_exhausted(w)) {
		struct ml_conn *c;

		if (w->nidle) {
			c = &w->conns[w->idle[--w->nidle]];
			if (!ml_worker_take_msg(w, &c->tx[c->cur])) {
				w->nidle++;
				break;
			}
			ml_smtp_start(w, c);
		} else if (w->nfree) {
			c = &w->conns[w->freel[w->nfree - 1]];
			c->cur = 0;
			if (!ml_worker_take_msg(w, &c->tx[0]))
				break;
			w->nfree--;
			open_conn(w, c);
		} else {
			break;
		}
	}
	if (ml_worker_exhausted(w)) {
		while (w->nidle) {
			struct ml_conn *c = &w->conns[w->idle[--w->nidle]];

			ml_smtp_quit(w, c);
		}
	}
}

/* An open connection lost its peer while a reply was due. */
static void dropped(struct ml_worker *w, struct ml_conn *c)
{
	bool quitting = c->pend_count == 1 &&
			ml_pend_cmd(c->pend[c->pend_head]) == ML_CMD_QUIT;

	if (!quitting && (c->pend_count || c->tx[c->cur].active))
		w->st.conn_dropped++;
	ml_smtp_abort(w, c, ML_OUT_CONN_ERR);
}

static void on_cqe(struct ml_worker *w, uint64_t ud, int res)
{
	struct ml_conn *c = &w->conns[ud >> 2];
	unsigned op = (unsigned)(ud & 3);

	if (op == OP_CANCEL)
		return;
	c->inflight--;
	if (op == OP_RECV)
		c->recv_inflight = false;
	else if (op == OP_SEND)
		c->send_inflight = false;
	if (c->state == ML_CS_CLOSING) {
		recycle(w, c);
		return;
	}
	switch (op) {
	case OP_CONNECT:
		if (res < 0) {
			w->st.conn_failed++;
			ml_smtp_abort(w, c, ML_OUT_CONN_ERR);
			return;
		}
		c->state = ML_CS_OPEN;
		ml_smtp_connected(w, c);
		post_recv(w, c);
		return;
	case OP_RECV:
		if (res <= 0) {
			dropped(w, c);
			return;
		}
		if (w->o->quickack) {
			int one = 1;

			/* Linux leaves quick-ACK mode on its own: renew it. */
			setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one,
				   sizeof(one));
		}
		ml_smtp_received(w, c, (size_t)res);
		if (c->state == ML_CS_OPEN)
			post_recv(w, c);
		return;
	case OP_SEND: {
		size_t n;

		if (res < 0) {
			dropped(w, c);
			return;
		}
		n = (size_t)res;
		while (c->iov_i < c->iov_n && n >= c->iov[c->iov_i].iov_len) {
			n -= c->iov[c->iov_i].iov_len;
			c->iov_i++;
		}
		if (c->iov_i < c->iov_n) {
			/* A short send: the rest goes out from where it
			 * stopped. */
			c->iov[c->iov_i].iov_base =
			    (char *)c->iov[c->iov_i].iov_base + n;
			c->iov[c->iov_i].iov_len -= n;
			ml_worker_send(w, c);
			return;
		}
		ml_smtp_sent(w, c);
		return;
	}
	default:
		return;
	}
}

static void check_timeouts(struct ml_worker *w, uint64_t now)
{
	unsigned i;

	for (i = 0; i < w->nconns; i++) {
		struct ml_conn *c = &w->conns[i];
		bool waiting = c->state == ML_CS_CONNECTING ||
			       (c->state == ML_CS_OPEN &&
				(c->pend_count || c->send_inflight));

		if (waiting && now > c->deadline_ns) {
			w->st.timeouts++;
			ml_smtp_abort(w, c, ML_OUT_TIMEOUT);
		}
	}
}

static bool all_closed(const struct ml_worker *w)
{
	return w->nfree == w->nconns;
}

/*
 * The ring is made on the worker's own thread: SINGLE_ISSUER ties it to
 * the task that creates it.  Every connection has at most two operations
 * in flight (recv and send, or connect and its cancel).
 */
static int ring_init(struct ml_worker *w)
{
	unsigned entries = 3 * w->nconns + 16;
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 2;
	rc = io_uring_queue_init_params(entries, &w->ring, &p);
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 2;
		rc = io_uring_queue_init_params(entries, &w->ring, &p);
	}
	if (rc == 0)
		w->ring_ready = true;
	return rc;
}

void *ml_worker_run(void *arg)
{
	struct ml_worker *w = arg;
	uint64_t next_check;

	w->err = ring_init(w);
	if (w->err < 0)
		return NULL;

	w->t_start_ns = ml_now_ns();
	w->t0_ns = w->t_start_ns;
	if (w->o->duration_s > 0)
		w->stop_at_ns = w->t0_ns + (uint64_t)(w->o->duration_s * 1e9);
	next_check = w->t0_ns + TICK_NS;
	for (;;) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts;
		uint64_t now, wait_ns = TICK_NS;
		unsigned head, seen = 0;
		int rc;

		dispatch(w);
		if (ml_worker_exhausted(w) && all_closed(w))
			break;
		now = ml_now_ns();
		if (w->rate > 0 && !ml_worker_exhausted(w)) {
			uint64_t due = intended_ns(w, w->dispatched);

			/* A message that fell due since dispatch() looked
			 * goes at once if a connection is free for it;
			 * otherwise a completion will free one. */
			if (due > now)
				wait_ns = due - now;
			else if (w->nidle || w->nfree)
				wait_ns = 0;
			if (wait_ns > TICK_NS)
				wait_ns = TICK_NS;
		}
		ts.tv_sec = (long long)(wait_ns / 1000000000ull);
		ts.tv_nsec = (long long)(wait_ns % 1000000000ull);
		rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts,
						      NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN &&
		    rc != -EBUSY) {
			w->err = rc;
			break;
		}
		io_uring_for_each_cqe(&w->ring, head, cqe)
		{
			on_cqe(w, cqe->user_data, cqe->res);
			seen++;
		}
		io_uring_cq_advance(&w->ring, seen);
		now = ml_now_ns();
		if (now >= next_check) {
			check_timeouts(w, now);
			next_check = now + TICK_NS;
		}
	}
	w->t_end_ns = ml_now_ns();
	return NULL;
}

int ml_worker_init(struct ml_worker *w)
{
	unsigned i, ntx = w->o->depth > 2 ? w->o->depth : 2;
	size_t obuf_cap = ntx * (1024 + (size_t)w->o->rcpts * 256);

	ml_hist_init(&w->st.eod);
	ml_hist_init(&w->st.sched);
	w->rng = (w->o->seed + 1) * 0x9E3779B97F4A7C15ull ^ (w->id + 1);
	if (w->rate > 0)
		w->interval_ns = (uint64_t)(1e9 / w->rate);
	w->conns = calloc(w->nconns, sizeof(*w->conns));
	w->idle = calloc(w->nconns, sizeof(*w->idle));
	w->freel = calloc(w->nconns, sizeof(*w->freel));
	if (!w->conns || !w->idle || !w->freel)
		return -ENOMEM;
	for (i = 0; i < w->nconns; i++) {
		struct ml_conn *c = &w->conns[i];

		c->fd = -1;
		c->idx = i;
		c->state = ML_CS_FREE;
		/* Two envelopes (MAIL, RCPTs, DATA) and a dot in flight, or
		 * a batch of ntx transactions (MAIL, RCPTs, BDAT). */
		c->pend_cap = ntx * (w->o->rcpts + 2) + 4;
		c->pend = calloc(c->pend_cap, sizeof(*c->pend));
		c->ntx = ntx;
		c->tx = calloc(ntx, sizeof(*c->tx));
		c->iov = calloc(2 * ntx, sizeof(*c->iov));
		c->obuf_cap = obuf_cap;
		c->obuf = malloc(obuf_cap);
		if (!c->pend || !c->tx || !c->iov || !c->obuf)
			return -ENOMEM;
		/* Slots are taken from the end: keep index order. */
		w->freel[w->nconns - 1 - i] = i;
	}
	w->nfree = w->nconns;
	return 0;
}

void ml_worker_fini(struct ml_worker *w)
{
	unsigned i;

	if (!w->conns)
		return;
	for (i = 0; i < w->nconns; i++) {
		if (w->conns[i].fd >= 0)
			close(w->conns[i].fd);
		free(w->conns[i].pend);
		free(w->conns[i].obuf);
		free(w->conns[i].tx);
		free(w->conns[i].iov);
	}
	free(w->conns);
	free(w->idle);
	free(w->freel);
	if (w->ring_ready)
		io_uring_queue_exit(&w->ring);
	w->conns = NULL;
}
