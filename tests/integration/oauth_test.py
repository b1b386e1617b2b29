#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_test.py - built-in OAuth2 end to end: the real binary against a fake
OAuth2 provider over HTTPS on loopback (tests/servers/fakeoauth.py, the test
CA from mkpki.sh) and the scripted SMTP server checking that the bearer token
it receives is one the provider issued (auth-token-file).

Each case prints PASS/FAIL; the last line is "N passed, N failed".  Exit 77
when the binary or certtool is missing."""
import base64
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "servers"))
import fakesmtp  # noqa: E402
from casekit import Failure, expect, run_cases, wrapped  # noqa: E402
import fakeoauth  # noqa: E402
import fakesocks  # noqa: E402

MSMTP = None
PKI = None
USER = "alice@example.org"
MSG = (b"From: alice@example.org\nTo: bob@example.net\nSubject: oauth\n"
       b"Date: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <o@example.org>\n"
       b"\nBody.\n")


class Env:
    """A private HOME and configuration for one provider and one SMTP
    server; the account is `default` (custom provider, endpoints on the
    fake provider) unless `account` text is given."""

    def __init__(self, provider, smtp_port, extra="", account=None):
        self.home = tempfile.mkdtemp(prefix="msmtp-oauth-")
        self.state = os.path.join(self.home, "state")
        self.store = os.path.join(self.state, "msmtp", "oauth2", "default.json")
        self.log = os.path.join(self.home, "msmtp.log")
        self.provider = provider
        conf = account or (
            "account default\nhost 127.0.0.1\nport %d\ntls off\n"
            "from %s\nuser %s\nlogfile %s\n"
            "oauth2_provider custom\noauth2_client_id test-client\n"
            "oauth2_scope smtp\n"
            "oauth2_device_endpoint %s\noauth2_token_endpoint %s\n"
            "oauth2_auth_endpoint %s\noauth2_trust_file %s\n%s\n"
            % (smtp_port, USER, USER, self.log, provider.url("devicecode"),
               provider.url("token"), provider.url("authorize"),
               os.path.join(PKI, "ca.pem"), extra))
        path = os.path.join(self.home, ".msmtprc")
        with open(path, "w") as f:
            f.write(conf)
        os.chmod(path, 0o600)

    def environ(self):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": self.home, "LC_ALL": "C",
               "XDG_STATE_HOME": self.state}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        return env

    def run(self, args, stdin=b"", timeout=60):
        p = subprocess.run([MSMTP] + args, input=stdin, capture_output=True,
                           env=self.environ(), timeout=timeout)
        return (p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace"))

    def popen(self, args):
        return subprocess.Popen([MSMTP] + args, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.environ())

    def send(self, *extra):
        return self.run(list(extra) + ["bob@example.net"], MSG)

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


def smtp(provider, *directives, caps="PIPELINING,AUTH PLAIN XOAUTH2"):
    script = fakesmtp.Script(["caps " + caps, "auth-user %s x" % USER,
                              "auth-token-file " + provider.token_file,
                              "connections 10"] + list(directives))
    return fakesmtp.FakeSMTPServer(script).start()


def delivered(srv):
    return sum(1 for rec in srv.records for done in rec.data_complete if done)


def offered_tokens(srv):
    return [t for rec in srv.records for t in rec.auth_tokens]


def token_requests(provider, grant):
    return [r for r in provider.requests_to("token")
            if r["params"].get("grant_type") == grant]


def store_mode(env):
    return (stat.S_IMODE(os.stat(env.store).st_mode),
            stat.S_IMODE(os.stat(os.path.dirname(env.store)).st_mode))


def login_device(env):
    code, out, err = env.run(["--oauth2-login"], timeout=90)
    expect(code == 0, "login: exit %d %r %r" % (code, out, err))
    return out


def seed_store(env, provider, expires_in=3600):
    """A login without running one: the provider and the store agree on a
    refresh token and an access token."""
    access = "seeded-access-" + base64.b32encode(os.urandom(20)).decode()
    refresh = "seeded-refresh-" + base64.b32encode(os.urandom(20)).decode()
    provider.seed(refresh_token=refresh, access_token=access,
                  expires_in=expires_in)
    os.makedirs(os.path.dirname(env.store), mode=0o700, exist_ok=True)
    with open(env.store, "w") as f:
        f.write('{"version":1,"account":"default","access_token":"%s",'
                '"refresh_token":"%s","expires_at":%d}'
                % (access, refresh, int(time.time()) + expires_in))
    os.chmod(env.store, 0o600)
    return access, refresh


def provider(**options):
    return fakeoauth.FakeOAuthProvider(PKI, client_id="test-client",
                                       **options).start()


# ---------------------------------------------------------------- cases

def case_device_login_end_to_end():
    """Device grant: pending, then slow_down (+5 s honoured), then tokens;
    no early poll; the store is 0600 in a 0700 directory; a send then uses
    the issued token without any further request to the provider."""
    p = provider(device_polls=["authorization_pending", "slow_down", "ok"],
                 device_interval=1)
    s = smtp(p)
    env = Env(p, s.port)
    try:
        out = login_device(env)
        expect("enter the code" in out and p.url("device") in out,
               "login output %r" % out)
        expect(p.violations == [], "provider saw %r" % p.violations)
        polls = [r["time"] for r in token_requests(
            p, fakeoauth.DEVICE_GRANT)]
        expect(len(polls) == 3, "%d polls" % len(polls))
        expect(polls[2] - polls[1] >= 5.9, "slow_down not honoured: %.1f s"
               % (polls[2] - polls[1]))
        expect(store_mode(env) == (0o600, 0o700), "modes %r"
               % (store_mode(env),))
        before = len(p.requests)
        code, _, err = env.send()
        s.wait_idle(3)
        expect(code == 0, "send: %d %r" % (code, err))
        expect(offered_tokens(s) == [p.issued_access[-1]],
               "the server got another token")
        expect(len(p.requests) == before, "the send asked the provider")
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def code_login(env, p, tamper=None):
    """Run --oauth2-login (code flow) and play the browser: open the
    printed URL at the provider, then the redirect (optionally tampered)
    at msmtp's listener.  -> (exit, stdout, stderr, browser status)."""
    proc = env.popen(["--oauth2-login"])
    url, lines = None, []
    deadline = time.monotonic() + 20
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline().decode(errors="replace")
        if not line:
            break
        lines.append(line)
        if line.startswith("https://"):
            url = line.strip()
    if url is None:
        proc.kill()
        raise Failure("no URL printed: %r" % lines)
    location, _, _ = p.browse(url, follow=False)
    expect(location and location.startswith("http://127.0.0.1:"),
           "provider redirect %r" % location)
    if tamper:
        location = tamper(location)
    status, _ = fakeoauth._plain_get(location, 10)
    out, err = proc.communicate(timeout=30)
    return (proc.returncode, "".join(lines) + out.decode(errors="replace"),
            err.decode(errors="replace"), status)


