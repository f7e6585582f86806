#!/usr/bin/python3
# tests/fuzz/proxy/mkcorpus.py — writes the seed corpus for fuzz_proxy:
# PROXY v1 lines (TCP4, TCP6, UNKNOWN, and near misses) and v2 binary
# headers (PROXY and LOCAL, IPv4, IPv6, UNSPEC, with TLVs), each followed
# by the start of an SMTP session as a balancer would forward it.
# Run from anywhere; it rewrites corpus/ beside this file.
import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
TAIL = b"EHLO client.example\r\n"

def v2(cmd, fam, body):
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) + body

def v4(src, dst, sp, dp):
    return (socket.inet_pton(socket.AF_INET, src) +
            socket.inet_pton(socket.AF_INET, dst) + struct.pack(">HH", sp, dp))

def v6(src, dst, sp, dp):
    return (socket.inet_pton(socket.AF_INET6, src) +
            socket.inet_pton(socket.AF_INET6, dst) + struct.pack(">HH", sp, dp))

def tlv(t, value):
    return bytes([t]) + struct.pack(">H", len(value)) + value

seeds = {
    "v1-tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 25\r\n",
    "v1-tcp6-mapped": b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 65535\r\n",
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v1-unknown-args": b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
    "v1-max": b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
              b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
    "v1-bad-port": b"PROXY TCP4 192.0.2.1 198.51.100.2 065 25\r\n",
    "v1-two-spaces": b"PROXY TCP4  192.0.2.1 198.51.100.2 1 25\r\n",
    "v1-bare-lf": b"PROXY TCP4 192.0.2.1 198.51.100.2 1 25\n",
    "v1-family-mismatch": b"PROXY TCP4 2001:db8::1 198.51.100.2 1 25\r\n",
    "v2-tcp4": v2(1, 0x11, v4("192.0.2.1", "198.51.100.2", 56324, 25)),
    "v2-tcp6": v2(1, 0x21, v6("2001:db8::1", "2001:db8::2", 4000, 25)),
    "v2-local": v2(0, 0x00, b""),
    "v2-unspec": v2(1, 0x00, b""),
    "v2-tcp4-tlvs": v2(1, 0x11, v4("10.0.0.1", "10.0.0.2", 1, 2) +
                       tlv(0x02, b"mx.example.test") + tlv(0x04, b"\x00" * 4)),
    "v2-short-body": v2(1, 0x11, b"\x01\x02\x03"),
    "v2-udp": v2(1, 0x12, v4("192.0.2.1", "198.51.100.2", 53, 53)),
    "v2-unix": v2(1, 0x31, b"/tmp/sock".ljust(216, b"\0")),
    "v2-bad-version": bytes(SIG) + b"\x11\x11\x00\x0c" + v4("1.2.3.4", "5.6.7.8", 1, 2),
}

os.makedirs(OUT, exist_ok=True)
for name in os.listdir(OUT):
    os.unlink(os.path.join(OUT, name))
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data + TAIL)
print("wrote %d seeds to %s" % (len(seeds), OUT))
