#!/usr/bin/python3
"""Hostile clients against the real daemon on loopback.

Proves, with counters read back from `mxgatectl stats`:
  - every SMTP smuggling end-of-data variant (bare CR/LF forms of
    <CRLF>.<CRLF>, RFC 5321 §4.1.1.4, CVE-2023-51764/5/6) gets exactly one
    554 5.6.0 at the real end of data, the bare CR/LF counter moves, and
    nothing is queued: no smuggled second message;
  - over-long command lines (500), NUL (500), 8-bit junk, unknown-command
    and junk-command floods (421 at max_junk_commands), a pipelined flood
    of 20,000 commands, pipelining after DATA, BDAT with wrong sizes,
    SIZE and real size over max_message_size (552), recipients over
    max_recipients (452);
  - a flood past max_connections_per_ip and max_connections: 421 and the
    sock_refused_* the daemon keeps serving;
  - slowloris: 500 connections from 20 loopback addresses trickling a
    byte at a time slower than command_timeout/data_timeout are all
    reclaimed (421 4.4.2), while a legitimate client delivers meanwhile;
  - the log stays bounded (rate-limited notes) after all of it;
  - a legitimate swaks delivery succeeds after each part.
"""
import os
import socket
import time

from reltest import (Daemon, Smtp, alive, args, check, fail,
                     legit_delivery, log_size, need, queue_total)

mxgate, ctl = args()
need("swaks")

LOG_LIMIT = 256 * 1024
MAX_SIZE = 100000


def delta(before, after, name):
    return after[name] - before[name]


def session(d, src="127.0.0.1"):
    s = Smtp(d.port, src=src)
    if s.banner[0] != 220:
        fail("banner: %r" % (s.banner,))
    code, _ = s.cmd("EHLO client.test")
    if code != 250:
        fail("EHLO: %d" % code)
    return s


def txn(s, rcpt="victim@example.test"):
    for line, want in (("MAIL FROM:<sender@client.test>", 250),
                       ("RCPT TO:<%s>" % rcpt, 250)):
        code, text = s.cmd(line)
        if code != want:
            fail("%s: %s" % (line, text))


def quiet_queue(d):
    """Messages in the queue plus delivered ones: what was ever accepted."""
    return queue_total(d.status()) + len(d.maildir_files())


