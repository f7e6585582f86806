/*
 * dp_policy — recipient domains and per-domain address maps in LMDB (see
 * dp_policy.h).  A map file holds one unnamed database; each key is an
 * address "local@domain" (domain lowercased), each value is empty.
 */
#include "dp_policy.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADDR_MAX 320 /* 64 local + "@" + 255 domain */

struct dp_policy_map {
	char *path;
	MDB_env *env;
	MDB_dbi dbi;
};

struct dp_policy_dom {
	char *name;
	struct dp_policy_map *map; /* NULL: catch-all */
};

struct dp_policy {
	struct dp_policy_dom *doms;
	unsigned dom_count;
	struct dp_policy_map *maps;
	unsigned map_count;
};

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

static int map_open(struct dp_policy_map *m, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc;

	rc = mdb_env_create(&m->env);
	if (rc == 0)
		rc = mdb_env_open(m->env, m->path,
				  MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0);
	if (rc == 0)
		rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0) {
		rc = mdb_dbi_open(txn, NULL, 0, &m->dbi);
		mdb_txn_abort(txn);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", m->path, mdb_strerror(rc));
		return rc > 0 ? -rc : -EIO;
	}
	return 0;
}

void dp_policy_destroy(struct dp_policy *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->map_count; i++) {
		if (p->maps[i].env)
			mdb_env_close(p->maps[i].env);
		free(p->maps[i].path);
	}
	for (unsigned i = 0; i < p->dom_count; i++)
		free(p->doms[i].name);
	free(p->maps);
	free(p->doms);
	free(p);
}

