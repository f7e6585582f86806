#!/usr/bin/python3
"""A full queue disk: the queue on a 64 MiB tmpfs made for the test.

  test_diskfull.py MXGATE MXGATECTL quota    queue.quota below the fs size:
                                             the high-water mark is reached
  test_diskfull.py MXGATE MXGATECTL enospc   quota above the fs size: the
                                             filesystem itself fills (ENOSPC)

Delivery is paused (`mxgatectl deliver pause`) and ~470 KB messages are
sent until the daemon refuses.  Proves: the refusal is 452 4.3.1 (RFC 3463
§3.4: mail system full), given within 30 s; the daemon stays up; every
message that got 250 is delivered after `deliver resume` (none lost, none
twice); acceptance resumes by itself once delivery frees space; the log
stays under 256 KB.  Needs root (mount) → else exit 77.
"""
import os
import subprocess
import sys
import tempfile
import time

from reltest import (SKIP, Daemon, Smtp, alive, args, check, delivered_with,
                     fail, legit_delivery, log_size, need)

mxgate, ctl = args()
mode = sys.argv[3] if len(sys.argv) > 3 else "quota"
if os.geteuid() != 0:
    print("SKIP: needs root to mount a tmpfs")
    sys.exit(SKIP)
need("swaks")

LOG_LIMIT = 256 * 1024
LINES = 6000  # 6000 x 78 bytes: about 470 KB per message


def send_one(d, tag, reply_wait=30):
    """One message; returns the final reply code (or the code of the
    first refused step)."""
    s = Smtp(d.port, timeout=reply_wait)
    try:
        s.cmd("EHLO fill.test")
        code, text = s.cmd("MAIL FROM:<fill@client.test>")
        if code != 250:
            return code, text
        code, text = s.cmd("RCPT TO:<fill@example.test>")
        if code != 250:
            return code, text
        code, text = s.cmd("DATA")
        if code != 354:
            return code, text
        s.send(b"Subject: fill " + tag.encode() + b"\r\n\r\n" + tag.encode() +
               b"\r\n" + (b"z" * 76 + b"\r\n") * LINES + b".\r\n")
        try:
            return s.reply()
        except OSError as e:
            return -1, "no reply within %ds (%s)" % (reply_wait, e)
    finally:
        s.close()


mnt = tempfile.mkdtemp(prefix="mxgate-diskfull-")
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "mxgate-test", mnt],
                   capture_output=True, text=True)
if r.returncode != 0:
    os.rmdir(mnt)
    print("SKIP: cannot mount a tmpfs: " + r.stderr.strip())
    sys.exit(SKIP)

quota = "40mb" if mode == "quota" else "1gb"
d = Daemon(mxgate, ctl, extra=[
    "queue.dir=" + os.path.join(mnt, "q"), "queue.segment_size=4mb",
    "queue.quota=" + quota, "smtp.max_message_size=2M",
])
try:
    d.start()
    d.ctlrun("deliver", "pause")
    check(d.status()["delivery_paused"], "delivery paused")
    accepted = []
    refusal = None
    t0 = time.time()
    for i in range(400):
        tag = "fill-%04d" % i
        code, text = send_one(d, tag)
        if code == 250:
            accepted.append(tag)
            continue
        refusal = (code, text)
        break
    alive(d)
    st = d.status()
    print("filled: %d messages accepted in %.1fs, queue %s, over_quota=%s"
          % (len(accepted), time.time() - t0, st["queue"]["bytes_on_disk"],
             st["queue"]["over_quota"]), flush=True)
    check(refusal is not None and len(accepted) > 10,
          "the %s disk filled after %d messages" % (mode, len(accepted)))
    check(refusal[0] == 452 and "4.3.1" in refusal[1],
          "full (%s): new mail gets 452 4.3.1: %s" % (mode, refusal[1]))
    # Still refused, still alive, a second time.
    code, text = send_one(d, "again")
    check(code == 452 and "4.3.1" in text, "a second attempt is refused too: " + text)
    alive(d)

    d.ctlrun("deliver", "resume")
    end = time.time() + 90
    while time.time() < end and len(d.maildir_files()) < len(accepted):
        time.sleep(0.2)
    missing = [t for t in accepted if len(delivered_with(d, t)) != 1]
    check(not missing and len(d.maildir_files()) == len(accepted),
          "after resume all %d acknowledged messages were delivered exactly once"
          % len(accepted))
    # Acceptance comes back by itself once the queue has room again.
    end = time.time() + 30
    code, text = 0, ""
    while time.time() < end:
        code, text = send_one(d, "after-resume")
        if code == 250:
            break
        time.sleep(1)
    check(code == 250, "acceptance resumed by itself after delivery freed space")
    legit_delivery(d, "a full disk")
    size = log_size(d)
    check(size < LOG_LIMIT, "log stayed bounded: %d bytes (< %d)" % (size, LOG_LIMIT))
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
    subprocess.run(["umount", mnt])
    os.rmdir(mnt)
print("PASS")
