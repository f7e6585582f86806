"""nexthop — a small SMTP receiver on 127.0.0.1 for the crash tests: the
next hop mxgate delivers to.

It speaks just enough ESMTP for mxgate's client (EHLO with PIPELINING and
8BITMIME, MAIL, RCPT, DATA, RSET, NOOP, QUIT; RFC 5321 §4.1), takes any
envelope, and for each complete message (final "." seen, RFC 5321 §4.5.2
dot-stuffing undone) writes the exact content bytes to a file of its own in
`dir` *before* it answers, then waits `delay` seconds and only then sends
the 250.  So a sender killed in that wait leaves a message that arrived but
was never acknowledged to it — the window "mid-delivery" is about.  A
connection that ends before the final dot leaves nothing behind (counted
in `aborted`).

Thread use: one thread per connection (socketserver); `busy()`, `stats()`
and `files()` may be called from any thread.  `close()` stops the listener
and waits for nothing else (connection threads are daemon threads and end
when their peer goes).
"""
import os
import random
import socketserver
import threading
import time


class NextHop:
    def __init__(self, dir, delay=(0.002, 0.02)):
        self.dir = dir
        self.delay = delay
        self.lock = threading.Lock()
        self.open_txn = {}          # connection number -> phase
        self.conns = 0
        self.received = 0           # messages written, then answered
        self.answered = 0           # 250s that reached the socket
        self.aborted = 0            # connections that ended inside DATA
        self.seq = 0
        self.rng = random.Random(os.getpid())
        os.makedirs(dir, exist_ok=True)
        hop = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                hop._session(self.request, self.rfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def busy(self):
        """Transactions between our 354 and our final reply, now."""
        with self.lock:
            return dict(self.open_txn)

    def stats(self):
        with self.lock:
            return {"conns": self.conns, "received": self.received,
                    "answered": self.answered, "aborted": self.aborted}

    def files(self):
        return sorted(os.path.join(self.dir, f) for f in os.listdir(self.dir)
                      if f.startswith("msg."))

    def _store(self, content):
        with self.lock:
            self.seq += 1
            n = self.seq
        tmp = os.path.join(self.dir, "tmp.%d" % n)
        with open(tmp, "wb") as f:
            f.write(content)
        os.rename(tmp, os.path.join(self.dir, "msg.%06d" % n))

    def _session(self, sock, rfile):
        with self.lock:
            self.conns += 1
            me = self.conns

        def reply(text):
            sock.sendall(text.encode() + b"\r\n")

        try:
            reply("220 nexthop.test ESMTP")
            while True:
                line = rfile.readline(4096)
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"LHLO"):
                    reply("250-nexthop.test\r\n250-PIPELINING\r\n250 8BITMIME")
                elif verb == b"HELO":
                    reply("250 nexthop.test")
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    reply("250 2.0.0 Ok")
                elif verb == b"QUIT":
                    reply("221 2.0.0 Bye")
                    return
                elif verb == b"DATA":
                    self._data(me, rfile, reply)
                else:
                    reply("502 5.5.2 Command not recognized")
        except OSError:
            pass
        finally:
            with self.lock:
                if self.open_txn.pop(me, None) == "data":
                    self.aborted += 1

    def _data(self, me, rfile, reply):
        with self.lock:
            self.open_txn[me] = "data"
        reply("354 End data with <CR><LF>.<CR><LF>")
        lines = []
        while True:
            line = rfile.readline(1 << 20)
            if not line:
                return          # EOF inside DATA: nothing is kept
            if line == b".\r\n":
                break
            if line.startswith(b"."):
                line = line[1:]
            lines.append(line)
        self._store(b"".join(lines))
        with self.lock:
            self.received += 1
            self.open_txn[me] = "reply"
        time.sleep(self.rng.uniform(*self.delay))
        reply("250 2.0.0 Ok: stored")
        with self.lock:
            self.answered += 1
            self.open_txn.pop(me, None)
