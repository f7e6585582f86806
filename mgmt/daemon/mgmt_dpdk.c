/*
 * mgmt_dpdk.c — the DPDK backend behind the daemon's backend table.  In a
 * build without DPDK (meson -Ddpdk=disabled) choosing it is a start-up
 * error that says so.
 */
#include <stdio.h>

#include "mgmt_daemon.h"

#if MX_WITH_DPDK_BACKEND
#error "wire dp_dpdk here"
#endif

int mgmt_backend_dpdk_create(struct mgmt_daemon *d, const struct dp_sink *sinks,
			     char *err, size_t errlen)
{
	(void)d;
	(void)sinks;
	snprintf(err, errlen,
		 "dataplane.backend = dpdk: this mxgate was built without the "
		 "DPDK backend (meson -Ddpdk=enabled)");
	return -1;
}
