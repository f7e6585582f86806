#!/usr/bin/python3
"""Crash test with the real daemon: a few smtplib senders send continuously
while mxgate is SIGKILLed at random moments (at least 20 times) and
restarted on the same queue each time.  Afterwards every message that any
client saw acknowledged (250 ... queued as <id>) must be there byte for
byte: delivered to the Maildir (its Received header carries `id <id>`), or
still in the queue (`mxgatectl queue show ID`).  Prints messages sent /
acknowledged / found / lost; lost must be 0.  Loopback only; bounded in
kills, messages and time."""
import os
import random
import re
import smtplib
import socket
import sys
import threading
import time

from mxtest import Daemon, check, fail

KILLS = 22
SENDERS = 4
DEADLINE = 150          # seconds for the kill phase, at most
QUEUED = re.compile(rb"queued as ([0-9a-f]{16})")

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
# "scan": the same with scanning on (pre-filter + a ClamAV scanner
# process), so kills also land mid-scan and right after restarts while the
# scanner is still loading; fewer kills, as each restart loads the engine.
WITH_SCAN = len(sys.argv) > 3 and sys.argv[3] == "scan"
if WITH_SCAN:
    KILLS = 10
rng = random.Random(int(os.environ.get("MX_CRASH_SEED", str(os.getpid()))))
print("seed: %s" % os.environ.get("MX_CRASH_SEED", str(os.getpid())), flush=True)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0           # DATA sent (the whole message went out)
        self.acked = {}         # id -> body bytes (CRLF)
        self.errors = 0


stats = Stats()
stop = threading.Event()


def make_body(sender, n):
    """A body of varying size (a few hundred bytes to ~60 KB), CRLF lines,
    unique content so a mix-up between messages shows."""
    lines = ["sender %d message %d %s" % (sender, n, os.urandom(6).hex())]
    size = rng.choice([200, 1000, 4000, 4000, 16000, 60000])
    while sum(len(x) + 2 for x in lines) < size:
        lines.append(os.urandom(30).hex())
    return ("\r\n".join(lines) + "\r\n").encode()


def sender(idx, port_of):
    n = 0
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", port_of(), timeout=10) as s:
                s.ehlo()
                for _ in range(rng.randint(1, 20)):
                    if stop.is_set():
                        break
                    body = make_body(idx, n)
                    n += 1
                    msg = b"Subject: crash %d.%d\r\n\r\n" % (idx, n) + body
                    s.mail("sender%d@remote.test" % idx)
                    s.rcpt("keep@example.test")
                    with stats.lock:
                        stats.sent += 1
                    code, resp = s.data(msg)
                    m = QUEUED.search(resp)
                    if code == 250 and m:
                        with stats.lock:
                            stats.acked[m.group(1).decode()] = body
                    elif code < 400:
                        fail("unexpected reply %d %r" % (code, resp))
        except (OSError, smtplib.SMTPException):
            # The daemon was killed under us, or is not back yet.
            with stats.lock:
                stats.errors += 1
            time.sleep(0.05)


d = Daemon(mxgate, ctl, scan=WITH_SCAN)
try:
    d.start()
    threads = [threading.Thread(target=sender, args=(i, lambda: d.port),
                                daemon=True) for i in range(SENDERS)]
    for t in threads:
        t.start()
    kills = 0
    end = time.time() + DEADLINE
    while kills < KILLS and time.time() < end:
        time.sleep(rng.uniform(0.1, 1.2))
        with stats.lock:
            before = len(stats.acked)
        d.kill()
        kills += 1
        d.proc = None
        d.start()
        with stats.lock:
            print("kill %d: %d acknowledged so far" % (kills, before), flush=True)
    stop.set()
    for t in threads:
        t.join(30)
    check(kills >= KILLS, "%d SIGKILLs while clients were sending" % kills)
    check(len(stats.acked) > 0, "messages were acknowledged")

    # Every acknowledged id: delivered (Maildir) or still queued.
    delivered = {}
    dup = 0
    wait_end = time.time() + 60
    while True:
        delivered = {}
        dup = 0
        for f in d.maildir_files():
            with open(f, "rb") as fh:
                raw = fh.read()
            m = re.search(rb"id ([0-9a-f]{16})", raw)
            if not m:
                fail("delivered file without an id: %s" % f)
            i = m.group(1).decode()
            dup += i in delivered
            delivered[i] = raw.split(b"\n\n", 1)[1].replace(b"\n", b"\r\n")
        if all(i in delivered for i in stats.acked) or time.time() > wait_end:
            break
        time.sleep(0.3)

    found, lost, corrupt = 0, [], []
    for i, body in stats.acked.items():
        if i in delivered:
            found += 1
            if delivered[i] != body:
                corrupt.append(i)
            continue
        r = d.ctlrun("queue", "show", i, check_rc=False)
        if r.returncode == 0 and i in r.stdout:
            found += 1
        else:
            lost.append(i)
    print("messages: sent=%d acknowledged=%d found=%d lost=%d "
          "delivered_total=%d duplicates=%d client_errors=%d kills=%d" %
          (stats.sent, len(stats.acked), found, len(lost), len(delivered),
           dup, stats.errors, kills), flush=True)
    check(not lost, "no acknowledged message lost (lost %s)" % lost[:10])
    check(not corrupt, "bodies byte for byte (corrupt %s)" % corrupt[:10])
    check(d.stop() == 0, "clean stop after the crash series")
finally:
    stop.set()
    d.cleanup()
print("crash: all checks passed")
