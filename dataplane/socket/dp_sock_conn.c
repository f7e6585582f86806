/*
 * dp_sock_conn.c — one client connection on a socket core: accept, the
 * PROXY header, feeding received buffers to the SMTP engine, sending its
 * replies, the engine's host callbacks (which forward messages to the
 * core's queue sink), timeouts, and an orderly close.
 *
 * Input backpressure: received buffers are fed to the engine straight from
 * the provided-buffer ring.  When the engine stops consuming (it waits for
 * a commit, or its output is full) the rest of the buffer is held, not
 * copied; further buffers queue behind it, and past DP_HELD_MAX the
 * multishot receive is cancelled so the kernel's socket buffer, and then
 * TCP flow control, push back on the client.  Nothing received is dropped.
 *
 * Close: a connection is closed only once its output is drained.  Its
 * armed receive is cancelled first; the close SQE goes out when no SQE
 * naming the slot is left in flight (refs == 0), and the slot is reused
 * only after the close completed, with a new generation so that late
 * completions for the old connection are recognised and dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dp_sock_internal.h"
#include "mx_log.h"
#include "mx_time.h"

#define DP_HELD_MAX 4
#define DP_PROXY_TIMEOUT_MS 10000

static const char dp_reply_busy[] =
	"421 4.7.0 Too many connections, try again later\r\n";
static const char dp_reply_per_ip[] =
	"421 4.7.0 Too many connections from your address\r\n";
static const char dp_reply_drain[] =
	"421 4.3.2 Service not available, closing transmission channel\r\n";

static uint64_t dp_cookie(const struct dp_sock_conn *cn)
{
	return DP_COOKIE(cn->gen, cn->slot);
}

static struct dp_sock_conn *dp_conn_get(struct dp_sock_core *c,
					uint64_t cookie)
{
	uint32_t slot = DP_COOKIE_SLOT(cookie);
	struct dp_sock_conn *cn;

	if (slot >= c->conn_max)
		return NULL;
	cn = &c->conn[slot];
	if (!(cn->flags & DP_CONN_USED) ||
	    (cn->gen & 0xffffffff) != DP_COOKIE_GEN(cookie))
		return NULL;
	return cn;
}

static void dp_refuse(struct dp_sock_core *c, int fd, const char *reply)
{
	struct io_uring_sqe *sqe = dp_sock_sqe(c);

	/* The reply is a static string; the fd is closed when the send
	 * completes, whatever it returned. */
	io_uring_prep_send(sqe, fd, reply, strlen(reply), MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_REFUSE, (uint64_t)fd));
}

static void dp_arm_recv(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	struct io_uring_sqe *sqe = dp_sock_sqe(c);

	io_uring_prep_recv_multishot(sqe, cn->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = DP_BGID;
	io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_RECV, dp_cookie(cn)));
	cn->flags |= DP_CONN_RECV;
	cn->flags &= ~DP_CONN_STARVED;
	cn->refs++;
}

static void dp_cancel_recv(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	struct io_uring_sqe *sqe;

	if (!(cn->flags & DP_CONN_RECV) ||
	    (cn->flags & (DP_CONN_CANCEL | DP_CONN_RECV_ENDING)))
		return;
	sqe = dp_sock_sqe(c);
	io_uring_prep_cancel64(sqe, DP_UD(DP_OP_RECV, dp_cookie(cn)), 0);
	io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_CANCEL, dp_cookie(cn)));
	cn->flags |= DP_CONN_CANCEL;
	cn->refs++;
}

static void dp_send(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	struct io_uring_sqe *sqe;
	const uint8_t *out;
	size_t len;

	/* Until the PROXY header is in, the slot's session memory still
	 * holds the previous connection's session: never read it. */
	if (cn->flags & (DP_CONN_SEND | DP_CONN_CLOSE_SENT | DP_CONN_PROXY))
		return;
	out = dp_smtp_output(cn->s, &len);
	if (len == 0)
		return;
	sqe = dp_sock_sqe(c);
	/* The engine only appends behind the in-flight bytes and moves its
	 * buffer only in dp_smtp_output_consume(), which we call when the
	 * send completes, so the pointer stays valid until then. */
	io_uring_prep_send(sqe, cn->fd, out, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_SEND, dp_cookie(cn)));
	cn->flags |= DP_CONN_SEND;
	cn->send_len = (uint32_t)len;
	cn->refs++;
}

