#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Writes the seed corpora (corpus/NAME/*) of the fuzz targets: small
# realistic inputs, each prefixed with the choice bytes its target reads
# first (see the header comment of NAME.c).  Run it after changing a
# target's input layout; the files it writes are committed.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
QID = b"20260102030405-4242-0123abcd"


def crlf(*lines):
    return b"".join(l + b"\r\n" for l in lines)


def cuts(*sizes):
    return bytes([len(sizes)] + list(sizes))


def smtp_prefix(a=0, b=0, first=0, size=300, chunk=64, auth=0, msgs=0,
                mode=2, cut=()):
    return bytes([a, b, first, size >> 8, size & 255, chunk - 1, auth, msgs,
                  mode]) + cuts(*cut)


def reply():
    yield b"\x00\x00" + cuts() + crlf(b"220 mx.example.org ESMTP ready")
    yield b"\x00\x00" + cuts(1, 3, 7) + crlf(
        b"250-mx.example.org Hello", b"250-PIPELINING", b"250-SIZE 35882577",
        b"250-8BITMIME", b"250-AUTH PLAIN LOGIN cram-md5 XOAUTH2",
        b"250-AUTH=LOGIN", b"250-STARTTLS", b"250-CHUNKING", b"250-DSN",
        b"250-SMTPUTF8", b"250-ENHANCEDSTATUSCODES", b"250 ETRN")
    yield b"\x01\x00" + cuts(2) + crlf(b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+")
    yield b"\x00\x00" + cuts() + crlf(b"550-5.1.1 <x@example.org>: no such",
                                      b"550 5.1.1 user unknown")
    yield b"\x00\x01\x20" + cuts(5) + b"421 4.3.2 shutting down\n250 ok\r\n25"


def smtp():
    ehlo = [b"250-mx.example.org", b"250-PIPELINING", b"250-8BITMIME",
            b"250-SIZE 10000000", b"250-DSN", b"250 ENHANCEDSTATUSCODES"]
    yield smtp_prefix() + crlf(b"220 mx ESMTP", *ehlo, b"250 2.1.0 ok",
                               b"250 2.1.5 ok", b"354 go ahead",
                               b"250 2.0.0 queued as 1", b"221 2.0.0 bye")
    yield smtp_prefix(a=2 | 4, auth=9, cut=(3, 11)) + crlf(
        b"220 mx ESMTP", b"250-mx", b"250 STARTTLS", b"220 2.0.0 go",
        b"250-mx", b"250-AUTH PLAIN LOGIN", b"250 PIPELINING", b"334 ",
        b"235 2.7.0 ok", b"250 ok", b"250 ok", b"354 go", b"250 ok",
        b"221 bye")
    yield smtp_prefix(a=64, size=100, chunk=64) + crlf(
        b"220 mx", b"250-mx", b"250-PIPELINING", b"250 CHUNKING",
        b"250 ok", b"250 ok", b"250 2.0.0 chunk", b"250 2.0.0 queued",
        b"221 bye")
    yield smtp_prefix(a=1 | 32, b=4) + crlf(
        b"220 lmtp", b"250-lmtp", b"250 PIPELINING", b"250 ok", b"250 ok",
        b"550 5.1.1 no", b"354 go", b"250 2.0.0 delivered", b"221 bye")
    yield smtp_prefix(a=128, msgs=2) + crlf(
        b"220 mx", b"250-mx", b"250 PIPELINING", b"250 ok", b"250 ok",
        b"354 go", b"250 ok", b"250 ok", b"250 ok", b"354 go", b"250 ok",
        b"221 bye")
    yield smtp_prefix(b=4) + crlf(b"220 mx", b"250 mx", b"250 ok",
                                  b"550 5.1.1 no such user", b"250 reset",
                                  b"221 bye")
    yield smtp_prefix(mode=0) + crlf(b"220 x", b"250-x", b"250 SIZE 0",
                                     b"221 bye")
    yield smtp_prefix(mode=1) + crlf(b"220 x", b"250-x", b"250 ETRN",
                                     b"251 queue started", b"221 bye")
    yield smtp_prefix() + crlf(b"220 old", b"502 what", b"250 hi", b"250 ok",
                               b"250 ok", b"354 go", b"250 ok", b"221 bye")
    yield smtp_prefix(a=4 | 8 | 16, auth=4) + crlf(
        b"220 mx", b"250-mx", b"250 AUTH XOAUTH2 OAUTHBEARER",
        b"535 5.7.8 bad token", b"334 eyJzdGF0dXMiOiI0MDEifQ==",
        b"535 5.7.139 disabled", b"221 bye")


def smtpd():
    yield b"\x00" + cuts() + crlf(
        b"EHLO client.example", b"MAIL FROM:<a@example.org>",
        b"RCPT TO:<b@example.org>", b"DATA", b"Subject: hi", b"",
        b"..leading dot", b"body", b".", b"QUIT")
    yield b"\x01" + cuts(1, 2, 9) + crlf(
        b"HELO c", b"NOOP", b"HELP", b"VRFY root", b"RSET",
        b"MAIL FROM:<> BODY=8BITMIME", b"RCPT TO:<x@example.org> NOTIFY=NEVER",
        b"RCPT TO:<bad address>", b"DATA", b"x", b".", b"QUIT")
    yield b"\x02" + cuts(4) + b"ehlo x\nmail from:<a@b>\nrcpt to:<c@d>\ndata\nbare lf\n.\nquit\n"
    yield b"\x00" + cuts() + crlf(b"DATA", b"RCPT TO:<a@b>", b"STARTTLS",
                                  b"AUTH PLAIN", b"BDAT 10 LAST", b"X" * 5000)
    yield b"\x05" + cuts(3) + crlf(
        b"EHLO c", b"MAIL FROM:<\xc3\xa9@example.org> SMTPUTF8",
        b"RCPT TO:<b@example.org>", b"RCPT TO:<b@example.org>", b"DATA",
        b"\xc3\xa9t\xc3\xa9", b".", b"MAIL FROM:<a@b>", b"RCPT TO:<c@d>",
        b"DATA", b"second", b".", b"QUIT")


CONF_SYS = b"""# system file
defaults
port 587
tls on
tls_starttls on
tls_trust_file system
logfile /var/log/msmtp.log
syslog LOG_MAIL
aliases /etc/aliases

account relay
host relay.example.org
from %U@%H
domain %C
auth off
"""
CONF_USER = b"""defaults
timeout 30
dsn_notify failure,delay
dsn_return headers
set_from_header auto
queue tempfail
queue_lifetime 3d

account base
host smtp.example.org
user joe
passwordeval echo secret
from joe@example.org
auth on

account work : base
host mail.work.example
port 465
tls_starttls off
from *@work.example
tls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33
eval echo user worker

account oauth
host smtp.office365.com
from me@example.com
oauth2_provider microsoft
oauth2_client_id 11111111-2222-3333-4444-555555555555
oauth2_tenant common
oauth2_token_store keyring

account lmtp
protocol lmtp
socket /run/dovecot/lmtp
proxy_host 127.0.0.1
proxy_port 1080

account default : work
"""


def conf():
    yield b"\x00" + CONF_SYS + b"\x00" + CONF_USER
    yield b"\x03\x00" + CONF_USER.replace(b"\n", b"\r\n")
    yield b"\x01\x00account a\nhost h\npassword p\nfrom a@b\naccount default : a\n"
    yield (b"\x00\x00host x\neval eval echo port 2525\n"
           b"eval sleep 9\neval fail\nmaildomain example.org\nauto_from on\n")
    # unknown commands near known ones: the "did you mean" hint
    yield b"\x00\x00account a\nHsot h\ntls_startls on\nacount b\n"


def cli():
    def args(name, *a):
        return bytes([name]) + b"\x00".join(a)
    yield args(1, b"-t", b"-i", b"-f", b"root@example.org", b"-F", b"Cron Daemon")
    yield args(0, b"-a", b"work", b"--host=smtp.example.org", b"--port=587",
               b"--tls=on", b"--auth=plain", b"--user=joe", b"--", b"a@b.example")
    yield args(2, b"--json")
    yield args(1, b"-bs")
    yield args(1, b"-qRexample.org", b"-v")
    yield args(0, b"--queue-remove=" + QID)
    yield args(1, b"-X", b"/tmp/log", b"-oem", b"-oi", b"-odi", b"-B8BITMIME",
               b"user1", b"user2")
    yield args(0, b"-d0.1", b"-C", b"/etc/msmtprc", b"-P", b"--read-envelope-from",
               b"--dsn-notify=failure,delay", b"--dsn-return=full", b"x@y")
    yield args(3)
    yield args(0, b"--rmqs=@example.org", b"--serverinfo", b"--port=99999")
    # hints: a long option near a known one, an option after a recipient
    yield args(0, b"--tls-startls=off", b"a@b")
    yield args(0, b"a@b", b"-a", b"work")


def msg():
    yield b"\x00\x00" + crlf(b"From: Joe <joe@example.org>",
                             b"To: a@example.org, \"B, Jr\" <b@example.org>",
                             b"Cc: group: c@example.org, d@example.org;",
                             b"Bcc: secret@example.org", b"Subject: hello",
                             b"  folded", b"", b"body", b".", b"end")
    yield b"\x7d\x0b" + b"Subject: no separator\nTo: x@y\n body-looking\nnot a header line\n"
    yield b"\x43\x09" + crlf(b"Resent-From: r@example.org", b"Resent-To: rt@example.org",
                             b"From: f@example.org", b"To: t@example.org", b"",
                             b"x")
    yield b"\x02\x00" + b"To: a@b\n\nline\n.\nafter dot\n"
    yield b"\x14\x06" + b" starts with a space\nFrom: x@y\n\nbody\r\rbare\n"
    yield b"\x01\x1b" + b"X-8bit: \xc3\xa9t\xc3\xa9\nTo: =?utf-8?B?w6k=?= <e@example.org>\n\n\x00nul\n"


def addr():
    yield b"John Doe <john@example.org>, k@example.net"
    yield b"undisclosed-recipients:;"
    yield b"team: a@x.example, (comment) b@y.example (c);, \"quoted, name\" <q@z.example>"
    yield b"=?utf-8?B?SsO2cmc=?= <j@b\xc3\xbccher.example>, \xc3\xa9@example.org"
    yield b"<@route.example,@r2.example:c@d.example>, root, \"a b\"@example.org"
    yield b"a@example.org,\r\n b@example.org,,\n\tc@[192.0.2.1]"


def dispname():
    yield b"Joe User"
    yield b"J\xc3\xb6rg M\xc3\xbcller"
    yield b"Smith, John \"Jack\" (the boss)"
    yield "日本語の名前はとても長いのでいくつかのエンコードされた単語に分割されます".encode()
    yield b"back\\slash"
    yield b"\xff\xfe invalid \xc3"


def aliases():
    yield (b"root joe postmaster\x00# aliases\nroot: joe@example.org\n"
           b"joe: a@example.org, b@example.org\ndefault: fallback@example.org\n")
    yield b"a b\x00a: b\nb: a\nc: \"Name\" <c@example.org>\n\n# end\n"
    yield b"x\x00x: y, z\ny: x\nz: w@example.org\nbad line without colon\n"


def netrc():
    yield (b"\x00machine smtp.example.org login joe password s3cret\n"
           b"default login anon password guest\n")
    yield b"\x04machine smtp.example.org\n  login joe\n  password \"with space\\\"q\"\n"
    yield b"\x11macdef init\ncd /\n\nmachine SMTP.Example.Org login a password b"
    yield b"\x0cmachine x login joe@example.org password p,q machine x login y password z"


def queue_env():
    env = (b"msmtp-queue-envelope 1\nid " + QID + b"\naccount work\n"
           b"from a@example.org\nconfig /home/joe/.msmtprc\n"
           b"dsn-notify failure,delay\ndsn-return headers\n"
           b"queued 1767322000\nnext 1767322300\nattempts 2\nsize 1234\n"
           b"maybe-duplicate 0\nlast-error 451%204.3.0%20try%20again\n"
           b"rcpt pending b@example.org\n"
           b"rcpt delivered c@example.org 250%202.0.0%20ok\n"
           b"rcpt failed d@example.org 550%20no%20such%20user\nEND\n")
    yield b"\x00" + env
    yield (b"\x00msmtp-queue-envelope 1\nid " + QID + b"\naccount a%20b\n"
           b"from %00\nqueued 0\nnext 0\nattempts 0\nsize 0\nmaybe-duplicate 1\n"
           b"rcpt pending \xc3\xa9@example.org\nEND\n")
    yield (b"\x01msmtp-queue-invalid 1\nid " + QID + b"\nqueued 5\n"
           b"last-error invalid%20envelope:%20line%203\nEND\n")


def oauth():
    yield (b"\x00{\"token_type\":\"Bearer\",\"scope\":\"https://outlook.office.com/SMTP.Send\","
           b"\"expires_in\":3599,\"access_token\":\"eyJ0eXAiOiJKV1QifQ.x.y\","
           b"\"refresh_token\":\"0.AAAA-refresh\"}")
    yield b"\x01{\"access_token\":\"ya29.a0\",\"expires_in\":\"3600\"}"
    yield (b"\x02{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70000: "
           b"The provided grant has expired.\\r\\nTrace ID: 1\"}")
    yield b"\x03{\"error\":\"invalid_client\"}"
    yield b"\x05<html>Service Unavailable</html>"
    yield b"\x00{\"access_token\":\"a\\u0000b\",\"refresh_token\":\"\"}"
    yield (b"\x08{\"device_code\":\"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS\","
           b"\"user_code\":\"WDJB-MJHT\",\"verification_uri\":\"https://example.com/device\","
           b"\"expires_in\":1800,\"interval\":5}")
    yield (b"\x08{\"device_code\":\"d\",\"user_code\":\"U\","
           b"\"verification_url\":\"https://www.google.com/device\",\"interval\":\"0\"}")
    yield b"\x0a{\"error\":\"invalid_client\",\"error_description\":\"AADSTS700016\"}"


def oauth_store():
    yield (b"\x00{\"version\":1,\"account\":\"fuzz\",\"access_token\":\"at-1\","
           b"\"refresh_token\":\"rt-1\",\"expires_at\":1767322000}\n")
    yield b"\x01{\"version\":1,\"account\":\"work mail\",\"refresh_token\":\"r\"}"
    yield b"\x02{\"version\":1,\"account\":\"fuzz\",\"expires_at\":-1}"
    yield b"\x00{\"version\":2}"
    yield b"\x00{\"version\":1,\"account\":\"fuzz\",\"access_token\":\"x\\u00e9\"} trailing"


def socks():
    ok4 = b"\x05\x00" + b"\x05\x00\x00\x01\xc0\x00\x02\x01\x00\x19"
    yield b"\x00\x00\x19" + cuts() + ok4 + b"220 banner\r\n"
    yield b"\x01\x02\x4b" + cuts(1) + b"\x05\x00\x05\x00\x00\x03\x07mx.test\x00\x19"
    yield b"\x02\x00\x19" + cuts(3) + b"\x05\x00\x05\x00\x00\x04" + bytes(16) + b"\x00\x19"
    yield b"\x03\x00\x19" + cuts() + b"\x05\x00\x05\x05\x00\x01" + bytes(6)
    yield b"\x05\x00\x19" + cuts() + b"\x05\x02"
    yield b"\x00\x00\x19" + cuts() + b"\x04\x5a"


def dataenc():
    yield cuts() + b"\x3f" + crlf(b"Subject: x", b"", b".leading dot", b"line",
                                  b".", b"end")
    yield cuts(1, 2) + b"\x00" + b"bare\rcr\nlf\r\n.\n..\r\rx"
    yield cuts() + b"\x07"
    yield cuts(5) + b"\xff" + b"."
    yield cuts(3) + b"\x01" + b"From: a@b\n\n" + b"long line " * 200 + b"\r"


def autoconfig_doc(*servers):
    body = b"".join(b'<outgoingServer type="smtp">' + x + b"</outgoingServer>"
                    for x in servers)
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">'
            b'<emailProvider id="example.org"><domain>example.org</domain>'
            b'<incomingServer type="imap"><hostname>imap.example.org</hostname>'
            b'<port>993</port><socketType>SSL</socketType></incomingServer>'
            + body + b"</emailProvider></clientConfig>\n")


