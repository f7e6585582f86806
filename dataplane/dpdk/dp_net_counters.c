/* dp_net_counters — defines the stack's counter set (see the header). */
#include "dp_net_counters.h"

MX_COUNTER_SET_DEFINE(dp_net_counters, "net", DP_NET_COUNTERS)
