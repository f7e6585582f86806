/*
 * mx_log — key=value logging, the fatal/panic split, and rate-limited
 * logging for anything a remote peer can trigger.
 *
 * Lines look like:
 *   2026-11-25T16:57:50.123Z level=info comp=smtp sid=1f msg="..."
 * The caller writes the key=value part; mx_log adds time, level and comp.
 * Any thread may log; each line is written with one write(2), so lines from
 * different threads never interleave.  Dataplane cores must not log on the
 * packet path: they count, and use MX_LOG_RL only for rare events.
 *
 * mx_fatal() is for the environment (a port in use, a bad config): it logs
 * and exits with status 1.  mx_panic() is for our own bugs (an impossible
 * state): it logs and aborts so that a core is left behind.
 */
#ifndef MX_LOG_H
#define MX_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "mx_ratelimit.h"

enum mx_log_level {
	MX_LOG_ERR = 0,
	MX_LOG_WARN,
	MX_LOG_INFO,
	MX_LOG_DEBUG,
};

/* "err", "warn", "info", "debug" -> level; -EINVAL for anything else. */
int mx_log_level_parse(const char *name);
const char *mx_log_level_name(enum mx_log_level level);

void mx_log_set_level(enum mx_log_level level);
enum mx_log_level mx_log_get_level(void);
bool mx_log_enabled(enum mx_log_level level);

/*
 * Where lines go: "stderr" (the default), "syslog", or a file path opened
 * for append.  Returns 0 or -errno; on failure the old target stays.
 */
int mx_log_open(const char *target);

/* A prefix for every line of this process, e.g. "scanner=2"; NULL clears. */
void mx_log_set_tag(const char *tag);

void mx_log(enum mx_log_level level, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mx_vlog(enum mx_log_level level, const char *comp, const char *fmt,
	     va_list ap) __attribute__((format(printf, 3, 0)));

_Noreturn void mx_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
_Noreturn void mx_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Checks that stay on in release builds; a failure is a bug. */
#define MX_ASSERT(cond)                                                        \
	do {                                                                   \
		if (__builtin_expect(!(cond), 0))                              \
			mx_panic("assertion failed: %s at %s:%d", #cond,       \
				 __FILE__, __LINE__);                          \
	} while (0)

/*
 * Rate-limited logging: each call site has its own limiter (per thread, so
 * no atomics), allowing MX_LOG_RL_BURST lines per MX_LOG_RL_INTERVAL_MS.
 * The first line after a suppressed stretch carries suppressed=N.
 */
#define MX_LOG_RL_BURST 10
#define MX_LOG_RL_INTERVAL_MS 5000

void mx_log_rl(struct mx_ratelimit *rl, enum mx_log_level level,
	       const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define MX_LOG_RL(level, comp, ...)                                            \
	do {                                                                   \
		static _Thread_local struct mx_ratelimit mx_rl_site_ =         \
			MX_RATELIMIT_INIT(MX_LOG_RL_INTERVAL_MS,               \
					  MX_LOG_RL_BURST);                    \
		if (mx_log_enabled(level))                                     \
			mx_log_rl(&mx_rl_site_, (level), (comp), __VA_ARGS__); \
	} while (0)

#endif
