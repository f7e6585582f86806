/*
 * dp_sock_counters.h — counters of the socket backend (one list, help
 * strings beside the names; see lib/mx_counter.h).
 */
#ifndef DP_SOCK_COUNTERS_H
#define DP_SOCK_COUNTERS_H

#include "mx_counter.h"

#define DP_SOCK_COUNTERS(X)                                                    \
	X(sock_accepted, "connections accepted")                               \
	X(sock_closed, "connections closed")                                   \
	X(sock_refused_limit, "connections refused: max_connections reached")  \
	X(sock_refused_per_ip, "connections refused: per-address limit")       \
	X(sock_refused_drain, "connections refused while draining")            \
	X(sock_accept_errors, "accept completions with an error")              \
	X(sock_recv_bytes, "bytes received from clients")                      \
	X(sock_send_bytes, "bytes sent to clients")                            \
	X(sock_recv_errors, "receive errors (connection reset and the like)")  \
	X(sock_send_errors, "send errors")                                     \
	X(sock_recv_nobufs, "receives stopped for lack of provided buffers")   \
	X(sock_proxy_errors, "connections dropped for a bad PROXY header")     \
	X(sock_sqe_full, "submission queue full, forced an early submit")      \
	X(sock_commit_stale, "commit results for sessions already gone")      \
	X(sock_msg_rate_limited, "messages refused: per-address message rate") \
	X(sock_msg_tempfail, "messages refused: no healthy scanner (tempfail)")

enum dp_sock_counter { DP_SOCK_COUNTERS(MX_COUNTER_ENUM) DP_SOCK_C__COUNT };
MX_COUNTER_SET_DECLARE(dp_sock_counters);

#endif
