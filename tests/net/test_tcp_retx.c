/*
 * test_tcp_retx — what we send when the network loses it: RTO expiry and
 * go-back-N with exponential backoff (RFC 6298 §5), the connection dropped
 * when retries run out, fast retransmit on three duplicate ACKs and
 * NewReno partial ACKs (RFC 6582), the RTT estimator, cwnd growth, and
 * the app's writable() callback when the send buffer drains.
 */
#include <string.h>

#include "net_harness.h"

static struct nt T;
static uint8_t payload[16384];

static void new_conn(struct nt_peer *p, uint16_t port)
{
	nt_peer_init(p, 0x0a000002, port);
	nt_peer_arp(&T, p);
	nt_handshake(&T, p);
	T.rx_len = 0;
}

/* Data segments in t->out, in order, into segs[]; returns how many. */
static unsigned data_segs(struct nt_seg *segs, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < T.nout && n < max; i++)
		if (nt_tcp(&T, i, &segs[n]) && segs[n].len)
			n++;
	return n;
}

static void test_rto(void)
{
	struct nt_peer p;
	struct nt_seg s[16];
	uint32_t first;

	new_conn(&p, 60000);
	CHECK(T.conn->rto_ms == 200); /* RTT 0 on the handshake: min */
	dp_tcp_send(T.conn, payload, 3000);
	nt_poll(&T);
	CHECK(data_segs(s, 16) == 3);
	first = s[0].seq;
	CHECK(first == p.ack && s[1].seq == first + 1460 &&
	      s[2].seq == first + 2920 && s[2].len == 80);
	/* Lost: after one RTO the first segment goes again, then 2x. */
	nt_clear(&T);
	nt_advance(&T, 199);
	CHECK(data_segs(s, 16) == 0);
	nt_advance(&T, 2);
	CHECK(data_segs(s, 16) == 1 && s[0].seq == first && s[0].len == 1460);
	CHECK(T.conn->cwnd == 1460 && T.conn->rto_ms == 400);
	nt_clear(&T);
	nt_advance(&T, 401);
	CHECK(data_segs(s, 16) == 1 && s[0].seq == first);
	CHECK(nt_counter(net_tcp_rto) == 2);
	/* The ACK of the first segment: slow start sends the other two. */
	nt_clear(&T);
	p.ack = first + 1460;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	nt_poll(&T);
	CHECK(data_segs(s, 16) == 2 && s[0].seq == first + 1460);
	p.ack = first + 3000;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	nt_poll(&T);
	CHECK(T.conn->snd_len == 0 && T.conn->rto_at == 0);
	dp_tcp_abort(T.conn);
	nt_poll(&T);
}

static void test_retries_exhausted(void)
{
	struct nt_peer p;

	new_conn(&p, 60001);
	dp_tcp_send(T.conn, "220 x\r\n", 7);
	nt_poll(&T);
	/* 200+400+...+51200 ms, then the 9th expiry drops it. */
	nt_advance(&T, 200000);
	CHECK(!T.conn && T.closed_reason == -ETIMEDOUT);
	CHECK(nt_counter(net_tcp_timeout) == 1);
	nt_poll(&T);
	CHECK(dp_net_conn_count(T.net) == 0);
}

static void test_fast_retransmit_newreno(void)
{
	struct nt_peer p;
	struct nt_seg s[16];
	uint32_t first, flight;

	new_conn(&p, 60002);
	dp_tcp_send(T.conn, payload, 8 * 1460);
	nt_poll(&T);
	CHECK(data_segs(s, 16) == 8);
	first = s[0].seq;
	/* Segments 1 and 3 lost: the peer ACKs segment 0, then dupACKs. */
	nt_clear(&T);
	p.ack = first + 1460;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	nt_poll(&T);
	nt_clear(&T);
	for (int i = 0; i < 3; i++)
		nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(nt_counter(net_tcp_fast_retx) == 1);
	CHECK(data_segs(s, 16) == 1 && s[0].seq == first + 1460);
	flight = 7 * 1460;
	CHECK(T.conn->in_recovery);
	CHECK(T.conn->ssthresh == flight / 2);
	CHECK(T.conn->cwnd == flight / 2 + 3 * 1460);
	/* Partial ACK (up to the second hole): the next hole goes at once. */
	nt_clear(&T);
	p.ack = first + 3 * 1460;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(data_segs(s, 16) >= 1 && s[0].seq == first + 3 * 1460);
	CHECK(T.conn->in_recovery);
	/* Full ACK: recovery ends, cwnd = min(ssthresh, flight + MSS). */
	p.ack = first + 8 * 1460;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(!T.conn->in_recovery);
	CHECK(T.conn->cwnd == 1460); /* nothing in flight: 0 + MSS */
	CHECK(T.conn->snd_len == 0);
	dp_tcp_abort(T.conn);
	nt_poll(&T);
}

