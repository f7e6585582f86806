/*
 * dp_sock_internal.h — what the socket backend's files share: the core and
 * connection structures and the user_data encoding.  Not for other modules.
 *
 * user_data: the top byte is an op tag (dp_sink.h reserves DP_UD_SINK for
 * the queue sink); the low 56 bits carry a connection cookie
 * (generation << 24 | slot) or a listener index.  A completion whose
 * cookie generation no longer matches its slot belongs to a connection
 * that has been closed: it is dropped (its buffer recycled).
 */
#ifndef DP_SOCK_INTERNAL_H
#define DP_SOCK_INTERNAL_H

#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "dp_proxy.h"
#include "dp_sock.h"
#include "dp_sock_counters.h"
#include "dp_sock_ipcount.h"

enum dp_sock_op {
	DP_OP_ACCEPT = 1,
	DP_OP_RECV,
	DP_OP_SEND,
	DP_OP_CLOSE,
	DP_OP_REFUSE,		/* one-shot 421 to a connection we refuse */
	DP_OP_CANCEL,
	DP_OP_PREGREET,		/* pre-greet delay timer */
	DP_OP_WAKE,		/* eventfd read: stop/drain requested */
};

#define DP_UD(op, payload) (((uint64_t)(op) << DP_UD_TAG_SHIFT) | (payload))
#define DP_COOKIE(gen, slot) (((uint64_t)(gen) << 24) | (slot))
#define DP_COOKIE_SLOT(c) ((uint32_t)((c) & 0xffffff))
#define DP_COOKIE_GEN(c) ((uint32_t)(((c) >> 24) & 0xffffffff))

#define DP_BGID 7
#define DP_BUF_NONE 0xffff

enum {
	DP_CONN_USED = 1u << 0,
	DP_CONN_RECV = 1u << 1,		/* a multishot recv is armed */
	DP_CONN_SEND = 1u << 2,		/* a send is in flight */
	DP_CONN_CLOSING = 1u << 3,	/* close requested */
	DP_CONN_PROXY = 1u << 4,	/* PROXY header still expected */
	DP_CONN_STARTED = 1u << 5,	/* banner sent */
	DP_CONN_STARVED = 1u << 6,	/* recv ended for lack of buffers */
	DP_CONN_TIMER = 1u << 7,	/* pre-greet timer armed */
	DP_CONN_CANCEL = 1u << 8,	/* recv cancel in flight */
	DP_CONN_FEEDING = 1u << 9,	/* inside dp_sock_conn_feed() */
	DP_CONN_CLOSE_SENT = 1u << 10,	/* close SQE submitted */
	DP_CONN_RECV_ENDING = 1u << 11,	/* recv cancelled, final CQE due */
};

struct dp_sock_conn {
	struct dp_sock_core *core;
	uint32_t slot;
	int fd;
	uint32_t gen;
	uint32_t flags;
	uint32_t refs;		/* SQEs in flight that name this slot */
	uint16_t held_head;	/* FIFO of received buffers not yet fed */
	uint16_t held_tail;
	uint32_t held_off;	/* bytes of held_head already consumed */
	uint32_t held_count;
	uint32_t send_len;	/* bytes of output in the in-flight send */
	void *msg;		/* sink message handle while one is open */
	struct dp_smtp_session *s;
	struct __kernel_timespec pregreet_ts;
	uint8_t proxy_buf[DP_PROXY_MAX];
	uint16_t proxy_len;
	uint64_t start_ms;
	struct in6_addr ip_key;	/* counted in the per-address table */
	bool ip_counted;
	uint16_t listen_idx;
	char peer_addr[INET6_ADDRSTRLEN];
	uint16_t peer_port;
};

/* One slot of the per-core message-rate cache (see dp_sock_conn.c). */
struct dp_sock_rate {
	struct in6_addr addr;
	uint32_t minute;	/* monotonic minute the count belongs to */
	uint32_t msgs;
};

#define DP_RATE_SLOTS 4096

struct dp_sock_core {
	struct dp_sock *ds;
	unsigned idx;
	pthread_t thread;
	bool thread_started;
	struct io_uring ring;
	bool ring_ready;
	int listen_fd[DP_SOCK_LISTEN_MAX];
	bool accept_armed[DP_SOCK_LISTEN_MAX];
	int wake_fd;
	uint64_t wake_val;
	struct dp_sink sink;

	struct io_uring_buf_ring *br;
	uint8_t *buf_mem;
	uint32_t *buf_len;
	uint16_t *buf_next;
	unsigned buf_count;
	unsigned buf_size;
	unsigned buf_free;	/* buffers currently in the kernel's ring */

	struct dp_sock_conn *conn;
	uint8_t *sess_mem;
	size_t sess_size;
	uint32_t *free_slots;
	unsigned free_top;
	unsigned conn_max;
	_Atomic unsigned active;

	struct dp_sock_ipent *ip;
	unsigned ip_size;	/* power of two */
	unsigned per_ip_max;
	struct dp_sock_rate *rate;	/* DP_RATE_SLOTS, NULL if no limit */
	unsigned rate_max;		/* messages per address per minute */

	uint64_t now_ms;
	uint64_t next_scan_ms;
	bool listening;
	bool stopping;		/* listeners closed, waiting for sessions */
	bool refused_stragglers;
	uint64_t stop_deadline_ms;
	struct dp_smtp_host host;
};

struct dp_sock {
	struct dp_sock_conf conf;
	const struct dp_smtp_conf *smtp;
	dp_sock_rcpt_fn rcpt;
	void *rcpt_arg;
	_Atomic bool draining;
	_Atomic bool tempfail;
	_Atomic bool stop;
	struct dp_sock_core core[DP_SOCK_CORES_MAX];
};

/* dp_sock.c: the printable address of ss into host (INET6_ADDRSTRLEN
 * bytes), returning its port. */
uint16_t dp_sock_addr_host(const struct sockaddr_storage *ss, char *host,
			   size_t size);

/* dp_sock_core.c */
void *dp_sock_core_main(void *arg);
struct io_uring_sqe *dp_sock_sqe(struct dp_sock_core *c);
void dp_sock_core_wake(struct dp_sock_core *c);

/* dp_sock_conn.c */
void dp_sock_conn_accept(struct dp_sock_core *c, unsigned listen_idx, int fd);
void dp_sock_conn_recv(struct dp_sock_core *c, uint64_t cookie,
		       const struct io_uring_cqe *cqe);
void dp_sock_conn_sent(struct dp_sock_core *c, uint64_t cookie, int res);
void dp_sock_conn_closed(struct dp_sock_core *c, uint64_t cookie);
void dp_sock_conn_pregreet(struct dp_sock_core *c, uint64_t cookie);
void dp_sock_conn_cancelled(struct dp_sock_core *c, uint64_t cookie,
			    int res);
void dp_sock_conn_scan(struct dp_sock_core *c);
void dp_sock_conn_refuse_all(struct dp_sock_core *c, const char *reply);
void dp_sock_commit_done(void *core, uint64_t cookie, uint64_t id, int status);
void dp_sock_buf_recycle(struct dp_sock_core *c, uint16_t bid);
void dp_sock_conn_host_init(struct dp_smtp_host *h);

#endif