def case_code_pkce_login_end_to_end():
    """Authorization code with PKCE S256 and a loopback listener: the test
    follows the printed URL; the provider checks the verifier; tokens are
    stored and used."""
    p = provider()
    s = smtp(p)
    env = Env(p, s.port, extra="oauth2_flow code")
    try:
        code, out, err, status = code_login(env, p)
        expect(code == 0 and status == 200, "login: %d %r %r (browser %r)"
               % (code, out, err, status))
        auth = p.requests_to("authorize")[0]["params"]
        expect(auth.get("code_challenge_method") == "S256"
               and len(auth.get("state", "")) >= 32, "authorize %r" % auth)
        expect(len(token_requests(p, "authorization_code")) == 1
               and p.violations == [], "redeem: %r" % p.violations)
        code, _, err = env.send()
        expect(code == 0 and offered_tokens(s) == [p.issued_access[-1]],
               "send %d %r" % (code, err))
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_forged_state_refused():
    """A redirect whose state is not ours is refused (76) and its code is
    never redeemed."""
    p = provider()
    env = Env(p, 1, extra="oauth2_flow code")
    try:
        code, out, err, status = code_login(
            env, p, lambda loc: re.sub(r"state=[^&]*", "state=forged", loc))
        expect(code == 76 and "wrong state" in err, "exit %d %r" % (code, err))
        expect(status == 400, "browser got %r" % status)
        expect(token_requests(p, "authorization_code") == [],
               "the code was redeemed")
        expect(not os.path.exists(env.store), "tokens stored")
    finally:
        p.stop()
        env.cleanup()


