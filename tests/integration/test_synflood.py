#!/usr/bin/python3
"""A SYN flood on the DPDK backend (issue 9): mxgate with
dataplane.backend = dpdk on a net_tap device moved into a network namespace
this test creates.  Inside the namespace a raw AF_PACKET sender (this same
file run with --flood) fires TCP SYNs at the daemon's address and SMTP port
only, with random source ports and source addresses spoofed inside the
namespace's own /24 (.50-.250), as fast as Python manages, until told to
stop.  Meanwhile real clients in the namespace (swaks, smtplib) connect and
deliver.  The counters then prove the stateless listener held: every SYN
got a cookie SYN-ACK, the only connections established are the real
clients', no session outlived the flood, and every message reached the
Maildir.  Needs root and /dev/net/tun; exits 77 without them."""
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

FLOOD_MIN_S = 10     # the flood lasts at least this long
FLOOD_MAX_S = 60     # and never longer than this, even if the test dies
SWAKS_MSGS = 5       # one connection each
PY_CONNS, PY_MSGS = 3, 5


def flood(iface, dst_mac, src_net, dst_ip, dport):
    """Sends SYNs to dst_ip:dport through iface until SIGTERM or
    FLOOD_MAX_S; prints {"syns": n, "seconds": t} on stdout.  Sources are
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
                if time.monotonic() - start > FLOOD_MAX_S:
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

from mxtest import SKIP, Daemon, check, fail  # noqa: E402

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("ip"):
    print("SKIP: needs root, /dev/net/tun and iproute2")
    sys.exit(SKIP)
r = subprocess.run([mxgate, "--version"], capture_output=True, text=True)
if "DPDK       not built" in r.stdout:
    print("SKIP: built without DPDK")
    sys.exit(SKIP)
if not shutil.which("swaks"):
    print("SKIP: needs swaks")
    sys.exit(SKIP)

ns = "mxsf%d" % os.getpid()
tap = "mxsf%d" % (os.getpid() % 100000)
subnet = "10.77.%d" % (os.getpid() % 200)
ip_srv, ip_cli = subnet + ".1", subnet + ".2"


def nsx(*cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", ns] + list(cmd), capture_output=True,
                          timeout=kw.get("timeout", 60))


def nsp(*cmd):
    return subprocess.Popen(["ip", "netns", "exec", ns] + list(cmd),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def counters(d):
    """The dataplane counters, summed by name over the threads' sets."""
    out = {}
    for c in json.loads(d.ctlrun("stats", "--json").stdout)["counters"]:
        out[c["name"]] = out.get(c["name"], 0) + c["value"]
    return out


def tap_stat(name):
    r = nsx("cat", "/sys/class/net/%s/statistics/%s" % (tap, name))
    return int(r.stdout)


def swaks_run(port, tag, ids, errs):
    for i in range(SWAKS_MSGS):
        r = nsx("swaks", "--server", "%s:%d" % (ip_srv, port), "--to",
                "sw%d@example.test" % i, "--from", "s@remote.test", "--body",
                "marker %s-sw%d\n" % (tag, i), "--timeout", "30", timeout=90)
        m = re.search(rb"queued as ([0-9a-f]{16})", r.stdout)
        if m:
            ids.append(m.group(1).decode())
        else:
            errs.append("swaks %d: %s" % (i, r.stdout[-400:]))


PY_CLIENT = r"""
import re, smtplib, sys
host, port, tag, conns, msgs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
for c in range(conns):
    s = smtplib.SMTP(host, port, timeout=30)
    s.ehlo('client.test')
    for i in range(msgs):
        s.mail('a@remote.test')
        code, _ = s.rcpt('py%d@example.test' % i)
        assert code == 250, code
        code, resp = s.data('Subject: %d/%d\r\n\r\nmarker %s-py%d-%d\r\n' % (c, i, tag, c, i))
        m = re.search(rb'queued as ([0-9a-f]{16})', resp)
        assert code == 250 and m, (code, resp)
        print(m.group(1).decode(), flush=True)
    s.quit()
"""

