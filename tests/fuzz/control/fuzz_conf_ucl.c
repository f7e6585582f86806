/*
 * fuzz_conf_ucl — libFuzzer target for the configuration parser: any
 * bytes are parsed as a UCL document (includes refer to files that do not
 * exist in the fuzzing directory), and as the value of an `-o` override.
 * An error must name the input ("f.conf:" or "-o[1]"), never crash.
 */
#include "mgmt_ucl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct mgmt_ucl_doc *d =
	    mgmt_ucl_parse_text("/nonexistent-fuzz-dir/f.conf",
				(const char *)data, size, err, sizeof(err));

	if (d == NULL && strncmp(err, "/nonexistent-fuzz-dir/", 22) != 0)
		abort();
	mgmt_ucl_free(d);

	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	d = mgmt_ucl_parse_value("-o[1]", s, err, sizeof(err));
	if (d == NULL && strncmp(err, "-o[1]", 5) != 0)
		abort();
	mgmt_ucl_free(d);
	free(s);
	return 0;
}
