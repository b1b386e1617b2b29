#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""torture.py - allocation-failure torture: every allocation our own code
makes, made to fail one at a time, in representative runs of the binary.

usage: torture.py [--msmtp PATH] [--from-on] [--only N[,N...]] [--max N]
                  [-j N] [--keep] [SCENARIO...]

The binary must come from a torture build (./configure
--enable-alloc-torture, which also turns on ASan, UBSan and LeakSanitizer;
src/torture.h).  For each scenario the driver runs the binary once
undisturbed to learn how many allocations it makes (MSMTP_TORTURE_COUNT),
then once for each N = 1..count with MSMTP_TORTURE_FAIL=N (--from-on:
"N+", the N-th and every later allocation fail), each time with a fresh
HOME and fresh fake servers, and judges the run:

- no signal, no timeout, no sanitizer or leak report, the count file
  written (the process ended through exit);
- the exit status is one the scenario accepts (ACCEPTED below, each with
  its reason); 71 (EX_OSERR) must say "out of memory";
- stderr holds one "msmtp: ..." error line (plus at most one more
  "msmtp: ..." line, a warning or a note) when the exit status is not 0,
  nothing else; for -bs stderr stays empty (diagnostics go to the log);
- exit 0 means the complete message reached the server (or the queue holds
  a complete entry), and a message the server received completely means
  exit 0, unless the scenario documents otherwise;
