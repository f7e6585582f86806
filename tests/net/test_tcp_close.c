/*
 * test_tcp_close — how connections end: FIN from the peer (CLOSE_WAIT,
 * LAST_ACK), FIN from us (FIN_WAIT_1/2, TIME_WAIT), simultaneous close
 * (CLOSING), FIN out of order, RST, the bounded TIME_WAIT table (expiry,
 * eviction, reuse by a newer SYN, RFC 1337), data after close, idle and
 * keepalive limits, and the app timer.
 */
#include <string.h>

#include "net_harness.h"

static struct nt T;

static void new_conn(struct nt_peer *p, uint16_t port)
{
	nt_peer_init(p, 0x0a000002, port);
	nt_peer_arp(&T, p);
	nt_handshake(&T, p);
	T.rx_len = 0;
}

static void test_peer_closes_first(void)
{
	struct nt_peer p;
	struct nt_seg s;
	unsigned closes = T.closes;

	new_conn(&p, 30000);
	nt_send(&T, &p, DP_TH_ACK | DP_TH_FIN, "QUIT\r\n", 6);
	CHECK(T.rx_len == 6 && T.fins == 1);
	CHECK(T.conn->state == DP_TCP_CLOSE_WAIT);
	nt_poll(&T);
	nt_last(&T, &p, &s);
	CHECK(s.ack == p.seq); /* data and FIN ACKed */
	/* The app answers and closes: data + FIN in one segment. */
	nt_clear(&T);
	CHECK(dp_tcp_send(T.conn, "221 bye\r\n", 9) == 9);
	dp_tcp_close(T.conn);
	nt_poll(&T);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s));
	CHECK(s.flags == (DP_TH_ACK | DP_TH_PSH | DP_TH_FIN) && s.len == 9);
	CHECK(T.conn->state == DP_TCP_LAST_ACK);
	p.ack = s.seq + 10;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(T.closes == closes + 1 && T.closed_reason == 0);
	nt_poll(&T);
	CHECK(dp_net_conn_count(T.net) == 0 && dp_net_tw_count(T.net) == 0);
}

static void test_we_close_first(void)
{
	struct nt_peer p;
	struct nt_seg s;
	unsigned closes = T.closes;

	new_conn(&p, 30001);
	dp_tcp_close(T.conn);
	nt_poll(&T);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) &&
	      s.flags == (DP_TH_ACK | DP_TH_FIN));
	CHECK(T.conn->state == DP_TCP_FIN_WAIT_1);
	p.ack++;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(T.conn->state == DP_TCP_FIN_WAIT_2);
	nt_clear(&T);
	nt_send(&T, &p, DP_TH_ACK | DP_TH_FIN, NULL, 0);
	CHECK(T.closes == closes + 1 && T.closed_reason == 0);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) && s.ack == p.seq);
	nt_poll(&T);
	CHECK(dp_net_conn_count(T.net) == 0 && dp_net_tw_count(T.net) == 1);
	/* A retransmitted FIN in TIME_WAIT is ACKed again. */
	nt_clear(&T);
	nt_send_at(&T, &p, p.seq - 1, p.ack, DP_TH_ACK | DP_TH_FIN, NULL, 0);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) && s.ack == p.seq &&
	      s.seq == p.ack);
	/* RFC 1337: a RST does not end TIME_WAIT. */
	nt_send(&T, &p, DP_TH_RST, NULL, 0);
	CHECK(dp_net_tw_count(T.net) == 1);
	/* 2*MSL later it is gone. */
	nt_advance(&T, T.conf.time_wait_ms + 10);
	CHECK(dp_net_tw_count(T.net) == 0);
}

static void test_simultaneous_close(void)
{
	struct nt_peer p;
	struct nt_seg s;

	new_conn(&p, 30002);
	dp_tcp_close(T.conn);
	nt_poll(&T);
	CHECK(T.conn->state == DP_TCP_FIN_WAIT_1);
	/* The peer's FIN crosses ours: it does not ACK our FIN yet. */
	nt_clear(&T);
	nt_send(&T, &p, DP_TH_ACK | DP_TH_FIN, NULL, 0);
	CHECK(T.conn->state == DP_TCP_CLOSING);
	nt_poll(&T);
	nt_last(&T, &p, &s);
	CHECK(s.ack == p.seq);
	p.ack++;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(!T.conn && T.closed_reason == 0);
	nt_poll(&T);
	CHECK(dp_net_tw_count(T.net) == 1);
	nt_advance(&T, T.conf.time_wait_ms + 10);
}

static void test_fin_out_of_order(void)
{
	struct nt_peer p;
	uint32_t base;

	unsigned fins;

	new_conn(&p, 30003);
	base = p.seq;
	fins = T.fins;
	nt_send_at(&T, &p, base + 4, p.ack, DP_TH_ACK | DP_TH_FIN, "5678", 4);
	CHECK(T.fins == fins && T.conn->state == DP_TCP_ESTABLISHED);

	nt_send_at(&T, &p, base, p.ack, DP_TH_ACK, "1234", 4);
	CHECK(T.rx_len == 8 && memcmp(T.rx, "12345678", 8) == 0);
	CHECK(T.fins == fins + 1 && T.conn->state == DP_TCP_CLOSE_WAIT);
	dp_tcp_abort(T.conn);
	nt_poll(&T);
}

