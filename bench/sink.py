#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A minimal SMTP sink for benchmarks: accepts every message and throws the
body away while counting its bytes, so the server's memory stays flat and
only the client is measured.  Prints its port on stdout, then serves until
killed.  Loopback only."""
import socket
import sys
import threading


def serve(conn):
    f = conn.makefile("rb")
    conn.sendall(b"220 sink ESMTP\r\n")
    in_data = False
    size = 0
    while True:
        line = f.readline(1 << 20)
        if not line:
            break
        if in_data:
            if line == b".\r\n":
                in_data = False
                conn.sendall(b"250 2.0.0 Ok: %d bytes\r\n" % size)
                size = 0
            else:
                size += len(line)
            continue
        verb = line[:4].upper()
        if verb == b"EHLO":
            conn.sendall(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            in_data = True
            conn.sendall(b"354 go\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            break
        else:
            conn.sendall(b"250 ok\r\n")
    conn.close()


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    print(s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        # like real servers, answer without a Nagle delay
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