- the queue holds no half-written entry: only ID.env + ID.msg pairs (tmp/
  and failed/ aside), no failed/*.env.invalid, and `msmtp -bp --json` (run
  undisturbed) lists every ID.env.

When MSMTP_TORTURE_FAIL=N is past the end of a run (the run took another
path), the run must be as good as the undisturbed one.

Output: one line per failing run, "FAIL scenario N=..: reason" with
details, a summary line per scenario (allocations, runs, exit statuses
seen), and finally "N passed, N failed" (scenarios).  Exit 0 when nothing
failed, 77 when the binary is not a torture build.  Python 3 standard
library only; reuses tests/integration/fakesmtp.py and
tests/servers/fakeoauth.py.
"""

import argparse
import base64
import collections
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tests", "servers"))
import fakesmtp  # noqa: E402
import fakeoauth  # noqa: E402
from casekit import delivered_bodies  # noqa: E402

DEFAULT_MSMTP = os.path.join(TOP, "src", "msmtp")
RUN_TIMEOUT = 60
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|"
                          r"runtime error: |==\d+== (Invalid|Conditional)|"
                          r"SUMMARY: (Address|Leak|Undefined)")
OOM_RE = re.compile(r"out of memory|Cannot allocate memory", re.I)
USER = "alice@example.org"
SECRET = "s3cret-pw"


def crlf(text):
    return text.replace(b"\n", b"\r\n")


def wire(msg):
    """What a server receives for a message sent with DATA: CRLF lines,
    dot-stuffing, the final dot."""
    lines = msg.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n"
                    for ln in lines) + b".\r\n"


def write_file(path, data, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.chmod(path, mode)


def rcpt_commands(srv):
    return [c for c in srv.commands() if c.upper().startswith("RCPT TO:")]


# ------------------------------------------------------------ one run

class Run:
    """One execution of the binary: its private directory, environment
    and what came out."""

    def __init__(self, driver, scenario, n):
        self.driver = driver
        self.scenario = scenario
        self.n = n                      # None: the undisturbed run
        self.top = tempfile.mkdtemp(prefix="msmtp-torture-%s-"
                                    % scenario.name)
        self.home = os.path.join(self.top, "home")
        self.tmp = os.path.join(self.top, "tmp")
        os.makedirs(self.tmp)
        self.count_file = os.path.join(self.top, "count")
        self.stack_file = os.path.join(self.top, "stack")
        self.problems = []
        self.notes = []
        self.servers = []
        self.exit = None
        self.stdout = b""
        self.stderr = b""
        self.count = None
        self.injected = None
        self.timed_out = False
        self.where = ""

    def fail(self, reason):
        self.problems.append(reason)

    def note(self, what):
        self.notes.append(what)

    def environ(self, torture=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": self.home, "TMPDIR": self.tmp, "LC_ALL": "C",
               "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
               "XDG_STATE_HOME": os.path.join(self.home, ".state"),
               "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:"
                               "allocator_may_return_null=1",
               "UBSAN_OPTIONS": "print_stacktrace=1",
               "LSAN_OPTIONS": "suppressions=%s:print_suppressions=0"
                               % os.path.join(HERE, "lsan.supp")}
        if torture:
            env["MSMTP_TORTURE_COUNT"] = self.count_file
            env["MSMTP_TORTURE_LOG"] = self.stack_file
            if self.n is not None:
                env["MSMTP_TORTURE_FAIL"] = "%d%s" % (
                    self.n, "+" if self.driver.from_on else "")
        return env

    def msmtp(self, args, stdin=b"", torture=False, timeout=RUN_TIMEOUT):
        """A helper run (setup or inspection): never tortured."""
        p = subprocess.run([self.driver.msmtp] + list(args), input=stdin,
                           capture_output=True, env=self.environ(torture),
                           cwd=self.home, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def execute(self, args, stdin=b"", interact=None):
        """The run under test.  interact(proc) drives stdin/stdout itself
        (the -bs session); otherwise stdin is fed and stdout collected."""
        proc = subprocess.Popen([self.driver.msmtp] + list(args),
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.environ(),
                                cwd=self.home, start_new_session=True)
        try:
            if interact is not None:
                self.stdout = interact(proc)
                proc.stdin.close()
                self.stderr = proc.stderr.read()
                proc.wait(RUN_TIMEOUT)
            else:
                self.stdout, self.stderr = proc.communicate(
                    stdin, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            out, err = proc.communicate()
            self.stdout += out or b""
            self.stderr += err or b""
        self.exit = proc.returncode
        for srv in self.servers:
            srv.wait_idle(3)
        self._read_count()

    def _read_count(self):
        try:
            with open(self.count_file) as f:
                words = f.read().split()
            self.count, self.injected = int(words[0]), words[1] == "1"
        except (OSError, ValueError, IndexError):
            self.count = self.injected = None

    def stack(self):
        try:
            with open(self.stack_file) as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        for srv in self.servers:
            srv.stop()
        if not self.driver.keep:
            shutil.rmtree(self.top, ignore_errors=True)


# ------------------------------------------------------------ the checks

def check_common(run, clean):
    """What every run must satisfy, whatever the scenario."""
    sc = run.scenario
    err = run.stderr.decode("utf-8", "replace")
    if run.timed_out:
        run.fail("timed out after %d s" % RUN_TIMEOUT)
    if run.exit is not None and run.exit < 0:
        run.fail("killed by signal %d" % -run.exit)
    if SANITIZER_RE.search(err):
        run.fail("sanitizer report on stderr")
    if run.count is None:
        run.fail("no count file: the process did not end through exit()")
    if run.exit not in sc.accepted:
        run.fail("exit %s is not one of %s" % (run.exit,
                                               sorted(sc.accepted)))
    lines = err.split("\n")[:-1] if err else []
    if err and not err.endswith("\n"):
        run.fail("stderr does not end with a newline")
    if sc.quiet_stderr:
        if err and not SANITIZER_RE.search(err):
            run.fail("stderr is not empty")
    else:
        bad = [ln for ln in lines if not ln.startswith("msmtp: ")]
        if bad and not SANITIZER_RE.search(err):
            run.fail("stderr line not 'msmtp: message': %r" % bad[0])
        if run.exit not in (0, None) and not 1 <= len(lines) <= 2:
            run.fail("%d stderr lines for a failure (want one error line, "
                     "at most one more)" % len(lines))
        if run.exit == 0 and len(lines) > sc.max_ok_lines:
            run.fail("%d stderr lines for a success" % len(lines))
    if run.exit == 71 and not OOM_RE.search(sc.error_text(run)):
        run.fail("exit 71 without 'out of memory' in the error")
    if run.exit == 71 and run.injected is False:
        run.fail("exit 71 but no allocation failure was injected")
    if run.injected is False and clean is not None \
            and run.exit != clean.exit:
        run.fail("nothing was injected, yet the exit is %s (undisturbed: "
                 "%s)" % (run.exit, clean.exit))
    for srv in run.servers:
        for e in srv.all_errors():
            if not sc.server_error_ok(e):
                run.fail("server: %s" % e)


def check_queue(run, qdir):
    """No half-written entry: ID.env and ID.msg in pairs, tmp/ and
    failed/ aside; nothing moved to failed/ as invalid; every ID.env
    listed by an undisturbed `msmtp -bp --json`.  Returns the ids."""
    if not os.path.isdir(qdir):
        return []
    names = os.listdir(qdir)
    envs = {n[:-4] for n in names if n.endswith(".env")}
    msgs = {n[:-4] for n in names if n.endswith(".msg")}
    for n in names:
        if n in ("tmp", "failed", ".lock") or n[-4:] in (".env", ".msg"):
            continue
        run.fail("queue: unexpected file %s" % n)
    for i in sorted(envs - msgs):
        run.fail("queue: %s.env without its message" % i)
    for i in sorted(msgs - envs):
        run.fail("queue: %s.msg without its envelope (half-written)" % i)
    failed = os.path.join(qdir, "failed")
    if os.path.isdir(failed):
        for n in os.listdir(failed):
            if n.endswith(".invalid"):
                run.fail("queue: failed/%s (an entry was invalid)" % n)
    if envs:
        code, out, err = run.msmtp(["-bp", "--json"])
        listed = set()
        for line in out.decode("utf-8", "replace").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                run.fail("mailq --json: not JSON: %r" % line)
                continue
            if obj.get("state") == "queued":
                listed.add(obj.get("id"))
        if code != 0:
            run.fail("mailq after the run: exit %d %r" % (code, err))
        for i in sorted(envs - listed):
            run.fail("queue: %s.env is not listed by mailq" % i)
        if os.path.isdir(failed):
            for n in os.listdir(failed):
                if n.endswith(".invalid"):
                    run.fail("queue: mailq found %s invalid" % n)
    return sorted(envs & msgs)


# ------------------------------------------------------------ scenarios

class Scenario:
    """A representative run.  accepted: exit status -> why it is right."""
    name = ""
    accepted = {0: "delivered", 71: "out of memory (EX_OSERR)"}
    quiet_stderr = False
    max_ok_lines = 1    # a warning (e.g. the log could not be written)

    def __init__(self, driver):
        self.driver = driver

    def setup(self, run):
        raise NotImplementedError

    def execute(self, run):
        raise NotImplementedError

    def judge(self, run, clean):
        raise NotImplementedError

    def error_text(self, run):
        return run.stderr.decode("utf-8", "replace")

    def server_error_ok(self, text):
        return False

    def smtp(self, run, *directives):
        srv = fakesmtp.FakeSMTPServer(fakesmtp.Script(
            ["connections 10"] + list(directives))).start()
        run.servers.append(srv)
        return srv


MESSAGE = (b"From: Alice <alice@example.org>\nTo: bob@example.net\n"
           b"Subject: torture\nDate: Sat, 28 Nov 2026 10:00:00 +0000\n"
           b"Message-ID: <torture@example.org>\n\nline one\n.a dot\n"
           + b"x" * 3000 + b"\nlast line\n")


class SendTlsAuth(Scenario):
    """One message to two recipients over STARTTLS with AUTH PLAIN, the
    certificate checked against the test CA, a log file written."""
    name = "send-tls-auth"

    def setup(self, run):
        srv = self.smtp(run, "starttls good", "auth-user %s %s"
                        % (USER, SECRET),
                        "caps PIPELINING,8BITMIME,SIZE 10240000,STARTTLS,"
                        "ENHANCEDSTATUSCODES,AUTH PLAIN LOGIN")
        write_file(os.path.join(run.home, ".msmtprc"),
                   "defaults\nlogfile %s/msmtp.log\n\n"
                   "account tls\nhost 127.0.0.1\nport %d\n"
                   "tls on\ntls_starttls on\ntls_trust_file %s/ca.pem\n"
                   "auth plain\nuser %s\npassword %s\nfrom %s\n\n"
                   "account default : tls\n"
                   % (run.home, srv.port, self.driver.pki, USER, SECRET,
                      USER))
        self.srv = srv

    def execute(self, run):
        run.execute(["bob@example.net", "carol@example.net"], MESSAGE)

    def judge(self, run, clean):
        srv = run.servers[0]
        got = delivered_bodies(srv)
        if run.exit == 0:
            if got != [wire(MESSAGE)]:
                run.fail("exit 0 but the server has %d complete messages "
                         "(want the message once)" % len(got))
            if not all(r.tls for r in srv.records if r.commands):
                run.fail("a session without TLS")
        elif got:
            run.fail("exit %s but the server received the message"
                     % run.exit)
        for rec in srv.records:
            if rec.commands and any(c.upper().startswith("AUTH")
                                    for c in rec.commands) and not rec.tls:
                run.fail("AUTH before TLS")
        check_queue(run, os.path.join(run.home, ".state", "msmtp", "queue"))


ALIASES = ("# torture aliases\nteam: bob@example.net, carol\n"
           "carol: carol@example.net\ndefault: postmaster@example.net\n")
T_MESSAGE = (b"From: alice@example.org\nTo: team, dave@example.net\n"
             b"Cc: Carol <carol>\nBcc: eve@example.net\n"
             b"Subject: -t with aliases\n"
             b"Date: Sat, 28 Nov 2026 10:00:00 +0000\n"
             b"Message-ID: <t@example.org>\n\nbody\n")
T_RCPTS = ["bob@example.net", "carol@example.net", "dave@example.net",
           "eve@example.net"]


class DashTAliases(Scenario):
    """sendmail -t -i: recipients from To/Cc/Bcc through an aliases
    file, Bcc removed from what is sent."""
    name = "dash-t-aliases"

    def setup(self, run):
        srv = self.smtp(run)
        write_file(os.path.join(run.home, "aliases"), ALIASES)
        write_file(os.path.join(run.home, ".msmtprc"),
                   "account default\nhost 127.0.0.1\nport %d\n"
                   "from alice@example.org\naliases %s/aliases\n"
                   % (srv.port, run.home))

    def execute(self, run):
        run.execute(["-t", "-i"], T_MESSAGE)

    def judge(self, run, clean):
        srv = run.servers[0]
        got = delivered_bodies(srv)
        if run.exit == 0:
            if clean is not None and got != delivered_bodies(
                    clean.servers[0]):
                run.fail("exit 0 but the server received something else "
                         "than the undisturbed run's message")
            rcpts = sorted(re.sub(r"^RCPT TO:<([^>]*)>.*", r"\1", c, flags=re.I)
                           for c in rcpt_commands(srv))
            if rcpts != T_RCPTS:
                run.fail("exit 0 but the recipients were %r" % rcpts)
            if any(b"\nBcc:" in b or b.startswith(b"Bcc:") for b in got):
                run.fail("Bcc sent")
        elif got:
            run.fail("exit %s but the server received the message"
                     % run.exit)


def q_message(n):
    return (b"From: alice@example.org\nTo: r%d@example.net\n"
            b"Subject: queued %d\nDate: Sat, 28 Nov 2026 10:00:00 +0000\n"
            b"Message-ID: <q%d@example.org>\n\nBody %d.\n" % (n, n, n, n))


class QueueRun(Scenario):
    """msmtp -q over a queue of two entries: the server takes the first
    (r1) and answers 451 to the recipient of the second (r2), which stays
    queued with the attempt recorded."""
    name = "queue-run"
    accepted = {0: "one delivered, one deferred (the run itself worked)",
                71: "out of memory (EX_OSERR); every entry is still "
                    "queued or was delivered and removed"}
    max_ok_lines = 2    # -q says how many are still queued; a warning

    def qdir(self, run):
        return os.path.join(run.home, "queue")

    def config(self, run, port):
        write_file(os.path.join(run.home, ".msmtprc"),
                   "defaults\nqueue tempfail\nqueue_dir %s\n\n"
                   "account default\nhost 127.0.0.1\nport %d\n"
                   "from alice@example.org\n" % (self.qdir(run), port))

    def setup(self, run):
        self.config(run, 9)       # nothing listens: only -odq is used
        for n in (1, 2):
            code, _, err = run.msmtp(["-odq", "r%d@example.net" % n],
                                     q_message(n))
            if code != 0:
                raise RuntimeError("queue setup: exit %d %r" % (code, err))
        self.before = sorted(
            (f[:-4] for f in os.listdir(self.qdir(run)) if f.endswith(".env")),
            key=lambda i: "r1@" not in self.envelope(run, i))
        srv = self.smtp(run, "reply-rcpt r2@example.net 451 4.2.0 later")
        self.config(run, srv.port)

    def execute(self, run):
        run.execute(["-q"])

    def judge(self, run, clean):
        srv = run.servers[0]
        got = delivered_bodies(srv)
        ids = check_queue(run, self.qdir(run))
        first, second = self.before
        if got not in ([], [wire(q_message(1))]):
            run.fail("the server received %d messages (want at most the "
                     "first, once)" % len(got))
        if got and first in ids:
            env = self.envelope(run, first)
            if "rcpt delivered" not in env and "maybe-duplicate 1" not in env:
                run.fail("the first entry was delivered but is still "
                         "queued as pending (it would be sent twice)")
        if not got and first not in ids:
            run.fail("the first entry is gone but was never delivered")
        if second not in ids:
            run.fail("the second entry (451) is gone")
        if run.exit == 0:
            if got != [wire(q_message(1))] or first in ids:
                run.fail("exit 0 but the first entry was not delivered "
                         "and removed")
            env = self.envelope(run, second) if second in ids else ""
            if "attempts 1" not in env:
                run.fail("exit 0 but the 451 attempt is not recorded")

    @staticmethod
    def envelope(run, i):
        try:
            with open(os.path.join(run.home, "queue", i + ".env")) as f:
                return f.read()
        except OSError:
            return ""


class SendQueued(Scenario):
    """queue tempfail: the server answers 451 to MAIL, so the message is
    stored in the queue (exit 0 and a note), the attempt recorded."""
    name = "send-queued"
    accepted = {0: "queued, said in a note on stderr",
                71: "out of memory (EX_OSERR); nothing queued, or the "
                    "complete entry"}

    def qdir(self, run):
        return os.path.join(run.home, "queue")

    def setup(self, run):
        srv = self.smtp(run, "reply MAIL 451 4.3.0 try again later")
        write_file(os.path.join(run.home, ".msmtprc"),
                   "defaults\nqueue tempfail\nqueue_dir %s\n\n"
                   "account default\nhost 127.0.0.1\nport %d\n"
                   "from alice@example.org\n" % (self.qdir(run), srv.port))

    def execute(self, run):
        run.execute(["bob@example.net", "carol@example.net"], MESSAGE)

    def judge(self, run, clean):
        ids = check_queue(run, self.qdir(run))
        err = run.stderr.decode("utf-8", "replace")
        if delivered_bodies(run.servers[0]):
            run.fail("the server took the message despite its 451")
        if run.exit == 0:
            if len(ids) != 1:
                run.fail("exit 0 but %d queue entries" % len(ids))
            elif "queued as %s" % ids[0] not in err:
                run.fail("exit 0 without the note naming entry %s" % ids[0])
            else:
                self.complete(run, ids[0])
        for i in ids if run.exit != 0 else ():
            self.complete(run, i)

    def complete(self, run, i):
        """The entry holds the whole message and both recipients."""
        with open(os.path.join(self.qdir(run), i + ".msg"), "rb") as f:
            data = f.read()
        with open(os.path.join(self.qdir(run), i + ".env")) as f:
            env = f.read()
        if not data.replace(b"\r\n", b"\n").endswith(MESSAGE.split(b"\n\n", 1)[1]):
            run.fail("queued message %s is not the whole message" % i)
        if "bob@example.net" not in env or "carol@example.net" not in env:
            run.fail("queued envelope %s lacks a recipient" % i)


BS_MESSAGES = [
    (b"alice@example.org", [b"bob@example.net"],
     b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bs 1\r\n"
     b"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
     b"Message-ID: <bs1@example.org>\r\n\r\none\r\n..stuffed\r\n"),
    (b"alice@example.org", [b"carol@example.net", b"dave@example.net"],
     b"From: alice@example.org\r\nTo: carol@example.net\r\nSubject: bs 2\r\n"
     b"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
     b"Message-ID: <bs2@example.org>\r\n\r\ntwo\r\n"),
]


class BsClient:
    """A -bs client that waits for each reply, as Symfony Mailer does:
    RSET after a refused MAIL, RCPT or DATA; QUIT at the end.  Records
    the reply to each message's final dot (None: never got one)."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""
        self.out = b""
        self.finals = []
        self.closed = False

    def reply(self):
        lines = []
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            while b"\r\n" not in self.buf:
                if self.closed or time.monotonic() > deadline:
                    return None
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    self.closed = True
                    return None
                self.out += chunk
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                try:
                    return int(line[:3])
                except ValueError:
                    return -1

    def send(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except OSError:
            self.closed = True
            return False

    def cmd(self, line):
        if not self.send(line + b"\r\n"):
            return None
        return self.reply()

    def transaction(self, sender, rcpts, body):
        code = self.cmd(b"MAIL FROM:<" + sender + b">")
        ok = code == 250
        for r in rcpts:
            if ok:
                code = self.cmd(b"RCPT TO:<" + r + b">")
                ok = code in (250, 251)
        if ok:
            ok = self.cmd(b"DATA") == 354
        if not ok:
            self.finals.append(None)
            if code is not None and not self.closed:
                self.cmd(b"RSET")
            return
        self.send(body + b".\r\n")
        self.finals.append(self.reply())

    def __call__(self, proc):
        if self.reply() == 220 and self.cmd(b"EHLO client.test") == 250:
            for sender, rcpts, body in BS_MESSAGES:
                if self.closed:
                    break
                self.transaction(sender, rcpts, body)
            if not self.closed:
                self.cmd(b"QUIT")
        return self.out


class BsSession(Scenario):
    """sendmail -bs: two messages in one session, each sent on through
    the smarthost (a fake server) before the reply to its final dot."""
    name = "bs-session"
    accepted = {0: "the session ended with QUIT (each message's own "
                   "outcome is in the reply to its final dot)",
                71: "out of memory (EX_OSERR) where the session itself "
                    "cannot go on; said in the log, 421 to the client",
                75: "the session ended early, mid-transaction (serve.h: "
                    "the client vanished) - only after an earlier failure "
                    "closed it"}
    quiet_stderr = True

    def setup(self, run):
        srv = self.smtp(run)
        self.log = os.path.join(run.home, "msmtp.log")
        write_file(os.path.join(run.home, ".msmtprc"),
                   "account default\nhost 127.0.0.1\nport %d\n"
                   "from alice@example.org\nlogfile %s\n"
                   % (srv.port, self.log))

    def execute(self, run):
        client = BsClient(None)

        def interact(proc):
            client.proc = proc
            return client(proc)
        run.execute(["-bs"], interact=interact)
        run.client = client

    def error_text(self, run):
        """The log, and the replies (a session refused for want of an
        account has no log: its 554 greeting says why)."""
        try:
            with open(os.path.join(run.home, "msmtp.log"), "rb") as f:
                log = f.read().decode("utf-8", "replace")
        except OSError:
            log = ""
        return log + run.stdout.decode("utf-8", "replace")

    def judge(self, run, clean):
        srv = run.servers[0]
        got = delivered_bodies(srv)
        finals = run.client.finals + [None] * (
            len(BS_MESSAGES) - len(run.client.finals))
        for i, (sender, rcpts, body) in enumerate(BS_MESSAGES):
            there = body + b".\r\n" in got
            if finals[i] == 250 and not there:
                run.fail("message %d: 250 to the final dot but the "
                         "smarthost does not have it" % (i + 1))
            if there and finals[i] != 250:
                run.fail("message %d: the smarthost has it but the reply "
                         "to the final dot was %s" % (i + 1, finals[i]))
        if len(got) != len(set(got)):
            run.fail("a message reached the smarthost twice")
        if run.exit == 0 and run.client.closed and \
                len(run.client.finals) < len(BS_MESSAGES):
            run.fail("exit 0 but the session ended before QUIT")
        if run.exit == 71 and not re.search(rb"^421 ", run.stdout, re.M):
            run.fail("exit 71 but the client was not told (no 421)")
        if run.exit == 0 and run.injected is False and \
                finals != [250] * len(BS_MESSAGES):
            run.fail("undisturbed, yet the final replies were %r" % finals)


class OAuthRefresh(Scenario):
    """A send whose stored access token is within the refresh margin:
    a refresh at the fake provider (HTTPS, test CA), the rotated tokens
    saved, XOAUTH2 with the new token."""
    name = "oauth-refresh"
    accepted = {0: "delivered with the refreshed token",
                71: "out of memory (EX_OSERR)"}

    def setup(self, run):
        p = fakeoauth.FakeOAuthProvider(self.driver.pki,
                                        client_id="test-client").start()
        self.provider = p
        run.servers_extra = [p]
        srv = self.smtp(run, "caps PIPELINING,AUTH PLAIN XOAUTH2",
                        "auth-user %s x" % USER,
                        "auth-token-file " + p.token_file)
        store = os.path.join(run.home, ".state", "msmtp", "oauth2",
                             "default.json")
        run.store = store
        write_file(os.path.join(run.home, ".msmtprc"),
                   "account default\nhost 127.0.0.1\nport %d\ntls off\n"
                   "from %s\nuser %s\nlogfile %s/msmtp.log\n"
                   "oauth2_provider custom\noauth2_client_id test-client\n"
                   "oauth2_scope smtp\noauth2_token_endpoint %s\n"
                   "oauth2_device_endpoint %s\noauth2_auth_endpoint %s\n"
                   "oauth2_trust_file %s/ca.pem\n"
                   % (srv.port, USER, USER, run.home, p.url("token"),
                      p.url("devicecode"), p.url("authorize"),
                      self.driver.pki))
        access = "seeded-access-" + base64.b32encode(os.urandom(20)).decode()
        refresh = "seeded-refresh-" + base64.b32encode(
            os.urandom(20)).decode()
        p.seed(refresh_token=refresh, access_token=access, expires_in=60)
        os.makedirs(os.path.dirname(store), mode=0o700, exist_ok=True)
        os.chmod(os.path.dirname(store), 0o700)
        write_file(store, '{"version":1,"account":"default",'
                   '"access_token":"%s","refresh_token":"%s",'
                   '"expires_at":%d}' % (access, refresh,
                                         int(time.time()) + 60))
        run.seeded = (access, refresh)

    def execute(self, run):
        run.execute(["bob@example.net"], MESSAGE)
        self.provider.stop()

    def judge(self, run, clean):
        srv = run.servers[0]
        p = self.provider
        got = delivered_bodies(srv)
        try:
            with open(run.store) as f:
                stored = json.load(f)
        except (OSError, ValueError) as ex:
            run.fail("the token store does not parse: %s" % ex)
            stored = {}
        if stored and stored.get("refresh_token") not in (
                run.seeded[1], p.current_refresh):
            run.fail("the store holds an unknown refresh token")
        if stored and stored.get("refresh_token") != p.current_refresh:
            # the window between the provider's rotation and the store's
            # rename, which a crash shares: counted, not failed
            # (tests/torture/README, "Known windows")
            run.note("rotated refresh token not saved")
        if run.exit == 0:
            if got != [wire(MESSAGE)]:
                run.fail("exit 0 but the server has %d complete messages"
                         % len(got))
            if stored.get("refresh_token") != p.current_refresh:
                run.fail("exit 0 but the rotated refresh token was not "
                         "saved")
        elif got:
            run.fail("exit %s but the server received the message"
                     % run.exit)
        if p.violations:
            run.fail("provider: %s" % p.violations[0])


SCENARIOS = [SendTlsAuth, DashTAliases, SendQueued, QueueRun, BsSession,
             OAuthRefresh]


# ------------------------------------------------------------ the driver

class Driver:
    def __init__(self, opts, pki):
        self.msmtp = os.path.abspath(opts.msmtp)
        self.from_on = opts.from_on
        self.keep = opts.keep
        self.verbose = opts.verbose
        self.pki = pki

    def one(self, cls, n, clean=None):
        sc = cls(self)
        run = Run(self, sc, n)
        try:
            sc.setup(run)
            sc.execute(run)
            check_common(run, clean)
            sc.judge(run, clean)
            if run.problems or self.verbose:
                run.where = self.symbolize(run.stack())
        finally:
            for extra in getattr(run, "servers_extra", []):
                extra.stop()
            run.cleanup()
        return run

    def symbolize(self, stack):
        """The injected failure's call stack as function and file:line
        (addr2line), our frames only."""
        addrs = re.findall(r"^\S*msmtp\(\+(0x[0-9a-f]+)\)", stack, re.M)
        if not addrs or shutil.which("addr2line") is None:
            return stack.strip()
        p = subprocess.run(["addr2line", "-f", "-p", "-s", "-e", self.msmtp]
                           + addrs, capture_output=True, text=True)
        frames = [ln for ln in p.stdout.splitlines()
                  if not ln.startswith(("torture_", "__wrap_"))]
        return "at " + " <- ".join(f.split(" at ")[0] + "@"
                                   + f.split(" at ")[-1] for f in frames
                                   if "main@" not in f[:5])

    def scenario(self, cls, opts):
        """Run one scenario all the way; True when every run was right."""
        start = time.monotonic()
        clean = self.one(cls, None)
        if clean.problems or clean.exit != 0 or clean.injected:
            print("FAIL %s: the undisturbed run: exit %s: %s\n    %s"
                  % (cls.name, clean.exit, "; ".join(clean.problems),
                     clean.stderr.decode("utf-8", "replace").strip()))
            return False
        total = clean.count
        if opts.only:
            numbers = [n for n in opts.only if n <= total + 1]
        else:
            numbers = list(range(1, min(total, opts.max or total) + 1))
            numbers.append(total + 1)   # past the end: nothing injected
        exits = collections.Counter()
        notes = collections.Counter()
        failed = 0
        with concurrent.futures.ThreadPoolExecutor(opts.j) as pool:
            for run in pool.map(lambda n: self.one(cls, n, clean), numbers):
                exits[run.exit] += 1
                notes.update(run.notes)
                if run.problems:
                    failed += 1
                    print("FAIL %s N=%d: exit %s: %s" % (
                        cls.name, run.n, run.exit, "; ".join(run.problems)))
                    err = run.stderr.decode("utf-8", "replace").strip()
                    if err:
                        print("    stderr: " + err.replace(
                            "\n", "\n            ")[:4000])
                    if run.where:
                        print("    " + run.where.replace("\n", "\n    "))
                    sys.stdout.flush()
                elif self.verbose:
                    print("ok %s N=%d: exit %s %s" % (
                        cls.name, run.n, run.exit, run.where))
        print("%s %s: %d allocations, %d runs, exits %s, %d failed, %.0f s"
              % ("PASS" if not failed else "FAIL", cls.name, total,
                 len(numbers), dict(sorted(exits.items(),
                                           key=lambda kv: str(kv[0]))),
                 failed, time.monotonic() - start))
        for what, count in sorted(notes.items()):
            print("NOTE %s: %d runs: %s" % (cls.name, count, what))
        sys.stdout.flush()
        return failed == 0


def is_torture_build(path):
    try:
        out = subprocess.run(["nm", path], capture_output=True,
                             timeout=60).stdout
    except OSError:
        return None
    return b"__wrap_malloc" in out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--msmtp", default=os.environ.get("MSMTP")
                    or DEFAULT_MSMTP)
    ap.add_argument("--from-on", action="store_true",
                    help="fail the N-th and every later allocation")
    ap.add_argument("--only", type=lambda s: [int(x) for x in s.split(",")],
                    help="only these N (comma list)")
    ap.add_argument("--max", type=int, default=0,
                    help="at most N = 1..MAX per scenario")
    ap.add_argument("-j", type=int, default=1, help="runs at once")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="a line for every run, with where it failed")
    ap.add_argument("--keep", action="store_true",
                    help="keep each run's directory")
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO")
    opts = ap.parse_args(argv)
    if not os.access(opts.msmtp, os.X_OK):
        print("SKIP: no binary at %s" % opts.msmtp)
        return 77
    if not is_torture_build(opts.msmtp):
        print("SKIP: %s is not a torture build (configure "
              "--enable-alloc-torture)" % opts.msmtp)
        return 77
    if shutil.which("certtool") is None:
        print("SKIP: certtool (gnutls-bin) is needed for the test CA")
        return 77
    names = {c.name: c for c in SCENARIOS}
    for s in opts.scenarios:
        if s not in names:
            ap.error("unknown scenario %r (have %s)" % (s, ", ".join(names)))
    chosen = [names[s] for s in opts.scenarios] or SCENARIOS
    top = tempfile.mkdtemp(prefix="msmtp-torture-pki-")
    try:
        pki = fakeoauth.make_pki(os.path.join(top, "pki"))
        fakesmtp.PKI_DIR = pki
        driver = Driver(opts, pki)
        start = time.monotonic()
        results = [driver.scenario(cls, opts) for cls in chosen]
    finally:
        shutil.rmtree(top, ignore_errors=True)
    passed = sum(results)
    print("%d passed, %d failed (%.0f s)" % (passed, len(results) - passed,
                                              time.monotonic() - start))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
