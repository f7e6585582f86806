#!/usr/bin/python3
"""Pre-greet delay against the real daemon, smtp.pregreet_delay=2s: a
client that waits for the banner gets its 220 after about two seconds and
delivers; a client that talks first (EHLO the moment it connects, before
any banner, RFC 5321 §3.1 says the client waits for the greeting) gets
554 5.5.1, is closed, and smtp_err_pregreet counts it."""
import os
import smtplib
import socket
import sys
import time

from mxtest import QUEUED, Daemon, check, fail

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
DELAY = 2.0

d = Daemon(mxgate, ctl, extra=["smtp.pregreet_delay=2s"])


def wait_ready(timeout=20):
    """mxtest's probe reads the banner with a 0.5 s timeout, shorter than
    the delay; here a connect that says nothing and the control socket
    are enough (a silent client is not an early talker)."""
    end = time.time() + timeout
    while time.time() < end:
        if d.proc.poll() is not None:
            fail("mxgate exited early: " + d.logtail())
        try:
            socket.create_connection(("127.0.0.1", d.port), 0.5).close()
            if os.path.exists(d.sock):
                return
        except OSError:
            pass
        time.sleep(0.05)
    fail("mxgate not ready: " + d.logtail())


def read_to_eof(s):
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return got, True
            got += chunk
    except ConnectionResetError:
        return got, True
    except socket.timeout:
        return got, False


try:
    d.start(wait=False)
    wait_ready()
    before = d.counter("smtp_err_pregreet")

    # A patient client: the banner comes after the delay, then mail flows.
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", d.port), 10)
    banner = s.recv(200)
    waited = time.monotonic() - t0
    check(banner.startswith(b"220 "), "banner after the delay: %r" % banner.strip())
    check(DELAY - 0.1 <= waited < DELAY + 2.0,
          "the banner waited about %.1f s (%.2f s)" % (DELAY, waited))
    s.sendall(b"QUIT\r\n")
    s.recv(200)
    s.close()

    t0 = time.monotonic()
    with smtplib.SMTP("127.0.0.1", d.port, timeout=15) as c:
        waited = time.monotonic() - t0
        c.ehlo("patient.test")
        c.mail("a@remote.test")
        c.rcpt("r@example.test")
        code, resp = c.data("Subject: patient\r\n\r\nwaited for the banner\r\n")
    check(code == 250 and QUEUED.search(b"250 " + resp),
          "smtplib (waits for the banner, %.2f s) delivers: %d %r" %
          (waited, code, resp))
    check(d.wait_delivered(1, 60) == 1, "the message is in the Maildir")
    with open(d.maildir_files()[0], "rb") as f:
        check(b"waited for the banner" in f.read(), "with its body")

    # An early talker: EHLO before the banner.
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", d.port), 10)
    s.sendall(b"EHLO x\r\n")
    got, closed = read_to_eof(s)
    took = time.monotonic() - t0
    s.close()
    check(got.startswith(b"554 5.5.1") and b"220" not in got,
          "early talker gets 554 5.5.1 and no banner: %r" % got.strip())
    check(closed, "and the connection is closed (after %.2f s)" % took)
    end = time.time() + 5
    while d.counter("smtp_err_pregreet") != before + 1 and time.time() < end:
        time.sleep(0.05)
    check(d.counter("smtp_err_pregreet") == before + 1,
          "smtp_err_pregreet counted one early talker")
    check(len(d.maildir_files()) == 1, "nothing else delivered")
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
print("pregreet: all checks passed")
