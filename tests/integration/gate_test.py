#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""gate_test.py - the connection gate decides on the address it actually
connected to, not on the host's name.

A name that looks local (evil.localhost) but resolves to an address that
is not loopback must get neither credentials in clear nor a plain link by
default.  The binary runs in a private mount namespace whose /etc/hosts
maps the name to one of this machine's non-loopback addresses, where a
fake server listens.  Needs root (unshare -m) and a non-loopback IPv4
address; prints SKIP otherwise.  Last line: "N passed, N failed".
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "servers"))
import fakesmtp  # noqa: E402
from casekit import expect, run_cases, wrapped  # noqa: E402
import fakesocks  # noqa: E402

MSMTP = None
MSG = (b"From: alice@example.org\nTo: bob@example.net\nSubject: gate\n"
       b"Date: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <g@example.org>\n"
       b"\nBody.\n")
WRAP = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'


def outward_address():
    """An IPv4 address of this machine that is not loopback, or None."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope",
                              "global"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        words = line.split()
        if "inet" in words:
            addr = words[words.index("inet") + 1].split("/")[0]
            if not addr.startswith("127."):
                return addr
    return None


class Setup:
    def __init__(self, addr):
        self.top = tempfile.mkdtemp(prefix="msmtp-gate-")
        self.hosts = os.path.join(self.top, "hosts")
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 localhost\n%s evil.localhost\n" % addr)
        self.addr = addr

    def run(self, conf, *directives, host=None):
        """One send through a fake server on host (default: the outward
        address); -> (exit, stderr, server)."""
        srv = fakesmtp.FakeSMTPServer(fakesmtp.Script(list(directives)),
                                      host=host or self.addr).start()
        rc = os.path.join(self.top, "msmtprc")
        with open(rc, "w") as f:
            f.write(conf.replace("%PORT%", str(srv.port)))
        os.chmod(rc, 0o600)
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": self.top,
               "LC_ALL": "C"}
        cmd = ["unshare", "-m", "sh", "-c", WRAP, "sh", self.hosts, MSMTP,
               "-C", rc, "bob@example.net"]
        p = subprocess.run(cmd, input=MSG, capture_output=True, env=env,
                           timeout=30)
        srv.wait_idle(3)
        srv.stop()
        return p.returncode, p.stderr.decode(errors="replace"), srv

    def cleanup(self):
        shutil.rmtree(self.top, ignore_errors=True)


AUTH_CONF = ("account default\nhost %s\nport %%PORT%%\nfrom alice@example.org\n"
             "%sauth plain\nuser alice\npassword gate-Secret-pw\n")


def case_no_clear_auth_to_outward_peer(s):
    """tls off, a .localhost name on a non-loopback address: refused after
    connecting, before anything is sent; the password never travels."""
    code, err, srv = s.run(AUTH_CONF % ("evil.localhost", "tls off\n"),
                           "caps PIPELINING,AUTH PLAIN",
                           "auth-user alice gate-Secret-pw")
    expect(code == 69, "exit %d %r" % (code, err))
    expect("is not a loopback address" in err, "stderr %r" % err)
    expect(not any(c.startswith("AUTH") for c in srv.commands()),
           "AUTH went out in clear: %r" % srv.commands())


def case_tls_default_decided_on_peer(s):
    """No tls setting: a .localhost name that is not loopback after all
    gets STARTTLS required (the server offers none: nothing is sent)."""
    code, err, srv = s.run(AUTH_CONF % ("evil.localhost", ""),
                           "caps PIPELINING,AUTH PLAIN",
                           "auth-user alice gate-Secret-pw")
    expect(code == 69 and "STARTTLS" in err, "exit %d %r" % (code, err))
    expect(srv.commands() == ["EHLO localhost", "QUIT"],
           "commands %r" % srv.commands())


def case_loopback_name_may_authenticate(s):
    """The same account on a name that is loopback (localhost): plain
    authentication to the local daemon is allowed."""
    code, err, srv = s.run(AUTH_CONF % ("localhost", "tls off\n"),
                           "caps PIPELINING,AUTH PLAIN",
                           "auth-user alice gate-Secret-pw", host="127.0.0.1")
    expect(code == 0, "exit %d %r" % (code, err))
    expect(any(c.startswith("AUTH PLAIN") for c in srv.commands()),
           "no AUTH: %r" % srv.commands())


def case_no_clear_auth_through_outward_proxy(s):
    """tls off, host 127.0.0.1 (loopback) but the SOCKS proxy on an
    address that is not loopback: the credentials would cross the network
    in clear to the proxy, so the send is refused after connecting to the
    proxy and before asking it for anything (no CONNECT, no server)."""
    proxy = fakesocks.FakeSocks5(host=s.addr).start()
    try:
        conf = (AUTH_CONF % ("127.0.0.1", "tls off\n")
                + "proxy_host %s\nproxy_port %d\n" % (s.addr, proxy.port))
        code, err, srv = s.run(conf, "caps PIPELINING,AUTH PLAIN",
                               "auth-user alice gate-Secret-pw",
                               host="127.0.0.1")
        expect(code == 69, "exit %d %r" % (code, err))
        expect("the SOCKS proxy at %s is not a loopback address" % s.addr
               in err, "stderr %r" % err)
        expect(proxy.clients == 1 and proxy.connects == [],
               "proxy: %d clients, connects %r" % (proxy.clients,
                                                  proxy.connects))
        expect(not srv.records, "the server was reached")
    finally:
        proxy.stop()


CASES = [case_no_clear_auth_to_outward_peer, case_tls_default_decided_on_peer,
         case_loopback_name_may_authenticate,
         case_no_clear_auth_through_outward_proxy]


def main():
    global MSMTP
    MSMTP = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MSMTP")
    if not MSMTP or not os.access(MSMTP, os.X_OK):
        print("SKIP: binary not built")
        return 77
    MSMTP = wrapped(MSMTP)
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("SKIP: needs root and unshare (a private /etc/hosts)")
        return 77
    addr = outward_address()
    if addr is None:
        print("SKIP: no non-loopback IPv4 address on this machine")
        return 77
    s = Setup(addr)
    try:
        return run_cases(CASES, sys.argv[2:], (s,))
    finally:
        s.cleanup()


if __name__ == "__main__":
    sys.exit(main())
