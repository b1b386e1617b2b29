#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""configure_test.py - `msmtp --configure ADDRESS` end to end: the real
binary against a scripted DNS server (tests/servers/fakedns.py, through
MSMTP_TEST_DNS) and a scripted HTTPS server (tests/servers/fakehttps.py,
every HTTPS host connected there through MSMTP_TEST_HTTPS, with a
certificate from the test CA of mkpki.sh trusted through MSMTP_TEST_CA),
and with both pointed at closed local ports (no network at all).

Each case asserts stdout bytes, stderr and the exit code; every block
printed must also be accepted by `msmtp -C BLOCK -a ACCOUNT --pretend`.
Each case prints PASS/FAIL; the last line is "N passed, N failed".  Exit
77 when the binary or certtool is missing."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "servers"))
from casekit import Failure, expect, free_port, run_cases, wrapped  # noqa
import fakedns  # noqa: E402
import fakehttps  # noqa: E402

MSMTP = None
PKI = None
SITE = None         # (cert, key) for every HTTPS name the cases use
WORK = None

# Every HTTPS host name a case serves (one certificate for all).
NAMES = ["autoconfig.example.org", "example.org",
         "autoconfig.thunderbird.net", "autoconfig.xn--bcher-kva.example",
         "xn--bcher-kva.example", "autoconfig.example.net", "example.net"]


