#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fakeoauth_selftest - checks the fake OAuth2 provider (fakeoauth.py) and
fakesmtp's `auth-token-file` directive against what a client sees.

usage: python3 tests/servers/fakeoauth_selftest.py [-v]

Makes a test PKI with mkpki.sh in a temp dir, starts providers on loopback
and talks to them with urllib (trusting only the test CA): the device flow
with authorization_pending, slow_down and a deliberately early poll, the
code flow with PKCE (right and wrong verifier), refresh with rotation,
invalid_grant, server_error, the client secret, the token file and revoke;
then fakesmtp with a small raw SMTP client (XOAUTH2 and OAUTHBEARER with a
listed token accepted, others refused with a 334 challenge and a 535).
Prints PASS/FAIL per check and "N passed, N failed"; exit 0 only if all
passed, 77 when certtool (mkpki.sh) is missing.  Takes about 10 s (the
device flow waits out real intervals).  Not part of make check.
"""

import base64
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import fakeoauth  # noqa: E402
import fakesmtp  # noqa: E402

CLIENT = "selftest-client"
SCOPE = "https://outlook.office.com/SMTP.Send offline_access"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnopqrstuvwxyz"


class Checks:
    """PASS/FAIL bookkeeping."""

    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, ": " + str(detail) if detail else ""),
                  flush=True)
        return ok


# ---------------------------------------------------------------- HTTP

def _opener(provider):
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=provider.ssl_context()),
        fakeoauth._NoRedirect())


def post(provider, path, form, ctype="application/x-www-form-urlencoded"):
    """POST a form; returns (status, parsed JSON or raw body, headers)."""
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(provider.url(path), data=data,
                                 headers={"Content-Type": ctype})
    return _fetch(provider, req)


def get(provider, path, query):
    url = provider.url(path) + "?" + urllib.parse.urlencode(query)
    return _fetch(provider, urllib.request.Request(url))


def _fetch(provider, req):
    try:
        resp = _opener(provider).open(req, timeout=10)
        status, body, headers = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as ex:
        status, body, headers = ex.code, ex.read(), ex.headers
    try:
        body = json.loads(body)
    except ValueError:
        pass
    return status, body, headers


def poll(provider, device_code, client_id=CLIENT):
    return post(provider, "token", {
        "grant_type": fakeoauth.DEVICE_GRANT, "device_code": device_code,
        "client_id": client_id})


def refresh(provider, token, client_id=CLIENT, **extra):
    form = {"grant_type": "refresh_token", "refresh_token": token,
            "client_id": client_id}
    form.update(extra)
    return post(provider, "token", form)


def token_file_lines(provider):
    with open(provider.token_file) as f:
        return f.read().splitlines()


# ---------------------------------------------------------------- device

def test_device_flow(c, pki):
    """pending, slow_down (+5 s), an early poll, ok; then a poll too many."""
    p = fakeoauth.FakeOAuthProvider(
        pki, client_id=CLIENT, device_polls=[
            "authorization_pending", "slow_down", "authorization_pending",
            "ok"]).start()
    try:
        st, dc, _ = post(p, "common/oauth2/v2.0/devicecode",
                         {"client_id": CLIENT, "scope": SCOPE})
        c.check("devicecode answers 200 with every field", st == 200 and
                set(dc) == {"device_code", "user_code", "verification_uri",
                            "expires_in", "interval", "message"} and
                dc["interval"] == 1 and dc["expires_in"] == 60, (st, dc))
        c.check("devicecode under /TENANT/oauth2/v2.0/ records the tenant",
                p.requests_to("/devicecode")[0]["tenant"] == "common")
        code = dc["device_code"]
        answers = []
        for wait in (1.05, 1.05, 1.05, 6.1):
            time.sleep(wait)
            st, body, _ = poll(p, code)
            answers.append((st, body.get("error") or "tokens"))
        c.check("polls answer pending, slow_down, pending, tokens",
                answers == [(400, "authorization_pending"),
                            (400, "slow_down"),
                            (400, "authorization_pending"), (200, "tokens")],
                answers)
        c.check("the early poll after slow_down is the only violation",
                len(p.violations) == 1 and "interval is 6 s"
                in p.violations[0], p.violations)
        c.check("device flow tokens: Bearer, 1500-char access token, "
                "refresh token, scope", body["token_type"] == "Bearer" and
                len(body["access_token"]) == 1500 and body["refresh_token"]
                and body["expires_in"] == 3600 and body["scope"] == SCOPE,
                {k: v for k, v in body.items() if k != "access_token"})
        c.check("issued_access and current_refresh follow",
                p.issued_access == [body["access_token"]] and
                p.current_refresh == body["refresh_token"])
        c.check("token file lists the access token",
                token_file_lines(p) == [body["access_token"]])
        st, body, _ = poll(p, code)
        c.check("a poll after the tokens: invalid_grant and a violation",
                st == 400 and body["error"] == "invalid_grant" and
                "after the flow ended" in p.violations[-1], (st, body))
    finally:
        p.stop()


def test_device_errors(c, pki):
    p = fakeoauth.FakeOAuthProvider(pki, device_polls=["access_denied"])
    p.start()
    try:
        _, dc, _ = post(p, "devicecode", {"client_id": CLIENT,
                                          "scope": SCOPE})
        st, body, _ = poll(p, dc["device_code"])
        c.check("an immediate first poll is a violation (pace_first_poll)",
                len(p.violations) == 1 and "after the device code" in
                p.violations[0], p.violations)
        c.check("access_denied from the script", st == 400 and
                body["error"] == "access_denied", (st, body))
        st, body, _ = poll(p, "dc-unknown")
        c.check("unknown device_code: invalid_grant and a violation",
                st == 400 and body["error"] == "invalid_grant" and
                "unknown device_code" in p.violations[-1], (st, body))
        _, dc, _ = post(p, "devicecode", {"client_id": CLIENT,
                                          "scope": SCOPE})
        time.sleep(1.05)
        st, body, _ = poll(p, dc["device_code"], client_id="other")
        c.check("poll with another client_id: invalid_grant, violation",
                st == 400 and "client_id" in p.violations[-1], (st, body))
        count = len(p.violations)
        st, body, _ = post(p, "devicecode", {"client_id": CLIENT},
                           ctype="application/json")
        c.check("a POST that is not a form: 400 and a violation",
                st == 400 and len(p.violations) == count + 1, (st, body))
        st, body, _ = get(p, "token", {})
        c.check("GET /token: 405 and a violation",
                st == 405 and "takes POST" in p.violations[-1], st)
    finally:
        p.stop()


# ---------------------------------------------------------------- code flow

class Loopback:
    """The client's redirect listener: remembers each query it got."""

    def __init__(self):
        queries = self.queries = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                queries.append(urllib.parse.parse_qs(
                    urllib.parse.urlsplit(self.path).query))
                body = b"You may close this window."
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.redirect = "http://127.0.0.1:%d/" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def authorize_query(redirect, verifier=VERIFIER, **change):
    query = {"response_type": "code", "client_id": CLIENT,
             "redirect_uri": redirect, "scope": SCOPE, "state": "st-123",
             "code_challenge": fakeoauth.pkce_challenge(verifier),
             "code_challenge_method": "S256"}
    query.update(change)
    return {k: v for k, v in query.items() if v is not None}


