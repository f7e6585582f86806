/*
 * dp_policy — which recipients mxgate accepts mail for (never an open
 * relay): a set of domains, each either catch-all or backed by an LMDB map
 * of its valid addresses.  The SMTP engine asks it through
 * dp_smtp_host.rcpt_check for every RCPT.
 *
 * Map files are built offline by dp_policy_map_build() from a text file
 * with one address per line ('#' starts a comment; blank lines ignored).
 * Keys are "local@domain" with the domain lowercased; the local part is
 * kept as written (RFC 5321 §2.4), and a lookup tries it as given, then
 * lowercased.  A map is replaced by building a new file and creating a new
 * policy; the file is written to a temporary name and renamed, so a reader
 * never sees half of it.
 *
 * Threading: create/destroy at start-up or reload (main thread); after
 * that the policy is read-only and may be used from every core at once.
 * dp_policy_check() begins and ends one LMDB read transaction per lookup
 * (LMDB allocates it): fine for the management plane and tests.  A
 * dataplane core instead creates one dp_policy_reader at start-up, in its
 * own thread, and checks through it: its read transactions are kept reset
 * and renewed per lookup, so the hot path does not allocate.  Readers are
 * destroyed (by their thread) before their policy.  Maps are opened
 * read-only with MDB_NOLOCK: the files never change under a policy.
 *
 * Errors: create/build return 0 or -errno with a message in err.
 * dp_policy_check never fails: an LMDB error is DP_SMTP_RCPT_TEMPFAIL.
 */
#ifndef DP_POLICY_H
#define DP_POLICY_H

#include <stddef.h>

#include "dp_smtp.h"

struct dp_policy;

struct dp_policy_domain {
	const char *domain;   /* "example.com"; matched case-insensitively */
	const char *map_path; /* LMDB map file; NULL: catch-all */
};

#define DP_POLICY_DOMAINS_MAX 4096

/* Copies what it needs from domains[]; maps shared by several domains are
 * opened once.  -EINVAL (bad/duplicate domain), -ENOENT/-EIO (map). */
int dp_policy_create(struct dp_policy **out,
		     const struct dp_policy_domain *domains, unsigned count,
		     char *err, size_t errlen);
void dp_policy_destroy(struct dp_policy *p); /* NULL is fine */

/*
 * local: the local part, unquoted; domain: as given ("" for the bare
 * <Postmaster> of RFC 5321 §4.5.1, which is always accepted, as is
 * postmaster@ any served domain).  Unknown domain: DP_SMTP_RCPT_RELAY;
 * unknown user of a mapped domain: DP_SMTP_RCPT_UNKNOWN.
 */
enum dp_smtp_rcpt_verdict dp_policy_check(const struct dp_policy *p,
					  const char *local,
					  const char *domain);

struct dp_policy_reader;

/* One per thread; 0, -ENOMEM or -EIO. */
int dp_policy_reader_create(const struct dp_policy *p,
			    struct dp_policy_reader **out);
void dp_policy_reader_destroy(struct dp_policy_reader *r); /* NULL is fine */
/* As dp_policy_check, without allocating. */
enum dp_smtp_rcpt_verdict dp_policy_reader_check(struct dp_policy_reader *r,
						 const char *local,
						 const char *domain);

/* Builds lmdb_path (a single file) from text_path.  -EINVAL with
 * "file:line: reason" in err for a line that is not an address. */
int dp_policy_map_build(const char *text_path, const char *lmdb_path, char *err,
			size_t errlen);

#endif
