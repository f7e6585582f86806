#!/usr/bin/python3
"""Scanning through the real daemon, with the shipped rules and signature
database: the inline pre-filter answers 550 5.7.1 to EICAR (plain and in a
base64 attachment) before the session ends and keeps the message in
quarantine; a zip from clamav-testfiles goes to a ClamAV scanner process
and is quarantined with the signature name; clean mail is delivered;
`quarantine release` sends a quarantined message on to delivery."""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import time

from mxtest import CONF, QUEUED, SKIP, Daemon, check, fail

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ZIP = "/usr/share/clamav-testfiles/clam.zip"
if not shutil.which("swaks") or not os.path.exists(ZIP):
    print("SKIP: swaks or clamav-testfiles missing")
    sys.exit(SKIP)
r = subprocess.run([mxgate, "--version"], capture_output=True, text=True)
if "not built" in r.stdout.split("Hyperscan")[1]:
    print("SKIP: built without Hyperscan/libclamav")
    sys.exit(SKIP)

EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
import tempfile
sigdir = tempfile.mkdtemp(prefix="mxgate-sigs-")
shutil.rmtree(sigdir)
shutil.copytree(os.path.join(os.path.dirname(CONF), "clamav"), sigdir)
d = Daemon(mxgate, ctl, scan=True, extra=["scan.inline_prefilter=true",
                                          "scan.clamav.database=" + sigdir]).start()


def swaks(*args):
    return subprocess.run(["swaks", "-s", "127.0.0.1", "-p", str(d.port), "-f",
                           "s@remote.test", "--timeout", "30"] + list(args),
                          capture_output=True, timeout=60)


def quarantined():
    out = d.ctlrun("quarantine", "list", "--json").stdout
    import json
    return {m["id"]: m for m in json.loads(out)["messages"]}


def wait_for(pred, what, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    fail("timed out waiting for " + what + "\n" + d.logtail())


try:
    end = time.time() + 60
    while not d.status()["scan_healthy"] and time.time() < end:
        time.sleep(0.2)
    check(d.status()["scan_healthy"], "a ClamAV scanner process is up")

    r = swaks("-t", "clean@example.test", "--body", "nothing to see here\n")
    check(QUEUED.search(r.stdout) is not None, "clean message: 250")

    with smtplib.SMTP("127.0.0.1", d.port) as s:
        s.ehlo()
        s.mail("s@remote.test")
        s.rcpt("victim@example.test")
        try:
            code, resp = s.data("Subject: eicar\r\n\r\n" + EICAR + "\r\n")
        except smtplib.SMTPDataError as e:
            code, resp = e.smtp_code, e.smtp_error
    check(code == 550 and b"5.7.1" in resp, "EICAR in the body: %d %s" % (code, resp))

    att = os.path.join(d.dir, "note.txt")
    with open(att, "w") as f:
        f.write(EICAR)
    r = swaks("-t", "victim2@example.test", "--attach", "@" + att)
    check(b"550 5.7.1" in r.stdout and QUEUED.search(r.stdout) is None,
          "EICAR in a base64 attachment: 550 5.7.1 (decoded by the pre-filter)")

    r = swaks("-t", "victim3@example.test", "--attach", "@" + ZIP,
              "--attach-type", "application/zip")
    m = QUEUED.search(r.stdout)
    check(m is not None, "zip attachment: 250, to be scanned by ClamAV")
    zid = m.group(1).decode()

    q = wait_for(lambda: (lambda q: q if len(q) >= 3 else None)(quarantined()),
                 "three quarantined messages")
    check(len(q) == 3, "3 messages in quarantine: %s" % sorted(q))
    show = d.ctlrun("queue", "show", zid, "--json").stdout
    check(re.search(r'"verdict": "[^"]*Clam|"verdict": "[^"]*\.(UNOFFICIAL|Test)', show) is not None
          or "Clam" in show, "the zip's verdict names the ClamAV signature")
    d.wait_delivered(1, timeout=30)
    files = d.maildir_files()
    check(len(files) == 1 and "/clean/new/" in files[0], "only the clean message was delivered")
    head = open(files[0], "rb").read().split(b"\n\n", 1)[0]
    check(b"\nX-Mxgate-Scan: clamav: clean" in head,
          "delivered mail carries the scan trace header: %r" % re.findall(rb"X-Mxgate-Scan: [^\n]*", head))

    d.ctlrun("quarantine", "release", zid)
    n = d.wait_delivered(2, timeout=30)
    check(n == 2 and any("/victim3/new/" in f for f in d.maildir_files()),
          "quarantine release delivers the message")
    # A signature update dropped into the watched directory is loaded
    # (beside the old engine, self-tested, swapped) without a command.
    with open(os.path.join(sigdir, "watch.ndb.tmp"), "w") as f:
        f.write("Mxgate.Test.Watched:0:*:%s\n" % b"mxgate-watched-signature".hex())
    os.rename(os.path.join(sigdir, "watch.ndb.tmp"), os.path.join(sigdir, "watch.ndb"))
    wait_for(lambda: "reloaded" in d.status()["scan_status"], "the watched-directory reload", 60)
    r = swaks("-t", "watched@example.test", "--attach-type", "application/zip",
              "--attach-name", "x.zip", "--attach", "mxgate-watched-signature")
    wid = QUEUED.search(r.stdout).group(1).decode()
    wait_for(lambda: wid in quarantined(), "the new signature to hit")
    check("Mxgate.Test.Watched" in d.ctlrun("queue", "show", wid, "--json").stdout,
          "a signature file dropped into the watched directory is live")
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
    shutil.rmtree(sigdir, ignore_errors=True)
print("scan_daemon: all checks passed")
