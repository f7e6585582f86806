/*
 * test_tcp_data — receiving and sending data on an established
 * connection: in order, out of order, duplicated, split at every byte,
 * zero window and window update (the app's backpressure), data outside the
 * window, sequence wrap-around, PAWS, and the RFC 5961 checks (challenge
 * ACKs for in-window RST and SYN, unacceptable ACKs).
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

static void end_conn(void)
{
	if (T.conn)
		dp_tcp_abort(T.conn);
	nt_poll(&T);
	nt_clear(&T);
	CHECK(dp_net_conn_count(T.net) == 0);
	T.take_max = SIZE_MAX;
}

static void test_in_order(void)
{
	struct nt_peer p;
	struct nt_seg s;

	new_conn(&p, 50000);
	nt_send(&T, &p, DP_TH_ACK | DP_TH_PSH, "EHLO a\r\n", 8);
	nt_send(&T, &p, DP_TH_ACK | DP_TH_PSH, "NOOP\r\n", 6);
	CHECK(T.rx_len == 14 && memcmp(T.rx, "EHLO a\r\nNOOP\r\n", 14) == 0);
	CHECK(T.nout == 0); /* ACKs wait for the end of the round */
	nt_poll(&T);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s));
	CHECK(s.flags == DP_TH_ACK && s.ack == p.seq && s.len == 0);
	/* RFC 7323 §4.3: a delayed ACK echoes the earliest unACKed TSval. */
	CHECK(s.o.has_ts && s.o.tsecr == p.tsval - 1);
	end_conn();
}

static void test_out_of_order_and_dup(void)
{
	struct nt_peer p;
	struct nt_seg s;
	uint32_t base;

	new_conn(&p, 50001);
	base = p.seq;
	/* Third, then second, then first segment. */
	nt_send_at(&T, &p, base + 10, p.ack, DP_TH_ACK, "cccccccccc", 10);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) && s.ack == base);
	nt_send_at(&T, &p, base + 5, p.ack, DP_TH_ACK, "bbbbb", 5);
	CHECK(T.nout == 2 && nt_tcp(&T, 1, &s) && s.ack == base);
	CHECK(T.rx_len == 0);
	CHECK(T.conn->ooo_count == 1); /* merged into one range */
	nt_send_at(&T, &p, base, p.ack, DP_TH_ACK, "aaaaa", 5);
	CHECK(T.rx_len == 20);
	CHECK(memcmp(T.rx, "aaaaabbbbbcccccccccc", 20) == 0);
	nt_poll(&T);
	nt_last(&T, &p, &s);
	CHECK(s.ack == base + 20);
	p.seq = base + 20;

	/* A duplicate of old data: not delivered again, ACKed at once. */
	nt_clear(&T);
	nt_send_at(&T, &p, base + 5, p.ack, DP_TH_ACK, "bbbbb", 5);
	CHECK(T.rx_len == 20);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) && s.ack == base + 20);
	/* Overlapping old and new bytes: only the new ones go up. */
	nt_send_at(&T, &p, base + 18, p.ack, DP_TH_ACK, "ccXY", 4);
	CHECK(T.rx_len == 22 && memcmp(T.rx + 20, "XY", 2) == 0);
	end_conn();
}

static void test_ooo_hole_limit(void)
{
	struct nt_peer p;
	uint32_t base;

	new_conn(&p, 50002);
	base = p.seq;
	/* Five separate holes; ooo_ranges_max is 4, the fifth is dropped. */
	for (uint32_t i = 0; i < 5; i++)
		nt_send_at(&T, &p, base + 10 + 20 * i, p.ack, DP_TH_ACK,
			   "0123456789", 10);
	CHECK(T.conn->ooo_count == 4);
	CHECK(nt_counter(net_tcp_ooo_drop) == 1);
	end_conn();
}

/* Every split point of a message into two segments, delivered in both
 * orders, gives the app the same bytes. */
static void test_split_every_byte(void)
{
	static const char msg[] =
	    "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d>\r\n";
	size_t n = sizeof(msg) - 1;

	for (size_t k = 1; k < n; k++) {
		for (int order = 0; order < 2; order++) {
			struct nt_peer p;
			uint32_t base;

			new_conn(&p, (uint16_t)(51000 + k * 2 + order));
			base = p.seq;
			if (order == 0) {
				nt_send_at(&T, &p, base, p.ack, DP_TH_ACK, msg,
					   k);
				nt_send_at(&T, &p, base + k, p.ack, DP_TH_ACK,
					   msg + k, n - k);
			} else {
				nt_send_at(&T, &p, base + k, p.ack, DP_TH_ACK,
					   msg + k, n - k);
				nt_send_at(&T, &p, base, p.ack, DP_TH_ACK, msg,
					   k);
			}
			CHECK(T.rx_len == n && memcmp(T.rx, msg, n) == 0);
			end_conn();
		}
	}
}