def autoconfig_server(host, port, sock, user=b"%EMAILADDRESS%",
                      auth=b"password-cleartext"):
    return (b"<hostname>" + host + b"</hostname><port>" + port + b"</port>"
            b"<socketType>" + sock + b"</socketType><authentication>" + auth
            + b"</authentication><username>" + user + b"</username>")


def autoconfig():
    yield autoconfig_doc(autoconfig_server(b"smtp.example.org", b"465", b"SSL"))
    yield autoconfig_doc(autoconfig_server(b"plain.example.org", b"25", b"plain"),
                         autoconfig_server(b"sub.example.org", b"587", b"STARTTLS",
                                           b"%EMAILLOCALPART%", b"OAuth2"),
                         autoconfig_server(b"smtp.%EMAILDOMAIN%", b"465", b"SSL"))
    yield autoconfig_doc(autoconfig_server(b"smtp.example.org&#10;passwordeval x",
                                           b"465", b"SSL"))
    yield autoconfig_doc(autoconfig_server(b"smtp.example.org", b"99999", b"SSL"))
    yield (b'<?xml version="1.0"?><!DOCTYPE clientConfig [<!ENTITY a "x">]>'
           b"<clientConfig>&a;</clientConfig>")
    yield b"<clientConfig><emailProvider>"


