#!/usr/bin/env python3
"""Writes the packet fuzzer's seed frames (fuzz/corpus/packet/). Run from the repository root:
python3 fuzz/corpus/make-packet-seeds.py. Checksums are computed, so the seeds decode cleanly."""
import os, struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "packet")
A = lambda s: bytes(int(x) for x in s.split("."))
M1, M2 = bytes.fromhex("0a580a200005"), bytes.fromhex("0a580a200101")

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def eth(dst, src, etype, payload, vlan=None):
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", etype) + payload

def ipv4(src, dst, proto, payload, ttl=64, options=b""):
    ihl = 5 + len(options) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), 0x1234, 0x4000, ttl, proto, 0, A(src), A(dst)) + options
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def l4sum(src, dst, proto, seg):
    return csum(A(src) + A(dst) + struct.pack("!BBH", 0, proto, len(seg)) + seg)

def tcp(src, dst, sp, dp, flags, payload=b"", options=b""):
    off = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sp, dp, 1000, 2000 if flags & 0x10 else 0, off << 4, flags, 64240, 0, 0) + options + payload
    c = l4sum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]

def udp(src, dst, sp, dp, payload):
    seg = struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload
    return seg[:6] + struct.pack("!H", l4sum(src, dst, 17, seg) or 0xffff) + seg[8:]

def icmp(t, code, rest, body):
    m = struct.pack("!BBHI", t, code, 0, rest) + body
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]

P, Q = "10.32.0.5", "10.32.1.13"
frames = {
    "arp-request": eth(b"\xff" * 6, M1, 0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, M1, A(P), b"\0" * 6, A("10.32.0.1"))),
    "arp-reply": eth(M1, M2, 0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, M2, A("10.32.0.1"), M1, A(P))),
    "icmp-echo": eth(M2, M1, 0x0800, ipv4(P, Q, 1, icmp(8, 0, 0x00070001, bytes(range(56))))),
    "icmp-frag-needed": eth(M2, M1, 0x0800, ipv4("10.0.0.38", P, 1, icmp(3, 4, 1400, ipv4(P, "10.36.0.10", 6, tcp(P, "10.36.0.10", 40000, 9000, 0x18)[:8])))),
    "tcp-syn-options": eth(M2, M1, 0x0800, ipv4(P, "10.36.0.10", 6, tcp(P, "10.36.0.10", 40000, 9000, 0x02,
        options=bytes.fromhex("020405b40402080a0000000100000000") + bytes.fromhex("01030307")))),
    "tcp-http": eth(M2, M1, 0x0800, ipv4("198.51.100.10", "203.0.113.37", 6, tcp("198.51.100.10", "203.0.113.37", 51000, 30007, 0x18,
        b"GET / HTTP/1.1\r\nHost: 203.0.113.37:30007\r\n\r\n"))),
    "tcp-rst": eth(M1, M2, 0x0800, ipv4(Q, P, 6, tcp(Q, P, 80, 40000, 0x14))),
    "udp-dns": eth(M2, M1, 0x0800, ipv4(P, "10.36.0.10", 17, udp(P, "10.36.0.10", 53000, 53, bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")))),
    "vlan-udp": eth(M2, M1, 0x0800, ipv4(P, Q, 17, udp(P, Q, 4789, 4789, b"x" * 16)), vlan=100),
    "ipv4-options-ttl1": eth(M2, M1, 0x0800, ipv4(P, Q, 17, udp(P, Q, 1, 2, b""), ttl=1, options=b"\x94\x04\x00\x00")),
}
# A pcap file (nanosecond magic) holding two of the frames, for the PcapReader path.
pcap = struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144, 1)
for i, name in enumerate(["arp-request", "tcp-syn-options"]):
    f = frames[name]
    pcap += struct.pack("<IIII", 1700000000 + i, 123456789, len(f), len(f) + 4) + f
os.makedirs(OUT, exist_ok=True)
for name, data in list(frames.items()) + [("two-frames.pcap-bytes", pcap)]:
    with open(os.path.join(OUT, name + ("" if "." in name else ".bin")), "wb") as fh:
        fh.write(data)