def redeem(p, code, redirect, verifier=VERIFIER):
    return post(p, "token", {"grant_type": "authorization_code",
                             "code": code, "redirect_uri": redirect,
                             "client_id": CLIENT, "code_verifier": verifier})


def test_code_flow(c, pki):
    lb = Loopback()
    p = fakeoauth.FakeOAuthProvider(pki, client_id=CLIENT).start()
    try:
        auth_url = ("https://login.example.invalid/consumers/oauth2/v2.0/"
                    "authorize?" + urllib.parse.urlencode(
                        authorize_query(lb.redirect)))
        location, status, body = p.browse(auth_url)
        q = lb.queries[-1] if lb.queries else {}
        c.check("browse(): 302 to the loopback with code and state",
                location.startswith(lb.redirect + "?code=") and
                status == 200 and q.get("state") == ["st-123"] and
                "code" in q, (location, status, q))
        code = q["code"][0]
        st, tok, _ = redeem(p, code, lb.redirect)
        c.check("code + right verifier: tokens", st == 200 and
                tok["access_token"] in token_file_lines(p), (st, tok))
        st, body, _ = redeem(p, code, lb.redirect)
        c.check("the same code again: invalid_grant, violation",
                st == 400 and body["error"] == "invalid_grant" and
                "already redeemed" in p.violations[-1], (st, body))
        n = len(p.violations)
        location, _, _ = p.browse(auth_url, follow=False)
        code = urllib.parse.parse_qs(
            urllib.parse.urlsplit(location).query)["code"][0]
        st, body, _ = redeem(p, code, lb.redirect,
                             verifier=VERIFIER.replace("v", "w"))
        c.check("code + wrong verifier: invalid_grant, violation",
                st == 400 and body["error"] == "invalid_grant" and
                len(p.violations) == n + 1 and
                "does not match" in p.violations[-1], (st, body))
        location, _, _ = p.browse(auth_url, follow=False)
        code = urllib.parse.parse_qs(
            urllib.parse.urlsplit(location).query)["code"][0]
        st, body, _ = redeem(p, code, lb.redirect + "x")
        c.check("code + another redirect_uri: invalid_grant, violation",
                st == 400 and "redirect_uri" in p.violations[-1], (st, body))
        st, body, hdr = get(p, "authorize", authorize_query(
            "http://localhost:1234/"))
        c.check("redirect_uri not http://127.0.0.1:PORT: 400, violation",
                st == 400 and "redirect_uri" in p.violations[-1], st)
        st, body, hdr = get(p, "authorize", authorize_query(
            lb.redirect + "cb?x=1", code_challenge_method=None))
        c.check("no code_challenge_method: error=invalid_request, violation",
                st == 302 and hdr["Location"].startswith(
                    lb.redirect + "cb?x=1&error=invalid_request&state=") and
                "S256" in p.violations[-1], (st, hdr.get("Location")))
    finally:
        p.stop()
        lb.stop()
    p = fakeoauth.FakeOAuthProvider(pki, authorize_error="access_denied")
    p.start()
    try:
        st, body, hdr = get(p, "authorize", authorize_query(
            "http://127.0.0.1:9/"))
        c.check("authorize_error: ?error=access_denied&state=...",
                st == 302 and hdr["Location"] ==
                "http://127.0.0.1:9/?error=access_denied&state=st-123" and
                not p.violations, (st, hdr.get("Location"), p.violations))
    finally:
        p.stop()


