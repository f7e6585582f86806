/*
 * net_harness — see net_harness.h.  The peer side here is written from
 * the RFCs independently of the stack's own output code, so a checksum or
 * option encoding bug on either side shows up as a failed parse.
 */
#include <errno.h>
#include <string.h>

#include "mx_time.h"
#include "net_harness.h"

const uint8_t nt_us_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

static uint8_t *tx_alloc(void *arg, size_t size, void **handle)
{
	struct nt *t = arg;

	CHECK(size <= sizeof(t->out[0].b));
	if (t->tx_fail) {
		t->tx_fail--;
		return NULL;
	}
	CHECK(t->nout < NT_OUT_MAX);
	*handle = &t->out[t->nout];
	return t->out[t->nout].b;
}

static void tx_send(void *arg, void *handle, size_t len, unsigned flags)
{
	struct nt *t = arg;
	struct nt_frame *f = handle;

	CHECK(f == &t->out[t->nout]);
	f->len = len;
	f->flags = flags;
	t->nout++;
}

static int app_accept(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	struct nt *t = arg;

	if (t->refuse)
		return -EPERM;
	t->accepts++;
	t->conn = c;
	return 0;
}

static size_t app_recv(void *arg, struct dp_tcp_conn *c, void *ctx,
		       const uint8_t *data, size_t len)
{
	struct nt *t = arg;
	size_t n = len < t->take_max ? len : t->take_max;

	CHECK(t->rx_len + n <= NT_RX_MAX);
	memcpy(t->rx + t->rx_len, data, n);
	t->rx_len += n;
	return n;
}

static void app_fin(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	struct nt *t = arg;

	t->fins++;
	if (t->close_on_fin)
		dp_tcp_close(c);
}

static void app_writable(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	((struct nt *)arg)->writables++;
}

static void app_timer(void *arg, struct dp_tcp_conn *c, void *ctx)
{
	((struct nt *)arg)->timers++;
}

static void app_closed(void *arg, struct dp_tcp_conn *c, void *ctx, int reason)
{
	struct nt *t = arg;

	t->closes++;
	t->closed_reason = reason;
	if (t->conn == c)
		t->conn = NULL;
}

void nt_init(struct nt *t, void (*conf_edit)(struct dp_net_conf *))
{
	nt_init_app(t, conf_edit, NULL);
}

void nt_init_app(struct nt *t, void (*conf_edit)(struct dp_net_conf *),
		 const struct dp_tcp_app *other)
{
	struct dp_net_tx tx = {tx_alloc, tx_send, t};
	struct dp_tcp_app app = {app_accept, app_recv,	 app_fin, app_writable,
				 app_timer,  app_closed, t};
	int err = 0;

	memset(t, 0, sizeof(*t));
	t->rx = malloc(NT_RX_MAX);
	CHECK(t->rx);
	t->take_max = SIZE_MAX;
	t->now = 1000000;
	dp_net_conf_defaults(&t->conf);
	memcpy(t->conf.mac, nt_us_mac, 6);
	t->conf.ip = NT_US_IP;
	t->conf.prefix_len = 24;
	t->conf.listen_port = NT_PORT;
	t->conf.conn_max = 8;
	t->conf.tw_max = 4;
	t->conf.rcv_buf_size = 8192;
	t->conf.snd_buf_size = 16384;
	t->conf.secret[0] = 0x0123456789abcdefull;
	t->conf.secret[1] = 0xfedcba9876543210ull;
	if (conf_edit)
		conf_edit(&t->conf);
	t->net =
	    dp_net_create(&t->conf, &tx, other ? other : &app, t->now, &err);
	CHECK(t->net && err == 0);
}

void nt_fini(struct nt *t)
{
	dp_net_destroy(t->net);
	free(t->rx);
}

void nt_clear(struct nt *t)
{
	t->nout = 0;
}

uint64_t nt_stack_ns;

