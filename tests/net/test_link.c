/*
 * test_link — ARP, ICMP echo and IPv4 input checks of dp_net, with the
 * replies compared byte for byte against frames written out by hand from
 * RFC 826 and RFC 792.
 */
#include <string.h>

#include "net_harness.h"

static struct nt T;

static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* An ARP request from 10.0.0.2 for target tpa. */
static size_t arp_req(uint8_t *f, uint32_t tpa)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, peer_mac, 6);
	dp_put16(f + 12, 0x0806);
	dp_put16(f + 14, 1);
	dp_put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	dp_put16(f + 20, 1);
	memcpy(f + 22, peer_mac, 6);
	dp_put32(f + 28, 0x0a000002);
	dp_put32(f + 38, tpa);
	return 60;
}

static void test_arp_reply(void)
{
	static const uint8_t want[60] = {
		/* Ethernet: to the asker, from us, ARP */
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06,
		/* htype 1, ptype IPv4, hlen 6, plen 4, op 2 (reply) */
		0, 1, 0x08, 0x00, 6, 4, 0, 2,
		/* sender: our MAC, 10.0.0.1 */
		0x02, 0, 0, 0, 0, 0x01, 10, 0, 0, 1,
		/* target: the asker, 10.0.0.2 */
		0x02, 0, 0, 0, 0, 0x02, 10, 0, 0, 2,
		/* padding to 60 */
	};
	uint8_t f[60];

	nt_input(&T, f, arp_req(f, NT_US_IP));
	CHECK(T.nout == 1);
	CHECK(T.out[0].len == 60);
	CHECK(memcmp(T.out[0].b, want, 60) == 0);
	nt_clear(&T);

	/* For another address: learn nothing new, say nothing. */
	nt_input(&T, f, arp_req(f, 0x0a000009));
	CHECK(T.nout == 0);
	CHECK(nt_counter(net_arp_not_us) == 1);

	/* Truncated and wrong hardware type: counted as bad. */
	nt_input(&T, f, 30);
	arp_req(f, NT_US_IP);
	dp_put16(f + 14, 6);
	nt_input(&T, f, 60);
	CHECK(T.nout == 0);
	CHECK(nt_counter(net_arp_bad) == 2);
}

/* Echo request 10.0.0.2 -> 10.0.0.1, id 0x1234 seq 7, 5 data bytes. */
static size_t echo_req(uint8_t *f, bool bad_sum)
{
	static const uint8_t req[] = {
		0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00,
		/* IPv4: len 33, id 0x0101, TTL 64, ICMP; csum filled below */
		0x45, 0, 0, 33, 0x01, 0x01, 0, 0, 64, 1, 0, 0,
		10, 0, 0, 2, 10, 0, 0, 1,
		/* ICMP echo: type 8 code 0, csum, id, seq, "hello" */
		8, 0, 0, 0, 0x12, 0x34, 0, 7, 'h', 'e', 'l', 'l', 'o',
	};
	memcpy(f, req, sizeof(req));
	dp_put16(f + 24, dp_csum_fold(dp_csum_add(0, f + 14, 20)));
	dp_put16(f + 36, dp_csum_fold(dp_csum_add(0, f + 34, 13)));
	if (bad_sum)
		f[36] ^= 1;
	return sizeof(req);
}

static void test_icmp_echo(void)
{
	/* The reply, every byte spelled out (checksums computed by hand:
	 * IP 0x26da over the header below, ICMP 0xa9f2). */
	static const uint8_t want[] = {
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
		0x45, 0, 0, 33, 0, 0, 0x40, 0, 64, 1, 0x26, 0xda,
		10, 0, 0, 1, 10, 0, 0, 2,
		0, 0, 0xa9, 0xf2, 0x12, 0x34, 0, 7, 'h', 'e', 'l', 'l', 'o',
	};
	uint8_t f[64];

	nt_input(&T, f, echo_req(f, false));
	CHECK(T.nout == 1);
	CHECK(T.out[0].len == sizeof(want));
	CHECK(memcmp(T.out[0].b, want, sizeof(want)) == 0);
	nt_clear(&T);

	nt_input(&T, f, echo_req(f, true));
	CHECK(T.nout == 0);
	CHECK(nt_counter(net_icmp_bad) == 1);
}

struct ip_case {
	const char *name;
	void (*mangle)(uint8_t *f, size_t *len);
	enum dp_net_counter counter;
};

