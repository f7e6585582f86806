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


class Checks:
    """Checks that note a failure and go on, for tests that report every
    failure of a run: check(cond, what) prints "FAIL: what" (to `out`) and
    keeps it; finish(label) prints the tally and returns the exit code."""

    def __init__(self, out=None):
        self.failures = []
        self.out = out

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            print("FAIL: " + what, file=self.out or sys.stdout, flush=True)

    def finish(self, label=None):
        pre = label + ": " if label else ""
        if self.failures:
            print("%s%d check(s) failed" % (pre, len(self.failures)))
            return 1
        print(pre + "ok")
        return 0


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

    def counters(self):
        """Every counter by name, summed should a name stand in more than
        one counter set."""
        out = {}
        for c in json.loads(self.ctlrun("stats", "--json").stdout)["counters"]:
            out[c["name"]] = out.get(c["name"], 0) + c["value"]
        return out

    def counter(self, name):
        return self.counters()[name]

    def received_of(self, qid, timeout=60):
        """The Received: header (unfolded) of the delivered message `qid`."""
        end = time.time() + timeout
        while time.time() < end:
            for f in self.maildir_files():
                with open(f, "rb") as fh:
                    head = fh.read(4000)
                if (" id %s" % qid).encode() in head:
                    m = re.search(rb"^Received: .*?(?=\r?\n\S)", head,
                                  re.S | re.M)
                    return re.sub(rb"\r?\n\s+", b" ", m.group(0)).decode()
            time.sleep(0.2)
        fail("message %s not delivered: %s" % (qid, self.logtail()))

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


def dpdk_skip_reason(mxgate):
    """Why a DPDK-backend test cannot run here (None when it can): it
    needs root, /dev/net/tun, iproute2 and an mxgate built with DPDK."""
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("ip"):
        return "needs root, /dev/net/tun and iproute2"
    r = subprocess.run([mxgate, "--version"], capture_output=True, text=True)
    if "DPDK       not built" in r.stdout:
        return "built without DPDK"
    return None


class DpdkNetns:
    """mxgate on the DPDK backend (a net_tap device, --no-huge) with the tap
    moved into a network namespace made for the test, so that the clients
    (run in the namespace with nsx/nsp) reach the userspace stack over a
    real kernel link and nothing leaves the namespace.  The daemon has
    10.77.N.1/24 on the tap, the namespace's kernel 10.77.N.2/24 (N from
    the pid).  Use as a context manager: on the way out, however the test
    ended (a failed check, an exception, SIGTERM from meson's timeout),
    processes started with nsp are killed, then the daemon (which takes
    its tap with it), then the namespace is deleted."""

    def __init__(self, mxgate, mxgatectl, prefix, extra=()):
        pid = os.getpid()
        self.ns = "%s%d" % (prefix, pid)
        self.tap = "%s%d" % (prefix, pid % 100000)  # IFNAMSIZ: 15 chars
        self.subnet = "10.77.%d" % (pid % 200)
        self.ip_srv, self.ip_cli = self.subnet + ".1", self.subnet + ".2"
        self.procs = []
        self.daemon = Daemon(mxgate, mxgatectl, extra=[
            "dataplane.backend=dpdk",
            'dataplane.dpdk.port="net_tap0,iface=%s"' % self.tap,
            "dataplane.dpdk.address=%s/24" % self.ip_srv,
        ] + list(extra))

    def __enter__(self):
        signal.signal(signal.SIGTERM, lambda *a: sys.exit("killed by SIGTERM"))
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        try:
            return self._setup()
        except BaseException:
            self.__exit__()
            raise

    def _setup(self):
        d = self.daemon
        d.start(wait=False)
        end = time.time() + 30
        while not os.path.exists("/sys/class/net/" + self.tap):
            if d.proc.poll() is not None or time.time() > end:
                fail("no tap device: " + d.logtail())
            time.sleep(0.1)
        while not os.path.exists(d.sock) and time.time() < end:
            time.sleep(0.1)
        subprocess.run(["ip", "link", "set", self.tap, "netns", self.ns], check=True)
        self.nsx("ip", "addr", "add", self.ip_cli + "/24", "dev", self.tap)
        self.nsx("ip", "link", "set", self.tap, "up")
        self.nsx("ip", "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.daemon.cleanup()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        return False

    def nsx(self, *cmd, timeout=60):
        """Runs cmd in the namespace and waits for it (output captured)."""
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(cmd),
                              capture_output=True, timeout=timeout)

    def nsp(self, *cmd):
        """Starts cmd in the namespace (stdout, stderr piped); killed on
        exit if still running."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns] + list(cmd),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def tap_stat(self, name):
        """A statistics counter of the tap, as the namespace's kernel sees it."""
        r = self.nsx("cat", "/sys/class/net/%s/statistics/%s" % (self.tap, name))
        return int(r.stdout)

    def peer_mac(self):
        """The daemon's MAC as the namespace's kernel resolved it."""
        neigh = json.loads(self.nsx("ip", "-j", "neigh", "show", self.ip_srv,
                                    "dev", self.tap).stdout)
        return neigh[0].get("lladdr") if len(neigh) == 1 else None