void nt_poll(struct nt *t)
{
	uint64_t t0 = mx_now_ns();

	dp_net_poll(t->net, t->now);
	nt_stack_ns += mx_now_ns() - t0;
}

void nt_advance(struct nt *t, uint64_t ms)
{
	while (ms) {
		uint64_t step = ms < 5 ? ms : 5;

		t->now += step;
		ms -= step;
		nt_poll(t);
	}
}

void nt_input(struct nt *t, const uint8_t *f, size_t len)
{
	uint64_t t0 = mx_now_ns();

	dp_net_input(t->net, f, len, 0, t->now);
	nt_stack_ns += mx_now_ns() - t0;
}

void nt_peer_init(struct nt_peer *p, uint32_t ip, uint16_t port)
{
	memset(p, 0, sizeof(*p));
	p->ip = ip;
	p->port = port;
	p->mac[0] = 0x02;
	p->mac[5] = (uint8_t)ip;
	p->isn = 1000u * port;
	p->seq = p->isn;
	p->wnd = 65535;
	p->ts = p->ws = p->mss = true;
	p->wscale = 7;
	p->tsval = 5000;
}

void nt_peer_arp(struct nt *t, const struct nt_peer *p)
{
	uint8_t f[42] = {0};

	memset(f, 0xff, 6);
	memcpy(f + 6, p->mac, 6);
	dp_put16(f + 12, 0x0806);
	dp_put16(f + 14, 1);
	dp_put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	dp_put16(f + 20, 1);
	memcpy(f + 22, p->mac, 6);
	dp_put32(f + 28, p->ip);
	dp_put32(f + 38, NT_US_IP);
	nt_input(t, f, sizeof(f));
	nt_clear(t);
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

size_t nt_build_tcp(uint8_t *f, const struct nt_peer *p, uint32_t dst,
		    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		    uint16_t wnd, bool syn_opts, const void *data, size_t len)
{
	uint8_t *ip = f + 14, *th = ip + 20;
	size_t olen = 0, tlen;
	uint32_t s;

	memcpy(f, nt_us_mac, 6);
	memcpy(f + 6, p->mac, 6);
	dp_put16(f + 12, 0x0800);
	if (syn_opts && p->mss) {
		th[20 + olen++] = 2;
		th[20 + olen++] = 4;
		dp_put16(th + 20 + olen, 1460);
		olen += 2;
	}
	if (syn_opts && p->ws) {
		th[20 + olen++] = 1;
		th[20 + olen++] = 3;
		th[20 + olen++] = 3;
		th[20 + olen++] = p->wscale;
	}
	if (p->ts) {
		th[20 + olen++] = 1;
		th[20 + olen++] = 1;
		th[20 + olen++] = 8;
		th[20 + olen++] = 10;
		dp_put32(th + 20 + olen, p->tsval);
		dp_put32(th + 24 + olen, p->ts_echo);
		olen += 8;
	}
	tlen = 20 + olen + len;
	dp_put16(th, p->port);
	dp_put16(th + 2, dport);
	dp_put32(th + 4, seq);
	dp_put32(th + 8, ack);
	th[12] = (uint8_t)(((20 + olen) / 4) << 4);
	th[13] = flags;
	dp_put16(th + 14, wnd);
	th[16] = th[17] = th[18] = th[19] = 0;
	if (len)
		memcpy(th + 20 + olen, data, len);
	s = (p->ip >> 16) + (p->ip & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	    6 + (uint32_t)tlen;
	dp_put16(th + 16, fold(sum16(s, th, tlen)));
	ip[0] = 0x45;
	ip[1] = 0;
	dp_put16(ip + 2, (uint16_t)(20 + tlen));
	dp_put16(ip + 4, 0);
	dp_put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	ip[10] = ip[11] = 0;
	dp_put32(ip + 12, p->ip);
	dp_put32(ip + 16, dst);
	dp_put16(ip + 10, fold(sum16(0, ip, 20)));
	return 14 + 20 + tlen;
}

void nt_send_at(struct nt *t, struct nt_peer *p, uint32_t seq, uint32_t ack,
		uint8_t flags, const void *data, size_t len)
{
	uint8_t f[1600];
	size_t n;

	CHECK(len <= 1460);
	p->tsval++;
	n = nt_build_tcp(f, p, NT_US_IP, NT_PORT, seq, ack, flags, p->wnd,
			 flags & DP_TH_SYN, data, len);
	nt_input(t, f, n);
}

void nt_send(struct nt *t, struct nt_peer *p, uint8_t flags, const void *data,
	     size_t len)
{
	nt_send_at(t, p, p->seq, p->ack, flags, data, len);
	p->seq += (uint32_t)len + !!(flags & DP_TH_SYN) + !!(flags & DP_TH_FIN);
}

bool nt_tcp(const struct nt *t, unsigned i, struct nt_seg *s)
{
	const struct nt_frame *f = &t->out[i];
	const uint8_t *ip = f->b + 14, *th;
	size_t tot, doff;
	uint32_t sum;

	if (f->len < 54 || dp_get16(f->b + 12) != 0x0800 || ip[9] != 6)
		return false;
	CHECK(fold(sum16(0, ip, 20)) == 0);
	tot = dp_get16(ip + 2);
	CHECK(tot + 14 == f->len);
	th = ip + 20;
	s->src = dp_get32(ip + 12);
	s->dst = dp_get32(ip + 16);
	sum = (s->src >> 16) + (s->src & 0xffff) + (s->dst >> 16) +
	      (s->dst & 0xffff) + 6 + (uint32_t)(tot - 20);
	CHECK(fold(sum16(sum, th, tot - 20)) == 0);
	doff = (size_t)(th[12] >> 4) * 4;
	CHECK(doff >= 20 && doff <= tot - 20);
	s->sport = dp_get16(th);
	s->dport = dp_get16(th + 2);
	s->seq = dp_get32(th + 4);
	s->ack = dp_get32(th + 8);
	s->flags = th[13];
	s->wnd = dp_get16(th + 14);
	CHECK(dp_tcp_opts_parse(th + 20, doff - 20, &s->o));
	s->data = th + doff;
	s->len = tot - 20 - doff;
	return true;
}

void nt_last(const struct nt *t, const struct nt_peer *p, struct nt_seg *s)
{
	for (unsigned i = t->nout; i-- > 0;)
		if (nt_tcp(t, i, s) && s->dst == p->ip && s->dport == p->port)
			return;
	fprintf(stderr, "nt_last: nothing to port %u\n", p->port);
	abort();
}

unsigned nt_count_tcp(const struct nt *t, uint8_t flags_all)
{
	struct nt_seg s;
	unsigned n = 0;

	for (unsigned i = 0; i < t->nout; i++)
		if (nt_tcp(t, i, &s) && (s.flags & flags_all) == flags_all)
			n++;
	return n;
}

void nt_handshake(struct nt *t, struct nt_peer *p)
{
	struct nt_seg s;
	unsigned acc = t->accepts;

	nt_clear(t);
	nt_send(t, p, DP_TH_SYN, NULL, 0);
	CHECK(t->nout == 1);
	CHECK(nt_tcp(t, 0, &s));
	CHECK(s.flags == (DP_TH_SYN | DP_TH_ACK));
	CHECK(s.ack == p->seq);
	p->ack = s.seq + 1;
	if (s.o.has_ts)
		p->ts_echo = s.o.tsval;
	nt_send(t, p, DP_TH_ACK, NULL, 0);
	CHECK(t->accepts == acc + 1);
	nt_poll(t);
	nt_clear(t);
}

uint64_t nt_counter(enum dp_net_counter c)
{
	return mx_counter_local(&dp_net_counters, c);
}
