#!/usr/bin/python3
"""mxsink driven by real clients: Python's smtplib (DATA with dot-stuffed
lines, several messages a connection, an over-long text line and command
line, an unknown verb), raw BDAT and a pipelined burst over a socket, and
mxload (BDAT, DATA, a connection per message, --depth) over two threads.  After
SIGTERM the summary line must count exactly what was sent.  Then: a
second sink with room for two connections answers a third with 421 (and
stops on SIGINT), bad
arguments exit 2, and [::1]:0 works where the host has IPv6.

    test_mxsink.py MXSINK MXLOAD
"""
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))
from mxtest import Checks  # noqa: E402

MXSINK, MXLOAD = sys.argv[1], sys.argv[2]
CHECKS = Checks()
check = CHECKS.check


def start(*args):
    p = subprocess.Popen([MXSINK] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"mxsink: listening on (\[[^\]]+\]|[^ :]+):(\d+) ", line)
    if not m:
        p.kill()
        p.wait()
        sys.exit("mxsink did not start: %r %s" % (line, p.stderr.read()))
    return p, m.group(1).strip("[]"), int(m.group(2)), line


def stop(p, sig=signal.SIGTERM):
    p.send_signal(sig)
    out, err = p.communicate(timeout=10)
    check(p.returncode == 0, "mxsink exit %s: %s" % (p.returncode, err))
    m = re.search(r"^mxsink: messages=.*$", out, re.M)
    check(m is not None, "no summary line in %r" % out)
    if not m:
        return {}, ""
    return {k: v for k, v in re.findall(r"(\w+)=([\w.]+)", m.group(0))}, \
        m.group(0)


def recv_replies(s, n):
    """n complete replies (multi-line ones count once)."""
    buf, got = b"", []
    while len(got) < n:
        data = s.recv(65536)
        if not data:
            break
        buf += data
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                got.append(line)
    return got


