/*
 * mgmt_scan.c — see mgmt_scan.h.
 *
 * Flow of one message: the management thread finds it NEW in the queue
 * and, if it is not already in the stage, pushes a job to a pre-filter
 * worker.  The worker maps the message's byte range from its segment file
 * (read-only, its own mapping, so queue housekeeping on the management
 * thread cannot pull bytes from under it), runs the pre-filter, and pushes
 * the result back.  The management thread then records a verdict, or
 * submits the message to the ClamAV pool and records that verdict when it
 * comes.  Jobs are fixed-size slots from a pool allocated at start; a full
 * pool just leaves messages NEW until the next round.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mgmt_daemon.h"
#include "mgmt_scan.h"
#include "mgmt_sink.h"
#include "mx_build_config.h"
#include "mx_log.h"
#include "mx_ring.h"
#include "mx_time.h"
#include "q_store.h"

#if MX_HAVE_HYPERSCAN && MX_HAVE_CLAMAV
#define MGMT_SCAN_BUILT 1
#include "scan_clam_pool.h"
#include "scan_pf.h"
#else
#define MGMT_SCAN_BUILT 0
#endif

#define MGMT_SCAN_JOBS 1024
#define MGMT_SCAN_WORKERS_MAX 16

struct mgmt_scan_job {
	uint64_t id;
	char path[4096];
	uint64_t off, len;
	int pf_status;		/* 0 or -errno from the worker */
#if MGMT_SCAN_BUILT
	struct scan_pf_result res;
#endif
	struct mgmt_scan_job *next_free;
};

struct mgmt_scan_worker {
	struct mgmt_scan *sc;
	pthread_t thread;
	struct mx_ring *in, *out;
	int wake_fd;		/* eventfd: jobs waiting, or stop */
#if MGMT_SCAN_BUILT
	struct scan_pf_worker *pfw;
#endif
};

struct mgmt_scan {
	bool enabled;
	int on_no_scanner;
	struct mgmt_scan_job *jobs;
	struct mgmt_scan_job *free_jobs;
	uint64_t *inflight_ids;	/* ids in the stage, sorted insert-free:
				 * a small open-addressed set */
	unsigned inflight_size;
	unsigned inflight_count;
	struct mgmt_scan_worker worker[MGMT_SCAN_WORKERS_MAX];
	unsigned workers;
	unsigned next_worker;
	int done_fd;		/* eventfd: workers finished jobs */
	_Atomic bool stop;
	bool tempfail_on;	/* the backend refuses new mail (451) */
	int watch_fd;		/* inotify on the signature directory */
	uint64_t reload_at_ms;	/* debounced reload after a change, or 0 */
	char status[512];
#if MGMT_SCAN_BUILT
	struct scan_pf *pf;
	struct scan_clam_pool *clam;
#endif
	struct mgmt_daemon *d;
};

#if MGMT_SCAN_BUILT
/* ---- the set of ids in the stage (open addressing, ids are never 0) */

static unsigned mgmt_scan_slot(const struct mgmt_scan *sc, uint64_t id)
{
	return (unsigned)((id * 0x9e3779b97f4a7c15ull) >> 40) &
	       (sc->inflight_size - 1);
}

static bool mgmt_scan_has(const struct mgmt_scan *sc, uint64_t id)
{
	for (unsigned i = mgmt_scan_slot(sc, id);;
	     i = (i + 1) & (sc->inflight_size - 1)) {
		if (sc->inflight_ids[i] == id)
			return true;
		if (sc->inflight_ids[i] == 0)
			return false;
	}
}

static void mgmt_scan_add(struct mgmt_scan *sc, uint64_t id)
{
	unsigned i = mgmt_scan_slot(sc, id);

	while (sc->inflight_ids[i] != 0)
		i = (i + 1) & (sc->inflight_size - 1);
	sc->inflight_ids[i] = id;
	sc->inflight_count++;
}

