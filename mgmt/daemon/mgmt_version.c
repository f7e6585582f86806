/*
 * mgmt_version.c — `mxgate --version`: our version and the versions of the
 * libraries we were built with (and, where they tell, run with).
 */
#include <stdio.h>

#include <jemalloc/jemalloc.h>

#include "mgmt_daemon.h"
#include "mx_build_config.h"

#if MX_HAVE_DPDK
#include <rte_version.h>
#endif
#if MX_HAVE_HYPERSCAN
#include <hs/hs.h>
#endif
#if MX_HAVE_CLAMAV
#include <clamav.h>
#endif

void mgmt_version_print(void)
{
	printf("mxgate %s\n", MX_VERSION);
	printf("  jemalloc   %s (process allocator)\n", JEMALLOC_VERSION);
	printf("  liburing   %s\n", MX_LIBURING_VERSION);
#if MX_HAVE_DPDK
	printf("  DPDK       %s\n", rte_version());
#else
	printf("  DPDK       not built\n");
#endif
#if MX_HAVE_HYPERSCAN
	printf("  Hyperscan  %s\n", hs_version());
#else
	printf("  Hyperscan  not built\n");
#endif
#if MX_HAVE_CLAMAV
	printf("  libclamav  %s\n", cl_retver());
#else
	printf("  libclamav  not built\n");
#endif
}
