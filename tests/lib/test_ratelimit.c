/*
 * test_ratelimit.c — the fixed-window limiter: burst, suppression count,
 * window roll-over, and the suppressed= field of rate-limited log lines.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mx_log.h"
#include "mx_ratelimit.h"
#include "mx_test.h"

#define MS 1000000ull

static void test_window(void)
{
	static const struct {
		uint64_t at_ms;
		bool allowed;
		uint64_t suppressed;
	} steps[] = {
		/* burst of 3 per 100 ms */
		{0, true, 0},	 {10, true, 0},	 {20, true, 0},
		{30, false, 0},	 {40, false, 0}, {99, false, 0},
		{100, true, 3},	 {101, true, 0}, {150, true, 0},
		{160, false, 0}, {500, true, 1},
	};
	struct mx_ratelimit rl;

	mx_ratelimit_init(&rl, 100, 3);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint64_t sup = 99;
		bool ok = mx_ratelimit_allow(&rl, steps[i].at_ms * MS, &sup);

		if (ok != steps[i].allowed || sup != steps[i].suppressed)
			fprintf(stderr, "step %zu at %llu ms: ok=%d sup=%llu\n",
				i, (unsigned long long)steps[i].at_ms, ok,
				(unsigned long long)sup);
		CHECK(ok == steps[i].allowed);
		CHECK_EQ_U64(sup, steps[i].suppressed);
	}
}

/* A peer-triggered line repeated 10,000 times produces at most the burst,
 * and the log file stays small. */
static void test_log_rl_bounded(void)
{
	char path[] = "/tmp/mx-test-rl-XXXXXX";
	int fd = mkstemp(path);
	char buf[65536];
	ssize_t n;
	int lines = 0;

	CHECK(fd >= 0);
	CHECK(mx_log_open(path) == 0);
	for (int i = 0; i < 10000; i++)
		MX_LOG_RL(MX_LOG_WARN, "test", "event=flood i=%d", i);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	CHECK(lines == MX_LOG_RL_BURST);
	CHECK(strstr(buf, "level=warn comp=test event=flood i=0") != NULL);
	mx_log_open("stderr");
	close(fd);
	unlink(path);
}

int main(void)
{
	test_window();
	test_log_rl_bounded();
	return TEST_EXIT();
}