static void mgmt_scan_del(struct mgmt_scan *sc, uint64_t id)
{
	unsigned mask = sc->inflight_size - 1, i = mgmt_scan_slot(sc, id), j;

	while (sc->inflight_ids[i] != id) {
		if (sc->inflight_ids[i] == 0)
			return;
		i = (i + 1) & mask;
	}
	sc->inflight_ids[i] = 0;
	sc->inflight_count--;
	/* Re-insert the rest of the run so lookups never stop early. */
	for (j = (i + 1) & mask; sc->inflight_ids[j]; j = (j + 1) & mask) {
		uint64_t v = sc->inflight_ids[j];

		sc->inflight_ids[j] = 0;
		sc->inflight_count--;
		mgmt_scan_add(sc, v);
	}
}

static void mgmt_scan_job_free(struct mgmt_scan *sc, struct mgmt_scan_job *j)
{
	mgmt_scan_del(sc, j->id);
	j->next_free = sc->free_jobs;
	sc->free_jobs = j;
}

#endif

static void mgmt_scan_record(struct mgmt_scan *sc, uint64_t id,
			     enum q_verdict v, const char *detail)
{
	char ids[17];
	int r = q_store_set_verdict(sc->d->store, id, v, detail);

	q_id_fmt(id, ids);
	if (r < 0 && r != -ENOENT)
		mx_log(MX_LOG_ERR, "scan", "id=%s event=verdict_error error=%s",
		       ids, strerror(-r));
	else if (v != Q_VERDICT_CLEAN)
		mx_log(MX_LOG_INFO, "scan", "id=%s verdict=%s detail=\"%s\"",
		       ids,
		       v == Q_VERDICT_INFECTED	 ? "infected"
		       : v == Q_VERDICT_REJECTED ? "rejected"
						 : "scan-failed",
		       detail ? detail : "");
}

#if MGMT_SCAN_BUILT

static void *mgmt_scan_worker_main(void *arg)
{
	struct mgmt_scan_worker *w = arg;
	struct mgmt_scan *sc = w->sc;
	uint64_t v;

	pthread_setname_np(pthread_self(), "mx-prefilter");
	mx_counter_thread_attach();
	while (!atomic_load(&sc->stop)) {
		struct mgmt_scan_job *j = mx_ring_pop(w->in);

		if (!j) {
			if (read(w->wake_fd, &v, sizeof(v)) < 0 &&
			    errno != EINTR && errno != EAGAIN)
				break;
			continue;
		}
		j->pf_status = 0;
		long pg = sysconf(_SC_PAGESIZE);
		uint64_t base = j->off & ~(uint64_t)(pg - 1);
		size_t maplen = (size_t)(j->off - base + j->len);
		int fd = open(j->path, O_RDONLY | O_CLOEXEC);
		void *map = MAP_FAILED;

		if (fd >= 0 && j->len > 0) {
			map = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd,
				   (off_t)base);
		}
		if (fd >= 0)
			close(fd);
		if (j->len > 0 && map == MAP_FAILED) {
			j->pf_status = -errno;
		} else {
			const uint8_t *p =
				j->len ? (const uint8_t *)map + (j->off - base)
				       : (const uint8_t *)"";

			j->pf_status = scan_pf_scan(w->pfw, p, j->len,
						    &j->res);
			if (map != MAP_FAILED)
				munmap(map, maplen);
		}
		while (!mx_ring_push(w->out, j))
			usleep(100);
		v = 1;
		if (write(sc->done_fd, &v, sizeof(v)) < 0) {
			/* counter saturated: the loop is awake anyway */
		}
	}
	mx_counter_thread_detach();
	return NULL;
}

