#!/usr/bin/python3
"""Mixed crash test (issue 9, "crash torture"): the whole path under load,
with the daemon SIGKILLed at random moments and restarted on its queue.

    smtplib senders (4) -> mxgate (scanning on: pre-filter + ClamAV)
                        -> SMTP next hop on 127.0.0.1 (nexthop.py)

The next hop writes each message to a file before it answers, and answers
2-20 ms later, so kills land while mxgate is delivering.  Senders send
messages with unique Message-Ids and random bodies (0.3-120 KB, some lines
needing dot-stuffing) in four pieces 2-20 ms apart, as a client on a real
network would, so kills land inside DATA too.

Each kill is classified by what was in flight when it landed, from the
daemon's own status and counters (read over the control socket right
before the signal: the requests `mxgatectl status` and `stats` send) and
from the two ends, which know their state exactly:
  mid-DATA      a sender between 354 and its final dot both at the probe
                and once the daemon was dead; sessions > 0
  mid-commit    a sender past its final dot without a reply, likewise
                (the daemon was committing, or had committed and not yet
                answered)
  mid-scan      a ClamAV scan submitted without a verdict
                (scan_clam_submitted - clean - infected - errors - failed)
  mid-delivery  the next hop inside a transaction from mxgate when the
                daemon was dead (receiving its data, or holding it
                stored before the 250), or a connection from mxgate cut
                inside DATA; delivery_inflight > 0
Kills happen at a random moment 0.2-1.0 s after each restart; when only
as many kills are left as classes never hit, the next kill waits (at most
10 s) for a missing class and is marked "aimed" (up to 4 extra kills).

Afterwards (drained): every acknowledged message arrived at the next hop
at least once, byte for byte once our Received:/X-Mxgate-Scan: lines are
stripped, under the queue id its 250 named; everything that arrived was
acknowledged, or its sender sent the final dot, got no reply, and the
message has a queue record (`mxgatectl queue show ID`, its Message-Id in
the recorded header); no message whose sender was killed inside DATA
arrived.  Prints sent / acknowledged / delivered / duplicates / lost (lost
must be 0).  MX_CRASH_SEED=N seeds the sizes and kill moments (body bytes
and the threads' timing still differ from run to run).
Loopback only; bounded in kills and time.  Exit 0 pass, 1 fail, 77 skip.
"""
import json
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

from nexthop import NextHop
from reltest import SKIP, Daemon, args, check, fail

KILLS = 12
AIM_EXTRA = 4              # aimed kills allowed past KILLS for a missing class
SENDERS = 4
KILL_PHASE_MAX = 120       # seconds for the kill phase, at most
DRAIN_MAX = 60
CLASSES = ("mid-DATA", "mid-commit", "mid-scan", "mid-delivery")
QUEUED = re.compile(rb"queued as ([0-9a-f]{16})")
OUR_ID = re.compile(rb"\(mxgate\) with E?SMTP id ([0-9a-f]{16})")
MSGID = re.compile(rb"^Message-Id: (<[^>\r\n]+>)\r$", re.M | re.I)

mxgate, ctl = args()
r = subprocess.run([mxgate, "--version"], capture_output=True, text=True)
if "not built" in r.stdout.split("Hyperscan")[-1]:
    print("SKIP: built without Hyperscan/libclamav")
    sys.exit(SKIP)

seed = int(os.environ.get("MX_CRASH_SEED", str(os.getpid())))
print("seed: %d (MX_CRASH_SEED)" % seed, flush=True)
rng = random.Random(seed)


def on_term(signum, frame):
    raise SystemExit("terminated by signal %d" % signum)


signal.signal(signal.SIGTERM, on_term)


class Book:
    """What the senders know.  `phase[i]` is sender i's state right now:
    (phase, Message-Id) with phase envelope, data (354 seen, final dot not
    sent), commit (final dot sent, no reply yet) or idle."""

    def __init__(self):
        self.lock = threading.Lock()
        self.content = {}       # Message-Id -> bytes as sent (unstuffed)
        self.acked = {}         # Message-Id -> queue id from the 250
        self.dot_sent = set()   # final dot handed to the socket
        self.refused = {}       # Message-Id -> reply
        self.errors = 0
        self.phase = {}


book = Book()
stop = threading.Event()


