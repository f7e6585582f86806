/*
 * fuzz_net — libFuzzer target for the stack's input path: Ethernet, ARP,
 * IPv4, ICMP and above all TCP segment arrival.  The input is a script of
 * records, each [op][len][len bytes]:
 *
 *   op 0  a raw frame, as is (header parsers, checksums)
 *   op 1  a TCP segment from the scripted peer, checksums made valid so
 *         the state machine is reached: flags, seq and ack as offsets
 *         from what the peer believes, window, options, payload
 *   op 2  advance the clock by 1..65536 ms and poll (timers, TIME_WAIT)
 *   op 3  an app action on the connection: send, close, abort, resume,
 *         change how much the app takes per call
 *   op 4  a full handshake (SYN, read the cookie, ACK) from a new port
 *
 * The harness keeps the peer's idea of the sequence numbers in step with
 * what the stack sends, so deep states (recovery, zero window, FIN states,
 * TIME_WAIT) are reachable.  Crashes, sanitizer reports and the stack's own
 * MX_ASSERTs are the findings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_net.h"
#include "dp_net_priv.h"

#define US_IP 0x0a000001u
#define PEER_IP 0x0a000002u

static const uint8_t us_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 2};

static uint8_t txbuf[2048];
static struct dp_net *net;
static struct dp_tcp_conn *conn;
static uint64_t now;
static size_t take_max;
static uint16_t peer_port;
static uint32_t peer_seq, peer_ack, peer_ts;
static uint32_t last_synack;
static uint8_t junk[4096];

static uint8_t *tx_alloc(void *arg, size_t size, void **h)
{
	*h = txbuf;
	return size <= sizeof(txbuf) ? txbuf : NULL;
}

/* Learns from what the stack sends: the cookie of a SYN-ACK and the next
 * sequence number the peer should acknowledge. */
static void tx_send(void *arg, void *h, size_t len, unsigned flags)
{
	const uint8_t *ip = txbuf + 14, *th;
	uint32_t seq;
	size_t doff, plen;

	if (len < 54 || dp_get16(txbuf + 12) != 0x0800 || ip[9] != 6)
		return;
	th = ip + 20;
	seq = dp_get32(th + 4);
	doff = (size_t)(th[12] >> 4) * 4;
	plen = len - 34 - doff;
	if ((th[13] & (DP_TH_SYN | DP_TH_ACK)) == (DP_TH_SYN | DP_TH_ACK))
		last_synack = seq;
	else if (dp_get16(th + 2) == peer_port)
		peer_ack = seq + (uint32_t)plen + !!(th[13] & DP_TH_FIN);
}

static int app_accept(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	conn = c;
	return 0;
}

static size_t app_recv(void *arg, struct dp_tcp_conn *c, void *ctx,
		       const uint8_t *d, size_t len)
{
	return len < take_max ? len : take_max;
}

static void app_closed(void *arg, struct dp_tcp_conn *c, void *ctx, int r)
{
	if (c == conn)
		conn = NULL;
}

static void app_writable(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	dp_tcp_send(c, junk, 100);
}

