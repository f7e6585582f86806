/*
 * scan_clam_pool — starts, feeds, watches and replaces scanner processes.
 *
 * Slots 0..procs-1 are the serving scanners; slot `procs` is the reload
 * candidate.  Each epoll registration carries (slot, kind, spawn
 * generation) so that an event for a process that has since been replaced
 * is recognised as stale and dropped.  A request is owned by the pool from
 * submit to its callback; while a scanner works on it the scanner slot
 * points at it, and if the scanner dies it goes back to the head of the
 * queue with one more strike (two strikes: SCAN_V_FAILED).
 */
#include "scan_clam_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mx_log.h"
#include "mx_time.h"
#include "scan_counters.h"

#define STRIKES_MAX 2  /* crashes or timeouts caused while scanning it */
#define ATTEMPTS_MAX 5 /* scanner deaths of any kind while scanning it */

enum sc_state { SC_DOWN = 0, SC_LOADING, SC_READY, SC_BUSY };
enum { EV_SOCK = 1, EV_PID = 2 };

struct job {
	uint64_t seq, msg_id, off, len;
	void *cookie;
	unsigned strikes;
	unsigned attempts;
	char *path;
	struct job *next;
};

struct scanner {
	enum sc_state st;
	pid_t pid;
	int sock, pidfd;
	uint32_t gen;
	struct job *job;
	uint64_t deadline_ms;	/* BUSY: scan limit; LOADING: load limit */
	uint64_t restart_at_ms; /* DOWN: when to start again */
	unsigned backoff_ms;
	bool draining; /* to be replaced once idle (reload) */
};

struct scan_clam_pool {
	struct scan_clam_conf conf;
	char *scanner_path;
	char *db; /* what new scanners load */
	int epfd, tfd;
	unsigned procs;
	struct scanner *sc; /* procs + 1: the last is the candidate */
	struct job *head, *tail;
	unsigned pending;
	uint64_t seq;
	bool reloading, reload_ok;
	char *reload_db;
	unsigned reload_next; /* slot the candidate replaces next */
	char reload_status[600];
	char engine[160];
	int ran; /* callbacks run in this poll */
};

static int cand(const struct scan_clam_pool *p)
{
	return (int)p->procs;
}

static uint64_t ev_data(int i, int kind, uint32_t gen)
{
	return (uint64_t)(unsigned)i | (uint64_t)kind << 8 |
	       (uint64_t)gen << 16;
}

