/*
 * q_envelope — byte encoding of an SMTP envelope inside a message record.
 *
 * All integers little-endian.  A "str" is a u16 length then that many
 * bytes (no NUL inside, no terminator); an "ostr" is the same but length
 * 0xffff means absent (NULL).  Layout:
 *
 *   u8  version (1)        u8  flags (Q_ENV_*, other bits must be 0)
 *   u8  ret (Q_RET_*, <= 2) u8 reserved (0)
 *   u16 client_port        u16 reserved (0)
 *   u64 received_wall_ns
 *   u32 rcpt_count (<= Q_ENV_RCPT_MAX)
 *   str client_addr, str helo, str proto, str mail_from, ostr envid
 *   rcpt_count times:  u8 notify (bits 0..3 only), str addr, ostr orcpt
 *
 * Decoding rejects (-EBADMSG) anything that violates these rules or runs
 * past the buffer; trailing bytes are left to the caller (the record knows
 * the envelope's length).
 */
#include "q_envelope.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ENV_VERSION 1
#define OSTR_NULL 0xffffu
#define ENV_FIXED 20

static long str_len(const char *s, bool optional)
{
	size_t n;

	if (!s)
		return optional ? 2 : -E2BIG;
	n = strlen(s);
	if (n >= OSTR_NULL)
		return -E2BIG;
	return (long)(2 + n);
}