def closed_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(address, dns_port=None, https_port=None, extra=(), ca=None):
    """Run msmtp --configure; (exit, stdout bytes, stderr text)."""
    home = tempfile.mkdtemp(prefix="home-", dir=WORK)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "LC_ALL": "C",
           "MSMTP_TEST_DNS": "127.0.0.1:%d" % (dns_port or closed_udp_port()),
           "MSMTP_TEST_HTTPS": "127.0.0.1:%d" % (https_port or free_port()),
           "MSMTP_TEST_CA": ca or os.path.join(PKI, "ca.pem")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.run([MSMTP] + list(extra) + ["--configure", address],
                       capture_output=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def pretend(block, account):
    """The block as a configuration file: --pretend must accept it."""
    d = tempfile.mkdtemp(prefix="block-", dir=WORK)
    path = os.path.join(d, "msmtprc")
    with open(path, "wb") as f:
        f.write(block)
    os.chmod(path, 0o600)
    p = subprocess.run([MSMTP, "-C", path, "-a", account, "--pretend"],
                       capture_output=True, env={"PATH": "/usr/bin:/bin",
                                                 "HOME": d, "LC_ALL": "C"},
                       timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    expect(p.returncode == 0, "--pretend refused the block: %d %r"
           % (p.returncode, p.stderr))
    return out


def found(code, out, err, host, port, starttls, account):
    """A block for host:port was printed, it parses, stderr is empty."""
    expect(code == 0, "exit %d, stderr %r" % (code, err))
    expect(err == "", "stderr %r" % err)
    text = out.decode("utf-8")
    expect("\nhost %s\nport %d\ntls on\ntls_starttls %s\n"
           % (host, port, "on" if starttls else "off") in text,
           "block %r" % text)
    shown = pretend(out, account)
    expect("host                   = %s\n" % host in shown
           and "port                   = %d\n" % port in shown,
           "--pretend %r" % shown)
    return text


def nothing(code, out, err, *warnings):
    expect(code == 69, "exit %d, stdout %r, stderr %r" % (code, out, err))
    expect(out == b"", "stdout %r" % out)
    lines = err.splitlines()
    expect(lines and lines[-1].startswith("msmtp: no submission server "
                                          "found for "), "stderr %r" % err)
    for w in warnings:
        expect(w in err, "no %r in stderr %r" % (w, err))
    expect(all(l.startswith("msmtp: ") for l in lines), "stderr %r" % err)


def xml(*servers, domain="example.org"):
    """A clientConfig document with the given outgoingServer bodies."""
    body = "".join('<outgoingServer type="smtp">%s</outgoingServer>\n' % s
                   for s in servers)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig '
            'version="1.1">\n<emailProvider id="%s">\n<domain>%s</domain>\n'
            '<incomingServer type="imap"><hostname>imap.%s</hostname>'
            '<port>993</port><socketType>SSL</socketType>'
            '</incomingServer>\n%s</emailProvider>\n</clientConfig>\n'
            % (domain, domain, domain, body)).encode()


def server(host, port, sock, user="%EMAILADDRESS%", auth="password-cleartext"):
    return ("<hostname>%s</hostname><port>%s</port><socketType>%s"
            "</socketType><authentication>%s</authentication>"
            "<username>%s</username>" % (host, port, sock, auth, user))


class Net:
    """A fake DNS and a fake HTTPS server for one case."""

    def __init__(self, dns=(), routes=None, cert=None):
        self.dns = fakedns.FakeDNS(list(dns)).start()
        c, k = cert or SITE
        self.https = fakehttps.FakeHTTPS(c, k, routes or {}).start()

    def run(self, address, *extra):
        return run(address, self.dns.port, self.https.port, extra)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.dns.stop()
        self.https.stop()


# ---------------------------------------------------------------- cases

SRV_BLOCK = (b"# msmtp --configure alice@example.org\n"
             b"# found by: DNS SRV _submissions._tcp.example.org\n"
             b"# next step: put the password in passwordeval or the keyring "
             b"(see msmtp(1))\n"
             b"account example.org\nhost smtp1.example.org\nport 465\n"
             b"tls on\ntls_starttls off\nauth on\n"
             b"user alice@example.org\nfrom alice@example.org\n")


def case_srv_submissions_beats_submission():
    """_submissions (implicit TLS) wins over _submission; lowest priority,
    then highest weight; the exact block; no HTTPS request made."""
    with Net(["SRV _submissions._tcp.example.org 20 0 465 smtp9.example.org",
              "SRV _submissions._tcp.example.org 10 5 465 smtp2.example.org",
              "SRV _submissions._tcp.example.org 10 50 465 smtp1.example.org",
              "SRV _submission._tcp.example.org 0 0 587 "
              "starttls.example.org"]) as n:
        code, out, err = n.run("alice@example.org")
        found(code, out, err, "smtp1.example.org", 465, False, "example.org")
        expect(out == SRV_BLOCK, "stdout %r" % out)
        expect(n.https.requests == [], "HTTPS asked: %r" % n.https.requests)
        expect(n.dns.queries[0] == ("_submissions._tcp.example.org", "SRV"),
               "queries %r" % n.dns.queries)


def case_srv_submission_starttls():
    """Only _submission: STARTTLS on its port."""
    with Net(["SRV _submission._tcp.example.org 0 0 587 "
              "mail.example.org"]) as n:
        found(*n.run("bob@example.org"), "mail.example.org", 587, True,
              "example.org")


def case_srv_dot_means_none():
    """Target "." is no service: _submissions "." falls to _submission;
    both "." and nothing else -> 69."""
    with Net(["SRV _submissions._tcp.example.org 0 0 0 .",
              "SRV _submission._tcp.example.org 0 0 587 "
              "mail.example.org"]) as n:
        found(*n.run("bob@example.org"), "mail.example.org", 587, True,
              "example.org")
    with Net(["SRV _submissions._tcp.example.org 0 0 0 .",
              "SRV _submission._tcp.example.org 0 0 0 ."]) as n:
        nothing(*n.run("bob@example.org"))


def case_srv_hostile_target():
    """An SRV target with a line feed or a quote in a label is never used:
    the next record or source is."""
    with Net(["SRV _submissions._tcp.example.org 0 0 465 "
              "smtp\\x0apasswordeval\\x20evil.example.org",
              "SRV _submissions._tcp.example.org 5 0 465 "
              "a\\x22b.example.org",
              "SRV _submissions._tcp.example.org 9 0 465 "
              "good.example.org"]) as n:
        code, out, err = n.run("bob@example.org")
        found(code, out, err, "good.example.org", 465, False, "example.org")
        expect(b"\npasswordeval" not in out and b"evil" not in out,
               "stdout %r" % out)


def case_autoconfig_first_url():
    """https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=...:
    SNI and Host are the real name; SSL preferred over STARTTLS; the
    username placeholders filled in."""
    doc = xml(server("plain.example.org", 25, "plain"),
              server("sub.example.org", 587, "STARTTLS"),
              server("smtp.%EMAILDOMAIN%", 465, "SSL", "%EMAILLOCALPART%"))
    routes = {("autoconfig.example.org", "/mail/config-v1.1.xml"): (200, doc)}
    with Net(routes=routes) as n:
        code, out, err = n.run("carol@example.org")
        text = found(code, out, err, "smtp.example.org", 465, False,
                     "example.org")
        expect("# found by: autoconfig https://autoconfig.example.org/mail/"
               "config-v1.1.xml\n" in text, "block %r" % text)
        expect("\nuser carol\nfrom carol@example.org\n" in text,
               "block %r" % text)
        r = n.https.requests[0]
        expect(r["sni"] == "autoconfig.example.org"
               and r["host"] == "autoconfig.example.org"
               and r["query"] == "emailaddress=carol%40example.org",
               "request %r" % r)


def case_autoconfig_well_known():
    """The second URL, https://DOMAIN/.well-known/autoconfig/..."""
    doc = xml(server("sub.example.org", 587, "STARTTLS", "x-%EMAILADDRESS%"))
    routes = {("example.org", "/.well-known/autoconfig/mail/config-v1.1.xml"):
              (200, doc)}
    with Net(routes=routes) as n:
        code, out, err = n.run("dave@example.org")
        text = found(code, out, err, "sub.example.org", 587, True,
                     "example.org")
        expect("\nuser x-dave@example.org\n" in text, "block %r" % text)
        expect([r["host"] for r in n.https.requests]
               == ["autoconfig.example.org", "example.org"],
               "requests %r" % n.https.requests)


def case_ispdb():
    """Mozilla's ISP database after both autoconfig URLs; OAuth2 told."""
    doc = xml(server("smtp.example.net", 465, "SSL", auth="OAuth2"),
              domain="example.net")
    routes = {("autoconfig.thunderbird.net", "/v1.1/example.net"): (200, doc)}
    with Net(routes=routes) as n:
        code, out, err = n.run("erin@example.net")
        text = found(code, out, err, "smtp.example.net", 465, False,
                     "example.net")
        expect("# found by: Mozilla ISP database https://autoconfig."
               "thunderbird.net/v1.1/example.net\n" in text, text)
        expect("OAuth2" in text, text)


def case_mx_gmail():
    """An MX under google.com: the Gmail preset with its OAuth2 lines."""
    with Net(["MX example.org 5 alt1.aspmx.l.google.com",
              "MX example.org 1 aspmx.l.google.com"]) as n:
        code, out, err = n.run("fred@example.org")
        text = found(code, out, err, "smtp.gmail.com", 465, False,
                     "example.org")
        expect("# found by: built-in preset Gmail, Google Workspace (MX "
               "aspmx.l.google.com of example.org)\n" in text, text)
        expect("msmtp --oauth2-login -a example.org" in text
               and "\n#oauth2_provider google\n#oauth2_client_id " in text,
               text)


def case_mx_microsoft365():
    """An MX under mail.protection.outlook.com: Microsoft 365."""
    with Net(["MX example.org 0 example-org.mail.protection.outlook.com"]) \
            as n:
        code, out, err = n.run("gina@example.org")
        text = found(code, out, err, "smtp.office365.com", 587, True,
                     "example.org")
        expect("\n#oauth2_provider microsoft\n" in text, text)


PRESETS = [
    ("gmail.com", "smtp.gmail.com", 465, False),
    ("googlemail.com", "smtp.gmail.com", 465, False),
    ("outlook.com", "smtp-mail.outlook.com", 587, True),
    ("hotmail.com", "smtp-mail.outlook.com", 587, True),
    ("hotmail.co.uk", "smtp-mail.outlook.com", 587, True),
    ("live.de", "smtp-mail.outlook.com", 587, True),
    ("yahoo.com", "smtp.mail.yahoo.com", 465, False),
    ("yahoo.co.jp", "smtp.mail.yahoo.com", 465, False),
    ("icloud.com", "smtp.mail.me.com", 587, True),
    ("me.com", "smtp.mail.me.com", 587, True),
    ("mac.com", "smtp.mail.me.com", 587, True),
    ("fastmail.com", "smtp.fastmail.com", 465, False),
    ("fastmail.fm", "smtp.fastmail.com", 465, False),
    ("gmx.net", "mail.gmx.net", 465, False),
    ("gmx.de", "mail.gmx.net", 465, False),
    ("gmx.com", "mail.gmx.com", 465, False),
    ("mailbox.org", "smtp.mailbox.org", 465, False),
    ("zoho.com", "smtp.zoho.com", 465, False),
    ("zohomail.com", "smtp.zoho.com", 465, False),
    ("zohomail.eu", "smtp.zoho.eu", 465, False),
]

GMAIL_BLOCK = (
    b"# msmtp --configure Someone@Gmail.com\n"
    b"# found by: built-in preset Gmail, Google Workspace (the address's "
    b"domain gmail.com)\n"
    b"# next step: Gmail, Google Workspace signs in with OAuth2: register an "
    b"OAuth2 client id\n"
    b"#   (msmtp(1), OAUTH2), uncomment the two oauth2_ lines below, put the\n"
    b"#   id in oauth2_client_id, then run: msmtp --oauth2-login -a "
    b"gmail.com\n"
    b"#   or: create an app password at the provider and put it in "
    b"passwordeval/keyring\n"
    b"account gmail.com\nhost smtp.gmail.com\nport 465\ntls on\n"
    b"tls_starttls off\nauth on\nuser Someone@Gmail.com\n"
    b"from Someone@Gmail.com\n"
    b"#oauth2_provider google\n#oauth2_client_id YOUR-CLIENT-ID\n")


def case_presets_offline():
    """Every preset with DNS and HTTPS at closed local ports: exit 0."""
    for domain, host, port, starttls in PRESETS:
        code, out, err = run("user@" + domain)
        try:
            found(code, out, err, host, port, starttls, domain)
        except Failure as ex:
            raise Failure("%s: %s" % (domain, ex))
    code, out, err = run("Someone@Gmail.com")
    expect(code == 0 and out == GMAIL_BLOCK, "gmail block %r" % out)


def case_nothing_found():
    """No source answers: 69, one line on stderr, nothing on stdout."""
    nothing(*run("user@example.org"))
    with Net(["MX example.org 10 mx.example.org"]) as n:
        nothing(*n.run("user@example.org"))


def case_malformed_address():
    """65 for what is not an address with a domain to look up."""
    for bad in ("no-at-sign", "user@", "@example.org", "a b@example.org",
                "a@@example.org", "a@b@example.org", "user@[192.0.2.1]",
                "user@localhost", "user@exa mple.org", ".a@example.org",
                "a..b@example.org", "a\"b@example.org",
                "user@-bad-.example.org", "x" * 65 + "@example.org"):
        code, out, err = run(bad)
        expect(code == 65 and out == b"" and err.startswith(
            "msmtp: invalid address '") and err.count("\n") == 1,
            "%r: %d %r %r" % (bad, code, out, err))


def case_usage():
    """--configure takes one address and no other mode: 64."""
    for args in (["--configure"], ["--configure", "a@example.org", "rcpt"],
                 ["-S", "--configure", "a@example.org"]):
        p = subprocess.run([MSMTP] + args, capture_output=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "HOME": WORK})
        expect(p.returncode == 64 and p.stdout == b"",
               "%r: %d %r %r" % (args, p.returncode, p.stdout, p.stderr))


