/*
 * scan_pf — the Hyperscan pre-filter: one pass over a message, a set of
 * matched rule ids and one resolved action.
 *
 * The rules (scan_rules.h) are compiled into one block-mode Hyperscan
 * database per message part kind (header, body, filename, raw) — one
 * compile per load, all swapped together.  A message is walked once
 * (scan_mime.h): the raw bytes, every header section, every decoded leaf
 * part (up to decode_max bytes each) and every attachment name are scanned
 * against the database for that kind.
 *
 * Threads: scan_pf_create/load/reclaim/destroy belong to one control
 * thread (the management plane).  Each worker thread owns one
 * scan_pf_worker (its Hyperscan scratch and buffers) and calls
 * scan_pf_scan with it; any number of workers scan concurrently with a
 * load.  A load compiles and self-tests the new rules beside the old ones
 * and publishes them with one atomic pointer store; a worker picks up the
 * new set at its next message and grows its scratch for it.  Old sets are
 * freed once no worker still holds them (hazard pointers, one per worker),
 * at the next load, reclaim or destroy.
 *
 * Failures: a load that fails (bad line, pattern that does not compile)
 * returns -EINVAL with "file:line: reason" in err and leaves the running
 * rules in place.  A scan fails only on a Hyperscan error (-EIO) or no
 * memory for scratch (-ENOMEM); the caller then applies its default.
 */
#ifndef SCAN_PF_H
#define SCAN_PF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan_rules.h"

#define SCAN_PF_MATCH_MAX 32 /* rule ids kept per result */

struct scan_pf_conf {
	enum scan_action default_action; /* SCAN or PASS: no rule hit */
	size_t decode_max;  /* decoded bytes kept per part; 0 = 1 MiB */
	unsigned depth_max; /* MIME nesting; 0 = 8 */
};

struct scan_pf_result {
	enum scan_action action; /* resolved: reject > scan > tag > pass */
	bool clam;		 /* should go to ClamAV: action is scan, or
				  * tag while the default is scan */
	bool matched;		 /* false: no rule hit, action is the default */
	bool truncated;		 /* more matches than SCAN_PF_MATCH_MAX */
	unsigned match_count;
	uint32_t match[SCAN_PF_MATCH_MAX]; /* rule ids, each once */
	uint64_t generation;		   /* rule set that produced this */
};

struct scan_pf;
struct scan_pf_worker;

/* -EINVAL for a bad conf (default must be scan or pass), -ENOMEM. */
int scan_pf_create(const struct scan_pf_conf *conf, struct scan_pf **out);
void scan_pf_destroy(struct scan_pf *pf);

/* Compiles, self-tests and publishes a rule set (first load or reload).
 * On failure the running set stays and err says why (file:line: reason). */
int scan_pf_load(struct scan_pf *pf, const char *path, char *err,
		 size_t errlen);
int scan_pf_load_rules(struct scan_pf *pf, const struct scan_rules *rules,
		       char *err, size_t errlen);

/* Number of the published rule set (0 before the first load). */
uint64_t scan_pf_generation(const struct scan_pf *pf);
/* Rules in the published set. */
size_t scan_pf_rule_count(const struct scan_pf *pf);
/* Frees retired rule sets no worker holds any more. */
void scan_pf_reclaim(struct scan_pf *pf);

/* Per worker thread; create/destroy from that thread or before it runs.
 * NULL on no memory. */
struct scan_pf_worker *scan_pf_worker_create(struct scan_pf *pf);
void scan_pf_worker_destroy(struct scan_pf_worker *w);

/* Scans one whole message.  0 and *res filled, or -EIO/-ENOMEM. */
int scan_pf_scan(struct scan_pf_worker *w, const void *msg, size_t len,
		 struct scan_pf_result *res);

#endif
