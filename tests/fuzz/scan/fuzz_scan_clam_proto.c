/*
 * fuzz_scan_clam_proto — libFuzzer target for the scanner IPC decoder:
 * any datagram is either refused or decodes to a message that encodes back
 * to exactly the same bytes (the format has no slack).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan_clam_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[SCAN_CLAM_MSG_MAX];
	struct scan_clam_msg m;

	if (scan_clam_msg_decode(data, size, &m))
		return 0;
	ssize_t n = scan_clam_msg_encode(&m, buf, sizeof(buf));
	if (n < 0 || (size_t)n != size || memcmp(buf, data, size) != 0)
		abort();
	return 0;
}