def case_idn_address():
    """user@bücher.example: DNS and HTTPS ask for xn--bcher-kva.example;
    from keeps the address as given."""
    doc = xml(server("smtp.xn--bcher-kva.example", 465, "SSL"),
              domain="xn--bcher-kva.example")
    routes = {("autoconfig.xn--bcher-kva.example", "/mail/config-v1.1.xml"):
              (200, doc)}
    with Net(routes=routes) as n:
        code, out, err = n.run("user@bücher.example")
        text = found(code, out, err, "smtp.xn--bcher-kva.example", 465,
                     False, "xn--bcher-kva.example")
        expect("\nfrom user@bücher.example\n" in text, text)
        expect(("_submissions._tcp.xn--bcher-kva.example", "SRV")
               in n.dns.queries, "queries %r" % n.dns.queries)
        r = n.https.requests[0]
        expect(r["sni"] == "autoconfig.xn--bcher-kva.example"
               and "emailaddress=user%40b%C3%BCcher.example" == r["query"],
               "request %r" % r)


def served(doc, path=("autoconfig.example.org", "/mail/config-v1.1.xml")):
    return {path: (200, doc)}


def case_hostile_plain_only():
    """socketType plain only: skipped with a warning, nothing found."""
    with Net(routes=served(xml(server("smtp.example.org", 25, "plain")))) \
            as n:
        nothing(*n.run("user@example.org"), "only servers without TLS")