def case_cached_token_no_request():
    """A valid stored token is used as it is: no HTTP request at all."""
    p = provider()
    s = smtp(p)
    env = Env(p, s.port)
    try:
        access, _ = seed_store(env, p)
        for _ in range(2):
            code, _, err = env.send()
            expect(code == 0, "send %d %r" % (code, err))
        expect(p.requests == [], "requests %r" % [r["path"] for r in p.requests])
        expect(offered_tokens(s) == [access, access], "tokens differ")
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_refresh_after_expiry():
    """An access token within the margin of its expiry: one refresh, the
    new token used, the rotated refresh token saved, the store still 0600."""
    p = provider()
    s = smtp(p)
    env = Env(p, s.port)
    try:
        old_access, old_refresh = seed_store(env, p, expires_in=60)
        code, _, err = env.send()
        expect(code == 0, "send %d %r" % (code, err))
        expect(len(token_requests(p, "refresh_token")) == 1, "refreshes %d"
               % len(token_requests(p, "refresh_token")))
        expect(offered_tokens(s) == [p.issued_access[-1]]
               and p.issued_access[-1] != old_access, "the old token was sent")
        with open(env.store) as f:
            text = f.read()
        expect(p.current_refresh in text and old_refresh not in text,
               "the rotated refresh token was not saved")
        expect(store_mode(env)[0] == 0o600, "mode %o" % store_mode(env)[0])
        code, _, _ = env.send()
        expect(code == 0 and len(token_requests(p, "refresh_token")) == 1,
               "a second send refreshed again")
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_refused_valid_token_retried_once():
    """The server refuses a token that looked valid (revoked early): one
    refresh, one more AUTH in the same session, delivered."""
    p = provider()
    s = smtp(p)
    env = Env(p, s.port)
    try:
        old, _ = seed_store(env, p)
        p.revoke_access_tokens()
        code, _, err = env.send()
        expect(code == 0, "send %d %r" % (code, err))
        expect(len(s.records) == 1, "%d connections" % len(s.records))
        expect(offered_tokens(s) == [old, p.issued_access[-1]],
               "tokens offered: %d" % len(offered_tokens(s)))
        expect(len(token_requests(p, "refresh_token")) == 1, "refreshes")
        expect(delivered(s) == 1, "not delivered")
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_refused_twice_not_looped():
    """Refused again after the refresh: 77, exactly one refresh, no loop."""
    p = provider()
    s = smtp(p, "auth-token-file /nonexistent/none")
    env = Env(p, s.port)
    try:
        seed_store(env, p)
        code, _, err = env.send()
        expect(code == 77, "send %d %r" % (code, err))
        expect(len(offered_tokens(s)) == 2
               and len(token_requests(p, "refresh_token")) == 1,
               "tokens %d refreshes %d" % (len(offered_tokens(s)),
                                           len(token_requests(
                                               p, "refresh_token"))))
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_concurrent_sends_refresh_once():
    """Two sends at once with an expiring token: one refresh between them
    (the lock), both delivered with valid tokens."""
    p = provider()
    s = smtp(p)
    env = Env(p, s.port)
    try:
        seed_store(env, p, expires_in=30)
        results = []

        def one():
            results.append(env.send())
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        expect([r[0] for r in results] == [0, 0, 0, 0], "exits %r"
               % [(r[0], r[2]) for r in results])
        expect(len(token_requests(p, "refresh_token")) == 1,
               "%d refreshes" % len(token_requests(p, "refresh_token")))
        expect(p.violations == [], "violations %r" % p.violations)
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_revoked_refresh_token():
    """invalid_grant on refresh: 77 naming the provider's reason and "log
    in again"; for the queue a session failure: the entry waits."""
    p = provider(refresh_behaviour="invalid_grant")
    s = smtp(p)
    env = Env(p, s.port, extra="queue tempfail\nqueue_dir %s")
    try:
        with open(os.path.join(env.home, ".msmtprc")) as f:
            conf = f.read() % os.path.join(env.home, "queue")
        with open(os.path.join(env.home, ".msmtprc"), "w") as f:
            f.write(conf)
        seed_store(env, p, expires_in=10)
        code, _, err = env.send()
        expect(code == 77 and "AADSTS700082" in err and "log in again" in err,
               "send %d %r" % (code, err))
        expect(s.records == [], "connected without a token")
        code, _, err = env.run(["-odq", "bob@example.net"], MSG)
        expect(code == 0, "queueing %d %r" % (code, err))
        code, _, err = env.run(["-q"])
        qdir = os.path.join(env.home, "queue")
        waiting = [x for x in os.listdir(qdir) if x.endswith(".env")]
        failed = os.path.join(qdir, "failed")
        expect(len(waiting) == 1 and not (os.path.isdir(failed)
                                          and os.listdir(failed)),
               "the entry did not wait: %r %r" % (waiting, err))
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_provider_down():
    """The provider unreachable: 75; with the queue on the message is
    queued (exit 0)."""
    p = provider()
    s = smtp(p)
    env = Env(p, s.port, extra="queue tempfail\nqueue_dir %s")
    try:
        with open(os.path.join(env.home, ".msmtprc")) as f:
            conf = f.read() % os.path.join(env.home, "queue")
        with open(os.path.join(env.home, ".msmtprc"), "w") as f:
            f.write(conf.replace("queue tempfail\n", ""))
        seed_store(env, p, expires_in=10)
        p.stop()
        code, _, err = env.send()
        expect(code == 75 and "cannot reach the OAuth2 provider" in err,
               "send %d %r" % (code, err))
        with open(os.path.join(env.home, ".msmtprc"), "w") as f:
            f.write(conf)
        code, _, err = env.send()
        expect(code == 0 and "queued" in err, "with the queue: %d %r"
               % (code, err))
    finally:
        s.stop()
        env.cleanup()


