/*
 * smtp_test_host — a scripted, recording host for SMTP engine tests (see
 * smtp_test_host.h).
 */
#include "smtp_test_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct th_msg *cur(struct th_host *h)
{
	return h->msg_count ? &h->msgs[h->msg_count - 1] : NULL;
}

static void render_env(struct th_msg *m, const struct dp_smtp_envelope *e)
{
	size_t size = 4096 + e->rcpt_count * 1200, n;
	char *p = malloc(size);
	static const char *rets[] = {"-", "FULL", "HDRS"};

	if (p == NULL)
		abort();
	n = (size_t)snprintf(
	    p, size,
	    "client=%s:%u helo=%s proto=%s from=<%s> size=%llu "
	    "body=%s smtputf8=%d ret=%s envid=%s\n",
	    e->client_addr, e->client_port, e->helo, e->proto, e->mail_from,
	    (unsigned long long)e->size_declared,
	    e->body_binary ? "binarymime"
	    : e->body_8bit ? "8bitmime"
			   : "7bit",
	    e->smtputf8, rets[e->ret], e->envid ? e->envid : "-");
	for (unsigned i = 0; i < e->rcpt_count; i++) {
		const struct dp_smtp_rcpt *r = &e->rcpt[i];

		n += (size_t)snprintf(
		    p + n, size - n, "rcpt=<%s> notify=%s%s%s%s%s orcpt=%s\n",
		    r->addr, r->notify ? "" : "-",
		    r->notify & DP_SMTP_NOTIFY_NEVER ? "N" : "",
		    r->notify & DP_SMTP_NOTIFY_SUCCESS ? "S" : "",
		    r->notify & DP_SMTP_NOTIFY_FAILURE ? "F" : "",
		    r->notify & DP_SMTP_NOTIFY_DELAY ? "D" : "",
		    r->orcpt ? r->orcpt : "-");
	}
	m->env_text = p;
}

static int th_open(void *ctx, const struct dp_smtp_envelope *env, uint64_t *id)
{
	struct th_host *h = ctx;
	struct th_msg *m;

	if (h->open_fail_next < h->open_fail_count) {
		int rc = h->open_fail[h->open_fail_next++];

		if (rc != 0)
			return rc;
	}
	if (h->msg_count == TH_MSGS_MAX)
		return -ENOMEM;
	m = &h->msgs[h->msg_count++];
	memset(m, 0, sizeof(*m));
	m->id = ++h->next_id;
	m->status = "open";
	render_env(m, env);
	h->writes_in_msg = 0;
	*id = m->id;
	return 0;
}

static int th_write(void *ctx, const void *data, size_t len)
{
	struct th_host *h = ctx;
	struct th_msg *m = cur(h);

	if (m == NULL || strcmp(m->status, "open") != 0)
		abort(); /* the engine wrote to a closed message */
	if (++h->writes_in_msg == 2 && h->write_fail) {
		int rc = h->write_fail;

		h->write_fail = 0;
		return rc;
	}
	if (m->body_len + len > m->body_size) {
		m->body_size = (m->body_len + len) * 2 + 256;
		m->body = realloc(m->body, m->body_size);
		if (m->body == NULL)
			abort();
	}
	memcpy(m->body + m->body_len, data, len);
	m->body_len += len;
	return 0;
}

int th_host_next_commit(struct th_host *h)
{
	if (h->commit_next < h->commit_count)
		return h->commits[h->commit_next++];
	return 0;
}

static void th_commit(void *ctx)
{
	struct th_host *h = ctx;
	struct th_msg *m = cur(h);

	if (m == NULL || strcmp(m->status, "open") != 0)
		abort();
	m->status = "committing";
	if (h->sync_commit) {
		int rc = th_host_next_commit(h);

		m->commit_status = rc;
		m->status = rc == 0 ? "committed" : "commit-failed";
		dp_smtp_commit_done(h->s, rc, m->id);
	}
}

static void th_abort(void *ctx)
{
	struct th_host *h = ctx;
	struct th_msg *m = cur(h);

	if (m == NULL || strcmp(m->status, "open") != 0)
		abort();
	m->status = "aborted";
}

static enum dp_smtp_rcpt_verdict th_rcpt(void *ctx, const char *local,
					 const char *domain)
{
	struct th_host *h = ctx;

	/* The one verdict a file-backed policy cannot produce on demand. */
	if (strcmp(domain, "tempfail.test") == 0)
		return DP_SMTP_RCPT_TEMPFAIL;
	return dp_policy_check(h->policy, local, domain);
}

static uint64_t th_wall(void *ctx)
{
	return ((struct th_host *)ctx)->wall_ns;
}

void th_host_init(struct th_host *h, const struct dp_policy *policy)
{
	memset(h, 0, sizeof(*h));
	h->ops.msg_open = th_open;
	h->ops.msg_write = th_write;
	h->ops.msg_commit = th_commit;
	h->ops.msg_abort = th_abort;
	h->ops.rcpt_check = th_rcpt;
	h->ops.wall_ns = th_wall;
	h->policy = policy;
	h->wall_ns = 1700000000ull * 1000000000ull;
}

void th_host_fini(struct th_host *h)
{
	for (unsigned i = 0; i < h->msg_count; i++) {
		free(h->msgs[i].env_text);
		free(h->msgs[i].body);
	}
	h->msg_count = 0;
}

int th_policy_create(const char *dir, struct dp_policy **out)
{
	static const char users[] = "# test recipients\n"
				    "alice@example.com\n"
				    "bob@Example.COM   # domain is lowercased\n"
				    "\n"
				    "carol@example.com\n"
				    "j\xc3\xb6rg@example.com\n";
	char txt[512], db[512], err[256];
	FILE *f;
	int rc;

	snprintf(txt, sizeof(txt), "%s/users.txt", dir);
	snprintf(db, sizeof(db), "%s/users.lmdb", dir);
	f = fopen(txt, "w");
	if (f == NULL)
		return -errno;
	fputs(users, f);
	fclose(f);
	rc = dp_policy_map_build(txt, db, err, sizeof(err));
	if (rc == 0) {
		struct dp_policy_domain doms[] = {
		    {"example.com", db},
		    {"example.net", db},
		    {"catchall.test", NULL},
		};

		rc = dp_policy_create(out, doms, 3, err, sizeof(err));
	}
	if (rc < 0)
		fprintf(stderr, "policy: %s\n", err);
	unlink(txt);
	return rc;
}