static void segment(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd,
		    const uint8_t *opts, size_t olen, const uint8_t *data,
		    size_t dlen)
{
	static uint8_t f[1600];
	uint8_t *ip = f + 14, *th = ip + 20;
	size_t tl;
	uint32_t s;

	if (dlen > 1400)
		dlen = 1400;
	tl = 20 + olen + dlen;
	memcpy(f, us_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	dp_put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	dp_put16(ip + 2, (uint16_t)(20 + tl));
	dp_put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	dp_put32(ip + 12, PEER_IP);
	dp_put32(ip + 16, US_IP);
	dp_put16(ip + 10, dp_csum_fold(dp_csum_add(0, ip, 20)));
	dp_put16(th, peer_port);
	dp_put16(th + 2, 25);
	dp_put32(th + 4, seq);
	dp_put32(th + 8, ack);
	th[12] = (uint8_t)(((20 + olen) / 4) << 4);
	th[13] = flags;
	dp_put16(th + 14, wnd);
	th[16] = th[17] = th[18] = th[19] = 0;
	memcpy(th + 20, opts, olen);
	if (dlen)
		memcpy(th + 20 + olen, data, dlen);
	s = dp_csum_pseudo(PEER_IP, US_IP, 6, (uint16_t)tl);
	dp_put16(th + 16, dp_csum_fold(dp_csum_add(s, th, tl)));
	dp_net_input(net, f, 14 + 20 + tl, 0, now);
}

static void handshake(void)
{
	uint8_t opts[20] = {2, 4, 5, 0xb4, 1, 3, 3, 7, 1, 1, 8, 10};

	peer_port++;
	if (peer_port < 1024)
		peer_port = 1024;
	peer_seq = 0x10000000u * (peer_port & 15) + 12345;
	dp_put32(opts + 12, ++peer_ts);
	segment(DP_TH_SYN, peer_seq, 0, 65535, opts, 20, NULL, 0);
	peer_seq++;
	peer_ack = last_synack + 1;
	memcpy(opts, (uint8_t[]){1, 1, 8, 10}, 4);
	dp_put32(opts + 4, ++peer_ts);
	dp_put32(opts + 8, 0);
	segment(DP_TH_ACK, peer_seq, peer_ack, 65535, opts, 12, NULL, 0);
	dp_net_poll(net, now);
}

static void setup(void)
{
	struct dp_net_conf c;
	struct dp_net_tx tx = {tx_alloc, tx_send, NULL};
	struct dp_tcp_app app = {app_accept, app_recv,	 NULL, app_writable,
				 NULL,	     app_closed, NULL};
	int err;

	dp_net_conf_defaults(&c);
	memcpy(c.mac, us_mac, 6);
	c.ip = US_IP;
	c.prefix_len = 24;
	c.listen_port = 25;
	c.conn_max = 4;
	c.tw_max = 2;
	c.rcv_buf_size = 4096;
	c.snd_buf_size = 4096;
	c.synq_size = 4;
	c.secret[0] = 1;
	c.secret[1] = 2;
	net = dp_net_create(&c, &tx, &app, 1000, &err);
	if (!net)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	size_t i = 0;

	setup();
	now = 1000;
	conn = NULL;
	take_max = SIZE_MAX;
	peer_port = 1024;
	peer_ts = 1;
	while (i + 3 <= n) {
		uint8_t op = d[i] % 5;
		size_t len = dp_get16(d + i + 1);
		const uint8_t *p = d + i + 3;

		if (len > n - i - 3)
			len = n - i - 3;
		i += 3 + len;
		switch (op) {
		case 0:
			dp_net_input(net, p, len, 0, now);
			break;
		case 1: {
			size_t olen, dlen;

			if (len < 8)
				break;
			olen = p[7] & 0x3cu;
			if (olen > 40)
				olen = 40;
			if (olen > len - 8)
				olen = (len - 8) & ~(size_t)3;
			dlen = len - 8 - olen;
			segment(
			    p[0], peer_seq + (uint32_t)(int16_t)dp_get16(p + 1),
			    peer_ack + (uint32_t)(int16_t)dp_get16(p + 3),
			    dp_get16(p + 5), p + 8, olen, p + 8 + olen, dlen);
			if (p[0] & 0x80) /* advance as if it was in order */
				peer_seq += (uint32_t)dlen;
			break;
		}
		case 2:
			now += 1 + (len >= 2 ? dp_get16(p) : 0);
			break;
		case 3:
			if (!conn || !len)
				break;
			switch (p[0] & 7) {
			case 0:
				dp_tcp_send(conn, junk, len);
				break;
			case 1:
				dp_tcp_close(conn);
				break;
			case 2:
				dp_tcp_abort(conn);
				break;
			case 3:
				dp_tcp_recv_resume(conn);
				break;
			case 4:
				take_max = len > 1 ? p[1] * 16u : 0;
				break;
			default:
				dp_tcp_app_timer_set(conn, now + p[0]);
				break;
			}
			break;
		case 4:
			handshake();
			break;
		}
		dp_net_poll(net, now);
	}
	dp_net_destroy(net);
	return 0;
}
