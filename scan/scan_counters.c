/* scan_counters — defines the scan module's counter set. */
#include "scan_counters.h"

MX_COUNTER_SET_DEFINE(scan_counters, "scan", SCAN_COUNTERS)