int dp_policy_create(struct dp_policy **out,
		     const struct dp_policy_domain *domains, unsigned count,
		     char *err, size_t errlen)
{
	struct dp_policy *p;
	int rc = -ENOMEM;

	*out = NULL;
	if (count > DP_POLICY_DOMAINS_MAX) {
		snprintf(err, errlen, "too many domains (%u)", count);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->doms = calloc(count ? count : 1, sizeof(*p->doms));
	p->maps = calloc(count ? count : 1, sizeof(*p->maps));
	if (p->doms == NULL || p->maps == NULL)
		goto fail;
	for (unsigned i = 0; i < count; i++) {
		const struct dp_policy_domain *d = &domains[i];
		struct dp_policy_dom *pd = &p->doms[p->dom_count];

		if (d->domain == NULL || d->domain[0] == '\0' ||
		    strlen(d->domain) > 255 || strchr(d->domain, '@')) {
			snprintf(err, errlen, "bad domain \"%s\"",
				 d->domain ? d->domain : "");
			rc = -EINVAL;
			goto fail;
		}
		for (unsigned k = 0; k < p->dom_count; k++) {
			if (strcasecmp(p->doms[k].name, d->domain) == 0) {
				snprintf(err, errlen, "duplicate domain %s",
					 d->domain);
				rc = -EINVAL;
				goto fail;
			}
		}
		pd->name = strdup(d->domain);
		if (pd->name == NULL)
			goto fail;
		lower(pd->name);
		p->dom_count++;
		if (d->map_path == NULL)
			continue;
		for (unsigned k = 0; k < p->map_count; k++)
			if (strcmp(p->maps[k].path, d->map_path) == 0)
				pd->map = &p->maps[k];
		if (pd->map == NULL) {
			struct dp_policy_map *m = &p->maps[p->map_count];

			m->path = strdup(d->map_path);
			if (m->path == NULL)
				goto fail;
			p->map_count++;
			rc = map_open(m, err, errlen);
			if (rc < 0)
				goto fail;
			pd->map = m;
		}
	}
	*out = p;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	dp_policy_destroy(p);
	return rc;
}

struct dp_policy_reader {
	const struct dp_policy *policy;
	MDB_txn **txn; /* one reset read transaction per map */
};

/* 1 if the key is in map m, 0 if not, -EIO.  With a reader, its reset
 * transaction is renewed (no allocation); without, one is begun. */
static int map_has(const struct dp_policy *p, struct dp_policy_reader *r,
		   const struct dp_policy_map *m, const char *key, size_t n)
{
	MDB_txn *txn;
	MDB_val k = {n, (void *)key}, v;
	int rc;

	if (r != NULL) {
		txn = r->txn[m - p->maps];
		rc = mdb_txn_renew(txn);
	} else {
		rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
	}
	if (rc != 0)
		return -EIO;
	rc = mdb_get(txn, m->dbi, &k, &v);
	if (r != NULL)
		mdb_txn_reset(txn);
	else
		mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : -EIO;
}

static enum dp_smtp_rcpt_verdict check(const struct dp_policy *p,
				       struct dp_policy_reader *r,
				       const char *local, const char *domain)
{
	const struct dp_policy_dom *d = NULL;
	char key[ADDR_MAX + 2];
	size_t ln = strlen(local), dn = strlen(domain);
	int rc;

	/* RFC 5321 §4.5.1: postmaster must always be accepted. */
	if (dn == 0)
		return strcasecmp(local, "postmaster") == 0
			   ? DP_SMTP_RCPT_OK
			   : DP_SMTP_RCPT_RELAY;
	for (unsigned i = 0; i < p->dom_count; i++) {
		if (strcasecmp(p->doms[i].name, domain) == 0) {
			d = &p->doms[i];
			break;
		}
	}
	if (d == NULL)
		return DP_SMTP_RCPT_RELAY;
	if (d->map == NULL || strcasecmp(local, "postmaster") == 0)
		return DP_SMTP_RCPT_OK;
	if (ln == 0 || ln + 1 + dn > ADDR_MAX)
		return DP_SMTP_RCPT_UNKNOWN;
	memcpy(key, local, ln);
	key[ln] = '@';
	memcpy(key + ln + 1, d->name, dn + 1);
	rc = map_has(p, r, d->map, key, ln + 1 + dn);
	if (rc == 0) {
		bool upper = false;

		for (size_t i = 0; i < ln; i++) {
			if (key[i] >= 'A' && key[i] <= 'Z') {
				key[i] = (char)(key[i] + 32);
				upper = true;
			}
		}
		if (upper)
			rc = map_has(p, r, d->map, key, ln + 1 + dn);
	}
	if (rc < 0)
		return DP_SMTP_RCPT_TEMPFAIL;
	return rc ? DP_SMTP_RCPT_OK : DP_SMTP_RCPT_UNKNOWN;
}

enum dp_smtp_rcpt_verdict dp_policy_check(const struct dp_policy *p,
					  const char *local, const char *domain)
{
	return check(p, NULL, local, domain);
}

void dp_policy_reader_destroy(struct dp_policy_reader *r)
{
	if (r == NULL)
		return;
	for (unsigned i = 0; i < r->policy->map_count; i++)
		if (r->txn[i])
			mdb_txn_abort(r->txn[i]);
	free(r->txn);
	free(r);
}

int dp_policy_reader_create(const struct dp_policy *p,
			    struct dp_policy_reader **out)
{
	struct dp_policy_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL)
		return -ENOMEM;
	r->policy = p;
	r->txn = calloc(p->map_count ? p->map_count : 1, sizeof(*r->txn));
	if (r->txn == NULL) {
		free(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < p->map_count; i++) {
		int rc =
		    mdb_txn_begin(p->maps[i].env, NULL, MDB_RDONLY, &r->txn[i]);

		if (rc != 0) {
			r->txn[i] = NULL;
			dp_policy_reader_destroy(r);
			return rc > 0 ? -rc : -EIO;
		}
		mdb_txn_reset(r->txn[i]);
	}
	*out = r;
	return 0;
}

enum dp_smtp_rcpt_verdict dp_policy_reader_check(struct dp_policy_reader *r,
						 const char *local,
						 const char *domain)
{
	return check(r->policy, r, local, domain);
}

/* One map line to a key: trims blanks, drops comments; 0 if empty, the
 * key length, or -EINVAL. */
static int map_line(char *line, char **key)
{
	char *s = line, *e, *at, *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	if (e == s)
		return 0;
	at = strrchr(s, '@');
	if (at == NULL || at == s || at[1] == '\0' || strpbrk(s, " \t<>") ||
	    e - s > ADDR_MAX)
		return -EINVAL;
	lower(at + 1);
	*key = s;
	return (int)(e - s);
}

int dp_policy_map_build(const char *text_path, const char *lmdb_path, char *err,
			size_t errlen)
{
	char tmp[4096], line[1024];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	struct stat st;
	unsigned lineno = 0;
	FILE *f;
	int rc;

	f = fopen(text_path, "r");
	if (f == NULL || fstat(fileno(f), &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", text_path, strerror(errno));
		if (f)
			fclose(f);
		return rc;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", lmdb_path) >=
	    (int)sizeof(tmp)) {
		fclose(f);
		snprintf(err, errlen, "%s: path too long", lmdb_path);
		return -ENAMETOOLONG;
	}
	unlink(tmp);
	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(env,
					 (size_t)st.st_size * 8 + (1u << 20));
	if (rc == 0)
		rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOLOCK, 0644);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", tmp, mdb_strerror(rc));
		goto fail;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *key;
		int n;
		MDB_val k, v = {0, (void *)""};

		lineno++;
		n = map_line(line, &key);
		if (n == 0)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s:%u: not an address",
				 text_path, lineno);
			rc = EINVAL;
			goto fail;
		}
		k.mv_size = (size_t)n;
		k.mv_data = key;
		rc = mdb_put(txn, dbi, &k, &v, 0);
		if (rc != 0) {
			snprintf(err, errlen, "%s:%u: %s", text_path, lineno,
				 mdb_strerror(rc));
			goto fail;
		}
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc == 0)
		rc = mdb_env_sync(env, 1);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", tmp, mdb_strerror(rc));
		goto fail;
	}
	mdb_env_close(env);
	env = NULL;
	fclose(f);
	f = NULL;
	if (rename(tmp, lmdb_path) < 0) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", lmdb_path, strerror(rc));
		unlink(tmp);
		return -rc;
	}
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	if (env)
		mdb_env_close(env);
	if (f)
		fclose(f);
	unlink(tmp);
	return rc > 0 ? -rc : -EIO;
}