static void dp_held_drop(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	while (cn->held_head != DP_BUF_NONE) {
		uint16_t bid = cn->held_head;

		cn->held_head = c->buf_next[bid];
		dp_sock_buf_recycle(c, bid);
	}
	cn->held_tail = DP_BUF_NONE;
	cn->held_off = 0;
	cn->held_count = 0;
}

/* Submits the close once nothing else names the slot. */
static void dp_close_step(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	struct io_uring_sqe *sqe;

	if (!(cn->flags & DP_CONN_CLOSING) || (cn->flags & DP_CONN_CLOSE_SENT))
		return;
	if (cn->flags & DP_CONN_RECV) {
		dp_cancel_recv(c, cn);
		return;
	}
	if (cn->refs > 0)
		return;
	sqe = dp_sock_sqe(c);
	io_uring_prep_close(sqe, cn->fd);
	io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_CLOSE, dp_cookie(cn)));
	cn->flags |= DP_CONN_CLOSE_SENT;
}

static void dp_begin_close(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	if (cn->flags & DP_CONN_CLOSING)
		return;
	cn->flags |= DP_CONN_CLOSING;
	if (cn->flags & DP_CONN_STARTED || !(cn->flags & DP_CONN_PROXY))
		dp_smtp_session_fini(cn->s);
	dp_held_drop(c, cn);
	if (cn->flags & DP_CONN_TIMER) {
		struct io_uring_sqe *sqe = dp_sock_sqe(c);

		io_uring_prep_timeout_remove(
			sqe, DP_UD(DP_OP_PREGREET, dp_cookie(cn)), 0);
		io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_CANCEL, 0));
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	dp_close_step(c, cn);
}

/* Close once the engine asked for it and its last reply is out. */
static void dp_maybe_close(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	size_t len;

	if (cn->flags & (DP_CONN_CLOSING | DP_CONN_PROXY))
		return;
	if (!dp_smtp_want_close(cn->s))
		return;
	dp_smtp_output(cn->s, &len);
	if (len == 0 && !(cn->flags & DP_CONN_SEND))
		dp_begin_close(c, cn);
}

static void dp_session_begin(struct dp_sock_core *c, struct dp_sock_conn *cn,
			     const struct sockaddr_storage *peer,
			     const struct sockaddr_storage *local)
{
	char local_addr[INET6_ADDRSTRLEN];
	struct dp_smtp_peer p = {0};
	uint16_t local_port;

	cn->peer_port = dp_sock_addr_host(peer, cn->peer_addr,
					  sizeof(cn->peer_addr));
	local_port = dp_sock_addr_host(local, local_addr, sizeof(local_addr));
	p.addr = cn->peer_addr;
	p.port = cn->peer_port;
	p.local_addr = local_addr;
	p.local_port = local_port;
	dp_smtp_session_init(cn->s, c->ds->smtp, &c->host, cn, &p, c->now_ms);
	cn->flags |= DP_CONN_STARTED;

	if (c->ds->conf.pregreet_delay_ms == 0) {
		dp_smtp_start(cn->s);
		return;
	}
	/* Pre-greet: hold the banner back; a client that talks first is
	 * an early talker and the engine refuses it (conf->pregreet). */
	struct io_uring_sqe *sqe = dp_sock_sqe(c);

	cn->pregreet_ts.tv_sec = c->ds->conf.pregreet_delay_ms / 1000;
	cn->pregreet_ts.tv_nsec =
		(long long)(c->ds->conf.pregreet_delay_ms % 1000) * 1000000;
	io_uring_prep_timeout(sqe, &cn->pregreet_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, DP_UD(DP_OP_PREGREET, dp_cookie(cn)));
	cn->flags |= DP_CONN_TIMER;
	cn->refs++;
}