# ---------------------------------------------------------------- refresh

def test_refresh(c, pki):
    p = fakeoauth.FakeOAuthProvider(pki, access_token_size=40).start()
    try:
        p.seed(refresh_token="rt-seeded", access_token="at-seeded")
        c.check("seed() puts the access token in the token file",
                token_file_lines(p) == ["at-seeded"])
        st, one, _ = refresh(p, "rt-seeded")
        c.check("refresh with the seeded token: new tokens, rotated",
                st == 200 and one["refresh_token"] not in (None, "rt-seeded")
                and p.current_refresh == one["refresh_token"] and
                p.refresh_count == 1 and len(one["access_token"]) == 40,
                (st, one))
        st, body, _ = refresh(p, "rt-seeded")
        c.check("the rotated-away refresh token: invalid_grant AADSTS700082"
                " and a violation", st == 400 and
                body["error"] == "invalid_grant" and
                body["error_description"].startswith("AADSTS700082") and
                "rotated away" in p.violations[-1], (st, body))
        st, body, _ = refresh(p, "rt-never-issued")
        c.check("an unknown refresh token: invalid_grant, no violation",
                st == 400 and len(p.violations) == 1, (st, body))
        st, two, _ = refresh(p, one["refresh_token"])
        c.check("the newest refresh token works", st == 200 and
                p.refresh_count == 2, (st, two))
        c.check("token file: every valid access token, in order",
                token_file_lines(p) == ["at-seeded", one["access_token"],
                                        two["access_token"]] and
                not os.path.exists(p.token_file + ".tmp"))
        p.revoke_access_tokens()
        c.check("revoke_access_tokens() empties the token file",
                token_file_lines(p) == [] and
                os.path.getsize(p.token_file) == 0)
        st, three, _ = refresh(p, two["refresh_token"])
        c.check("refresh works after revoke; the file lists the new token",
                st == 200 and token_file_lines(p) == [three["access_token"]])
    finally:
        p.stop()
    c.check("stop() removes the provider's own token file",
            not os.path.exists(p.token_file))