def case_microsoft_preset_overridden():
    """oauth2_provider microsoft with its tenant and endpoints pointed at the
    fake provider: the preset's scope and the device flow are used."""
    p = provider()
    s = smtp(p, caps="PIPELINING,AUTH XOAUTH2 OAUTHBEARER")
    base = p.url("contoso.example/oauth2/v2.0/")
    account = (
        "account default\nhost 127.0.0.1\nport %d\ntls off\nfrom %s\n"
        "user %s\noauth2_provider microsoft\noauth2_tenant contoso.example\n"
        "oauth2_client_id test-client\noauth2_device_endpoint %sdevicecode\n"
        "oauth2_token_endpoint %stoken\noauth2_auth_endpoint %sauthorize\n"
        "oauth2_trust_file %s\n" % (s.port, USER, USER, base, base, base,
                                    os.path.join(PKI, "ca.pem")))
    env = Env(p, s.port, account=account)
    try:
        login_device(env)
        scope = p.requests_to("devicecode")[0]["params"].get("scope")
        expect(scope == "https://outlook.office.com/SMTP.Send offline_access",
               "scope %r" % scope)
        expect(all(r["tenant"] == "contoso.example" for r in p.requests),
               "tenant %r" % [r["tenant"] for r in p.requests])
        code, _, err = env.send()
        expect(code == 0, "send %d %r" % (code, err))
        auths = [c for c in s.commands() if c.startswith("AUTH")]
        expect(auths and auths[0].startswith("AUTH OAUTHBEARER"),
               "mechanism %r" % auths[:1])
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_status():
    """--oauth2-status: 0 with a login, when the token expires, no token."""
    p = provider()
    env = Env(p, 1)
    try:
        access, refresh = seed_store(env, p)
        code, out, err = env.run(["--oauth2-status"])
        expect(code == 0 and "valid until" in out and "refresh token: stored"
               in out, "status %d %r %r" % (code, out, err))
        expect(access not in out + err and refresh not in out + err,
               "a token was printed")
    finally:
        p.stop()
        env.cleanup()


