/*
 * mgmt_dlvconf.c — the delivery engine's settings, taken from the loaded
 * configuration (the config keeps its own types; the engine keeps its).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgmt_daemon.h"
#include "mgmt_dlv.h"

/*
 * Routes may name paths relative to the daemon's working directory
 * (maildir:./var/mail in the default config); the delivery engine wants
 * them absolute, so they are resolved here, once.
 */
static const char *mgmt_route_abs(const char *text, char *buf, size_t size)
{
	static const char *const kinds[] = {"maildir:", "lmtp:unix:"};
	char cwd[4096];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t kl = strlen(kinds[i]);
		const char *path = text + kl;

		if (strncmp(text, kinds[i], kl) != 0 || path[0] == '/')
			continue;
		if (!getcwd(cwd, sizeof(cwd)))
			return text;
		if (path[0] == '.' && path[1] == '/')
			path += 2;
		snprintf(buf, size, "%s%s/%s", kinds[i], cwd, path);
		return buf;
	}
	return text;
}

struct mgmt_dlv *mgmt_dlv_create_from_conf(struct mgmt_daemon *d,
					   const struct mgmt_dlv_source *src,
					   char *err, size_t errlen)
{
	const struct mgmt_conf *c = &d->conf;
	struct mgmt_dlv_route_entry *routes;
	struct mgmt_dlv_conf dc;
	struct mgmt_dlv *dlv;
	char sched[1024], def_buf[4200];
	char *bufs;
	size_t n = 0;

	mgmt_dlv_conf_defaults(&dc);
	dc.hostname = c->smtp.hostname;
	dc.default_route = mgmt_route_abs(c->delivery.default_route.text,
					  def_buf, sizeof(def_buf));
	routes = calloc(c->delivery.route_count + 1, sizeof(*routes));
	bufs = calloc(c->delivery.route_count + 1, 4200);
	if (!routes || !bufs) {
		free(routes);
		free(bufs);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (unsigned i = 0; i < c->delivery.route_count; i++) {
		routes[i].domain = c->delivery.routes[i].domain;
		routes[i].route = mgmt_route_abs(c->delivery.routes[i].text,
						 bufs + (size_t)i * 4200, 4200);
	}
	dc.routes = routes;
	dc.route_count = c->delivery.route_count;
	dc.dest_conn_max = c->delivery.concurrency_per_destination;
	dc.max_lifetime_ns = c->queue.max_lifetime_ms * 1000000ull;
	dc.timeouts.connect_ns = c->delivery.connect_timeout_ms * 1000000ull;
	sched[0] = '\0';
	for (unsigned i = 0; i < c->delivery.retry_count && n < sizeof(sched);
	     i++) {
		int w = snprintf(sched + n, sizeof(sched) - n, "%s%llus",
				 i ? "," : "",
				 (unsigned long long)(c->delivery
							      .retry_schedule_ms[i] /
						      1000));
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (sched[0])
		dc.retry_schedule = sched;
	dlv = mgmt_dlv_create(&dc, src, err, errlen);
	free(routes);
	free(bufs);
	return dlv;
}
