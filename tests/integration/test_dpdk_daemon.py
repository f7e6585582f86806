#!/usr/bin/python3
"""The daemon itself on the DPDK backend: mxgate with dataplane.backend =
dpdk on a net_tap device (--no-huge), the tap moved into a network
namespace this test creates (mxtest.DpdkNetns), and real kernel clients in
that namespace (ping, swaks, smtplib) delivering through the userspace TCP
stack into the same queue and Maildir as the socket backend.  Needs root
and /dev/net/tun; exits 77 without them.  Addresses exist only inside the
namespace."""
import os
import re
import sys

from mxtest import SKIP, DpdkNetns, check, dpdk_skip_reason, fail

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
why = dpdk_skip_reason(mxgate)
if why:
    print("SKIP: " + why)
    sys.exit(SKIP)

with DpdkNetns(mxgate, ctl, "mxgd") as net:
    d = net.daemon
    check(d.status()["backend"] == "dpdk", "mxgate runs the DPDK backend")
    r = net.nsx("ping", "-c", "3", "-W", "2", net.ip_srv)
    check(r.returncode == 0, "ping through the userspace stack")
    ids = []
    for i in range(5):
        r = net.nsx("swaks", "--server", net.ip_srv + ":%d" % d.port, "--to",
                    "dp%d@example.test" % i, "--from", "s@remote.test", "--body",
                    "via dpdk %d\n" % i, "--timeout", "20")
        m = re.search(rb"queued as ([0-9a-f]{16})", r.stdout)
        if not m:
            fail("swaks over DPDK: %s" % r.stdout[-600:])
        ids.append(m.group(1))
    check(len(ids) == 5, "5 messages acknowledged over DPDK")
    script = ("import smtplib\n"
              "s=smtplib.SMTP('%s',%d,timeout=20)\n"
              "for i in range(20): s.sendmail('a@remote.test',['py%%d@example.test'%%i],'Subject: %%d\\r\\n\\r\\nbody %%d\\r\\n'%%(i,i))\n"
              "s.quit()\n") % (net.ip_srv, d.port)
    r = net.nsx("/usr/bin/python3", "-c", script)
    check(r.returncode == 0, "smtplib: 20 messages on one connection over DPDK")
    n = d.wait_delivered(25, timeout=60)
    check(n == 25, "all 25 delivered to the Maildir (%d)" % n)
    check(d.stop() == 0, "clean stop")
print("dpdk_daemon: all checks passed")
