#!/usr/bin/python3
"""A SYN flood on the DPDK backend (issue 9): mxgate with
dataplane.backend = dpdk on a net_tap device moved into a network namespace
this test creates (mxtest.DpdkNetns).  Inside the namespace a raw
AF_PACKET sender (this same file run with --flood) fires TCP SYNs at the
daemon's address and SMTP port only, with random source ports and source
addresses spoofed inside the namespace's own /24 (.50-.250), paced to what
the daemon drains, for FLOOD_S seconds.  After ALONE_S seconds real
clients in the namespace (swaks, smtplib, from .2) connect and deliver; one
more client has its handshake ACK dropped by an nftables quota rule, the
case the SYN-ACK resend cache exists for.  The counters then prove: every
SYN got a cookie SYN-ACK, the only connections and sessions are the real
clients', spoofed SYNs touched no ARP entry, the lost ACK was recovered by
a resend, the resends stayed under their caps, and every message reached
the Maildir exactly once.  Bounded: about 25 s in all.  Needs root and
/dev/net/tun; exits 77 without them."""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

FLOOD_S = 12         # the flood lasts this long (the flooder's own clock)
ALONE_S = 2          # of which the first seconds without clients
CLIENT_TIMEOUT = 20  # seconds a client waits for any reply
SWAKS_MSGS = 5       # one connection each
PY_CONNS, PY_MSGS = 3, 5
LOST_ACK_PORT = 30001  # the client whose handshake ACK is dropped (below
                       # the ephemeral range, in our own namespace)


def flood(iface, dst_mac, src_net, dst_ip, dport):
    """Sends SYNs to dst_ip:dport through iface for FLOOD_S seconds (or
    until SIGTERM); prints {"syns": n, "seconds": t} on stdout.  Sources are
    src_net.50 to src_net.250 only (src_net is the namespace's /24)."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = s.getsockname()[4]
    dst = socket.inet_aton(dst_ip)
    net = [int(x) for x in src_net.split(".")]
    srcs = [bytes(net + [h]) for h in range(50, 251)]
    # Ethernet | IPv4 (20) | TCP (20 + MSS option 4) — RFC 791, RFC 9293 §3.1
    tcp_len = 24
    frame = bytearray(14 + 20 + tcp_len)
    frame[0:6] = bytes.fromhex(dst_mac.replace(":", ""))
    frame[6:12] = src_mac
    frame[12:14] = b"\x08\x00"
    struct.pack_into("!BBHHHBBH4s4s", frame, 14, 0x45, 0, 20 + tcp_len, 0,
                     0x4000, 64, 6, 0, b"\0\0\0\0", dst)
    struct.pack_into("!HHIIBBHHHBBH", frame, 34, 0, dport, 0, 0,
                     (tcp_len // 4) << 4, 0x02, 64240, 0, 0, 2, 4, 1460)

    def words(b):
        return sum(struct.unpack("!%dH" % (len(b) // 2), b))

    ip_base = words(bytes(frame[14:34]))
    # pseudo-header (RFC 9293 §3.1) with the source left at zero
    tcp_base = words(dst) + 6 + tcp_len + words(bytes(frame[34:34 + tcp_len]))
    pre = []
    for a in srcs:
        w = words(a)
        pre.append((a, ip_base + w, tcp_base + w))
    # Paced to what the daemon's poll loop drains: a flood past that only
    # overflows the tap's queue, which drops real clients' segments as
    # blindly as the SYNs and tests the link, not the listener.  So the
    # gap between bursts grows while the tap reports drops and shrinks
    # while it does not (AIMD), keeping the daemon saturated.
    drops_path = "/sys/class/net/%s/statistics/tx_dropped" % iface

    def drops():
        with open(drops_path) as f:
            return int(f.read())

    gap, last_drops = 0.0, drops()
    n = 0
    start = time.monotonic()
    rnd = random.getrandbits
    pack = struct.pack_into
    send = s.send
    while not stop:
        if n % 256 == 0:
            if n % 4096 == 0:
                if time.monotonic() - start > FLOOD_S:
                    break
                now_drops = drops()
                gap = gap * 1.5 + 1e-4 if now_drops > last_drops else gap * 0.9
                last_drops = now_drops
            if gap:
                time.sleep(gap)
        a, ipsum, tsum = pre[rnd(16) % len(pre)]
        sport = 1024 + rnd(16) % 64512
        seq = rnd(32)
        ipsum = (ipsum & 0xffff) + (ipsum >> 16)
        ipsum = (ipsum & 0xffff) + (ipsum >> 16)
        t = tsum + sport + (seq >> 16) + (seq & 0xffff)
        t = (t & 0xffff) + (t >> 16)
        t = (t & 0xffff) + (t >> 16)
        pack("!H", frame, 24, ~ipsum & 0xffff)
        frame[26:30] = a
        pack("!HHI", frame, 34, sport, dport, seq)
        pack("!H", frame, 50, ~t & 0xffff)
        try:
            send(frame)
            n += 1
        except OSError:
            pass  # ENOBUFS: the tap queue is full; not counted as sent
    print(json.dumps({"syns": n, "seconds": time.monotonic() - start}),
          flush=True)


if len(sys.argv) > 1 and sys.argv[1] == "--flood":
    flood(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    sys.exit(0)

from mxtest import SKIP, DpdkNetns, check, dpdk_skip_reason, fail  # noqa: E402

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
why = dpdk_skip_reason(mxgate)
if not why and not shutil.which("swaks"):
    why = "needs swaks"
if not why and not shutil.which("nft"):
    why = "needs nft (nftables)"
if why:
    print("SKIP: " + why)
    sys.exit(SKIP)

# The per-core resend cap the daemon runs with (the shipped default).
RESENDS_PER_S = 1000


def swaks_run(net, tag, ids, errs):
    for i in range(SWAKS_MSGS):
        r = net.nsx("swaks", "--server", "%s:%d" % (net.ip_srv, net.daemon.port),
                    "--to", "sw%d@example.test" % i, "--from", "s@remote.test",
                    "--body", "marker %s-sw%d\n" % (tag, i), "--timeout",
                    str(CLIENT_TIMEOUT), timeout=3 * CLIENT_TIMEOUT)
        m = re.search(rb"queued as ([0-9a-f]{16})", r.stdout)
        if m:
            ids.append(m.group(1).decode())
        else:
            errs.append("swaks %d: %s" % (i, r.stdout[-400:]))


# argv: host port tag conns msgs timeout [source port]
PY_CLIENT = r"""
import re, smtplib, sys
host, port, tag, conns, msgs, tmo = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
src = ('', int(sys.argv[7])) if len(sys.argv) > 7 else None
for c in range(conns):
    s = smtplib.SMTP(host, port, timeout=tmo, source_address=src)
    s.ehlo('client.test')
    for i in range(msgs):
        s.mail('a@remote.test')
        code, _ = s.rcpt('py%d@example.test' % i)
        assert code == 250, code
        code, resp = s.data('Subject: %d/%d\r\n\r\nmarker %s-%d-%d\r\n' % (c, i, tag, c, i))
        m = re.search(rb'queued as ([0-9a-f]{16})', resp)
        assert code == 250 and m, (code, resp)
        print(m.group(1).decode(), flush=True)
    s.quit()