static void m_csum(uint8_t *f, size_t *len)
{
	f[24] ^= 0x40;
}
static void m_frag(uint8_t *f, size_t *len)
{
	dp_put16(f + 20, 0x2000);	/* MF */
	f[24] = f[25] = 0;
	dp_put16(f + 24, dp_csum_fold(dp_csum_add(0, f + 14, 20)));
}
static void m_frag_off(uint8_t *f, size_t *len)
{
	dp_put16(f + 20, 0x0010);
	f[24] = f[25] = 0;
	dp_put16(f + 24, dp_csum_fold(dp_csum_add(0, f + 14, 20)));
}
static void m_version(uint8_t *f, size_t *len)
{
	f[14] = 0x65;
}
static void m_ihl(uint8_t *f, size_t *len)
{
	f[14] = 0x44;
}
static void m_short(uint8_t *f, size_t *len)
{
	*len = 30;
}
static void m_totlen(uint8_t *f, size_t *len)
{
	dp_put16(f + 16, 200);
	f[24] = f[25] = 0;
	dp_put16(f + 24, dp_csum_fold(dp_csum_add(0, f + 14, 20)));
}
static void m_dst(uint8_t *f, size_t *len)
{
	f[33] = 9;
	f[24] = f[25] = 0;
	dp_put16(f + 24, dp_csum_fold(dp_csum_add(0, f + 14, 20)));
}
static void m_proto(uint8_t *f, size_t *len)
{
	f[23] = 17;
	f[24] = f[25] = 0;
	dp_put16(f + 24, dp_csum_fold(dp_csum_add(0, f + 14, 20)));
}
static void m_mac(uint8_t *f, size_t *len)
{
	f[5] = 0x77;
}
static void m_ethertype(uint8_t *f, size_t *len)
{
	dp_put16(f + 12, 0x86dd);
}

static void test_ip_drops(void)
{
	static const struct ip_case cases[] = {
		{ "bad header checksum", m_csum, net_ip_bad_csum },
		{ "more fragments", m_frag, net_ip_frag },
		{ "fragment offset", m_frag_off, net_ip_frag },
		{ "version 6 in v4", m_version, net_ip_bad_header },
		{ "ihl 4", m_ihl, net_ip_bad_header },
		{ "truncated", m_short, net_ip_bad_header },
		{ "total length past frame", m_totlen, net_ip_bad_header },
		{ "not our address", m_dst, net_ip_not_us },
		{ "udp", m_proto, net_ip_proto },
		{ "other MAC", m_mac, net_rx_not_us },
		{ "ethertype", m_ethertype, net_rx_ethertype },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t f[64];
		size_t len = echo_req(f, false);
		uint64_t before = nt_counter(cases[i].counter);

		cases[i].mangle(f, &len);
		nt_clear(&T);
		nt_input(&T, f, len);
		if (T.nout != 0 || nt_counter(cases[i].counter) != before + 1) {
			fprintf(stderr, "case '%s' failed\n", cases[i].name);
			exit(1);
		}
	}
}

/* The word-at-a-time checksum against a plain RFC 1071 loop, every
 * length and alignment up to 100 bytes, chained onto a non-zero sum. */
static void test_csum_against_reference(void)
{
	uint8_t buf[128];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	buf[5] = buf[6] = 0xff;
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 100; len++) {
			uint64_t ref = 0x1fffe;
			uint32_t got;

			for (size_t k = 0; k + 1 < len; k += 2)
				ref += (uint32_t)(buf[off + k] << 8 |
						  buf[off + k + 1]);
			if (len & 1)
				ref += (uint32_t)buf[off + len - 1] << 8;
			got = dp_csum_add(0x1fffe, buf + off, len);
			if (dp_csum_fold(got) != dp_csum_fold((uint32_t)(
						  (ref & 0xffffffff) + (ref >> 32)))) {
				fprintf(stderr, "csum off %zu len %zu\n", off,
					len);
				exit(1);
			}
		}
}

static void arp_conf(struct dp_net_conf *c)
{
	c->arp_max = 2;
	c->arp_timeout_ms = 1000;
	c->gateway = 0x0a0000fe;	/* 10.0.0.254 */
}

/* Next-hop resolution: gleaned from traffic, off-link via the gateway,
 * stale entries refreshed by a request (sent once a second at most) while
 * still used, and a full table evicting its oldest entry. */
