/*
 * mgmt_dlv — the delivery engine: configuration, the routing table, the
 * queue scan that turns due messages into per-destination jobs, dispatch
 * to connections, and the end of each message's round (record results,
 * bounce, defer with backoff).
 *
 * A round: a due message (SCANNED, or DEFERRED whose time has come) gets a
 * dlv_msg and one job per destination of its pending recipients.  Each
 * delivered recipient is recorded at once.  When the message's last job is
 * done, failed recipients are bounced (the DSN is injected first, then the
 * recipients are recorded bounced) and, if any recipient was deferred, the
 * message is deferred with the next backoff delay.  Deferred recipients of
 * a message older than the queue lifetime bounce instead (RFC 3463 4.4.7).
 *
 * A destination that cannot be reached is marked down for dest_retry_ns:
 * its queued jobs and new recipients for it are deferred without a
 * connection attempt, so a dead next hop costs one connect per period and
 * never holds up mail for other destinations.
 */
#include "mgmt_dlv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mgmt_dlv_bounce.h"
#include "mgmt_dlv_int.h"
#include "mx_log.h"
#include "mx_time.h"

MX_COUNTER_SET_DEFINE(mgmt_dlv_counters, "deliver", MGMT_DLV_COUNTERS)

#define NS_S 1000000000ull

void mgmt_dlv_conf_defaults(struct mgmt_dlv_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->hostname = "localhost";
	c->default_route = "maildir:./var/mail";
	c->dest_conn_max = 4;
	c->dest_queue_max = 64;
	c->msgs_inflight_max = 256;
	c->retry_schedule = MGMT_DLV_BACKOFF_DEFAULT;
	c->retry_jitter_pct = 10;
	c->max_lifetime_ns = 5 * 86400 * NS_S;
	c->dest_retry_ns = 60 * NS_S;
	c->scan_interval_ns = NS_S;
	c->idle_timeout_ns = 10 * NS_S;
	c->dsn_full_max = 1 << 20;
	c->timeouts.connect_ns = 30 * NS_S;
	c->timeouts.greeting_ns = 300 * NS_S;
	c->timeouts.helo_ns = 300 * NS_S;
	c->timeouts.mail_ns = 300 * NS_S;
	c->timeouts.rcpt_ns = 300 * NS_S;
	c->timeouts.data_init_ns = 120 * NS_S;
	c->timeouts.data_block_ns = 180 * NS_S;
	c->timeouts.data_term_ns = 600 * NS_S;
	c->timeouts.rset_ns = 120 * NS_S;
	c->timeouts.quit_ns = 10 * NS_S;
}