def make_message(idx, n):
    mid = "<cm.%d.%d.%d.%s@client.test>" % (seed, idx, n, os.urandom(4).hex())
    head = ("Message-Id: %s\r\nFrom: <sender%d@remote.test>\r\n"
            "To: <rcpt%d@example.test>\r\nSubject: crash mix %d.%d\r\n"
            "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n\r\n"
            % (mid, idx, idx, idx, n)).encode()
    size = rng.choice([300, 2000, 8000, 8000, 30000, 120000])
    lines, total = [], 0
    while total < size:
        r = rng.random()
        if r < 0.05:
            line = b"." + os.urandom(rng.randint(0, 20)).hex().encode()
        elif r < 0.07:
            line = b"."
        else:
            line = os.urandom(rng.randint(1, 38)).hex().encode()
        lines.append(line)
        total += len(line) + 2
    return mid, head + b"\r\n".join(lines) + b"\r\n"


def stuff(content):
    """RFC 5321 §4.5.2: a leading dot is doubled."""
    out = content.replace(b"\r\n.", b"\r\n..")
    return b"." + out if out.startswith(b".") else out


def set_phase(idx, phase, mid=None):
    book.phase[idx] = (phase, mid)


def sender(idx, port_of):
    n = 0
    while not stop.is_set():
        mid = None
        phase = "idle"
        try:
            with smtplib.SMTP("127.0.0.1", port_of(), timeout=20) as s:
                s.ehlo("client%d.test" % idx)
                for _ in range(rng.randint(1, 15)):
                    if stop.is_set():
                        break
                    mid, content = make_message(idx, n)
                    n += 1
                    phase = "envelope"
                    set_phase(idx, phase, mid)
                    code, resp = s.mail("sender%d@remote.test" % idx)
                    if code == 250:
                        code, resp = s.rcpt("rcpt%d@example.test" % idx)
                    if code == 250:
                        code, resp = s.docmd("DATA")
                    if code != 354:
                        raise smtplib.SMTPResponseException(code, resp)
                    with book.lock:
                        book.content[mid] = content
                    body = stuff(content)
                    phase = "data"
                    set_phase(idx, phase, mid)
                    pieces = sorted(rng.sample(range(1, len(body)), 3)) \
                        if len(body) > 4 else []
                    start = 0
                    for cut in pieces + [len(body)]:
                        s.send(body[start:cut])
                        start = cut
                        time.sleep(rng.uniform(0.002, 0.02))
                    with book.lock:
                        book.dot_sent.add(mid)
                    s.send(b".\r\n")
                    phase = "commit"
                    set_phase(idx, phase, mid)
                    code, resp = s.getreply()
                    phase = "idle"
                    set_phase(idx, phase)
                    m = QUEUED.search(resp)
                    with book.lock:
                        if code == 250 and m:
                            book.acked[mid] = m.group(1).decode()
                        else:
                            book.refused[mid] = (code, resp)
        except smtplib.SMTPResponseException as e:
            with book.lock:
                book.errors += 1
                if phase == "envelope" and e.smtp_code >= 500:
                    book.refused[mid] = (e.smtp_code, e.smtp_error)
            time.sleep(0.05)
        except (OSError, smtplib.SMTPException):
            # Killed under us, or not back yet.
            with book.lock:
                book.errors += 1
            time.sleep(0.05)
        set_phase(idx, "idle")