static void mgmt_scan_clam_done(void *arg, void *cookie, enum scan_verdict v,
				const char *sig)
{
	struct mgmt_scan *sc = arg;
	struct mgmt_scan_job *j = cookie;

	switch (v) {
	case SCAN_V_CLEAN: {
		/* Keep the ids of rules that matched (a `tag`), so the
		 * delivered trace header still names them. */
		char detail[256];
		size_t n = (size_t)snprintf(detail, sizeof(detail),
					    "clamav: clean");

		for (unsigned i = 0; i < j->res.match_count &&
				     n < sizeof(detail);
		     i++) {
			int w = snprintf(detail + n, sizeof(detail) - n,
					 "%s%u", i ? "," : "; rules ",
					 j->res.match[i]);
			if (w > 0)
				n += (size_t)w;
		}
		mgmt_scan_record(sc, j->id, Q_VERDICT_CLEAN, detail);
		break;
	}
	case SCAN_V_INFECTED:
		mgmt_scan_record(sc, j->id, Q_VERDICT_INFECTED, sig);
		break;
	case SCAN_V_ERROR:
	case SCAN_V_FAILED:
	default:
		mgmt_scan_record(sc, j->id, Q_VERDICT_SCAN_FAILED,
				 sig && *sig ? sig : "scanner failure");
		break;
	}
	mgmt_scan_job_free(sc, j);
}

static void mgmt_scan_reload_done(void *arg, bool ok, const char *text)
{
	struct mgmt_scan *sc = arg;

	snprintf(sc->status, sizeof(sc->status), "signatures %s: %s",
		 ok ? "reloaded" : "reload failed, old engine kept", text);
	mx_log(ok ? MX_LOG_INFO : MX_LOG_ERR, "scan",
	       "event=signature_reload ok=%d detail=\"%s\"", ok, text);
}

static void mgmt_scan_pf_result(struct mgmt_scan *sc, struct mgmt_scan_job *j)
{
	char detail[256];
	size_t n = 0;

	if (j->pf_status < 0) {
		/* The bytes could not be read: try again next round. */
		mgmt_scan_job_free(sc, j);
		return;
	}
	detail[0] = '\0';
	for (unsigned i = 0; i < j->res.match_count && n < sizeof(detail);
	     i++) {
		int w = snprintf(detail + n, sizeof(detail) - n, "%s%u",
				 i ? "," : "rules ", j->res.match[i]);
		if (w > 0)
			n += (size_t)w;
	}
	if (j->res.action == SCAN_ACT_REJECT) {
		mgmt_scan_record(sc, j->id, Q_VERDICT_REJECTED, detail);
		mgmt_scan_job_free(sc, j);
		return;
	}
	if (j->res.clam && sc->clam) {
		if (!scan_clam_pool_healthy(sc->clam) &&
		    sc->on_no_scanner == MGMT_CONF_NO_SCANNER_PASS) {
			mgmt_scan_record(sc, j->id, Q_VERDICT_CLEAN,
					 "unscanned: no healthy scanner");
			mgmt_scan_job_free(sc, j);
			return;
		}
		if (scan_clam_pool_submit(sc->clam, j->id, j->path, j->off,
					  j->len, j) == 0)
			return;
		/* Pool queue full or no scanner: stays NEW, retried. */
		mgmt_scan_job_free(sc, j);
		return;
	}
	mgmt_scan_record(sc, j->id, Q_VERDICT_CLEAN,
			 j->res.matched ? detail : "prefilter: pass");
	mgmt_scan_job_free(sc, j);
}

