#!/usr/bin/python3
"""The socket backend on IPv6 loopback: a listener on [::1] accepts mail
from smtplib and the Received: header writes the client as an RFC 5321
§4.1.3 IPv6 address literal ([IPv6:::1]); then one daemon listening on
127.0.0.1 and [::1] at once (a list override, docs/config.md) takes one
message on each.  Skips (77) when ::1 cannot be bound."""
import os
import smtplib
import socket
import sys
import time

from mxtest import QUEUED, SKIP, Daemon, check, fail, free_port

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def free_port6():
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


try:
    free_port6()
except OSError as e:
    print("SKIP: ::1 unavailable (%s)" % e)
    sys.exit(SKIP)


def wait_ready(d, endpoints, timeout=20):
    """Every listener answers with a banner and the control socket is up."""
    end = time.time() + timeout
    pending = list(endpoints)
    while time.time() < end and pending:
        if d.proc.poll() is not None:
            fail("mxgate exited early: " + d.logtail())
        try:
            with socket.create_connection(pending[0], 0.5) as s:
                if s.recv(100).startswith(b"220"):
                    pending.pop(0)
                    continue
        except OSError:
            pass
        time.sleep(0.05)
    if pending or not os.path.exists(d.sock):
        fail("mxgate not ready on %s: %s" % (pending, d.logtail()))


def send(host, port, subject):
    with smtplib.SMTP(host, port, timeout=15) as s:
        s.ehlo("client.test")
        s.mail("a@remote.test")
        s.rcpt("r@example.test")
        code, resp = s.data("Subject: %s\r\n\r\nbody %s\r\n" % (subject, subject))
        peer = s.sock.getpeername()[0]
    m = QUEUED.search(b"%d " % code + resp)
    if not m:
        fail("%s: DATA got %d %r" % (subject, code, resp))
    return m.group(1).decode(), peer


# One listener, IPv6 only.  The last -o replaces mxtest's IPv4 listener.
# Quoted: an override value is UCL, where a bare [ opens a list.
p6 = free_port6()
d = Daemon(mxgate, ctl, extra=['smtp.listen="[::1]:%d"' % p6])
try:
    d.start(wait=False)
    wait_ready(d, [("::1", p6)])
    try:
        socket.create_connection(("127.0.0.1", d.port), 1).close()
        fail("the IPv4 listener from mxtest's defaults is still open")
    except OSError:
        pass
    print("ok: the override replaced the listener list: nothing on 127.0.0.1:%d"
          % d.port)
    qid, peer = send("::1", p6, "v6 only")
    check(peer == "::1", "smtplib talked over IPv6 (%s)" % peer)
    rcv = d.received_of(qid)
    check("(unknown [IPv6:::1])" in rcv, "Received has the IPv6 literal: %s" % rcv)
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()

# Both families at once, one message through each.
p4, p6 = free_port(), free_port6()
d = Daemon(mxgate, ctl,
           extra=['smtp.listen=["127.0.0.1:%d","[::1]:%d"]' % (p4, p6)])
try:
    d.start(wait=False)
    wait_ready(d, [("127.0.0.1", p4), ("::1", p6)])
    q4, peer4 = send("127.0.0.1", p4, "via v4")
    q6, peer6 = send("::1", p6, "via v6")
    check(peer4 == "127.0.0.1" and peer6 == "::1",
          "one session per family (%s, %s)" % (peer4, peer6))
    r4, r6 = d.received_of(q4), d.received_of(q6)
    check("(unknown [127.0.0.1])" in r4, "IPv4 listener: %s" % r4)
    check("(unknown [IPv6:::1])" in r6, "IPv6 listener: %s" % r6)
    check(len(d.maildir_files()) == 2, "exactly two messages delivered")
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
print("ipv6: all checks passed")
