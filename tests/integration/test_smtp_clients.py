#!/usr/bin/python3
"""The SMTP engine and the socket backend against real clients nobody here
wrote: swaks (plain, PIPELINING, a 5 MB attachment), smtpping (BDAT),
Python's smtplib (send_message, SMTPUTF8), Postfix's smtp-source (64
sessions, 10,000 messages).  Every acknowledged message is found delivered
in the Maildir, byte for byte where we know the bytes; the relay test
checks mail for other domains is refused."""
import email
import email.policy
import hashlib
import os
import re
import shutil
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage

from mxtest import QUEUED, Daemon, check, fail

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
for tool in ("swaks", "smtp-source", "smtpping"):
    if not shutil.which(tool):
        print("SKIP: %s not installed" % tool)
        sys.exit(77)

# 64 sessions from one address: lift the per-address limit (50 by default).
d = Daemon(mxgate, ctl, extra=["smtp.max_connections_per_ip=1000"]).start()


def delivered_by_id():
    out = {}
    for f in d.maildir_files():
        with open(f, "rb") as fh:
            data = fh.read()
        m = re.search(rb"with E?SMTP[A-Z]* id ([0-9a-f]{16})", data[:2000])
        if m:
            out[m.group(1).decode()] = data
    return out


def wait_ids(ids, timeout=60):
    end = time.time() + timeout
    got = {}
    while time.time() < end:
        got = delivered_by_id()
        if all(i in got for i in ids):
            return got
        time.sleep(0.2)
    missing = [i for i in ids if i not in got]
    fail("not delivered: %s\n%s" % (missing[:5], d.logtail()))


def body_of(raw):
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[1]


try:
    port = str(d.port)
    # swaks, plain
    r = subprocess.run(["swaks", "-s", "127.0.0.1", "-p", port, "-t", "alice@example.test",
                        "-f", "bob@remote.test", "--body", "plain body line\n"],
                       capture_output=True, timeout=30)
    ids = QUEUED.findall(r.stdout)
    check(r.returncode == 0 and len(ids) == 1, "swaks plain: 250 queued as %s" % ids)
    got = wait_ids([i.decode() for i in ids])
    raw = got[ids[0].decode()]
    hdr = raw.split(b"\n\n", 1)[0]
    check(b"plain body line" in raw and b"\nReceived: from " in hdr and
          b"Return-Path: <bob@remote.test>" in hdr,
          "swaks plain: delivered with Return-Path and our Received line")

    # swaks with PIPELINING, two recipients
    r = subprocess.run(["swaks", "-s", "127.0.0.1", "-p", port, "--pipeline",
                        "-t", "carol@example.test,dave@example.test", "-f", "bob@remote.test"],
                       capture_output=True, timeout=30)
    ids = QUEUED.findall(r.stdout)
    check(r.returncode == 0 and len(ids) == 1 and b"PIPELINING" in r.stdout,
          "swaks --pipeline: one message, two recipients")
    wait_ids([ids[0].decode()])
    check(any("/carol/new/" in f for f in d.maildir_files()) and
          any("/dave/new/" in f for f in d.maildir_files()), "both recipients' Maildirs got it")

    # a 5 MB attachment, checked byte for byte after decoding
    blob = os.urandom(5 * 1024 * 1024)
    att = os.path.join(d.dir, "blob.bin")
    with open(att, "wb") as f:
        f.write(blob)
    r = subprocess.run(["swaks", "-s", "127.0.0.1", "-p", port, "-t", "erin@example.test",
                        "-f", "bob@remote.test", "--attach", "@" + att, "--attach-type",
                        "application/octet-stream"], capture_output=True, timeout=120)
    ids = QUEUED.findall(r.stdout)
    check(r.returncode == 0 and len(ids) == 1, "swaks 5 MB attachment: queued")
    got = wait_ids([ids[0].decode()])
    msg = email.message_from_bytes(got[ids[0].decode()], policy=email.policy.default)
    parts = [p.get_payload(decode=True) for p in msg.walk() if p.get_content_type() == "application/octet-stream"]
    check(len(parts) == 1 and hashlib.sha256(parts[0]).digest() == hashlib.sha256(blob).digest(),
          "the attachment arrived intact (sha256)")

    # BDAT with smtpping: no 354 may be sent while it runs (DATA would
    # get one), which shows the chunks really went as BDAT.
    r3 = d.counter("smtp_reply_3xx")
    r = subprocess.run(["smtpping", "-C", "-c", "3", "-w", "10", "-p", port, "-d",
                        "frank@example.test", "@127.0.0.1"], capture_output=True, timeout=60)
    ids = QUEUED.findall(r.stdout + r.stderr)
    check(len(ids) == 3 and d.counter("smtp_reply_3xx") == r3,
          "smtpping BDAT: 3 messages queued, no 354 sent")
    wait_ids([i.decode() for i in ids])

    # smtplib send_message and SMTPUTF8
    m = EmailMessage()
    m["From"] = "sender@remote.test"
    m["To"] = "grace@example.test"
    m["Subject"] = "smtplib"
    m.set_content("hello from smtplib\n")
    with smtplib.SMTP("127.0.0.1", d.port) as s:
        s.send_message(m)
        code, resp = s.noop()
    check(code == 250, "smtplib send_message")
    m2 = EmailMessage()
    m2["From"] = "jörg@remote.test"
    m2["To"] = "hänsel@example.test"
    m2["Subject"] = "grüße"
    m2.set_content("ünïcödé body\n")
    with smtplib.SMTP("127.0.0.1", d.port) as s:
        s.ehlo()
        check(s.has_extn("smtputf8"), "SMTPUTF8 advertised")
        s.send_message(m2)  # smtplib adds SMTPUTF8 itself for non-ASCII
    end = time.time() + 30
    while time.time() < end and not any("hänsel" in f for f in d.maildir_files()):
        time.sleep(0.2)
    check(any("hänsel" in f for f in d.maildir_files()), "SMTPUTF8 mailbox delivered")

    # never an open relay
    with smtplib.SMTP("127.0.0.1", d.port) as s:
        s.ehlo()
        s.mail("a@remote.test")
        code, resp = s.rcpt("victim@elsewhere.test")
    check(code == 554 and b"5.7.1" in resp, "relay refused: %d %s" % (code, resp))

    # smtp-source: 64 sessions, 10,000 messages; every one delivered
    before = len(d.maildir_files())
    t0 = time.time()
    r = subprocess.run(["smtp-source", "-s", "64", "-m", "10000", "-l", "1024",
                        "-f", "load@remote.test", "-t", "load@example.test",
                        "127.0.0.1:%d" % d.port], capture_output=True, timeout=300)
    dt = time.time() - t0
    check(r.returncode == 0, "smtp-source -s 64 -m 10000 finished in %.1fs (%.0f msg/s)" % (dt, 10000 / dt))
    n = d.wait_delivered(before + 10000, timeout=240)
    check(n == before + 10000, "all 10,000 delivered to the Maildir (%d)" % (n - before))
    st = d.status()
    check(st["queue"]["messages"]["new"] == 0 and st["queue"]["messages"]["deferred"] == 0,
          "queue drained")
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
print("smtp_clients: all checks passed")