static const char *mgmt_scan_scanner_path(void)
{
	const char *env = getenv("MXGATE_SCANNER");
	static char path[4096];
	ssize_t n;

	if (env && *env)
		return env;
	/* Installed: beside mxgate.  Build tree: the scan/ directory. */
	n = readlink("/proc/self/exe", path, sizeof(path) - 64);
	if (n > 0) {
		path[n] = '\0';
		char *slash = strrchr(path, '/');

		if (slash) {
			strcpy(slash + 1, "mxgate-scanner");
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return MX_SCANNER_BUILD_PATH;
}

static int mgmt_scan_build(struct mgmt_scan *sc, const struct mgmt_conf *c,
			   char *err, size_t errlen)
{
	struct scan_pf_conf pfc = {
		.default_action = c->scan.default_action ==
						  MGMT_CONF_SCAN_ACTION_PASS
					  ? SCAN_ACT_PASS
					  : SCAN_ACT_SCAN,
	};
	int r;

	r = scan_pf_create(&pfc, &sc->pf);
	if (r < 0) {
		snprintf(err, errlen, "prefilter: %s", strerror(-r));
		return -1;
	}
	if (scan_pf_load(sc->pf, c->scan.prefilter_rules, err, errlen) < 0)
		return -1;
	if (c->scan.inline_prefilter)
		for (unsigned i = 0; i < sc->d->cores; i++)
			mgmt_sink_set_inline(sc->d->sinks[i], sc->pf);
	sc->workers = c->scan.workers ? c->scan.workers : 1;
	if (sc->workers > MGMT_SCAN_WORKERS_MAX)
		sc->workers = MGMT_SCAN_WORKERS_MAX;
	for (unsigned i = 0; i < sc->workers; i++) {
		struct mgmt_scan_worker *w = &sc->worker[i];

		w->sc = sc;
		w->in = mx_ring_create(MGMT_SCAN_JOBS);
		w->out = mx_ring_create(MGMT_SCAN_JOBS);
		w->wake_fd = eventfd(0, EFD_CLOEXEC);
		w->pfw = scan_pf_worker_create(sc->pf);
		if (!w->in || !w->out || w->wake_fd < 0 || !w->pfw) {
			snprintf(err, errlen, "prefilter worker: out of memory");
			return -1;
		}
		if (pthread_create(&w->thread, NULL, mgmt_scan_worker_main,
				   w) != 0) {
			snprintf(err, errlen, "prefilter worker: no thread");
			return -1;
		}
	}
	if (c->scan.clamav.enabled) {
		struct scan_clam_conf cc = {
			.scanner_path = mgmt_scan_scanner_path(),
			.db_dir = c->scan.clamav.database,
			.procs = c->scan.clamav.processes,
			.scan_timeout_ms =
				(unsigned)c->scan.clamav.max_scan_time_ms,
			.limits = {
				.max_scansize = c->scan.clamav.max_scan_size,
				.max_recursion = c->scan.clamav.max_recursion,
				.max_files = c->scan.clamav.max_files,
			},
			.done = mgmt_scan_clam_done,
			.reload_done = mgmt_scan_reload_done,
			.arg = sc,
		};

		r = scan_clam_pool_create(&cc, &sc->clam);
		if (r < 0) {
			snprintf(err, errlen, "clamav pool (%s): %s",
				 cc.scanner_path, strerror(-r));
			return -1;
		}
	}
	return 0;
}
#endif

#if MGMT_SCAN_BUILT
/*
 * The signature directory is watched: a signature update dropped into it
 * (files written, renamed in, or removed) triggers the same safe reload
 * as `mxgatectl reload signatures`, once the directory has been quiet for
 * MGMT_SCAN_SETTLE_MS so that a multi-file update is taken whole.
 */
#define MGMT_SCAN_SETTLE_MS 2000

static void mgmt_scan_watch(struct mgmt_scan *sc, const char *dir)
{
	if (!sc->clam)
		return;
	sc->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sc->watch_fd < 0)
		return;
	if (inotify_add_watch(sc->watch_fd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE |
				      IN_CREATE) < 0) {
		mx_log(MX_LOG_WARN, "scan",
		       "event=watch_failed dir=\"%s\" error=%s", dir,
		       strerror(errno));
		close(sc->watch_fd);
		sc->watch_fd = -1;
	}
}

static void mgmt_scan_watch_step(struct mgmt_daemon *d, struct mgmt_scan *sc)
{
	char buf[4096] __attribute__((aligned(8)));
	uint64_t now = mx_now_ms();
	int r;

	if (sc->watch_fd < 0)
		return;
	while (read(sc->watch_fd, buf, sizeof(buf)) > 0)
		sc->reload_at_ms = now + MGMT_SCAN_SETTLE_MS;
	if (!sc->reload_at_ms || now < sc->reload_at_ms ||
	    scan_clam_pool_reloading(sc->clam))
		return;
	sc->reload_at_ms = 0;
	mx_log(MX_LOG_INFO, "scan",
	       "event=signature_dir_changed action=reload dir=\"%s\"",
	       d->conf.scan.clamav.database);
	r = scan_clam_pool_reload(sc->clam, d->conf.scan.clamav.database);
	if (r < 0)
		snprintf(sc->status, sizeof(sc->status),
			 "signature reload could not start: %s",
			 strerror(-r));
}
#endif

int mgmt_scan_start(struct mgmt_daemon *d, char *err, size_t errlen)
{
	struct mgmt_scan *sc = calloc(1, sizeof(*sc));

	if (!sc) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->scan = sc;
	sc->d = d;
	sc->enabled = d->conf.scan.enabled;
	sc->on_no_scanner = d->conf.scan.on_no_scanner;
	sc->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sc->watch_fd = -1;
	snprintf(sc->status, sizeof(sc->status), "%s",
		 sc->enabled ? "running" : "disabled");
	if (!sc->enabled)
		return 0;
#if MGMT_SCAN_BUILT
	sc->jobs = calloc(MGMT_SCAN_JOBS, sizeof(*sc->jobs));
	sc->inflight_size = MGMT_SCAN_JOBS * 4;
	sc->inflight_ids = calloc(sc->inflight_size, sizeof(uint64_t));
	if (!sc->jobs || !sc->inflight_ids || sc->done_fd < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < MGMT_SCAN_JOBS; i++) {
		sc->jobs[i].next_free = sc->free_jobs;
		sc->free_jobs = &sc->jobs[i];
	}
	if (mgmt_scan_build(sc, &d->conf, err, errlen) < 0)
		return -1;
	mgmt_scan_watch(sc, d->conf.scan.clamav.database);
	return 0;
#else
	snprintf(err, errlen,
		 "scan.enabled = true but mxgate was built without Hyperscan "
		 "and libclamav");
	return -1;
#endif
}

void mgmt_scan_epoll_add(struct mgmt_daemon *d, int epoll_fd)
{
	struct mgmt_scan *sc = d->scan;
	struct epoll_event ev = {.events = EPOLLIN};

	if (!sc->enabled)
		return;
	ev.data.fd = sc->done_fd;
	epoll_ctl(epoll_fd, EPOLL_CTL_ADD, sc->done_fd, &ev);
#if MGMT_SCAN_BUILT
	if (sc->clam) {
		ev.data.fd = scan_clam_pool_fd(sc->clam);
		epoll_ctl(epoll_fd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	if (sc->watch_fd >= 0) {
		ev.data.fd = sc->watch_fd;
		epoll_ctl(epoll_fd, EPOLL_CTL_ADD, sc->watch_fd, &ev);
	}
#endif
}

void mgmt_scan_step(struct mgmt_daemon *d)
{
	struct mgmt_scan *sc = d->scan;
	struct q_msg_view v;
	uint64_t after = 0;

	if (!sc->enabled) {
		while (q_store_next(d->store, Q_ST_NEW, after, &v) == 0) {
			after = v.id;
			mgmt_scan_record(sc, v.id, Q_VERDICT_CLEAN,
					 "not scanned");
		}
		return;
	}
#if MGMT_SCAN_BUILT
	uint64_t val;

	if (read(sc->done_fd, &val, sizeof(val)) < 0) {
		/* EAGAIN: nothing finished since last round */
	}
	if (sc->clam)
		scan_clam_pool_poll(sc->clam);
	mgmt_scan_watch_step(d, sc);
	/* on_no_scanner = tempfail: while no scanner is healthy, new mail
	 * is refused with 451 at DATA/BDAT rather than queued unscanned. */
	if (sc->clam && sc->on_no_scanner == MGMT_CONF_NO_SCANNER_TEMPFAIL &&
	    d->backend->tempfail) {
		bool want = !scan_clam_pool_healthy(sc->clam);

		if (want != sc->tempfail_on) {
			sc->tempfail_on = want;
			d->backend->tempfail(d->backend_arg, want);
			mx_log(MX_LOG_WARN, "scan", "event=tempfail state=%s",
			       want ? "on" : "off");
		}
	}
	for (unsigned i = 0; i < sc->workers; i++) {
		struct mgmt_scan_job *j;

		while ((j = mx_ring_pop(sc->worker[i].out)))
			mgmt_scan_pf_result(sc, j);
	}
	/* Hold: with no healthy scanner nothing new enters the stage. */
	if (sc->clam && !scan_clam_pool_healthy(sc->clam) &&
	    sc->on_no_scanner == MGMT_CONF_NO_SCANNER_HOLD)
		return;
	while (sc->free_jobs &&
	       q_store_next(d->store, Q_ST_NEW, after, &v) == 0) {
		struct mgmt_scan_job *j;
		struct mgmt_scan_worker *w;

		after = v.id;
		if (mgmt_scan_has(sc, v.id))
			continue;
		j = sc->free_jobs;
		sc->free_jobs = j->next_free;
		j->id = v.id;
		snprintf(j->path, sizeof(j->path), "%s", v.seg_path);
		j->off = v.offset;
		j->len = v.length;
		mgmt_scan_add(sc, v.id);
		w = &sc->worker[sc->next_worker++ % sc->workers];
		if (!mx_ring_push(w->in, j)) {
			mgmt_scan_job_free(sc, j);
			break;
		}
		val = 1;
		if (write(w->wake_fd, &val, sizeof(val)) < 0) {
			/* saturated: the worker is awake */
		}
	}
#endif
}

void mgmt_scan_child(struct mgmt_daemon *d)
{
#if MGMT_SCAN_BUILT
	if (d->scan && d->scan->clam)
		scan_clam_pool_poll(d->scan->clam);
#else
	(void)d;
#endif
}

int mgmt_scan_reload(struct mgmt_daemon *d, char *err, size_t errlen)
{
	struct mgmt_scan *sc = d->scan;

	if (!sc || !sc->enabled) {
		snprintf(err, errlen, "scanning is disabled");
		return -1;
	}
#if MGMT_SCAN_BUILT
	if (scan_pf_load(sc->pf, d->conf.scan.prefilter_rules, err, errlen) <
	    0) {
		snprintf(sc->status, sizeof(sc->status),
			 "prefilter reload failed, old rules kept: %s", err);
		return -1;
	}
	if (sc->clam) {
		int r = scan_clam_pool_reload(sc->clam,
					      d->conf.scan.clamav.database);

		if (r < 0) {
			snprintf(err, errlen, "clamav reload: %s",
				 strerror(-r));
			return -1;
		}
		snprintf(sc->status, sizeof(sc->status),
			 "prefilter rules reloaded; signature reload started");
	}
	return 0;
#else
	snprintf(err, errlen, "built without scanning");
	return -1;
#endif
}

bool mgmt_scan_healthy(const struct mgmt_daemon *d)
{
#if MGMT_SCAN_BUILT
	if (d->scan && d->scan->clam)
		return scan_clam_pool_healthy(d->scan->clam);
#endif
	(void)d;
	return true;
}

const char *mgmt_scan_status(const struct mgmt_daemon *d)
{
	return d->scan ? d->scan->status : "not started";
}

void mgmt_scan_stop(struct mgmt_daemon *d)
{
	struct mgmt_scan *sc = d->scan;

	if (!sc)
		return;
	atomic_store(&sc->stop, true);
	/* The cores have stopped: their inline pre-filter scratch goes
	 * before the rule set it was cloned from. */
	for (unsigned i = 0; i < d->cores; i++)
		if (d->sinks[i])
			mgmt_sink_set_inline(d->sinks[i], NULL);
#if MGMT_SCAN_BUILT
	for (unsigned i = 0; i < sc->workers; i++) {
		struct mgmt_scan_worker *w = &sc->worker[i];
		uint64_t one = 1;

		if (write(w->wake_fd, &one, sizeof(one)) < 0) {
			/* the worker is awake */
		}
		pthread_join(w->thread, NULL);
		scan_pf_worker_destroy(w->pfw);
		mx_ring_destroy(w->in);
		mx_ring_destroy(w->out);
		close(w->wake_fd);
	}
	if (sc->clam)
		scan_clam_pool_destroy(sc->clam);
	if (sc->pf)
		scan_pf_destroy(sc->pf);
#endif
	if (sc->done_fd >= 0)
		close(sc->done_fd);
	if (sc->watch_fd >= 0)
		close(sc->watch_fd);
	free(sc->jobs);
	free(sc->inflight_ids);
	free(sc);
	d->scan = NULL;
}
