/*
 * dp_smtp_counters — the SMTP engine's counters: one X-macro list with help
 * strings, counted per core thread (see lib/mx_counter.h).  Every kind of
 * peer error has its own counter.
 */
#ifndef DP_SMTP_COUNTERS_H
#define DP_SMTP_COUNTERS_H

#include "mx_counter.h"

#define DP_SMTP_COUNTERS(X)                                                    \
	X(smtp_sessions, "SMTP sessions started")                              \
	X(smtp_messages, "messages accepted (250 after DATA/BDAT LAST)")       \
	X(smtp_messages_rejected, "messages refused at the end of data")       \
	X(smtp_bytes, "message body bytes accepted from clients")              \
	X(smtp_commands, "command lines processed")                            \
	X(smtp_rcpts, "recipients accepted")                                   \
	X(smtp_reply_2xx, "2xx replies")                                       \
	X(smtp_reply_3xx, "3xx replies")                                       \
	X(smtp_reply_4xx, "4xx replies")                                       \
	X(smtp_reply_5xx, "5xx replies")                                       \
	X(smtp_err_bare_lf, "bare LF from a peer")                             \
	X(smtp_err_bare_cr, "bare CR from a peer")                             \
	X(smtp_err_nul, "NUL byte in a command")                               \
	X(smtp_err_cmd_too_long, "command line over cmd_line_max")             \
	X(smtp_err_text_too_long, "message line over text_line_max")           \
	X(smtp_err_bad_sequence, "command out of sequence (503)")              \
	X(smtp_err_syntax, "syntax errors in commands or parameters")          \
	X(smtp_err_unknown_cmd, "unrecognised commands")                       \
	X(smtp_err_too_many_rcpts, "recipients over rcpt_max")                 \
	X(smtp_err_too_many_errors, "sessions closed at errors_max")           \
	X(smtp_err_too_many_junk, "sessions closed at junk_max")               \
	X(smtp_err_size_exceeded, "messages over msg_size_max")                \
	X(smtp_err_pipelining, "input pipelined after a command that must "    \
			       "end a group (RFC 2920)")                       \
	X(smtp_err_pregreet, "input before the banner")                        \
	X(smtp_err_non_smtp, "non-SMTP commands (HTTP) answered with close")   \
	X(smtp_timeouts, "sessions closed by a timeout")                       \
	X(smtp_rcpt_unknown, "recipients refused: unknown user")               \
	X(smtp_rcpt_relay, "recipients refused: relay denied")                 \
	X(smtp_rcpt_tempfail, "recipients refused: temporary failure")         \
	X(smtp_host_errors, "msg_open/msg_write/commit failures from the "     \
			    "host")

enum dp_smtp_counter { DP_SMTP_COUNTERS(MX_COUNTER_ENUM) DP_SMTP_C__COUNT };
MX_COUNTER_SET_DECLARE(dp_smtp_counters);

#define DP_SMTP_COUNT(name) MX_COUNT(dp_smtp_counters, name)
#define DP_SMTP_COUNT_ADD(name, n) MX_COUNT_ADD(dp_smtp_counters, name, n)

#endif
