#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bs_test.py - `sendmail -bs`: the real binary speaking SMTP on its
standard input and output, each message relayed to a fakesmtp smarthost.

Dialogues are written the way the callers that use -bs write them (step by
step like Symfony Mailer, or in one burst), the replies are checked code by
code, stderr must stay empty, the exit status is 0 after QUIT, and the
smarthost must receive the very message bytes.  The last case runs the real
Symfony Mailer from Debian when php and php-symfony-mailer are installed.
Prints PASS/FAIL per case and "N passed, N failed"."""
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fakesmtp  # noqa: E402
from casekit import Failure, Skip, expect, free_port, run_cases, wrapped  # noqa: E402,E501
from casekit import delivered_bodies as bodies  # noqa: E402

MSMTP = None


class Env:
    def __init__(self, port, extra=""):
        self.home = tempfile.mkdtemp(prefix="msmtp-bs-")
        self.log = os.path.join(self.home, "msmtp.log")
        self.rc = os.path.join(self.home, ".msmtprc")
        self.write("account default\nhost 127.0.0.1\nport %d\n"
                   "from alice@example.org\nlogfile %s\n%s\n"
                   % (port, self.log, extra))

    def write(self, text):
        with open(self.rc, "w") as f:
            f.write(text)
        os.chmod(self.rc, 0o600)

    def environ(self, **extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": self.home, "LC_ALL": "C", "TMPDIR": self.home}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra)
        return env

    def burst(self, data, args=("-bs",), **env):
        p = subprocess.run([MSMTP] + list(args), input=data,
                           capture_output=True, env=self.environ(**env),
                           timeout=60)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


class Session:
    """A -bs process driven step by step: each command waits for its
    reply, as Symfony Mailer does."""

    def __init__(self, env, args=("-bs",), **extra):
        self.p = subprocess.Popen([MSMTP] + list(args), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  env=env.environ(**extra))
        self.buf = b""

    def reply(self, timeout=30):
        """One whole reply (all its lines) -> (code, text)."""
        lines = []
        deadline = time.monotonic() + timeout
        while True:
            while b"\r\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure("no reply (have %r)" % self.buf)
                r, _, _ = select.select([self.p.stdout], [], [], left)
                if r:
                    chunk = os.read(self.p.stdout.fileno(), 65536)
                    if not chunk:
                        raise Failure("the session ended; have %r"
                                      % self.buf)
                    self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode(errors="replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def cmd(self, line, want):
        self.send(line.encode() + b"\r\n")
        code, text = self.reply()
        expect(code == want, "%s -> %s (want %d)" % (line, text, want))
        return text

    def finish(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        err = self.p.stderr.read()
        self.p.wait(30)
        return self.p.returncode, err


def smarthost(*directives):
    script = fakesmtp.Script(["connections 10"] + list(directives))
    return fakesmtp.FakeSMTPServer(script).start()


MESSAGE = (b"From: alice@example.org\r\nTo: bob@example.net\r\n"
           b"Subject: -bs\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <bs@example.org>\r\n\r\nline one\r\n"
           b"..a stuffed dot\r\n" + b"x" * 5000 + b"\r\nlast\r\n")
# what the smarthost stores: the unstuffed message, stuffed again on the
# wire, with the final dot
WIRE = MESSAGE + b".\r\n"


def stuffed(msg):
    return msg   # MESSAGE above is already in its stuffed form


# ---------------------------------------------------------------- cases

def case_symfony_style_dialogue():
    """Step by step: 220, EHLO, MAIL 250, RCPT 250, DATA 354, the body
    ending in CRLF.CRLF -> 250 carrying the smarthost's 'queued as',
    NOOP, QUIT 221; exit 0, stderr empty; the smarthost got the bytes."""
    srv = smarthost("reply EOD 250 2.0.0 Ok: queued as 4SmartHostId")
    env = Env(srv.port)
    try:
        s = Session(env)
        code, text = s.reply()
        expect(code == 220, "greeting %r" % text)
        ehlo = s.cmd("EHLO [127.0.0.1]", 250)
        for kw in ("PIPELINING", "8BITMIME", "SMTPUTF8",
                   "ENHANCEDSTATUSCODES"):
            expect(kw in ehlo, "EHLO lacks %s: %r" % (kw, ehlo))
        expect("SIZE" not in ehlo and "AUTH" not in ehlo, "EHLO %r" % ehlo)
        s.cmd("MAIL FROM:<alice@example.org>", 250)
        s.cmd("RCPT TO:<bob@example.net>", 250)
        s.cmd("DATA", 354)
        s.send(MESSAGE + b".\r\n")
        code, text = s.reply()
        expect(code == 250 and "queued as 4SmartHostId" in text,
               "end of data -> %r" % text)
        s.cmd("NOOP", 250)
        s.cmd("QUIT", 221)
        rc, err = s.finish()
        expect(rc == 0 and err == b"", "exit %d stderr %r" % (rc, err))
        srv.wait_idle(3)
        expect(bodies(srv) == [WIRE], "the smarthost got %r"
               % [b[:60] for b in bodies(srv)])
    finally:
        srv.stop()
        env.cleanup()


def case_laravel_burst_two_messages():
    """`-bs -i`, everything written in one burst: HELO, two messages with an
    RSET between them, QUIT; replies in order; both relayed."""
    srv = smarthost()
    env = Env(srv.port)
    try:
        burst = (b"HELO [127.0.0.1]\r\nMAIL FROM:<alice@example.org>\r\n"
                 b"RCPT TO:<bob@example.net>\r\nDATA\r\n" + MESSAGE
                 + b".\r\nRSET\r\nMAIL FROM:<alice@example.org>\r\n"
                 b"RCPT TO:<carol@example.net>\r\nRCPT TO:<dave@example.net>"
                 b"\r\nDATA\r\n" + MESSAGE + b".\r\nQUIT\r\n")
        rc, out, err = env.burst(burst, ("-bs", "-i"))
        codes = [ln[:3] for ln in out.split("\r\n") if ln]
        expect(codes == ["220", "250", "250", "250", "354", "250", "250",
                         "250", "250", "250", "354", "250", "221"],
               "replies %r" % codes)
        expect(rc == 0 and err == b"", "exit %d stderr %r" % (rc, err))
        srv.wait_idle(3)
        expect(bodies(srv) == [WIRE, WIRE], "relayed %d" % len(bodies(srv)))
        rcpts = [c for c in srv.commands() if c.startswith("RCPT")]
        expect(rcpts == ["RCPT TO:<bob@example.net>",
                         "RCPT TO:<carol@example.net>",
                         "RCPT TO:<dave@example.net>"], "rcpts %r" % rcpts)
    finally:
        srv.stop()
        env.cleanup()


def case_bad_addresses_and_order():
    """Bad addresses are refused at MAIL (553 5.1.7) and RCPT (553 5.1.3);
    commands out of order get 503; an unknown one 500; the session goes
    on and still relays a good message."""
    srv = smarthost()
    env = Env(srv.port)
    try:
        burst = (b"EHLO x\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"
                 b"MAIL FROM:<a b@example.org>\r\n"
                 b"MAIL FROM:<alice@example.org>\r\n"
                 b"RCPT TO:<bob@exa\xffmple.net>\r\nRCPT TO:<>\r\nDATA\r\n"
                 b"RCPT TO:<bob@example.net>\r\nFROB\r\nVRFY bob\r\n"
                 b"DATA\r\n" + MESSAGE + b".\r\nQUIT\r\n")
        rc, out, err = env.burst(burst)
        codes = [ln[:3] for ln in out.split("\r\n") if ln and ln[3] != "-"]
        expect(codes == ["220", "250", "503", "503", "553", "250", "553",
                         "553", "554", "250", "500", "252", "354", "250",
                         "221"], "replies %r" % codes)
        expect("5.1.7" in out and "5.1.3" in out, "enhanced codes %r" % out)
        expect(rc == 0 and err == b"", "exit %d stderr %r" % (rc, err))
        srv.wait_idle(3)
        expect(len(bodies(srv)) == 1, "relayed %d" % len(bodies(srv)))
    finally:
        srv.stop()
        env.cleanup()


def session_answer(env, recipients=("bob@example.net",), **extra):
    """One message through a fresh session -> the reply to its dot."""
    s = Session(env, **extra)
    s.reply()
    s.cmd("EHLO x", 250)
    s.cmd("MAIL FROM:<alice@example.org>", 250)
    for r in recipients:
        s.cmd("RCPT TO:<%s>" % r, 250)
    s.cmd("DATA", 354)
    s.send(MESSAGE + b".\r\n")
    answer = s.reply()
    s.cmd("QUIT", 221)
    rc, err = s.finish()
    expect(rc == 0 and err == b"", "exit %d stderr %r" % (rc, err))
    return answer


def case_smarthost_refusals_passed_on():
    """The smarthost's 4xx and 5xx at the end of data, and its refusal of a
    recipient, are what the caller gets at the dot."""
    for directive, want in (("reply EOD 451 4.3.0 try later", "451 4.3.0"),
                            ("reply EOD 554 5.7.1 spam", "554 5.7.1"),
                            ("reply-rcpt bob@example.net 550 5.1.1 no such "
                             "user", "550 5.1.1")):
        srv = smarthost(directive)
        env = Env(srv.port)
        try:
            code, text = session_answer(env)
            expect(text.startswith(want), "%s -> %r" % (directive, text))
        finally:
            srv.stop()
            env.cleanup()


def case_queue_on_and_off():
    """The smarthost unreachable: with `queue tempfail` the dot gets 250
    'queued as ID' (our queue id, durably stored); without, 451."""
    dead = free_port()
    env = Env(dead)
    try:
        code, text = session_answer(env)
        expect(code == 451 and "4.3.0" in text, "queue off: %r" % text)
        qdir = os.path.join(env.home, "queue")
        env.write("account default\nhost 127.0.0.1\nport %d\n"
                  "from alice@example.org\nqueue tempfail\nqueue_dir %s\n"
                  % (dead, qdir))
        code, text = session_answer(env)
        m = re.search(r"queued as (\S+)", text)
        expect(code == 250 and m, "queue on: %r" % text)
        expect(os.path.exists(os.path.join(qdir, m.group(1) + ".env")),
               "no entry %s" % m.group(1))
    finally:
        env.cleanup()


def case_config_error_greeting():
    """A configuration that cannot work: a 554 5.3.5 greeting naming the
    problem, exit 78, nothing on stderr."""
    env = Env(1)
    try:
        env.write("account default\nhost 127.0.0.1\nport 99999\n")
        rc, out, err = env.burst(b"EHLO x\r\nQUIT\r\n")
        expect(re.match(r"554 5\.3\.5 \S+ .*port", out), "greeting %r" % out)
        expect(rc == 78 and err == b"", "exit %d stderr %r" % (rc, err))
    finally:
        env.cleanup()


def case_idle_client_421():
    """A silent client gets 421 after the idle time (5 minutes; shortened
    here through MSMTP_BS_IDLE_TIMEOUT) and the process ends."""
    env = Env(1)
    try:
        s = Session(env, MSMTP_BS_IDLE_TIMEOUT="1")
        s.reply()
        start = time.monotonic()
        code, text = s.reply(timeout=10)
        expect(code == 421 and "4.4.2" in text, "after silence %r" % text)
        expect(time.monotonic() - start < 9, "too late")
        rc, err = s.finish()
        expect(err == b"", "stderr %r" % err)
    finally:
        env.cleanup()


def case_client_hangs_up_unread():
    """A client that stops reading: before the greeting nothing is lost
    (exit 0, however the race between its close and the greeting ends);
    in the middle of a transaction the reply that cannot be written ends
    it as temporary (75), nothing sent, stderr empty either way."""
    srv = smarthost()
    env = Env(srv.port)
    try:
        rd, wr = os.pipe()
        os.close(rd)                # gone before the greeting
        p = subprocess.run([MSMTP, "-bs"], input=b"", stdout=wr,
                           stderr=subprocess.PIPE, env=env.environ(),
                           timeout=60)
        os.close(wr)
        expect(p.returncode == 0 and p.stderr == b"",
               "hung up at the greeting: exit %d stderr %r"
               % (p.returncode, p.stderr))
        s = Session(env)
        s.reply()
        s.cmd("EHLO client.test", 250)
        s.cmd("MAIL FROM:<alice@example.org>", 250)
        s.p.stdout.close()          # stops reading mid-transaction
        s.send(b"RCPT TO:<bob@example.net>\r\n")
        rc, err = s.finish()
        expect(rc == 75 and err == b"", "hung up after MAIL: exit %d "
               "stderr %r" % (rc, err))
        with open(env.log, errors="replace") as f:
            log = f.read()
        expect("middle of a message" in log, "log %r" % log[-300:])
        expect(bodies(srv) == [], "relayed %d" % len(bodies(srv)))
    finally:
        srv.stop()
        env.cleanup()


def case_debug_goes_to_the_log():
    """--debug under -bs: stdout holds SMTP replies only, the transcript and
    warnings go to the account's log file."""
    srv = smarthost()
    env = Env(srv.port)
    try:
        burst = (b"EHLO x\r\nMAIL FROM:<alice@example.org>\r\n"
                 b"RCPT TO:<bob@example.net>\r\nDATA\r\n" + MESSAGE
                 + b".\r\nQUIT\r\n")
        rc, out, err = env.burst(burst, ("-d", "-bs"))
        expect(rc == 0 and err == b"", "exit %d stderr %r" % (rc, err))
        expect(all(re.match(r"\d\d\d[ -]", ln) for ln in out.split("\r\n")
                   if ln), "stdout is not SMTP only: %r" % out[:300])
        with open(env.log) as f:
            log = f.read()
        expect("--> MAIL FROM:<alice@example.org>" in log
               and "recipients=bob@example.net" in log, "log %r" % log[:400])
    finally:
        srv.stop()
        env.cleanup()


