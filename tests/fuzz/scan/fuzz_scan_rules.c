/*
 * fuzz_scan_rules — libFuzzer target for the pre-filter rule parser.  Any
 * input must parse or fail with "file:line: reason"; a small rule set that
 * parses is also compiled with Hyperscan through scan_pf_load_rules, whose
 * failure must leave an error text and no published set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_pf.h"
#include "scan_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scan_pf *pf;
	struct scan_rules *r = NULL;
	char err[512];

	if (!pf) {
		struct scan_pf_conf conf = {.default_action = SCAN_ACT_SCAN};
		if (scan_pf_create(&conf, &pf))
			abort();
	}
	err[0] = 0;
	int e = scan_rules_parse("f.rules", (const char *)data, size, &r, err,
				 sizeof(err));
	if (e) {
		if (r || strncmp(err, "f.rules", 7) != 0)
			abort();
		return 0;
	}
	size_t plen = 0;
	for (size_t i = 0; i < r->count; i++) {
		if (!r->v[i].pattern || !r->v[i].desc || r->v[i].id == 0)
			abort();
		plen += strlen(r->v[i].pattern);
	}
	/* Hyperscan compile time grows fast with pattern size: keep the
	 * compile step to small sets so each run stays quick. */
	if (r->count && r->count <= 8 && plen <= 256) {
		uint64_t gen = scan_pf_generation(pf);
		err[0] = 0;
		if (scan_pf_load_rules(pf, r, err, sizeof(err))) {
			if (!err[0] || scan_pf_generation(pf) != gen)
				abort();
		} else if (scan_pf_generation(pf) != gen + 1) {
			abort();
		}
	}
	scan_rules_free(r);
	return 0;
}
