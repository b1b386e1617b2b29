#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fakehttps - a scripted HTTPS server on loopback, for tests that point
every HTTPS host of a client at one address (msmtp's MSMTP_TEST_HTTPS).

Contract: FakeHTTPS(cert, key, routes).start() serves on 127.0.0.1 and an
ephemeral port (.port) with the certificate chain `cert` (PEM, leaf
first) and key `key`.  routes maps (host, path) - the Host header without
a port, the path without the query - to (status, body bytes[, headers]);
anything else is a 404.  A header "X-Chunked" is not sent: the body goes
out chunked, without Content-Length.  Every request is recorded in .requests as a dict
with sni (the TLS server name), host, path, query and method.

make_cert(pki_dir, names, out_dir) writes out_dir/site.pem and site.key:
a certificate for the DNS names `names`, signed by the test CA of
tests/servers/mkpki.sh in pki_dir (ca.pem, ca.key), with certtool.

Python 3 standard library only (certtool from gnutls-bin for make_cert).
"""
import http.server
import os
import ssl
import subprocess
import threading


def make_cert(pki_dir, names, out_dir):
    """(cert path, key path) for `names`, signed by the test CA."""
    key = os.path.join(out_dir, "site.key")
    pem = os.path.join(out_dir, "site.pem")
    tmpl = os.path.join(out_dir, "site.tmpl")
    with open(tmpl, "w") as f:
        f.write('cn = "%s"\n' % names[0])
        for n in names:
            f.write('dns_name = "%s"\n' % n)
        f.write("tls_www_server\nencryption_key\nsigning_key\n"
                "expiration_days = 30\n")
    subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa",
                    "--outfile", key], check=True, capture_output=True)
    subprocess.run(["certtool", "--generate-certificate", "--load-privkey",
                    key, "--load-ca-certificate",
                    os.path.join(pki_dir, "ca.pem"), "--load-ca-privkey",
                    os.path.join(pki_dir, "ca.key"), "--template", tmpl,
                    "--outfile", pem], check=True, capture_output=True)
    return pem, key


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        srv = self.server.owner
        path, _, query = self.path.partition("?")
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        srv.requests.append({"sni": srv.last_sni, "host": host,
                             "path": path, "query": query,
                             "method": "GET"})
        route = srv.routes.get((host, path))
        if route is None:
            route = (404, b"not found\n")
        status, body = route[0], route[1]
        headers = dict(route[2]) if len(route) > 2 else {}
        chunked = headers.pop("X-Chunked", None)
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type",
                                                     "text/xml"))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not chunked:
            self.wfile.write(body)
            return
        for i in range(0, len(body), 4096):
            part = body[i:i + 4096]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")


class FakeHTTPS:
    def __init__(self, cert, key, routes):
        self.routes = dict(routes)
        self.requests = []
        self.last_sni = None
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.sni_callback = self._sni
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.httpd.socket = self.ctx.wrap_socket(self.httpd.socket,
                                                 server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = None

    def _sni(self, sslobj, name, ctx):
        self.last_sni = name
        return None

    def start(self):
        # a short poll: stop() is quick, and tests start many servers
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