def case_hostile_injection():
    """A line feed, a quote or a space in a value is refused; nothing of
    it reaches stdout."""
    for host, user in (("smtp.example.org&#10;passwordeval evil", "u"),
                       ("smtp.example.org\"", "u"),
                       ("smtp.example.org", "u&#10;passwordeval evil"),
                       ("smtp.example.org", "u\"x"),
                       ("smtp.example.org", "u # x")):
        with Net(routes=served(xml(server(host, 465, "SSL", user)))) as n:
            code, out, err = n.run("user@example.org")
            nothing(code, out, err, "refused")
            expect(b"passwordeval" not in out, "stdout %r" % out)


class Listener:
    """A TCP port that records whether anything connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
                self.hits += 1
                c.close()
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


def case_hostile_entities():
    """A DOCTYPE (entity expansion, external entities) is refused: no
    entity expanded, nothing fetched."""
    ear = Listener()
    try:
        laughs = ('<?xml version="1.0"?>\n<!DOCTYPE clientConfig [\n'
                  '<!ENTITY a "aaaaaaaaaa">\n'
                  + "".join('<!ENTITY %s "%s">\n'
                            % (chr(98 + i), ("&%s;" % chr(97 + i)) * 10)
                            for i in range(8))
                  + ']>\n')
        external = ('<?xml version="1.0"?>\n<!DOCTYPE clientConfig [\n'
                    '<!ENTITY ext SYSTEM "http://127.0.0.1:%d/x">\n'
                    '<!ENTITY file SYSTEM "file:///etc/hostname">\n]>\n'
                    % ear.port)
        for head, host in ((laughs, "smtp&i;.example.org"),
                           (external, "smtp.example.org&ext;&file;")):
            doc = xml(server(host, 465, "SSL")).replace(
                b'<?xml version="1.0" encoding="UTF-8"?>\n',
                head.encode())
            with Net(routes=served(doc)) as n:
                code, out, err = n.run("user@example.org")
                nothing(code, out, err, "DOCTYPE")
        expect(ear.hits == 0, "an external entity was fetched")
    finally:
        ear.stop()


def case_hostile_oversized():
    """A body over 64 KiB is refused, announced by Content-Length or
    not (chunked)."""
    doc = xml(server("smtp.example.org", 465, "SSL"))
    big = doc.replace(b"<clientConfig", b"<!--" + b"x" * 70000
                      + b"-->\n<clientConfig")
    path = ("autoconfig.example.org", "/mail/config-v1.1.xml")
    for route in ((200, big), (200, big, {"X-Chunked": "1"})):
        with Net(routes={path: route}) as n:
            nothing(*n.run("user@example.org"), "64 KiB")


def case_hostile_not_xml():
    """Malformed XML: refused with a warning."""
    with Net(routes=served(b"<clientConfig><emailProvider>")) as n:
        nothing(*n.run("user@example.org"), "not well-formed")


def case_untrusted_certificate():
    """An HTTPS server whose certificate the CA did not sign (and one
    for another name) is not used."""
    doc = xml(server("smtp.example.org", 465, "SSL"))
    for cert in ((os.path.join(PKI, "selfsigned.pem"),
                  os.path.join(PKI, "selfsigned.key")),
                 (os.path.join(PKI, "wrongname.pem"),
                  os.path.join(PKI, "wrongname.key"))):
        with Net(routes=served(doc), cert=cert) as n:
            code, out, err = n.run("user@example.org")
            nothing(code, out, err, "not used")


def case_redirect_to_http_refused():
    """A redirect to plain http:// is not followed."""
    routes = {("autoconfig.example.org", "/mail/config-v1.1.xml"):
              (302, b"", {"Location": "http://example.org/x.xml"})}
    with Net(routes=routes) as n:
        code, out, err = n.run("user@example.org")
        nothing(code, out, err)
        expect(all(r["path"] != "/x.xml" for r in n.https.requests),
               "followed: %r" % n.https.requests)