def mxload(port, *args):
    with tempfile.NamedTemporaryFile(suffix=".json") as jf:
        r = subprocess.run([MXLOAD, "-s", "127.0.0.1:%d" % port,
                            "--json", jf.name] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        check(r.returncode == 0, "mxload %s: exit %d %s %s" % (
            args, r.returncode, r.stdout, r.stderr))
        with open(jf.name) as f:
            return json.load(f)


def main():
    p, host, port, line = start("-t", "2")
    check(host == "127.0.0.1", "default listen address is loopback: " + line)
    check("not durable" in line, "start line says not durable")
    want = {"data": 0, "bdat": 0}

    # smtplib: extensions, dot-stuffing, several messages a connection.
    c = smtplib.SMTP("127.0.0.1", port, timeout=10)
    code, banner = c.ehlo("client.test")
    check(code == 250, "EHLO 250")
    for ext in ("pipelining", "8bitmime", "size", "chunking"):
        check(c.has_extn(ext), "EHLO offers " + ext)
    body = ("Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nline\r\n" * 50).encode()
    for _ in range(3):
        c.sendmail("a@x.test", ["b@y.test", "c@y.test"], body)
        want["data"] += 1
    # A text line over RFC 5321's 1000 octets: 500 at the dot.
    try:
        c.sendmail("a@x.test", ["b@y.test"], b"Subject: long\r\n\r\n" +
                   b"x" * 1500 + b"\r\n")
        check(False, "over-long text line accepted")
    except smtplib.SMTPDataError as e:
        check(e.smtp_code == 500, "over-long text line: 500, got %s" %
              e.smtp_code)
    c.rset()
    code, _ = c.docmd("NOOP " + "y" * 2000)
    check(code == 500, "over-long command line: 500, got %d" % code)
    code, _ = c.docmd("FROB")
    check(code == 500, "unknown verb: 500, got %d" % code)
    c.quit()

    # Raw BDAT whose chunk holds what would end DATA, then a pipelined
    # burst: EHLO, two transactions and QUIT in one send.
    s = socket.create_connection(("127.0.0.1", port), 10)
    recv_replies(s, 1)
    chunk = b"Subject: b\r\n\r\nx\r\n.\r\nQUIT\r\n"
    s.sendall(b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
              b"BDAT %d\r\n%sBDAT 3 LAST\r\nend" % (len(chunk), chunk))
    got = recv_replies(s, 5)
    check([g[:3] for g in got] == [b"250"] * 5, "BDAT replies: %r" % got)
    want["bdat"] += 1
    burst = b"EHLO c\r\n" + (b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"
                             b"hi\r\n.\r\n") * 2 + b"QUIT\r\n"
    s.sendall(burst)
    got = recv_replies(s, 10)
    check([g[:3] for g in got] == [b"250", b"250", b"250", b"354", b"250",
                                   b"250", b"250", b"354", b"250", b"221"],
          "pipelined burst replies: %r" % got)
    check(s.recv(100) == b"", "closed after QUIT")
    s.close()
    want["data"] += 2

    # mxload over both threads: BDAT (offered), DATA, new connections.
    for args, kind in ((["-c", "8", "-m", "2000", "-l", "2k"], "bdat"),
                       (["-c", "8", "-m", "2000", "-l", "2k",
                         "--no-chunking"], "data"),
                       (["-c", "4", "-m", "200", "-k", "1"], "bdat"),
                       # --depth: whole BDAT transactions in one write;
                       # closed loop, a message limit per connection that
                       # cuts batches short, open loop; without CHUNKING
                       # it falls back to depth 1 (DATA).
                       (["-c", "8", "-m", "4000", "--depth", "8"], "bdat"),
                       (["-c", "6", "-m", "1001", "--depth", "8", "-k",
                         "5"], "bdat"),
                       (["-c", "4", "-m", "1000", "--depth", "4", "-R",
                         "20000"], "bdat"),
                       (["-c", "4", "-m", "500", "--depth", "8",
                         "--no-chunking"], "data")):
        j = mxload(port, *args)
        check(j["ok"] == int(args[3]) and j["sent"] == int(args[3]),
              "mxload %s sent=%s ok=%s" % (args, j["sent"], j["ok"]))
        want[kind] += j["ok"]
        depth = int(args[args.index("--depth") + 1]) \
            if "--depth" in args else 1
        d = j["depth"]
        check(d["requested"] == depth and j["params"]["depth"] == depth,
              "mxload %s reports depth %r" % (args, d))
        if depth == 1:
            check(d["batches"] == 0, "depth 1: no batches %r" % d)
        elif kind == "data":
            check(d["batches"] == 0 and d["fallback_conns"] >= 4,
                  "--no-chunking: depth falls back to 1: %r" % d)
        else:
            check(d["batch_txns"] == j["sent"] and d["fallback_conns"] == 0,
                  "mxload %s: every transaction batched: %r" % (args, d))
            if "-R" not in args:
                check(d["txns_per_write"] > 1.5,
                      "mxload %s: depth used: %r" % (args, d))

    st, summary = stop(p)
    print(summary)
    total = want["data"] + want["bdat"]
    for key, val in (("messages", total), ("data", want["data"]),
                     ("bdat", want["bdat"]), ("rejected", 1),
                     ("long_line", 2), ("unknown", 1), ("syntax", 0),
                     ("sequence", 0), ("refused", 0), ("io_errors", 0),
                     ("threads", 2)):
        check(st.get(key) == str(val), "summary %s=%s, want %s" % (
            key, st.get(key), val))

    # Room for two connections: the third gets 421 and is counted.
    p, host, port, _ = start("-t", "1", "-c", "2")
    held = [socket.create_connection(("127.0.0.1", port), 5)
            for _ in range(2)]
    for h in held:
        check(recv_replies(h, 1)[0][:3] == b"220", "220 greeting")
    third = socket.create_connection(("127.0.0.1", port), 5)
    got = recv_replies(third, 1)
    check(got and got[0][:3] == b"421", "over max_conns: 421, got %r" % got)
    for h in held + [third]:
        h.close()
    st, _ = stop(p, signal.SIGINT)
    check(st.get("refused") == "1", "refused=1, got %s" % st.get("refused"))

    for bad in (["-t", "0"], ["-l", "nohost"], ["-c", "x"], ["extra"]):
        r = subprocess.run([MXSINK] + bad, capture_output=True, timeout=10)
        check(r.returncode == 2, "mxsink %s: exit 2, got %d" % (
            bad, r.returncode))

    if socket.has_ipv6:
        try:
            socket.socket(socket.AF_INET6).bind(("::1", 0))
            v6 = True
        except OSError:
            v6 = False
        if v6:
            p, host, port, _ = start("-l", "[::1]:0")
            c = smtplib.SMTP("::1", port, timeout=10)
            c.sendmail("a@x.test", ["b@y.test"], b"Subject: 6\r\n\r\nv6\r\n")
            c.quit()
            st, _ = stop(p)
            check(st.get("messages") == "1", "IPv6: messages=1")

    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