long q_envelope_encoded_len(const struct q_envelope *env)
{
	const char *req[] = { env->client_addr, env->helo, env->proto,
			      env->mail_from };
	long total = ENV_FIXED, n;

	if (env->rcpt_count > Q_ENV_RCPT_MAX || env->ret > Q_RET_HDRS)
		return -E2BIG;
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		/* A missing required field is encoded as an empty string. */
		n = str_len(req[i] ? req[i] : "", false);
		if (n < 0)
			return n;
		total += n;
	}
	n = str_len(env->envid, true);
	if (n < 0)
		return n;
	total += n;
	for (uint32_t i = 0; i < env->rcpt_count; i++) {
		const struct q_rcpt *r = &env->rcpt[i];

		n = str_len(r->addr ? r->addr : "", false);
		if (n < 0)
			return n;
		total += 1 + n;
		n = str_len(r->orcpt, true);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *put_str(uint8_t *p, const char *s, bool optional)
{
	size_t n;

	if (!s && optional)
		return put16(p, OSTR_NULL);
	if (!s)
		s = "";
	n = strlen(s);
	p = put16(p, (uint16_t)n);
	memcpy(p, s, n);
	return p + n;
}

long q_envelope_encode(const struct q_envelope *env, void *buf, size_t size)
{
	long need = q_envelope_encoded_len(env);
	uint8_t *p = buf;

	if (need < 0)
		return need;
	if ((size_t)need > size)
		return -ENOBUFS;
	*p++ = ENV_VERSION;
	*p++ = env->flags & (Q_ENV_8BIT | Q_ENV_SMTPUTF8);
	*p++ = env->ret;
	*p++ = 0;
	p = put16(p, env->client_port);
	p = put16(p, 0);
	p = put64(p, env->received_wall_ns);
	p = put32(p, env->rcpt_count);
	p = put_str(p, env->client_addr, false);
	p = put_str(p, env->helo, false);
	p = put_str(p, env->proto, false);
	p = put_str(p, env->mail_from, false);
	p = put_str(p, env->envid, true);
	for (uint32_t i = 0; i < env->rcpt_count; i++) {
		*p++ = env->rcpt[i].notify & 0x0f;
		p = put_str(p, env->rcpt[i].addr, false);
		p = put_str(p, env->rcpt[i].orcpt, true);
	}
	return (long)(p - (uint8_t *)buf);
}

/* A bounds-checked reader over the input. */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t get_n(struct rd *r, int n)
{
	uint64_t v = 0;

	if (r->bad || r->end - r->p < n) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

/* Returns the string's bytes (or NULL for an absent ostr) and its length
 * in *len; sets r->bad on overrun or an embedded NUL. */
static const uint8_t *get_str(struct rd *r, bool optional, size_t *len)
{
	uint64_t n = get_n(r, 2);
	const uint8_t *s;

	*len = 0;
	if (r->bad)
		return NULL;
	if (n == OSTR_NULL) {
		if (!optional)
			r->bad = true;
		return NULL;
	}
	if ((uint64_t)(r->end - r->p) < n || memchr(r->p, 0, n)) {
		r->bad = true;
		return NULL;
	}
	s = r->p;
	r->p += n;
	*len = n;
	return s;
}

/* Copies a decoded string into the output block (NUL-terminated). */
static char *emit(char **out, const uint8_t *s, size_t n)
{
	char *d = *out;

	if (!s)
		return NULL;
	memcpy(d, s, n);
	d[n] = 0;
	*out += n + 1;
	return d;
}

/* One pass over the input: validates, and when block != NULL also fills
 * env from it.  Returns bytes consumed or -EBADMSG; *need gets the size
 * of the output block. */
static long env_pass(const void *buf, size_t len, struct q_envelope *env,
		     char *block, size_t *need)
{
	struct rd r = { .p = buf, .end = (const uint8_t *)buf + len };
	const uint8_t *s;
	size_t n, total;
	uint32_t count;
	uint8_t flags, ret;
	char *out;
	char **top[5];

	if (get_n(&r, 1) != ENV_VERSION)
		return -EBADMSG;
	flags = (uint8_t)get_n(&r, 1);
	ret = (uint8_t)get_n(&r, 1);
	if (get_n(&r, 1) != 0 || (flags & ~(Q_ENV_8BIT | Q_ENV_SMTPUTF8)) ||
	    ret > Q_RET_HDRS)
		return -EBADMSG;
	if (block) {
		env->flags = flags;
		env->ret = ret;
	}
	n = get_n(&r, 2);
	if (get_n(&r, 2) != 0)
		return -EBADMSG;
	uint64_t wall = get_n(&r, 8);

	count = (uint32_t)get_n(&r, 4);
	if (r.bad || count > Q_ENV_RCPT_MAX || count > len / 4)
		return -EBADMSG;
	total = (size_t)count * sizeof(struct q_rcpt);
	out = block ? block + total : NULL;
	if (block) {
		env->client_port = (uint16_t)n;
		env->received_wall_ns = wall;
		env->rcpt_count = count;
		env->rcpt = count ? (struct q_rcpt *)(void *)block : NULL;
		top[0] = &env->client_addr;
		top[1] = &env->helo;
		top[2] = &env->proto;
		top[3] = &env->mail_from;
		top[4] = &env->envid;
	}
	for (int i = 0; i < 5; i++) {
		s = get_str(&r, i == 4, &n);
		if (r.bad)
			return -EBADMSG;
		total += s ? n + 1 : 0;
		if (block)
			*top[i] = emit(&out, s, n);
	}
	for (uint32_t i = 0; i < count; i++) {
		uint8_t notify = (uint8_t)get_n(&r, 1);
		const uint8_t *a, *o;
		size_t an, on;

		if (notify & ~0x0fu)
			return -EBADMSG;
		a = get_str(&r, false, &an);
		o = get_str(&r, true, &on);
		if (r.bad)
			return -EBADMSG;
		total += an + 1 + (o ? on + 1 : 0);
		if (block) {
			env->rcpt[i].notify = notify;
			env->rcpt[i].addr = emit(&out, a, an);
			env->rcpt[i].orcpt = emit(&out, o, on);
		}
	}
	*need = total;
	return (long)(r.p - (const uint8_t *)buf);
}

long q_envelope_check(const void *buf, size_t len)
{
	size_t need;

	return env_pass(buf, len, NULL, NULL, &need);
}

long q_envelope_decode(const void *buf, size_t len, struct q_envelope *env,
		       void **mem)
{
	size_t need = 0;
	long used = env_pass(buf, len, env, NULL, &need);
	char *block;

	if (used < 0)
		return used;
	/* The recipient array sits at the front of the block, where malloc's
	 * alignment suits it; the strings follow. */
	block = malloc(need ? need : 1);
	if (!block)
		return -ENOMEM;
	memset(env, 0, sizeof(*env));
	env_pass(buf, len, env, block, &need);
	*mem = block;
	return used;
}
