#!/usr/bin/python3
"""smoke_client — a real kernel-TCP SMTP client (smtplib) for tests/dpdk/smoke.

usage: smoke_client.py HOST PORT DIR SESSIONS MESSAGES

Opens SESSIONS connections in parallel threads; each sends MESSAGES
messages of assorted sizes (1 KiB to 256 KiB, dot-leading lines included
so dot-stuffing is exercised), each carrying a unique X-Smoke-Id.  Every
reply is printed.  After all sessions end it checks that each message is
in DIR byte for byte (the sink writes msg.<id> files after fsync), that a
relay attempt was refused, and exits 0 only if all of that holds.
"""
import os
import random
import smtplib
import sys
import threading
import uuid

host, port, mdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sessions, per = int(sys.argv[4]), int(sys.argv[5])
sent = {}
errors = []
lock = threading.Lock()


def body(rng, size, mid):
    lines = ["Subject: smoke %s" % mid, "X-Smoke-Id: %s" % mid, ""]
    total = 0
    while total < size:
        n = rng.randint(1, 120)
        line = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ")
                       for _ in range(n))
        if rng.random() < 0.05:
            line = "." + line
        lines.append(line)
        total += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


def session(k):
    rng = random.Random(k)
    try:
        s = smtplib.SMTP(host, port, timeout=60)
        code, msg = s.ehlo("client%d.smoke.test" % k)
        print("session %d EHLO -> %d" % (k, code), flush=True)
        for i in range(per):
            mid = str(uuid.uuid4())
            size = rng.choice([1024, 4096, 30000, 100000, 262144])
            b = body(rng, size, mid)
            refused = s.sendmail("from%d@client.test" % k,
                                 ["to%d@smoke.test" % i], b.encode())
            code, msg = s.noop()
            print("session %d msg %d size %d -> accepted, NOOP %d"
                  % (k, i, len(b), code), flush=True)
            with lock:
                sent[mid] = b.encode()
        try:
            s.sendmail("x@client.test", ["victim@elsewhere.example"], b"x\r\n")
            with lock:
                errors.append("session %d: relay accepted" % k)
        except smtplib.SMTPRecipientsRefused as e:
            code, msg = list(e.recipients.values())[0]
            print("session %d relay -> %d %s" % (k, code, msg.decode()),
                  flush=True)
        code, msg = s.quit()
        print("session %d QUIT -> %d %s" % (k, code, msg.decode()), flush=True)
    except Exception as e:  # any failure fails the test
        with lock:
            errors.append("session %d: %r" % (k, e))


threads = [threading.Thread(target=session, args=(k,)) for k in range(sessions)]
for t in threads:
    t.start()
for t in threads:
    t.join()

found = {}
for name in os.listdir(mdir):
    if not name.startswith("msg."):
        continue
    data = open(os.path.join(mdir, name), "rb").read()
    i = data.find(b"X-Smoke-Id: ")
    if i >= 0:
        found[data[i + 12:i + 48].decode(errors="replace")] = data
for mid, b in sent.items():
    got = found.get(mid)
    # On disk: the sink's envelope lines, the engine's Received line, then
    # the body exactly as given (smtplib dot-stuffs, the engine unstuffs).
    want = b
    if got is None:
        errors.append("message %s not on disk" % mid)
    elif want[want.find(b"Subject"):] not in got:
        errors.append("message %s differs on disk" % mid)
print("python: %d messages sent, %d verified on disk, %d errors"
      % (len(sent), len([m for m in sent if m in found]), len(errors)))
for e in errors:
    print("ERROR", e)
sys.exit(1 if errors or len(sent) != sessions * per else 0)