static void timer_arm(struct scan_clam_pool *p, uint64_t at_ms)
{
	struct itimerspec its = {0};

	if (at_ms) {
		its.it_value.tv_sec = (time_t)(at_ms / 1000);
		its.it_value.tv_nsec = (long)(at_ms % 1000) * 1000000L;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void complete(struct scan_clam_pool *p, struct job *j,
		     enum scan_verdict v, const char *sig)
{
	switch (v) {
	case SCAN_V_CLEAN:
		MX_COUNT(scan_counters, scan_clam_clean);
		break;
	case SCAN_V_INFECTED:
		MX_COUNT(scan_counters, scan_clam_infected);
		MX_LOG_RL(MX_LOG_INFO, "scan",
			  "msg=%llx event=infected sig=\"%s\"",
			  (unsigned long long)j->msg_id, sig);
		break;
	case SCAN_V_ERROR:
		MX_COUNT(scan_counters, scan_clam_errors);
		break;
	case SCAN_V_FAILED:
		MX_COUNT(scan_counters, scan_clam_failed);
		break;
	}
	p->pending--;
	p->ran++;
	void *cookie = j->cookie;
	free(j->path);
	free(j);
	p->conf.done(p->conf.arg, cookie, v, sig);
}

static void queue_front(struct scan_clam_pool *p, struct job *j)
{
	j->next = p->head;
	p->head = j;
	if (!p->tail)
		p->tail = j;
}

static struct job *queue_pop(struct scan_clam_pool *p)
{
	struct job *j = p->head;

	if (j) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		j->next = NULL;
	}
	return j;
}

static int spawn(struct scan_clam_pool *p, int i, const char *db)
{
	struct scanner *s = &p->sc[i];
	const struct scan_clam_limits *l = &p->conf.limits;
	char tag[32], n[5][24];
	int sv[2];

	snprintf(tag, sizeof(tag), "scanner=%d", i);
	snprintf(n[0], sizeof(n[0]), "%llu",
		 (unsigned long long)l->max_scansize);
	snprintf(n[1], sizeof(n[1]), "%llu",
		 (unsigned long long)l->max_filesize);
	snprintf(n[2], sizeof(n[2]), "%u", l->max_recursion);
	snprintf(n[3], sizeof(n[3]), "%u", l->max_files);
	snprintf(n[4], sizeof(n[4]), "%u", l->max_scantime_ms);
	char *argv[] = {
	    p->scanner_path,
	    "--fd",
	    "3",
	    "--db",
	    (char *)db,
	    "--tag",
	    tag,
	    "--max-scansize",
	    n[0],
	    "--max-filesize",
	    n[1],
	    "--max-recursion",
	    n[2],
	    "--max-files",
	    n[3],
	    "--max-scantime",
	    n[4],
	    NULL,
	};
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	if (pid == 0) {
		/* Child of a threaded parent: async-signal-safe calls only. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (sv[1] == 3)
			fcntl(3, F_SETFD, 0);
		else if (dup2(sv[1], 3) < 0)
			_exit(127);
		syscall(SYS_close_range, 4u, ~0u, 0u);
		execv(p->scanner_path, argv);
		_exit(127);
	}
	close(sv[1]);
	s->sock = sv[0];
	fcntl(s->sock, F_SETFL, fcntl(s->sock, F_GETFL) | O_NONBLOCK);
	s->pid = pid;
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	s->gen++;
	s->st = SC_LOADING;
	s->job = NULL;
	s->draining = false;
	s->deadline_ms = mx_now_ms() + p->conf.load_timeout_ms;
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.u64 = ev_data(i, EV_SOCK, s->gen);
	epoll_ctl(p->epfd, EPOLL_CTL_ADD, s->sock, &ev);
	if (s->pidfd >= 0) {
		ev.data.u64 = ev_data(i, EV_PID, s->gen);
		epoll_ctl(p->epfd, EPOLL_CTL_ADD, s->pidfd, &ev);
	}
	MX_COUNT(scan_counters, scan_clam_spawns);
	mx_log(MX_LOG_INFO, "scan",
	       "event=scanner_start slot=%d pid=%d "
	       "db=\"%s\"",
	       i, (int)pid, db);
	return 0;
}

/* Closes and reaps a scanner process; returns its wait status. */
static int reap(struct scan_clam_pool *p, struct scanner *s)
{
	int status = 0;

	if (s->sock >= 0) {
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, s->sock, NULL);
		close(s->sock);
	}
	if (s->pidfd >= 0) {
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
		close(s->pidfd);
	}
	s->sock = s->pidfd = -1;
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	s->pid = 0;
	s->st = SC_DOWN;
	return status;
}

static void reload_end(struct scan_clam_pool *p, bool ok, const char *text)
{
	p->reloading = false;
	snprintf(p->reload_status, sizeof(p->reload_status), "%s", text);
	if (!ok && !p->reload_ok) {
		MX_COUNT(scan_counters, scan_clam_reload_failures);
		mx_log(MX_LOG_ERR, "scan", "event=reload_refused reason=\"%s\"",
		       text);
	}
	if (p->conf.reload_done && !(ok && p->reload_ok))
		p->conf.reload_done(p->conf.arg, ok, text);
}

/* A scanner is gone (or must go): reap it, give its request back. */
static void sc_down(struct scan_clam_pool *p, int i, const char *why,
		    const char *detail)
{
	struct scanner *s = &p->sc[i];
	pid_t pid = s->pid;
	int status = reap(p, s);
	struct job *j = s->job;

	s->job = NULL;
	MX_COUNT(scan_counters, scan_clam_crashes);
	MX_LOG_RL(MX_LOG_WARN, "scan",
		  "event=scanner_down slot=%d pid=%d "
		  "why=%s status=%d%s%s",
		  i, (int)pid, why, status, detail ? " detail=" : "",
		  detail ? detail : "");
	if (j) {
		/* A scanner that crashed (any signal but SIGKILL, or an
		 * abnormal exit) or that we timed out is blamed on its
		 * message; a SIGKILL from outside (an operator, the OOM
		 * killer) only counts towards the attempts limit. */
		bool fault =
		    strcmp(why, "timeout") == 0 ||
		    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		j->strikes += fault;
		if (j->strikes >= STRIKES_MAX ||
		    ++j->attempts >= ATTEMPTS_MAX) {
			mx_log(MX_LOG_WARN, "scan",
			       "msg=%llx event=scan_failed "
			       "why=%s",
			       (unsigned long long)j->msg_id, why);
			complete(p, j, SCAN_V_FAILED, "scanner failed twice");
		} else {
			MX_COUNT(scan_counters, scan_clam_retries);
			queue_front(p, j);
		}
	}
	if (i == cand(p)) {
		char t[sizeof(p->reload_status)];
		snprintf(t, sizeof(t),
			 "reload of %s refused, old engine "
			 "kept: %s",
			 p->reload_db, detail ? detail : why);
		if (p->reload_ok)
			snprintf(t, sizeof(t),
				 "reload of %s: slot %u not "
				 "replaced: %s",
				 p->reload_db, p->reload_next,
				 detail ? detail : why);
		reload_end(p, false, t);
		return;
	}
	s->restart_at_ms = mx_now_ms() + s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > p->conf.restart_backoff_max_ms
			    ? p->conf.restart_backoff_max_ms
			    : s->backoff_ms * 2;
}

/* Moves the ready candidate into the slot it replaces (when that slot is
 * idle), then starts the next candidate or ends the reload. */
static void reload_step(struct scan_clam_pool *p)
{
	struct scanner *c = &p->sc[cand(p)];
	unsigned k = p->reload_next;
	struct scanner *s = &p->sc[k];

	if (!p->reloading || c->st != SC_READY)
		return;
	if (s->st == SC_BUSY) {
		s->draining = true;
		return;
	}
	reap(p, s);
	uint32_t gen = s->gen + 1;
	*s = *c;
	s->gen = gen;
	s->backoff_ms = p->conf.restart_backoff_min_ms;
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.u64 = ev_data((int)k, EV_SOCK, s->gen);
	epoll_ctl(p->epfd, EPOLL_CTL_MOD, s->sock, &ev);
	if (s->pidfd >= 0) {
		ev.data.u64 = ev_data((int)k, EV_PID, s->gen);
		epoll_ctl(p->epfd, EPOLL_CTL_MOD, s->pidfd, &ev);
	}
	c->sock = c->pidfd = -1;
	c->pid = 0;
	c->st = SC_DOWN;
	mx_log(MX_LOG_INFO, "scan", "event=scanner_replaced slot=%u pid=%d", k,
	       (int)s->pid);
	if (++p->reload_next < p->procs) {
		int e = spawn(p, cand(p), p->db);
		if (e < 0)
			reload_end(p, false, "reload: cannot start scanner");
	} else {
		p->reloading = false;
	}
}

static void on_ready(struct scan_clam_pool *p, int i,
		     const struct scan_clam_msg *m)
{
	struct scanner *s = &p->sc[i];

	s->st = SC_READY;
	s->backoff_ms = p->conf.restart_backoff_min_ms;
	snprintf(p->engine, sizeof(p->engine), "%.*s", (int)m->text_len,
		 m->text);
	if (i != cand(p))
		return;
	if (!p->reload_ok) {
		/* The new engine passed: it is now what every scanner
		 * started from here on loads. */
		char *db = strdup(p->reload_db);
		if (db) {
			free(p->db);
			p->db = db;
		}
		p->reload_ok = true;
		MX_COUNT(scan_counters, scan_clam_reloads);
		char t[sizeof(p->reload_status)];
		snprintf(t, sizeof(t), "reload of %s ok: %.*s", p->reload_db,
			 (int)m->text_len, m->text);
		snprintf(p->reload_status, sizeof(p->reload_status), "%s", t);
		mx_log(MX_LOG_INFO, "scan", "event=reload_ok db=\"%s\"",
		       p->reload_db);
		if (p->conf.reload_done)
			p->conf.reload_done(p->conf.arg, true, t);
	}
	reload_step(p);
}

static void sc_read(struct scan_clam_pool *p, int i)
{
	struct scanner *s = &p->sc[i];

	while (s->sock >= 0) {
		uint8_t buf[SCAN_CLAM_MSG_MAX];
		struct scan_clam_msg m;
		ssize_t n = recv(s->sock, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			sc_down(p, i, s->st == SC_BUSY ? "crash" : "exit",
				NULL);
			return;
		}
		if (scan_clam_msg_decode(buf, (size_t)n, &m)) {
			MX_COUNT(scan_counters, scan_clam_proto_errors);
			sc_down(p, i, "bad_message", NULL);
			return;
		}
		if (m.type == SCAN_CLAM_RSP_READY && s->st == SC_LOADING) {
			on_ready(p, i, &m);
		} else if (m.type == SCAN_CLAM_RSP_LOADFAIL &&
			   s->st == SC_LOADING) {
			char why[SCAN_CLAM_TEXT_MAX + 1];
			snprintf(why, sizeof(why), "%.*s", (int)m.text_len,
				 m.text);
			sc_down(p, i, "load_failed", why);
			return;
		} else if (m.type == SCAN_CLAM_RSP_VERDICT &&
			   s->st == SC_BUSY && s->job && m.seq == s->job->seq) {
			char sig[SCAN_CLAM_TEXT_MAX + 1];
			struct job *j = s->job;
			snprintf(sig, sizeof(sig), "%.*s", (int)m.text_len,
				 m.text);
			s->job = NULL;
			s->st = SC_READY;
			complete(p, j, (enum scan_verdict)m.code, sig);
			if (s->draining)
				reload_step(p);
		} else {
			MX_COUNT(scan_counters, scan_clam_proto_errors);
			sc_down(p, i, "unexpected_message", NULL);
			return;
		}
	}
}

static void dispatch(struct scan_clam_pool *p)
{
	for (unsigned i = 0; i < p->procs && p->head; i++) {
		struct scanner *s = &p->sc[i];
		if (s->st != SC_READY || s->draining)
			continue;
		struct job *j = queue_pop(p);
		uint8_t buf[SCAN_CLAM_MSG_MAX];
		struct scan_clam_msg m = {
		    .type = SCAN_CLAM_REQ_SCAN,
		    .seq = j->seq,
		    .msg_id = j->msg_id,
		    .off = j->off,
		    .len = j->len,
		    .text_len = (uint16_t)strlen(j->path),
		    .text = j->path,
		};
		ssize_t n = scan_clam_msg_encode(&m, buf, sizeof(buf));
		if (n < 0 || send(s->sock, buf, (size_t)n,
				  MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
			queue_front(p, j);
			sc_down(p, (int)i, "send_failed", NULL);
			continue;
		}
		s->job = j;
		s->st = SC_BUSY;
		s->deadline_ms = mx_now_ms() + p->conf.scan_timeout_ms;
	}
}

static void timers(struct scan_clam_pool *p)
{
	uint64_t now = mx_now_ms(), next = 0;

	/* A slot being drained for a reload may have died meanwhile: the
	 * ready candidate takes it over now rather than waiting for a
	 * verdict that will not come. */
	if (p->reloading)
		reload_step(p);

	for (int i = 0; i <= cand(p); i++) {
		struct scanner *s = &p->sc[i];
		if (s->st == SC_BUSY && now >= s->deadline_ms) {
			MX_COUNT(scan_counters, scan_clam_timeouts);
			sc_down(p, i, "timeout", NULL);
		} else if (s->st == SC_LOADING && now >= s->deadline_ms) {
			sc_down(p, i, "load_timeout", NULL);
		}
		if (s->st == SC_DOWN && i < cand(p) &&
		    now >= s->restart_at_ms && spawn(p, i, p->db) < 0)
			s->restart_at_ms = now + s->backoff_ms;
	}
	dispatch(p);
	for (int i = 0; i <= cand(p); i++) {
		struct scanner *s = &p->sc[i];
		uint64_t t = 0;
		if (s->st == SC_BUSY || s->st == SC_LOADING)
			t = s->deadline_ms;
		else if (s->st == SC_DOWN && i < cand(p))
			t = s->restart_at_ms;
		if (t && (!next || t < next))
			next = t;
	}
	timer_arm(p, next);
}

int scan_clam_pool_poll(struct scan_clam_pool *p)
{
	struct epoll_event ev[16];
	uint64_t junk;
	int n;

	p->ran = 0;
	while ((n = epoll_wait(p->epfd, ev, 16, 0)) > 0) {
		for (int k = 0; k < n; k++) {
			uint64_t d = ev[k].data.u64;
			if (d == UINT64_MAX) {
				while (read(p->tfd, &junk, 8) == 8)
					;
				continue;
			}
			int i = (int)(d & 0xff), kind = (int)(d >> 8 & 0xff);
			uint32_t gen = (uint32_t)(d >> 16);
			struct scanner *s = &p->sc[i];
			if (i > cand(p) || s->gen != gen || s->st == SC_DOWN)
				continue; /* stale */
			/* On exit, first read what it said before dying
			 * (a LOADFAIL reason, a last verdict). */
			sc_read(p, i);
			if (kind == EV_PID && s->gen == gen && s->st != SC_DOWN)
				sc_down(p, i,
					s->st == SC_BUSY ? "crash" : "exit",
					NULL);
		}
		if (n < 16)
			break;
	}
	timers(p);
	return p->ran;
}

int scan_clam_pool_fd(const struct scan_clam_pool *p)
{
	return p->epfd;
}

bool scan_clam_pool_healthy(const struct scan_clam_pool *p)
{
	for (unsigned i = 0; i < p->procs; i++)
		if (p->sc[i].st == SC_READY || p->sc[i].st == SC_BUSY)
			return true;
	return false;
}

unsigned scan_clam_pool_pending(const struct scan_clam_pool *p)
{
	return p->pending;
}

bool scan_clam_pool_reloading(const struct scan_clam_pool *p)
{
	return p->reloading;
}

const char *scan_clam_pool_reload_status(const struct scan_clam_pool *p)
{
	return p->reload_status;
}

const char *scan_clam_pool_engine(const struct scan_clam_pool *p)
{
	return p->engine;
}

pid_t scan_clam_pool_pid(const struct scan_clam_pool *p, unsigned i)
{
	return i < p->procs ? p->sc[i].pid : 0;
}

static int wait_until(struct scan_clam_pool *p, unsigned timeout_ms,
		      bool (*cond)(const struct scan_clam_pool *))
{
	uint64_t end = mx_now_ms() + timeout_ms;
	struct epoll_event ev;

	for (;;) {
		scan_clam_pool_poll(p);
		if (cond(p))
			return 0;
		uint64_t now = mx_now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		epoll_wait(p->epfd, &ev, 1, (int)(end - now));
	}
}

static bool is_idle(const struct scan_clam_pool *p)
{
	return p->pending == 0 && !p->reloading;
}

int scan_clam_pool_wait_ready(struct scan_clam_pool *p, unsigned timeout_ms)
{
	return wait_until(p, timeout_ms, scan_clam_pool_healthy);
}

int scan_clam_pool_drain(struct scan_clam_pool *p, unsigned timeout_ms)
{
	return wait_until(p, timeout_ms, is_idle);
}

int scan_clam_pool_submit(struct scan_clam_pool *p, uint64_t msg_id,
			  const char *path, uint64_t off, uint64_t len,
			  void *cookie)
{
	if (len == 0)
		return -EINVAL;
	if (strlen(path) > SCAN_CLAM_TEXT_MAX || !path[0])
		return -ENAMETOOLONG;
	if (p->pending >= p->conf.queue_max) {
		MX_COUNT(scan_counters, scan_clam_queue_full);
		return -EAGAIN;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return -ENOMEM;
	}
	j->seq = ++p->seq;
	j->msg_id = msg_id;
	j->off = off;
	j->len = len;
	j->cookie = cookie;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->pending++;
	MX_COUNT(scan_counters, scan_clam_submitted);
	/* Dispatch happens in poll: fire the timer now so it runs soon. */
	timer_arm(p, 1);
	return 0;
}

int scan_clam_pool_reload(struct scan_clam_pool *p, const char *db_dir)
{
	if (p->reloading)
		return -EBUSY;
	if (strlen(db_dir) >= PATH_MAX)
		return -ENAMETOOLONG;
	char *d = strdup(db_dir);
	if (!d)
		return -ENOMEM;
	free(p->reload_db);
	p->reload_db = d;
	p->reload_ok = false;
	p->reload_next = 0;
	int e = spawn(p, cand(p), d);
	if (e < 0)
		return e;
	p->reloading = true;
	snprintf(p->reload_status, sizeof(p->reload_status),
		 "reload of %s in progress", d);
	timer_arm(p, 1);
	return 0;
}

int scan_clam_pool_create(const struct scan_clam_conf *conf,
			  struct scan_clam_pool **out)
{
	struct scan_clam_pool *p;

	if (!conf->done || !conf->scanner_path || !conf->db_dir)
		return -EINVAL;
	if (access(conf->scanner_path, X_OK) < 0)
		return -errno; /* say so now, not as endless restarts */
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->conf = *conf;
	p->procs = conf->procs ? conf->procs : 2;
	if (p->procs > 64)
		p->procs = 64;
#define DEF(f, v)                                                              \
	if (!p->conf.f)                                                        \
		p->conf.f = (v);
	DEF(scan_timeout_ms, 30000)
	DEF(load_timeout_ms, 300000)
	DEF(restart_backoff_min_ms, 100)
	DEF(restart_backoff_max_ms, 30000)
	DEF(queue_max, 4096)
	/* libclamav's own budget ends a slow scan with an answer a little
	 * before the pool would have to kill the process. */
	DEF(limits.max_scantime_ms, p->conf.scan_timeout_ms / 10 * 9)
#undef DEF
	p->scanner_path = strdup(conf->scanner_path);
	p->db = strdup(conf->db_dir);
	p->sc = calloc(p->procs + 1, sizeof(*p->sc));
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!p->scanner_path || !p->db || !p->sc || p->epfd < 0 || p->tfd < 0) {
		int e = (p->epfd < 0 || p->tfd < 0) ? -errno : -ENOMEM;
		if (p->epfd >= 0)
			close(p->epfd);
		if (p->tfd >= 0)
			close(p->tfd);
		free(p->scanner_path);
		free(p->db);
		free(p->sc);
		free(p);
		return e;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->tfd, &ev);
	for (unsigned i = 0; i <= p->procs; i++) {
		p->sc[i].sock = p->sc[i].pidfd = -1;
		p->sc[i].backoff_ms = p->conf.restart_backoff_min_ms;
	}
	for (unsigned i = 0; i < p->procs; i++)
		if (spawn(p, (int)i, p->db) < 0)
			p->sc[i].restart_at_ms =
			    mx_now_ms() + p->sc[i].backoff_ms;
	timers(p);
	*out = p;
	return 0;
}

void scan_clam_pool_destroy(struct scan_clam_pool *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i <= p->procs; i++) {
		if (p->sc[i].job) {
			free(p->sc[i].job->path);
			free(p->sc[i].job);
		}
		reap(p, &p->sc[i]);
	}
	struct job *j;
	while ((j = queue_pop(p))) {
		free(j->path);
		free(j);
	}
	close(p->epfd);
	close(p->tfd);
	free(p->scanner_path);
	free(p->db);
	free(p->reload_db);
	free(p->sc);
	free(p);
}