static void test_zero_window(void)
{
	struct nt_peer p;
	struct nt_seg s;
	static uint8_t buf[8192];
	uint64_t full = nt_counter(net_tcp_window_full);

	memset(buf, 'x', sizeof(buf));
	new_conn(&p, 50003);
	T.take_max = 0; /* the app is stuck (a full sink) */
	for (unsigned i = 0; i < 8192 / 1024; i++)
		nt_send(&T, &p, DP_TH_ACK, buf, 1024);
	nt_poll(&T);
	nt_last(&T, &p, &s);
	CHECK(s.ack == p.seq && s.wnd == 0);
	CHECK(dp_tcp_recv_pending(T.conn) == 8192);
	/* More data at a zero window: dropped and counted, ACK says 0. */
	nt_clear(&T);
	nt_send_at(&T, &p, p.seq, p.ack, DP_TH_ACK, buf, 100);
	nt_poll(&T);
	CHECK(nt_counter(net_tcp_window_full) == full + 100);
	nt_last(&T, &p, &s);
	CHECK(s.ack == p.seq && s.wnd == 0);
	/* The app catches up: a window update goes out. */
	nt_clear(&T);
	T.take_max = SIZE_MAX;
	dp_tcp_recv_resume(T.conn);
	CHECK(T.rx_len == 8192);
	nt_poll(&T);
	CHECK(T.nout == 1);
	nt_last(&T, &p, &s);
	CHECK(s.wnd == 8192 && s.ack == p.seq);
	/* Partly taken: the window is what is free. */
	nt_clear(&T);
	T.take_max = 500; /* per call: 500 of each 1000 stay */
	for (int i = 0; i < 3; i++)
		nt_send(&T, &p, DP_TH_ACK, buf, 1000);
	nt_poll(&T);
	nt_last(&T, &p, &s);
	CHECK(s.wnd == 8192 - 1500);
	end_conn();
}

static void test_peer_zero_window(void)
{
	struct nt_peer p;
	struct nt_seg s;

	new_conn(&p, 50004);
	p.wnd = 0;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0); /* window update to 0 */
	CHECK(T.conn->snd_wnd == 0);
	CHECK(dp_tcp_send(T.conn, "220 hi\r\n", 8) == 8);
	nt_poll(&T);
	CHECK(T.nout == 0); /* nothing may go out */
	/* The persist timer probes the window after one RTO (200 ms: the
	 * handshake's RTT sample was 0), then backs off: 600 ms, 1400 ms. */
	nt_advance(&T, 250);
	CHECK(nt_counter(net_tcp_persist_probe) == 1);
	nt_advance(&T, 1200);
	CHECK(nt_counter(net_tcp_persist_probe) == 3);
	nt_last(&T, &p, &s);
	CHECK(s.len == 0 && s.seq == p.ack - 1);
	/* The peer opens its window; the data goes. */
	nt_clear(&T);
	p.wnd = 100;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	nt_poll(&T);
	nt_last(&T, &p, &s);
	CHECK(s.len == 8 && memcmp(s.data, "220 hi\r\n", 8) == 0);
	CHECK(s.seq == p.ack);
	end_conn();
}

static void test_out_of_window(void)
{
	struct nt_peer p;
	struct nt_seg s;
	uint64_t oow = nt_counter(net_tcp_out_of_window);

	new_conn(&p, 50005);
	nt_send_at(&T, &p, p.seq + 100000, p.ack, DP_TH_ACK, "zz", 2);
	CHECK(T.rx_len == 0);
	CHECK(nt_counter(net_tcp_out_of_window) == oow + 1);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) && s.ack == p.seq);
	end_conn();
}

