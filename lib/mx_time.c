/*
 * mx_time.c — date formatting for headers and log lines.  Done by hand on
 * gmtime_r() output so it is locale-independent.
 */
#include <stdio.h>

#include "mx_time.h"

static const char mx_wday[7][4] = {"Sun", "Mon", "Tue", "Wed",
				   "Thu", "Fri", "Sat"};
static const char mx_mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

size_t mx_time_fmt_rfc5322(char *buf, size_t size, uint64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / 1000000000u);
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	n = snprintf(buf, size, "%s, %d %s %04d %02d:%02d:%02d +0000",
		     mx_wday[tm.tm_wday], tm.tm_mday, mx_mon[tm.tm_mon],
		     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

size_t mx_time_fmt_iso8601(char *buf, size_t size, uint64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / 1000000000u);
	unsigned ms = (unsigned)(wall_ns % 1000000000u / 1000000u);
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ms);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}