# --- a private Dovecot LMTP server (tests/integration, tests/deliver) ------

def wait_port(port, timeout=5.0):
    """True once something accepts on 127.0.0.1:port."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Dovecot:
    """A private Dovecot serving LMTP: on a unix socket in its own
    directory and, with tcp=True, on a free 127.0.0.1 port; users from a
    passwd-file (uid/gid 65534), each user's mail in a Maildir under
    <mail>/<domain>/<local>/Maildir.  It runs as its own instance
    (instance_name with our pid) with its own base_dir, state_dir and log,
    so it never touches a system Dovecot.  Needs root and dovecot-lmtpd.

    `workdir` (made if missing) holds it all, under dovecot/ (config, log,
    sockets) and lmtpmail/; without one a temp dir is made and removed by
    cleanup().  start() waits for the listeners and fails the test if they
    do not come up; stop() ends the master (SIGTERM, then SIGKILL after
    10 s); cleanup() stops and removes what we made."""

    def __init__(self, users, workdir=None, tcp=False):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="mxgate-lmtp-")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.base = os.path.join(self.dir, "dovecot")
        self.mail = os.path.join(self.dir, "lmtpmail")
        self.sock = os.path.join(self.base, "lmtp")
        self.pidfile = os.path.join(self.base, "run", "master.pid")
        self.port = free_port() if tcp else None
        os.makedirs(os.path.join(self.base, "run"))
        os.makedirs(self.mail)
        os.chmod(self.mail, 0o777)
        with open(os.path.join(self.base, "users"), "w") as f:
            for u in users:
                f.write("%s::65534:65534::%s::\n" % (u, self.home(u)))
        inet = ""
        if tcp:
            inet = ("  inet_listener lmtp {\n    address = 127.0.0.1\n"
                    "    port = %d\n  }\n" % self.port)
        self.conf = os.path.join(self.base, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write("""base_dir = {b}/run
state_dir = {b}/state
log_path = {b}/dovecot.log
instance_name = mxgate-it-{pid}
protocols = lmtp
listen = 127.0.0.1
ssl = no
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {b}/users
}}
userdb {{
  driver = passwd-file
  args = {b}/users
}}
service lmtp {{
  unix_listener {b}/lmtp {{
    mode = 0666
  }}
{inet}}}
service anvil {{
  chroot =
}}
service log {{
  chroot =
}}
""".format(b=self.base, pid=os.getpid(), inet=inet))

    @staticmethod
    def skip_reason():
        """Why a private Dovecot cannot run here (None when it can)."""
        if os.geteuid() != 0:
            return "needs root to run Dovecot"
        if not shutil.which("dovecot"):
            return "dovecot not installed"
        if not os.path.exists("/usr/lib/dovecot/lmtp"):
            return "dovecot-lmtpd not installed"
        return None

    def home(self, user):
        local, dom = user.split("@")
        return os.path.join(self.mail, dom, local)

    def start(self):
        subprocess.run(["dovecot", "-c", self.conf], check=True)
        end = time.time() + 10
        while not os.path.exists(self.sock) and time.time() < end:
            time.sleep(0.05)
        if not os.path.exists(self.sock):
            fail("dovecot LMTP socket did not appear: " + self.logtail())
        if self.port and not wait_port(self.port):
            fail("dovecot LMTP port %d not listening: %s" % (self.port,
                                                            self.logtail()))
        return self

    def logtail(self):
        try:
            with open(os.path.join(self.base, "dovecot.log")) as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def stop(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
            end = time.time() + 10
            while time.time() < end:
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def messages(self, user):
        """The user's mail, read back with mailbox.Maildir."""
        import mailbox
        path = os.path.join(self.home(user), "Maildir")
        if not os.path.isdir(path):
            return []
        return list(mailbox.Maildir(path, factory=None, create=False))
