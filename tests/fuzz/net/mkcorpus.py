#!/usr/bin/python3
"""mkcorpus — writes the seed corpus of fuzz_net (see fuzz_net.c for the
record format: [op][len16][bytes]).  Run from this directory."""
import os
import struct

def rec(op, payload=b""):
    return bytes([op]) + struct.pack(">H", len(payload)) + payload

def seg(flags, seq_off=0, ack_off=0, wnd=65535, opts=b"", data=b"", advance=True):
    f = flags | (0x80 if advance else 0)
    return rec(1, bytes([f]) + struct.pack(">hhH", seq_off, ack_off, wnd)
               + bytes([len(opts)]) + opts + data)

ACK, PSH, FIN, RST, SYN = 0x10, 0x08, 0x01, 0x04, 0x02
TS = b"\x01\x01\x08\x0a" + struct.pack(">II", 100, 0)
seeds = {
    "handshake-data-fin": rec(4) + seg(ACK | PSH, data=b"EHLO x\r\n")
        + rec(3, b"\x00" + b"250 hi\r\n") + seg(ACK | FIN) + rec(3, b"\x01")
        + rec(2, b"\x00\x10") + seg(ACK, ack_off=1),
    "ooo": rec(4) + seg(ACK, seq_off=100, data=b"b" * 100, advance=False)
        + seg(ACK, data=b"a" * 100) + seg(ACK, seq_off=100, data=b"b" * 100),
    "zero-window": rec(4) + rec(3, b"\x04\x00") + seg(ACK, data=b"x" * 1400)
        + seg(ACK, data=b"x" * 1400) + seg(ACK, data=b"x" * 1400)
        + rec(3, b"\x04\x10") + rec(3, b"\x03"),
    "retransmit": rec(4) + rec(3, b"\x00" + b"d" * 3000) + rec(2, b"\x01\x00")
        + rec(2, b"\x04\x00") + seg(ACK, ack_off=0) + seg(ACK) + seg(ACK)
        + seg(ACK, ack_off=1000),
    "rst-syn": rec(4) + seg(RST, seq_off=5) + seg(SYN) + seg(RST),
    "timewait": rec(4) + rec(3, b"\x01") + seg(ACK, ack_off=1) + seg(ACK | FIN)
        + seg(SYN, seq_off=1000) + rec(2, b"\xff\xff"),
    "ts-opts": rec(4) + seg(ACK, opts=TS, data=b"hello"),
    "arp": rec(0, bytes.fromhex("ffffffffffff020000000002080600010800060400010200000000020a0000020000000000000a000001")),
    "icmp": rec(0, bytes.fromhex("0200000000010200000000020800450000210101000040010000"
                                 "0a0000020a000001080000001234000768656c6c6f")),
    "keepalive": rec(4) + rec(2, b"\xff\xff") + rec(2, b"\xff\xff") + rec(2, b"\xff\xff"),
}
os.makedirs("corpus", exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join("corpus", name), "wb") as f:
        f.write(data)
