/* dp_smtp_counters — defines the SMTP engine's counter set. */
#include "dp_smtp_counters.h"

MX_COUNTER_SET_DEFINE(dp_smtp_counters, "smtp", DP_SMTP_COUNTERS)