static void test_rfc5961(void)
{
	struct nt_peer p;
	struct nt_seg s;
	uint64_t ch = nt_counter(net_tcp_challenge_ack);

	new_conn(&p, 50006);
	/* RST in the window but not at rcv_nxt: challenge ACK (§3.2). */
	nt_send_at(&T, &p, p.seq + 10, 0, DP_TH_RST, NULL, 0);
	CHECK(T.conn && nt_counter(net_tcp_challenge_ack) == ch + 1);
	CHECK(T.nout == 1 && nt_tcp(&T, 0, &s) && s.flags == DP_TH_ACK &&
	      s.ack == p.seq);
	/* RST outside the window: silently ignored. */
	nt_clear(&T);
	nt_send_at(&T, &p, p.seq + 100000, 0, DP_TH_RST, NULL, 0);
	CHECK(T.conn && T.nout == 0);
	/* SYN on an established connection: challenge ACK (§4.2). */
	nt_send_at(&T, &p, p.seq, 0, DP_TH_SYN, NULL, 0);
	CHECK(T.conn && nt_counter(net_tcp_challenge_ack) == ch + 2);
	/* ACK of data never sent (§5.2): ACK back, drop the data. */
	nt_clear(&T);
	nt_send_at(&T, &p, p.seq, p.ack + 5000, DP_TH_ACK, "data", 4);
	CHECK(T.rx_len == 0 && nt_counter(net_tcp_ack_unsent) == 1);
	CHECK(T.nout == 1);
	/* The challenge ACK budget (RFC 5961 §7). */
	T.conf.challenge_ack_per_s = 0;
	T.net->conf.challenge_ack_per_s = 3;
	T.now += 2000;
	for (int i = 0; i < 10; i++)
		nt_send_at(&T, &p, p.seq + 10, 0, DP_TH_RST, NULL, 0);
	CHECK(nt_counter(net_tcp_challenge_limited) == 7);
	T.net->conf.challenge_ack_per_s = 1000;
	/* The exact RST resets. */
	nt_send_at(&T, &p, p.seq, 0, DP_TH_RST, NULL, 0);
	CHECK(!T.conn && T.closed_reason == -ECONNRESET);
	end_conn();
}

static void test_paws(void)
{
	struct nt_peer p;
	uint64_t paws = nt_counter(net_tcp_paws);

	new_conn(&p, 50007);
	nt_send(&T, &p, DP_TH_ACK, "ab", 2);
	p.tsval -= 100; /* an old duplicate's timestamp */
	nt_send(&T, &p, DP_TH_ACK, "cd", 2);
	CHECK(nt_counter(net_tcp_paws) == paws + 1);
	CHECK(T.rx_len == 2);
	end_conn();
}

static void wrap_conf(struct dp_net_conf *c)
{
	c->snd_buf_size = 65536;
	c->rcv_buf_size = 65536;
}

/* Both sequence spaces cross 2^32 while data flows. */
static void test_wrap(void)
{
	static uint8_t buf[6000], got[6000];
	struct nt_peer p;
	struct nt_seg s;
	uint32_t sent = 0, i;

	nt_fini(&T);
	nt_init(&T, wrap_conf);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	/* t = 31, MSS 1460, no WS, TS: the cookie's top 12 bits are all
	 * ones, so it is within 2^20 of the wrap; look for a peer ISN
	 * whose cookie lands within 4 KiB of it. */
	T.now = 31 * 64000 + 1000;
	nt_poll(&T);
	nt_peer_init(&p, 0x0a000002, 52000);
	nt_peer_arp(&T, &p);
	p.ws = false;
	for (i = 0;; i++) {
		p.isn = p.seq = 0xfffff000u + i;
		nt_clear(&T);
		nt_send(&T, &p, DP_TH_SYN, NULL, 0);
		CHECK(nt_tcp(&T, 0, &s));
		if (s.seq >= 0xfffff000u)
			break;
		CHECK(i < 100000);
	}
	p.ack = s.seq + 1;
	p.ts_echo = s.o.tsval;
	nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	CHECK(T.conn);
	T.rx_len = 0;
	/* Receive 6000 bytes across the peer's wrap. */
	for (uint32_t off = 0; off < sizeof(buf); off += 1000)
		nt_send(&T, &p, DP_TH_ACK, buf + off, 1000);
	CHECK(T.rx_len == sizeof(buf) && memcmp(T.rx, buf, sizeof(buf)) == 0);
	/* Send 6000 bytes across ours, ACKing as they come. */
	CHECK(dp_tcp_send(T.conn, buf, sizeof(buf)) == sizeof(buf));
	for (int round = 0; round < 20 && sent < sizeof(buf); round++) {
		nt_clear(&T);
		nt_poll(&T);
		for (unsigned k = 0; k < T.nout; k++) {
			if (!nt_tcp(&T, k, &s) || !s.len)
				continue;
			CHECK(s.seq == p.ack);
			memcpy(got + sent, s.data, s.len);
			sent += (uint32_t)s.len;
			p.ack += (uint32_t)s.len;
		}
		nt_send(&T, &p, DP_TH_ACK, NULL, 0);
	}
	CHECK(sent == sizeof(buf) && memcmp(got, buf, sizeof(buf)) == 0);
	CHECK(p.ack < 0x2000); /* it did wrap */
	CHECK(T.conn->snd_len == 0);
	end_conn();
}

int main(void)
{
	nt_init(&T, NULL);
	test_in_order();
	test_out_of_order_and_dup();
	test_ooo_hole_limit();
	test_split_every_byte();
	test_zero_window();
	test_peer_zero_window();
	test_out_of_window();
	test_rfc5961();
	test_paws();
	test_wrap();
	nt_fini(&T);
	printf("test_tcp_data: ok\n");
	return 0;
}