void dp_sock_conn_accept(struct dp_sock_core *c, unsigned listen_idx, int fd)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	struct dp_sock_conn *cn;
	struct in6_addr key;
	uint32_t slot;

	MX_COUNT(dp_sock_counters, sock_accepted);
	if (atomic_load_explicit(&c->ds->draining, memory_order_relaxed) ||
	    c->stopping) {
		MX_COUNT(dp_sock_counters, sock_refused_drain);
		dp_refuse(c, fd, dp_reply_drain);
		return;
	}
	if (c->free_top == 0) {
		MX_COUNT(dp_sock_counters, sock_refused_limit);
		dp_refuse(c, fd, dp_reply_busy);
		return;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &llen) < 0) {
		/* The peer is already gone. */
		close(fd);
		MX_COUNT(dp_sock_counters, sock_closed);
		return;
	}
	dp_sock_ip_key(&peer, &key);
	if (dp_sock_ip_acquire(c->ip, c->ip_size, &key, c->per_ip_max) < 0) {
		MX_COUNT(dp_sock_counters, sock_refused_per_ip);
		dp_refuse(c, fd, dp_reply_per_ip);
		return;
	}

	slot = c->free_slots[--c->free_top];
	cn = &c->conn[slot];
	cn->core = c;
	cn->slot = slot;
	cn->fd = fd;
	cn->gen++;
	cn->flags = DP_CONN_USED;
	cn->refs = 0;
	cn->held_head = cn->held_tail = DP_BUF_NONE;
	cn->held_off = 0;
	cn->held_count = 0;
	cn->send_len = 0;
	cn->msg = NULL;
	cn->proxy_len = 0;
	cn->start_ms = c->now_ms;
	cn->listen_idx = (uint16_t)listen_idx;
	cn->ip_key = key;
	cn->ip_counted = true;
	atomic_fetch_add_explicit(&c->active, 1, memory_order_relaxed);

	if (c->ds->conf.listen[listen_idx].proxy_protocol)
		cn->flags |= DP_CONN_PROXY;
	else
		dp_session_begin(c, cn, &peer, &local);
	dp_arm_recv(c, cn);
	if (cn->flags & DP_CONN_STARTED)
		dp_send(c, cn);
}

/*
 * The PROXY header arrives before any SMTP; it is gathered in the
 * connection's small buffer (it may span receives).  Returns bytes of buf
 * that belonged to it, or -1 if the connection must be dropped.
 */
static int dp_proxy_feed(struct dp_sock_core *c, struct dp_sock_conn *cn,
			 const uint8_t *buf, size_t len)
{
	struct dp_proxy_result res;
	size_t take = DP_PROXY_MAX - cn->proxy_len;
	size_t before = cn->proxy_len;
	int n;

	if (take > len)
		take = len;
	memcpy(cn->proxy_buf + cn->proxy_len, buf, take);
	cn->proxy_len = (uint16_t)(cn->proxy_len + take);
	n = dp_proxy_parse(cn->proxy_buf, cn->proxy_len, &res);
	if (n < 0 || (n == 0 && cn->proxy_len == DP_PROXY_MAX)) {
		MX_COUNT(dp_sock_counters, sock_proxy_errors);
		MX_LOG_RL(MX_LOG_INFO, "socket", "event=proxy_error fd=%d",
			  cn->fd);
		return -1;
	}
	if (n == 0)
		return (int)take;
	cn->flags &= ~DP_CONN_PROXY;
	if (res.local) {
		struct sockaddr_storage peer, local;
		socklen_t pl = sizeof(peer), ll = sizeof(local);

		if (getpeername(cn->fd, (struct sockaddr *)&peer, &pl) < 0 ||
		    getsockname(cn->fd, (struct sockaddr *)&local, &ll) < 0)
			return -1;
		dp_session_begin(c, cn, &peer, &local);
	} else {
		dp_session_begin(c, cn, &res.src, &res.dst);
	}
	return (int)((size_t)n - before);
}

