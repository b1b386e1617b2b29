#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fakeoauth - a fake OAuth2 provider over HTTPS on loopback, for tests.

Contract: FakeOAuthProvider(pki_dir, **options) serves, on 127.0.0.1 and an
ephemeral port, with pki_dir/good.pem (tests/servers/mkpki.sh), the three
endpoints an SMTP client needs for built-in OAuth2:

    POST /devicecode   RFC 8628 device authorization request
    POST /token        RFC 6749 token endpoint: device_code (RFC 8628),
                       authorization_code with PKCE S256 (RFC 7636),
                       refresh_token (rotating by default)
    GET  /authorize    RFC 6749 authorization endpoint; answers at once with
                       a 302 to the loopback redirect_uri (RFC 8252), as if
                       the user had consented

and the same three as /TENANT/oauth2/v2.0/{devicecode,token,authorize} for
any TENANT (the Microsoft identity platform's path shape).

Everything a client sends is recorded (.requests).  Whatever a correct
client must never do (poll faster than the interval, redeem a code with the
wrong PKCE verifier or redirect_uri, reuse a rotated refresh token, send a
form twice with the same parameter, ...) is answered the way a real
provider answers and also appended to .violations, a list of strings that
tests assert stays empty.  Tokens are never written to stdout or stderr:
the callers grep those streams for tokens.

The access tokens the provider considers valid are also written, one per
line, to .token_file (replaced atomically at every change) so that
fakesmtp's `auth-token-file` directive can accept exactly those tokens.

Python 3 standard library only; importable (tests `import fakeoauth`) and
runnable by hand: python3 fakeoauth.py --help.
"""

import argparse
import base64
import hashlib
import html
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5          # RFC 8628 3.5: slow_down adds 5 seconds
PACE_SLACK = 0.1            # seconds of tolerance when judging poll gaps
HANDLER_TIMEOUT = 10.0      # an idle keep-alive connection is dropped
BODY_MAX = 1024 * 1024      # largest request body read
EXPIRED_REFRESH = ("AADSTS700082: The refresh token has expired due to "
                   "inactivity.")
TERMINAL_POLL_ERRORS = ("access_denied", "expired_token")
ENDPOINTS = ("devicecode", "token", "authorize")
TENANT_PATH_RE = re.compile(r"/([^/]+)/oauth2/v2\.0/(devicecode|token|"
                            r"authorize)")
PKCE_RE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
CHALLENGE_RE = re.compile(r"[A-Za-z0-9_-]{43}")
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


def pkce_challenge(verifier):
    """RFC 7636 4.2 S256: BASE64URL(SHA256(ASCII(verifier))), no padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def client_ssl_context(pki_dir):
    """An SSL client context that trusts only the test CA (for tests that
    talk to the provider themselves)."""
    ctx = ssl.create_default_context(cafile=os.path.join(pki_dir, "ca.pem"))
    return ctx


def _random_token(size):
    """A URL-safe random string of exactly `size` characters."""
    text = ""
    while len(text) < size:
        text += secrets.token_urlsafe(size)
    return text[:size]


def _user_code():
    """An RFC 8628 6.1 style user code: 8 consonants, e.g. WDJB-MJHT."""
    chars = [secrets.choice(USER_CODE_ALPHABET) for _ in range(8)]
    return "".join(chars[:4]) + "-" + "".join(chars[4:])


class _DeviceCode:
    """State of one device authorization (RFC 8628)."""

    def __init__(self, client_id, scope, interval, expires_in, now):
        self.client_id = client_id
        self.scope = scope
        self.interval = interval
        self.issued = now
        self.expires = now + expires_in
        self.last_poll = None
        self.finished = None        # None, "ok" or a terminal error


class _AuthCode:
    """State of one authorization code issued by /authorize."""

    def __init__(self, client_id, redirect_uri, challenge, scope):
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.challenge = challenge
        self.scope = scope
        self.redeemed = False


class _Reply:
    """An HTTP answer built by an endpoint, sent by the handler."""

    def __init__(self, status, body=b"", ctype="application/json",
                 headers=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = headers or {}

    @classmethod
    def json(cls, status, obj):
        return cls(status, json.dumps(obj).encode("utf-8"),
                   headers={"Cache-Control": "no-store",
                            "Pragma": "no-cache"})

    @classmethod
    def error(cls, status, code, description=None):
        obj = {"error": code}
        if description:
            obj["error_description"] = description
        return cls.json(status, obj)

    @classmethod
    def page(cls, status, text):
        body = ("<!DOCTYPE html><html><head><title>fakeoauth</title></head>"
                "<body><p>%s</p></body></html>\n" % html.escape(text))
        return cls(status, body.encode("utf-8"), "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location):
        reply = cls.page(302, "Redirecting.")
        reply.headers["Location"] = location
        return reply


class _Handler(http.server.BaseHTTPRequestHandler):
    """Parses one request, records it, lets the provider answer it."""

    protocol_version = "HTTP/1.1"
    server_version = "fakeoauth/1"
    timeout = HANDLER_TIMEOUT

    def log_message(self, fmt, *args):
        """Silence: request lines may carry codes; never print them."""

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_HEAD(self):
        self._serve("HEAD")

    def _read_body(self):
        """The request body (Content-Length or chunked), at most BODY_MAX."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = 0
        return self.rfile.read(max(0, min(length, BODY_MAX)))

    def _read_chunked(self):
        body = bytearray()
        while len(body) <= BODY_MAX:
            size_line = self.rfile.readline(100).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                break
            if size == 0:
                while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += self.rfile.read(size)
            self.rfile.readline(10)
        return bytes(body)

    def _serve(self, method):
        split = urllib.parse.urlsplit(self.path)
        body = self._read_body() if method in ("POST", "PUT") else b""
        provider = self.server.provider
        try:
            reply = provider._dispatch(
                method, split.path, split.query,
                {k.lower(): v for k, v in self.headers.items()}, body)
        except Exception as ex:     # a provider bug: answer, record, go on
            provider._note_error("%s %s: %s: %s" % (
                method, split.path, type(ex).__name__, ex))
            reply = _Reply.page(500, "fakeoauth crashed; see .errors")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.ctype)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(reply.body)


class _TLSServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server whose TLS handshake runs in the request's
    own thread, so a stuck client never blocks accept()."""

    daemon_threads = True

    def __init__(self, address, provider, context):
        self.provider = provider
        self.context = context
        self.open_sockets = set()
        self.open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        request.settimeout(HANDLER_TIMEOUT)
        with self.open_lock:
            self.open_sockets.add(request)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
            with self.open_lock:
                self.open_sockets.discard(request)
                self.open_sockets.add(tls)
            try:
                self.RequestHandlerClass(tls, client_address, self)
            finally:
                with self.open_lock:
                    self.open_sockets.discard(tls)
                tls.close()
        finally:
            with self.open_lock:
                self.open_sockets.discard(request)

    def close_connections(self):
        """Hang up on kept-alive clients so that a stopped provider is
        really gone (a client reusing a connection must not be served)."""
        with self.open_lock:
            socks = list(self.open_sockets)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Record instead of printing a traceback (it could hold tokens)."""
        ex = sys.exc_info()[1]
        self.provider._note_error("%s: %s" % (type(ex).__name__, ex))


class FakeOAuthProvider:
    """The fake provider; see the module comment and tests/servers/README.

    Options (keyword arguments, all optional):
      host, port             where to listen (127.0.0.1, 0 = ephemeral)
      cert                   certificate name in pki_dir (default "good")
      client_id              if set, every request must carry exactly this
                             client_id (else 401 invalid_client / 400 page)
      client_secret          if set, every /token request must carry it as
                             the form field client_secret (else 401
                             invalid_client)
      device_interval        /devicecode "interval" (default 1)
      device_expires_in      /devicecode "expires_in" (default 60)
      verification_uri       default url("device")
      device_polls           script of answers to device-code polls, one
                             consumed per poll, the last one repeating:
                             "ok" issues tokens, anything else is 400
                             {"error": ITEM} (default ["ok"])
      pace_first_poll        the first poll must also wait `interval` after
                             the device code was issued (default True)
      refresh_behaviour      "ok" | "invalid_grant" | "server_error" (500
                             with an HTML body) | any error code (400) | a
                             list of those, one consumed per refresh, the
                             last one repeating (default "ok")
      rotate                 every refresh issues a new refresh token and
                             the old one stops working (default True);
                             False: the refresh answer has no
                             refresh_token (Google's way) and the current
                             one stays valid
      access_token_size      characters per access token (default 1500)
      expires_in             "expires_in" of issued tokens (default 3600)
      token_file             where valid access tokens go (default a new
                             temp file, removed by stop())
      authorize_error        /authorize redirects with ?error=THIS instead
                             of a code (e.g. "access_denied")
      authorize_state        /authorize returns this state instead of the
                             client's (to test the client's state check)
    """

    DEFAULTS = {
        "host": "127.0.0.1", "port": 0, "cert": "good",
        "client_id": None, "client_secret": None,
        "device_interval": 1, "device_expires_in": 60,
        "verification_uri": None, "device_polls": ("ok",),
        "pace_first_poll": True,
        "refresh_behaviour": "ok", "rotate": True,
        "access_token_size": 1500, "expires_in": 3600,
        "token_file": None, "authorize_error": None,
        "authorize_state": None,
    }

    def __init__(self, pki_dir, **options):
        unknown = set(options) - set(self.DEFAULTS)
        if unknown:
            raise TypeError("unknown FakeOAuthProvider option(s): %s"
                            % ", ".join(sorted(unknown)))
        self.pki_dir = pki_dir
        self.options = dict(self.DEFAULTS)
        self.options.update(options)
        self._lock = threading.RLock()
        self.requests = []          # dicts, see _record
        self.violations = []        # client misbehaviour (strings)
        self.errors = []            # server-side problems (handshakes...)
        self.issued_access = []     # access tokens issued by /token, in order
        self.access_expires = {}    # access token -> epoch seconds of expiry
        self.current_refresh = None
        self.refresh_count = 0
        self._valid_access = []     # what the SMTP server accepts
        self._refresh_info = {}     # current refresh token -> (client, scope)
        self._old_refresh = set()   # refresh tokens rotated away
        self._devices = {}          # device_code -> _DeviceCode
        self._codes = {}            # authorization code -> _AuthCode
        self._device_script = self._as_list(self.options["device_polls"])
        self._refresh_script = self._as_list(
            self.options["refresh_behaviour"])
        if not self._device_script or not self._refresh_script:
            raise ValueError("device_polls and refresh_behaviour must not "
                             "be empty")
        self._own_token_file = self.options["token_file"] is None
        if self._own_token_file:
            fd, path = tempfile.mkstemp(prefix="fakeoauth-", suffix=".tokens")
            os.close(fd)
            self.token_file = path
        else:
            self.token_file = self.options["token_file"]
        self._write_token_file()
        self._httpd = None
        self._thread = None
        self.port = None

    @staticmethod
    def _as_list(value):
        return [value] if isinstance(value, str) else list(value)

    # ---- life cycle ---------------------------------------------------

    def start(self):
        """Listen and serve in one background thread; returns self."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        name = self.options["cert"]
        ctx.load_cert_chain(os.path.join(self.pki_dir, name + ".pem"),
                            os.path.join(self.pki_dir, name + ".key"))
        self._httpd = _TLSServer((self.options["host"], self.options["port"]),
                                 self, ctx)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving; remove the token file if the provider made it."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None
        if self._own_token_file:
            for path in (self.token_file, self.token_file + ".tmp"):
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, path=""):
        """https://127.0.0.1:PORT/path (a leading "/" is optional)."""
        return "https://%s:%d/%s" % (self.options["host"], self.port,
                                     path.lstrip("/"))

    def ssl_context(self):
        """A client context trusting the test CA."""
        return client_ssl_context(self.pki_dir)

    # ---- what tests look at and set ------------------------------------

    def requests_to(self, path_suffix):
        """The recorded requests whose path ends with path_suffix."""
        with self._lock:
            return [r for r in self.requests
                    if r["path"].endswith(path_suffix)]

    def seed(self, refresh_token=None, access_token=None, expires_in=None,
             client_id=None, scope=""):
        """Make the given tokens current without a login (a test writes
        the same tokens into the client's token store).  A seeded refresh
        token replaces the current one; a seeded access token becomes valid
        at the SMTP server.  client_id None: any client may refresh."""
        with self._lock:
            if refresh_token is not None:
                self._set_refresh(refresh_token, client_id, scope)
            if access_token is not None:
                life = (self.options["expires_in"] if expires_in is None
                        else expires_in)
                self.access_expires[access_token] = time.time() + life
                self._valid_access.append(access_token)
                self._write_token_file()

    def revoke_access_tokens(self):
        """Forget every valid access token: the token file becomes empty,
        so the SMTP server refuses tokens the client still believes valid.
        Refresh tokens keep working."""
        with self._lock:
            self._valid_access = []
            self._write_token_file()

    def valid_access_tokens(self):
        with self._lock:
            return list(self._valid_access)

    # ---- internals: state ---------------------------------------------

    def _note_error(self, text):
        with self._lock:
            self.errors.append(text)

    def _violation(self, text):
        self.violations.append(text)

    def _write_token_file(self):
        """Atomically replace the token file (temp file + rename)."""
        tmp = self.token_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join(t + "\n" for t in self._valid_access))
        os.replace(tmp, self.token_file)

    def _set_refresh(self, token, client_id, scope):
        if self.current_refresh is not None:
            self._old_refresh.add(self.current_refresh)
            self._refresh_info.pop(self.current_refresh, None)
        self.current_refresh = token
        self._refresh_info[token] = (client_id, scope)

    def _issue(self, client_id, scope, new_refresh=True):
        """Issue tokens; the answer of a successful /token request."""
        access = _random_token(int(self.options["access_token_size"]))
        life = int(self.options["expires_in"])
        self.issued_access.append(access)
        self.access_expires[access] = time.time() + life
        self._valid_access.append(access)
        self._write_token_file()
        answer = {"access_token": access, "token_type": "Bearer",
                  "expires_in": life, "scope": scope}
        if new_refresh:
            refresh = "rt-" + _random_token(64)
            self._set_refresh(refresh, client_id, scope)
            answer["refresh_token"] = refresh
        return _Reply.json(200, answer)

    @staticmethod
    def _next(script):
        """Consume one item of a script; the last one repeats."""
        return script.pop(0) if len(script) > 1 else script[0]

    # ---- internals: dispatch ------------------------------------------

    def _dispatch(self, method, path, query, headers, body):
        """Record a request and route it to its endpoint."""
        with self._lock:
            rec = self._record(method, path, query, headers, body)
            reply = self._route(method, path, rec, headers)
            rec["status"] = reply.status
            return reply

    def _record(self, method, path, query, headers, body):
        raw = query if method == "GET" else body.decode("utf-8", "replace")
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True)
        params = {}
        for name, value in pairs:
            if name in params:
                self._violation("%s %s: parameter %r sent twice (RFC 6749 "
                                "3.1)" % (method, path, name))
            params[name] = value
        m = TENANT_PATH_RE.fullmatch(path)
        rec = {"time": time.monotonic(), "method": method, "path": path,
               "headers": headers, "params": params,
               "tenant": m.group(1) if m else None, "status": None}
        self.requests.append(rec)
        return rec

    def _route(self, method, path, rec, headers):
        m = TENANT_PATH_RE.fullmatch(path)
        endpoint = m.group(2) if m else path.lstrip("/")
        if endpoint not in ENDPOINTS:
            return _Reply.error(404, "not_found")
        want = "GET" if endpoint == "authorize" else "POST"
        if method != want:
            self._violation("%s %s (the endpoint takes %s)"
                            % (method, path, want))
            return _Reply(405, b"", headers={"Allow": want})
        if want == "POST" and not self._form_type_ok(headers, path):
            return _Reply.error(400, "invalid_request",
                                "expected application/x-www-form-urlencoded")
        handler = getattr(self, "_ep_" + endpoint)
        return handler(rec["params"], rec)

    def _form_type_ok(self, headers, path):
        ctype = headers.get("content-type", "").split(";")[0].strip()
        if ctype.lower() != "application/x-www-form-urlencoded":
            self._violation("POST %s with Content-Type %r" % (path, ctype))
            return False
        return True

    def _client_ok(self, params, where):
        """client_id present (RFC 6749 public clients) and, if configured,
        the expected one."""
        cid = params.get("client_id")
        if not cid:
            self._violation("%s without client_id" % where)
            return False
        want = self.options["client_id"]
        return want is None or cid == want

    # ---- /devicecode ----------------------------------------------------

    def _ep_devicecode(self, params, rec):
        if not self._client_ok(params, "/devicecode"):
            return _Reply.error(401, "invalid_client")
        if not params.get("scope"):
            self._violation("/devicecode without scope")
        code = "dc-" + secrets.token_urlsafe(32)
        interval = int(self.options["device_interval"])
        expires = int(self.options["device_expires_in"])
        self._devices[code] = _DeviceCode(params["client_id"],
                                          params.get("scope", ""), interval,
                                          expires, rec["time"])
        uri = self.options["verification_uri"] or self.url("device")
        user_code = _user_code()
        return _Reply.json(200, {
            "device_code": code, "user_code": user_code,
            "verification_uri": uri, "expires_in": expires,
            "interval": interval,
            "message": "To sign in, use a web browser to open the page %s "
                       "and enter the code %s to authenticate."
                       % (uri, user_code)})

    # ---- /token ---------------------------------------------------------

    def _ep_token(self, params, rec):
        secret = self.options["client_secret"]
        if secret is not None and params.get("client_secret") != secret:
            return _Reply.error(401, "invalid_client",
                                "client_secret missing or wrong")
        if not self._client_ok(params, "/token"):
            return _Reply.error(401, "invalid_client")
        grant = params.get("grant_type", "")
        if grant == DEVICE_GRANT:
            return self._grant_device(params, rec)
        if grant == "authorization_code":
            return self._grant_code(params)
        if grant == "refresh_token":
            return self._grant_refresh(params)
        self._violation("/token with grant_type %r" % grant)
        return _Reply.error(400, "unsupported_grant_type")

    def _grant_device(self, params, rec):
        """RFC 8628 3.4/3.5: scripted answers, pacing enforced."""
        dev = self._devices.get(params.get("device_code", ""))
        if dev is None:
            self._violation("device poll with an unknown device_code")
            return _Reply.error(400, "invalid_grant")
        if params["client_id"] != dev.client_id:
            self._violation("device poll with client_id %r, the code was "
                            "issued to %r" % (params["client_id"],
                                              dev.client_id))
            return _Reply.error(400, "invalid_grant")
        if dev.finished is not None:
            self._violation("device poll after the flow ended (%s)"
                            % dev.finished)
            return _Reply.error(400, "invalid_grant" if dev.finished == "ok"
                                else dev.finished)
        self._check_pace(dev, rec["time"])
        dev.last_poll = rec["time"]
        if rec["time"] > dev.expires:
            dev.finished = "expired_token"
            return _Reply.error(400, "expired_token")
        item = self._next(self._device_script)
        if item == "ok":
            dev.finished = "ok"
            return self._issue(dev.client_id, dev.scope)
        if item == "slow_down":
            dev.interval += SLOW_DOWN_STEP
        if item in TERMINAL_POLL_ERRORS:
            dev.finished = item
        return _Reply.error(400, item)

    def _check_pace(self, dev, now):
        """RFC 8628 3.5: at least `interval` seconds between polls."""
        since = dev.last_poll
        if since is None and self.options["pace_first_poll"]:
            since = dev.issued
        if since is None:
            return
        gap = now - since
        if gap + PACE_SLACK < dev.interval:
            self._violation("device poll %.2f s after the %s, interval is "
                            "%d s" % (gap, "previous poll" if dev.last_poll
                                      is not None else "device code",
                                      dev.interval))

    def _grant_code(self, params):
        """RFC 6749 4.1.3 with RFC 7636 4.6 (S256)."""
        code = self._codes.get(params.get("code", ""))
        problem = self._code_problem(code, params)
        if code is not None:
            code.redeemed = True
        if problem:
            self._violation("authorization_code grant: " + problem)
            return _Reply.error(400, "invalid_grant")
        return self._issue(code.client_id, code.scope)

    @staticmethod
    def _code_problem(code, params):
        """Why this redemption is wrong, or None."""
        if code is None:
            return "unknown code"
        if code.redeemed:
            return "code already redeemed"
        if params.get("redirect_uri") != code.redirect_uri:
            return "redirect_uri %r differs from %r" % (
                params.get("redirect_uri"), code.redirect_uri)
        if params["client_id"] != code.client_id:
            return "client_id differs from the one at /authorize"
        verifier = params.get("code_verifier", "")
        if not PKCE_RE.fullmatch(verifier):
            return "code_verifier missing or malformed (RFC 7636 4.1)"
        if pkce_challenge(verifier) != code.challenge:
            return "code_verifier does not match the code_challenge"
        return None

    def _grant_refresh(self, params):
        behaviour = self._next(self._refresh_script)
        if behaviour == "server_error":
            return _Reply.page(500, "Internal server error (fakeoauth "
                                    "refresh_behaviour server_error).")
        if behaviour == "invalid_grant":
            return _Reply.error(400, "invalid_grant", EXPIRED_REFRESH)
        if behaviour != "ok":
            return _Reply.error(400, behaviour)
        token = params.get("refresh_token", "")
        if token != self.current_refresh or token not in self._refresh_info:
            if token in self._old_refresh:
                self._violation("refresh with a refresh token that was "
                                "rotated away (keep the newest)")
            return _Reply.error(400, "invalid_grant", EXPIRED_REFRESH)
        client_id, scope = self._refresh_info[token]
        if client_id is not None and params["client_id"] != client_id:
            self._violation("refresh with client_id %r, the token belongs "
                            "to %r" % (params["client_id"], client_id))
            return _Reply.error(400, "invalid_grant")
        self.refresh_count += 1
        scope = params.get("scope") or scope
        return self._issue(client_id or params["client_id"], scope,
                           new_refresh=bool(self.options["rotate"]))

    # ---- /authorize -----------------------------------------------------

    def _ep_authorize(self, params, rec):
        redirect = params.get("redirect_uri", "")
        if not redirect.startswith("http://127.0.0.1:"):
            self._violation("/authorize with redirect_uri %r (RFC 8252 7.3: "
                            "http://127.0.0.1:PORT)" % redirect)
            return _Reply.page(400, "Invalid redirect_uri.")
        if not self._client_ok(params, "/authorize"):
            return _Reply.page(400, "Unknown client_id.")
        state = params.get("state")
        if not state:
            self._violation("/authorize without state (RFC 8252 8.9)")
        problem = self._authorize_problem(params)
        if problem:
            self._violation("/authorize: " + problem[1])
            return _Reply.redirect(self._location(redirect, "error",
                                                  problem[0], state))
        if self.options["authorize_error"]:
            return _Reply.redirect(self._location(
                redirect, "error", self.options["authorize_error"], state))
        code = "ac-" + secrets.token_urlsafe(32)
        self._codes[code] = _AuthCode(params["client_id"], redirect,
                                      params["code_challenge"],
                                      params.get("scope", ""))
        return _Reply.redirect(self._location(redirect, "code", code, state))

    @staticmethod
    def _authorize_problem(params):
        """(error code, explanation) for a bad request, or None."""
        if params.get("response_type") != "code":
            return ("unsupported_response_type",
                    "response_type %r" % params.get("response_type"))
        if params.get("code_challenge_method") != "S256":
            return ("invalid_request", "code_challenge_method %r (S256 "
                    "required)" % params.get("code_challenge_method"))
        if not CHALLENGE_RE.fullmatch(params.get("code_challenge", "")):
            return ("invalid_request", "code_challenge missing or not "
                    "43 base64url characters")
        return None

    def _location(self, redirect, key, value, state):
        forced = self.options["authorize_state"]
        pairs = [(key, value)]
        if forced is not None:
            pairs.append(("state", forced))
        elif state:
            pairs.append(("state", state))
        sep = "&" if "?" in redirect else "?"
        return redirect + sep + urllib.parse.urlencode(pairs)

    # ---- acting as the user's browser -----------------------------------

    def browse(self, authorize_url, follow=True, timeout=10.0):
        """Do what the user's browser would: GET authorize_url (only its
        path and query are used, so any host works) from this provider and,
        if follow, GET the redirect's target (the client's loopback
        listener).  Returns (location, status, body) - status and body of
        the loopback answer, or (location, None, None) without follow."""
        split = urllib.parse.urlsplit(authorize_url)
        url = self.url(split.path + ("?" + split.query if split.query
                                     else ""))
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=self.ssl_context()),
            _NoRedirect())
        try:
            resp = opener.open(url, timeout=timeout)
            status, headers = resp.status, resp.headers
            resp.read()
        except urllib.error.HTTPError as ex:
            status, headers = ex.code, ex.headers
        location = headers.get("Location")
        if status != 302 or not follow or not location:
            return location, None, None
        return (location,) + _plain_get(location, timeout)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand 3xx answers back instead of following them."""

    def redirect_request(self, *args, **kwargs):
        return None


def _plain_get(url, timeout):
    """GET a plain-HTTP loopback URL: (status, body bytes)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         _NoRedirect())
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as ex:
        return ex.code, ex.read()


