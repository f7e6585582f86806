"""mxtest — start a real mxgate on loopback for an integration test.

Each Daemon gets a private directory (queue, maildir, control socket, pid
file) and a free loopback port, and is configured with -o overrides on top
of configs/mxgate.conf, so the tests exercise the shipped config.  Nothing
here talks to any address but 127.0.0.1.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF = os.path.join(ROOT, "configs", "mxgate.conf")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


class Daemon:
    def __init__(self, mxgate, mxgatectl, extra=(), scan=False, conf=CONF,
                 workdir=None):
        self.mxgate = mxgate
        self.ctl = mxgatectl
        self.dir = workdir or tempfile.mkdtemp(prefix="mxgate-it-")
        self.port = free_port()
        self.sock = os.path.join(self.dir, "ctl.sock")
        self.pidfile = os.path.join(self.dir, "mxgate.pid")
        self.maildir = os.path.join(self.dir, "mail")
        self.queue = os.path.join(self.dir, "queue")
        self.conf = conf
        self.opts = [
            "smtp.listen=127.0.0.1:%d" % self.port,
            "queue.dir=" + self.queue,
            "control.socket=" + self.sock,
            "pid_file=" + self.pidfile,
            "delivery.default_route=maildir:" + self.maildir,
            "scan.enabled=%s" % ("true" if scan else "false"),
        ] + list(extra)
        self.proc = None
        self.log = os.path.join(self.dir, "mxgate.log")

    def argv(self):
        a = [self.mxgate, "-c", self.conf]
        for o in self.opts:
            a += ["-o", o]
        return a

    def start(self, wait=True):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                fail("mxgate exited early (%d): %s" % (self.proc.returncode,
                                                      self.logtail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                    s.recv(100)
                if os.path.exists(self.sock):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        fail("mxgate not ready: " + self.logtail())

    def logtail(self, n=30):
        try:
            with open(self.log, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def ctlrun(self, *args, check_rc=True):
        r = subprocess.run([self.ctl, "-s", self.sock] + list(args),
                           capture_output=True, text=True, timeout=30)
        if check_rc and r.returncode != 0:
            fail("mxgatectl %s: rc=%d %s" % (" ".join(args), r.returncode, r.stderr))
        return r

    def status(self):
        return json.loads(self.ctlrun("status", "--json").stdout)

    def wait_delivered(self, count, timeout=120):
        """Waits until the maildir holds `count` messages in new/."""
        end = time.time() + timeout
        n = 0
        while time.time() < end:
            n = len(self.maildir_files())
            if n >= count:
                return n
            time.sleep(0.2)
        return n

    def maildir_files(self):
        out = []
        for root, dirs, files in os.walk(self.maildir):
            if os.path.basename(root) == "new":
                out += [os.path.join(root, f) for f in files]
        return out

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("mxgate did not stop within %ds: %s" % (timeout, self.logtail()))

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


QUEUED = re.compile(rb"250 2\.0\.0 Ok: queued as ([0-9a-f]{16})")
