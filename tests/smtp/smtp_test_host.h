/*
 * smtp_test_host — the test host for the SMTP engine's golden runner and
 * fuzzer: a real dp_policy for rcpt_check, a fixed clock, and an
 * in-memory sink that records each message's envelope and exact body.
 * Outcomes of msg_open, msg_write and commits can be scripted.
 * Single-threaded test code; allocates freely.
 */
#ifndef SMTP_TEST_HOST_H
#define SMTP_TEST_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_policy.h"
#include "dp_smtp.h"

#define TH_MSGS_MAX 64
#define TH_QUEUE_MAX 64

struct th_msg {
	uint64_t id;
	char *env_text; /* rendered envelope */
	uint8_t *body;
	size_t body_len, body_size;
	const char *status; /* "open", "committing", "committed",
			     * "aborted", "commit-failed" */
	int commit_status;
};

struct th_host {
	struct dp_smtp_host ops;
	const struct dp_policy *policy;
	struct dp_smtp_session *s;
	uint64_t wall_ns;
	uint64_t next_id;
	bool sync_commit;	     /* commit_done from inside msg_commit */
	int open_fail[TH_QUEUE_MAX]; /* scripted msg_open results */
	unsigned open_fail_count, open_fail_next;
	int write_fail;		   /* fail the body write after the Received */
	int commits[TH_QUEUE_MAX]; /* scripted commit results */
	unsigned commit_count, commit_next;
	struct th_msg msgs[TH_MSGS_MAX];
	unsigned msg_count;
	unsigned writes_in_msg;
};

void th_host_init(struct th_host *h, const struct dp_policy *policy);
void th_host_fini(struct th_host *h);
/* The next scripted commit outcome (0 when none is queued). */
int th_host_next_commit(struct th_host *h);

/* Builds the test policy in dir (a users map and three domains). */
int th_policy_create(const char *dir, struct dp_policy **out);

#endif
