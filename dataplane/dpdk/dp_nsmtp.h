/*
 * dp_nsmtp — SMTP sessions over the userspace TCP stack: each accepted
 * dp_net connection carries one session of the shared engine (dp_smtp.h)
 * in its preallocated app storage, and the session's messages go to the
 * core's queue sink (dp_sink.h).  This is the app of struct dp_tcp_app.
 * Pure C like dp_net (no DPDK), so it runs in tests over synthetic frames.
 *
 * Backpressure: bytes the engine does not consume (a commit pending, its
 * output full) and everything while the sink reports full() stay in the
 * TCP receive buffer, which closes the window; nothing is dropped.  A
 * message's 250 is sent only from the sink's done() callback.
 *
 * Threading: one struct dp_nsmtp per core, used only on that core's
 * thread, as are the stack and the sink it is bound to.
 *
 * Ownership: smtp conf, sink and rcpt_arg must outlive the object.  A
 * message handle belongs to the sink; a session that dies with a commit
 * pending leaves it to the sink, whose done() then finds no session (the
 * cookie's serial no longer matches) and is counted as stale.
 */
#ifndef DP_NSMTP_H
#define DP_NSMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_net.h"
#include "dp_sink.h"
#include "dp_smtp.h"

typedef enum dp_smtp_rcpt_verdict (*dp_nsmtp_rcpt_fn)(void *arg,
						      const char *local,
						      const char *domain);

struct dp_nsmtp_conf {
	const struct dp_smtp_conf *smtp;
	struct dp_sink sink;   /* ops NULL: every message 451 */
	dp_nsmtp_rcpt_fn rcpt; /* NULL: every recipient refused */
	void *rcpt_arg;
	uint32_t local_ip; /* host order, for the Received line */
	uint16_t local_port;
};

struct dp_nsmtp;

/* App storage each connection needs: set dp_net_conf.app_ctx_size. */
size_t dp_nsmtp_ctx_size(const struct dp_smtp_conf *smtp);

/* Start-up only.  NULL on -ENOMEM. */
struct dp_nsmtp *dp_nsmtp_create(const struct dp_nsmtp_conf *conf);
void dp_nsmtp_destroy(struct dp_nsmtp *g); /* accepts NULL */

/* The app callbacks to give dp_net_create(). */
void dp_nsmtp_app(struct dp_nsmtp *g, struct dp_tcp_app *app);
/* Once the stack exists: the glue needs it to find connections again. */
void dp_nsmtp_bind(struct dp_nsmtp *g, struct dp_net *net);

/* The sink's done callback (pass g as its `core` argument). */
void dp_nsmtp_sink_done(void *core, uint64_t cookie, uint64_t id, int status);

/* Once per loop round, after dp_net_input and before dp_net_poll:
 * resumes sessions held back while the sink was full. */
void dp_nsmtp_poll(struct dp_nsmtp *g);

/* While on, new connections get 421 4.3.2 and are closed. */
void dp_nsmtp_drain(struct dp_nsmtp *g, bool on);

/* Sessions alive on this core. */
uint32_t dp_nsmtp_sessions(const struct dp_nsmtp *g);

#endif
