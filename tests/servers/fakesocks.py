#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fakesocks.py - a minimal SOCKS5 proxy for the tests (RFC 1928, no
authentication, CONNECT only) that records what each client asked for.

    proxy = FakeSocks5().start()      # 127.0.0.1, ephemeral port
    ... proxy.port ... proxy.connects  # [(atyp, host, port), ...]
    proxy.stop()

atyp is "domain", "ipv4" or "ipv6": a client that lets the proxy resolve
names (socks5h) sends "domain".  The proxy relays bytes both ways until
either side closes.  Python 3 standard library only."""
import ipaddress
import select
import socket
import struct
import threading


class FakeSocks5:
    def __init__(self, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connects = []
        self.errors = []
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

    def _request(self, conn):
        """The greeting and the CONNECT request -> (atyp, host, port)."""
        ver, nmethods = self._read(conn, 2)
        methods = self._read(conn, nmethods)
        if ver != 5 or 0 not in methods:
            conn.sendall(b"\x05\xff")
            raise ValueError("no acceptable method")
        conn.sendall(b"\x05\x00")
        ver, cmd, _, atyp = self._read(conn, 4)
        if ver != 5 or cmd != 1:
            raise ValueError("not a CONNECT")
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

    def _client(self, conn):
        try:
            kind, host, port = self._request(conn)
            self.connects.append((kind, host, port))
            target = socket.create_connection((host, port), timeout=10)
        except (OSError, ValueError, EOFError) as ex:
            self.errors.append(str(ex))
            try:
                conn.sendall(b"\x05\x01\x00\x01\0\0\0\0\0\0")
            except OSError:
                pass
            conn.close()
            return
        conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" +
                     struct.pack("!H", target.getsockname()[1]))
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
