#!/usr/bin/python3
"""250 means durable: a client gets 250 for a message, the daemon is
killed with SIGKILL at once (no chance to flush anything), restarted on the
same queue, and the message is there — listed by `queue show` and then
delivered with its body byte for byte.  Repeated for single messages and
for a pipelined burst whose 250s all arrived before the kill."""
import os
import re
import smtplib
import sys
import time

from mxtest import Daemon, check, fail

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
d = Daemon(mxgate, ctl)
try:
    sent = {}
    for round_ in range(5):
        d.start()
        d.ctlrun("deliver", "pause")
        with smtplib.SMTP("127.0.0.1", d.port) as s:
            s.ehlo()
            for i in range(1 + round_ * 3):
                body = "round %d message %d %s\r\n" % (round_, i, os.urandom(8).hex())
                msg = "Subject: kill %d.%d\r\n\r\n%s" % (round_, i, body)
                s.mail("sender@remote.test")
                s.rcpt("keep@example.test")
                code, resp = s.data(msg)
                m = re.search(rb"queued as ([0-9a-f]{16})", resp)
                if code != 250 or not m:
                    fail("no 250: %d %s" % (code, resp))
                sent[m.group(1).decode()] = body.encode()
            d.kill()  # SIGKILL right after the last 250
        d.proc = None
    check(len(sent) == sum(1 + r * 3 for r in range(5)),
          "%d messages acknowledged across 5 SIGKILLs" % len(sent))

    # Each restart recovers the queue and delivers what it holds (a
    # restarted daemon is not paused), so the proof is in the Maildir:
    # every acknowledged id is there, with its body byte for byte.
    d.start()
    end = time.time() + 60
    bodies = {}
    while time.time() < end:
        bodies = {}
        dup = 0
        for f in d.maildir_files():
            raw = open(f, "rb").read()
            m = re.search(rb"id ([0-9a-f]{16})", raw)
            i = m.group(1).decode()
            dup += i in bodies
            bodies[i] = raw.split(b"\n\n", 1)[1]
        if all(i in bodies for i in sent):
            break
        time.sleep(0.2)
    missing = [i for i in sent if i not in bodies]
    check(not missing, "every acknowledged message delivered after the kills (missing %s)" % missing)
    check(not (set(bodies) - set(sent)), "nothing delivered that was not acknowledged")
    bad = [i for i, b in sent.items() if bodies[i].replace(b"\n", b"\r\n") != b]
    check(not bad, "bodies byte for byte (Maildir stores LF line ends)")
    print("duplicates (allowed: at least once): %d" % dup)
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
print("kill250: all checks passed")
