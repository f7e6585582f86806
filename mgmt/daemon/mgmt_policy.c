/*
 * mgmt_policy.c — see mgmt_policy.h.  Inline recipient lists are kept as
 * "local@domain" strings (domain lower-cased) in one sorted array and
 * searched with bsearch; everything else is dp_policy's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_policy.h"
#include "mgmt_policy.h"

struct mgmt_policy {
	struct dp_policy *dp;
	char **listed;		/* sorted "local@domain" */
	unsigned listed_count;
	char **list_domains;	/* domains whose users are listed */
	unsigned list_domain_count;
};

static int mgmt_policy_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mgmt_policy_destroy(struct mgmt_policy *p)
{
	if (!p)
		return;
	dp_policy_destroy(p->dp);
	for (unsigned i = 0; i < p->listed_count; i++)
		free(p->listed[i]);
	free(p->listed);
	free(p->list_domains);
	free(p);
}

static char *mgmt_policy_key(const char *local, const char *domain)
{
	size_t ll = strlen(local), dl = strlen(domain);
	char *k = malloc(ll + dl + 2);

	if (!k)
		return NULL;
	memcpy(k, local, ll);
	k[ll] = '@';
	for (size_t i = 0; i < dl; i++)
		k[ll + 1 + i] = (char)tolower((unsigned char)domain[i]);
	k[ll + 1 + dl] = '\0';
	return k;
}

struct mgmt_policy *mgmt_policy_create(const struct mgmt_conf *conf,
				       char *err, size_t errlen)
{
	struct mgmt_policy *p = calloc(1, sizeof(*p));
	struct dp_policy_domain *doms;
	unsigned n = 0, listed = 0;

	doms = calloc(conf->domain_count + 1, sizeof(*doms));
	if (!p || !doms)
		goto oom;
	for (unsigned i = 0; i < conf->domain_count; i++)
		listed += conf->domains[i].recipient_count;
	p->listed = calloc(listed + 1, sizeof(*p->listed));
	p->list_domains = calloc(conf->domain_count + 1,
				 sizeof(*p->list_domains));
	if (!p->listed || !p->list_domains)
		goto oom;
	for (unsigned i = 0; i < conf->domain_count; i++) {
		const struct mgmt_conf_domain *cd = &conf->domains[i];

		if (cd->recipient_count) {
			p->list_domains[p->list_domain_count++] = cd->name;
			for (unsigned r = 0; r < cd->recipient_count; r++) {
				const char *rc = cd->recipients[r];
				const char *at = strrchr(rc, '@');
				char local[512];

				snprintf(local, sizeof(local), "%.*s",
					 at ? (int)(at - rc) : (int)strlen(rc),
					 rc);
				p->listed[p->listed_count] =
					mgmt_policy_key(local, cd->name);
				if (!p->listed[p->listed_count++])
					goto oom;
			}
			continue;
		}
		doms[n].domain = cd->name;
		doms[n].map_path = cd->catch_all ? NULL : cd->map;
		n++;
	}
	qsort(p->listed, p->listed_count, sizeof(*p->listed),
	      mgmt_policy_cmp);
	if (dp_policy_create(&p->dp, doms, n, err, errlen) < 0) {
		free(doms);
		mgmt_policy_destroy(p);
		return NULL;
	}
	free(doms);
	return p;
oom:
	free(doms);
	mgmt_policy_destroy(p);
	snprintf(err, errlen, "domains: out of memory");
	return NULL;
}

/*
 * The cores must not allocate per RCPT; dp_policy_check opens an LMDB
 * read transaction each time, so every thread keeps one dp_policy_reader
 * for the policy it last used, made on its first RCPT after a start or a
 * reload (reloads are rare; old policies are never freed while the
 * process runs, so a reader never outlives its policy).
 */
static enum dp_smtp_rcpt_verdict
mgmt_policy_reader_check(const struct mgmt_policy *p, const char *local,
			 const char *domain)
{
	static _Thread_local const struct mgmt_policy *tls_policy;
	static _Thread_local struct dp_policy_reader *tls_reader;

	if (tls_policy != p) {
		dp_policy_reader_destroy(tls_reader);
		tls_reader = NULL;
		tls_policy = NULL;
		if (dp_policy_reader_create(p->dp, &tls_reader) < 0)
			return dp_policy_check(p->dp, local, domain);
		tls_policy = p;
	}
	return dp_policy_reader_check(tls_reader, local, domain);
}

enum dp_smtp_rcpt_verdict mgmt_policy_check(const struct mgmt_policy *p,
					    const char *local,
					    const char *domain)
{
	for (unsigned i = 0; i < p->list_domain_count; i++) {
		char key[1024];
		char *kp = key;
		size_t ll = strlen(local), dl = strlen(domain);

		if (strcasecmp(domain, p->list_domains[i]) != 0)
			continue;
		if (strcasecmp(local, "postmaster") == 0)
			return DP_SMTP_RCPT_OK;
		if (ll + dl + 2 > sizeof(key))
			return DP_SMTP_RCPT_UNKNOWN;
		memcpy(key, local, ll);
		key[ll] = '@';
		for (size_t j = 0; j <= dl; j++)
			key[ll + 1 + j] =
				(char)tolower((unsigned char)domain[j]);
		return bsearch(&kp, p->listed, p->listed_count,
			       sizeof(*p->listed), mgmt_policy_cmp)
			       ? DP_SMTP_RCPT_OK
			       : DP_SMTP_RCPT_UNKNOWN;
	}
	return mgmt_policy_reader_check(p, local, domain);
}
