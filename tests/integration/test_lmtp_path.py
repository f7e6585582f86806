#!/usr/bin/python3
"""The whole path with real programs at both ends: swaks -> mxgate ->
a private Dovecot LMTP on a unix socket -> Dovecot's Maildirs.  One
message to two recipients; each mailbox, read back with mailbox.Maildir,
holds it with headers, body and mxgate's Received: line
(`with ESMTP id <16 hex>`) intact, and the daemon's queue ends empty.
Needs root (Dovecot delivers as the nobody user) and dovecot-lmtpd;
skips (77) without them."""
import os
import re
import shutil
import subprocess
import sys
import time

from mxtest import QUEUED, SKIP, Daemon, Dovecot, check, fail

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
why = Dovecot.skip_reason() or (None if shutil.which("swaks")
                                else "swaks not installed")
if why:
    print("SKIP: " + why)
    sys.exit(SKIP)

RCPTS = ["alice@example.test", "bob@example.test"]
BODY = ["Line one of the body.", "", "..a line that starts with a dot",
        "Umlaut-free ASCII, 72 columns: " + "x" * 40, "last line"]


dc = Dovecot(RCPTS)
d = None
try:
    dc.start()
    d = Daemon(mxgate, ctl,
               extra=["delivery.default_route=lmtp:unix:" + dc.sock]).start()
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(d.port),
         "--ehlo", "client.test", "--from", "sender@remote.test",
         "--to", ",".join(RCPTS),
         "--header", "Subject: through LMTP",
         "--header", "X-Mxgate-Test: lmtp-path",
         "--body", "\n".join(BODY)],
        capture_output=True, timeout=60)
    m = QUEUED.search(r.stdout)
    check(r.returncode == 0 and m, "swaks got 250 queued (rc %d)" % r.returncode)
    qid = m.group(1).decode()

    end = time.time() + 60
    while time.time() < end and not all(dc.messages(u) for u in RCPTS):
        time.sleep(0.2)
    for u in RCPTS:
        msgs = dc.messages(u)
        if len(msgs) != 1:
            fail("%s has %d messages\nmxgate: %s\ndovecot: %s" %
                 (u, len(msgs), d.logtail(), dc.logtail()))
        msg = msgs[0]
        check(msg["Subject"] == "through LMTP" and
              msg["X-Mxgate-Test"] == "lmtp-path" and
              msg["From"] == "sender@remote.test" and
              msg["To"] == ",".join(RCPTS),
              "%s: one message, swaks' headers intact" % u)
        rcvd = [re.sub(r"\s+", " ", h) for h in msg.get_all("Received", [])]
        check(len(rcvd) == 2 and
              rcvd[0].startswith("from mx.example.test ") and
              " with LMTP " in rcvd[0] and "(mxgate)" in rcvd[1],
              "%s: Dovecot's LMTP Received: sits above ours: %s" % (u, rcvd[0]))
        check(msg["Return-Path"] == "<sender@remote.test>",
              "%s: envelope sender kept (%s)" % (u, msg["Return-Path"]))
        ours = [h for h in msg.get_all("Received", []) if "(mxgate)" in h]
        check(len(ours) == 1, "%s: one Received: from mxgate" % u)
        rcv = re.sub(r"\s+", " ", ours[0])
        check(re.search(r"from client\.test \(unknown \[127\.0\.0\.1\]\) "
                        r"by mx\.example\.test \(mxgate\) with ESMTP id "
                        r"([0-9a-f]{16});", rcv) and (" id %s;" % qid) in rcv,
              "%s: Received names client, us, ESMTP and id %s: %s" % (u, qid, rcv))
        check("for <" not in rcv,
              "%s: two recipients, so no 'for' clause" % u)
        body = msg.get_payload().replace("\r\n", "\n").rstrip("\n")
        check(body == "\n".join(BODY),
              "%s: body intact, leading dot unstuffed once" % u)

    def pending():
        by = d.status()["queue"]["messages"]
        return {k: v for k, v in by.items() if k != "done" and v}

    end = time.time() + 30
    while time.time() < end and pending():
        time.sleep(0.2)
    check(not pending(), "the queue holds nothing but done messages (%s)"
          % d.status()["queue"]["messages"])
    check(d.maildir_files() == [], "nothing fell back to the default Maildir")
    check(d.stop() == 0, "clean stop")
finally:
    if d:
        d.cleanup()
    dc.cleanup()
print("lmtp_path: all checks passed")
