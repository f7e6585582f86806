/*
 * ms_server — the io_uring loop of one mxsink thread.  See ms_server.h.
 *
 * user_data packs the connection index and the operation; the accept has
 * an index of its own.  A connection has at most one operation in flight,
 * so it can be closed as soon as that one completes.
 */
#include "ms_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OP_ACCEPT = 0, OP_RECV = 1, OP_SEND = 2 };

#define ACCEPT_IDX 0xffffffu

static const char R_BUSY[] = "421 4.3.2 mxsink: too many connections\r\n";

int ms_server_listen(const struct sockaddr *addr, socklen_t addr_len)
{
	int one = 1;
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, addr, addr_len) < 0 || listen(fd, 4096) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static struct io_uring_sqe *get_sqe(struct ms_server *sv)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&sv->ring);

	if (!sqe) {
		/* The ring holds an entry per connection plus the accept, so
		 * this only flushes what is queued. */
		io_uring_submit(&sv->ring);
		sqe = io_uring_get_sqe(&sv->ring);
		if (!sqe)
			abort();
	}
	return sqe;
}

static void set_ud(struct io_uring_sqe *sqe, unsigned idx, unsigned op)
{
	io_uring_sqe_set_data64(sqe, ((uint64_t)idx << 2) | op);
}

static void arm_accept(struct ms_server *sv)
{
	struct io_uring_sqe *sqe = get_sqe(sv);

	io_uring_prep_multishot_accept(sqe, sv->listen_fd, NULL, NULL,
				       SOCK_CLOEXEC);
	set_ud(sqe, ACCEPT_IDX, OP_ACCEPT);
}

int ms_server_init(struct ms_server *sv)
{
	unsigned entries = 64;
	int ret;

	memset(&sv->st, 0, sizeof(sv->st));
	while (entries < sv->max_conns + 8 && entries < 32768)
		entries *= 2;
	sv->conns = calloc(sv->max_conns, sizeof(*sv->conns));
	sv->freel = calloc(sv->max_conns, sizeof(*sv->freel));
	if (!sv->conns || !sv->freel)
		return -ENOMEM;
	for (unsigned i = 0; i < sv->max_conns; i++) {
		struct ms_conn *c = &sv->conns[i];

		c->fd = -1;
		c->idx = i;
		c->out.buf = c->wbuf;
		c->out.size = sizeof(c->wbuf);
		sv->freel[sv->nfree++] = sv->max_conns - 1 - i;
	}
	ret = io_uring_queue_init(entries, &sv->ring, 0);
	if (ret < 0)
		return ret;
	sv->ring_ok = true;
	return 0;
}

static void conn_close(struct ms_server *sv, struct ms_conn *c)
{
	close(c->fd);
	c->fd = -1;
	sv->freel[sv->nfree++] = c->idx;
}

static void post_send(struct ms_server *sv, struct ms_conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(sv);

	io_uring_prep_send(sqe, c->fd, c->out.buf + c->woff,
			   c->out.len - c->woff, MSG_NOSIGNAL);
	set_ud(sqe, c->idx, OP_SEND);
}

static void post_recv(struct ms_server *sv, struct ms_conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(sv);

	io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen,
			   sizeof(c->rbuf) - c->rlen, 0);
	set_ud(sqe, c->idx, OP_RECV);
}

/* Feed what has been read; send the replies, or read more. */
static void conn_step(struct ms_server *sv, struct ms_conn *c)
{
	size_t n = ms_sess_feed(&c->sess, c->rbuf + c->roff, c->rlen - c->roff,
				&c->out, &sv->st.proto);

	c->roff += n;
	if (c->roff == c->rlen) {
		c->roff = 0;
		c->rlen = 0;
	}
	if (c->sess.phase == MS_PH_QUIT)
		c->closing_after_send = true;
	if (c->out.len) {
		c->woff = 0;
		post_send(sv, c);
		return;
	}
	if (c->closing_after_send) {
		conn_close(sv, c);
		return;
	}
	/* Everything is consumed unless out filled up, and out is empty
	 * here; move a remainder down all the same, for room to read. */
	if (c->roff) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	post_recv(sv, c);
}

static void on_accept(struct ms_server *sv, int res, unsigned flags)
{
	struct ms_conn *c;
	int one = 1;

	if (!(flags & IORING_CQE_F_MORE) && !atomic_load(sv->stop))
		arm_accept(sv);
	if (res < 0) {
		sv->st.accept_errors++;
		return;
	}
	if (!sv->nfree) {
		/* A new socket's send buffer is empty: this cannot block. */
		if (write(res, R_BUSY, sizeof(R_BUSY) - 1) < 0)
			sv->st.io_errors++;
		close(res);
		sv->st.conns_refused++;
		return;
	}
	setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = &sv->conns[sv->freel[--sv->nfree]];
	c->fd = res;
	c->roff = c->rlen = c->woff = 0;
	c->out.len = 0;
	c->closing_after_send = false;
	ms_sess_init(&c->sess, sv->conf, &c->out);
	sv->st.conns++;
	post_send(sv, c);
}

static void on_send(struct ms_server *sv, struct ms_conn *c, int res)
{
	if (res <= 0) {
		sv->st.io_errors++;
		conn_close(sv, c);
		return;
	}
	c->woff += (size_t)res;
	if (c->woff < c->out.len) {
		post_send(sv, c);
		return;
	}
	c->out.len = 0;
	c->woff = 0;
	/* Feed again even with no input left: input held back while out
	 * was full, or a BDAT 0 chunk, may still owe a reply. */
	conn_step(sv, c);
}

static void on_recv(struct ms_server *sv, struct ms_conn *c, int res)
{
	if (res <= 0) {
		if (res < 0)
			sv->st.io_errors++;
		conn_close(sv, c);
		return;
	}
	sv->st.bytes_in += (uint64_t)res;
	c->rlen += (size_t)res;
	conn_step(sv, c);
}

void *ms_server_run(void *arg)
{
	struct ms_server *sv = arg;
	struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 200000000};

	arm_accept(sv);
	while (!atomic_load(sv->stop)) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		io_uring_submit_and_wait_timeout(&sv->ring, &cqe, 1, &ts, NULL);
		io_uring_for_each_cqe(&sv->ring, head, cqe)
		{
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			unsigned idx = (unsigned)(ud >> 2);

			seen++;
			switch (ud & 3) {
			case OP_ACCEPT:
				on_accept(sv, cqe->res, cqe->flags);
				break;
			case OP_RECV:
				on_recv(sv, &sv->conns[idx], cqe->res);
				break;
			case OP_SEND:
				on_send(sv, &sv->conns[idx], cqe->res);
				break;
			}
		}
		io_uring_cq_advance(&sv->ring, seen);
	}
	return NULL;
}

void ms_server_fini(struct ms_server *sv)
{
	if (sv->ring_ok)
		io_uring_queue_exit(&sv->ring);
	sv->ring_ok = false;
	if (sv->conns) {
		for (unsigned i = 0; i < sv->max_conns; i++)
			if (sv->conns[i].fd >= 0)
				close(sv->conns[i].fd);
	}
	if (sv->listen_fd >= 0)
		close(sv->listen_fd);
	sv->listen_fd = -1;
	free(sv->conns);
	free(sv->freel);
	sv->conns = NULL;
	sv->freel = NULL;
}