"""

# Drops the first pure ACK the lost-ACK client sends (its handshake ACK,
# 52 bytes with timestamps) and none after: the quota is spent by then.
NFT_LOSE_ACK = """
table inet mxsf {
  chain out {
    type filter hook output priority 0;
    tcp sport %d tcp flags == ack quota until 60 bytes counter drop
  }
}
""" % LOST_ACK_PORT

with DpdkNetns(mxgate, ctl, "mxsf") as net:
    d = net.daemon
    try:
        check(d.status()["backend"] == "dpdk", "mxgate runs the DPDK backend")
        cores = d.status()["cores"]
        r = net.nsx("ping", "-c", "2", "-W", "2", net.ip_srv)
        check(r.returncode == 0, "ping through the userspace stack")
        dmac = net.peer_mac()
        check(dmac, "the daemon's MAC is known")
        r = subprocess.run(["ip", "netns", "exec", net.ns, "nft", "-f", "-"],
                           input=NFT_LOSE_ACK.encode(), capture_output=True)
        check(r.returncode == 0, "nftables rule to lose one handshake ACK %s"
              % r.stderr.decode()[-200:])

        c0 = d.counters()
        drop0 = net.tap_stat("tx_dropped")
        check(c0.get("net_tcp_syn_rx", -1) == 0 and c0.get("net_tcp_accepted", -1) == 0,
              "no TCP yet (syn_rx=%s accepted=%s)" % (c0.get("net_tcp_syn_rx"),
                                                      c0.get("net_tcp_accepted")))

        t_flood = time.monotonic()
        flooder = net.nsp("/usr/bin/python3", os.path.abspath(__file__), "--flood",
                          net.tap, dmac, net.subnet, net.ip_srv, str(d.port))
        time.sleep(ALONE_S)
        if flooder.poll() is not None:
            fail("flooder died: %s" % flooder.stderr.read().decode()[-600:])
        c1 = d.counters()
        st1 = d.status()
        print("flood alone %d s: syn_rx=%d synack_tx=%d accepted=%d sessions=%d" % (
            ALONE_S, c1["net_tcp_syn_rx"], c1["net_tcp_synack_tx"],
            c1["net_tcp_accepted"], st1["sessions"]), flush=True)
        check(c1["net_tcp_syn_rx"] > 10000 * ALONE_S,
              "the daemon sees the flood (%d SYNs in %d s)" % (c1["net_tcp_syn_rx"], ALONE_S))
        check(c1["net_tcp_accepted"] == 0 and st1["sessions"] == 0,
              "the flood alone establishes nothing")

        # Real clients during the flood, sampling the session gauge meanwhile.
        tag = "%d" % os.getpid()
        sw_ids, sw_errs = [], []
        sw = threading.Thread(target=swaks_run, args=(net, tag, sw_ids, sw_errs))
        py = net.nsp("/usr/bin/python3", "-c", PY_CLIENT, net.ip_srv, str(d.port),
                     tag + "-py", str(PY_CONNS), str(PY_MSGS), str(CLIENT_TIMEOUT))
        lost = net.nsp("/usr/bin/python3", "-c", PY_CLIENT, net.ip_srv, str(d.port),
                       tag + "-lost", "1", "1", str(CLIENT_TIMEOUT), str(LOST_ACK_PORT))
        sw.start()
        peak = 0
        while sw.is_alive() or py.poll() is None or lost.poll() is None:
            peak = max(peak, d.status()["sessions"])
            time.sleep(0.1)
        sw.join()
        py_out, py_err = py.communicate()
        lost_out, lost_err = lost.communicate()
        still_flooding = flooder.poll() is None
        t_clients = time.monotonic() - t_flood
        cm = d.counters()
        print("clients done %.1f s into the flood: accepted=%d synack_retx=%d "
              "synq_recovered=%d tap tx_dropped=%d" % (
                  t_clients, cm["net_tcp_accepted"], cm["net_tcp_synack_retx"],
                  cm["net_tcp_synq_recovered"], net.tap_stat("tx_dropped") - drop0),
              flush=True)
        check(not sw_errs and len(sw_ids) == SWAKS_MSGS,
              "swaks: %d/%d acknowledged during the flood %s" % (
                  len(sw_ids), SWAKS_MSGS, sw_errs[:1]))
        py_ids = py_out.decode().split()
        check(py.returncode == 0 and len(py_ids) == PY_CONNS * PY_MSGS,
              "smtplib: %d/%d acknowledged over %d connections during the flood %s" % (
                  len(py_ids), PY_CONNS * PY_MSGS, PY_CONNS, py_err.decode()[-400:]))
        nft = net.nsx("nft", "list", "chain", "inet", "mxsf", "out").stdout.decode()
        m = re.search(r"counter packets (\d+)", nft)
        check(m and int(m.group(1)) == 1, "exactly one handshake ACK dropped "
              "(nft counter: %s)" % (m.group(0) if m else nft[-200:]))
        check(lost.returncode == 0 and len(lost_out.split()) == 1,
              "the client whose handshake ACK was lost delivered %s" % (
                  lost_err.decode()[-400:]))
        check(cm["net_tcp_synq_recovered"] >= 1,
              "... after a SYN-ACK resend (synq_recovered=%d)" % cm["net_tcp_synq_recovered"])
        check(still_flooding, "the clients finished during the flood (%.1f s of %d)"
              % (t_clients, FLOOD_S))
        check(peak <= 3, "sessions never above the 3 concurrent real clients (peak %d)" % peak)

        f_out, f_err = flooder.communicate(timeout=FLOOD_S + 10)
        try:
            fl = json.loads(f_out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            fail("flooder output: %r %r" % (f_out[-300:], f_err[-300:]))
        syns = fl["syns"]
        time.sleep(1)  # let the daemon's RX queue drain
        dropped = net.tap_stat("tx_dropped") - drop0

        total = SWAKS_MSGS + PY_MSGS * PY_CONNS + 1
        n = d.wait_delivered(total, timeout=30)
        check(n == total, "all %d delivered to the Maildir (%d)" % (total, n))
        bodies = []
        for p in d.maildir_files():
            with open(p, "rb") as f:
                bodies += re.findall(rb"marker (%s-\S+)" % tag.encode(), f.read())
        want = {"%s-sw%d" % (tag, i) for i in range(SWAKS_MSGS)}
        want |= {"%s-py-%d-%d" % (tag, c, i) for c in range(PY_CONNS) for i in range(PY_MSGS)}
        want.add("%s-lost-0-0" % tag)
        check(sorted(b.decode() for b in bodies) == sorted(want),
              "each message delivered exactly once")

        end = time.time() + 10
        while d.status()["sessions"] != 0 and time.time() < end:
            time.sleep(0.2)
        st = d.status()
        c2 = d.counters()
        t_all = time.monotonic() - t_flood
        conns = SWAKS_MSGS + PY_CONNS + 1
        syn_rx, synack = c2["net_tcp_syn_rx"], c2["net_tcp_synack_tx"]
        retx = c2["net_tcp_synack_retx"]
        held = c2["net_tcp_synack_retx_capped"] + c2["net_tcp_synack_retx_capped_dst"]
        retx_max = cores * (RESENDS_PER_S * t_all + RESENDS_PER_S // 10 + 1)
        print("flood: %d SYNs sent in %.1f s (%.0f/s), %d frames dropped by the tap "
              "queue; daemon: syn_rx=%d synack_tx=%d synack_retx=%d held_back=%d "
              "(per-core cap %d, per-destination %d) synq_evicted=%d "
              "synq_expired=%d synq_recovered=%d cookie_bad=%d pool_empty=%d "
              "accepted=%d dpdk_sessions=%d arp_table_full=%d tx_nobuf=%d "
              "arp_miss=%d sessions=%d; messages delivered=%d" % (
                  syns, fl["seconds"], syns / fl["seconds"], dropped, syn_rx, synack,
                  retx, held, c2["net_tcp_synack_retx_capped"],
                  c2["net_tcp_synack_retx_capped_dst"], c2["net_tcp_synq_evicted"],
                  c2["net_tcp_synq_expired"], c2["net_tcp_synq_recovered"],
                  c2["net_tcp_cookie_bad"], c2["net_tcp_pool_empty"],
                  c2["net_tcp_accepted"], c2["dpdk_sessions"], c2["net_arp_table_full"],
                  c2["net_tx_nobuf"], c2["net_tx_arp_miss"], st["sessions"], n),
              flush=True)
        check(syns >= 20000 * (FLOOD_S // 2), "hundreds of thousands of SYNs sent (%d)" % syns)
        check(synack == syn_rx, "every SYN answered with a cookie SYN-ACK (%d = %d)"
              % (synack, syn_rx))
        # The real clients' SYNs ride on top of the flood's; the tap drops
        # what the poll loop was too slow to take.
        check(0.95 * (syns - dropped) <= syn_rx <= syns + 4 * conns,
              "SYN-ACKs with cookies ~ SYNs that reached the daemon (%d vs %d sent, "
              "%d dropped by the tap)" % (synack, syns, dropped))
        check(c2["net_tcp_accepted"] == conns,
              "connections established == the real clients' %d (%d)"
              % (conns, c2["net_tcp_accepted"]))
        check(c2["dpdk_sessions"] == conns, "SMTP sessions started == %d (%d)"
              % (conns, c2["dpdk_sessions"]))
        check(c2["net_tcp_cookie_bad"] == 0 and c2["net_tcp_pool_empty"] == 0,
              "no bad cookie, the connection pool never empty")
        check(c2["net_arp_table_full"] == 0,
              "spoofed sources never pushed an ARP entry out")
        check(retx <= retx_max, "SYN-ACK resends within the cap (%d <= %d over %.1f s)"
              % (retx, retx_max, t_all))
        check(held > retx, "the caps held back more resends than they let out "
              "(%d held, %d sent)" % (held, retx))
        check(st["sessions"] == 0, "sessions back to 0")
        check(d.stop() == 0, "clean stop")
        print("synflood: proved %d SYNs in %.1f s (%.0f/s) -> %d cookie SYN-ACKs, "
              "%d connections (the real clients only), %d messages delivered, "
              "a lost handshake ACK recovered by a resend, resends capped "
              "(%d sent, %d held back)" % (
                  syns, fl["seconds"], syns / fl["seconds"], synack,
                  c2["net_tcp_accepted"], n, retx, held))
    except SystemExit:
        print("daemon log tail:\n" + d.logtail(25), flush=True)
        raise
print("synflood: all checks passed")
