/*
 * mgmt_http.c — the optional HTTP listener for Prometheus
 * (metrics.http_listen, off by default), on libmicrohttpd with its own
 * polling thread.  It serves GET /metrics only, rendering exactly what
 * `mxgatectl metrics` prints; everything else is 404 or 405.  It reads
 * counters and the published gauges, never the queue, so it needs no lock
 * with the management thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt_daemon.h"
#include "mgmt_gauges.h"
#include "mgmt_metrics.h"
#include "mx_build_config.h"
#include "mx_log.h"

#if MX_HAVE_MHD
#include <microhttpd.h>

static struct MHD_Daemon *mgmt_mhd;

static enum MHD_Result mgmt_http_reply(struct MHD_Connection *c,
				       unsigned code, const char *type,
				       char *body, size_t len, bool owned)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result mgmt_http_handler(void *cls, struct MHD_Connection *c,
					 const char *url, const char *method,
					 const char *version,
					 const char *upload_data,
					 size_t *upload_size, void **state)
{
	static char not_found[] = "not found\n";
	static char not_allowed[] = "method not allowed\n";
	json_t *snap;
	char *text;
	size_t len;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)state;
	if (strcmp(url, "/metrics") != 0)
		return mgmt_http_reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
				       not_found, sizeof(not_found) - 1, false);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return mgmt_http_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				       "text/plain", not_allowed,
				       sizeof(not_allowed) - 1, false);
	snap = mgmt_gauges_snapshot();
	text = snap ? mgmt_metrics_prometheus(snap, &len) : NULL;
	json_decref(snap);
	if (!text)
		return MHD_NO;
	return mgmt_http_reply(c, MHD_HTTP_OK,
			       "text/plain; version=0.0.4; charset=utf-8", text,
			       len, true);
}

int mgmt_http_start(struct mgmt_daemon *d, char *err, size_t errlen)
{
	const struct mgmt_conf_addr *a = &d->conf.metrics.http;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;

	if (!d->conf.metrics.http_enabled)
		return 0;
	if (a->sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	mgmt_mhd = MHD_start_daemon(flags, 0, NULL, NULL, mgmt_http_handler,
				    NULL, MHD_OPTION_SOCK_ADDR, &a->sa,
				    MHD_OPTION_CONNECTION_LIMIT, 64u,
				    MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				    MHD_OPTION_END);
	if (!mgmt_mhd) {
		snprintf(err, errlen,
			 "metrics.http_listen %s: cannot listen (in use?)",
			 a->text);
		return -1;
	}
	mx_log(MX_LOG_INFO, "main", "event=metrics_http listen=%s", a->text);
	return 0;
}

void mgmt_http_stop(struct mgmt_daemon *d)
{
	(void)d;
	if (mgmt_mhd)
		MHD_stop_daemon(mgmt_mhd);
	mgmt_mhd = NULL;
}

#else

int mgmt_http_start(struct mgmt_daemon *d, char *err, size_t errlen)
{
	if (!d->conf.metrics.http_enabled)
		return 0;
	snprintf(err, errlen,
		 "metrics.http_listen: built without libmicrohttpd");
	return -1;
}

void mgmt_http_stop(struct mgmt_daemon *d)
{
	(void)d;
}

#endif