def probe(sock):
    """status + stats in one control connection (the requests mxgatectl
    sends); (status, {counter or gauge: value}) or None."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(sock)
            s.sendall(b'{"cmd":"status","id":1}\n{"cmd":"stats","id":2}\n')
            buf = b""
            while buf.count(b"\n") < 2:
                chunk = s.recv(1 << 16)
                if not chunk:
                    return None
                buf += chunk
        a, b = [json.loads(x) for x in buf.split(b"\n")[:2]]
        if not (a.get("ok") and b.get("ok")):
            return None
        return a["result"], {c["name"]: c["value"]
                             for c in b["result"]["counters"]}
    except (OSError, ValueError):
        return None


def scans_in_flight(c):
    return c["scan_clam_submitted"] - c["scan_clam_clean"] - \
        c["scan_clam_infected"] - c["scan_clam_errors"] - c["scan_clam_failed"]


def across(before, after, phase):
    """Messages a sender was in `phase` of both before the probe and once
    the daemon was dead: the kill landed inside that phase."""
    return [m for i, (p, m) in before.items()
            if p == phase and after.get(i) == (p, m)]


def classify(pr, phases, hop_busy, after=None, hop_after=None, cut=0):
    """The classes a kill with this view landed in, and the figures.
    `after`: the senders' phases once the daemon was dead; `hop_after`:
    the next hop's transactions still open then; `cut`: its connections
    from mxgate that ended inside DATA because of this kill.  Without
    them: what the probe saw, to aim a kill."""
    st, c = pr
    if after is None:
        after, hop_after = phases, hop_busy
    in_data = across(phases, after, "data")
    in_commit = across(phases, after, "commit")
    scans = scans_in_flight(c)
    got = {}
    if in_data and st["sessions"] > 0:
        got["mid-DATA"] = "%d sender(s) inside DATA, sessions=%d" % (
            len(in_data), st["sessions"])
    if in_commit and st["sessions"] > 0:
        got["mid-commit"] = "%d sender(s) past the final dot, no reply" \
            % len(in_commit)
    if scans > 0:
        got["mid-scan"] = "clamav scans in flight=%d, queue new=%d" % (
            scans, st["queue"]["messages"]["new"])
    if (hop_after or cut) and st["delivery_inflight"] > 0:
        phases = sorted(hop_after.values())
        got["mid-delivery"] = "next hop: %d transaction(s) open when the " \
            "daemon died (%d awaiting data, %d stored awaiting our 250), " \
            "%d cut inside DATA; delivery_inflight=%d" % (
                len(hop_after), phases.count("data"), phases.count("reply"),
                cut, st["delivery_inflight"])
    return got, in_data, in_commit


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def reap(pids, strict=True, timeout=5):
    """The daemon's scanner children die with it (PDEATHSIG); make sure,
    and kill any that did not (a failure when strict)."""
    end = time.time() + timeout
    left = []
    for pid in pids:
        while time.time() < end and os.path.exists("/proc/%d" % pid):
            time.sleep(0.02)
        if os.path.exists("/proc/%d" % pid):
            left.append(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if left and strict:
        fail("scanner pid(s) %s outlived the daemon" % left)


def queue_records(d, seen):
    """Every message the restarted daemon's queue holds (done ones too)
    that is not in `seen` (queue ids already accounted for): Message-Id ->
    (queue id, state), from `mxgatectl queue list` and `queue show`.  Run
    right after a restart, while the scanner is still loading and what the
    kill left behind is still queued: the proof that a message nobody
    acknowledged had been accepted."""
    out = {}
    for extra in ((), ("--state", "done")):
        r = d.ctlrun("queue", "list", *extra, "--limit", "1000000")
        for m in json.loads(r.stdout)["messages"]:
            if m["id"] in seen:
                continue
            seen.add(m["id"])
            r = d.ctlrun("queue", "show", m["id"], check_rc=False)
            if r.returncode != 0:
                continue
            hm = MSGID.search(json.loads(r.stdout)["headers"].encode())
            if hm:
                out[hm.group(1).decode()] = (m["id"], m["state"])
    return out


def strip_trace(raw):
    """Our Received: and X-Mxgate-Scan: lines (with continuations) off the
    top; returns (queue id from Received:, the rest).  The id is None
    unless there was exactly one of each, the Received: ours."""
    qid, names = None, []
    while True:
        m = re.match(rb"(Received|X-Mxgate-Scan):[^\r\n]*\r\n"
                     rb"(?:[ \t][^\r\n]*\r\n)*", raw)
        if not m:
            break
        names.append(m.group(1))
        idm = OUR_ID.search(re.sub(rb"\r\n[ \t]+", b" ", m.group(0)))
        if idm:
            qid = idm.group(1).decode()
        raw = raw[m.end():]
    if sorted(names) != [b"Received", b"X-Mxgate-Scan"]:
        qid = None
    return qid, raw


def main():
    tmp = tempfile.mkdtemp(prefix="mxgate-crashmix-")
    hop = NextHop(os.path.join(tmp, "nexthop"))
    os.mkdir(os.path.join(tmp, "daemon"))
    route = "smtp:[127.0.0.1]:%d" % hop.port
    d = Daemon(mxgate, ctl, scan=True, workdir=os.path.join(tmp, "daemon"),
               extra=['delivery.default_route="%s"' % route,
                      "delivery.retry_schedule=[1s]",
                      "delivery.concurrency_per_destination=4",
                      # Small segments: several roll over during the run
                      # (kills land across them) and a restart replays
                      # 8 MB per segment instead of 64; a message must
                      # fit in one.
                      "queue.segment_size=8mb",
                      "smtp.max_message_size=4mb"])
    threads = []
    scanner_pids = []
    t_start = time.time()
    try:
        d.start()
        threads = [threading.Thread(target=sender, args=(i, lambda: d.port),
                                    daemon=True) for i in range(SENDERS)]
        for t in threads:
            t.start()
        hits = {c: 0 for c in CLASSES}
        kills, aimed, gaps = 0, 0, []
        killed_in_data, killed_in_commit = set(), set()
        records, seen = {}, set()
        hop_stats = None
        end = time.time() + KILL_PHASE_MAX
        while time.time() < end:
            missing = [c for c in CLASSES if not hits[c]]
            if kills >= KILLS + (AIM_EXTRA if missing else 0):
                break
            aim = missing[0] if missing and KILLS - kills <= len(missing) \
                else None
            if aim is None:
                time.sleep(rng.uniform(0.2, 1.0))
            wait_end = time.time() + 10
            while True:
                pr = probe(d.sock)
                phases = dict(book.phase)
                busy = hop.busy()
                t_probe = time.monotonic()
                hop_stats = hop_stats or hop.stats()
                if pr is None:
                    if time.time() > wait_end + 20:
                        fail("no answer on the control socket: " +
                             d.logtail())
                    time.sleep(0.02)
                    continue
                got = classify(pr, phases, busy)[0]
                if aim is None or aim in got or time.time() > wait_end:
                    break
                time.sleep(rng.uniform(0, 0.01))
            scanner_pids = children(d.proc.pid)
            d.proc.send_signal(signal.SIGKILL)
            gap_ms = (time.monotonic() - t_probe) * 1000
            d.proc.wait()
            after, hop_after = dict(book.phase), hop.busy()
            d.logf.close()
            kills += 1
            aimed += aim is not None
            reap(scanner_pids)
            t0 = time.monotonic()
            d.start()
            restart_s = time.monotonic() - t0
            # By now the next hop has seen every connection the kill cut.
            cut = hop.stats()["aborted"] - hop_stats["aborted"]
            hop_stats = hop.stats()
            got, in_data, in_commit = classify(pr, phases, busy, after,
                                               hop_after, cut)
            killed_in_data.update(in_data)
            killed_in_commit.update(in_commit)
            for c in got:
                hits[c] += 1
            gaps.append(gap_ms)
            st = d.status()
            with book.lock:
                seen.update(book.acked.values())
            records.update(queue_records(d, seen))
            q = st["queue"]["messages"]
            print("kill %2d%s (%.2f ms after the probe): %s | restarted in "
                  "%.1f s: recovered=%d new=%d scanned=%d deferred=%d" %
                  (kills, " aimed at " + aim if aim else "", gap_ms,
                   "; ".join("%s (%s)" % kv for kv in got.items()) or
                   "nothing in flight", restart_s,
                   st["queue"]["recovered_messages"], q["new"], q["scanned"],
                   q["deferred"]), flush=True)
        stop.set()
        for t in threads:
            t.join(30)
        t_kill = time.time() - t_start
        print("classification: " + ", ".join("%s=%d" % (c, hits[c])
                                             for c in CLASSES) +
              " (kills=%d, aimed=%d, probe-to-kill max %.2f ms)" %
              (kills, aimed, max(gaps or [0])), flush=True)
        check(kills >= 10, "%d SIGKILLs under load" % kills)
        for c in CLASSES:
            check(hits[c] > 0, "a kill landed %s (%d times)" % (c, hits[c]))

        # Drain: everything acknowledged out, the queue empty.
        t_drain = time.time()
        drain_end = t_drain + DRAIN_MAX
        while time.time() < drain_end:
            st = d.status()
            q = st["queue"]["messages"]
            if q["new"] + q["scanned"] + q["deferred"] == 0 and \
                    st["delivery_inflight"] == 0 and not hop.busy():
                break
            time.sleep(0.2)
        t_drain = time.time() - t_drain
        q = d.status()["queue"]["messages"]
        check(q["new"] + q["scanned"] + q["deferred"] + q["held"] +
              q["quarantined"] == 0, "queue drained: %s" % q)

        # What arrived, by Message-Id.
        arrived = {}
        for path in hop.files():
            with open(path, "rb") as f:
                qid, rest = strip_trace(f.read())
            m = MSGID.search(rest.split(b"\r\n\r\n", 1)[0] + b"\r\n")
            if not m:
                fail("%s: no Message-Id after our trace lines" % path)
            arrived.setdefault(m.group(1).decode(), []).append((qid, rest,
                                                                path))
        copies = sum(len(v) for v in arrived.values())
        lost, corrupt, wrong_id, unknown = [], [], [], []
        for mid, qid in book.acked.items():
            if mid not in arrived:
                lost.append(mid)
                continue
            for aqid, rest, path in arrived[mid]:
                if rest != book.content[mid]:
                    corrupt.append((mid, path))
                if aqid != qid:
                    wrong_id.append((mid, qid, aqid))
        unacked = {mid: v for mid, v in arrived.items()
                   if mid not in book.acked}
        proven = 0
        for mid, copies_of in unacked.items():
            if mid not in book.content:
                unknown.append(mid)
                continue
            if mid not in book.dot_sent:
                fail("%s arrived but its sender was cut before the final "
                     "dot" % mid)
            for aqid, rest, path in copies_of:
                if rest != book.content[mid]:
                    corrupt.append((mid, path))
                if records.get(mid, (None,))[0] != aqid:
                    fail("%s arrived (queue id %s) unacknowledged, without a "
                         "queue record of its acceptance (records: %s)" %
                         (mid, aqid, records.get(mid)))
            proven += 1
        sent = len(book.content)
        unanswered = [m for m in book.dot_sent
                      if m not in book.acked and m not in book.refused and
                      m not in killed_in_data]
        data_arrived = [m for m in killed_in_data if m in arrived]
        commit_arrived = [m for m in killed_in_commit if m in arrived]
        print("messages: sent=%d acknowledged=%d delivered=%d duplicates=%d "
              "lost=%d" % (sent, len(book.acked), len(arrived),
                           copies - len(arrived), len(lost)), flush=True)
        other = sent - len(book.acked) - len(book.refused) - \
            len(killed_in_data) - len(unanswered)
        print("unacknowledged: %d (killed inside DATA %d, arrived %d; final "
              "dot sent, no reply %d, arrived %d with queue records; cut in "
              "DATA between probe and kill %d; of the %d killed mid-commit "
              "%d had been committed)" %
              (sent - len(book.acked), len(killed_in_data),
               len(data_arrived), len(unanswered), proven, other,
               len(killed_in_commit), len(commit_arrived)), flush=True)
        print("next hop: %d copies, %s; client errors=%d; kill phase %.0f s, "
              "drain %.1f s" % (copies, hop.stats(), book.errors, t_kill,
                                t_drain), flush=True)
        check(not data_arrived, "no message whose sender was killed inside "
              "DATA arrived (%s)" % data_arrived[:5])
        check(len(book.acked) > 0, "messages were acknowledged")
        check(not lost, "every acknowledged message arrived (lost %s)"
              % lost[:5])
        check(not corrupt, "every copy byte for byte as sent (%s)"
              % corrupt[:5])
        check(not wrong_id, "each copy carries one Received: naming the "
              "queue id its 250 named and one X-Mxgate-Scan: (%s)"
              % wrong_id[:5])
        check(not unknown, "nothing arrived that no sender sent (%s)"
              % unknown[:5])
        check(proven == len(unacked), "every unacknowledged arrival was cut "
              "after its final dot and has a queue record (%d)" % proven)
        check(not book.refused, "no message refused (%s)"
              % list(book.refused.items())[:3])
        scanner_pids = children(d.proc.pid)
        check(d.stop() == 0, "clean stop after the crash series")
        reap(scanner_pids)
    finally:
        stop.set()
        left = children(d.proc.pid) if d.proc else []
        d.cleanup()
        reap(left, strict=False)
        for t in threads:
            t.join(5)
        hop.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("crash_mixed: all checks passed")


main()
