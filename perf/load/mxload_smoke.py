#!/usr/bin/python3
"""mxload smoke test: run mxload against Postfix's smtp-sink on a free
loopback port and check that every message is accounted for — all 250s
when the sink accepts, and reported failures (never silent drops) when it
answers 4xx/5xx or goes away.  Exits 77 when smtp-sink is not installed."""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MXLOAD = sys.argv[1]
SINK = shutil.which("smtp-sink") or (
    "/usr/sbin/smtp-sink" if os.path.exists("/usr/sbin/smtp-sink") else None)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_sink(extra):
    port = free_port()
    cmd = [SINK] + (["-u", "nobody"] if os.geteuid() == 0 else [])
    cmd += extra + ["127.0.0.1:%d" % port, "256"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("smtp-sink did not start")


class ScriptedPeer:
    """A small SMTP server for what smtp-sink cannot do: it offers
    PIPELINING and CHUNKING (BDAT, RFC 3030) and answers 451 to every
    third message of each connection, at the dot or at BDAT LAST.  It
    serves the failure paths of a pipelining client; the happy paths are
    tested against the real smtp-sink above."""

    EHLO = b"250-peer\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n"

    def __init__(self):
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(
            self._session, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()

    async def _session(self, r, w):
        n = 0

        def verdict():
            nonlocal n
            n += 1
            return b"451 4.3.0 try later\r\n" if n % 3 == 0 \
                else b"250 2.0.0 ok\r\n"
        w.write(b"220 peer ESMTP\r\n")
        try:
            while True:
                line = await r.readline()
                if not line:
                    break
                cmd = line.strip().upper()
                if cmd.startswith(b"EHLO"):
                    w.write(self.EHLO)
                elif cmd.startswith(b"DATA"):
                    w.write(b"354 go\r\n")
                    while (await r.readline()) not in (b".\r\n", b""):
                        pass
                    w.write(verdict())
                elif cmd.startswith(b"BDAT"):
                    await r.readexactly(int(cmd.split()[1]))
                    w.write(verdict() if cmd.endswith(b"LAST")
                            else b"250 2.0.0 chunk\r\n")
                elif cmd.startswith(b"QUIT"):
                    w.write(b"221 bye\r\n")
                    await w.drain()
                    break
                else:
                    w.write(b"250 ok\r\n")
                await w.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        w.close()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def peer_check(rc, j):
    """Every third message of a connection refused, all others 250."""
    rej = j["outcomes"]["rejected_4xx"]
    final = j["replies"]["data_end"]["4xx"] + j["replies"]["bdat"]["4xx"]
    if rc == 1 and rej > 0 and j["ok"] > 0 and rej == final and \
            j["ok"] + rej == j["sent"] == 300:
        return None
    return "451s from a pipelining peer not accounted"


PEER_CASES = [
    ("peer-bdat-451", ["-c", "4", "-m", "300"],
     lambda rc, j: peer_check(rc, j) or (
         None if j["bdat_used"] == 300 else "BDAT not used")),
    ("peer-data-pipeline-next-451", ["-c", "4", "-m", "300",
                                     "--no-chunking", "--pipeline-next"],
     lambda rc, j: peer_check(rc, j) or (
         None if j["bdat_used"] == 0 and j["pipelined_next"] > 100 and
         j["replies"]["rset"]["2xx"] == 0 else "DATA path")),
    ("peer-bdat-3-rcpts", ["-c", "2", "-m", "300", "-r", "3",
                           "--lognormal", "8k:1.5"],
     lambda rc, j: peer_check(rc, j) or (
         None if j["replies"]["rcpt"]["2xx"] == 900 else "recipients")),
]


def run(port, args, tmp):
    out = os.path.join(tmp, "r.json")
    cmd = [MXLOAD, "-s", "127.0.0.1:%d" % port, "--json", out,
           "--timeout", "5"] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    with open(out) as f:
        return r.returncode, json.load(f), r.stdout + r.stderr


def accounted(j):
    """Every message started has exactly one outcome."""
    return j["sent"] == sum(j["outcomes"].values()) and \
        j["ok"] + j["failed"] == j["sent"]


# (name, sink options, mxload options, check(rc, json) -> error or None)
CASES = [
    ("pipelined-2000x8", [], ["-c", "8", "-m", "2000"],
     lambda rc, j: None if rc == 0 and j["ok"] == 2000 and
     j["sent"] == 2000 and j["pipelined"] == 2000 and
     j["replies"]["data_end"]["2xx"] == 2000 and
     j["latency_eod"]["count"] == 2000 else "not all 2000 got 250"),
    ("pipeline-next", [], ["-c", "8", "-m", "2000", "--pipeline-next"],
     lambda rc, j: None if rc == 0 and j["ok"] == 2000 and
     j["replies"]["mail"]["2xx"] == 2000 and
     j["pipelined_next"] > 1000 and
     j["latency_eod"]["count"] == 2000 else "next envelope behind the dot"),
    ("new-conn-per-msg", [], ["-c", "4", "-m", "300", "-k", "1"],
     lambda rc, j: None if rc == 0 and j["ok"] == 300 and
     j["connections"]["opened"] == 300 and
     j["replies"]["quit"]["2xx"] == 300 else "per-message connections"),
    ("no-pipelining-rcpts", [], ["-c", "4", "-m", "200", "-r", "3",
                                 "--no-pipelining"],
     lambda rc, j: None if rc == 0 and j["ok"] == 200 and
     j["pipelined"] == 0 and j["replies"]["rcpt"]["2xx"] == 600
     else "3 recipients each, one command at a time"),
    ("soft-reject-dot", ["-r", "."], ["-c", "4", "-m", "200"],
     lambda rc, j: None if rc == 1 and j["ok"] == 0 and
     j["outcomes"]["rejected_4xx"] == 200 and
     j["replies"]["data_end"]["4xx"] == 200 else "4xx after DATA not "
     "reported"),
    ("hard-reject-rcpt", ["-f", "rcpt"], ["-c", "4", "-m", "100"],
     lambda rc, j: None if rc == 1 and j["ok"] == 0 and
     j["outcomes"]["rejected_5xx"] == 100 and
     j["replies"]["rset"]["2xx"] == 100 else "5xx to RCPT not reported"),
    ("sink-quits-after-100", ["-M", "100"], ["-c", "8", "-m", "2000"],
     lambda rc, j: None if rc == 1 and 0 < j["ok"] < 2000 and
     j["failed"] == 2000 - j["ok"] else "lost sink not reported"),
    ("open-loop-rate", [], ["-c", "8", "-m", "500", "-R", "1000"],
     lambda rc, j: None if rc == 0 and j["ok"] == 500 and
     j["elapsed_s"] >= 0.45 and j["latency_sched"]["count"] == 500
     else "open loop at 1000/s for 500 messages"),
    ("attach-lognormal-eicar", [], ["-c", "4", "-m", "400", "--content",
                                    "attach", "--lognormal", "20k:1",
                                    "--eicar", "0.25", "--pool", "32"],
     lambda rc, j: None if rc == 0 and j["ok"] == 400 and
     40 <= j["eicar_sent"] <= 160 and j["bytes_sent"] > 400 * 2000
     else "generated attachments / EICAR rate"),
]


def main():
    if SINK is None:
        print("smtp-sink not installed: skipped")
        return 77
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mxload-smoke-") as tmp:
        eml = os.path.join(tmp, "eml")
        os.mkdir(eml)
        with open(os.path.join(eml, "a.eml"), "w") as f:
            f.write("Subject: a\n\n.leading dot\nbody\n")
        with open(os.path.join(eml, "b.eml"), "w") as f:
            f.write("Subject: b\r\n\r\nline\r\n.\r\n..\r\n")
        CASES.append(("eml-dir", [], ["-c", "2", "-m", "50", "--eml-dir",
                                      eml],
                      lambda rc, j: None if rc == 0 and j["ok"] == 50
                      else ".eml directory"))
        for name, sink_opts, opts, check in CASES:
            sink, port = start_sink(sink_opts)
            try:
                rc, j, out = run(port, opts, tmp)
                err = check(rc, j)
                if err is None and not accounted(j):
                    err = "outcomes do not add up to messages sent"
            except Exception as e:  # report and go on with the others
                err, out = "exception: %r" % e, ""
            finally:
                sink.send_signal(signal.SIGTERM)
                sink.wait()
            print("%s %s%s" % ("ok  " if err is None else "FAIL", name,
                                "" if err is None else ": " + err))
            if err is not None:
                print(out)
                failures += 1
        for name, opts, check in PEER_CASES:
            peer = ScriptedPeer()
            try:
                rc, j, out = run(peer.port, opts, tmp)
                err = check(rc, j)
                if err is None and not accounted(j):
                    err = "outcomes do not add up to messages sent"
            except Exception as e:  # report and go on with the others
                err, out = "exception: %r" % e, ""
            finally:
                peer.stop()
            print("%s %s%s" % ("ok  " if err is None else "FAIL", name,
                                "" if err is None else ": " + err))
            if err is not None:
                print(out)
                failures += 1
    total = len(CASES) + len(PEER_CASES)
    print("%d passed, %d failed" % (total - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
