#!/usr/bin/python3
"""Limits a peer can hit, against the real daemon: the per-address message
rate (451 past it, counted), the per-address connection limit (421,
counted), and drain (421 4.3.2 to new connections while sessions already
open finish their message)."""
import os
import smtplib
import socket
import sys

from mxtest import Daemon, check

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
d = Daemon(mxgate, ctl, extra=["smtp.max_messages_per_ip_per_minute=3",
                               "smtp.max_connections_per_ip=4"]).start()


try:
    codes = []
    with smtplib.SMTP("127.0.0.1", d.port) as s:
        s.ehlo()
        for i in range(5):
            s.mail("a@remote.test")
            s.rcpt("r@example.test")
            try:
                code, _ = s.data("Subject: %d\r\n\r\nx\r\n" % i)
            except smtplib.SMTPDataError as e:
                code = e.smtp_code
                last_resp = e.smtp_error
                s.rset()
            codes.append(code)
    check(codes == [250, 250, 250, 451, 451], "message rate 3/min: %s" % codes)
    check(last_resp.startswith(b"4.7.1"), "the deferral says 4.7.1: %r" % last_resp)
    check(d.counter("sock_msg_rate_limited") == 2, "sock_msg_rate_limited counted 2")

    conns = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(4)]
    banners = [c.recv(200) for c in conns]
    extra = socket.create_connection(("127.0.0.1", d.port))
    refused = extra.recv(200)
    check(all(b.startswith(b"220") for b in banners) and refused.startswith(b"421 4.7.0"),
          "5th connection from one address: %r" % refused.strip())
    check(d.counter("sock_refused_per_ip") == 1, "sock_refused_per_ip counted")
    extra.close()

    # Drain: the open session finishes its transaction, new ones get 421.
    # From another loopback address: 127.0.0.1 has used its message rate.
    s = smtplib.SMTP("127.0.0.1", d.port, source_address=("127.0.0.2", 0))
    s.ehlo()
    s.mail("a@remote.test")
    s.rcpt("r@example.test")
    d.ctlrun("drain")
    n = socket.create_connection(("127.0.0.1", d.port))
    check(n.recv(200).startswith(b"421 4.3.2"), "while draining, a new connection gets 421 4.3.2")
    n.close()
    check(d.status()["draining"], "status shows draining")
    code, _ = s.data("Subject: during drain\r\n\r\nx\r\n")
    check(code == 250, "the session open before drain still gets its 250")
    s.close()
    d.ctlrun("drain", "off")
    for c in conns:
        if c:
            c.close()
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
print("limits: all checks passed")