def test_refresh_scripts(c, pki):
    p = fakeoauth.FakeOAuthProvider(
        pki, refresh_behaviour=["invalid_grant", "server_error", "ok"],
        rotate=False).start()
    try:
        p.seed(refresh_token="rt-a")
        st, body, _ = refresh(p, "rt-a")
        c.check("refresh_behaviour invalid_grant", st == 400 and
                body["error"] == "invalid_grant" and
                "AADSTS700082" in body["error_description"], (st, body))
        st, body, hdr = refresh(p, "rt-a")
        c.check("refresh_behaviour server_error: 500 with an HTML body",
                st == 500 and hdr["Content-Type"].startswith("text/html")
                and b"Internal server error" in body, (st, body))
        st, body, _ = refresh(p, "rt-a")
        st2, body2, _ = refresh(p, "rt-a")
        c.check("rotate=False: no refresh_token in the answer, the old one "
                "keeps working (last script item repeats)", st == 200 and
                st2 == 200 and "refresh_token" not in body and
                p.refresh_count == 2 and p.current_refresh == "rt-a",
                (st, st2, sorted(body)))
    finally:
        p.stop()
    p = fakeoauth.FakeOAuthProvider(pki, client_secret="s3cret").start()
    try:
        p.seed(refresh_token="rt-b")
        st, body, _ = refresh(p, "rt-b")
        c.check("client_secret set, none sent: 401 invalid_client",
                st == 401 and body["error"] == "invalid_client", (st, body))
        st, body, _ = refresh(p, "rt-b", client_secret="s3cret")
        c.check("client_secret sent: tokens", st == 200, (st, body))
        rec = p.requests_to("/token")[-1]
        c.check("requests record method, path, headers and form",
                rec["method"] == "POST" and rec["path"] == "/token" and
                rec["params"]["client_secret"] == "s3cret" and
                rec["headers"]["content-type"].startswith(
                    "application/x-www-form-urlencoded") and
                rec["status"] == 200 and len(p.requests_to("token")) == 2,
                rec)
        n = len(p.violations)
        current = p.current_refresh
        st, body, _ = post(p, "token", [
            ("grant_type", "refresh_token"), ("refresh_token", current),
            ("refresh_token", current), ("client_id", CLIENT),
            ("client_secret", "s3cret")])
        c.check("a parameter sent twice is a violation",
                len(p.violations) == n + 1 and "twice" in p.violations[-1],
                p.violations)
    finally:
        p.stop()


