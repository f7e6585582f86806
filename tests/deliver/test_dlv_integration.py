#!/usr/bin/python3
"""Delivery against real next hops on loopback.

Each scenario starts its next hops (Postfix's smtp-sink, a private Dovecot
LMTP), writes a spec for dlv_harness (the engine on a real q_store), runs
it and checks what arrived where: sink dump files, Maildirs read back with
mailbox.Maildir, the queue state of every recipient, and the bounces
(parsed with the email package as RFC 3464 multipart/report).

usage: test_dlv_integration.py HARNESS SCENARIO
Exit 0 pass, 1 fail, 77 skipped (no smtp-sink/dovecot, not root).
"""
import email
import email.policy
import json
import mailbox
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from mxtest import Checks, Dovecot, free_port, wait_port  # noqa: E402

HARNESS = sys.argv[1]
SCENARIO = sys.argv[2]
CHECKS = Checks(out=sys.stderr)
check = CHECKS.check


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dlv-it-")
        os.chmod(self.dir, 0o755)
        self.procs = []
        self.dc = None

    def sink(self, name, *opts, port=None, start=True):
        """An smtp-sink writing one file per transaction to DIR/name/."""
        port = port or free_port()
        dump = os.path.join(self.dir, name)
        os.makedirs(dump, exist_ok=True)
        os.chmod(dump, 0o777)
        if start:
            self.start_sink(dump, port, opts)
        return port, dump

    def start_sink(self, dump, port, opts):
        p = subprocess.Popen(["smtp-sink", "-u", "nobody", "-d",
                              dump + "/m.", *opts,
                              "127.0.0.1:%d" % port, "20"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.procs.append(p)
        check(wait_port(port), "smtp-sink on %d did not start" % port)

    def dovecot(self, users):
        """A private Dovecot (mxtest.Dovecot) in this scenario's directory,
        serving LMTP on a unix socket and a loopback port, mail in
        Maildirs.  Returns (socket, port, mail root)."""
        self.dc = Dovecot(users, workdir=self.dir, tcp=True).start()
        return self.dc.sock, self.dc.port, self.dc.mail

    def run(self, spec, background=False):
        spec.setdefault("queue_dir", os.path.join(self.dir, "queue"))
        spec.setdefault("bounce_dir", self.dir)
        spec.setdefault("default", "maildir:" + os.path.join(self.dir,
                                                             "mail"))
        path = os.path.join(self.dir, "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        p = subprocess.Popen([HARNESS, path], stdout=subprocess.PIPE,
                             stderr=open(os.path.join(self.dir, "log"),
                                         "w"))
        if background:
            return p
        return self.finish(p)

    def finish(self, p):
        out, _ = p.communicate(timeout=120)
        check(p.returncode == 0, "harness exit %d" % p.returncode)
        if p.returncode != 0:
            sys.stderr.write(open(os.path.join(self.dir, "log")).read())
        try:
            return json.loads(out)
        except ValueError:
            check(False, "harness printed no report")
            raise SystemExit(1)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.dc:
            self.dc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def dumps(d):
    """Messages smtp-sink took: (envelope headers, content) per file."""
    out = []
    for name in sorted(os.listdir(d)):
        data = open(os.path.join(d, name), "rb").read()
        out.append(data)
    return out


def bounces_in(mail_root, addr):
    local, dom = addr.split("@")
    box = os.path.join(mail_root, dom.lower(), local.lower())
    if not os.path.isdir(box):
        return []
    return [m for m in mailbox.Maildir(box, factory=None, create=False)]


def parse_dsn(msg):
    """multipart/report -> (per-message fields, [per-recipient fields])."""
    m = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    check(m.get_content_type() == "multipart/report", "not a report")
    check(m.get_param("report-type") == "delivery-status",
          "report-type is not delivery-status")
    parts = list(m.iter_parts())
    check(len(parts) == 3, "report has %d parts" % len(parts))
    check(parts[0].get_content_type() == "text/plain", "part 1 type")
    check(parts[1].get_content_type() == "message/delivery-status",
          "part 2 type")
    blocks = [dict(b.items()) for b in parts[1].get_payload()]
    return m, parts, blocks[0], blocks[1:]


def body(subject, extra=""):
    return ("From: Sender <s@sender.test>\r\nTo: x@x.test\r\n"
            "Subject: %s\r\nMessage-ID: <%s@sender.test>\r\n\r\n"
            "first line\r\n.leading dot\r\n..two dots\r\n%s"
            "last line\r\n" % (subject, subject.replace(" ", "-"), extra))


# --- scenarios ----------------------------------------------------------


def sc_smtp_mixed(env):
    """One message: a@ok accepted, b@soft 4xx, c@hard 5xx -> one delivery,
    one retry, one bounce (multipart/report for c only)."""
    ok, ok_dump = env.sink("ok")
    soft, soft_dump = env.sink("soft", "-r", "RCPT")
    hard, hard_dump = env.sink("hard", "-f", "RCPT")
    mail = os.path.join(env.dir, "mail")
    r = env.run({
        "retry": "1s", "stop_attempts": 2, "stop_after_ms": 15000,
        "routes": {"ok.test": "smtp:[127.0.0.1]:%d" % ok,
                   "soft.test": "smtp:[127.0.0.1]:%d" % soft,
                   "hard.test": "smtp:[127.0.0.1]:%d" % hard},
        "messages": [{
            "from": "s@sender.test", "envid": "ENV+2Dmixed",
            "rcpts": [{"addr": "a@ok.test"}, {"addr": "b@soft.test"},
                      {"addr": "c@hard.test",
                       "orcpt": "rfc822;C+2Btag@hard.test"}],
            "body": body("mixed")}]})
    m = r["messages"][0]
    check(m["rcpts"] == ["delivered", "deferred", "bounced"],
          "rcpt states %s" % m["rcpts"])
    check(m["state"] == "deferred", "message state %s" % m["state"])
    check(m["attempts"] >= 2, "retried: attempts %d" % m["attempts"])
    check("4.3.0" in m["last_error"], "last error %r" % m["last_error"])
    got = dumps(ok_dump)
    check(len(got) == 1, "ok sink got %d messages" % len(got))
    if got:
        check(b"\n.leading dot\n..two dots\n" in got[0].replace(b"\r", b""),
              "dot-stuffing undone at the far end")
        check(b"X-Rcpt-Args: <a@ok.test>" in got[0], "rcpt at ok sink")
    check(dumps(soft_dump) == [] and dumps(hard_dump) == [],
          "nothing taken by the refusing sinks")
    check(len(r["bounces"]) == 1, "%d bounces queued" % len(r["bounces"]))
    b = bounces_in(mail, "s@sender.test")
    check(len(b) == 1, "%d bounces delivered to the sender" % len(b))
    if b:
        m, parts, per_msg, per_rcpt = parse_dsn(b[0])
        check(m["To"].addresses[0].addr_spec == "s@sender.test",
              "bounce To %s" % m["To"])
        check("MAILER-DAEMON" in m["From"], "bounce From")
        check(per_msg.get("Reporting-MTA") == "dns; gw.test", "Reporting-MTA")
        check(per_msg.get("Original-Envelope-Id") == "ENV-mixed",
              "ENVID %r" % per_msg.get("Original-Envelope-Id"))
        check("Arrival-Date" in per_msg, "Arrival-Date")
        check(len(per_rcpt) == 1, "%d recipient blocks" % len(per_rcpt))
        if per_rcpt:
            rb = per_rcpt[0]
            check(rb.get("Final-Recipient") == "rfc822; c@hard.test",
                  "Final-Recipient %r" % rb.get("Final-Recipient"))
            check(rb.get("Original-Recipient") == "rfc822; C+tag@hard.test",
                  "Original-Recipient %r" % rb.get("Original-Recipient"))
            check(rb.get("Action") == "failed", "Action")
            check(rb.get("Status", "").startswith("5."), "Status 5.x.x")
            check(rb.get("Diagnostic-Code", "").startswith("smtp; 5"),
                  "Diagnostic-Code %r" % rb.get("Diagnostic-Code"))
        check(parts[2].get_content_type() == "message/rfc822",
              "original returned in full")
        orig = parts[2].get_payload()[0]
        check(orig["Subject"] == "mixed", "original subject")
    c = r["counters"]
    check(c["dlv_rcpt_bounced"] >= 1 and c["dlv_rcpt_deferred"] >= 2,
          "counters %s" % c)


def sc_smtp_down_up(env):
    """The next hop is down at first: mail waits, then arrives once it is
    up; mail for another destination is not held up meanwhile."""
    port, dump = env.sink("late", start=False)
    other, other_dump = env.sink("other")
    p = env.run({
        "retry": "1s", "dest_retry_ms": 300, "stop_after_ms": 20000,
        "routes": {"late.test": "smtp:[127.0.0.1]:%d" % port,
                   "other.test": "smtp:[127.0.0.1]:%d" % other},
        "messages": [
            {"from": "s@sender.test", "rcpts": [{"addr": "x@late.test"}],
             "body": body("late one")},
            {"from": "s@sender.test", "rcpts": [{"addr": "y@other.test"}],
             "body": body("other one")}]}, background=True)
    end = time.time() + 10
    while time.time() < end and not dumps(other_dump):
        time.sleep(0.05)
    time.sleep(0.3)	# a few connect attempts to the dead hop
    check(len(dumps(other_dump)) == 1,
          "mail for a live hop went out while another was down")
    check(dumps(dump) == [], "nothing delivered while down")
    env.start_sink(dump, port, ())
    r = env.finish(p)
    check(r["messages"][0]["rcpts"] == ["delivered"],
          "late rcpt %s" % r["messages"][0]["rcpts"])
    check(r["messages"][0]["attempts"] >= 1, "it was deferred first")
    check(len(dumps(dump)) == 1, "arrived after the hop came up")
    check(r["counters"]["dlv_conn_failed"] >= 1, "connect failure counted")
    check(r["bounces"] == [], "no bounce")


def sc_lifetime_expiry(env):
    """Deferred past the queue lifetime: the recipient bounces with 4.4.7
    and the last error in the diagnostic."""
    soft, _ = env.sink("soft", "-r", "RCPT")
    mail = os.path.join(env.dir, "mail")
    r = env.run({
        "retry": "1s", "lifetime_ms": 2500, "stop_after_ms": 15000,
        "routes": {"soft.test": "smtp:[127.0.0.1]:%d" % soft},
        "messages": [{"from": "s@sender.test",
                      "rcpts": [{"addr": "late@soft.test"}],
                      "ret": "HDRS", "body": body("expiring")}]})
    m = r["messages"][0]
    check(m["rcpts"] == ["bounced"], "rcpt %s" % m["rcpts"])
    check(m["attempts"] >= 2, "tried more than once: %d" % m["attempts"])
    check(r["counters"]["dlv_rcpt_expired"] == 1, "expired counter")
    b = bounces_in(mail, "s@sender.test")
    check(len(b) == 1, "one bounce, got %d" % len(b))
    if b:
        _, parts, _, per_rcpt = parse_dsn(b[0])
        check(per_rcpt and per_rcpt[0].get("Status") == "4.4.7",
              "Status 4.4.7")
        check(per_rcpt and per_rcpt[0].get("Action") == "failed", "failed")
        check(per_rcpt and "450 4.3.0" in per_rcpt[0].get(
            "Diagnostic-Code", ""), "last error kept in the diagnostic")
        check(parts[2].get_content_type() == "text/rfc822-headers",
              "RET=HDRS returns headers only")
        check("last line" not in parts[2].get_content(), "no body")


def sc_null_sender(env):
    """A failed message from <> is never bounced; NOTIFY=NEVER neither."""
    hard, _ = env.sink("hard", "-f", "RCPT")
    r = env.run({
        "routes": {"hard.test": "smtp:[127.0.0.1]:%d" % hard},
        "messages": [
            {"from": "", "rcpts": [{"addr": "x@hard.test"}],
             "body": body("from null")},
            {"from": "s@sender.test",
             "rcpts": [{"addr": "y@hard.test", "notify": ["NEVER"]}],
             "body": body("notify never")}]})
    for m in r["messages"]:
        check(m["rcpts"] == ["bounced"], "rcpt %s" % m["rcpts"])
        check(m["state"] == "done", "state %s" % m["state"])
    check(r["bounces"] == [], "no bounce queued: %s" % r["bounces"])
    check(r["counters"]["dlv_dsn_suppressed"] == 2, "suppressed counter")
    check(not os.path.exists(os.path.join(env.dir, "mail")),
          "nothing delivered locally")


def sc_lmtp_dovecot(env):
    """LMTP to a real Dovecot: per-recipient replies after DATA; two
    mailboxes get the message, the unknown user bounces."""
    sock, port, lmail = env.dovecot(["alice@lmtp.test", "bob@lmtp.test",
                                     "carol@tcp.test"])
    mail = os.path.join(env.dir, "mail")
    r = env.run({
        "routes": {"lmtp.test": "lmtp:unix:" + sock,
                   "tcp.test": "lmtp:[127.0.0.1]:%d" % port},
        "messages": [{"from": "s@sender.test",
                      "rcpts": [{"addr": "alice@lmtp.test"},
                                {"addr": "ghost@lmtp.test"},
                                {"addr": "bob@lmtp.test"},
                                {"addr": "carol@tcp.test"}],
                      "body": body("via lmtp")}]})
    m = r["messages"][0]
    check(m["rcpts"] == ["delivered", "bounced", "delivered", "delivered"],
          "rcpts %s" % m["rcpts"])
    for dom, user in (("lmtp.test", "alice"), ("lmtp.test", "bob"),
                      ("tcp.test", "carol")):
        box = mailbox.Maildir(os.path.join(lmail, dom, user, "Maildir"),
                              create=False)
        msgs = list(box)
        check(len(msgs) == 1, "%s has %d messages" % (user, len(msgs)))
        if msgs:
            check(msgs[0]["Subject"] == "via lmtp", "subject")
            check(".leading dot\n..two dots" in
                  msgs[0].get_payload().replace("\r", ""), "dots intact")
    b = bounces_in(mail, "s@sender.test")
    check(len(b) == 1, "one bounce")
    if b:
        _, _, _, per_rcpt = parse_dsn(b[0])
        check([x.get("Final-Recipient") for x in per_rcpt] ==
              ["rfc822; ghost@lmtp.test"], "bounce names ghost only")
        check(per_rcpt and per_rcpt[0].get("Status") == "5.1.1", "5.1.1")


def sc_maildir(env):
    """The default Maildir route: files in new/, read back by Python."""
    root = os.path.join(env.dir, "mail")
    r = env.run({
        "routes": {"drop.test": "discard"},
        "messages": [{"from": "s@sender.test",
                      "rcpts": [{"addr": "Carol@Local.Test"},
                                {"addr": "dan@local.test"},
                                {"addr": "gone@drop.test"}],
                      "body": body("to maildir", "caf\u00e9\r\n")}]})
    check(r["messages"][0]["rcpts"] == ["delivered"] * 3, "all delivered")
    for user in ("carol", "dan"):
        box = mailbox.Maildir(os.path.join(root, "local.test", user),
                              create=False)
        msgs = list(box)
        check(len(msgs) == 1, "%s: %d messages" % (user, len(msgs)))
        if msgs:
            msg = msgs[0]
            check(msg["Return-Path"] == "<s@sender.test>", "Return-Path")
            check(msg["Subject"] == "to maildir", "subject")
            check(msg.get_subdir() == "new", "in new/")
            raw = msg.as_bytes()
            check(b"\r" not in raw, "LF line endings in the Maildir")
            check(b"\n.leading dot\n" in raw, "no dot-stuffing locally")
    check(not os.listdir(os.path.join(root, "local.test", "dan", "tmp")),
          "tmp/ left empty")
    check(not os.path.exists(os.path.join(root, "drop.test")),
          "discard wrote nothing")
    check(r["counters"]["dlv_rcpt_discarded"] == 1, "discard counted")


def sc_smtp_reuse(env):
    """Several messages over one cached connection (RSET between them)."""
    ok, dump = env.sink("ok")
    msgs = [{"from": "s@sender.test", "rcpts": [{"addr": "r%d@ok.test" % i}],
             "body": body("reuse %d" % i)} for i in range(6)]
    msgs[5]["8bit"] = True
    msgs[5]["body"] = body("reuse 5", "caf\u00e9 \u00fcber\r\n")
    r = env.run({"conn_max": 1, "idle_ms": 2000,
                 "routes": {"ok.test": "smtp:[127.0.0.1]:%d" % ok},
                 "messages": msgs})
    check(all(m["rcpts"] == ["delivered"] for m in r["messages"]),
          "all delivered")
    got = dumps(dump)
    check(len(got) == 6, "sink got %d" % len(got))
    eight = [g for g in got if "caf\u00e9".encode() in g]
    check(len(eight) == 1 and b"BODY=8BITMIME" in eight[0],
          "8-bit body announced with BODY=8BITMIME (RFC 6152)")
    check(sum(b"BODY=8BITMIME" in g for g in got) == 1,
          "7-bit mail sent without BODY=")
    c = r["counters"]
    check(c["dlv_conn_opened"] == 1, "one connection: %d" % c["dlv_conn_opened"])
    check(c["dlv_conn_reused"] == 5, "reused %d" % c["dlv_conn_reused"])


def sc_timeout(env):
    """A next hop that stalls on MAIL past our reply timeout: the
    connection is dropped and the recipient deferred, not lost."""
    # -p: smtp-sink answers pipelined commands out of order when it delays
    slow, dump = env.sink("slow", "-p", "-W", "MAIL:5")
    r = env.run({
        "retry": "1s", "timeout_ms": 400, "stop_attempts": 1,
        "routes": {"slow.test": "smtp:[127.0.0.1]:%d" % slow},
        "messages": [{"from": "s@sender.test",
                      "rcpts": [{"addr": "x@slow.test"}],
                      "body": body("slow")}]})
    m = r["messages"][0]
    check(m["rcpts"] == ["deferred"], "rcpt %s" % m["rcpts"])
    check("timeout" in m["last_error"] and "MAIL" in m["last_error"],
          "last error %r" % m["last_error"])
    check(r["counters"]["dlv_conn_timeouts"] >= 1, "timeout counted")
    check(dumps(dump) == [], "nothing delivered")


def sc_restart_schedule(env):
    """The retry time lives in the queue: after a restart the deferred
    message waits for it, then goes out, and its attempt count stays."""
    soft, _ = env.sink("soft", "-r", "RCPT")
    ok, dump = env.sink("ok")
    r1 = env.run({
        "retry": "3s", "stop_attempts": 1,
        "routes": {"x.test": "smtp:[127.0.0.1]:%d" % soft},
        "messages": [{"from": "s@sender.test",
                      "rcpts": [{"addr": "a@x.test"}],
                      "body": body("restart")}]})
    m1 = r1["messages"][0]
    check(m1["state"] == "deferred" and m1["attempts"] == 1,
          "first run: %s" % m1)
    check(1000 <= m1["next_attempt_in_ms"] <= 3100,
          "retry in %d ms" % m1["next_attempt_in_ms"])
    left = m1["next_attempt_in_ms"]
    t0 = time.time()
    r2 = env.run({
        "watch_existing": True,
        "routes": {"x.test": "smtp:[127.0.0.1]:%d" % ok},
        "messages": []})
    waited = (time.time() - t0) * 1000
    check(len(r2["messages"]) == 1, "restart found the message")
    m2 = r2["messages"][0] if r2["messages"] else {}
    check(m2.get("rcpts") == ["delivered"], "second run: %s" % m2)
    check(m2.get("attempts") == 1, "attempts kept: %s" % m2.get("attempts"))
    check(waited >= left - 600, "waited %d ms of %d" % (waited, left))
    check(len(dumps(dump)) == 1, "delivered once")


def sc_pause_flush(env):
    """deliver pause/resume DEST holds and releases mail for one hop;
    queue flush DEST retries deferred mail at once despite a long retry
    time; routes reports the state."""
    ok, ok_dump = env.sink("ok")
    late, late_dump = env.sink("late", start=False)
    p = env.run({
        "retry": "1h", "dest_retry_ms": 100, "stop_after_ms": 15000,
        "routes": {"ok.test": "smtp:[127.0.0.1]:%d" % ok,
                   "late.test": "smtp:[127.0.0.1]:%d" % late},
        "ctl": [{"at_ms": 0, "cmd": "pause", "dest": "ok.test"},
                {"at_ms": 600, "cmd": "routes"},
                {"at_ms": 1200, "cmd": "resume", "dest": "ok.test"},
                {"at_ms": 1800, "cmd": "flush", "dest": "late.test"},
                {"at_ms": 700, "cmd": "pause", "dest": "nowhere.test"}],
        "messages": [
            {"from": "s@sender.test", "rcpts": [{"addr": "a@ok.test"}],
             "body": body("paused")},
            {"from": "s@sender.test", "rcpts": [{"addr": "b@late.test"}],
             "body": body("flushed")}]}, background=True)
    time.sleep(0.8)
    check(dumps(ok_dump) == [], "nothing sent while paused")
    env.start_sink(late_dump, late, ())
    r = env.finish(p)
    check([m["rcpts"] for m in r["messages"]] == [["delivered"]] * 2,
          "both delivered: %s" % [m["rcpts"] for m in r["messages"]])
    check(r["messages"][1]["attempts"] == 1, "flushed after one deferral")
    check(r["elapsed_ms"] < 10000, "flush did not wait for the 1h retry")
    check(len(dumps(ok_dump)) == 1 and len(dumps(late_dump)) == 1,
          "one message at each hop")
    ctl = r["ctl"]
    check(len(ctl) == 5, "ctl results %s" % ctl)
    if len(ctl) == 5:
        check(ctl[0].get("ok") and ctl[0].get("paused") is True, "pause")
        dests = {x["name"]: x for x in ctl[1]["destinations"]}
        d_ok = dests.get("smtp:[127.0.0.1]:%d" % ok, {})
        check(d_ok.get("paused") is True, "routes shows paused")
        d_late = dests.get("smtp:[127.0.0.1]:%d" % late, {})
        check(d_late.get("deferred_rcpts") == 1, "late deferred count")
        check("connect failed" in d_late.get("last_error", ""),
              "late last error %r" % d_late.get("last_error"))
        check({"domain": "ok.test", "dest": "smtp:[127.0.0.1]:%d" % ok}
              in ctl[1]["routes"], "routes table")
        check("unknown destination" in ctl[2].get("error", ""),
              "unknown dest refused")
        check(ctl[3].get("paused") is False, "resume")
        check(ctl[4].get("ok") is True, "flush")


def sc_delay_warning(env):
    """With delay warnings on, a still-deferred message gets exactly one
    Action: delayed DSN, and the mail keeps being retried."""
    soft, _ = env.sink("soft", "-r", "RCPT")
    mail = os.path.join(env.dir, "mail")
    r = env.run({
        "retry": "1s", "delay_warn_ms": 1500, "stop_attempts": 4,
        "routes": {"soft.test": "smtp:[127.0.0.1]:%d" % soft},
        "messages": [{"from": "s@sender.test",
                      "rcpts": [{"addr": "w@soft.test"}],
                      "body": body("warn me")}]})
    m = r["messages"][0]
    check(m["rcpts"] == ["deferred"], "still deferred: %s" % m["rcpts"])
    check(r["counters"]["dlv_dsn_delay_sent"] == 1,
          "one warning: %s" % r["counters"]["dlv_dsn_delay_sent"])
    b = bounces_in(mail, "s@sender.test")
    check(len(b) == 1, "one warning delivered: %d" % len(b))
    if b:
        msg, parts, _, per_rcpt = parse_dsn(b[0])
        check("Delayed" in msg["Subject"], "subject %s" % msg["Subject"])
        check(per_rcpt and per_rcpt[0].get("Action") == "delayed",
              "Action delayed")
        check(per_rcpt and per_rcpt[0].get("Status", "").startswith("4."),
              "4.x.x status")
        check(per_rcpt and "Will-Retry-Until" in per_rcpt[0],
              "Will-Retry-Until")
        check(parts[2].get_content_type() == "text/rfc822-headers",
              "headers only")


def sc_smtp_plain(env):
    """Servers without extensions: one that refuses EHLO (HELO fallback,
    RFC 5321 §3.2) and one without PIPELINING (one command at a time, DATA
    after the RCPT replies), both with a reused connection."""
    plain, plain_dump = env.sink("plain", "-e")
    nopipe, nopipe_dump = env.sink("nopipe", "-p")
    msgs = []
    for i in range(2):
        for dom in ("plain", "nopipe"):
            msgs.append({"from": "s@sender.test",
                         "rcpts": [{"addr": "a%d@%s.test" % (i, dom)},
                                   {"addr": "b%d@%s.test" % (i, dom)}],
                         "body": body("%s %d" % (dom, i))})
    r = env.run({"conn_max": 1, "idle_ms": 2000,
                 "routes": {"plain.test": "smtp:[127.0.0.1]:%d" % plain,
                            "nopipe.test": "smtp:[127.0.0.1]:%d" % nopipe},
                 "messages": msgs})
    check(all(m["rcpts"] == ["delivered"] * 2 for m in r["messages"]),
          "all delivered: %s" % [m["rcpts"] for m in r["messages"]])
    for d in (plain_dump, nopipe_dump):
        got = dumps(d)
        check(len(got) == 2, "%s got %d" % (d, len(got)))
        for g in got:
            check(g.count(b"X-Rcpt-Args:") == 2, "two recipients")
            check(b"\n.leading dot\n..two dots\n" in g.replace(b"\r", b""),
                  "dots intact")
    check(r["counters"]["dlv_conn_reused"] == 2, "reuse on both")
    check(r["counters"]["dlv_conn_opened"] == 2, "one connection each")


def sc_bounce_inject(env):
    """Bounces through each inject flavour; a bounce the queue loses
    leaves its recipient pending, and the next round bounces again: one
    bounce arrives in the end, never none."""
    hard, _ = env.sink("hard", "-f", "RCPT")
    for mode, fail in (("sync", 0), ("async_now", 0), ("async", 0),
                       ("async", 1), ("async_now", 1)):
        sub = os.path.join(env.dir, "%s-%d" % (mode, fail))
        os.makedirs(sub)
        r = env.run({
            "inject": mode, "inject_fail": fail, "retry": "1s",
            "queue_dir": os.path.join(sub, "queue"), "bounce_dir": sub,
            "default": "maildir:" + os.path.join(sub, "mail"),
            "routes": {"hard.test": "smtp:[127.0.0.1]:%d" % hard},
            "messages": [{"from": "s@sender.test",
                          "rcpts": [{"addr": "x@hard.test"}],
                          "body": body("inject %s" % mode)}]})
        what = "%s fail=%d" % (mode, fail)
        m = r["messages"][0]
        check(m["rcpts"] == ["bounced"], "%s: rcpt %s" % (what, m["rcpts"]))
        check(m["attempts"] == fail, "%s: attempts %d" % (what, m["attempts"]))
        check(r["counters"]["dlv_dsn_sent"] == 1, "%s: sent" % what)
        check(r["counters"]["dlv_dsn_inject_failed"] == fail,
              "%s: failed" % what)
        b = bounces_in(os.path.join(sub, "mail"), "s@sender.test")
        check(len(b) == 1, "%s: %d bounces arrived" % (what, len(b)))


def sc_crash_redeliver(env):
    """At least once: the engine is killed (SIGKILL) in the middle of
    delivering; after a restart on the same queue every message reaches
    the next hop at least once."""
    ok, dump = env.sink("ok")
    count = 300
    msgs = [{"from": "s@sender.test", "rcpts": [{"addr": "r@ok.test"}],
             "body": body("crash %d" % i)} for i in range(count)]
    spec = {"conn_max": 2, "idle_ms": 2000,
            "routes": {"ok.test": "smtp:[127.0.0.1]:%d" % ok},
            "messages": msgs}
    p = env.run(dict(spec), background=True)
    end = time.time() + 30
    while time.time() < end and len(os.listdir(dump)) < 40:
        time.sleep(0.005)
    p.kill()
    p.wait()
    before = len(os.listdir(dump))
    check(0 < before < count, "killed mid-way (%d delivered)" % before)
    r = env.run({"watch_existing": True, "messages": [],
                 "routes": spec["routes"], "conn_max": 2})
    subjects = []
    for data in dumps(dump):
        for line in data.split(b"\n"):
            if line.startswith(b"Subject: crash "):
                subjects.append(int(line.split()[2]))
    missing = set(range(count)) - set(subjects)
    check(not missing, "lost %d messages, e.g. %s" % (len(missing),
                                                     sorted(missing)[:5]))
    print("crash_redeliver: %d before the kill, %d deliveries for %d "
          "messages (%d duplicates)" % (before, len(subjects), count,
                                        len(subjects) - len(set(subjects))))
    check(all(m.get("state") in ("done", "gone") for m in r["messages"]),
          "all done after restart")


def sc_big(env):
    """A 400 KB body (many write rounds, lines starting with dots) and 60
    recipients in one pipelined SMTP transaction, and the same body over
    LMTP with BDAT: the bytes arrive unchanged."""
    ok, dump = env.sink("ok")
    sock, _, lmail = env.dovecot(["big@lmtp.test"])
    lines = "".join(".%05d %s\r\n" % (i, "y" * (i % 90))
                    for i in range(8000))
    big = body("big", lines)
    rcpts = [{"addr": "r%02d@ok.test" % i} for i in range(60)]
    r = env.run({"routes": {"ok.test": "smtp:[127.0.0.1]:%d" % ok,
                            "lmtp.test": "lmtp:unix:" + sock},
                 "messages": [{"from": "s@sender.test",
                               "rcpts": rcpts + [{"addr": "big@lmtp.test"}],
                               "body": big}]})
    check(r["messages"][0]["rcpts"] == ["delivered"] * 61,
          "all delivered: %s" % set(r["messages"][0]["rcpts"]))
    want = big.split("\r\n\r\n", 1)[1].replace("\r\n", "\n").encode()
    got = dumps(dump)
    check(len(got) == 1, "one transaction, got %d" % len(got))
    if got:
        check(got[0].count(b"X-Rcpt-Args:") == 60, "60 recipients")
        check(got[0].replace(b"\r", b"").rstrip(b"\n").endswith(
            want.rstrip(b"\n")), "SMTP body intact")
    box = list(mailbox.Maildir(os.path.join(lmail, "lmtp.test", "big",
                                            "Maildir"), create=False))
    check(len(box) == 1, "LMTP mailbox has %d" % len(box))
    if box:
        raw = box[0].as_bytes().replace(b"\r", b"")
        check(raw.rstrip(b"\n").endswith(want.rstrip(b"\n")),
              "LMTP (BDAT) body intact")


SCENARIOS = {
    "big": (sc_big, ["smtp-sink", "dovecot"]),
    "crash_redeliver": (sc_crash_redeliver, ["smtp-sink"]),
    "bounce_inject": (sc_bounce_inject, ["smtp-sink"]),
    "smtp_plain": (sc_smtp_plain, ["smtp-sink"]),
    "timeout": (sc_timeout, ["smtp-sink"]),
    "restart_schedule": (sc_restart_schedule, ["smtp-sink"]),
    "pause_flush": (sc_pause_flush, ["smtp-sink"]),
    "delay_warning": (sc_delay_warning, ["smtp-sink"]),
    "smtp_mixed": (sc_smtp_mixed, ["smtp-sink"]),
    "smtp_down_up": (sc_smtp_down_up, ["smtp-sink"]),
    "lifetime_expiry": (sc_lifetime_expiry, ["smtp-sink"]),
    "null_sender": (sc_null_sender, ["smtp-sink"]),
    "lmtp_dovecot": (sc_lmtp_dovecot, ["dovecot"]),
    "maildir": (sc_maildir, []),
    "smtp_reuse": (sc_smtp_reuse, ["smtp-sink"]),
}


def main():
    fn, needs = SCENARIOS[SCENARIO]
    for tool in needs:
        if shutil.which(tool) is None and not os.path.exists(
                "/usr/sbin/" + tool):
            print("skip: %s not installed" % tool)
            return 77
    if needs and os.geteuid() != 0:
        print("skip: next hops need root to drop privileges")
        return 77
    os.environ["PATH"] += ":/usr/sbin"
    env = Env()
    try:
        fn(env)
    finally:
        env.close()
    return CHECKS.finish(SCENARIO)


if __name__ == "__main__":
    sys.exit(main())