CASES = [case_srv_submissions_beats_submission, case_srv_submission_starttls,
         case_srv_dot_means_none, case_srv_hostile_target,
         case_autoconfig_first_url, case_autoconfig_well_known, case_ispdb,
         case_mx_gmail, case_mx_microsoft365, case_presets_offline,
         case_nothing_found, case_malformed_address, case_usage,
         case_idn_address, case_hostile_plain_only, case_hostile_injection,
         case_hostile_entities, case_hostile_oversized, case_hostile_not_xml,
         case_untrusted_certificate, case_redirect_to_http_refused]


def main():
    global MSMTP, PKI, SITE, WORK
    msmtp = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "..", "src", "msmtp")
    if not os.access(msmtp, os.X_OK):
        print("SKIP: no binary at %s" % msmtp)
        return 77
    if shutil.which("certtool") is None:
        print("SKIP: certtool (gnutls-bin) not installed")
        return 77
    MSMTP = wrapped(os.path.abspath(msmtp))
    WORK = tempfile.mkdtemp(prefix="msmtp-configure-")
    try:
        PKI = os.path.join(WORK, "pki")
        subprocess.run(["sh", os.path.join(HERE, "..", "servers", "mkpki.sh"),
                        PKI], check=True, capture_output=True)
        SITE = fakehttps.make_cert(PKI, NAMES, WORK)
        return run_cases(CASES, sys.argv[2:])
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
