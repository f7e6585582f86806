/* dp_dpdk_counters — defines the DPDK backend's counter set. */
#include "dp_dpdk_counters.h"

MX_COUNTER_SET_DEFINE(dp_dpdk_counters, "dpdk", DP_DPDK_COUNTERS)