def case_store_permissions_checked():
    """A token store readable by others is refused (78) before connecting."""
    p = provider()
    s = smtp(p)
    env = Env(p, s.port)
    try:
        seed_store(env, p)
        os.chmod(env.store, 0o644)
        code, _, err = env.send()
        expect(code == 78 and "chmod 600" in err, "send %d %r" % (code, err))
        expect(s.records == [], "connected")
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_no_token_in_any_output():
    """With --debug and a log file, through a login, a refresh and a send:
    no access token, refresh token, device code or client secret appears
    in stdout, stderr or the log."""
    p = provider(client_secret="client-Secret-canary",
                 device_polls=["authorization_pending", "ok"])
    s = smtp(p)
    env = Env(p, s.port, extra="oauth2_client_secret client-Secret-canary\n"
              "oauth2_refresh_margin 3599")
    try:
        code, out1, err1 = env.run(["-d", "--oauth2-login"], timeout=90)
        expect(code == 0, "login %d %r" % (code, err1))
        time.sleep(1.5)     # the token is now within the margin: refresh
        code, out2, err2 = env.send("-d")
        expect(code == 0 and len(token_requests(p, "refresh_token")) == 1,
               "send %d %r" % (code, err2))
        with open(env.log) as f:
            log = f.read()
        everything = out1 + err1 + out2 + err2 + log
        secrets = list(p.issued_access) + ["client-Secret-canary"]
        secrets += [r["params"].get("refresh_token", "")
                    for r in token_requests(p, "refresh_token")]
        secrets += [r["params"].get("device_code", "")
                    for r in token_requests(p, fakeoauth.DEVICE_GRANT)]
        for sec in [x for x in secrets if x]:
            for form in (sec, base64.b64encode(sec.encode()).decode()):
                expect(form[:40] not in everything,
                       "a secret appears in the output (%s...)" % form[:8])
        expect(re.search(r"^--> AUTH XOAUTH2$", out2, re.M)
               and re.search(r"^--> <redacted>$", out2, re.M),
               "debug AUTH lines %r" % [ln for ln in out2.splitlines()
                                        if "AUTH" in ln or "redacted" in ln])
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_login_refusals():
    """At login: access_denied 77, an expired device code 75, and a code
    flow whose user refused 77; nothing stored in any of them."""
    for polls, want, text in ((["authorization_pending", "access_denied"], 77,
                               "access_denied"),
                              (["expired_token"], 75, "expired")):
        p = provider(device_polls=polls)
        env = Env(p, 1)
        try:
            code, out, err = env.run(["--oauth2-login"], timeout=60)
            expect(code == want and text in err, "%r: %d %r" % (polls, code,
                                                              err))
            expect(not os.path.exists(env.store), "%r: stored" % polls)
        finally:
            p.stop()
            env.cleanup()
    p = provider(authorize_error="access_denied")
    env = Env(p, 1, extra="oauth2_flow code")
    try:
        code, out, err, status = code_login(env, p)
        expect(code == 77 and "access_denied" in err and status == 200,
               "code flow: %d %r %r" % (code, err, status))
        expect(token_requests(p, "authorization_code") == [], "redeemed")
    finally:
        p.stop()
        env.cleanup()


