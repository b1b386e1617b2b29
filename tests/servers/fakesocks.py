#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fakesocks.py - a minimal SOCKS5 proxy for the tests (RFC 1928, no
authentication, CONNECT only) that records what each client asked for.

    proxy = FakeSocks5().start()      # 127.0.0.1, ephemeral port
    ... proxy.port ... proxy.connects  # [(atyp, host, port), ...]
    proxy.stop()

atyp is "domain", "ipv4" or "ipv6": a client that lets the proxy resolve
names (socks5h) sends "domain".  The proxy relays bytes both ways until
either side closes.

A script (a list of directive lines, as in a case's [proxy] section) makes
it misbehave on purpose:

    reply CODE          answer every CONNECT with reply CODE (1 general
                        failure, 2 not allowed by ruleset, 3 network
                        unreachable, 4 host unreachable, 5 connection
                        refused, 6 TTL expired, 7 command not supported,
                        8 address type not supported, or any byte) and
                        close; nothing is relayed
    method M            answer the greeting with method M (2: user name
                        and password, 255: no acceptable method) and close
    garbage TEXT        answer the greeting with TEXT (\\r \\n \\t \\xNN)
                        instead, and close
    stall greeting      never answer the greeting (until the client leaves,
                        at most 30 s); `stall connect`: answer the
                        greeting, never the CONNECT
    map NAME ADDR       resolve NAME to ADDR itself: a name that only the
                        proxy knows (the client cannot resolve it)
    bind-type T         the address type of the success reply's BND field:
                        ipv4 (default), ipv6 or domain
    split-bytes         send every reply one byte per send()

connects records every CONNECT request, whatever the answer; errors
records what a correct client never causes (a request that is not SOCKS5,
offers no "no authentication" method, is not a CONNECT, has an unknown
address type); unreachable records targets the proxy could not reach
(answered with reply 4 or 5).  Python 3 standard library only."""
import ipaddress
import re
import select
import socket
import struct
import threading
import time

STALL_MAX = 30.0


class ScriptError(ValueError):
    pass


def unescape(text):
    """\\r \\n \\t \\\\ and \\xNN in a directive's text -> bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "rnt\\":
                out += {"r": b"\r", "n": b"\n", "t": b"\t",
                        "\\": b"\\"}[nxt]
                i += 2
                continue
            if nxt == "x" and re.match(r"[0-9A-Fa-f]{2}", text[i + 2:i + 4]):
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
        out += ch.encode("utf-8")
        i += 1
    return bytes(out)


class Script:
    """The parsed directives (see the module's docstring)."""

    def __init__(self, lines=()):
        self.reply = 0
        self.method = None
        self.garbage = None
        self.stall = None
        self.names = {}
        self.bind_type = "ipv4"
        self.split = False
        for line in lines:
            self._parse(line.strip())

    def _parse(self, line):
        if not line or line.startswith("#"):
            return
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "reply" and rest.isdigit() and 0 < int(rest) < 256:
            self.reply = int(rest)
        elif word == "method" and rest.isdigit() and int(rest) < 256:
            self.method = int(rest)
        elif word == "garbage" and rest:
            self.garbage = unescape(rest)
        elif word == "stall" and rest in ("greeting", "connect"):
            self.stall = rest
        elif word == "map" and len(rest.split()) == 2:
            name, addr = rest.split()
            self.names[name.lower()] = addr
        elif word == "bind-type" and rest in ("ipv4", "ipv6", "domain"):
            self.bind_type = rest
        elif word == "split-bytes" and not rest:
            self.split = True
        else:
            raise ScriptError("bad proxy directive %r" % line)


class FakeSocks5:
    def __init__(self, host="127.0.0.1", script=None):
        self.script = script if isinstance(script, Script) \
            else Script(script or ())
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connects = []
        self.errors = []
        self.unreachable = []
        self.clients = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.sock.close()
        self.thread.join(5)

    def _serve(self):
        while not self.stopping.is_set():
            try:
                r, _, _ = select.select([self.sock], [], [], 0.2)
                if not r:
                    continue
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients += 1
            threading.Thread(target=self._client, args=(conn,),
                             daemon=True).start()

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError("client closed")
            data += chunk
        return data

    def _send(self, conn, data):
        if not self.script.split:
            conn.sendall(data)
            return
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            time.sleep(0.001)

    def _stall(self, conn):
        """Answer nothing until the client leaves (or STALL_MAX)."""
        end = time.monotonic() + STALL_MAX
        conn.setblocking(False)
        while time.monotonic() < end and not self.stopping.is_set():
            r, _, _ = select.select([conn], [], [], 0.1)
            if r:
                try:
                    if not conn.recv(4096):
                        return
                except OSError:
                    return

    def _greeting(self, conn):
        """The method negotiation; False when the script ends it here."""
        ver, nmethods = self._read(conn, 2)
        methods = self._read(conn, nmethods)
        if ver != 5 or 0 not in methods:
            conn.sendall(b"\x05\xff")
            raise ValueError("no acceptable method: version %d, methods %r"
                             % (ver, list(methods)))
        if self.script.stall == "greeting":
            self._stall(conn)
            return False
        if self.script.garbage is not None:
            self._send(conn, self.script.garbage)
            return False
        if self.script.method is not None:
            self._send(conn, bytes([5, self.script.method]))
            return False
        self._send(conn, b"\x05\x00")
        return True

    def _request(self, conn):
        """The CONNECT request -> (atyp, host, port)."""
        ver, cmd, _, atyp = self._read(conn, 4)
        if ver != 5 or cmd != 1:
            raise ValueError("not a SOCKS5 CONNECT: version %d, command %d"
                             % (ver, cmd))
        if atyp == 1:
            host, kind = str(ipaddress.IPv4Address(self._read(conn, 4))), "ipv4"
        elif atyp == 4:
            host, kind = str(ipaddress.IPv6Address(self._read(conn, 16))), "ipv6"
        elif atyp == 3:
            n = self._read(conn, 1)[0]
            host, kind = self._read(conn, n).decode("ascii", "replace"), "domain"
        else:
            raise ValueError("address type %d" % atyp)
        port = struct.unpack("!H", self._read(conn, 2))[0]
        return kind, host, port

    def _bound(self, sockname):
        """The BND.ADDR and BND.PORT of a success reply."""
        port = struct.pack("!H", sockname[1])
        if self.script.bind_type == "ipv6":
            return b"\x04" + b"\0" * 15 + b"\x01" + port
        if self.script.bind_type == "domain":
            name = b"relay.proxy.test"
            return b"\x03" + bytes([len(name)]) + name + port
        return b"\x01\x7f\x00\x00\x01" + port

    def _connect_target(self, host, port):
        """-> (socket or None, reply code)."""
        addr = self.script.names.get(host.lower(), host)
        try:
            return socket.create_connection((addr, port), timeout=10), 0
        except ConnectionRefusedError:
            code = 5
        except socket.gaierror:
            code = 4
        except OSError:
            code = 1
        self.unreachable.append("%s port %d" % (host, port))
        return None, code

    def _refuse(self, conn, code):
        try:
            self._send(conn, bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
        except OSError:
            pass

    def _client(self, conn):
        try:
            if not self._greeting(conn):
                conn.close()
                return
            kind, host, port = self._request(conn)
        except (OSError, EOFError):
            conn.close()
            return
        except ValueError as ex:
            self.errors.append(str(ex))
            conn.close()
            return
        self.connects.append((kind, host, port))
        if self.script.stall == "connect":
            self._stall(conn)
            conn.close()
            return
        if self.script.reply:
            self._refuse(conn, self.script.reply)
            conn.close()
            return
        target, code = self._connect_target(host, port)
        if target is None:
            self._refuse(conn, code)
            conn.close()
            return
        try:
            self._send(conn, b"\x05\x00\x00" +
                       self._bound(target.getsockname()))
        except OSError:
            conn.close()
            target.close()
            return
        self._relay(conn, target)

    @staticmethod
    def _relay(a, b):
        socks = [a, b]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            a.close()
            b.close()
