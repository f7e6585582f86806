#!/usr/bin/python3
"""PROXY protocol (HAProxy spec v1 and v2) in front of the real daemon,
smtp.proxy_protocol=true: the client address the header names is the one
the Received: header records (v1 TCP4, v2 TCP6); a connection that opens
with SMTP instead of a header is closed with no banner and counted
(sock_proxy_errors); a v1 UNKNOWN header keeps the socket's own peer.
The addresses in the headers are only text: nothing is sent to them."""
import os
import smtplib
import socket
import struct
import sys
import time

from mxtest import QUEUED, Daemon, check, fail

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_tcp6(src, dst, sport, dport):
    """A PROXY v2 header: version 2 + PROXY command, AF_INET6 + STREAM."""
    addr = (socket.inet_pton(socket.AF_INET6, src) +
            socket.inet_pton(socket.AF_INET6, dst) +
            struct.pack("!HH", sport, dport))
    return V2_SIG + bytes([0x21, 0x21]) + struct.pack("!H", len(addr)) + addr


class ProxySMTP(smtplib.SMTP):
    """smtplib that writes a PROXY header before it reads the banner."""

    def __init__(self, header, *args, **kw):
        self.proxy_header = header
        super().__init__(*args, **kw)

    def _get_socket(self, host, port, timeout):
        s = super()._get_socket(host, port, timeout)
        s.sendall(self.proxy_header)
        return s


d = Daemon(mxgate, ctl, extra=["smtp.proxy_protocol=true"])


def wait_ready(timeout=20):
    """mxtest's wait_ready expects a banner without a header; here the
    probe sends PROXY UNKNOWN (no counter moves) and quits."""
    end = time.time() + timeout
    while time.time() < end:
        if d.proc.poll() is not None:
            fail("mxgate exited early: " + d.logtail())
        try:
            with socket.create_connection(("127.0.0.1", d.port), 1) as s:
                s.sendall(b"PROXY UNKNOWN\r\n")
                if s.recv(100).startswith(b"220") and os.path.exists(d.sock):
                    s.sendall(b"QUIT\r\n")
                    s.recv(100)
                    return
        except OSError:
            pass
        time.sleep(0.05)
    fail("mxgate not ready: " + d.logtail())


def send(header, subject):
    with ProxySMTP(header, "127.0.0.1", d.port, timeout=15) as s:
        s.ehlo("client.test")
        s.mail("a@remote.test")
        s.rcpt("r@example.test")
        code, resp = s.data("Subject: %s\r\n\r\nbody of %s\r\n" %
                            (subject, subject))
    m = QUEUED.search(b"%d " % code + resp)
    if code != 250 or not m:
        fail("%s: DATA got %d %r" % (subject, code, resp))
    return m.group(1).decode()


try:
    d.start(wait=False)
    wait_ready()
    errors0 = d.counter("sock_proxy_errors")

    qid = send(b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 2525\r\n", "v1")
    rcv = d.received_of(qid)
    check("[203.0.113.7]" in rcv and "127.0.0.1" not in rcv,
          "PROXY v1 TCP4: Received names the proxied client: %s" % rcv)

    qid = send(v2_tcp6("2001:db8::7", "::1", 40001, 2525), "v2")
    rcv = d.received_of(qid)
    check("[IPv6:2001:db8::7]" in rcv,
          "PROXY v2 TCP6: Received names the proxied client: %s" % rcv)

    check(d.counter("sock_proxy_errors") == errors0,
          "no proxy errors counted so far (%d)" % errors0)
    with socket.create_connection(("127.0.0.1", d.port), 10) as s:
        s.sendall(b"HELO x\r\n")
        got = b""
        try:
            while True:
                chunk = s.recv(200)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
    check(got == b"", "SMTP instead of a PROXY header: closed, no banner (%r)" % got)
    end = time.time() + 5
    while d.counter("sock_proxy_errors") != errors0 + 1 and time.time() < end:
        time.sleep(0.05)
    check(d.counter("sock_proxy_errors") == errors0 + 1,
          "sock_proxy_errors counted the garbage header")

    qid = send(b"PROXY UNKNOWN\r\n", "unknown")
    rcv = d.received_of(qid)
    check("[127.0.0.1]" in rcv,
          "PROXY UNKNOWN keeps the real peer: %s" % rcv)

    # v2 LOCAL command (a balancer's health check): the real peer too.
    local = V2_SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    qid = send(local, "v2local")
    rcv = d.received_of(qid)
    check("[127.0.0.1]" in rcv, "PROXY v2 LOCAL keeps the real peer: %s" % rcv)

    # Regression: a header split over two reads on a reused connection
    # slot was dropped (the slot's previous session was consulted before
    # the new one began).  Three connections, each header in two parts.
    hdr = b"PROXY TCP4 198.51.100.9 127.0.0.1 40002 2525\r\n"
    for i in range(3):
        c = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        c.sendall(hdr[:10])
        time.sleep(0.1)
        c.sendall(hdr[10:])
        banner = c.recv(200)
        c.sendall(b"QUIT\r\n")
        c.recv(200)
        c.close()
        check(banner.startswith(b"220"), "split PROXY header, connection %d: %r" % (i + 1, banner[:30]))

    check(d.counter("sock_proxy_errors") == errors0 + 1,
          "no further proxy errors")
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
print("proxy: all checks passed")
