/*
 * dp_sock — the kernel-socket backend: one thread per configured core,
 * each with its own io_uring ring and its own SO_REUSEPORT listener per
 * listen address (so the kernel spreads connections over cores and nothing
 * is shared between them).  Each core accepts with multishot accept,
 * receives with multishot recv into a provided-buffer ring, submits all of
 * a round's sends in one io_uring_enter, and reaps its queue sink's
 * completions in the same loop (the sink writes on the core's ring).
 *
 * Threads: dp_sock_create/start/stop/destroy on the main (management)
 * thread; dp_sock_drain and dp_sock_stats from any thread.  Each core owns
 * its connections, sessions, buffers and sink.
 *
 * Memory: everything a core uses is allocated by dp_sock_create (connection
 * slots with their engine sessions, receive buffers, the per-address count
 * table); the loop itself never allocates.  An idle session costs
 * dp_smtp_session_size() + sizeof(struct dp_sock_conn) bytes.
 *
 * Failure: dp_sock_create fails (-errno and a message naming the address)
 * when a listen address cannot be bound.  At run time peer problems close
 * that one connection and count; resource limits answer 421 and count.
 */
#ifndef DP_SOCK_H
#define DP_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dp_sink.h"
#include "dp_smtp.h"

#define DP_SOCK_LISTEN_MAX 8
#define DP_SOCK_CORES_MAX 64

struct dp_sock_listen {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool proxy_protocol;	/* expect a PROXY v1/v2 header first */
};

struct dp_sock_conf {
	struct dp_sock_listen listen[DP_SOCK_LISTEN_MAX];
	unsigned listen_count;
	unsigned cores;
	unsigned max_connections;	/* whole process, split over cores */
	unsigned max_connections_per_ip; /* per core share; 0 = no limit */
	unsigned max_msgs_per_ip_minute; /* per core share; 0 = no limit */
	uint32_t pregreet_delay_ms;	/* 0 = greet at once */
	uint32_t recv_buf_size;		/* bytes per provided buffer */
	uint32_t recv_buf_count;	/* per core, power of two */
	uint32_t stop_timeout_ms;	/* graceful stop: wait for sessions */
};

void dp_sock_conf_defaults(struct dp_sock_conf *c);

/* "127.0.0.1:2525", "[::1]:2525", "*:25" -> sockaddr.  0 or -EINVAL. */
int dp_sock_parse_addr(const char *text, struct sockaddr_storage *ss,
		       socklen_t *len);

/* Recipient policy, called on the core's thread; must not block. */
typedef enum dp_smtp_rcpt_verdict (*dp_sock_rcpt_fn)(void *arg,
						     const char *local,
						     const char *domain);

struct dp_sock;

/*
 * Binds every listener on every core (so a port in use fails here, before
 * anything starts).  smtp, sinks[cores] and rcpt_arg must outlive the
 * backend.  NULL with err filled on failure.
 */
struct dp_sock *dp_sock_create(const struct dp_sock_conf *conf,
			       const struct dp_smtp_conf *smtp,
			       const struct dp_sink *sinks,
			       dp_sock_rcpt_fn rcpt, void *rcpt_arg, char *err,
			       size_t errlen);
/* Starts the core threads.  0 or -errno. */
int dp_sock_start(struct dp_sock *ds);
/* Stop accepting: new connections get 421 4.3.2, sessions finish. */
void dp_sock_drain(struct dp_sock *ds, bool on);
/* While on, every new message is refused with a temporary error (451):
 * the management plane's answer to "no scanner is healthy" under the
 * tempfail policy.  Any thread. */
void dp_sock_tempfail(struct dp_sock *ds, bool on);
/*
 * Graceful stop: close the listeners, let sessions finish (in-flight
 * commits complete and get their 250) for up to stop_timeout_ms, then
 * send 421 to whoever is left and join the threads.
 */
void dp_sock_stop(struct dp_sock *ds);
void dp_sock_destroy(struct dp_sock *ds);	/* accepts NULL */

struct dp_sock_stats {
	uint64_t sessions_active;
	uint64_t cores;
	bool draining;
};
void dp_sock_stats(const struct dp_sock *ds, struct dp_sock_stats *st);

#endif
