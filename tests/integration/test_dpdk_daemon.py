#!/usr/bin/python3
"""The daemon itself on the DPDK backend: mxgate with dataplane.backend =
dpdk on a net_tap device (--no-huge), the tap moved into a network
namespace this test creates, and real kernel clients in that namespace
(ping, swaks, smtplib) delivering through the userspace TCP stack into the
same queue and Maildir as the socket backend.  Needs root and /dev/net/tun;
exits 77 without them.  Addresses exist only inside the namespace."""
import os
import re
import shutil
import subprocess
import sys
import time

from mxtest import SKIP, Daemon, check, fail

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("ip"):
    print("SKIP: needs root, /dev/net/tun and iproute2")
    sys.exit(SKIP)
r = subprocess.run([mxgate, "--version"], capture_output=True, text=True)
if "DPDK       not built" in r.stdout:
    print("SKIP: built without DPDK")
    sys.exit(SKIP)

ns = "mxgd%d" % os.getpid()
tap = "mxgd%d" % (os.getpid() % 100000)
ip_srv, ip_cli = "10.77.%d.1" % (os.getpid() % 200), "10.77.%d.2" % (os.getpid() % 200)


def nsx(*cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", ns] + list(cmd), capture_output=True,
                          timeout=kw.get("timeout", 60))


d = Daemon(mxgate, ctl, extra=[
    "dataplane.backend=dpdk",
    'dataplane.dpdk.port="net_tap0,iface=%s"' % tap,
    "dataplane.dpdk.address=%s/24" % ip_srv,
])
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
    r = nsx("ping", "-c", "3", "-W", "2", ip_srv)
    check(r.returncode == 0, "ping through the userspace stack")
    ids = []
    for i in range(5):
        r = nsx("swaks", "--server", ip_srv + ":%d" % d.port, "--to", "dp%d@example.test" % i,
                "--from", "s@remote.test", "--body", "via dpdk %d\n" % i, "--timeout", "20")
        m = re.search(rb"queued as ([0-9a-f]{16})", r.stdout)
        if not m:
            fail("swaks over DPDK: %s" % r.stdout[-600:])
        ids.append(m.group(1))
    check(len(ids) == 5, "5 messages acknowledged over DPDK")
    script = ("import smtplib\n"
              "s=smtplib.SMTP('%s',%d,timeout=20)\n"
              "for i in range(20): s.sendmail('a@remote.test',['py%%d@example.test'%%i],'Subject: %%d\\r\\n\\r\\nbody %%d\\r\\n'%%(i,i))\n"
              "s.quit()\n") % (ip_srv, d.port)
    r = nsx("/usr/bin/python3", "-c", script)
    check(r.returncode == 0, "smtplib: 20 messages on one connection over DPDK")
    n = d.wait_delivered(25, timeout=60)
    check(n == 25, "all 25 delivered to the Maildir (%d)" % n)
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
print("dpdk_daemon: all checks passed")