# ---------------------------------------------------------------------------
# Smuggling.  Each body carries a would-be second transaction after the
# fake end-of-data; the real end is <CRLF>.<CRLF>.
SMUGGLE = (b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@example.test>\r\n"
           b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n")
VARIANTS = [
    ("<LF>.<LF>", b"\n.\n", "smtp_err_bare_lf"),
    ("<LF>.<CR><LF>", b"\n.\r\n", "smtp_err_bare_lf"),
    ("<CR>.<CR>", b"\r.\r", "smtp_err_bare_cr"),
    ("<CR><LF>.<LF>", b"\r\n.\n", "smtp_err_bare_lf"),
    ("<CR><LF>.<CR>", b"\r\n.\r", "smtp_err_bare_cr"),
    ("<CR>.<CR><LF>", b"\r.\r\n", "smtp_err_bare_cr"),
    ("<LF>.<CR>", b"\n.\r", "smtp_err_bare_lf"),
    (".<LF> mid-line", b" text.\n", "smtp_err_bare_lf"),
    ("<CR><LF>.<NUL><CR><LF>", b"\r\n.\0\r\n", "smtp_err_nul"),
]


def smuggling(d):
    accepted0 = quiet_queue(d)
    m0 = d.counters()["smtp_messages"]
    for name, fake_end, counter in VARIANTS:
        c0 = d.counters()
        s = session(d)
        txn(s)
        code, text = s.cmd("DATA")
        if code != 354:
            fail("DATA: " + text)
        s.send(b"Subject: first\r\n\r\nfirst message" + fake_end + SMUGGLE +
               b"\r\n.\r\n")
        replies = s.drain(1.0)
        codes = [c for c, _ in replies]
        check(codes[:1] == [554] and "5.6.0" in replies[0][1] and
              250 not in codes and 354 not in codes,
              "smuggling %s: one 554 5.6.0 at the real end, no 250/354 (got %s)"
              % (name, codes))
        c1 = d.counters()
        check(delta(c0, c1, counter) >= 1 and delta(c0, c1, "smtp_messages") == 0,
              "smuggling %s: %s +%d, smtp_messages +0"
              % (name, counter, delta(c0, c1, counter)))
        code, _ = s.cmd("QUIT")
        check(code == 221, "smuggling %s: the session goes on (QUIT 221)" % name)
        s.close()
    time.sleep(0.5)
    check(quiet_queue(d) == accepted0 and d.counters()["smtp_messages"] == m0,
          "no smuggling variant queued or delivered anything (%d variants)"
          % len(VARIANTS))
    legit_delivery(d, "smuggling")


# ---------------------------------------------------------------------------
def commands(d):
    c0 = d.counters()
    s = session(d)
    code, text = s.cmd(b"NOOP " + b"x" * 600 + b"\r\n")
    check(code == 500 and "too long" in text, "600-byte command line: " + text)
    code, text = s.cmd(b"EHLO a\0b\r\n")
    check(code == 500 and "NUL" in text, "NUL in a command: " + text)
    code, text = s.cmd(b"NO\xffOP\r\n")
    check(code == 500, "8-bit bytes in a verb: " + text)
    code, text = s.cmd(b"MAIL FROM:<a\xff\x80@client.test>\r\n")
    check(code == 501, "8-bit bytes in a path without SMTPUTF8: " + text)
    code, text = s.cmd(b"GET / HTTP/1.0\r\n")
    check(code == 421 and s.closed_by_peer(), "an HTTP request is answered 421 and closed")
    s.close()
    c1 = d.counters()
    for name in ("smtp_err_cmd_too_long", "smtp_err_nul", "smtp_err_unknown_cmd",
                 "smtp_err_non_smtp"):
        check(delta(c0, c1, name) >= 1, "%s +%d" % (name, delta(c0, c1, name)))

    # Junk: NOOPs past max_junk_commands (20).
    s = session(d)
    codes = [s.cmd("NOOP")[0] for _ in range(21)]
    check(codes[:20] == [250] * 20 and codes[20] == 421 and s.closed_by_peer(),
          "the 21st NOOP gets 421 and the session is closed")
    s.close()
    # Errors: unknown commands, each refused, then 421 at the limit.
    s = session(d)
    codes = []
    for _ in range(30):
        codes.append(s.cmd("XYZZY")[0])
        if codes[-1] != 500:
            break
    check(codes[-1] == 421 and set(codes[:-1]) == {500} and len(codes) <= 22,
          "unknown-command flood closed with 421 after %d replies" % len(codes))
    s.close()
    # A pipelined flood: 20,000 commands in one write.
    s = session(d)
    try:
        s.send(b"RSET\r\nXYZZY\r\n" * 10000)
    except OSError:
        pass
    check(s.closed_by_peer(10), "a 20,000-command pipelined flood is cut off")
    s.close()
    c2 = d.counters()
    check(delta(c1, c2, "smtp_err_too_many_junk") >= 1,
          "smtp_err_too_many_junk +%d" % delta(c1, c2, "smtp_err_too_many_junk"))

    # Pipelining past DATA: the bytes after DATA are message text (counted).
    s = session(d)
    s.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<pipe@example.test>\r\n"
           b"DATA\r\nSubject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    replies = s.drain(1.0)
    codes = [c for c, _ in replies]
    check(codes[:5] == [250, 250, 354, 250, 221],
          "text pipelined after DATA is taken as the message, in order: %s" % codes)
    s.close()
    c3 = d.counters()
    check(delta(c2, c3, "smtp_messages") == 1, "exactly one message from the pipelined group")
    check(delta(c2, c3, "smtp_err_pipelining") >= 1,
          "smtp_err_pipelining +%d" % delta(c2, c3, "smtp_err_pipelining"))

    # BDAT with wrong sizes.
    s = session(d)
    code, text = s.cmd(b"BDAT 10\r\n0123456789")
    check(code == 503, "BDAT without MAIL: 503 and the chunk is consumed: " + text)
    txn(s, "bdat@example.test")
    code, text = s.cmd("BDAT abc")
    check(code == 501, "BDAT abc: " + text)
    code, text = s.cmd("BDAT 999999999999999999999999")
    check(code == 501, "BDAT with a 24-digit size: " + text)
    code, text = s.cmd("BDAT -5 LAST")
    check(code == 501, "BDAT -5: " + text)
    # A chunk shorter than announced swallows what follows as data.
    s.send(b"BDAT 20 LAST\r\n0123456789QUIT\r\nRSET")
    code, text = s.reply()
    check(code in (250, 554), "a 20-byte chunk made of short data + commands is data: " + text)
    s.close()
    # Announced over max_message_size: read, then 552.
    s = session(d)
    txn(s, "big@example.test")
    s.send(b"BDAT %d LAST\r\n" % (MAX_SIZE * 2) + b"x" * (MAX_SIZE * 2))
    code, text = s.reply()
    check(code == 552, "BDAT over max_message_size: " + text)
    s.close()

    # SIZE= over the limit, and a DATA body over it.
    s = session(d)
    code, text = s.cmd("MAIL FROM:<a@client.test> SIZE=%d" % (MAX_SIZE * 10))
    check(code == 552, "MAIL SIZE= over max_message_size: " + text)
    txn(s, "big@example.test")
    s.cmd("DATA")
    s.send(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (MAX_SIZE // 500) + b".\r\n")
    code, text = s.reply()
    check(code == 552, "a DATA body of %d bytes: %s" % (MAX_SIZE * 2, text))
    # Too many recipients.
    s.cmd("RSET")
    s.cmd("MAIL FROM:<a@client.test>")
    codes = [s.cmd("RCPT TO:<r%d@example.test>" % i)[0] for i in range(101)]
    check(codes[:100] == [250] * 100 and codes[100] == 452,
          "the 101st recipient gets 452 (max_recipients 100)")
    s.cmd("QUIT")
    s.close()
    c4 = d.counters()
    for name in ("smtp_err_size_exceeded", "smtp_err_too_many_rcpts", "smtp_err_syntax"):
        check(delta(c3, c4, name) >= 1, "%s +%d" % (name, delta(c3, c4, name)))
    alive(d)
    legit_delivery(d, "command abuse")


# ---------------------------------------------------------------------------
def flood(d, per_ip, total):
    c0 = d.counters()
    held, refused = [], 0
    srcs = ["127.0.0.%d" % i for i in range(2, 2 + (total // per_ip) + 2)]
    # From the first address: per_ip + 10 connections.
    for src_i, src in enumerate(srcs):
        for _ in range(per_ip + 10 if src_i == 0 else per_ip):
            s = Smtp(d.port, src=src)
            if s.banner[0] == 220:
                held.append(s)
            elif s.banner[0] == 421:
                refused += 1
                s.close()
            else:
                fail("flood: banner %r" % (s.banner,))
    c1 = d.counters()
    n_ip = delta(c0, c1, "sock_refused_per_ip")
    n_lim = delta(c0, c1, "sock_refused_limit")
    check(len(held) == total, "flood: %d sessions held at max_connections %d" % (len(held), total))
    check(n_ip >= 10 and n_lim >= 1 and refused == n_ip + n_lim,
          "flood: %d refused with 421 (sock_refused_per_ip +%d, sock_refused_limit +%d)"
          % (refused, n_ip, n_lim))
    alive(d)
    for s in held:
        s.close()
    end = time.time() + 10
    while time.time() < end and d.status()["sessions"] > 0:
        time.sleep(0.1)
    check(d.status()["sessions"] == 0, "flood: every session is gone after the clients close")
    legit_delivery(d, "a connection flood")


# ---------------------------------------------------------------------------
def slowloris(d, count=500, addrs=20, interval=4.5):
    """Trickles one byte per `interval` (> the 3 s timeouts) on `count`
    connections; half of them inside DATA."""
    c0 = d.counters()
    conns = []
    for i in range(count):
        s = Smtp(d.port, src="127.0.1.%d" % (1 + i % addrs), timeout=5)
        if s.banner[0] != 220:
            fail("slowloris: connection %d banner %r" % (i, s.banner))
        if i % 2:
            s.send(b"EHLO slow.test\r\nMAIL FROM:<s@slow.test>\r\n"
                   b"RCPT TO:<slow@example.test>\r\nDATA\r\n")
        conns.append(s)
    st = d.status()
    check(st["sessions"] >= count, "slowloris: %d sessions open" % st["sessions"])
    # A legitimate client is served while they hang on.
    legit_delivery(d, "500 slowloris connections opened")
    start = time.time()
    payload = b"NOOP"
    for k in range(3):
        for s in conns:
            try:
                s.sock.send(payload[k:k + 1])
            except OSError:
                pass
        time.sleep(interval)
    # Sends may still succeed into a closed socket once; check the state.
    end = time.time() + 10
    while time.time() < end and d.status()["sessions"] > 0:
        time.sleep(0.2)
    elapsed = time.time() - start
    c1 = d.counters()
    st = d.status()
    check(st["sessions"] == 0,
          "slowloris: all %d trickling sessions reclaimed within %.0fs" % (count, elapsed))
    check(delta(c0, c1, "smtp_timeouts") >= count,
          "slowloris: smtp_timeouts +%d" % delta(c0, c1, "smtp_timeouts"))
    got421 = 0
    for s in conns:
        s.sock.settimeout(1)
        try:
            data = s.sock.recv(65536)
            while data:
                if b"421 4.4.2" in data:
                    got421 += 1
                    break
                data = s.sock.recv(65536)
        except OSError:
            pass
        s.close()
    check(got421 >= count * 9 // 10,
          "slowloris: %d of %d clients read 421 4.4.2 before the close" % (got421, count))
    legit_delivery(d, "slowloris")


def trickle(d, count=20, interval=1.0, duration=8.0):
    """Clients that send one byte of a command per second: bytes that
    trickle in do not extend command_timeout (3 s here), so all of them
    are cut before 8 s, while each keeps sending."""
    conns = [Smtp(d.port, src="127.0.2.1") for _ in range(count)]
    start = time.time()
    while time.time() - start < duration:
        for s in conns:
            try:
                s.sock.send(b"N")
            except OSError:
                pass
        time.sleep(interval)
    left = d.status()["sessions"]
    check(left == 0, "trickle: %d of %d clients sending 1 byte/%.0fs still "
          "connected after %.0fs with command_timeout=3s" % (left, count, interval, duration))
    for s in conns:
        s.close()


d = Daemon(mxgate, ctl, extra=[
    "smtp.command_timeout=3s", "smtp.data_timeout=3s",
    "smtp.max_message_size=%d" % MAX_SIZE,
    "smtp.max_connections=2000", "smtp.max_connections_per_ip=50",
])
try:
    d.start()
    t0 = time.time()
    smuggling(d)
    commands(d)
    slowloris(d)
    trickle(d)
    size = log_size(d)
    check(size < LOG_LIMIT, "log after smuggling, abuse and slowloris: %d bytes (< %d)"
          % (size, LOG_LIMIT))
    d.stop()
    print("part 1 took %.1fs" % (time.time() - t0))

    f = Daemon(mxgate, ctl, extra=[
        "smtp.max_connections=60", "smtp.max_connections_per_ip=20",
    ])
    try:
        f.start()
        flood(f, per_ip=20, total=60)
        size = log_size(f)
        check(size < LOG_LIMIT, "log after the flood: %d bytes" % size)
        rc = f.stop()
        check(rc == 0, "the flooded daemon stops cleanly (exit %s)" % rc)
    finally:
        f.cleanup()
finally:
    d.cleanup()
print("PASS")
