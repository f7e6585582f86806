/*
 * test_tcp_handshake — the stateless listener: SYN-ACK options, SYN
 * cookies (a flood leaves the table empty; forged, stale and replayed
 * cookies are refused), pool exhaustion, app refusal, closed ports, and
 * the TCP option parser (table-driven, every input split at every byte).
 */
#include <string.h>

#include "net_harness.h"

static struct nt T;

static void test_synack_options(void)
{
	struct nt_peer p;
	struct nt_seg s;

	nt_peer_init(&p, 0x0a000002, 40000);
	nt_peer_arp(&T, &p);
	nt_send(&T, &p, DP_TH_SYN, NULL, 0);
	CHECK(T.nout == 1);
	CHECK(nt_tcp(&T, 0, &s));
	CHECK(s.flags == (DP_TH_SYN | DP_TH_ACK));
	CHECK(s.sport == NT_PORT && s.dport == 40000);
	CHECK(s.ack == p.isn + 1);
	CHECK(s.o.has_mss && s.o.mss == 1460);
	CHECK(s.o.has_ws && s.o.ws == 0);	/* 8 KiB buffer: no shift */
	CHECK(s.o.has_ts && s.o.tsecr == p.tsval);
	CHECK(s.wnd == 8192);
	CHECK(dp_net_conn_count(T.net) == 0);

	/* Without options the SYN-ACK carries MSS only. */
	nt_clear(&T);
	nt_peer_init(&p, 0x0a000002, 40001);
	p.ts = p.ws = p.mss = false;
	nt_send(&T, &p, DP_TH_SYN, NULL, 0);
	CHECK(nt_tcp(&T, 0, &s));
	CHECK(s.o.has_mss && !s.o.has_ws && !s.o.has_ts);
	p.ack = s.seq + 1;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(T.conn && T.conn->mss == 536);	/* RFC 9293 §3.7.1 default */
	CHECK(!T.conn->ts_ok && T.conn->snd_wscale == 0);
	dp_tcp_abort(T.conn);
	nt_poll(&T);
	CHECK(dp_net_conn_count(T.net) == 0);
}

static void test_syn_flood(void)
{
	struct nt_peer p;
	unsigned n = 0;

	nt_clear(&T);
	for (unsigned i = 0; i < 400; i++) {
		nt_peer_init(&p, 0x0a000002, (uint16_t)(20000 + i));
		nt_send(&T, &p, DP_TH_SYN, NULL, 0);
		n += T.nout;
		nt_clear(&T);
		nt_poll(&T);
	}
	CHECK(n == 400);
	CHECK(dp_net_conn_count(T.net) == 0);
	CHECK(T.accepts == 1);	/* only the one from the test before */
}

static void test_cookie_checks(void)
{
	struct nt_peer p;
	struct nt_seg s;
	uint64_t bad = nt_counter(net_tcp_cookie_bad);

	/* An ACK with a made-up cookie: RST with seq = its ack. */
	nt_clear(&T);
	nt_peer_init(&p, 0x0a000002, 41000);
	p.seq++;
	p.ack = 0x12345678;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(nt_counter(net_tcp_cookie_bad) == bad + 1);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s));
	CHECK(s.flags == DP_TH_RST && s.seq == 0x12345678);
	CHECK(dp_net_conn_count(T.net) == 0);

	/* A real cookie answered from another port or another ISN fails. */
	nt_clear(&T);
	nt_peer_init(&p, 0x0a000002, 41001);
	nt_send(&T, &p, DP_TH_SYN, NULL, 0);
	CHECK(nt_tcp(&T, 0, &s));
	p.ack = s.seq + 1;
	p.port = 41002;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	p.port = 41001;
	nt_send_at(&T, &p, p.seq + 1, p.ack, DP_TH_ACK, NULL, 0);
	CHECK(nt_counter(net_tcp_cookie_bad) == bad + 3);
	CHECK(dp_net_conn_count(T.net) == 0);

	/* The same cookie after 3 minutes is stale. */
	T.now += 3 * 64000;
	nt_poll(&T);
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(nt_counter(net_tcp_cookie_bad) == bad + 4);
	CHECK(dp_net_conn_count(T.net) == 0);

	/* A cookie made just before the counter ticks still works after. */
	T.now = (T.now / 64000 + 1) * 64000 - 1;
	nt_poll(&T);
	nt_clear(&T);	/* the poll resent cached SYN-ACKs of the flood */
	nt_peer_init(&p, 0x0a000002, 41003);
	nt_send(&T, &p, DP_TH_SYN, NULL, 0);
	CHECK(nt_tcp(&T, 0, &s));
	p.ack = s.seq + 1;
	T.now += 2;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(dp_net_conn_count(T.net) == 1);
	dp_tcp_abort(T.conn);
	nt_poll(&T);
}