SYMFONY = r"""<?php
require '/usr/share/php/Symfony/Component/Mailer/autoload.php';
require '/usr/share/php/Symfony/Component/Mime/autoload.php';
use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mailer\Transport\SendmailTransport;
use Symfony\Component\Mime\Email;
$transport = new SendmailTransport($argv[1]);
$mailer = new Mailer($transport);
foreach (['bob@example.net', 'carol@example.net'] as $i => $to) {
    $mailer->send((new Email())->from('alice@example.org')->to($to)
        ->subject("symfony $i")->text("Hello from Symfony $i.\n.leading dot\n"));
}
echo "sent\n";
"""


def case_real_symfony_mailer():
    """Debian's Symfony Mailer with SendmailTransport given our -bs
    command: two messages through one process, both relayed."""
    if not shutil.which("php") or not os.path.exists(
            "/usr/share/php/Symfony/Component/Mailer/autoload.php"):
        raise Skip("php-cli and php-symfony-mailer are not installed")
    srv = smarthost()
    env = Env(srv.port)
    try:
        script = os.path.join(env.home, "send.php")
        with open(script, "w") as f:
            f.write(SYMFONY)
        counter = os.path.join(env.home, "starts")
        wrapper = os.path.join(env.home, "sendmail")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\necho start >> %s\nexec %s \"$@\"\n"
                    % (counter, MSMTP))
        os.chmod(wrapper, 0o755)
        p = subprocess.run(["php", script, wrapper + " -bs"],
                           capture_output=True, env=env.environ(), timeout=60)
        expect(p.returncode == 0 and b"sent" in p.stdout,
               "php: %d %r %r" % (p.returncode, p.stdout[-300:],
                                  p.stderr[-300:]))
        srv.wait_idle(3)
        got = bodies(srv)
        expect(len(got) == 2 and b"symfony 0" in got[0]
               and b"symfony 1" in got[1], "relayed %d" % len(got))
        with open(counter) as f:
            starts = f.read().count("start")
        expect(starts == 1, "%d processes for two messages" % starts)
    finally:
        srv.stop()
        env.cleanup()


CASES = [case_symfony_style_dialogue, case_laravel_burst_two_messages,
         case_bad_addresses_and_order, case_smarthost_refusals_passed_on,
         case_queue_on_and_off, case_config_error_greeting,
         case_idle_client_421, case_client_hangs_up_unread,
         case_debug_goes_to_the_log,
         case_real_symfony_mailer]


def main():
    global MSMTP
    MSMTP = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MSMTP")
    if not MSMTP or not os.access(MSMTP, os.X_OK):
        print("SKIP: binary not built")
        return 77
    MSMTP = wrapped(os.path.abspath(MSMTP))
    return run_cases(CASES, sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