def test_stop_hangs_up(c, pki):
    """stop() also ends kept-alive connections."""
    p = fakeoauth.FakeOAuthProvider(pki).start()
    conn = http.client.HTTPSConnection("127.0.0.1", p.port, timeout=5,
                                       context=p.ssl_context())
    form = urllib.parse.urlencode({"client_id": CLIENT, "scope": SCOPE})
    hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        conn.request("POST", "/devicecode", form, hdrs)
        first = conn.getresponse()
        first.read()
        p.stop()
        try:
            conn.request("POST", "/devicecode", form, hdrs)
            second = conn.getresponse().status
        except (OSError, http.client.HTTPException) as ex:
            second = type(ex).__name__
        c.check("stop() hangs up on a kept-alive HTTP/1.1 connection",
                first.status == 200 and second != 200 and
                len(p.requests) == 1, (first.status, second))
    finally:
        conn.close()
        p.stop()


def test_main_is_quiet(c, pki):
    """The __main__ server prints requests but never a token."""
    tmp = tempfile.mkdtemp(prefix="fakeoauth-main-")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fakeoauth.py"), "--pki", pki,
         "--token-file", os.path.join(tmp, "tokens")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p = fakeoauth.FakeOAuthProvider(pki)     # only for url() and ssl
    try:
        first = proc.stderr.readline()
        p.port = int(first.rsplit(":", 1)[1].strip("/\n"))
        st, body, _ = post(p, "devicecode", {"client_id": CLIENT,
                                             "scope": SCOPE})
        time.sleep(1.05)
        st, tok, _ = poll(p, body["device_code"])
        time.sleep(0.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        p.stop()
    with open(os.path.join(tmp, "tokens")) as f:
        listed = f.read().split()
    shutil.rmtree(tmp, ignore_errors=True)
    c.check("python3 fakeoauth.py: serves, lists the token, prints no "
            "token", st == 200 and listed == [tok["access_token"]] and
            "(urn:ietf:params:oauth:grant-type:device_code) -> 200" in err
            and tok["access_token"] not in out + err and
            tok["refresh_token"] not in out + err, (st, err))


# ---------------------------------------------------------------- fakesmtp

def smtp_session(port, mech, payload, cancel):
    """AUTH with an initial response; after a 334, send the line `cancel`
    (XOAUTH2: empty; OAUTHBEARER: AQ==, base64 of ^A).  Returns the reply
    lines after AUTH (str)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = sock.makefile("rb")

    def reply():
        lines = []
        while True:
            line = f.readline().decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    reply()
    sock.sendall(b"EHLO selftest\r\n")
    reply()
    b64 = base64.b64encode(payload).decode()
    sock.sendall(("AUTH %s %s\r\n" % (mech, b64)).encode())
    got = reply()
    if got[-1].startswith("334"):
        sock.sendall(cancel + b"\r\n")
        got += reply()
    sock.sendall(b"QUIT\r\n")
    reply()
    sock.close()
    return got


def xoauth2(user, token):
    return b"user=%s\x01auth=Bearer %s\x01\x01" % (user.encode(),
                                                    token.encode())


def oauthbearer(user, token, port):
    return (b"n,a=%s,\x01host=127.0.0.1\x01port=%d\x01auth=Bearer %s"
            b"\x01\x01" % (user.encode(), port, token.encode()))


def test_fakesmtp(c, pki):
    p = fakeoauth.FakeOAuthProvider(pki).start()
    user = "alice@example.test"
    script = fakesmtp.Script([
        "caps AUTH XOAUTH2 OAUTHBEARER", "auth-user %s unused" % user,
        "auth-token-file %s" % p.token_file, "connections 6"])
    srv = fakesmtp.FakeSMTPServer(script).start()
    try:
        p.seed(access_token="at-one")
        p.seed(access_token="at-" + "x" * 2000)
        got = smtp_session(srv.port, "XOAUTH2", xoauth2(user, "at-one"),
                           b"")
        c.check("XOAUTH2 with a listed token: 235", got == [
            "235 2.7.0 Authentication successful"], got)
        got = smtp_session(srv.port, "XOAUTH2",
                           xoauth2(user, "at-" + "x" * 2000), b"")
        c.check("XOAUTH2 with a long listed token: 235",
                got[-1].startswith("235"), got)
        got = smtp_session(srv.port, "XOAUTH2", xoauth2(user, "at-two"),
                           b"")
        challenge = json.loads(base64.b64decode(got[0][4:])) \
            if got[0].startswith("334 ") else None
        c.check("XOAUTH2 with an unlisted token: 334 JSON, then 535 5.7.8",
                challenge is not None and challenge["status"] == "401" and
                challenge["schemes"] == "bearer" and "scope" in challenge
                and got[-1].startswith("535 5.7.8"), got)
        got = smtp_session(srv.port, "XOAUTH2",
                           xoauth2("mallory@example.test", "at-one"), b"")
        c.check("XOAUTH2 with another user name: refused",
                got[0].startswith("334") and got[-1].startswith("535"), got)
        p.revoke_access_tokens()
        got = smtp_session(srv.port, "OAUTHBEARER",
                           oauthbearer(user, "at-one", srv.port), b"AQ==")
        c.check("OAUTHBEARER after revoke: 334, ^A, 535 (file re-read)",
                got[0].startswith("334") and got[-1].startswith("535 5.7.8"),
                got)
        p.seed(access_token="at-three")
        got = smtp_session(srv.port, "OAUTHBEARER",
                           oauthbearer(user, "at-three", srv.port), b"")
        c.check("OAUTHBEARER with a listed token: 235",
                got[-1].startswith("235"), got)
        srv.wait_idle(5)
        tokens = [r.auth_tokens for r in srv.records]
        c.check("records[i].auth_tokens: the token offered per connection",
                tokens == [["at-one"], ["at-" + "x" * 2000], ["at-two"],
                           ["at-one"], ["at-one"], ["at-three"]], tokens)
        c.check("no server errors (answers to the challenges were right)",
                srv.all_errors() == [], srv.all_errors())
    finally:
        srv.stop()
        p.stop()


def test_fakesmtp_static(c, pki):
    """auth-user alone still means: the token is the password."""
    script = fakesmtp.Script(["caps AUTH XOAUTH2",
                              "auth-user bob@example.test tok-static",
                              "connections 2"])
    srv = fakesmtp.FakeSMTPServer(script).start()
    try:
        ok = smtp_session(srv.port, "XOAUTH2",
                          xoauth2("bob@example.test", "tok-static"), b"")
        bad = smtp_session(srv.port, "XOAUTH2",
                           xoauth2("bob@example.test", "tok-other"), b"")
        srv.wait_idle(5)
        c.check("without auth-token-file the auth-user secret is the token",
                ok[-1].startswith("235") and bad[-1].startswith("535") and
                [r.auth_tokens for r in srv.records] ==
                [["tok-static"], ["tok-other"]], (ok, bad))
    finally:
        srv.stop()


def main(argv):
    c = Checks("-v" in argv)
    tmp = tempfile.mkdtemp(prefix="fakeoauth-selftest-")
    try:
        try:
            pki = fakeoauth.make_pki(os.path.join(tmp, "pki"))
        except RuntimeError as ex:
            print("SKIP: %s" % ex)
            return 77
        fakesmtp.PKI_DIR = pki
        started = time.monotonic()
        for test in (test_fakesmtp, test_fakesmtp_static, test_refresh,
                     test_refresh_scripts, test_code_flow, test_device_errors,
                     test_stop_hangs_up, test_main_is_quiet,
                     test_device_flow):
            try:
                test(c, pki)
            except Exception as ex:     # one broken group must not hide
                c.check(test.__name__, False, "crashed: %r" % ex)
        if c.verbose:
            print("took %.1f s" % (time.monotonic() - started))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (c.passed, c.failed))
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
