#!/usr/bin/python3
"""The daemon's life cycle: --check-config, start, status over the control
socket, reload of a good and of a bad config (the bad one changes nothing
and says file, line and key), the CLI's errors, and SIGTERM: a clean exit 0
with the pid file removed."""
import json
import os
import shutil
import subprocess
import sys
import time

import urllib.error
import urllib.request

from mxtest import CONF, Daemon, check, fail, free_port

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

r = subprocess.run([mxgate, "--check-config", "-c", CONF], capture_output=True, text=True)
check(r.returncode == 0, "--check-config on the shipped config exits 0")

http_port = free_port()
d = Daemon(mxgate, ctl, extra=["metrics.http_listen=127.0.0.1:%d" % http_port])
try:
    bad = os.path.join(d.dir, "typo.conf")
    os.makedirs(d.dir, exist_ok=True)
    with open(CONF) as f:
        text = f.read()
    lines = text.split("\n")
    idx = next(i for i, l in enumerate(lines) if l.strip().startswith("max_recipients"))
    lines[idx] = lines[idx].replace("max_recipients", "max_recipents")
    with open(bad, "w") as f:
        f.write("\n".join(lines))
    r = subprocess.run([mxgate, "--check-config", "-c", bad], capture_output=True, text=True)
    check(r.returncode == 1, "--check-config on a typo'd key exits 1")
    check("%s:%d" % (bad, idx + 1) in r.stderr and "max_recipents" in r.stderr,
          "the error names file, line and key: " + r.stderr.strip())

    r = subprocess.run([mxgate, "--version"], capture_output=True, text=True)
    check(r.returncode == 0 and "jemalloc" in r.stdout and "liburing" in r.stdout,
          "--version names the libraries: " + r.stdout.replace("\n", "; "))

    # A config of our own, so that reload has a file to change.
    conf = os.path.join(d.dir, "mxgate.conf")
    shutil.copy(CONF, conf)
    d.conf = conf
    d.start()
    st = d.status()
    check(st["backend"] == "socket" and st["pid"] == d.proc.pid, "status --json answers")
    with open(d.pidfile) as f:
        check(int(f.read()) == d.proc.pid, "pid file holds the daemon's pid")

    # Prometheus: the control socket and the HTTP listener say the same.
    text = d.ctlrun("metrics").stdout
    check("# TYPE mxgate_smtp_sessions_total counter" in text and
          "mxgate_queue_messages_new " in text, "mxgatectl metrics: counters and gauges")
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port, timeout=10).read().decode()
    check("mxgate_smtp_sessions_total" in body and "mxgate_queue_messages_new" in body,
          "HTTP /metrics serves the same exposition")
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % http_port, timeout=10)
        fail("HTTP /other answered")
    except urllib.error.HTTPError as e:
        check(e.code == 404, "HTTP: anything but /metrics is 404")

    # A second daemon on the same pid file refuses to start.
    r = subprocess.run(d.argv(), capture_output=True, text=True, timeout=20, cwd=os.path.dirname(CONF) + "/..")
    check(r.returncode != 0 and "already running" in r.stderr,
          "a second instance refuses: " + r.stderr.strip().split("\n")[-1])

    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace('level = "info"', 'level = "debug"'))
    d.ctlrun("reload")
    check(d.status()["log_level"] == "debug", "reload applies a good config")

    with open(conf, "w") as f:
        f.write(text.replace("max_recipients", "max_recipents"))
    r = d.ctlrun("reload", check_rc=False)
    check(r.returncode != 0 and "max_recipents" in r.stderr,
          "reload of a bad config fails and says why: " + r.stderr.strip())
    st = d.status()
    check(st["log_level"] == "debug" and st["reload_failures"] == 1,
          "the running config is untouched")
    check("max_recipents" in st["last_reload_error"], "status reports the reload failure")

    # SIGHUP takes the same path.
    with open(conf, "w") as f:
        f.write(text.replace('level = "info"', 'level = "warn"'))
    d.proc.send_signal(1)
    for _ in range(100):
        if d.status()["log_level"] == "warn":
            break
        time.sleep(0.05)
    check(d.status()["log_level"] == "warn", "SIGHUP reloads")

    r = d.ctlrun("no-such-command", check_rc=False)
    check(r.returncode == 2 and "unknown" in r.stderr, "unknown command: exit 2, one line")

    t0 = time.time()
    rc = d.stop()
    check(rc == 0, "SIGTERM: exit status 0")
    check(time.time() - t0 < 15, "SIGTERM: stopped in %.1fs" % (time.time() - t0))
    check(not os.path.exists(d.pidfile), "pid file removed")
    check(not os.path.exists(d.sock), "control socket removed")

    r = d.ctlrun("status", check_rc=False)
    check(r.returncode == 2 and "not running" in r.stderr, "daemon not running: exit 2")
finally:
    d.cleanup()
print("lifecycle: all checks passed")
