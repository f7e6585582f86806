#!/usr/bin/python3
"""mxload --depth against a raw SMTP server written here (no smtplib) that
refuses some transactions: every 7th MAIL gets 451, RCPT to user3@ gets
550 and so does user5@ (a transaction with no recipient left gets 554
to its BDAT LAST), everything else 250.

The server parses the byte stream itself (lines, then exactly n octets
after BDAT n, RFC 3030 §2) and counts what it answered.  mxload's JSON
must account for every transaction exactly as the server does: ok =
250s to BDAT LAST, rejected_4xx = MAILs refused, rejected_5xx = BDATs
refused for want of a recipient, nothing lost; every RSET it sent (after
a batch with a failed transaction whose MAIL was accepted) answered; and
the server must have seen several transactions arrive in one read, i.e.
depth was really used.  Then the same with -k 3 (batches cut short by the
connection's message limit), with two threads, and with a connection the
server drops mid-batch (its unanswered transactions: conn_error).

    test_mxload_depth.py MXLOAD
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))
from mxtest import Checks  # noqa: E402

MXLOAD = sys.argv[1]
CHECKS = Checks()
check = CHECKS.check


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.mails = 0
        self.ok = 0
        self.rej4 = 0
        self.rej5 = 0
        self.rsets = 0
        self.drops = 0
        self.errors = []
        self.max_bdat_per_read = 0

    def next_mail(self):
        with self.lock:
            self.mails += 1
            return self.mails

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


def serve_conn(sock, n, drop_at):
    """One SMTP session, replies written once per read (as a pipelining
    server does); counted once written.  The MAIL numbered drop_at (over
    all sessions) closes the connection instead, its read unanswered."""
    sock.sendall(b"220 raw.test ESMTP\r\n")
    buf, need = b"", 0
    in_txn, rcpts = False, 0
    while True:
        data = sock.recv(65536)
        if not data:
            return
        buf += data
        out, bdats, quit_ = [], 0, False
        got = Counts()
        while not quit_:
            if need:
                if len(buf) < need:
                    break
                buf, need = buf[need:], 0
                bdats += 1
                if not in_txn:
                    out.append(b"503 5.5.1 no transaction\r\n")
                elif rcpts == 0:
                    out.append(b"554 5.5.1 no valid recipients\r\n")
                    got.rej5 += 1
                else:
                    out.append(b"250 2.0.0 queued\r\n")
                    got.ok += 1
                in_txn = False
                continue
            i = buf.find(b"\r\n")
            if i < 0:
                break
            line, buf = buf[:i], buf[i + 2:]
            verb = line.split(b" ", 1)[0].upper()
            if verb == b"EHLO":
                out.append(b"250-raw.test\r\n250-PIPELINING\r\n"
                           b"250 CHUNKING\r\n")
            elif verb == b"MAIL":
                if in_txn:
                    n.errors.append("nested MAIL")
                    out.append(b"503 5.5.1 nested MAIL\r\n")
                    continue
                k = n.next_mail()
                if k == drop_at:
                    n.add(drops=1)
                    return
                if k % 7 == 3:
                    out.append(b"451 4.3.0 try later\r\n")
                    got.rej4 += 1
                else:
                    in_txn, rcpts = True, 0
                    out.append(b"250 2.1.0 ok\r\n")
            elif verb == b"RCPT":
                if not in_txn:
                    out.append(b"503 5.5.1 need MAIL\r\n")
                elif b"<user3@" in line or b"<user5@" in line:
                    out.append(b"550 5.1.1 no such user\r\n")
                else:
                    rcpts += 1
                    out.append(b"250 2.1.5 ok\r\n")
            elif verb == b"BDAT":
                parts = line.split()
                if len(parts) != 3 or parts[2].upper() != b"LAST":
                    n.errors.append("unexpected %r" % line)
                    return
                need = int(parts[1])
                if need == 0:
                    n.errors.append("empty chunk")
                    return
            elif verb == b"RSET":
                in_txn = False
                got.rsets += 1
                out.append(b"250 2.0.0 ok\r\n")
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 bye\r\n")
                quit_ = True
            else:
                n.errors.append("unexpected %r" % line)
                out.append(b"500 5.5.2 what\r\n")
        with n.lock:
            n.max_bdat_per_read = max(n.max_bdat_per_read, bdats)
        if out:
            sock.sendall(b"".join(out))
        n.add(ok=got.ok, rej4=got.rej4, rej5=got.rej5, rsets=got.rsets)
        if quit_:
            return


def run_server(ls, n, stop, drop_at):
    threads = []
    ls.settimeout(0.2)
    while not stop.is_set():
        try:
            s, _ = ls.accept()
        except socket.timeout:
            continue
        s.settimeout(30)

        def one(s=s):
            try:
                serve_conn(s, n, drop_at)
            except OSError as e:
                n.errors.append("socket: %s" % e)
            finally:
                s.close()
        t = threading.Thread(target=one)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(30)


def case(args, msgs, drop_at=0):
    n, stop = Counts(), threading.Event()
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    port = ls.getsockname()[1]
    srv = threading.Thread(target=run_server, args=(ls, n, stop, drop_at))
    srv.start()
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as jf:
            r = subprocess.run(
                [MXLOAD, "-s", "127.0.0.1:%d" % port, "-m", str(msgs),
                 "--rcpt-users", "10", "--timeout", "20",
                 "--json", jf.name] + args,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                timeout=120)
            j = json.load(open(jf.name)) if r.returncode in (0, 1) else {}
    finally:
        stop.set()
        srv.join()
        ls.close()
    what = " ".join(args)
    print("%s: %s" % (what, r.stdout.strip()), flush=True)
    check(j != {}, "%s: mxload exit %d %s" % (what, r.returncode, r.stderr))
    if not j:
        return
    out = j["outcomes"]
    check(not n.errors, "%s: server saw %s" % (what, n.errors[:3]))
    check(j["sent"] == msgs, "%s: sent %d of %d" % (what, j["sent"], msgs))
    check(out["ok"] == n.ok, "%s: ok %d, server accepted %d" % (
        what, out["ok"], n.ok))
    check(out["rejected_4xx"] == n.rej4, "%s: 4xx %d, server %d" % (
        what, out["rejected_4xx"], n.rej4))
    check(out["rejected_5xx"] == n.rej5, "%s: 5xx %d, server %d" % (
        what, out["rejected_5xx"], n.rej5))
    # Transactions in flight on a dropped connection end as conn_error.
    answered = n.ok + n.rej4 + n.rej5
    check(out["conn_error"] == msgs - answered and
          (out["conn_error"] > 0) == bool(drop_at),
          "%s: conn_error %d, server answered %d of %d" % (
              what, out["conn_error"], answered, msgs))
    check(n.drops == (1 if drop_at else 0), "%s: drops %d" % (what, n.drops))
    check(j["failed"] == msgs - n.ok, "%s: failed %d" % (
        what, j["failed"]))
    check(n.rej4 > 0 and n.rej5 > 0, "%s: refusals exercised" % what)
    check((n.rsets > 0 or drop_at) and
          j["replies"]["rset"]["2xx"] == n.rsets,
          "%s: RSETs %s answered of %d" % (what, j["replies"]["rset"],
                                           n.rsets))
    d = j["depth"]
    check(d["requested"] == 8 and d["batch_txns"] == msgs and
          d["fallback_conns"] == 0, "%s: depth %r" % (what, d))
    check(d["txns_per_write"] > 1.5, "%s: depth used: %r" % (what, d))
    check(n.max_bdat_per_read > 1, "%s: server read at most %d "
          "transactions at once" % (what, n.max_bdat_per_read))


def main():
    case(["--depth", "8", "-c", "4"], 700)
    case(["--depth", "8", "-c", "6", "-k", "3"], 301)
    case(["--depth", "8", "-c", "8", "-t", "2", "-r", "2"], 600)
    # A connection lost with a batch in flight: its transactions end as
    # conn_error, the rest go on over new connections.
    case(["--depth", "8", "-c", "4"], 400, drop_at=100)
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
