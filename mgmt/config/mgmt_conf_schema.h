/*
 * mgmt_conf_schema — the one table of configuration keys (path, type,
 * default, limits, help, where the value lives in struct mgmt_conf) and
 * the typed setters that validate a parsed UCL value into the struct.
 *
 * Internal to mgmt/config: mgmt_conf_load.c walks a parsed document and
 * calls mgmt_conf_key_set() per key; mgmt_conf_json.c dumps by the table.
 * No shared state; any thread.
 */
#ifndef MGMT_CONF_SCHEMA_H
#define MGMT_CONF_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "mgmt_conf.h"
#include "mgmt_ucl.h"

enum mgmt_conf_type {
	MGMT_CONF_T_BOOL,	 /* bool */
	MGMT_CONF_T_UINT,	 /* unsigned, min..max */
	MGMT_CONF_T_SIZE,	 /* uint64_t bytes, min..max */
	MGMT_CONF_T_DURATION,	 /* uint64_t ms, min..max in ms */
	MGMT_CONF_T_STRING,	 /* char *, may be empty */
	MGMT_CONF_T_PATH,	 /* char *, not empty */
	MGMT_CONF_T_ENUM,	 /* int: index into `enums` ("a|b|c") */
	MGMT_CONF_T_LISTEN_LIST, /* struct mgmt_conf_addr *, count at off2 */
	MGMT_CONF_T_LISTEN_OPT,	 /* char * at off; "" or an address */
	MGMT_CONF_T_STRLIST,	 /* char **, count at off2 */
	MGMT_CONF_T_DURLIST,	 /* uint64_t * ms, count at off2 */
	MGMT_CONF_T_ROUTE,	 /* struct mgmt_conf_route */
	MGMT_CONF_T_ROUTES,	 /* object domain -> route */
	MGMT_CONF_T_DOMAINS,	 /* object domain -> { recipients | map } */
	MGMT_CONF_T_CIDR4,	 /* char *, "a.b.c.d/n" */
	MGMT_CONF_T_IPV4_OPT,	 /* char *, "" or "a.b.c.d" */
	MGMT_CONF_T_LOGTARGET, /* char *, stderr | syslog | absolute-or-relative
				  path */
	MGMT_CONF_T_HOSTNAME,  /* char *, a domain name; default gethostname */
	MGMT_CONF_T_GROUP,     /* char *, "" or an existing group */
};

struct mgmt_conf_key {
	const char *path; /* dotted: "smtp.max_recipients" */
	enum mgmt_conf_type type;
	const char *def;   /* default, in UCL value syntax */
	uint64_t min, max; /* UINT, SIZE, DURATION (ms) */
	const char *enums; /* ENUM: "socket|dpdk" */
	size_t off;	   /* offsetof(struct mgmt_conf, ...) */
	size_t off2;	   /* count field of list types */
	const char *help;
};

extern const struct mgmt_conf_key mgmt_conf_keys[];
extern const unsigned mgmt_conf_key_count;

const struct mgmt_conf_key *mgmt_conf_key_find(const char *path);

/* True when `path` is a section (an object holding keys). */
int mgmt_conf_is_section(const char *path);

/*
 * Validates `v` for `key` and stores it in *conf, freeing what was there.
 * Returns 0, or -1 with "reason" (no file/line/key prefix) in err and, when
 * the fault is in an element of `v` (a list item, a domain), that element
 * in *where (else *where = v).
 */
int mgmt_conf_key_set(const struct mgmt_conf_key *key,
		      const struct mgmt_ucl_node *v, struct mgmt_conf *conf,
		      const struct mgmt_ucl_node **where, char *err,
		      size_t errlen);

/* Frees what a key owns in *conf. */
void mgmt_conf_key_free(const struct mgmt_conf_key *key,
			struct mgmt_conf *conf);

/* "127.0.0.1:25", "[::1]:2525" -> addr. 0 or -1 with reason. */
int mgmt_conf_addr_parse(const char *text, struct mgmt_conf_addr *addr,
			 char *err, size_t errlen);

/* RFC 1035 §2.3.1 preferred name syntax (LDH labels); lower-cases in
 * place. 0 or -1 with reason. */
int mgmt_conf_domain_check(char *name, char *err, size_t errlen);

#endif
