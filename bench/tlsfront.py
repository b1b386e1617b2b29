#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tlsfront.py CERT KEY BACKEND_PORT - an implicit-TLS front (port 465
style) for benchmarks: accepts TLS on 127.0.0.1 (TLS 1.3 session tickets
on, so clients can resume), and relays the plaintext both ways to the sink
on BACKEND_PORT.  Prints its port on stdout, then serves until killed.
Loopback only.  Python's relay caps bulk throughput (bench.py says so);
it is meant for the handshake cost of one message per process."""
import socket
import ssl
import sys
import threading

BLOCK = 256 * 1024


def tlsfront_pump(src, dst):
    try:
        while True:
            data = src.recv(BLOCK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def tlsfront_serve(ctx, conn, backend):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        up = socket.create_connection(("127.0.0.1", backend))
    except (OSError, ssl.SSLError):
        conn.close()
        return
    for s in (tls, up):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = threading.Thread(target=tlsfront_pump, args=(up, tls), daemon=True)
    t.start()
    tlsfront_pump(tls, up)
    t.join()
    tls.close()
    up.close()


def main():
    cert, key, backend = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=tlsfront_serve, args=(ctx, c, backend),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