static void test_rst_and_data_after_close(void)
{
	struct nt_peer p;
	struct nt_seg s;

	new_conn(&p, 30004);
	nt_send(&T, &p, DP_TH_RST, NULL, 0);
	CHECK(!T.conn && T.closed_reason == -ECONNRESET);
	nt_poll(&T);
	CHECK(dp_net_conn_count(T.net) == 0);

	/* The app closed; more data arrives: RST (nobody will read it). */
	new_conn(&p, 30005);
	dp_tcp_close(T.conn);
	nt_poll(&T);
	nt_clear(&T);
	nt_send(&T, &p, DP_TH_ACK, "late", 4);
	CHECK(!T.conn && T.closed_reason == -ECONNABORTED);
	nt_last(&T, &p, &s);
	CHECK(s.flags & DP_TH_RST);
	CHECK(nt_counter(net_tcp_rx_after_close) == 1);
	nt_poll(&T);
}

static void tw_conf(struct dp_net_conf *c)
{
	c->tw_max = 2;
}

static void test_tw_bounds_and_reuse(void)
{
	struct nt_peer p[3];
	struct nt_seg s;

	nt_fini(&T);
	nt_init(&T, tw_conf);
	for (int i = 0; i < 3; i++) {
		new_conn(&p[i], (uint16_t)(31000 + i));
		dp_tcp_close(T.conn);
		nt_poll(&T);
		p[i].ack++;
		nt_send(&T, &p[i], DP_TH_ACK | DP_TH_FIN, NULL, 0);
		nt_poll(&T);
	}
	/* Three closes into two slots: the oldest went. */
	CHECK(dp_net_tw_count(T.net) == 2);
	CHECK(nt_counter(net_tcp_tw_evicted) == 1);
	CHECK(!dp_tw_lookup(T.net, p[0].ip, p[0].port, NT_PORT));
	/* A new SYN with a higher ISN takes over the tuple. */
	nt_clear(&T);
	p[1].isn = p[1].seq + 100000;
	p[1].seq = p[1].isn;
	nt_send(&T, &p[1], DP_TH_SYN, NULL, 0);
	CHECK(nt_counter(net_tcp_tw_reused) == 1);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) &&
	      s.flags == (DP_TH_SYN | DP_TH_ACK));
	CHECK(dp_net_tw_count(T.net) == 1);
	/* An old SYN (lower ISN, older timestamp) gets the TW ACK instead. */
	nt_clear(&T);
	p[2].ts = false;
	nt_send_at(&T, &p[2], p[2].seq - 50000, 0, DP_TH_SYN, NULL, 0);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) && s.flags == DP_TH_ACK);
	nt_advance(&T, T.conf.time_wait_ms + 10);
	CHECK(dp_net_tw_count(T.net) == 0);
}

static void ka_conf(struct dp_net_conf *c)
{
	c->keepalive_ms = 10000;
	c->keepalive_probes = 2;
	c->idle_timeout_ms = 60000;
}

static void test_keepalive_and_idle(void)
{
	struct nt_peer p;
	struct nt_seg s;
	uint64_t ka = nt_counter(net_tcp_keepalive_tx);

	nt_fini(&T);
	nt_init(&T, ka_conf);
	new_conn(&p, 32000);
	nt_advance(&T, 10010);
	CHECK(nt_counter(net_tcp_keepalive_tx) == ka + 1);
	nt_last(&T, &p, &s);
	CHECK(s.seq == p.ack - 1 && s.len == 0);
	/* The peer answers: the count starts again. */
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	nt_advance(&T, 10010);
	CHECK(nt_counter(net_tcp_keepalive_tx) == ka + 2);
	/* Silence: probes at 2.5 s intervals, then the connection goes. */
	nt_advance(&T, 2500);
	CHECK(nt_counter(net_tcp_keepalive_tx) == ka + 3);
	nt_advance(&T, 2500);
	CHECK(!T.conn && T.closed_reason == -ETIMEDOUT);
	CHECK(nt_counter(net_tcp_idle) == 1);
}

static void app_timer_conf(struct dp_net_conf *c)
{
	c->keepalive_ms = 0;
	c->idle_timeout_ms = 5000;
}

static void test_app_timer_and_idle(void)
{
	struct nt_peer p;

	nt_fini(&T);
	nt_init(&T, app_timer_conf);
	new_conn(&p, 32001);
	dp_tcp_app_timer_set(T.conn, T.now + 300);
	nt_advance(&T, 299);
	CHECK(T.timers == 0);
	nt_advance(&T, 2);
	CHECK(T.timers == 1);
	nt_advance(&T, 5000);
	CHECK(!T.conn && T.closed_reason == -ETIMEDOUT);
}

int main(void)
{
	nt_init(&T, NULL);
	test_peer_closes_first();
	test_we_close_first();
	test_simultaneous_close();
	test_fin_out_of_order();
	test_rst_and_data_after_close();
	test_tw_bounds_and_reuse();
	test_keepalive_and_idle();
	test_app_timer_and_idle();
	nt_fini(&T);
	printf("test_tcp_close: ok\n");
	return 0;
}