/* Feeds held buffers to the engine until they are used up or it blocks. */
static void dp_conn_feed(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	bool blocked = false;

	if (cn->flags & (DP_CONN_FEEDING | DP_CONN_CLOSING))
		return;
	cn->flags |= DP_CONN_FEEDING;
	while (cn->held_head != DP_BUF_NONE) {
		uint16_t bid = cn->held_head;
		const uint8_t *data = c->buf_mem + (size_t)bid * c->buf_size +
				      cn->held_off;
		size_t len = c->buf_len[bid] - cn->held_off, n;

		if (cn->flags & DP_CONN_PROXY) {
			int r = dp_proxy_feed(c, cn, data, len);

			if (r < 0) {
				cn->flags &= ~DP_CONN_FEEDING;
				dp_begin_close(c, cn);
				return;
			}
			n = (size_t)r;
		} else {
			n = dp_smtp_input(cn->s, data, len, c->now_ms);
		}
		cn->held_off += (uint32_t)n;
		if (cn->held_off == c->buf_len[bid]) {
			cn->held_head = c->buf_next[bid];
			if (cn->held_head == DP_BUF_NONE)
				cn->held_tail = DP_BUF_NONE;
			cn->held_off = 0;
			cn->held_count--;
			dp_sock_buf_recycle(c, bid);
		}
		if (n < len) {
			blocked = true;
			break;
		}
	}
	cn->flags &= ~DP_CONN_FEEDING;
	dp_send(c, cn);
	dp_maybe_close(c, cn);
	if (cn->flags & DP_CONN_CLOSING)
		return;
	if (blocked && cn->held_count >= DP_HELD_MAX)
		dp_cancel_recv(c, cn);
	else if (!blocked && !(cn->flags & (DP_CONN_RECV | DP_CONN_STARVED)))
		dp_arm_recv(c, cn);
}

void dp_sock_conn_recv(struct dp_sock_core *c, uint64_t cookie,
		       const struct io_uring_cqe *cqe)
{
	struct dp_sock_conn *cn = dp_conn_get(c, cookie);
	int res = cqe->res;

	if (cqe->flags & IORING_CQE_F_BUFFER)
		c->buf_free--;
	if (!cn) {
		if (cqe->flags & IORING_CQE_F_BUFFER)
			dp_sock_buf_recycle(
				c, (uint16_t)(cqe->flags >>
					      IORING_CQE_BUFFER_SHIFT));
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		cn->flags &= ~(DP_CONN_RECV | DP_CONN_RECV_ENDING);
		cn->refs--;
	}
	if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

		MX_COUNT_ADD(dp_sock_counters, sock_recv_bytes, (uint64_t)res);
		if (cn->flags & DP_CONN_CLOSING) {
			dp_sock_buf_recycle(c, bid);
		} else {
			c->buf_len[bid] = (uint32_t)res;
			c->buf_next[bid] = DP_BUF_NONE;
			if (cn->held_tail == DP_BUF_NONE)
				cn->held_head = bid;
			else
				c->buf_next[cn->held_tail] = bid;
			cn->held_tail = bid;
			cn->held_count++;
			dp_conn_feed(c, cn);
		}
	} else if (res == 0) {
		/* The client closed its side: nothing more will come. */
		dp_begin_close(c, cn);
	} else if (res == -ENOBUFS) {
		MX_COUNT(dp_sock_counters, sock_recv_nobufs);
		cn->flags |= DP_CONN_STARVED;
	} else if (res < 0 && res != -ECANCELED) {
		MX_COUNT(dp_sock_counters, sock_recv_errors);
		dp_begin_close(c, cn);
	}
	if (cn->flags & DP_CONN_CLOSING) {
		dp_close_step(c, cn);
		return;
	}
	if (!(cn->flags & (DP_CONN_RECV | DP_CONN_STARVED)) &&
	    cn->held_head == DP_BUF_NONE && !(cn->flags & DP_CONN_CANCEL))
		dp_arm_recv(c, cn);
}

void dp_sock_conn_cancelled(struct dp_sock_core *c, uint64_t cookie, int res)
{
	struct dp_sock_conn *cn = dp_conn_get(c, cookie);

	if (!cn)
		return;
	cn->flags &= ~DP_CONN_CANCEL;
	cn->refs--;
	/* A cancel that found the receive means its last completion is on
	 * its way: do not cancel again, just wait for it. */
	if (res == 0 && (cn->flags & DP_CONN_RECV))
		cn->flags |= DP_CONN_RECV_ENDING;
	if (cn->flags & DP_CONN_CLOSING) {
		dp_close_step(c, cn);
		return;
	}
	/* A backpressure cancel: receiving resumes once the engine has
	 * eaten what is held (dp_conn_feed re-arms). */
	if (cn->held_head == DP_BUF_NONE && !(cn->flags & DP_CONN_RECV))
		dp_arm_recv(c, cn);
}