/* A lost handshake ACK: the SYN-ACK is sent again 300 ms after the
 * first, then 900 ms and 2.7 s after each resend (same cookie), and no
 * more once the handshake completes.  The flood-time behaviour (eviction,
 * the rate cap) is in test_tcp_synq.c. */
static void test_synack_retransmit(void)
{
	static const uint64_t at_ms[] = {300, 1200, 3900};
	struct nt_peer p;
	struct nt_seg s, r;
	uint64_t retx, t0;

	nt_advance(&T, 20000);	/* age out what earlier tests cached */
	retx = nt_counter(net_tcp_synack_retx);
	nt_clear(&T);
	nt_peer_init(&p, 0x0a000002, 41500);
	nt_send(&T, &p, DP_TH_SYN, NULL, 0);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s));
	nt_clear(&T);
	nt_advance(&T, 250);
	CHECK(T.nout == 0);
	nt_advance(&T, 110);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &r));
	CHECK(r.flags == (DP_TH_SYN | DP_TH_ACK) && r.seq == s.seq &&
	      r.ack == s.ack && r.o.has_mss && r.o.has_ws && r.o.has_ts);
	CHECK(memcmp(T.out[0].b, p.mac, 6) == 0);
	CHECK(nt_counter(net_tcp_synack_retx) == retx + 1);
	CHECK(dp_net_conn_count(T.net) == 0);
	p.ack = r.seq + 1;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(dp_net_conn_count(T.net) == 1);
	nt_clear(&T);
	nt_advance(&T, 8000);
	CHECK(nt_count_tcp(&T, DP_TH_SYN) == 0);
	CHECK(nt_counter(net_tcp_synack_retx) == retx + 1);
	dp_tcp_abort(T.conn);
	nt_poll(&T);

	/* Unanswered: three resends on schedule (within one 50 ms sweep),
	 * then silence. */
	nt_clear(&T);
	nt_peer_init(&p, 0x0a000002, 41501);
	t0 = T.now;
	nt_send(&T, &p, DP_TH_SYN, NULL, 0);
	for (unsigned i = 0; i < 3; i++) {
		nt_clear(&T);
		while (T.nout == 0 && T.now - t0 < at_ms[i] + 100)
			nt_advance(&T, 1);
		CHECK(T.nout == 1);
		CHECK(T.now - t0 >= at_ms[i] && T.now - t0 <= at_ms[i] + 55);
	}
	nt_clear(&T);
	nt_advance(&T, 20000);
	CHECK(T.nout == 0);
}

static void test_pool_and_refusal(void)
{
	struct nt_peer p[9];
	struct nt_seg s;

	for (unsigned i = 0; i < 8; i++) {
		nt_peer_init(&p[i], 0x0a000002, (uint16_t)(42000 + i));
		nt_handshake(&T, &p[i]);
	}
	CHECK(dp_net_conn_count(T.net) == 8);
	nt_peer_init(&p[8], 0x0a000002, 42008);
	nt_send(&T, &p[8], DP_TH_SYN, NULL, 0);
	CHECK(nt_tcp(&T, 0, &s));
	p[8].ack = s.seq + 1;
	nt_clear(&T);
	nt_send(&T, &p[8], DP_TH_ACK, NULL, 0);
	CHECK(nt_counter(net_tcp_pool_empty) == 1);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) && (s.flags & DP_TH_RST));
	for (unsigned i = 0; i < 8; i++)
		dp_tcp_abort(dp_tcp_conn_lookup(T.net, p[i].ip, p[i].port,
						NT_PORT));
	nt_poll(&T);
	CHECK(dp_net_conn_count(T.net) == 0);

	/* The app says no: RST, no closed() callback, the slot comes back. */
	unsigned closes = T.closes;

	T.refuse = true;
	nt_clear(&T);
	nt_peer_init(&p[0], 0x0a000002, 42100);
	nt_send(&T, &p[0], DP_TH_SYN, NULL, 0);
	CHECK(nt_tcp(&T, 0, &s));
	p[0].ack = s.seq + 1;
	nt_send(&T, &p[0], DP_TH_ACK, NULL, 0);
	nt_poll(&T);
	CHECK(nt_counter(net_tcp_app_refused) == 1);
	CHECK(T.closes == closes);
	CHECK(dp_net_conn_count(T.net) == 0);
	T.refuse = false;
}