static uint64_t rng_next(struct mgmt_dlv *d)
{
	/* xorshift64*: jitter only, not security. */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 0x2545F4914F6CDD1Dull;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

static struct dlv_dest *dest_get(struct mgmt_dlv *d, const char *text,
				 char *err, size_t err_size)
{
	struct mgmt_dlv_route r;
	struct dlv_dest *dest, **grown;
	char name[DLV_NAME_SIZE];

	if (mgmt_dlv_route_parse(text, &r, err, err_size) < 0)
		return NULL;
	if (mgmt_dlv_route_format(&r, name, sizeof(name)) < 0) {
		snprintf(err, err_size, "route too long");
		return NULL;
	}
	for (unsigned i = 0; i < d->dest_count; i++)
		if (strcmp(d->dests[i]->name, name) == 0)
			return d->dests[i];
	dest = calloc(1, sizeof(*dest));
	grown = realloc(d->dests, (d->dest_count + 1) * sizeof(*grown));
	if (dest == NULL || grown == NULL) {
		free(dest);
		if (grown)
			d->dests = grown;
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	d->dests = grown;
	dest->eng = d;
	dest->route = r;
	memcpy(dest->name, name, sizeof(name));
	d->dests[d->dest_count++] = dest;
	return dest;
}

struct mgmt_dlv *mgmt_dlv_create(const struct mgmt_dlv_conf *conf,
				 const struct mgmt_dlv_source *src, char *err,
				 size_t err_size)
{
	struct mgmt_dlv *d = calloc(1, sizeof(*d));
	char why[256];

	if (d == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	d->epfd = -1;
	d->conf = *conf;
	d->src = *src;
	d->hostname = strdup(conf->hostname ? conf->hostname : "localhost");
	d->map = calloc(conf->route_count + 1, sizeof(*d->map));
	if (d->hostname == NULL || d->map == NULL) {
		snprintf(err, err_size, "out of memory");
		goto fail;
	}
	d->conf.hostname = d->hostname;
	d->conf.routes = NULL;
	if (d->conf.dest_conn_max == 0 || d->conf.msgs_inflight_max == 0 ||
	    d->conf.dest_queue_max == 0) {
		snprintf(err, err_size,
			 "connection, queue and in-flight limits must be > 0");
		goto fail;
	}
	if (mgmt_dlv_backoff_parse(conf->retry_schedule, conf->retry_jitter_pct,
				   &d->backoff, why, sizeof(why)) < 0) {
		snprintf(err, err_size, "retry schedule: %s", why);
		goto fail;
	}
	d->default_dest = dest_get(d, conf->default_route, why, sizeof(why));
	if (d->default_dest == NULL) {
		snprintf(err, err_size, "default route: %s", why);
		goto fail;
	}
	for (unsigned i = 0; i < conf->route_count; i++) {
		const struct mgmt_dlv_route_entry *e = &conf->routes[i];
		struct dlv_dest *dest = dest_get(d, e->route, why, sizeof(why));

		if (dest == NULL) {
			snprintf(err, err_size, "route for %s: %s", e->domain,
				 why);
			goto fail;
		}
		d->map[i].domain = strdup(e->domain);
		if (d->map[i].domain == NULL) {
			snprintf(err, err_size, "out of memory");
			goto fail;
		}
		lower(d->map[i].domain);
		d->map[i].dest = dest;
		d->map_count = i + 1;
	}
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0) {
		snprintf(err, err_size, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	d->rng =
	    mx_wall_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
	d->scan_now = true;
	return d;
fail:
	mgmt_dlv_destroy(d);
	return NULL;
}

static void msg_free(struct mgmt_dlv *d, struct dlv_msg *m);

void mgmt_dlv_destroy(struct mgmt_dlv *d)
{
	if (d == NULL)
		return;
	d->paused_all = true; /* nothing new starts while we tear down */
	for (unsigned i = 0; i < d->dest_count; i++) {
		struct dlv_dest *dest = d->dests[i];
		struct dlv_job *job;

		dlv_conn_close_all(dest, false);
		while ((job = dest->q_head) != NULL) {
			dest->q_head = job->next;
			dest->q_count--;
			dlv_job_done(d, job);
		}
	}
	/* Rounds still waiting for a bounce to be queued: their recipients
	 * stay pending in the queue and are tried again after restart. */
	for (unsigned i = 0; i < DLV_HASH_SIZE; i++)
		while (d->hash[i])
			msg_free(d, d->hash[i]);
	for (unsigned i = 0; i < d->dest_count; i++)
		free(d->dests[i]);
	free(d->dests);
	for (unsigned i = 0; i < d->map_count; i++)
		free(d->map[i].domain);
	free(d->map);
	free(d->hostname);
	if (d->epfd >= 0)
		close(d->epfd);
	free(d);
}

int mgmt_dlv_fd(const struct mgmt_dlv *d)
{
	return d->epfd;
}

unsigned mgmt_dlv_inflight(const struct mgmt_dlv *d)
{
	return d->rcpt_inflight;
}

void mgmt_dlv_kick(struct mgmt_dlv *d)
{
	d->scan_now = true;
}

static struct dlv_dest *route_lookup(struct mgmt_dlv *d, const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL)
		return d->default_dest;
	for (unsigned i = 0; i < d->map_count; i++)
		if (strcasecmp(d->map[i].domain, at + 1) == 0)
			return d->map[i].dest;
	return d->default_dest;
}

/* --- in-flight messages ------------------------------------------------ */

static struct dlv_msg **msg_slot(struct mgmt_dlv *d, uint64_t id)
{
	struct dlv_msg **pp = &d->hash[(id ^ (id >> 17)) % DLV_HASH_SIZE];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->hash_next;
	return pp;
}

int dlv_msg_view(struct mgmt_dlv *d, uint64_t id, struct q_msg_view *v)
{
	return d->src.get(d->src.arg, id, v);
}

/* --- results ----------------------------------------------------------- */

void dlv_rcpt_result(struct dlv_job *job, unsigned pos, enum dlv_res res,
		     const char *status, const char *diag, bool diag_is_smtp)
{
	struct mgmt_dlv *d = job->dest->eng;
	unsigned idx = job->rcpt[pos];
	struct dlv_rcpt_res *r = &job->msg->res[idx];

	if (r->res != DLV_R_NONE || res == DLV_R_NONE)
		return; /* the first outcome of a round stands */
	r->res = (uint8_t)res;
	snprintf(r->status, sizeof(r->status), "%s", status);
	snprintf(r->diag, sizeof(r->diag), "%s", diag);
	r->diag_is_smtp = diag_is_smtp;
	r->dest = job->dest;
	switch (res) {
	case DLV_R_OK:
		job->dest->delivered++;
		MX_COUNT(mgmt_dlv_counters, dlv_rcpt_delivered);
		/* Recorded now, after the next hop took it: at least once. */
		if (d->src.rcpt_delivered(d->src.arg, job->msg->id, idx) < 0)
			MX_COUNT(mgmt_dlv_counters, dlv_record_errors);
		break;
	case DLV_R_DEFER:
		job->dest->deferred++;
		MX_COUNT(mgmt_dlv_counters, dlv_rcpt_deferred);
		snprintf(job->dest->last_error, sizeof(job->dest->last_error),
			 "%s", diag);
		break;
	case DLV_R_BOUNCE:
		job->dest->bounced++;
		MX_COUNT(mgmt_dlv_counters, dlv_rcpt_bounced);
		break;
	case DLV_R_NONE:
		break;
	}
}

void dlv_job_fail_rest(struct dlv_job *job, enum dlv_res res,
		       const char *status, const char *diag)
{
	for (unsigned pos = 0; pos < job->rcpt_count; pos++)
		dlv_rcpt_result(job, pos, res, status, diag, false);
}

static void msg_free(struct mgmt_dlv *d, struct dlv_msg *m)
{
	struct dlv_msg **pp = msg_slot(d, m->id);

	if (*pp == m) {
		*pp = m->hash_next;
		d->msg_count--;
	}
	free(m->res);
	free(m);
	/* Room again after a scan that hit a limit: scan again without
	 * waiting for the interval, once half a batch has finished. */
	if (d->scan_truncated) {
		unsigned batch =
		    d->conf.dest_queue_max < d->conf.msgs_inflight_max
			? d->conf.dest_queue_max
			: d->conf.msgs_inflight_max;

		if (++d->freed_since_scan >= (batch + 1) / 2)
			d->scan_now = true;
	}
}

enum { INJ_FAILED = -1, INJ_DONE = 0, INJ_PENDING = 1 };

/*
 * Injects the bounce for the failed recipients (or the delay warning for
 * the deferred ones).  INJ_DONE: queued (or no bounce due), INJ_PENDING:
 * handed to an asynchronous inject whose completion will come through
 * mgmt_dlv_inject_done, INJ_FAILED: the queue did not take it.
 */
static int msg_bounce(struct mgmt_dlv *d, struct dlv_msg *m,
		      const struct q_msg_view *v, uint64_t now,
		      enum mgmt_dlv_dsn_action action)
{
	uint8_t want =
	    action == MGMT_DLV_DSN_FAILED ? DLV_R_BOUNCE : DLV_R_DEFER;
	bool warn = action == MGMT_DLV_DSN_DELAYED;
	struct mgmt_dlv_bounce_rcpt *br;
	struct mgmt_dlv_bounce b;
	unsigned n = 0;
	int rc, out = INJ_DONE;

	br = calloc(m->rcpt_count, sizeof(*br));
	if (br == NULL)
		return INJ_FAILED;
	for (unsigned i = 0; i < m->rcpt_count; i++) {
		const struct dlv_rcpt_res *r = &m->res[i];

		if (r->res != want)
			continue;
		br[n].idx = i;
		br[n].status = r->status;
		br[n].diag = r->diag;
		br[n].diag_is_smtp = r->diag_is_smtp;
		br[n].remote_mta =
		    r->dest && (r->dest->route.kind == MGMT_DLV_ROUTE_SMTP ||
				r->dest->route.kind == MGMT_DLV_ROUTE_LMTP_TCP)
			? r->dest->route.host
			: NULL;
		br[n].last_attempt_wall_ns = now;
		br[n].will_retry_until_wall_ns =
		    m->received_wall_ns + d->conf.max_lifetime_ns;
		n++;
	}
	rc = mgmt_dlv_bounce_build(d->hostname, v, br, n, action, now,
				   d->conf.dsn_full_max, &b);
	free(br);
	if (rc == -EPERM) {
		MX_COUNT(mgmt_dlv_counters, dlv_dsn_suppressed);
		return INJ_DONE;
	}
	if (rc < 0)
		return INJ_FAILED;
	if (d->src.inject_async) {
		/* A warning needs no completion: nothing waits for it. */
		if (!warn) {
			m->inject_state = DLV_INJ_WAITING;
			m->inject_status = 0;
		}
		m->in_bounce = true;
		rc = d->src.inject_async(d->src.inject_arg, &b.env, b.body,
					 b.body_len,
					 warn ? MGMT_DLV_TOKEN_NONE : m->id);
		m->in_bounce = false;
		if (!warn && rc == 0) {
			/* The completion may already have come, from
			 * inside the call (a synchronous queue). */
			if (m->inject_state == DLV_INJ_COMPLETED)
				rc = m->inject_status;
			else
				out = INJ_PENDING;
		}
		if (!warn && out != INJ_PENDING)
			m->inject_state = DLV_INJ_NONE;
	} else {
		rc = d->src.inject ? d->src.inject(d->src.inject_arg, &b.env,
						   b.body, b.body_len)
				   : -ENOSYS;
	}
	mgmt_dlv_bounce_free(&b);
	if (rc < 0) {
		MX_COUNT(mgmt_dlv_counters, dlv_dsn_inject_failed);
		MX_LOG_RL(MX_LOG_WARN, "deliver",
			  "id=%016llx event=bounce_inject_failed err=%d",
			  (unsigned long long)m->id, rc);
		return INJ_FAILED;
	}
	if (out == INJ_DONE)
		MX_COUNT_ADD(mgmt_dlv_counters,
			     warn ? dlv_dsn_delay_sent : dlv_dsn_sent, 1);
	return out;
}

/* Bounces that could not be queued stay pending: better a second
 * attempt than a lost bounce. */
static void unbounce(struct dlv_msg *m)
{
	for (unsigned i = 0; i < m->rcpt_count; i++)
		if (m->res[i].res == DLV_R_BOUNCE) {
			m->res[i].res = DLV_R_DEFER;
			snprintf(m->res[i].diag, sizeof(m->res[i].diag),
				 "bounce could not be queued");
		}
}

/* The end of a round, once any bounce is queued: record bounces, send a
 * delay warning if one is due, defer what is left, free the message. */
static void msg_record(struct mgmt_dlv *d, struct dlv_msg *m,
		       const struct q_msg_view *v, uint64_t now)
{
	const char *last_error = NULL;
	bool any_defer = false;

	for (unsigned i = 0; i < m->rcpt_count; i++) {
		const struct dlv_rcpt_res *r = &m->res[i];
		char diag[DLV_DIAG_SIZE + 24];

		if (r->res == DLV_R_DEFER) {
			any_defer = true;
			last_error = r->diag;
		}
		if (r->res != DLV_R_BOUNCE)
			continue;
		snprintf(diag, sizeof(diag), "%s %s", r->status, r->diag);
		if (d->src.rcpt_bounced(d->src.arg, m->id, i, diag) < 0)
			MX_COUNT(mgmt_dlv_counters, dlv_record_errors);
		mx_log(
		    MX_LOG_INFO, "deliver",
		    "id=%016llx rcpt=%u status=bounced dsn=%s diag=\"%.200s\"",
		    (unsigned long long)m->id, i, r->status, r->diag);
	}
	if (any_defer && d->conf.delay_warn_ns) {
		/* One warning, in the round that crosses the threshold. */
		uint64_t age =
		    now > m->received_wall_ns ? now - m->received_wall_ns : 0;
		uint64_t prev_age =
		    m->prev_attempt_wall_ns > m->received_wall_ns
			? m->prev_attempt_wall_ns - m->received_wall_ns
			: 0;

		if (age >= d->conf.delay_warn_ns &&
		    prev_age < d->conf.delay_warn_ns)
			msg_bounce(d, m, v, now, MGMT_DLV_DSN_DELAYED);
	}
	if (any_defer) {
		uint64_t delay = mgmt_dlv_backoff_delay_ns(
		    &d->backoff, m->attempts + 1, rng_next(d));

		MX_COUNT(mgmt_dlv_counters, dlv_msg_deferred);
		if (d->src.defer(d->src.arg, m->id, now + delay,
				 last_error ? last_error : "deferred") < 0)
			MX_COUNT(mgmt_dlv_counters, dlv_record_errors);
		mx_log(MX_LOG_INFO, "deliver",
		       "id=%016llx status=deferred attempts=%u retry_in_s=%llu "
		       "why=\"%.200s\"",
		       (unsigned long long)m->id, m->attempts + 1,
		       (unsigned long long)(delay / NS_S),
		       last_error ? last_error : "");
	}
	msg_free(d, m);
}

static void msg_finish(struct mgmt_dlv *d, struct dlv_msg *m)
{
	uint64_t now = mx_wall_ns();
	bool any_bounce = false, expired;
	struct q_msg_view v;

	if (d->src.get(d->src.arg, m->id, &v) < 0) {
		msg_free(d, m); /* deleted meanwhile: nothing to record */
		return;
	}
	expired = now >= m->received_wall_ns &&
		  now - m->received_wall_ns >= d->conf.max_lifetime_ns;
	for (unsigned i = 0; i < m->rcpt_count; i++) {
		struct dlv_rcpt_res *r = &m->res[i];

		if (r->res == DLV_R_DEFER && expired) {
			char diag[DLV_DIAG_SIZE];

			/* RFC 3463 §3.5: 4.4.7 delivery time expired. */
			snprintf(diag, sizeof(diag),
				 "delivery time expired; last error: %.400s",
				 r->diag);
			memcpy(r->diag, diag, sizeof(r->diag));
			snprintf(r->status, sizeof(r->status), "4.4.7");
			r->diag_is_smtp = false;
			r->res = DLV_R_BOUNCE;
			MX_COUNT(mgmt_dlv_counters, dlv_rcpt_expired);
		}
		if (r->res == DLV_R_BOUNCE)
			any_bounce = true;
	}
	if (any_bounce) {
		int rc = msg_bounce(d, m, &v, now, MGMT_DLV_DSN_FAILED);

		if (rc == INJ_PENDING)
			return; /* mgmt_dlv_inject_done finishes it */
		if (rc == INJ_FAILED)
			unbounce(m);
	}
	msg_record(d, m, &v, now);
}

void mgmt_dlv_inject_done(struct mgmt_dlv *d, uint64_t token, int status)
{
	struct dlv_msg *m;
	struct q_msg_view v;

	if (d == NULL || token == MGMT_DLV_TOKEN_NONE)
		return;
	m = *msg_slot(d, token);
	if (m == NULL || m->inject_state == DLV_INJ_NONE)
		return;
	if (m->inject_state == DLV_INJ_WAITING && m->jobs_left == 0 &&
	    !m->in_bounce) {
		/* The normal case: the round ended earlier and waits. */
		m->inject_state = DLV_INJ_NONE;
		if (status < 0) {
			MX_COUNT(mgmt_dlv_counters, dlv_dsn_inject_failed);
			unbounce(m);
		} else {
			MX_COUNT(mgmt_dlv_counters, dlv_dsn_sent);
		}
		if (d->src.get(d->src.arg, m->id, &v) < 0) {
			msg_free(d, m);
			return;
		}
		msg_record(d, m, &v, mx_wall_ns());
		return;
	}
	/* Called from inside inject_async: msg_bounce picks it up. */
	m->inject_state = DLV_INJ_COMPLETED;
	m->inject_status = status;
}

void dlv_job_done(struct mgmt_dlv *d, struct dlv_job *job)
{
	struct dlv_msg *m = job->msg;

	d->rcpt_inflight -= job->rcpt_count;
	free(job->rcpt);
	free(job->accepted);
	free(job);
	if (--m->jobs_left == 0)
		msg_finish(d, m);
}

/* --- destinations ------------------------------------------------------ */

static bool dest_is_local(const struct dlv_dest *dest)
{
	return dest->route.kind == MGMT_DLV_ROUTE_MAILDIR ||
	       dest->route.kind == MGMT_DLV_ROUTE_DISCARD;
}

static bool dest_paused(const struct dlv_dest *dest)
{
	return dest->paused || dest->eng->paused_all;
}

struct dlv_job *dlv_dest_take(struct dlv_dest *dest)
{
	struct dlv_job *job = dest->q_head;

	if (job == NULL || dest_paused(dest))
		return NULL;
	dest->q_head = job->next;
	if (dest->q_head == NULL)
		dest->q_tail = NULL;
	dest->q_count--;
	job->next = NULL;
	return job;
}

void dlv_dest_requeue(struct dlv_dest *dest, struct dlv_job *job)
{
	job->next = dest->q_head;
	dest->q_head = job;
	if (dest->q_tail == NULL)
		dest->q_tail = job;
	dest->q_count++;
}

static void dest_push(struct dlv_dest *dest, struct dlv_job *job)
{
	job->next = NULL;
	if (dest->q_tail)
		dest->q_tail->next = job;
	else
		dest->q_head = job;
	dest->q_tail = job;
	dest->q_count++;
}

void dlv_dest_down(struct dlv_dest *dest, const char *why)
{
	struct dlv_job *job;

	dest->down_until_ns = mx_now_ns() + dest->eng->conf.dest_retry_ns;
	snprintf(dest->last_error, sizeof(dest->last_error), "%s", why);
	while ((job = dest->q_head) != NULL) {
		dest->q_head = job->next;
		if (dest->q_head == NULL)
			dest->q_tail = NULL;
		dest->q_count--;
		dlv_job_fail_rest(job, DLV_R_DEFER, "4.4.1", why);
		dlv_job_done(dest->eng, job);
	}
}

static void dispatch(struct mgmt_dlv *d)
{
	for (unsigned i = 0; i < d->dest_count; i++) {
		struct dlv_dest *dest = d->dests[i];
		struct dlv_job *job;

		if (dest_is_local(dest)) {
			while ((job = dlv_dest_take(dest)) != NULL)
				dlv_local_run(d, job);
			continue;
		}
		while ((job = dlv_dest_take(dest)) != NULL) {
			if (dlv_conn_give(dest, job))
				continue;
			if (dest->conn_count >= d->conf.dest_conn_max) {
				dlv_dest_requeue(dest, job);
				break;
			}
			if (dlv_conn_open(dest, job) < 0)
				break; /* job deferred, destination down */
		}
	}
}

/* --- the queue scan ---------------------------------------------------- */

static bool rcpt_pending(const struct q_msg_view *v, unsigned i)
{
	uint8_t st = v->rcpt_status ? v->rcpt_status[i] : Q_RCPT_PENDING;

	return st == Q_RCPT_PENDING || st == Q_RCPT_DEFERRED;
}

/*
 * Starts a round for one message if it is due and every destination it
 * needs has room (else marks the scan truncated).  Returns false when the
 * in-flight limit is reached.
 */
static bool consider(struct mgmt_dlv *d, const struct q_msg_view *v,
		     uint64_t now_wall, uint64_t now)
{
	const struct q_envelope *env = v->env;
	uint32_t n = env->rcpt_count;
	struct dlv_dest **rd;
	struct dlv_msg *m;
	bool due, expired, any = false;
	uint64_t received =
	    v->received_wall_ns ? v->received_wall_ns : env->received_wall_ns;

	if (n == 0)
		return true;
	due = v->state == Q_ST_SCANNED || d->flush_all ||
	      v->next_attempt_wall_ns <= now_wall;
	if (!due && !d->any_dest_flush) {
		/* The common case in a deep queue: waiting for its time.
		 * Only counted, without allocating. */
		for (uint32_t i = 0; i < n; i++)
			if (rcpt_pending(v, i))
				route_lookup(d, env->rcpt[i].addr)
				    ->deferred_rcpts++;
		return true;
	}
	rd = calloc(n, sizeof(*rd));
	if (rd == NULL)
		return false;
	expired = now_wall >= received &&
		  now_wall - received >= d->conf.max_lifetime_ns;
	for (uint32_t i = 0; i < n; i++) {
		if (!rcpt_pending(v, i))
			continue;
		rd[i] = route_lookup(d, env->rcpt[i].addr);
		if (rd[i]->flush)
			due = true;
		if (v->state == Q_ST_DEFERRED)
			rd[i]->deferred_rcpts++;
	}
	if (!due)
		goto out;
	/* Busy destinations: leave the whole message for a later scan, so
	 * that it is not deferred for lack of room. */
	for (uint32_t i = 0; i < n; i++) {
		if (rd[i] == NULL)
			continue;
		if (dest_paused(rd[i])) {
			rd[i] = NULL; /* stays pending, untouched */
			continue;
		}
		if (!expired && !dest_is_local(rd[i]) &&
		    rd[i]->q_count >= d->conf.dest_queue_max) {
			d->scan_truncated = true;
			goto out;
		}
		any = true;
	}
	if (!any)
		goto out;

	m = calloc(1, sizeof(*m));
	if (m)
		m->res = calloc(n, sizeof(*m->res));
	if (m == NULL || m->res == NULL) {
		if (m)
			free(m);
		free(rd);
		return false;
	}
	m->id = v->id;
	m->rcpt_count = n;
	m->attempts = v->attempts;
	m->received_wall_ns = received;
	m->started_wall_ns = now_wall;
	/* The queue keeps when this attempt was due, not when the last one
	 * ran: take the nominal delay back off (jitter makes it approximate,
	 * which only matters for the delay-warning threshold). */
	if (v->attempts > 0 &&
	    v->next_attempt_wall_ns >
		mgmt_dlv_backoff_base_ns(&d->backoff, v->attempts))
		m->prev_attempt_wall_ns =
		    v->next_attempt_wall_ns -
		    mgmt_dlv_backoff_base_ns(&d->backoff, v->attempts);
	m->jobs_left = 1; /* held by this function until the end */
	*msg_slot(d, m->id) = m;
	d->msg_count++;
	MX_COUNT(mgmt_dlv_counters, dlv_msg_attempts);

	for (uint32_t i = 0; i < n; i++) {
		struct dlv_dest *dest = rd[i];
		struct dlv_job *job;
		unsigned cnt = 0;

		if (dest == NULL)
			continue;
		if (expired) {
			/* Lifetime over before this attempt: bounce with the
			 * reason the queue kept (RFC 3463 4.4.7). */
			struct dlv_rcpt_res *r = &m->res[i];

			r->res = DLV_R_DEFER;
			snprintf(r->status, sizeof(r->status), "4.4.7");
			snprintf(r->diag, sizeof(r->diag), "%s",
				 v->last_error ? v->last_error
					       : "not delivered in time");
			r->dest = dest;
			rd[i] = NULL;
			continue;
		}
		for (uint32_t k = i; k < n; k++)
			if (rd[k] == dest)
				cnt++;
		job = calloc(1, sizeof(*job));
		if (job) {
			job->rcpt = calloc(cnt, sizeof(*job->rcpt));
			job->accepted = calloc(cnt, sizeof(*job->accepted));
		}
		if (job == NULL || job->rcpt == NULL || job->accepted == NULL) {
			if (job) {
				free(job->rcpt);
				free(job->accepted);
				free(job);
			}
			break; /* the rest stays pending for a later scan */
		}
		job->msg = m;
		job->dest = dest;
		for (uint32_t k = i; k < n; k++)
			if (rd[k] == dest) {
				job->rcpt[job->rcpt_count++] = k;
				rd[k] = NULL;
			}
		m->jobs_left++;
		d->rcpt_inflight += job->rcpt_count;
		if (dest->down_until_ns > now) {
			dlv_job_fail_rest(job, DLV_R_DEFER, "4.4.1",
					  dest->last_error[0]
					      ? dest->last_error
					      : "destination down");
			dlv_job_done(d, job);
			continue;
		}
		dest_push(dest, job);
	}
	if (--m->jobs_left == 0)
		msg_finish(d, m);
out:
	free(rd);
	return true;
}

static void scan(struct mgmt_dlv *d)
{
	static const enum q_state states[] = {Q_ST_SCANNED, Q_ST_DEFERRED};
	uint64_t now_wall = mx_wall_ns(), now = mx_now_ns();

	d->scan_truncated = false;
	d->freed_since_scan = 0;
	for (unsigned i = 0; i < d->dest_count; i++)
		d->dests[i]->deferred_rcpts = 0;
	for (unsigned s = 0; s < 2; s++) {
		struct q_msg_view v;
		uint64_t after = 0;

		while (d->src.next(d->src.arg, states[s], after, &v) == 0) {
			after = v.id;
			if (d->msg_count >= d->conf.msgs_inflight_max) {
				d->scan_truncated = true;
				break;
			}
			if (*msg_slot(d, v.id) != NULL)
				continue; /* already in delivery */
			if (!consider(d, &v, now_wall, now)) {
				d->scan_truncated = true;
				break;
			}
		}
	}
	d->flush_all = false;
	d->any_dest_flush = false;
	for (unsigned i = 0; i < d->dest_count; i++)
		d->dests[i]->flush = false;
}

int mgmt_dlv_run(struct mgmt_dlv *d)
{
	struct epoll_event evs[64];
	uint64_t now;
	int n, handled = 0;

	n = epoll_wait(d->epfd, evs, 64, 0);
	for (int i = 0; i < n; i++)
		dlv_conn_event(evs[i].data.ptr, evs[i].events);
	if (n > 0)
		handled += n;
	now = mx_now_ns();
	d->next_deadline_ns = UINT64_MAX;
	for (unsigned i = 0; i < d->dest_count; i++) {
		uint64_t t = dlv_conn_tick(d->dests[i], now);

		if (t < d->next_deadline_ns)
			d->next_deadline_ns = t;
	}
	if (d->scan_now || d->flush_all || now >= d->next_scan_ns) {
		d->scan_now = false;
		d->next_scan_ns = now + d->conf.scan_interval_ns;
		scan(d);
		handled++;
	}
	dispatch(d);
	return handled;
}

int mgmt_dlv_timeout_ms(const struct mgmt_dlv *d)
{
	uint64_t now = mx_now_ns(), next = d->next_scan_ns;

	if (d->scan_now || d->flush_all)
		return 0;
	/* Deadlines as of the last run; new connections made since have
	 * later ones, and the scan interval caps the wait anyway. */
	if (d->next_deadline_ns < next)
		next = d->next_deadline_ns;
	if (next <= now)
		return 0;
	return (int)((next - now + 999999) / 1000000);
}
