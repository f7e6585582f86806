/*
 * mgmt_loop.c — the management thread's event loop.  One epoll set holds
 * everything the management plane waits on: signals (signalfd), the
 * queue's hand-over eventfd, the bounce shard's ring, the control socket,
 * the delivery engine and the scan stage.  Each round does the same work
 * in the same order — take the shards' commits into the index, move new
 * messages through scanning, deliver, queue bounces, answer the control
 * socket — so that nothing depends on which fd woke us.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mgmt_ctl.h"
#include "mgmt_daemon.h"
#include "mgmt_dlv.h"
#include "mgmt_gauges.h"
#include "mgmt_scan.h"
#include "mx_build_config.h"
#include "mx_log.h"
#include "mx_time.h"
#include "q_store.h"

#if MX_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define MGMT_TICK_MS 100

static void mgmt_epoll_add(struct mgmt_daemon *d, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	if (fd >= 0 && epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		mx_fatal("epoll_ctl: %s", strerror(errno));
}

static void mgmt_signals(struct mgmt_daemon *d)
{
	struct signalfd_siginfo si;
	char err[1024];

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			mx_log(MX_LOG_INFO, "main", "event=signal signal=%s",
			       si.ssi_signo == SIGTERM ? "TERM" : "INT");
			d->stop = true;
			break;
		case SIGHUP:
			if (mgmt_reload(d, err, sizeof(err)) < 0)
				mx_log(MX_LOG_ERR, "main",
				       "event=reload_failed reason=\"%s\"",
				       err);
			break;
		case SIGCHLD:
			mgmt_scan_child(d);
			break;
		default:
			break;
		}
	}
}

static void mgmt_start_services(struct mgmt_daemon *d)
{
	struct mgmt_dlv_source src;
	char err[1024];
	int r;

	if (mgmt_mkparent(d->conf.control.socket) < 0)
		mx_fatal("control.socket %s: cannot create its directory",
			 d->conf.control.socket);
	d->ctl = mgmt_ctl_create(d->conf.control.socket, d->conf.control.group,
				 err, sizeof(err));
	if (!d->ctl)
		mx_fatal("control.socket %s: %s", d->conf.control.socket, err);
	if (mgmt_cmds_register(d) < 0)
		mx_fatal("cannot register control commands");

	mgmt_dlv_source_qstore_async(&src, d->store, mgmt_inject, d);
	d->dlv = mgmt_dlv_create_from_conf(d, &src, err, sizeof(err));
	if (!d->dlv)
		mx_fatal("delivery: %s", err);
	if (mgmt_scan_start(d, err, sizeof(err)) < 0)
		mx_fatal("scan: %s", err);

	if (mgmt_http_start(d, err, sizeof(err)) < 0)
		mx_fatal("%s", err);

	r = d->backend->start(d->backend_arg);
	if (r < 0)
		mx_fatal("%s backend: cannot start: %s", d->backend->name,
			 strerror(-r));
}

int mgmt_loop_run(struct mgmt_daemon *d)
{
	struct epoll_event evs[16];
	sigset_t set;
	uint64_t watchdog_us = 0, next_ping_ms = 0, next_gauge_ms = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	d->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sig_fd < 0 || d->epoll_fd < 0)
		mx_fatal("signalfd/epoll: %s", strerror(errno));

	mgmt_start_services(d);
	mgmt_epoll_add(d, d->sig_fd);
	mgmt_epoll_add(d, q_store_fd(d->store));
	mgmt_epoll_add(d, d->ring_efd);
	mgmt_epoll_add(d, mgmt_ctl_fd(d->ctl));
	mgmt_epoll_add(d, mgmt_dlv_fd(d->dlv));
	mgmt_scan_epoll_add(d, d->epoll_fd);

	mx_log(MX_LOG_INFO, "main", "event=ready backend=%s control=%s",
	       d->backend->name, d->conf.control.socket);
#if MX_HAVE_SYSTEMD
	sd_notify(0, "READY=1");
	if (sd_watchdog_enabled(0, &watchdog_us) <= 0)
		watchdog_us = 0;
#endif

	while (!d->stop) {
		int timeout = mgmt_dlv_timeout_ms(d->dlv);
		uint64_t now;
		int n;

		if (timeout < 0 || timeout > MGMT_TICK_MS)
			timeout = MGMT_TICK_MS;
		n = epoll_wait(d->epoll_fd, evs, 16, timeout);
		if (n < 0 && errno != EINTR)
			mx_fatal("epoll_wait: %s", strerror(errno));
		mgmt_signals(d);
		if (q_store_poll(d->store) < 0)
			MX_LOG_RL(MX_LOG_ERR, "queue",
				  "event=state_log_error");
		mgmt_scan_step(d);
		if (!d->delivery_paused)
			mgmt_dlv_run(d->dlv);
		mgmt_inject_poll(d);
		mgmt_ctl_process(d->ctl);
		now = mx_now_ms();
		if (now >= next_gauge_ms) {
			mgmt_gauges_update(d);
			next_gauge_ms = now + 1000;
		}
		if (watchdog_us && now >= next_ping_ms) {
#if MX_HAVE_SYSTEMD
			sd_notify(0, "WATCHDOG=1");
#endif
			next_ping_ms = now + watchdog_us / 2000;
		}
	}

#if MX_HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	mx_log(MX_LOG_INFO, "main", "event=stopping sessions=%lu",
	       d->backend->sessions(d->backend_arg));
	/* Stop accepting and let the sessions finish: their commits complete
	 * on the cores, and the cores' last flush makes them durable. */
	d->backend->stop(d->backend_arg);
	q_store_poll(d->store);
	mgmt_scan_stop(d);
	mgmt_inject_poll(d);
	q_store_poll(d->store);
	mgmt_http_stop(d);
	mgmt_dlv_destroy(d->dlv);
	d->dlv = NULL;
	mgmt_ctl_destroy(d->ctl);
	d->ctl = NULL;
	d->backend->destroy(d->backend_arg);
	close(d->epoll_fd);
	close(d->sig_fd);
	return 0;
}