void dp_sock_conn_sent(struct dp_sock_core *c, uint64_t cookie, int res)
{
	struct dp_sock_conn *cn = dp_conn_get(c, cookie);

	if (!cn)
		return;
	cn->flags &= ~DP_CONN_SEND;
	cn->refs--;
	if (cn->flags & DP_CONN_CLOSING) {
		dp_close_step(c, cn);
		return;
	}
	if (res <= 0) {
		MX_COUNT(dp_sock_counters, sock_send_errors);
		dp_begin_close(c, cn);
		return;
	}
	MX_COUNT_ADD(dp_sock_counters, sock_send_bytes, (uint64_t)res);
	dp_smtp_output_consume(cn->s, (size_t)res);
	/* Output space freed may unblock the engine. */
	dp_conn_feed(c, cn);
	dp_send(c, cn);
	dp_maybe_close(c, cn);
}

void dp_sock_conn_closed(struct dp_sock_core *c, uint64_t cookie)
{
	struct dp_sock_conn *cn = dp_conn_get(c, cookie);

	if (!cn)
		return;
	if (cn->ip_counted)
		dp_sock_ip_release(c->ip, c->ip_size, &cn->ip_key);
	cn->ip_counted = false;
	cn->flags = 0;
	cn->fd = -1;
	cn->gen++;
	c->free_slots[c->free_top++] = cn->slot;
	atomic_fetch_sub_explicit(&c->active, 1, memory_order_relaxed);
	MX_COUNT(dp_sock_counters, sock_closed);
}

void dp_sock_conn_pregreet(struct dp_sock_core *c, uint64_t cookie)
{
	struct dp_sock_conn *cn = dp_conn_get(c, cookie);

	if (!cn)
		return;
	cn->flags &= ~DP_CONN_TIMER;
	cn->refs--;
	if (cn->flags & DP_CONN_CLOSING) {
		dp_close_step(c, cn);
		return;
	}
	dp_smtp_start(cn->s);
	dp_conn_feed(c, cn);
	dp_send(c, cn);
}

void dp_sock_conn_scan(struct dp_sock_core *c)
{
	bool bufs = c->buf_free > c->buf_count / 8;

	for (unsigned i = 0; i < c->conn_max; i++) {
		struct dp_sock_conn *cn = &c->conn[i];

		if (!(cn->flags & DP_CONN_USED) ||
		    (cn->flags & DP_CONN_CLOSING))
			continue;
		if (cn->flags & DP_CONN_PROXY) {
			if (c->now_ms - cn->start_ms > DP_PROXY_TIMEOUT_MS)
				dp_begin_close(c, cn);
			continue;
		}
		if (c->now_ms >= dp_smtp_deadline_ms(cn->s)) {
			dp_smtp_timeout(cn->s, c->now_ms);
			dp_send(c, cn);
			dp_maybe_close(c, cn);
			continue;
		}
		if ((cn->flags & DP_CONN_STARVED) && bufs &&
		    !(cn->flags & DP_CONN_RECV))
			dp_arm_recv(c, cn);
	}
}

void dp_sock_conn_refuse_all(struct dp_sock_core *c, const char *reply)
{
	for (unsigned i = 0; i < c->conn_max; i++) {
		struct dp_sock_conn *cn = &c->conn[i];

		if (!(cn->flags & DP_CONN_USED) ||
		    (cn->flags & DP_CONN_CLOSING))
			continue;
		if (cn->flags & DP_CONN_PROXY) {
			dp_begin_close(c, cn);
			continue;
		}
		dp_smtp_refuse(cn->s, reply);
		dp_send(c, cn);
		dp_maybe_close(c, cn);
	}
}

/* ---- the engine's host callbacks, forwarded to the core's sink ---- */