d = Daemon(mxgate, ctl, extra=[
    "dataplane.backend=dpdk",
    'dataplane.dpdk.port="net_tap0,iface=%s"' % tap,
    "dataplane.dpdk.address=%s/24" % ip_srv,
])
flooder = None
subprocess.run(["ip", "netns", "add", ns], check=True)
try:
    d.start(wait=False)
    end = time.time() + 30
    while not os.path.exists("/sys/class/net/" + tap):
        if d.proc.poll() is not None or time.time() > end:
            fail("no tap device: " + d.logtail())
        time.sleep(0.1)
    while not os.path.exists(d.sock) and time.time() < end:
        time.sleep(0.1)
    subprocess.run(["ip", "link", "set", tap, "netns", ns], check=True)
    nsx("ip", "addr", "add", ip_cli + "/24", "dev", tap)
    nsx("ip", "link", "set", tap, "up")
    nsx("ip", "link", "set", "lo", "up")
    check(d.status()["backend"] == "dpdk", "mxgate runs the DPDK backend")
    r = nsx("ping", "-c", "2", "-W", "2", ip_srv)
    check(r.returncode == 0, "ping through the userspace stack")
    neigh = json.loads(nsx("ip", "-j", "neigh", "show", ip_srv, "dev", tap).stdout)
    check(len(neigh) == 1 and neigh[0].get("lladdr"), "the daemon's MAC is known")
    dmac = neigh[0]["lladdr"]

    c0 = counters(d)
    drop0 = tap_stat("tx_dropped")
    check(c0.get("net_tcp_syn_rx", -1) == 0 and c0.get("net_tcp_accepted", -1) == 0,
          "no TCP yet (syn_rx=%s accepted=%s)" % (c0.get("net_tcp_syn_rx"),
                                                  c0.get("net_tcp_accepted")))

    t_flood = time.monotonic()
    flooder = nsp("/usr/bin/python3", os.path.abspath(__file__), "--flood", tap, dmac,
                  subnet, ip_srv, str(d.port))
    # The flood alone for 2 s: SYNs answered, nothing established.
    time.sleep(2)
    if flooder.poll() is not None:
        fail("flooder died: %s" % flooder.stderr.read().decode()[-600:])
    c1 = counters(d)
    st1 = d.status()
    print("flood alone 2 s: syn_rx=%d synack_tx=%d accepted=%d sessions=%d" % (
        c1["net_tcp_syn_rx"], c1["net_tcp_synack_tx"], c1["net_tcp_accepted"],
        st1["sessions"]), flush=True)
    check(c1["net_tcp_syn_rx"] > 10000, "the daemon sees the flood (%d SYNs in 2 s)"
          % c1["net_tcp_syn_rx"])
    check(c1["net_tcp_accepted"] == 0 and st1["sessions"] == 0,
          "the flood alone establishes nothing")

    # Real clients during the flood, sampling the session gauge meanwhile.
    tag = "%d" % os.getpid()
    sw_ids, sw_errs = [], []
    sw = threading.Thread(target=swaks_run, args=(d.port, tag, sw_ids, sw_errs))
    py = nsp("/usr/bin/python3", "-c", PY_CLIENT, ip_srv, str(d.port), tag,
             str(PY_CONNS), str(PY_MSGS))
    sw.start()
    peak = 0
    while sw.is_alive() or py.poll() is None:
        peak = max(peak, d.status()["sessions"])
        time.sleep(0.1)
    sw.join()
    py_out, py_err = py.communicate()
    still_flooding = flooder.poll() is None
    t_clients = time.monotonic() - t_flood
    cm = counters(d)
    print("after the clients (%.1f s into the flood): accepted=%d synack_retx=%d "
          "tap tx_dropped=%d" % (t_clients, cm["net_tcp_accepted"],
                                 cm["net_tcp_synack_retx"], tap_stat("tx_dropped") - drop0),
          flush=True)
    check(not sw_errs and len(sw_ids) == SWAKS_MSGS,
          "swaks: %d/%d acknowledged during the flood %s" % (len(sw_ids), SWAKS_MSGS,
                                                            sw_errs[:1]))
    py_ids = py_out.decode().split()
    check(py.returncode == 0 and len(py_ids) == PY_CONNS * PY_MSGS,
          "smtplib: %d/%d acknowledged over %d connections during the flood %s" % (
              len(py_ids), PY_CONNS * PY_MSGS, PY_CONNS, py_err.decode()[-400:]))
    check(still_flooding, "the flood lasted past the clients (%.1f s)" % t_clients)
    check(peak <= 2, "sessions never above the 2 real clients (peak %d)" % peak)

    left = FLOOD_MIN_S - (time.monotonic() - t_flood)
    if left > 0:
        time.sleep(left)
    flooder.send_signal(signal.SIGTERM)
    f_out, f_err = flooder.communicate(timeout=30)
    flooder = None
    try:
        fl = json.loads(f_out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        fail("flooder output: %r %r" % (f_out[-300:], f_err[-300:]))
    syns = fl["syns"]
    time.sleep(1)  # let the daemon's RX queue drain
    dropped = tap_stat("tx_dropped") - drop0

    total = SWAKS_MSGS + PY_MSGS * PY_CONNS
    n = d.wait_delivered(total, timeout=60)
    check(n == total, "all %d delivered to the Maildir (%d)" % (total, n))
    bodies = []
    for p in d.maildir_files():
        with open(p, "rb") as f:
            bodies += re.findall(rb"marker (%s-\S+)" % tag.encode(), f.read())
    want = {"%s-sw%d" % (tag, i) for i in range(SWAKS_MSGS)}
    want |= {"%s-py%d-%d" % (tag, c, i) for c in range(PY_CONNS) for i in range(PY_MSGS)}
    check(sorted(b.decode() for b in bodies) == sorted(want),
          "each message delivered exactly once")

    end = time.time() + 20
    while d.status()["sessions"] != 0 and time.time() < end:
        time.sleep(0.2)
    st = d.status()
    c2 = counters(d)
    conns = SWAKS_MSGS + PY_CONNS
    syn_rx, synack = c2["net_tcp_syn_rx"], c2["net_tcp_synack_tx"]
    delivered_to_daemon = syns - dropped
    print("flood: %d SYNs sent in %.1f s (%.0f/s), %d dropped by the tap queue; "
          "daemon: syn_rx=%d synack_tx=%d synack_retx=%d cookie_bad=%d "
          "pool_empty=%d accepted=%d dpdk_sessions=%d tx_nobuf=%d arp_miss=%d "
          "sessions=%d; messages delivered=%d" % (
              syns, fl["seconds"], syns / fl["seconds"], dropped, syn_rx, synack,
              c2["net_tcp_synack_retx"], c2["net_tcp_cookie_bad"],
              c2["net_tcp_pool_empty"], c2["net_tcp_accepted"],
              c2["dpdk_sessions"], c2["net_tx_nobuf"], c2["net_tx_arp_miss"],
              st["sessions"], n), flush=True)
    check(syns >= 20000, "tens of thousands of SYNs sent (%d)" % syns)
    check(synack == syn_rx, "every SYN answered with a cookie SYN-ACK (%d = %d)"
          % (synack, syn_rx))
    # The real clients' SYNs (one per connection, a few retransmitted at
    # most) ride on top of the flood's; the tap may drop what the poll loop
    # was too slow to take.
    check(0.95 * delivered_to_daemon <= syn_rx <= syns + 4 * conns,
          "SYN-ACKs with cookies ~ SYNs sent (%d vs %d sent, %d dropped by the tap)"
          % (synack, syns, dropped))
    check(c2["net_tcp_accepted"] == conns,
          "connections established == the real clients' %d (%d)"
          % (conns, c2["net_tcp_accepted"]))
    check(c2["dpdk_sessions"] == conns, "SMTP sessions started == %d (%d)"
          % (conns, c2["dpdk_sessions"]))
    check(c2["net_tcp_cookie_bad"] == 0 and c2["net_tcp_pool_empty"] == 0,
          "no bad cookie, the connection pool never empty")
    check(st["sessions"] == 0, "sessions back to 0")
    check(d.stop() == 0, "clean stop")
    print("synflood: proved %d SYNs sent -> %d cookie SYN-ACKs, %d connections "
          "(the real clients only), %d messages delivered" % (
              syns, synack, c2["net_tcp_accepted"], n))
except SystemExit:
    print("daemon log tail:\n" + d.logtail(25), flush=True)
    raise
finally:
    if flooder is not None and flooder.poll() is None:
        flooder.kill()
        flooder.wait()
    d.cleanup()
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
print("synflood: all checks passed")