def case_provider_5xx():
    """The provider answers 500 to a refresh: 75 (try again later), the
    stored tokens untouched."""
    p = provider(refresh_behaviour="server_error")
    s = smtp(p)
    env = Env(p, s.port)
    try:
        seed_store(env, p, expires_in=10)
        with open(env.store) as f:
            before = f.read()
        code, _, err = env.send()
        expect(code == 75 and "500" in err, "send %d %r" % (code, err))
        with open(env.store) as f:
            expect(f.read() == before, "the store changed")
        expect(s.records == [], "connected without a token")
    finally:
        s.stop()
        p.stop()
        env.cleanup()


def case_login_through_the_account_proxy():
    """The account's SOCKS proxy carries the provider's HTTPS too, with the
    name resolved by the proxy (socks5h): the login works through it and
    the proxy saw a CONNECT to the provider by name; the send that follows
    reaches the mail server through the same proxy, with the token."""
    p = provider()
    s = smtp(p)
    proxy = fakesocks.FakeSocks5().start()
    base = "https://localhost:%d/" % p.port
    account = (
        "account default\nhost 127.0.0.1\nport %d\nfrom %s\nuser %s\n"
        "proxy_host 127.0.0.1\nproxy_port %d\noauth2_provider custom\n"
        "oauth2_client_id test-client\noauth2_scope smtp\n"
        "oauth2_device_endpoint %sdevicecode\noauth2_token_endpoint %stoken\n"
        "oauth2_trust_file %s\n" % (s.port, USER, USER, proxy.port, base,
                                    base, os.path.join(PKI, "ca.pem")))
    env = Env(p, s.port, account=account)
    try:
        login_device(env)
        expect(("domain", "localhost", p.port) in proxy.connects,
               "proxy saw %r" % proxy.connects)
        expect(all(c == ("domain", "localhost", p.port)
                   for c in proxy.connects), "a direct or resolved connect: %r"
               % proxy.connects)
        expect(len(proxy.connects) == len(p.requests),
               "%d requests but %d through the proxy"
               % (len(p.requests), len(proxy.connects)))
        expect(os.path.exists(env.store), "no tokens stored")
        before = len(proxy.connects)
        code, _, err = env.send()
        s.wait_idle(3)
        expect(code == 0, "send: %d %r" % (code, err))
        expect(proxy.connects[before:] == [("ipv4", "127.0.0.1", s.port)],
               "the send's connects %r" % proxy.connects[before:])
        expect(delivered(s) == 1 and offered_tokens(s) == [
            p.issued_access[-1]], "delivered %d, tokens %r"
               % (delivered(s), offered_tokens(s)))
        expect(proxy.errors == [], "proxy errors %r" % proxy.errors)
    finally:
        proxy.stop()
        s.stop()
        p.stop()
        env.cleanup()


CASES = [
    case_device_login_end_to_end, case_code_pkce_login_end_to_end,
    case_forged_state_refused, case_cached_token_no_request,
    case_refresh_after_expiry, case_refused_valid_token_retried_once,
    case_refused_twice_not_looped, case_concurrent_sends_refresh_once,
    case_revoked_refresh_token, case_provider_down,
    case_microsoft_preset_overridden, case_status,
    case_store_permissions_checked, case_no_token_in_any_output,
    case_login_refusals, case_provider_5xx,
    case_login_through_the_account_proxy,
]


def main():
    global MSMTP, PKI
    MSMTP = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MSMTP")
    if not MSMTP or not os.access(MSMTP, os.X_OK):
        print("SKIP: binary not built")
        return 77
    MSMTP = wrapped(MSMTP)
    if shutil.which("certtool") is None:
        print("SKIP: certtool (gnutls-bin) is needed for the test CA")
        return 77
    top = tempfile.mkdtemp(prefix="msmtp-oauth-pki-")
    PKI = fakeoauth.make_pki(os.path.join(top, "pki"))
    fakesmtp.PKI_DIR = PKI
    try:
        return run_cases(CASES, sys.argv[2:])
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