/*
 * Per-address message rate: a direct-mapped cache of (address, minute,
 * count).  Two addresses that share a slot evict each other, which can
 * only let a sender through early, never refuse one wrongly, and keeps the
 * memory fixed whatever the number of clients.
 */
static bool dp_rate_exceeded(struct dp_sock_core *c, struct dp_sock_conn *cn)
{
	uint32_t minute = (uint32_t)(c->now_ms / 60000);
	uint64_t h;
	struct dp_sock_rate *r;

	memcpy(&h, cn->ip_key.s6_addr + 8, sizeof(h));
	h = (h * 0x9e3779b97f4a7c15ull) >> 52;
	r = &c->rate[h & (DP_RATE_SLOTS - 1)];
	if (memcmp(&r->addr, &cn->ip_key, sizeof(r->addr)) != 0 ||
	    r->minute != minute) {
		r->addr = cn->ip_key;
		r->minute = minute;
		r->msgs = 0;
	}
	if (r->msgs >= c->rate_max)
		return true;
	r->msgs++;
	return false;
}

static int dp_host_msg_open(void *ctx, const struct dp_smtp_envelope *env,
			    uint64_t *id)
{
	struct dp_sock_conn *cn = ctx;
	struct dp_sock_core *c = cn->core;

	if (!c->sink.ops)
		return -EIO;
	if (atomic_load_explicit(&c->ds->tempfail, memory_order_relaxed)) {
		MX_COUNT(dp_sock_counters, sock_msg_tempfail);
		return -EAGAIN;
	}
	if (c->rate && dp_rate_exceeded(c, cn)) {
		MX_COUNT(dp_sock_counters, sock_msg_rate_limited);
		MX_LOG_RL(MX_LOG_INFO, "socket",
			  "event=msg_rate_limited client=%s", cn->peer_addr);
		return -EAGAIN;
	}
	return c->sink.ops->open(c->sink.arg, env, dp_cookie(cn), id,
				 &cn->msg);
}

static int dp_host_msg_write(void *ctx, const void *data, size_t len)
{
	struct dp_sock_conn *cn = ctx;

	return cn->core->sink.ops->write(cn->core->sink.arg, cn->msg, data,
					 len);
}

static void dp_host_msg_commit(void *ctx)
{
	struct dp_sock_conn *cn = ctx;
	void *msg = cn->msg;

	cn->msg = NULL;
	cn->core->sink.ops->commit(cn->core->sink.arg, msg);
}

static void dp_host_msg_abort(void *ctx)
{
	struct dp_sock_conn *cn = ctx;

	if (cn->msg)
		cn->core->sink.ops->abort(cn->core->sink.arg, cn->msg);
	cn->msg = NULL;
}

static enum dp_smtp_rcpt_verdict dp_host_rcpt(void *ctx, const char *local,
					      const char *domain)
{
	struct dp_sock_conn *cn = ctx;
	struct dp_sock *ds = cn->core->ds;

	if (!ds->rcpt)
		return DP_SMTP_RCPT_RELAY;
	return ds->rcpt(ds->rcpt_arg, local, domain);
}

static uint64_t dp_host_wall(void *ctx)
{
	(void)ctx;
	return mx_wall_ns();
}

void dp_sock_conn_host_init(struct dp_smtp_host *h)
{
	h->msg_open = dp_host_msg_open;
	h->msg_write = dp_host_msg_write;
	h->msg_commit = dp_host_msg_commit;
	h->msg_abort = dp_host_msg_abort;
	h->rcpt_check = dp_host_rcpt;
	h->wall_ns = dp_host_wall;
}

void dp_sock_commit_done(void *core, uint64_t cookie, uint64_t id, int status)
{
	struct dp_sock_core *c = core;
	struct dp_sock_conn *cn = dp_conn_get(c, cookie);

	if (!cn || (cn->flags & DP_CONN_CLOSING)) {
		/* The client left before its answer; the message is (or is
		 * not) durable all the same, and a sender that saw no 250
		 * sends again: at least once. */
		MX_COUNT(dp_sock_counters, sock_commit_stale);
		return;
	}
	dp_smtp_commit_done(cn->s, status, id);
	dp_conn_feed(c, cn);
	dp_send(c, cn);
	dp_maybe_close(c, cn);
}
