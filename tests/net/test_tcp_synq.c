/*
 * test_tcp_synq — the SYN-ACK resend cache under a SYN flood (issue 9).
 * Each case: a real client sends a SYN, gets its SYN-ACK and loses its
 * handshake ACK, while spoofed SYNs churn the cache at a given rate from a
 * few or from widely spread sources.  The client answers the first resend
 * that reaches it, as a kernel in ESTABLISHED answers a duplicate SYN-ACK.
 * Checked: whether the handshake is recovered (and when), that the resend
 * caps hold, and that the spoofed SYNs create no connection.
 */
#include <string.h>

#include "net_harness.h"

#define FLOOD_MS 2000u
#define CLIENT_IP 0x0a000002u /* 10.0.0.2, never among the spoofed */
#define CLIENT_PORT 40001

struct synq_case {
	const char *name;
	uint32_t synq_size;
	uint32_t resend_per_s;
	unsigned syns_per_ms;
	bool wide;	/* sources anywhere in 10/8, else 10.0.0.50-.250 */
	int recover;	/* the lost ACK is recovered: 1 yes, 0 no, -1 by luck */
};

static const struct synq_case cases[] = {
	{"default size, 40K SYN/s from 201 sources", 65536, 1000, 40, false,
	 true},
	{"default size, 40K SYN/s spread wide, cap generous", 65536, 1000000,
	 40, true, true},
	{"16K entries, 20K SYN/s from 201 sources", 16384, 1000, 20, false,
	 true},
	/* The residual risk: spread wide, the flood drains the per-core
	 * bucket and the client's resend competes for it; the cap holds. */
	{"default size, 40K SYN/s spread wide, default cap", 65536, 1000, 40,
	 true, -1},
	{"64 entries (too small): evicted before its resend", 64, 1000, 40,
	 false, false},
	{"resends off (cap 0): the ACK stays lost", 65536, 0, 40, false,
	 false},
};

static const struct synq_case *cur;
static uint64_t snap[DP_NET_C__COUNT];

/* A counter's growth during the current case. */
static uint64_t delta(enum dp_net_counter c)
{
	return nt_counter(c) - snap[c];
}

static void conf_edit(struct dp_net_conf *c)
{
	c->synq_size = cur->synq_size;
	c->synq_resend_per_s = cur->resend_per_s;
	c->arp_max = 4;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void spoofed_syn(struct nt *t, bool wide)
{
	struct nt_peer p;
	uint8_t f[128];
	uint32_t ip = wide ? 0x0a000000u | (rnd() & 0xffffff)
			   : 0x0a000032u + rnd() % 201;
	size_t len;

	if (ip == CLIENT_IP)
		ip++;
	nt_peer_init(&p, ip, (uint16_t)(1024 + rnd() % 64000));
	p.ts = p.ws = false;
	len = nt_build_tcp(f, &p, NT_US_IP, NT_PORT, rnd(), 0, DP_TH_SYN,
			   64240, true, NULL, 0);
	nt_input(t, f, len);
}

/* A captured SYN-ACK to the client, if any. */
static bool synack_to_client(const struct nt *t, struct nt_seg *s)
{
	for (unsigned i = 0; i < t->nout; i++)
		if (t->out[i].len >= 54 &&
		    dp_get32(t->out[i].b + 30) == CLIENT_IP && nt_tcp(t, i, s) &&
		    s->flags == (DP_TH_SYN | DP_TH_ACK))
			return true;
	return false;
}

static void run_case(const struct synq_case *c)
{
	struct nt t;
	struct nt_peer cl;
	struct nt_seg s, first;
	uint64_t t0, recovered_at = 0, retx, max_retx;

	cur = c;
	for (unsigned i = 0; i < DP_NET_C__COUNT; i++)
		snap[i] = nt_counter((enum dp_net_counter)i);
	nt_init(&t, conf_edit);
	t0 = t.now;
	nt_peer_init(&cl, CLIENT_IP, CLIENT_PORT);
	nt_send(&t, &cl, DP_TH_SYN, NULL, 0);
	CHECK(synack_to_client(&t, &first));
	nt_clear(&t);
	/* The handshake ACK is lost: nothing is sent. */
	for (unsigned ms = 0; ms < FLOOD_MS; ms++) {
		for (unsigned k = 0; k < c->syns_per_ms; k++)
			spoofed_syn(&t, c->wide);
		t.now++;
		nt_poll(&t);
		if (!recovered_at && synack_to_client(&t, &s)) {
			CHECK(s.seq == first.seq && s.ack == first.ack);
			CHECK(dp_net_conn_count(t.net) == 0);
			/* The client's kernel answers the duplicate. */
			cl.ack = s.seq + 1;
			nt_send(&t, &cl, DP_TH_ACK, NULL, 0);
			CHECK(dp_net_conn_count(t.net) == 1);
			CHECK(t.accepts == 1);
			recovered_at = t.now - t0;
		}
		nt_clear(&t);
	}
	retx = delta(net_tcp_synack_retx);
	/* The cap: the bucket's depth plus its rate over the flood, and for
	 * narrow floods 2 a second for each of the 201 spoofed addresses
	 * and the client. */
	max_retx = c->resend_per_s / 10 + 1 +
		   (uint64_t)c->resend_per_s * FLOOD_MS / 1000;
	if (!c->wide && max_retx > 202 * 2 * (FLOOD_MS / 1000 + 1))
		max_retx = 202 * 2 * (FLOOD_MS / 1000 + 1);
	printf("  %-52s recovered=%s at %4llu ms  resends=%llu capped=%llu "
	       "capped_dst=%llu evicted=%llu\n",
	       c->name, recovered_at ? "yes" : "no",
	       (unsigned long long)recovered_at, (unsigned long long)retx,
	       (unsigned long long)delta(net_tcp_synack_retx_capped),
	       (unsigned long long)delta(net_tcp_synack_retx_capped_dst),
	       (unsigned long long)delta(net_tcp_synq_evicted));
	if (c->recover >= 0)
		CHECK(!!recovered_at == c->recover);
	if (recovered_at)
		CHECK(recovered_at >= 300 && recovered_at < 4000);
	CHECK(retx <= max_retx);
	if (c->resend_per_s == 0)
		CHECK(retx == 0);
	CHECK(dp_net_conn_count(t.net) == (recovered_at ? 1u : 0u));
	CHECK(delta(net_tcp_accepted) == (recovered_at ? 1u : 0u));
	CHECK(delta(net_tcp_synq_recovered) == (recovered_at ? 1u : 0u));
	CHECK(delta(net_tcp_synq_evicted) > 0);
	/* Nothing a spoofed SYN did reached the ARP table. */
	CHECK(delta(net_arp_table_full) == 0);
	nt_fini(&t);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	printf("test_tcp_synq: ok\n");
	return 0;
}
