#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fakedns - a scripted DNS responder over UDP on loopback, for tests.

Contract: FakeDNS(lines).start() answers on 127.0.0.1 and an ephemeral
UDP port (.port) from a script of records, one a line:

    SRV NAME PRIORITY WEIGHT PORT TARGET
    MX NAME PREFERENCE TARGET
    A NAME ADDRESS
    SERVFAIL NAME          every query for NAME gets SERVFAIL

TARGET "." is the root (RFC 2782: no service).  A label of TARGET may
hold Python escapes ("smtp\\x0aevil.example.org": a label with a line
feed), so tests can send the names a hostile server would.  A query for
a name with records gets them (those of the asked type: an empty answer
when there are none); any other name gets NXDOMAIN.  Every query is
recorded in .queries as (name, type name), names in lower case as
dotted text.  Answers are never compressed and never truncated.

Python 3 standard library only; python3 fakedns.py --help runs it by hand.
"""
import argparse
import codecs
import socket
import struct
import sys
import threading

TYPES = {"A": 1, "MX": 15, "SRV": 33}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
CLASS_IN = 1


def encode_name(text):
    """Wire form of a dotted name; labels may hold Python escapes."""
    if text in (".", ""):
        return b"\0"
    out = b""
    for label in text.rstrip(".").split("."):
        raw = codecs.decode(label, "unicode_escape").encode("latin-1")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_qname(data, off):
    """(dotted lower-case name, offset after it) of an uncompressed
    question name."""
    labels = []
    while True:
        n = data[off]
        off += 1
        if n == 0:
            break
        labels.append(data[off:off + n].decode("latin-1").lower())
        off += n
    return ".".join(labels), off


class Record:
    def __init__(self, line):
        words = line.split()
        self.kind = words[0].upper()
        self.name = words[1].rstrip(".").lower()
        self.args = words[2:]

    def rdata(self):
        if self.kind == "SRV":
            prio, weight, port, target = self.args
            return struct.pack("!HHH", int(prio), int(weight),
                               int(port)) + encode_name(target)
        if self.kind == "MX":
            pref, target = self.args
            return struct.pack("!H", int(pref)) + encode_name(target)
        if self.kind == "A":
            return socket.inet_aton(self.args[0])
        raise ValueError(self.kind)


class FakeDNS:
    def __init__(self, lines, host="127.0.0.1"):
        self.records = [Record(l) for l in lines
                        if l.strip() and not l.lstrip().startswith("#")]
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.thread = None
        self.stopping = False

    def start(self):
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        try:
            self.sock.sendto(b"", ("127.0.0.1", self.port))
        except OSError:
            pass
        if self.thread:
            self.thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if self.stopping:
                return
            reply = self.answer(data)
            if reply:
                self.sock.sendto(reply, peer)

    def answer(self, data):
        if len(data) < 12:
            return None
        qid, flags, qd = struct.unpack("!HHH", data[:6])
        if qd != 1:
            return None
        try:
            name, off = decode_qname(data, 12)
            qtype, qclass = struct.unpack("!HH", data[off:off + 4])
        except (IndexError, struct.error):
            return None
        question = data[12:off + 4]
        self.queries.append((name, TYPE_NAMES.get(qtype, str(qtype))))
        mine = [r for r in self.records if r.name == name]
        rcode = 0
        if any(r.kind == "SERVFAIL" for r in mine):
            rcode, mine = 2, []
        elif not mine:
            rcode = 3
        answers = [r for r in mine if TYPES.get(r.kind) == qtype]
        rflags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
        out = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0)
        out += question
        for r in answers:
            rd = r.rdata()
            out += encode_name(r.name) + struct.pack(
                "!HHIH", TYPES[r.kind], CLASS_IN, 300, len(rd)) + rd
        return out


def main():
    ap = argparse.ArgumentParser(description="scripted DNS over UDP")
    ap.add_argument("script", help="file of records (see the module doc)")
    args = ap.parse_args()
    with open(args.script) as f:
        dns = FakeDNS(f.read().splitlines()).start()
    print("listening on 127.0.0.1:%d" % dns.port, flush=True)
    try:
        dns.thread.join()
    except KeyboardInterrupt:
        dns.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