static void test_arp_resolve(void)
{
	static const uint8_t want_req[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01,
		0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1,
		0x02, 0, 0, 0, 0, 0x01, 10, 0, 0, 1,
		0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
	};
	struct nt t;
	struct nt_peer p, far;
	struct nt_seg s;
	unsigned reqs = 0, i;
	uint64_t learned;

	nt_init(&t, arp_conf);
	/* No ARP first: the handshake itself teaches the stack the MAC. */
	nt_peer_init(&p, 0x0a000002, 5000);
	nt_handshake(&t, &p);
	CHECK(t.conn);
	/* The entry goes stale; data still goes out, and a request too. */
	t.now += 1500;
	dp_tcp_send(t.conn, "x", 1);
	nt_poll(&t);
	for (i = 0; i < t.nout; i++) {
		if (dp_get16(t.out[i].b + 12) == 0x0806) {
			reqs++;
			CHECK(t.out[i].len == 60);
			CHECK(memcmp(t.out[i].b, want_req, 42) == 0);
		} else {
			CHECK(nt_tcp(&t, i, &s) && s.len == 1);
			CHECK(memcmp(t.out[i].b, p.mac, 6) == 0);
		}
	}
	CHECK(reqs == 1 && t.nout == 2);
	/* Unanswered, the next request waits a second. */
	nt_clear(&t);
	t.now += 100;
	dp_tcp_send(t.conn, "y", 1);
	nt_poll(&t);
	CHECK(t.nout == 1 && nt_tcp(&t, 0, &s) && s.len == 1);
	/* An off-link client: its frames come from the gateway's MAC, and
	 * replies go back to it. */
	nt_clear(&t);
	nt_peer_init(&far, 0xc0000207, 5001);	/* 192.0.2.7 */
	far.mac[5] = 0xfe;
	nt_send(&t, &far, DP_TH_SYN, NULL, 0);
	CHECK(t.nout == 1 && nt_tcp(&t, 0, &s) && s.dst == far.ip);
	CHECK(t.out[0].b[5] == 0xfe);
	/* SYNs, even from many on-link sources, are answered to the
	 * frame's sender and leave the table alone: the SYN-ACK to `far`
	 * went to the gateway's MAC without an entry for either. */
	learned = nt_counter(net_arp_learned);
	for (i = 0; i < 100; i++) {
		nt_clear(&t);
		nt_peer_init(&p, 0x0a000010 + i, (uint16_t)(6000 + i));
		p.mac[4] = 0x77;
		nt_send(&t, &p, DP_TH_SYN, NULL, 0);
		CHECK(t.nout == 1 && nt_tcp(&t, 0, &s) && s.dst == p.ip);
		CHECK(memcmp(t.out[0].b, p.mac, 6) == 0);
	}
	CHECK(nt_counter(net_arp_learned) == learned);
	CHECK(nt_counter(net_arp_table_full) == 0);
	/* A completed handshake does learn: two entries (the first peer,
	 * 10.0.0.3) fill the table; a third evicts. */
	nt_peer_init(&p, 0x0a000003, 5002);
	nt_handshake(&t, &p);
	CHECK(nt_counter(net_arp_learned) == learned + 1);
	CHECK(nt_counter(net_arp_table_full) == 0);
	nt_peer_init(&p, 0x0a000004, 5003);
	nt_handshake(&t, &p);
	CHECK(nt_counter(net_arp_table_full) == 1);
	nt_fini(&t);
}

static void small_arp_conf(struct dp_net_conf *c)
{
	c->arp_max = 4;
}

/* Regression, issue 9 (a "." got no 250 during a SYN flood): SYNs from
 * many spoofed on-link sources used to be gleaned into the ARP table and
 * evict the peers we owe data, so a reply sent later (a 250 after the
 * queue commit) missed ARP on every retransmission while the flood
 * lasted.  Now the reply goes out at once. */
static void test_arp_flood_keeps_peer(void)
{
	struct nt t;
	struct nt_peer p, sp;
	struct nt_seg s;
	uint8_t f[128];
	uint64_t miss = nt_counter(net_tx_arp_miss);

	nt_init(&t, small_arp_conf);
	nt_peer_init(&p, 0x0a000002, 5000);
	nt_handshake(&t, &p);
	CHECK(t.conn);
	for (unsigned i = 0; i < 1000; i++) {
		nt_peer_init(&sp, 0x0a000032 + i % 201, (uint16_t)(2000 + i));
		sp.mac[4] = 0x55;
		if (i % 100 == 0)
			nt_clear(&t);
		nt_input(&t, f,
			 nt_build_tcp(f, &sp, NT_US_IP, NT_PORT, 7 * i, 0,
				      DP_TH_SYN, 64240, true, NULL, 0));
	}
	nt_clear(&t);
	t.now += 20;
	CHECK(dp_tcp_send(t.conn, "250 ok\r\n", 8) == 8);
	nt_poll(&t);
	CHECK(t.nout == 1 && nt_tcp(&t, 0, &s) && s.len == 8);
	CHECK(memcmp(t.out[0].b, p.mac, 6) == 0);
	CHECK(nt_counter(net_tx_arp_miss) == miss);
	nt_fini(&t);
}

int main(void)
{
	test_csum_against_reference();
	test_arp_resolve();
	test_arp_flood_keeps_peer();
	nt_init(&T, NULL);
	test_arp_reply();
	nt_clear(&T);
	test_icmp_echo();
	test_ip_drops();
	nt_fini(&T);
	printf("test_link: ok\n");
	return 0;
}