def make_pki(directory):
    """Run tests/servers/mkpki.sh into directory; returns it (raises
    RuntimeError when certtool is missing or the script fails)."""
    script = os.path.join(HERE, "mkpki.sh")
    res = subprocess.run(["sh", script, directory], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=False)
    if res.returncode != 0:
        raise RuntimeError("mkpki.sh failed (%d): %s"
                           % (res.returncode, res.stderr.decode().strip()))
    return directory


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Fake OAuth2 provider over HTTPS on loopback (prints "
                    "endpoints and a line per request, never tokens).")
    ap.add_argument("--pki", help="test PKI directory (default: make one "
                    "with mkpki.sh in a temp dir)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--client-id")
    ap.add_argument("--client-secret")
    ap.add_argument("--device-interval", type=int, default=1)
    ap.add_argument("--device-polls", default="ok",
                    help="comma list, e.g. authorization_pending,ok")
    ap.add_argument("--refresh-behaviour", default="ok",
                    help="comma list of ok, invalid_grant, server_error...")
    ap.add_argument("--no-rotate", action="store_true")
    ap.add_argument("--access-token-size", type=int, default=1500)
    ap.add_argument("--expires-in", type=int, default=3600)
    ap.add_argument("--token-file")
    ap.add_argument("--authorize-error")
    args = ap.parse_args(argv)

    tmp = None
    pki = args.pki
    if pki is None:
        tmp = tempfile.mkdtemp(prefix="fakeoauth-pki-")
        pki = make_pki(tmp)
    provider = FakeOAuthProvider(
        pki, port=args.port, client_id=args.client_id,
        client_secret=args.client_secret,
        device_interval=args.device_interval,
        device_polls=args.device_polls.split(","),
        refresh_behaviour=args.refresh_behaviour.split(","),
        rotate=not args.no_rotate, access_token_size=args.access_token_size,
        expires_in=args.expires_in, token_file=args.token_file,
        authorize_error=args.authorize_error).start()
    err = sys.stderr
    print("fakeoauth listening on %s" % provider.url(), file=err)
    for name in ENDPOINTS:
        print("  %s  (or %s)" % (provider.url(name),
                                 provider.url("common/oauth2/v2.0/" + name)),
              file=err)
    print("  CA: %s\n  token file: %s" % (os.path.join(pki, "ca.pem"),
                                         provider.token_file), file=err)
    err.flush()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    shown = (0, 0)
    try:
        while not done.wait(0.2):
            shown = _show_new(provider, shown, err)
    except KeyboardInterrupt:
        pass
    provider.stop()
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _show_new(provider, shown, out):
    """Print the requests (method, path, grant, status) and violations
    that arrived since the last call; never parameter values."""
    with provider._lock:
        new = provider.requests[shown[0]:]
        lines = ["%s %s%s -> %s" % (r["method"], r["path"],
                                    " (%s)" % r["params"]["grant_type"]
                                    if "grant_type" in r["params"] else "",
                                    r["status"]) for r in new]
        lines += ["VIOLATION: " + v for v in provider.violations[shown[1]:]]
        seen = (len(provider.requests), len(provider.violations))
    for line in lines:
        print(line, file=out, flush=True)
    return seen


if __name__ == "__main__":
    sys.exit(main())
