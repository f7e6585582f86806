#!/usr/bin/python3
"""Scanner faults under load, scanning on (configs/prefilter.rules and a
copy of the shipped configs/clamav signatures).

Proves:
  - EICAR ends quarantined, a clean message is delivered;
  - a corrupt signature update (`mxgatectl reload signatures` over a
    broken database directory) fails, `status` says the old engine was
    kept, scan_clam_reload_failures moves, and the old engine still
    catches EICAR; a good update afterwards is taken;
  - SIGKILL of the mxgate-scanner process, twice, while 150 messages flow:
    the scanner is restarted (new pid, scan_clam_crashes and
    scan_clam_spawns move) and every message is accounted for — each
    clean one delivered exactly once, each EICAR one quarantined, nothing
    left in the queue.
"""
import os
import shutil
import signal
import subprocess
import time

from reltest import (ROOT, SKIP, Daemon, Smtp, alive, args, check,
                     delivered_with, fail, legit_delivery, need)

mxgate, ctl = args()
need("swaks")

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def status_wait(d, pred, timeout=30):
    end = time.time() + timeout
    st = d.status()
    while time.time() < end:
        st = d.status()
        if pred(st):
            return st
        time.sleep(0.1)
    return st


def scanner_pids(d):
    r = subprocess.run(["pgrep", "-P", str(d.proc.pid), "-x", "mxgate-scanner"],
                       capture_output=True, text=True)
    return sorted(int(p) for p in r.stdout.split())


def send(d, tag, infected):
    body = (b"Subject: " + tag.encode() + b"\r\n\r\n" + tag.encode() + b"\r\n" +
            (EICAR + b"\r\n" if infected else b"clean text\r\n") + b".\r\n")
    s = Smtp(d.port, timeout=30)
    try:
        for line in ("EHLO scan.test", "MAIL FROM:<s@client.test>",
                     "RCPT TO:<scan@example.test>"):
            s.cmd(line)
        code, text = s.cmd("DATA")
        if code != 354:
            return code, text
        s.send(body)
        return s.reply()
    finally:
        s.close()


def quarantined(d):
    return d.status()["queue"]["messages"]["quarantined"]


def pending(st):
    m = st["queue"]["messages"]
    return m["new"] + m["scanned"] + m["deferred"] + m["held"]


if not os.path.isdir(os.path.join(ROOT, "configs", "clamav")):
    print("SKIP: no configs/clamav")
    os.sys.exit(SKIP)

db = None
d = None
try:
    d = Daemon(mxgate, ctl, scan=True)
    db = os.path.join(d.dir, "clamav")
    shutil.copytree(os.path.join(ROOT, "configs", "clamav"), db)
    d.opts.append("scan.clamav.database=" + db)
    d.start()
    st = status_wait(d, lambda s: s["scan_healthy"] and scanner_pids(d))
    if not st["scan_enabled"]:
        print("SKIP: this build has no scanner (%s)" % st["scan_status"])
        os.sys.exit(SKIP)
    check(st["scan_healthy"], "scanner up: " + st["scan_status"])

    code, _ = send(d, "eicar-0", True)
    check(code == 250, "EICAR message accepted for scanning")
    st = status_wait(d, lambda s: s["queue"]["messages"]["quarantined"] >= 1)
    check(st["queue"]["messages"]["quarantined"] == 1, "EICAR ends quarantined")
    legit_delivery(d, "the EICAR message (clean mail is delivered)")

    # A corrupt signature update: garbage in every database file.
    c0 = d.counters()
    for name in os.listdir(db):
        if name.endswith(("db",)):
            with open(os.path.join(db, name), "w") as f:
                f.write("this:is:not a signature\n\x00\x01garbage\n")
    r = d.ctlrun("reload", "signatures", check_rc=False)
    st = status_wait(d, lambda s: "fail" in s["scan_status"])
    check("old engine kept" in st["scan_status"],
          "a corrupt update is refused and status says so: " + st["scan_status"])
    c1 = d.counters()
    check(c1["scan_clam_reload_failures"] > c0["scan_clam_reload_failures"],
          "scan_clam_reload_failures +%d" % (c1["scan_clam_reload_failures"] -
                                            c0["scan_clam_reload_failures"]))
    code, _ = send(d, "eicar-1", True)
    st = status_wait(d, lambda s: s["queue"]["messages"]["quarantined"] >= 2)
    check(code == 250 and st["queue"]["messages"]["quarantined"] == 2,
          "the old engine still quarantines EICAR after the failed update")
    shutil.rmtree(db)
    shutil.copytree(os.path.join(ROOT, "configs", "clamav"), db)
    d.ctlrun("reload", "signatures")
    st = status_wait(d, lambda s: s["scan_status"].startswith("signatures reloaded"))
    check(st["scan_status"].startswith("signatures reloaded"),
          "a good update is taken: " + st["scan_status"])

    # SIGKILL the scanner while mail flows.
    c0 = d.counters()
    q0 = quarantined(d)
    total, results, kills = 150, {}, []
    for i in range(total):
        if i in (total // 3, 2 * total // 3):
            st = status_wait(d, lambda s: scanner_pids(d) != [], 15)
            pids = scanner_pids(d)
            if not pids:
                fail("no mxgate-scanner process to kill")
            os.kill(pids[0], signal.SIGKILL)
            kills.append(pids[0])
        tag = "flow-%03d" % i
        try:
            results[tag] = send(d, tag, i % 10 == 0)[0]
        except OSError as e:
            results[tag] = str(e)
    alive(d)
    check(all(v == 250 for v in results.values()) and len(results) == total,
          "all %d messages accepted while the scanner was killed %d times"
          % (total, len(kills)))
    st = status_wait(d, lambda s: pending(s) == 0 and s["scan_healthy"], 90)
    status_wait(d, lambda s: scanner_pids(d) != [], 30)
    new_pids = scanner_pids(d)
    check(new_pids and not set(new_pids) & set(kills),
          "scanner restarted: killed %s, now %s" % (kills, new_pids))
    c1 = d.counters()
    for name in ("scan_clam_crashes", "scan_clam_spawns"):
        check(c1[name] - c0[name] >= 2, "%s +%d" % (name, c1[name] - c0[name]))
    clean_n = total - total // 10
    check(c1["scan_clam_clean"] - c0["scan_clam_clean"] >= clean_n,
          "ClamAV gave a clean verdict for each clean message (scan_clam_clean +%d)"
          % (c1["scan_clam_clean"] - c0["scan_clam_clean"]))
    check(pending(st) == 0, "nothing left in the queue: %s" % st["queue"]["messages"])
    clean = ["flow-%03d" % i for i in range(total) if i % 10]
    lost = [t for t in clean if len(delivered_with(d, t)) != 1]
    check(not lost, "each of the %d clean messages delivered exactly once" % len(clean))
    infected = total // 10
    check(quarantined(d) - q0 == infected,
          "each of the %d EICAR messages quarantined" % infected)
    legit_delivery(d, "scanner kills")
    check(d.stop() == 0, "clean stop")
finally:
    if d:
        d.cleanup()
print("PASS")
