/*
 * mx_log.c — key=value log lines to stderr, a file or syslog.
 *
 * A line is formatted into a stack buffer and written with one write(2)
 * (O_APPEND for files), so concurrent threads never interleave within a
 * line.  Over-long lines are cut and end in "...".  The level is a relaxed
 * atomic so `mxgatectl log-level` can change it while cores run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "mx_log.h"
#include "mx_time.h"

#define MX_LOG_LINE_MAX 2048

static _Atomic int mx_log_level_cur = MX_LOG_INFO;
static _Atomic int mx_log_fd = STDERR_FILENO;
static _Atomic bool mx_log_syslog;
static char mx_log_tag[64];

static const char *const mx_log_names[] = {
	[MX_LOG_ERR] = "err",
	[MX_LOG_WARN] = "warn",
	[MX_LOG_INFO] = "info",
	[MX_LOG_DEBUG] = "debug",
};

int mx_log_level_parse(const char *name)
{
	for (int i = MX_LOG_ERR; i <= MX_LOG_DEBUG; i++)
		if (strcmp(name, mx_log_names[i]) == 0)
			return i;
	if (strcmp(name, "error") == 0)
		return MX_LOG_ERR;
	if (strcmp(name, "warning") == 0)
		return MX_LOG_WARN;
	return -EINVAL;
}

const char *mx_log_level_name(enum mx_log_level level)
{
	if ((unsigned)level > MX_LOG_DEBUG)
		return "?";
	return mx_log_names[level];
}

void mx_log_set_level(enum mx_log_level level)
{
	atomic_store_explicit(&mx_log_level_cur, (int)level,
			      memory_order_relaxed);
}

enum mx_log_level mx_log_get_level(void)
{
	return (enum mx_log_level)atomic_load_explicit(&mx_log_level_cur,
						       memory_order_relaxed);
}

bool mx_log_enabled(enum mx_log_level level)
{
	return (int)level <=
	       atomic_load_explicit(&mx_log_level_cur, memory_order_relaxed);
}

int mx_log_open(const char *target)
{
	int old, fd;

	if (strcmp(target, "stderr") == 0) {
		old = atomic_exchange(&mx_log_fd, STDERR_FILENO);
		atomic_store(&mx_log_syslog, false);
	} else if (strcmp(target, "syslog") == 0) {
		openlog("mxgate", LOG_PID | LOG_NDELAY, LOG_MAIL);
		old = atomic_exchange(&mx_log_fd, -1);
		atomic_store(&mx_log_syslog, true);
	} else {
		fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  0640);
		if (fd < 0)
			return -errno;
		old = atomic_exchange(&mx_log_fd, fd);
		atomic_store(&mx_log_syslog, false);
	}
	/* A thread may be mid-write on the old descriptor; leaking one fd
	 * per reopen is cheaper than coordinating that. Only close what we
	 * opened before, never stderr. */
	(void)old;
	return 0;
}

void mx_log_set_tag(const char *tag)
{
	if (!tag)
		mx_log_tag[0] = '\0';
	else
		snprintf(mx_log_tag, sizeof(mx_log_tag), "%s ", tag);
}

static void mx_log_emit(enum mx_log_level level, const char *comp,
			const char *extra, const char *fmt, va_list ap)
{
	static const int sys_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
				       LOG_DEBUG};
	char line[MX_LOG_LINE_MAX];
	size_t n = 0;
	int r;

	if (!atomic_load_explicit(&mx_log_syslog, memory_order_relaxed)) {
		n = mx_time_fmt_iso8601(line, sizeof(line), mx_wall_ns());
		line[n++] = ' ';
	}
	r = snprintf(line + n, sizeof(line) - n, "level=%s comp=%s %s%s",
		     mx_log_level_name(level), comp ? comp : "-", mx_log_tag,
		     extra ? extra : "");
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n >= sizeof(line) - 1) {
		n = sizeof(line) - 5;
		memcpy(line + n, "...", 3);
		n += 3;
	}
	if (atomic_load_explicit(&mx_log_syslog, memory_order_relaxed)) {
		line[n] = '\0';
		syslog(sys_prio[level <= MX_LOG_DEBUG ? level : MX_LOG_DEBUG],
		       "%s", line);
		return;
	}
	line[n++] = '\n';
	if (write(atomic_load(&mx_log_fd), line, n) < 0) {
		/* Nowhere left to report a failing log target. */
	}
}

void mx_vlog(enum mx_log_level level, const char *comp, const char *fmt,
	     va_list ap)
{
	if (!mx_log_enabled(level))
		return;
	mx_log_emit(level, comp, NULL, fmt, ap);
}

void mx_log(enum mx_log_level level, const char *comp, const char *fmt, ...)
{
	va_list ap;

	if (!mx_log_enabled(level))
		return;
	va_start(ap, fmt);
	mx_log_emit(level, comp, NULL, fmt, ap);
	va_end(ap);
}

void mx_log_rl(struct mx_ratelimit *rl, enum mx_log_level level,
	       const char *comp, const char *fmt, ...)
{
	uint64_t suppressed;
	char extra[48];
	va_list ap;

	if (!mx_ratelimit_allow(rl, mx_now_ns(), &suppressed))
		return;
	extra[0] = '\0';
	if (suppressed)
		snprintf(extra, sizeof(extra), "suppressed=%llu ",
			 (unsigned long long)suppressed);
	va_start(ap, fmt);
	mx_log_emit(level, comp, extra, fmt, ap);
	va_end(ap);
}

_Noreturn void mx_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mx_log_emit(MX_LOG_ERR, "fatal", NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

_Noreturn void mx_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mx_log_emit(MX_LOG_ERR, "panic", NULL, fmt, ap);
	va_end(ap);
	abort();
}
