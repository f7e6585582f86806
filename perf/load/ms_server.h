/*
 * ms_server — one mxsink worker thread: its listening socket (SO_REUSEPORT,
 * so the kernel spreads connections over the threads), its io_uring with a
 * multishot accept, and its connections, each with one operation in
 * flight at a time: send the replies a read called for in one write, then
 * read again.
 *
 * The main thread fills the "in" fields, calls ms_server_init() (which
 * allocates every connection and buffer, or returns -errno) and runs
 * ms_server_run() on a thread of its own; that thread touches nothing but
 * its struct, the read-only protocol settings and the stop flag.  The
 * main thread reads `st` after joining, then calls ms_server_fini().
 */
#ifndef MS_SERVER_H
#define MS_SERVER_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ms_proto.h"

#define MS_RBUF_SIZE 16384
#define MS_WBUF_SIZE 4096

struct ms_conn {
	int fd;		   /* -1 while free */
	unsigned idx;
	bool closing_after_send; /* QUIT answered */
	size_t roff, rlen; /* unconsumed input is rbuf[roff, rlen) */
	size_t woff;	   /* octets of out already sent */
	struct ms_out out;
	struct ms_sess sess;
	char rbuf[MS_RBUF_SIZE];
	char wbuf[MS_WBUF_SIZE];
};

struct ms_server_stats {
	struct ms_stats proto;
	uint64_t conns;		/* accepted and served */
	uint64_t conns_refused; /* over max_conns: 421 and closed */
	uint64_t accept_errors;
	uint64_t io_errors; /* recv/send failures (resets included) */
	uint64_t bytes_in;
};

struct ms_server {
	/* in */
	const struct ms_proto_conf *conf;
	int listen_fd; /* owned: closed by ms_server_fini() */
	unsigned max_conns;
	const atomic_bool *stop;

	/* out: read by the main thread after the join */
	struct ms_server_stats st;

	/* private */
	struct io_uring ring;
	bool ring_ok;
	struct ms_conn *conns;
	unsigned *freel;
	unsigned nfree;
};

/* A listening TCP socket on addr with SO_REUSEPORT set, so every thread
 * can bind its own on one port.  Returns the fd or -errno. */
int ms_server_listen(const struct sockaddr *addr, socklen_t addr_len);

int ms_server_init(struct ms_server *sv);
void *ms_server_run(void *sv);
void ms_server_fini(struct ms_server *sv);

#endif
