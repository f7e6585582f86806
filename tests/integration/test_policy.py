#!/usr/bin/python3
"""Recipient policy through the daemon: a domain backed by an LMDB map
built with `mxgatectl map build` accepts its users (local part as given
or lower-cased) and refuses others with 550 5.1.1; the catch-all domain
takes anything; any other domain is relay-denied (554 5.7.1); and after a
reload (a new policy, so each core makes a new map reader) the same
answers come back."""
import os
import smtplib
import sys

from mxtest import Daemon, check

mxgate, ctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
d = Daemon(mxgate, ctl)
users = os.path.join(d.dir, "users.txt")
lmdb = os.path.join(d.dir, "users.lmdb")
os.makedirs(d.dir, exist_ok=True)
with open(users, "w") as f:
    f.write("# mapped users\nalice@other.test\nbob@other.test\n")
try:
    r = d.ctlrun("map", "build", users, lmdb)
    check(os.path.exists(lmdb), "mxgatectl map build wrote the LMDB map")
    d.opts.append("domains.other.test.map=" + lmdb)
    d.start()

    def answers():
        with smtplib.SMTP("127.0.0.1", d.port) as s:
            s.ehlo()
            s.mail("a@remote.test")
            return [s.rcpt(a)[0] for a in ("alice@other.test", "Bob@other.test",
                                           "nobody@other.test", "anyone@example.test",
                                           "victim@nowhere.test")]

    want = [250, 250, 550, 250, 554]
    check(answers() == want, "mapped user, case, unknown user, catch-all, relay: %s" % want)
    d.ctlrun("reload")
    check(answers() == want, "the same after a reload (new policy, new readers)")
    check(d.stop() == 0, "clean stop")
finally:
    d.cleanup()
print("policy: all checks passed")