static void test_rtt_estimator(void)
{
	struct nt_peer p;
	struct nt_seg s;

	new_conn(&p, 60003);
	/* No timestamps so the classic one-segment timing is used. */
	T.conn->ts_ok = false;
	T.conn->srtt8 = T.conn->rttvar4 = 0;
	dp_tcp_send(T.conn, "a", 1);
	nt_poll(&T);
	nt_advance(&T, 100);
	nt_last(&T, &p, &s);
	p.ack = s.seq + 1;
	p.ts = false;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	/* First sample 100: SRTT 100, RTTVAR 50, RTO 100 + 4*50 = 300. */
	CHECK(T.conn->srtt8 >> 3 == 100 && T.conn->rttvar4 == 200);
	CHECK(T.conn->rto_ms == 300);
	dp_tcp_send(T.conn, "b", 1);
	nt_poll(&T);
	nt_advance(&T, 60);
	p.ack++;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	/* Second sample 60: RTTVAR 3/4*50 + 1/4*40 = 47.5, SRTT 95. */
	CHECK(T.conn->srtt8 >> 3 == 95);
	CHECK(T.conn->rttvar4 == 190);
	CHECK(T.conn->rto_ms == 95 + 190);
	dp_tcp_abort(T.conn);
	nt_poll(&T);
}

static void test_writable_and_cwnd(void)
{
	struct nt_peer p;
	struct nt_seg s[32];
	unsigned n;
	uint32_t cwnd0;

	new_conn(&p, 60004);
	CHECK(dp_tcp_send(T.conn, payload, sizeof(payload)) ==
	      T.conf.snd_buf_size);
	CHECK(dp_tcp_send(T.conn, payload, 10) == 0);
	cwnd0 = T.conn->cwnd;
	CHECK(cwnd0 == 10 * 1460); /* RFC 6928 */
	nt_poll(&T);
	n = data_segs(s, 32);
	CHECK(n == 10); /* the initial window, no more */
	nt_clear(&T);
	p.ack = s[1].seq + s[1].len;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(T.writables == 1);
	CHECK(T.conn->cwnd == cwnd0 + 1460); /* slow start, L = 1 SMSS */
	CHECK(dp_tcp_send_space(T.conn) == 2 * 1460);
	dp_tcp_abort(T.conn);
	nt_poll(&T);
}

static void test_tx_failure_recovers(void)
{
	struct nt_peer p;
	struct nt_seg s[4];

	new_conn(&p, 60005);
	T.tx_fail = 1; /* the NIC had no buffer for the segment */
	dp_tcp_send(T.conn, "250 ok\r\n", 8);
	nt_poll(&T);
	CHECK(T.nout == 0 && nt_counter(net_tx_nobuf) == 1);
	nt_advance(&T, 210); /* the RTO resends it */
	CHECK(data_segs(s, 4) == 1 && s[0].len == 8);
	dp_tcp_abort(T.conn);
	nt_poll(&T);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	nt_init(&T, NULL);
	test_rto();
	test_retries_exhausted();
	test_fast_retransmit_newreno();
	test_rtt_estimator();
	test_writable_and_cwnd();
	test_tx_failure_recovers();
	nt_fini(&T);
	printf("test_tcp_retx: ok\n");
	return 0;
}
