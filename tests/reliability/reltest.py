"""reltest — what the reliability tests share on top of tests/integration's
mxtest: a raw SMTP client that sends exact bytes (hostile input cannot go
through a well-behaved library), counters read from `mxgatectl stats`, a
legitimate swaks delivery that must land in the Maildir, and the size of
the daemon's log.  Every socket here goes to 127.0.0.x only.
"""
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from mxtest import CONF, ROOT, SKIP, Daemon, check, fail  # noqa: E402,F401


def args():
    """The executables meson passes (mxgate, mxgatectl), made absolute."""
    if len(sys.argv) < 3:
        print("usage: %s MXGATE MXGATECTL" % sys.argv[0])
        sys.exit(2)
    return os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def queue_total(st):
    """Messages the queue holds in any state but done."""
    m = st["queue"]["messages"]
    return sum(v for k, v in m.items() if k != "done")


def log_size(d):
    try:
        return os.path.getsize(d.log)
    except OSError:
        return 0


class Smtp:
    """One raw SMTP connection: exact bytes out, whole replies in."""

    def __init__(self, port, src="127.0.0.1", timeout=10.0, banner=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((src, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.banner = self.reply() if banner else None

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def reply(self):
        """One (possibly multi-line) reply: (code, text).  (0, '') at EOF."""
        lines = []
        try:
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                line, self.buf = self.buf.split(b"\r\n", 1)
                lines.append(line.decode("latin-1"))
                if len(line) < 4 or line[3:4] != b"-":
                    break
        except EOFError:
            if not lines:
                return 0, ""
        code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else -1
        return code, "\n".join(lines)

    def cmd(self, line):
        self.send(line if isinstance(line, bytes) else line.encode() + b"\r\n")
        return self.reply()

    def drain(self, wait=0.5):
        """Every reply that arrives within `wait` seconds of quiet."""
        out = []
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            while True:
                code, text = self.reply()
                if code == 0:
                    out.append((0, "EOF"))
                    break
                out.append((code, text))
        except (socket.timeout, TimeoutError):
            pass
        finally:
            self.sock.settimeout(old)
        return out

    def closed_by_peer(self, wait=5.0):
        """True if the server closes within `wait` (replies are skipped)."""
        end = time.time() + wait
        self.sock.settimeout(0.2)
        while time.time() < end:
            try:
                if not self.sock.recv(65536):
                    return True
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def swaks(d, to="legit@example.test", body="legitimate message", extra=()):
    """Sends one message with swaks; returns (rc, transcript)."""
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(d.port),
         "--from", "sender@client.test", "--to", to,
         "--helo", "client.test", "--body", body,
         "--timeout", "20"] + list(extra),
        capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def delivered_with(d, token):
    """Maildir files holding `token`."""
    hits = []
    for path in d.maildir_files():
        try:
            with open(path, "rb") as f:
                if token.encode() in f.read():
                    hits.append(path)
        except OSError:
            pass
    return hits


def legit_delivery(d, what, timeout=30):
    """A legitimate swaks message is accepted and lands in the Maildir."""
    token = "legit-%d-%d" % (os.getpid(), time.monotonic_ns())
    rc, out = swaks(d, body="legitimate message after %s %s" % (what, token))
    if rc != 0:
        fail("legitimate swaks delivery after %s: rc=%d\n%s" % (what, rc, out[-2000:]))
    end = time.time() + timeout
    while time.time() < end and not delivered_with(d, token):
        time.sleep(0.1)
    check(len(delivered_with(d, token)) == 1,
          "after %s a legitimate swaks message is accepted and delivered" % what)


def alive(d):
    if d.proc.poll() is not None:
        fail("mxgate died (rc=%s): %s" % (d.proc.returncode, d.logtail()))


def need(tool):
    from shutil import which
    if which(tool) is None:
        print("SKIP: %s not installed (scripts/deps --test)" % tool)
        sys.exit(SKIP)
