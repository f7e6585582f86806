/*
 * mgmt_policy — the recipient policy built from the configuration's
 * `domains` block: dp_policy (catch-all and LMDB-mapped domains) plus the
 * short inline recipient lists a config may give (`recipients = [...]`).
 * Read-only once built; swapped whole on reload.  Any core may call
 * mgmt_policy_check at once.
 */
#ifndef MGMT_POLICY_H
#define MGMT_POLICY_H

#include "dp_smtp.h"
#include "mgmt_conf.h"

struct mgmt_policy;

struct mgmt_policy *mgmt_policy_create(const struct mgmt_conf *conf,
				       char *err, size_t errlen);
void mgmt_policy_destroy(struct mgmt_policy *p);	/* accepts NULL */
enum dp_smtp_rcpt_verdict mgmt_policy_check(const struct mgmt_policy *p,
					    const char *local,
					    const char *domain);

#endif