static void test_closed_port(void)
{
	struct nt_peer p;
	struct nt_seg s;
	uint8_t f[128];

	nt_clear(&T);
	nt_peer_init(&p, 0x0a000002, 43000);
	nt_input(&T, f, nt_build_tcp(f, &p, NT_US_IP, 80, p.seq, 0,
				     DP_TH_SYN, 1000, true, NULL, 0));
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s));
	/* RFC 9293 §3.10.7.1: no ACK in the SYN -> <SEQ=0><ACK=seq+1>. */
	CHECK(s.flags == (DP_TH_RST | DP_TH_ACK) && s.seq == 0 &&
	      s.ack == p.seq + 1 && s.sport == 80);
	/* RST to a closed port: silence. */
	nt_clear(&T);
	nt_input(&T, f, nt_build_tcp(f, &p, NT_US_IP, 80, p.seq, 0,
				     DP_TH_RST, 0, false, NULL, 0));
	CHECK(T.nout == 0);
	/* A stray RST to the listen port: silence too. */
	nt_send(&T, &p, DP_TH_RST, NULL, 0);
	CHECK(T.nout == 0);
}

static void test_bad_tcp_checksum(void)
{
	struct nt_peer p;
	uint8_t f[128];
	size_t n;

	nt_clear(&T);
	nt_peer_init(&p, 0x0a000002, 43100);
	n = nt_build_tcp(f, &p, NT_US_IP, NT_PORT, p.seq, 0, DP_TH_SYN, 1000,
			 true, NULL, 0);
	f[n - 1] ^= 0x01;
	nt_input(&T, f, n);
	CHECK(T.nout == 0);
	CHECK(nt_counter(net_tcp_bad_csum) == 1);
	/* Data offset past the segment. */
	n = nt_build_tcp(f, &p, NT_US_IP, NT_PORT, p.seq, 0, DP_TH_SYN, 1000,
			 false, NULL, 0);
	f[14 + 20 + 12] = 0xf0;
	nt_input(&T, f, n);
	CHECK(nt_counter(net_tcp_bad_header) == 1);
	/* With the NIC's word that the checksum is good, it is not redone. */
	n = nt_build_tcp(f, &p, NT_US_IP, NT_PORT, p.seq, 0, DP_TH_SYN, 1000,
			 true, NULL, 0);
	f[n - 1] ^= 0x01;
	dp_net_input(T.net, f, n, DP_NET_RX_L4_CSUM_OK, T.now);
	CHECK(T.nout == 1);
}

struct opt_case {
	const char *name;
	uint8_t bytes[40];
	size_t len;
	bool ok;
	bool mss, ws, ts;
	uint16_t mss_v;
	uint8_t ws_v;
	uint32_t tsval;
};

static void test_opts_parser(void)
{
	static const struct opt_case cases[] = {
		{ "empty", { 0 }, 0, true, false, false, false, 0, 0, 0 },
		{ "linux syn",
		  { 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3,
		    7 },
		  20, true, true, true, true, 1460, 7, 9 },
		{ "nop pad and eol", { 1, 1, 1, 0, 2 }, 5, true, false, false,
		  false, 0, 0, 0 },
		{ "mss bad length", { 2, 3, 5 }, 3, false, 0, 0, 0, 0, 0, 0 },
		{ "length zero", { 9, 0 }, 2, false, 0, 0, 0, 0, 0, 0 },
		{ "length past end", { 8, 10, 0, 0 }, 4, false, 0, 0, 0, 0, 0, 0 },
		{ "kind without length", { 1, 2 }, 2, false, 0, 0, 0, 0, 0, 0 },
		{ "unknown skipped", { 30, 4, 1, 2, 3, 3, 14 }, 7, true, false,
		  true, false, 0, 14, 0 },
		{ "sack permitted", { 4, 2, 1, 1 }, 4, true, 0, 0, 0, 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct opt_case *c = &cases[i];
		struct dp_tcp_opts o;
		bool ok = dp_tcp_opts_parse(c->bytes, c->len, &o);

		if (ok != c->ok ||
		    (ok && (o.has_mss != c->mss || o.has_ws != c->ws ||
			    o.has_ts != c->ts || (c->mss && o.mss != c->mss_v) ||
			    (c->ws && o.ws != c->ws_v) ||
			    (c->ts && o.tsval != c->tsval)))) {
			fprintf(stderr, "opts case '%s' failed\n", c->name);
			exit(1);
		}
		/* Every prefix must parse without reading past its end (ASan
		 * watches) and never claim an option it did not see whole. */
		for (size_t k = 0; k < c->len; k++) {
			uint8_t *cut = malloc(k ? k : 1);

			memcpy(cut, c->bytes, k);
			if (dp_tcp_opts_parse(cut, k, &o) && o.has_ts &&
			    k < 10) {
				fprintf(stderr, "opts '%s' cut %zu\n", c->name,
					k);
				exit(1);
			}
			free(cut);
		}
	}
}

int main(void)
{
	nt_init(&T, NULL);
	test_synack_options();
	test_syn_flood();
	test_cookie_checks();
	test_synack_retransmit();
	test_pool_and_refusal();
	test_closed_port();
	test_bad_tcp_checksum();
	test_opts_parser();
	nt_fini(&T);
	printf("test_tcp_handshake: ok\n");
	return 0;
}