def dns_name(text):
    out = b""
    for label in text.split(b"."):
        if label:
            out += bytes([len(label)]) + label
    return out + b"\0"


def dns_answer(qname, qtype, rdatas):
    head = bytes([0x12, 0x34, 0x81, 0x80, 0, 1, 0, len(rdatas), 0, 0, 0, 0])
    q = dns_name(qname) + bytes([0, qtype, 0, 1])
    ans = b""
    for rd in rdatas:
        ans += b"\xc0\x0c" + bytes([0, qtype, 0, 1, 0, 0, 1, 0x2c,
                                    len(rd) >> 8, len(rd) & 255]) + rd
    return head + q + ans


def dnsanswer():
    srv = b"_submissions._tcp.example.org"
    yield b"\x00" + dns_answer(srv, 33, [
        b"\x00\x0a\x00\x05\x01\xd1" + dns_name(b"smtp.example.org"),
        b"\x00\x05\x00\x01\x01\xd1" + dns_name(b"smtp2.example.org")])
    yield b"\x02" + dns_answer(srv, 33, [b"\x00\x00\x00\x00\x00\x00\x00"])
    yield b"\x04" + dns_answer(srv, 33, [
        b"\x00\x00\x00\x00\x01\xd1" + dns_name(b"smtp\npasswordeval.example.org")])
    yield b"\x01" + dns_answer(b"example.org", 15, [
        b"\x00\x0a" + dns_name(b"aspmx.l.google.com"),
        b"\x00\x05\xc0\x0c"])
    yield b"\x03" + dns_answer(b"example.org", 15, [b"\x00\x00\x00"])


def main():
    gens = dict(reply=reply, smtp=smtp, smtpd=smtpd, conf=conf, cli=cli,
                msg=msg, addr=addr, dispname=dispname, aliases=aliases,
                netrc=netrc, queue_env=queue_env, oauth=oauth,
                oauth_store=oauth_store, socks=socks, dataenc=dataenc,
                autoconfig=autoconfig, dnsanswer=dnsanswer)
    only = sys.argv[1:] or list(gens)
    for name in only:
        d = os.path.join(HERE, "corpus", name)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.unlink(os.path.join(d, old))
        for i, data in enumerate(gens[name]()):
            with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
