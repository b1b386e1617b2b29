#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fault_matrix.py - every stage of an SMTP session x every fault, on both
sides: the real binary as a client against fakesmtp.py (which misbehaves
at one stage per run: `fault VERB[#n] KIND`), and `sendmail -bs` facing a
client that misbehaves at one step.

Each cell runs the binary once and must end with the expected exit code,
at most one "msmtp:" error line (plus at most one hint line) on stderr, no
crash or sanitizer report, within 3 x timeout + 5 s, and never with
success for a message the server did not take.  A representative cell of
each class runs again with `queue tempfail` (queued or not, as
src/outcome.c decides).

The observed table is written to OUT (default: fault-matrix.md in the
current directory, the build's tests/ under make check) and compared
with the committed doc/fault-matrix.md: any difference fails, with the
diff.  `--write-doc` writes the committed file instead (after a
deliberate change).

    python3 fault_matrix.py [--msmtp PATH] [--out FILE] [--doc FILE]
                            [--write-doc] [-j N] [-k SUBSTRING]

Prints PASS/FAIL per cell and "N passed, N failed"."""
import argparse
import concurrent.futures
import difflib
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fakesmtp  # noqa: E402
import run as caserun  # noqa: E402  (the test PKI, blackhole, sanitizers)

TIMEOUT = 2                     # the account's `timeout`
BOUND = 3 * TIMEOUT + 5         # every cell ends within this (seconds)
FAULTS = ["drop", "4xx", "5xx", "garbage", "hugeline", "manylines",
          "stall", "trickle", "unsolicited"]
FAULT_TITLES = {"drop": "drop", "4xx": "4xx", "5xx": "5xx",
                "garbage": "garbage", "hugeline": "1 MiB line",
                "manylines": "10,000 lines", "stall": "stall",
                "trickle": "1 byte/s", "unsolicited": "unsolicited"}
PRE_DATA = {"drop": 75, "4xx": 75, "garbage": 76, "hugeline": 76,
            "manylines": 76, "stall": 75, "trickle": 75, "unsolicited": 76}
MAYBE = "may have been delivered"
MSMTP = None

SMALL = (b"From: alice@example.org\nTo: bob@example.org\n"
         b"Subject: fault matrix\n\nHello.\n")
BIG = SMALL[:-len(b"Hello.\n")] + b"".join(
    b"line %06d of a message large enough to be sent in many blocks\n" % i
    for i in range(16000))      # about 1 MiB: four BDAT chunks and more
# More than the loopback socket buffers can hold (the kernel grows them to
# several MiB), so a fault in the body hits a client still writing it.
HUGE = BIG + BIG[len(SMALL) - 7:] * 15


class Stage:
    """One row: where the fault is injected and what each fault gives."""

    def __init__(self, name, verbs, five=None, faults=FAULTS, setup=(),
                 config="", big=None, expect=None):
        self.name = name
        self.verbs = verbs          # fakesmtp verbs the fault applies to
        self.faults = faults        # the others are n/a
        self.setup = list(setup)    # further fakesmtp directives
        self.config = config        # further account lines
        self.message = big or SMALL
        self.expected = dict(PRE_DATA)
        if five is not None:
            self.expected["5xx"] = five
        self.expected.update(expect or {})

    def directives(self, fault):
        return self.setup + ["fault %s %s" % (v, fault) for v in self.verbs]


AUTH = "auth login\nuser alice\npassword secret\n"
TLS = "tls on\ntls_trust_file %CAFILE%\n"
AFTER_DOT = {"drop": "75 m", "4xx": 75, "5xx": 69, "garbage": "76 m",
             "hugeline": "76 m", "manylines": "76 m", "stall": "75 m",
             "trickle": "75 m", "unsolicited": 0}
LOCKSTEP = ["caps 8BITMIME,SIZE 10240000,ENHANCEDSTATUSCODES", "chunking"]
CLIENT_STAGES = [
    Stage("connect", [], faults=("drop", "stall")),
    Stage("greeting", ["GREETING"], five=76),
    Stage("EHLO (and HELO)", ["EHLO", "HELO"], five=76),
    Stage("STARTTLS", ["STARTTLS"], five=76, setup=["starttls good"],
          config=TLS),
    Stage("TLS handshake (STARTTLS)", ["HANDSHAKE"],
          faults=("drop", "garbage", "hugeline", "stall", "trickle"),
          setup=["starttls good"], config=TLS),
    Stage("TLS handshake (implicit)", ["HANDSHAKE"],
          faults=("drop", "garbage", "hugeline", "stall", "trickle"),
          setup=["implicit-tls good"], config=TLS + "tls_starttls off\n"),
    Stage("AUTH 334 (user name)", ["AUTH#1"], five=77,
          setup=["caps PIPELINING,8BITMIME,AUTH LOGIN",
                 "auth-user alice secret"], config=AUTH),
    Stage("AUTH 334 (password)", ["AUTH#2"], five=77,
          setup=["caps PIPELINING,8BITMIME,AUTH LOGIN",
                 "auth-user alice secret"], config=AUTH),
    Stage("AUTH 235", ["AUTH#3"], five=77,
          setup=["caps PIPELINING,8BITMIME,AUTH LOGIN",
                 "auth-user alice secret"], config=AUTH),
    Stage("MAIL", ["MAIL"], five=65),
    Stage("RCPT (first of two)", ["RCPT#1"], five=65),
    Stage("RCPT (second of two)", ["RCPT#2"], five=65),
    Stage("DATA", ["DATA"], five=69),
    Stage("body (DATA)", ["BODY"],
          faults=("drop", "4xx", "5xx", "stall", "trickle", "unsolicited"),
          five=69, big=HUGE,
          setup=["caps PIPELINING,8BITMIME,ENHANCEDSTATUSCODES"]),
    Stage("final dot", ["EOD"], expect=AFTER_DOT),
    Stage("BDAT chunk (not last)", ["BDAT#1"], five=69, setup=LOCKSTEP,
          big=BIG),
    Stage("BDAT LAST", ["EOD"], setup=LOCKSTEP, big=BIG, expect=AFTER_DOT),
    Stage("QUIT", ["QUIT"], expect=dict.fromkeys(FAULTS, 0)),
]
# With `queue tempfail`: one cell of each class (stage, fault).
QUEUE_CELLS = [
    ("connect", "drop"), ("greeting", "stall"), ("EHLO (and HELO)", "4xx"),
    ("greeting", "5xx"), ("TLS handshake (STARTTLS)", "drop"),
    ("TLS handshake (STARTTLS)", "garbage"), ("AUTH 235", "5xx"),
    ("MAIL", "garbage"), ("MAIL", "4xx"), ("RCPT (second of two)", "5xx"),
    ("DATA", "5xx"), ("body (DATA)", "drop"), ("final dot", "drop"),
    ("final dot", "stall"), ("final dot", "garbage"), ("final dot", "5xx"),
    ("QUIT", "drop"),
]


# ---- the -bs side -----------------------------------------------------------

BS_FAULTS = ["drop", "garbage", "hugeline", "manylines", "stall", "trickle",
             "unsolicited"]
BS_TITLES = {"drop": "drop", "garbage": "garbage", "hugeline": "1 MiB line",
             "manylines": "10,000 lines", "stall": "stall",
             "trickle": "1 byte/s", "unsolicited": "unsolicited"}
BS_IDLE = 1                     # MSMTP_BS_IDLE_TIMEOUT (a dot line sent a
                                # byte a second takes 2 s: over it)
# The dialogue: (step, what the client sends, the reply it waits for).
BS_DIALOGUE = [
    ("greeting", b"", 220),
    ("EHLO", b"EHLO client.test\r\n", 250),
    ("MAIL", b"MAIL FROM:<alice@example.org>\r\n", 250),
    ("RCPT", b"RCPT TO:<bob@example.org>\r\n", 250),
    ("DATA", b"DATA\r\n", 354),
    ("body", b"Subject: bs fault\r\n\r\nHello.\r\n", None),
    ("dot", b".\r\n", 250),
    ("QUIT", b"QUIT\r\n", 221),
]
BS_STEPS = [d[0] for d in BS_DIALOGUE]
IN_TXN = {"RCPT", "DATA", "body", "dot"}


class BsStage:
    def __init__(self, name, faults, expected):
        self.name = name
        self.faults = faults
        self.expected = expected


def bs_expected(step):
    """What each fault at a -bs step gives: "reply / exit", the reply being
    the server's answer to the fault ("-": none, the client is gone)."""
    txn = step in IN_TXN
    exp = {"drop": "- / %d" % (75 if txn else 0),
           "stall": "421 / 75", "trickle": "421 / 75",
           "garbage": "500 / 0", "hugeline": "500 / 0",
           "manylines": "500..421 / 75", "unsolicited": "500 / 0"}
    if step in ("body", "dot"):
        exp.update({"hugeline": "250 / 0", "manylines": "250 / 0"})
    if step == "DATA":
        exp["unsolicited"] = "data / 0"
    if step == "QUIT":
        exp.update({"unsolicited": "- / 0"})
    return exp


def bs_faults(step):
    if step == "greeting":
        return ("drop", "garbage", "hugeline", "manylines", "stall",
                "unsolicited")
    if step == "body":
        return ("drop", "hugeline", "manylines", "stall", "trickle")
    if step == "dot":
        return ("drop", "stall", "trickle", "unsolicited")
    return BS_FAULTS


BS_STAGES = [BsStage(s, bs_faults(s), bs_expected(s)) for s in BS_STEPS]
# The smarthost's fault at its end of data, as the -bs client sees it in
# the reply to its dot (the refusals themselves: bs_test.py).
SMARTHOST = BsStage("smarthost's reply to the dot", FAULTS, dict(
    {f: "451 / 0" for f in FAULTS}, **{"5xx": "554 / 0",
                                       "unsolicited": "250 / 0"}))


class BsClient:
    """A -bs process with a reader thread collecting its replies."""

    def __init__(self, argv, env):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.out = bytearray()
        self.cond = threading.Condition()
        self.eof = False
        self.err = b""
        self.stop_reading = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.used = 0               # reply bytes already taken
        self.hwm = None             # peak memory after the fault, KiB

    def _read(self):
        # this thread alone reads and closes stdout: closing the fd under
        # a blocked read would let another cell's new fd take its number
        fd = self.p.stdout.fileno()
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if self.stop_reading:
                self.p.stdout.close()
                chunk = b""
            elif not ready:
                continue
            else:
                chunk = os.read(fd, 65536)
            with self.cond:
                if not chunk:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.out += chunk
                self.cond.notify_all()

    def _read_err(self):
        self.err = self.p.stderr.read()

    def reply(self, timeout):
        """The next whole reply's code (None at the end or timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                rest = bytes(self.out[self.used:])
                m = re.search(rb"(?:^|\n)(\d{3}) [^\n]*\n", rest)
                if m:
                    self.used += m.end()
                    return int(m.group(1))
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return None
                self.cond.wait(left)

    def send(self, data, per_byte=0):
        try:
            if not per_byte:
                self.p.stdin.write(data)
                self.p.stdin.flush()
                return True
            for i in range(len(data)):
                if self.eof:
                    return False
                self.p.stdin.write(data[i:i + 1])
                self.p.stdin.flush()
                time.sleep(per_byte)
            return True
        except (BrokenPipeError, OSError):
            return False

    def peak_kib(self):
        """VmHWM of the running binary (its peak since exec), KiB."""
        try:
            with open("/proc/%d/status" % self.p.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.hwm = int(line.split()[1])
        except (OSError, ValueError):
            pass

    def close_out(self):
        """Hang up the reading side too (the reader thread closes it)."""
        self.stop_reading = True
        self.reader.join()

    def close_in(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass

    def wait(self, timeout):
        """Exit status and max RSS (KiB) of the process."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                self.p.returncode = os.waitstatus_to_exitcode(status)
                return self.p.returncode, usage.ru_maxrss
            time.sleep(0.02)
        self.p.kill()
        pid, status, usage = os.wait4(self.p.pid, 0)
        return None, usage.ru_maxrss


def bs_fault_bytes(step, fault, normal):
    """What the client sends at STEP instead of its normal bytes."""
    junk = b"JUNK this is no SMTP command\r\n"
    if fault == "garbage":
        return junk
    if fault == "hugeline":
        if step == "body":
            return b"X-Long: " + b"y" * (1024 * 1024) + b"\r\n\r\nHello.\r\n"
        return b"MAIL FROM:<" + b"a" * (1024 * 1024) + b"@example.org>\r\n"
    if fault == "manylines":
        if step == "body":
            return b"Subject: many\r\n\r\n" + b"".join(
                b"body line %d\r\n" % i for i in range(10000))
        return junk * 10000
    if fault == "unsolicited":
        if step == "greeting":
            return b"EHLO early.test\r\n" + junk
        return normal + junk
    return normal


def bs_cell(cell):
    """Play the dialogue up to the cell's step, misbehave there, finish
    the dialogue if the session is still up; judge the result."""
    step, fault = cell.stage.name, cell.fault
    home = tempfile.mkdtemp(prefix="msmtp-fmbs-")
    smarthost = cell.stage is SMARTHOST
    server = fakesmtp.FakeSMTPServer(fakesmtp.Script(
        ["connections 3"] + (["fault EOD " + fault] if smarthost
                             else []))).start()
    try:
        rc = os.path.join(home, ".msmtprc")
        with open(rc, "w") as f:
            f.write("account default\nhost 127.0.0.1\nport %d\n"
                    "from alice@example.org\ntimeout %d\n"
                    % (server.port, TIMEOUT))
        os.chmod(rc, 0o600)
        env = environ(home)
        env["MSMTP_BS_IDLE_TIMEOUT"] = str(BS_IDLE)
        start = time.monotonic()
        c = BsClient([MSMTP, "-bs"], env)
        first = bs_smarthost(c) if smarthost else bs_play(c, step, fault)
        code, _ = c.wait(BOUND + 30)
        cell.elapsed = time.monotonic() - start
        cell.rss = c.hwm
        c.err_done = True
        stderr = c.err.decode("utf-8", "replace")
        cell.stderr = stderr
        if code is None:
            cell.problem("still running after %d s" % (BOUND + 30))
            cell.result = "hang"
            return cell
        if code < 0:
            cell.problem("killed by signal %d" % -code)
        if cell.elapsed > BOUND:
            cell.problem("took %.1f s (bound %d s)" % (cell.elapsed, BOUND))
        if caserun.SANITIZER_RE.search(stderr):
            cell.problem("sanitizer report on stderr")
        if stderr:
            cell.problem("stderr not empty (-bs keeps it empty)")
        cell.result = "%s / %d" % (first, code)
        server.wait_idle(1.0)
        cell.transcript = server.transcript()
        bodies = [b for rec in server.records for b, done in
                  zip(rec.bodies, rec.data_complete) if done]
        want = smarthost or bs_complete(step, fault, cell.result)
        if len(bodies) != (1 if want else 0):
            cell.problem("the smarthost received %d messages, want %d"
                         % (len(bodies), 1 if want else 0))
        for err in server.all_errors():
            cell.problem("the smarthost recorded: " + err)
        return cell
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def bs_complete(step, fault, result):
    """Whether the dialogue delivered its message: only a session that
    survived the fault and saw the client through the final dot."""
    if step == "QUIT":
        return True
    return result.endswith("/ 0") and fault != "drop"


def bs_finish(c, steps):
    """The rest of the normal dialogue; False when the session ended."""
    for name, data, want in steps:
        if data and not c.send(data):
            return False
        if want is not None and c.reply(BS_IDLE + 5) != want:
            return False
    return True


def bs_many(c):
    """Replies to a flood of bad lines: "500..421" when the server gave up
    after its 500s, else the codes seen."""
    codes = []
    while True:
        code = c.reply(BS_IDLE + 5)
        if code is None:
            break
        codes.append(code)
    if codes and codes[-1] == 421 and set(codes[:-1]) == {500}:
        return "500..421"
    return "+".join(str(x) for x in sorted(set(codes))) or "-"


def bs_smarthost(c):
    """The normal dialogue; the label is the reply to the dot."""
    if not bs_finish(c, BS_DIALOGUE[:6]):
        return "broken"
    c.send(b".\r\n")
    code = c.reply(BOUND + 5)
    bs_finish(c, BS_DIALOGUE[7:])
    c.close_in()
    return "-" if code is None else str(code)


def bs_play(c, step, fault):
    """The dialogue with the fault at STEP; the table's reply label."""
    k = BS_STEPS.index(step)
    if not bs_finish(c, BS_DIALOGUE[:k]):
        return "broken"
    name, data, want = BS_DIALOGUE[k]
    later = BS_DIALOGUE[k + 1:]
    junk = b"JUNK this is no SMTP command\r\n"
    if fault == "drop":
        c.close_in()
        c.close_out()
        return "-"
    if fault == "stall":
        if step == "greeting" and c.reply(BS_IDLE + 5) != 220:
            return "broken"
        code = c.reply(BOUND)
        return "-" if code is None else str(code)
    if fault == "trickle":
        c.send(data or b"EHLO slow.test\r\n", per_byte=1.0)
        code = c.reply(BS_IDLE + 5)
        if code == want or (want is None and code is not None):
            bs_finish(c, later)
        c.close_in()
        return "-" if code is None else str(code)
    if step == "greeting" and fault != "unsolicited":
        # misbehaving before the greeting was read: nothing else differs
        if c.reply(BS_IDLE + 5) != 220:
            return "broken"
        k, data, want = 1, b"", None
        later = BS_DIALOGUE[1:]
    if fault == "garbage":
        c.send(junk)
        code = c.reply(BS_IDLE + 5)
        c.peak_kib()
        bs_finish(c, [(name, data, want)] + later)
    elif fault == "hugeline" and step not in ("body", "dot"):
        c.send(b"MAIL FROM:<" + b"a" * (1024 * 1024) + b"@example.org>\r\n")
        code = c.reply(BS_IDLE + 5)
        c.peak_kib()
        bs_finish(c, [(name, data, want)] + later)
    elif fault == "hugeline":       # body: a message line of 1 MiB
        c.send(b"Subject: long\r\n\r\n" + b"y" * (1024 * 1024) + b"\r\n")
        c.send(b".\r\n")
        code = c.reply(BS_IDLE + 10)
        bs_finish(c, later[1:])
    elif fault == "manylines" and step == "body":
        c.send(b"Subject: many\r\n\r\n" + b"".join(
            b"body line %d\r\n" % i for i in range(10000)))
        c.send(b".\r\n")
        code = c.reply(BS_IDLE + 10)
        bs_finish(c, later[1:])
    elif fault == "manylines":
        c.send(junk * 10000)
        c.close_in()
        return bs_many(c)
    else:                           # unsolicited
        if step == "greeting":
            c.send(b"EHLO early.test\r\n" + junk)
            ok = c.reply(BS_IDLE + 5) == 220 and c.reply(BS_IDLE + 5) == 250
            code = c.reply(BS_IDLE + 5) if ok else None
            bs_finish(c, BS_DIALOGUE[2:])
        elif step == "DATA":
            c.send(data + junk)
            code = "data" if c.reply(BS_IDLE + 5) == 354 else None
            bs_finish(c, later)
        elif step == "QUIT":
            c.send(data + junk)
            code = c.reply(BS_IDLE + 5)
            code = c.reply(1) if code == 221 else "broken"
        else:
            c.send(data + junk)
            code = c.reply(BS_IDLE + 5) if c.reply(BS_IDLE + 5) == want \
                else "broken"
            bs_finish(c, later)
    c.close_in()
    return "-" if code is None else str(code)


def expected_text(value):
    return str(value)


def queued_expected(base):
    """src/outcome.c: `queue tempfail` stores temporary and maybe-delivered
    outcomes (exit 75, or "may have been delivered"), nothing else."""
    return base.startswith("75") or base.endswith(" m")


class Cell:
    def __init__(self, side, stage, fault, queue=False):
        self.side = side
        self.stage = stage
        self.fault = fault
        self.queue = queue
        self.problems = []
        self.result = None          # table text, e.g. "75 m"
        self.elapsed = 0.0
        self.stderr = ""
        self.transcript = ""

    @property
    def name(self):
        return "%s %s / %s%s" % (self.side, self.stage.name, self.fault,
                                 " (queue tempfail)" if self.queue else "")

    def problem(self, text):
        self.problems.append(text)


def environ(home):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "LC_ALL": "C", "TMPDIR": home,
           "XDG_CONFIG_HOME": os.path.join(home, ".config")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def stderr_lines_ok(cell, stderr, code, queued):
    """One msmtp: error line (or the note of a queued message), at most
    one hint; nothing else, and nothing at all after a success."""
    if caserun.SANITIZER_RE.search(stderr):
        cell.problem("sanitizer report on stderr")
    lines = stderr.splitlines()
    for ln in lines:
        if not ln.startswith("msmtp: "):
            cell.problem("stderr line not 'msmtp: ...': %r" % ln[:200])
    if code == 0 and not queued and lines:
        cell.problem("stderr not empty after a success")
    if (code != 0 or queued) and not 1 <= len(lines) <= 2:
        cell.problem("%d stderr lines (want one, plus at most one hint)"
                     % len(lines))


def queue_entries(home):
    qdir = os.path.join(home, ".local", "state", "msmtp", "queue")
    try:
        return [f for f in os.listdir(qdir) if f.endswith(".env")]
    except OSError:
        return []


def complete_message(server):
    """The server took a whole message (its data ended) and said 250."""
    for rec in server.records:
        if any(rec.data_complete):
            return True
    return False


def client_cell(cell):
    stage = cell.stage
    home = tempfile.mkdtemp(prefix="msmtp-fm-")
    server = blackhole = closed = None
    try:
        if stage.name == "connect":
            if cell.fault == "drop":
                closed = caserun.closed_port()
                port, host = closed.getsockname()[1], "127.0.0.1"
            else:
                blackhole = caserun.Blackhole()
                port, host = blackhole.port, "127.0.0.2"
        else:
            server = fakesmtp.FakeSMTPServer(
                fakesmtp.Script(stage.directives(cell.fault))).start()
            port, host = server.port, "127.0.0.1"
        config = ("account default\nhost %s\nport %d\n"
                  "from alice@example.org\ntimeout %d\n%s%s"
                  % (host, port, TIMEOUT, stage.config,
                     "queue tempfail\n" if cell.queue else ""))
        config = config.replace("%CAFILE%", os.path.join(
            caserun.pki_dir() or "", "ca.pem"))
        rc = os.path.join(home, ".msmtprc")
        with open(rc, "w") as f:
            f.write(config)
        os.chmod(rc, 0o600)
        start = time.monotonic()
        try:
            p = subprocess.run([MSMTP, "bob@example.org",
                                "carol@example.org"],
                               input=stage.message,
                               capture_output=True, env=environ(home),
                               timeout=BOUND + 30)
        except subprocess.TimeoutExpired:
            cell.problem("still running after %d s" % (BOUND + 30))
            cell.result = "hang"
            return cell
        cell.elapsed = time.monotonic() - start
        stderr = p.stderr.decode("utf-8", "replace")
        code = p.returncode
        if code < 0:
            cell.problem("killed by signal %d" % -code)
        if cell.elapsed > BOUND:
            cell.problem("took %.1f s (bound %d s)" % (cell.elapsed, BOUND))
        queued = bool(queue_entries(home))
        stderr_lines_ok(cell, stderr, code, queued)
        cell.result = str(code) + (" m" if MAYBE in stderr else "")
        if server is not None:
            server.wait_idle(0.5)
            if code == 0 and not queued and not complete_message(server):
                cell.problem("exit 0 but the server has no complete message")
            cell.transcript = server.transcript()
            for err in server.all_errors():
                cell.problem("the server recorded: " + err)
        if cell.queue:
            queue_check(cell, code, stderr, home)
        cell.stderr = stderr
        return cell
    finally:
        if server is not None:
            server.stop()
        if blackhole is not None:
            blackhole.close()
        if closed is not None:
            closed.close()
        shutil.rmtree(home, ignore_errors=True)


def queue_check(cell, code, stderr, home):
    """The same fault with `queue tempfail`: queued (exit 0, a note) when
    src/outcome.c calls the outcome temporary or maybe delivered."""
    base = expected_text(cell.stage.expected[cell.fault])
    entries = queue_entries(home)
    if queued_expected(base) and base != "0":
        cell.result = "queued" if entries and code == 0 else \
            "not queued (%d)" % code
        if "queued" not in stderr:
            cell.problem("no 'queued' note on stderr")
    else:
        cell.result = ("queued (%d)" % code) if entries else str(code)


def expected_cell(cell):
    if cell.side == "-bs":
        return cell.stage.expected[cell.fault]
    base = expected_text(cell.stage.expected[cell.fault])
    if not cell.queue:
        return base
    if base != "0" and queued_expected(base):
        return "queued"
    return base.split()[0]


# ---- the table ------------------------------------------------------------

DOC_HEAD = """\
<!-- SPDX-License-Identifier: GPL-3.0-or-later -->
<!-- Generated by tests/integration/fault_matrix.py (--write-doc); the
     test regenerates it into the build directory and fails on any
     difference.  Edit the script, not this file. -->
# Fault matrix

Every stage of an SMTP session times every fault, with what msmtp does.
The test (`tests/integration/fault-matrix.sh`, part of `make check`) runs
each cell against the real binary: the client side against
`tests/integration/fakesmtp.py` with `fault VERB[#n] KIND`, the `-bs` side
with a client that misbehaves.  The account's `timeout` is %(timeout)d s.

Every cell is checked for: the exact exit status below; at most one
`msmtp:` error line on standard error (plus at most one hint line), none
after a success; no crash and no sanitizer report; the end within 3 x
`timeout` + 5 s (%(bound)d s); and exit 0 only when the server received the
complete message and accepted it.

## Rules

- Before the end of data, a lost connection, a stall, a reply trickled one
  byte a second (a reply must be complete within `timeout`) or a 4xx:
  75, temporary (queued with `queue tempfail`).
- A 5xx: 65 at MAIL and RCPT, 69 at DATA, a BDAT chunk and the final dot,
  77 at AUTH; 76 for the greeting, EHLO together with HELO, and STARTTLS
  (doc/msmtp.1, EXIT STATUS).
- Garbage, an oversized reply (a 1 MiB line, 10,000 lines) or bytes
  nobody asked for: 76, protocol error.
- After the final dot (or BDAT LAST) a lost connection, a stall or a
  trickle: 75 and "may have been delivered" (`m`); a malformed reply
  there: 76 `m`.  Both are queued with `queue tempfail` (flagged as
  possible duplicates).
- After the 250 for the message, nothing at QUIT changes the success: 0.
- TLS: a handshake cut off, stalled or trickled is 75; bytes that are no
  TLS (garbage, 1 MiB of it) are a handshake failure, 76.

Legend: the exit status; `m`: the error says the message may have been
delivered; `n/a`: the fault cannot happen at that stage.  Columns: `drop`
the server closes the connection instead of replying; `4xx` 451; `5xx`
554; `garbage` a line that is no SMTP reply; `1 MiB line` one reply line
of 1 MiB; `10,000 lines` a reply of 10,000 continuation lines; `stall` no
reply at all; `1 byte/s` the right reply, one byte a second;
`unsolicited` the right reply followed by a "250" line nobody asked for.
"""

CLIENT_NOTES = """
Notes on the client table:

- Two recipients; the server offers PIPELINING, so MAIL, both RCPTs and
  DATA go in one write; a fault at one RCPT still gives the whole
  message's answer: recipients are all or nothing by default, nothing is
  delivered when one is refused (the connection is closed without the
  final dot when DATA was already answered 354).
- connect: `drop` is a refused connection (nothing listens), `stall` a
  connection that never completes (SYNs dropped).
- EHLO: the fault is in the replies to EHLO and to the HELO that follows
  it, else a refused EHLO is simply followed by HELO.
- AUTH LOGIN: the first 334 (user name), the second (password), the 235.
- TLS handshake: instead of the ServerHello, after STARTTLS's 220 or
  from the first byte (implicit TLS, `tls_starttls off`); no reply there,
  so 4xx, 5xx, 10,000 lines and unsolicited are n/a (bytes behind the 220
  are the STARTTLS row's `unsolicited`).
- body: while the client still sends a 1 MiB message: the server closes,
  stops reading, reads one byte a second, sends a "250" line, or
  refuses the message early (a 4xx or 5xx reply, then it closes, as
  servers do for a size they will not take): the refusal is quoted and
  decides the class; any other reply there answers nothing (the
  `unsolicited` column), so garbage and the oversized replies are n/a.
- BDAT: a 1 MiB message in chunks of 256 KiB; the fault at the reply to
  the first chunk, or to LAST (the end of data).  These rows run without
  PIPELINING, each chunk waiting for its reply: with PIPELINING two chunks
  are in flight, and a line nobody asked for cannot be told from the
  reply to the next chunk (RFC 2920 lets it come at any time) until every
  reply is in; whether the client sees it before LAST is then a race.
- final dot: `unsolicited` is a 250 followed by a line nobody asked for:
  the message was accepted, so 0.
"""


BS_NOTES = """
Notes on the -bs table (doc/msmtp.1, SMTP SESSION): each cell is the
server's reply to the fault and the exit status; `-`: no reply (the
client is gone).  The client says EHLO, MAIL, RCPT, DATA, a short body,
the dot and QUIT, each after the reply to the one before, with the fault
at one step instead; when the session survives it, the client finishes
the dialogue and the message must reach the smarthost once; when it does
not, nothing may reach it.  `MSMTP_BS_IDLE_TIMEOUT` is %(idle)d s.
Standard error must stay empty in every cell.

- drop: the client closes both pipes; 0 between transactions, 75 in the
  middle of one (nothing is delivered).
- garbage: a line that is no command (500), then the step done right.
- 1 MiB line: MAIL with a 1 MiB address, refused (500) and discarded
  without being held in memory (the binary's peak memory stays within
  768 KiB of the garbage cell's); in the body a 1 MiB line, which is
  message data and goes through (250 for the message).
- greeting: the client misbehaves before it has read the greeting (1
  byte/s is the EHLO row's: n/a here).
- 10,000 lines: 10,000 bad commands in one write: twenty refusals in a
  row end the session (421, 75); in the body 10,000 lines, delivered.
- stall: the client says nothing (421 after the idle limit, 75).
- 1 byte/s: the step's line one byte a second: a line, command or message
  data, must be complete within the idle limit (421, 75).
- unsolicited: the step's line and a junk line in one write (pipelined):
  the junk is refused (500) and the session goes on; at greeting the
  client writes EHLO and the junk before the greeting; after DATA the
  junk is message data; after QUIT it is never read.
- The smarthost's refusals as a -bs client sees them (the reply to the
  dot) are tests/integration/bs_test.py's.
""" % {"idle": BS_IDLE}


SMARTHOST_NOTES = """
The same dialogue with a well-behaved client and the fault in the
smarthost's reply to msmtp's end of data (the client table's final dot
row): the -bs client gets 250 only when the smarthost said 250; a 4xx
or an outcome that may have been delivered (lost, stalled, malformed)
is 451 4.3.0, a 5xx the smarthost's own refusal; the session goes on and
QUIT exits 0.
"""


def table(title, stages, results, side="client", faults=FAULTS,
          titles=FAULT_TITLES):
    out = ["## " + title, "",
           "| stage | " + " | ".join(titles[f] for f in faults) + " |",
           "|---|" + "---|" * len(faults)]
    for stage in stages:
        row = [results.get((side, stage.name, f), "n/a")
               if f in stage.faults
               else "n/a" for f in faults]
        out.append("| %s | %s |" % (stage.name, " | ".join(row)))
    return "\n".join(out) + "\n"


def queue_table(results):
    out = ["## With `queue tempfail`", "",
           "One cell of each class again, with `queue tempfail`: `queued` "
           "is exit 0,",
           "a note on standard error and one entry in the queue; the others "
           "exit as",
           "without the queue and queue nothing (src/outcome.c: only "
           "temporary and",
           "maybe-delivered outcomes are stored).", "",
           "| stage | fault | without queue | with `queue tempfail` |",
           "|---|---|---|---|"]
    for name, fault in QUEUE_CELLS:
        stage = STAGE_BY_NAME[name]
        out.append("| %s | %s | %s | %s |" % (
            name, FAULT_TITLES[fault],
            results.get(("client", name, fault), "?"),
            results.get(("client", name, fault, "queue"), "?")))
    return "\n".join(out) + "\n"


STAGE_BY_NAME = {s.name: s for s in CLIENT_STAGES}


def render(results):
    parts = [DOC_HEAD % {"timeout": TIMEOUT, "bound": BOUND},
             table("Client (msmtp sending to a faulty server)",
                   CLIENT_STAGES, results),
             CLIENT_NOTES,
             queue_table(results),
             table("-bs (msmtp as the server of a faulty client)",
                   BS_STAGES, results, "-bs", BS_FAULTS, BS_TITLES),
             BS_NOTES,
             table("-bs: the smarthost's faults", [SMARTHOST], results,
                   "-bs"),
             SMARTHOST_NOTES]
    return "\n".join(parts)


def all_cells(only):
    cells = []
    for stage in CLIENT_STAGES:
        for fault in stage.faults:
            cells.append(Cell("client", stage, fault))
    for name, fault in QUEUE_CELLS:
        cells.append(Cell("client", STAGE_BY_NAME[name], fault, queue=True))
    for stage in BS_STAGES + [SMARTHOST]:
        for fault in stage.faults:
            cells.append(Cell("-bs", stage, fault))
    if only:
        cells = [c for c in cells if any(k in c.name for k in only)]
    return cells


def memory_check(cells):
    """-bs refuses a 1 MiB command line without holding it: the binary's
    peak memory (VmHWM) stays within 768 KiB of the same step's garbage
    cell's."""
    rss = {(c.stage.name, c.fault): getattr(c, "rss", None) for c in cells
           if c.side == "-bs"}
    bad = 0
    for step in BS_STEPS:
        huge, base = rss.get((step, "hugeline")), rss.get((step, "garbage"))
        if step in ("body", "dot"):
            continue
        if huge is None or base is None:
            bad += 1
            print("FAIL -bs %s / hugeline: no peak memory measured" % step)
            continue
        if huge > base + 768:
            bad += 1
            print("FAIL -bs %s / hugeline: peak memory %d KiB, %d KiB more "
                  "than with a short bad line" % (step, huge, huge - base))
    return bad


def run_one(cell):
    try:
        return bs_cell(cell) if cell.side == "-bs" else client_cell(cell)
    except Exception as ex:     # a harness error fails the cell, not all
        cell.problem("harness error: %r" % ex)
        cell.result = "error"
        return cell


def main(argv=None):
    global MSMTP
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--msmtp", default=os.environ.get(
        "MSMTP", os.path.join(HERE, "..", "..", "src", "msmtp")))
    ap.add_argument("--out", default="fault-matrix.md")
    ap.add_argument("--doc", default=os.path.join(HERE, "..", "..", "doc",
                                                  "fault-matrix.md"))
    ap.add_argument("--write-doc", action="store_true")
    ap.add_argument("-j", type=int, default=4)
    ap.add_argument("-k", action="append", default=[])
    args = ap.parse_args(argv)
    MSMTP = os.path.abspath(args.msmtp)
    if not os.path.exists(MSMTP):
        print("SKIP: %s does not exist" % MSMTP)
        return 77
    if caserun.pki_dir() is None:
        print("SKIP: certtool not found (the TLS rows need the test PKI)")
        return 77
    started = time.monotonic()
    cells = all_cells(args.k)
    results = {}
    passed = failed = 0
    lock = threading.Lock()
    done = []
    with concurrent.futures.ThreadPoolExecutor(args.j) as pool:
        for cell in pool.map(run_one, cells):
            done.append(cell)
            key = (cell.side, cell.stage.name, cell.fault) + (
                ("queue",) if cell.queue else ())
            results[key] = cell.result
            want = expected_cell(cell)
            if cell.result != want:
                cell.problems.insert(0, "got %s, want %s"
                                     % (cell.result, want))
            with lock:
                if cell.problems:
                    failed += 1
                    print("FAIL %s (%.1f s): %s" % (cell.name, cell.elapsed,
                                                    cell.problems[0]))
                    for p in cell.problems[1:] + [
                            "stderr: %r" % cell.stderr[:600],
                            "transcript:\n" + cell.transcript[-3000:]]:
                        print("    " + p.replace("\n", "\n    "))
                else:
                    passed += 1
                    print("PASS %s (%.1f s)" % (cell.name, cell.elapsed))
                sys.stdout.flush()
    failed += memory_check(done)
    text = render(results)
    if not args.k:
        with open(args.write_doc and args.doc or args.out, "w") as f:
            f.write(text)
        if not args.write_doc:
            try:
                with open(args.doc) as f:
                    doc = f.read()
            except OSError:
                doc = ""
            if doc != text:
                failed += 1
                print("FAIL table: %s differs from %s:" % (args.out,
                                                           args.doc))
                sys.stdout.writelines(difflib.unified_diff(
                    doc.splitlines(True), text.splitlines(True),
                    args.doc, args.out))
            else:
                passed += 1
                print("PASS table: %s is %s" % (args.out, args.doc))
    print("fault matrix: %.0f s" % (time.monotonic() - started))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
