#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cases for the real-Postfix suite (run by postfix-test.sh).

  postfix_test.py --msmtp BINARY --port PORT --workdir WORKDIR [CASE...]

Expects a running instance from tests/servers/postfix-start.sh WORKDIR PORT.
Prints one line per case, "PASS name" or "FAIL name: reason" (details
indented below), then, after a failure, the tail of Postfix's maillog, and
finally exactly one line "N passed, N failed".  Exit 0 only if all passed.

What Postfix delivers: deliver.sh (a pipe(8) transport) writes each copy,
with LF line endings and no header added by the pipe, into
WORKDIR/maildir/<localpart>/new/ and its envelope sender into .../env/.  The
only header Postfix itself adds is its Received: trace field at the top
(main.cf keeps Bcc:, adds no missing headers, rewrites nothing).
"""

import argparse
import email.utils
import os
import re
import signal
import subprocess
import sys
import time

DOMAIN = "example.test"
SENDER = "sender@example.test"
POSTFIX_HOST = "mx.example.test"
RUN_TIMEOUT = 20      # seconds for one run of the binary
DELIVERY_TIMEOUT = 20  # seconds to wait for Postfix to deliver or settle
SUITE_BUDGET = 50     # seconds for all cases together (start/stop add ~4)
QUEUE_SUBDIRS = ("maildrop", "incoming", "active", "deferred", "hold")


_suite_deadline = time.monotonic() + SUITE_BUDGET


def budget(limit):
    """Seconds a wait may take: at most limit, and never past the suite's
    deadline, so that failing cases cannot push the suite over a minute."""
    return max(0.0, min(limit, _suite_deadline - time.monotonic()))


class CaseSkip(Exception):
    """The case cannot run here; args[0] says why."""


class CaseFailure(Exception):
    """A case's expectation did not hold; args[0] is the one-line reason,
    args[1] (optional) indented detail lines."""


class Instance:
    """The running private Postfix: its maildirs, queue and log."""

    def __init__(self, workdir, port):
        self.workdir = workdir
        self.port = port
        self.maildir = os.path.join(workdir, "maildir")
        self.queue = os.path.join(workdir, "queue")
        self.maillog = os.path.join(workdir, "log", "maillog")

    def messages(self, localpart):
        """Delivered copies for localpart: list of (name, bytes, sender)."""
        box = os.path.join(self.maildir, localpart)
        new = os.path.join(box, "new")
        try:
            names = sorted(os.listdir(new))
        except FileNotFoundError:
            return []
        result = []
        for name in names:
            with open(os.path.join(new, name), "rb") as f:
                data = f.read()
            try:
                with open(os.path.join(box, "env", name), "rb") as f:
                    sender = f.read().decode("utf-8", "replace").rstrip("\n")
            except FileNotFoundError:
                sender = None
            result.append((name, data, sender))
        return result

    def queued_files(self):
        """Queue files still in Postfix's queue (empty = nothing pending)."""
        found = []
        for sub in QUEUE_SUBDIRS:
            top = os.path.join(self.queue, sub)
            for dirpath, _dirs, files in os.walk(top):
                found.extend(os.path.join(dirpath, f) for f in files)
        return found

    def wait_settled(self, want):
        """Poll (bounded) until every localpart in want has at least one
        copy and the queue is empty.  With want empty this waits only for
        the queue to drain.  Raises CaseFailure on timeout."""
        limit = budget(DELIVERY_TIMEOUT)
        deadline = time.monotonic() + limit
        while True:
            missing = [lp for lp in want if not self.messages(lp)]
            queued = self.queued_files()
            if not missing and not queued:
                return
            if time.monotonic() >= deadline:
                detail = []
                if missing:
                    detail.append("no delivery for: " + ", ".join(missing))
                if queued:
                    detail.append("still queued: " + ", ".join(
                        os.path.relpath(q, self.queue) for q in queued))
                raise CaseFailure("Postfix did not settle within %.1fs"
                                  % limit, detail)
            time.sleep(0.05)

    def log_tail(self, lines=30):
        try:
            with open(self.maillog, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError as e:
            return ["(cannot read %s: %s)" % (self.maillog, e)]
        return text.splitlines()[-lines:]


class Runner:
    """Runs the binary under test against the instance, isolated from the
    caller's configuration (empty HOME, no SMTPSERVER or EMAIL)."""

    def __init__(self, msmtp, instance):
        self.msmtp = msmtp
        self.instance = instance
        home = os.path.join(instance.workdir, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if k not in ("SMTPSERVER", "EMAIL", "MAIL_CONFIG")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   LC_ALL="C")
        self.env = env

    def run(self, args, message):
        argv = [self.msmtp, "--host=127.0.0.1",
                "--port=%d" % self.instance.port] + args
        limit = budget(RUN_TIMEOUT)
        if limit <= 0:
            raise CaseFailure("suite time budget of %ds used up" % SUITE_BUDGET)
        try:
            proc = subprocess.run(argv, input=message, capture_output=True,
                                  env=self.env, timeout=limit)
        except subprocess.TimeoutExpired:
            raise CaseFailure("binary did not finish within %.1fs: %s"
                              % (limit, " ".join(argv)))
        if proc.returncode < 0:
            raise CaseFailure("binary killed by signal %d" % -proc.returncode,
                              stderr_lines(proc.stderr))
        return proc


def stderr_lines(stderr):
    text = stderr.decode("utf-8", "replace").rstrip("\n")
    return ["stderr: " + line for line in text.splitlines()] or ["stderr: (empty)"]


def expect_exit(proc, code):
    if proc.returncode != code:
        raise CaseFailure("exit %d, expected %d" % (proc.returncode, code),
                          stderr_lines(proc.stderr))


# --- Message surgery ------------------------------------------------------

def split_message(data):
    """Split LF-delimited message bytes into (header fields, rest).  Each
    field is the bytes of its first line plus continuation lines, with their
    LFs; rest starts at the blank line that ends the header (or is empty)."""
    fields = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        line = data[pos:end]
        if line in (b"\n", b""):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
        pos = end
    return fields, data[pos:]


def field_name(field):
    colon = field.find(b":")
    return field[:colon].strip().lower() if colon > 0 else b""


def field_value(field):
    return field[field.find(b":") + 1:].decode("utf-8", "replace").strip()


def strip_postfix_trace(data):
    """Remove the Received: fields Postfix put at the top (only leading ones
    naming this instance); returns (rest of message, number removed)."""
    fields, rest = split_message(data)
    removed = 0
    while (fields and field_name(fields[0]) == b"received"
           and (b"by " + POSTFIX_HOST.encode() + b" (Postfix)") in fields[0]):
        fields.pop(0)
        removed += 1
    return b"".join(fields) + rest, removed


def check_generated_headers(fields):
    """Exactly one Date: and one Message-ID: with sane values; returns the
    fields without them."""
    problems = []
    for name in (b"date", b"message-id"):
        found = [f for f in fields if field_name(f) == name]
        if len(found) != 1:
            problems.append("%d %s: fields (expected exactly 1)"
                            % (len(found), name.decode()))
            continue
        value = field_value(found[0])
        if name == b"date":
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is None or when.tzinfo is None:
                problems.append("Date: %r is not an RFC 5322 date" % value)
        elif not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", value):
            problems.append("Message-ID: %r is not <left@right>" % value)
    if problems:
        raise CaseFailure(problems[0], problems[1:])
    return [f for f in fields if field_name(f) not in (b"date", b"message-id")]


def first_difference(got, want):
    """Indented lines showing where two byte strings first differ."""
    n = 0
    while n < min(len(got), len(want)) and got[n] == want[n]:
        n += 1
    return ["lengths: got %d, expected %d; first difference at byte %d"
            % (len(got), len(want), n),
            "got:      %r" % got[max(0, n - 40):n + 40],
            "expected: %r" % want[max(0, n - 40):n + 40]]


def check_copy(who, copy, expected):
    """One delivered copy: envelope sender, Postfix's trace, generated Date
    and Message-ID, no Bcc, and every other byte as expected."""
    name, data, sender = copy
    if sender != SENDER:
        raise CaseFailure("%s: envelope sender %r, expected %r"
                          % (who, sender, SENDER))
    data, traces = strip_postfix_trace(data)
    if traces != 1:
        raise CaseFailure("%s: %d Received: fields from Postfix, expected 1"
                          % (who, traces))
    fields, rest = split_message(data)
    bcc = [f for f in fields if field_name(f) == b"bcc"]
    if bcc:
        raise CaseFailure("%s: Bcc header delivered: %r" % (who, bcc[0]))
    try:
        fields = check_generated_headers(fields)
    except CaseFailure as e:
        raise CaseFailure("%s: %s" % (who, e.args[0]), *e.args[1:])
    got = b"".join(fields) + rest
    if got != expected:
        raise CaseFailure("%s: delivered message differs from the input"
                          % who, first_difference(got, expected))


def expected_delivery(message):
    """What Postfix should hand to deliver.sh for an LF input message: the
    input without Bcc fields and with a final newline (SMTP DATA always
    ends with CRLF, which pipe(8) turns into LF)."""
    fields, rest = split_message(message)
    kept = b"".join(f for f in fields if field_name(f) != b"bcc")
    out = kept + rest
    return out if out.endswith(b"\n") else out + b"\n"


def expect_copies(inst, localparts, expected):
    for lp in localparts:
        copies = inst.messages(lp)
        if len(copies) != 1:
            raise CaseFailure("%s@%s got %d copies, expected 1"
                              % (lp, DOMAIN, len(copies)))
        check_copy(lp + "@" + DOMAIN, copies[0], expected)


def expect_nothing(inst, localparts):
    for lp in localparts:
        copies = inst.messages(lp)
        if copies:
            raise CaseFailure("%s@%s got %d copies, expected none"
                              % (lp, DOMAIN, len(copies)))


# --- Cases ---------------------------------------------------------------

LONG_LINE = b"0123456789" * 300  # 3000 characters, well over 998

MESSAGE_ARGV = (
    b"From: Sender <sender@example.test>\n"
    b"To: a@example.test\n"
    b"Bcc: hidden@example.test\n"
    b"Subject: argv recipients\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b".starts with one dot\n"
    b"..starts with two dots\n"
    b".\n"
    b"the line above was a lone dot\n"
    + LONG_LINE + b"\n"
    + "8-bit: Grüße, ça va, 日本語, ☃\n".encode("utf-8")
    + b"\n"
    b". \n"
    b"no final newline after this line")


def case_argv_recipients(inst, runner):
    """Recipients on the command line; Bcc removed (and not a recipient);
    dots, a lone dot, a 3000-character line, 8-bit text and a missing
    final newline all arrive intact; Date and Message-ID added once."""
    proc = runner.run(["-f", SENDER, "a@" + DOMAIN, "b@" + DOMAIN],
                      MESSAGE_ARGV)
    expect_exit(proc, 0)
    inst.wait_settled(["a", "b"])
    expect_copies(inst, ["a", "b"], expected_delivery(MESSAGE_ARGV))
    expect_nothing(inst, ["hidden"])


MESSAGE_T = (
    b"From: Sender <sender@example.test>\n"
    b"To: To Person <to2@example.test>\n"
    b"Cc: cc2@example.test,\n"
    b"\t\"Cc Two\" <cc2b@example.test>\n"
    b"Bcc: bcc2@example.test\n"
    b"Subject: recipients from headers\n"
    b"\n"
    b"Only To, Cc and Bcc name the recipients.\n")


def case_t_recipients(inst, runner):
    """-t: every To/Cc (folded too) and Bcc address gets a copy; the
    Bcc-only recipient too, and no copy shows the Bcc header."""
    proc = runner.run(["-f", SENDER, "-t"], MESSAGE_T)
    expect_exit(proc, 0)
    boxes = ["to2", "cc2", "cc2b", "bcc2"]
    inst.wait_settled(boxes)
    expect_copies(inst, boxes, expected_delivery(MESSAGE_T))


def rejected_recipient_case(inst, runner, good, bad, code, text):
    """A good recipient first, then one the server refuses: the whole
    message must be abandoned (nothing delivered to the good one)."""
    message = (b"From: Sender <sender@example.test>\n"
               b"To: " + good.encode() + b"@example.test\n"
               b"Subject: one bad recipient\n"
               b"\n"
               b"must not be delivered to anyone\n")
    proc = runner.run(["-f", SENDER, good + "@" + DOMAIN, bad + "@" + DOMAIN],
                      message)
    expect_exit(proc, code)
    if text.encode() not in proc.stderr:
        raise CaseFailure("stderr does not show the server's reply %r" % text,
                          stderr_lines(proc.stderr))
    inst.wait_settled([])
    expect_nothing(inst, [good, bad])


def case_tempfail_450(inst, runner):
    """450 to one RCPT: exit 75 (EX_TEMPFAIL), nothing delivered."""
    rejected_recipient_case(inst, runner, "good3a", "tempfail", 75,
                            "try later")


def case_reject_550(inst, runner):
    """550 to one RCPT: exit 65 (EX_DATAERR), nothing delivered."""
    rejected_recipient_case(inst, runner, "good3b", "reject", 65,
                            "no such user")


MESSAGE_TLS = (
    b"From: Sender <sender@example.test>\n"
    b"To: tls@example.test\n"
    b"Subject: over TLS\n"
    b"\n"
    b".dot line and 8-bit: Gr\xc3\xbc\xc3\x9fe\n")


def tls_case(inst, runner, port, extra, box):
    """A message over a TLS port of the real server, certificate verified
    against the test CA; it arrives intact."""
    if inst.tls_port is None:
        raise CaseSkip("no TLS ports (certtool missing)")
    ca = os.path.join(inst.workdir, "conf", "pki", "ca.pem")
    proc = runner.run(["--port=%d" % port, "--tls=on",
                       "--tls-trust-file=" + ca] + extra
                      + ["-f", SENDER, box + "@" + DOMAIN], MESSAGE_TLS)
    expect_exit(proc, 0)
    inst.wait_settled([box])
    expect_copies(inst, [box], expected_delivery(MESSAGE_TLS))


def case_starttls(inst, runner):
    """Submission port with STARTTLS required by Postfix."""
    tls_case(inst, runner, inst.tls_port, [], "tls1")


def case_implicit_tls(inst, runner):
    """Implicit-TLS port (smtpd_tls_wrappermode)."""
    tls_case(inst, runner, inst.smtps_port, ["--tls-starttls=off"], "tls2")


def case_starttls_wrong_ca(inst, runner):
    """The real server's certificate is not trusted by the system store
    (it comes from the test CA): refused with 69, nothing delivered."""
    if inst.tls_port is None:
        raise CaseSkip("no TLS ports (certtool missing)")
    proc = runner.run(["--port=%d" % inst.tls_port, "--tls=on",
                       "-f", SENDER, "tls3@" + DOMAIN], MESSAGE_TLS)
    expect_exit(proc, 69)
    if b"untrusted issuer" not in proc.stderr:
        raise CaseFailure("stderr does not name the untrusted issuer",
                          stderr_lines(proc.stderr))
    inst.wait_settled([])
    expect_nothing(inst, ["tls3"])


def tls_cache_send(inst, runner, trust, box, extra=(), code=0):
    """One message over STARTTLS with --debug; its stdout as text."""
    proc = runner.run(["-d", "--port=%d" % inst.tls_port, "--tls=on",
                       "--tls-trust-file=" + trust] + list(extra)
                      + ["-f", SENDER, box + "@" + DOMAIN], MESSAGE_TLS)
    expect_exit(proc, code)
    if code == 0:
        inst.wait_settled([box])
        expect_copies(inst, [box], expected_delivery(MESSAGE_TLS))
    else:
        inst.wait_settled([])
        expect_nothing(inst, [box])
    return (proc.stdout.decode("utf-8", "replace")
            + proc.stderr.decode("utf-8", "replace"))


def expect_debug(out, present, absent=()):
    for text in present:
        if text not in out:
            raise CaseFailure("--debug output lacks %r" % text,
                              out.splitlines()[-40:])
    for text in absent:
        if text in out:
            raise CaseFailure("--debug output has %r" % text,
                              out.splitlines()[-40:])


def cache_files(cache):
    """The session files in $XDG_CACHE_HOME/msmtp, checking the modes:
    the directory 0700, each file 0600."""
    top = os.path.join(cache, "msmtp")
    mode = os.stat(top).st_mode & 0o7777
    if mode != 0o700:
        raise CaseFailure("%s has mode %04o, expected 0700" % (top, mode))
    names = sorted(os.listdir(top))
    for name in names:
        mode = os.stat(os.path.join(top, name)).st_mode & 0o7777
        if mode != 0o600 or not name.startswith("tls-") \
                or "-127.0.0.1-" not in name:
            raise CaseFailure("unexpected cache file %s (mode %04o)"
                              % (name, mode))
    return names


def cache_expiry(cache, name):
    """The expiry a session file holds (after the magic, 8 bytes
    big-endian)."""
    with open(os.path.join(cache, "msmtp", name), "rb") as f:
        head = f.read(28)
    if head[:20] != b"MSMTP-TLS-SESSION 3\n":
        raise CaseFailure("session file %s: bad magic %r" % (name, head[:20]))
    return int.from_bytes(head[20:28], "big")


def case_tls_resumption(inst, runner):
    """Sends in a row over STARTTLS: the first makes a full handshake and
    keeps the session ticket Postfix sent (tls_session_cache, on by
    default; 0600 in a 0700 directory) until 8 hours after it, the second
    resumes that session without checking the certificate again, shows it,
    and keeps Postfix's new ticket with the same end.  With the trust
    file's content replaced by another CA the saved session is not offered
    (its key holds the trust file's identity): the full handshake is
    refused (69, untrusted issuer, nothing sent) and the file removed.
    Other settings (a pin) never meet a saved session; a full handshake
    removes the stale file of another server; a refused handshake leaves
    a cache directory others may write alone; with tls_session_cache off
    the cache is not touched."""
    if inst.tls_port is None:
        raise CaseSkip("no TLS ports (certtool missing)")
    pki = os.path.join(inst.workdir, "conf", "pki")
    home = os.path.join(inst.workdir, "home")
    cache = os.path.join(home, "cache-resumption")
    trust = os.path.join(home, "cache-trust.pem")
    subprocess.run(["rm", "-rf", cache], check=True)
    with open(os.path.join(pki, "ca.pem"), "rb") as f:
        ca = f.read()
    with open(os.path.join(pki, "selfsigned.pem"), "rb") as f:
        other = f.read()
    with open(trust, "wb") as f:
        f.write(ca)
    old = runner.env.get("XDG_CACHE_HOME")
    runner.env["XDG_CACHE_HOME"] = cache
    try:
        before = int(time.time())
        out = tls_cache_send(inst, runner, trust, "resume1")
        after = int(time.time()) + 1
        expect_debug(out, ["TLS session established with a full handshake",
                           ": none saved", ": saved"], ["resumed"])
        names = cache_files(cache)
        if len(names) != 1:
            raise CaseFailure("no session file saved")
        end = cache_expiry(cache, names[0])
        if not before + 8 * 3600 <= end <= after + 8 * 3600:
            raise CaseFailure("first session saved until %d, not 8 hours "
                              "after its handshake (%d..%d)"
                              % (end, before, after))
        out = tls_cache_send(inst, runner, trust, "resume2")
        expect_debug(out, ["offering the saved session",
                           "TLS session resumed (no full handshake)",
                           "that verification stands until",
                           "TLS certificate information:",
                           "SHA256 fingerprint: "])
        if cache_files(cache) != names \
                or cache_expiry(cache, names[0]) != end:
            raise CaseFailure("the resumed session's ticket did not keep "
                              "the end of the first verification (%d)" % end)
        fp = re.search(r"SHA256 fingerprint: (\S+)", out).group(1)
        with open(trust, "wb") as f:
            f.write(other)
        out = tls_cache_send(inst, runner, trust, "resume3", code=69)
        expect_debug(out, ["saved for other TLS settings",
                           "untrusted issuer"], ["offering"])
        if cache_files(cache):
            raise CaseFailure("the refused session is still saved")
        with open(trust, "wb") as f:
            f.write(ca)
        # the file of a server no longer used, in an older format: the
        # next full handshake's save removes it (no save would replace it)
        stale = os.path.join(cache, "msmtp", "tls-gone-old.example-25-0")
        with open(stale, "wb") as f:
            f.write(b"MSMTP-TLS-SESSION 2\n" + b"\0" * 64)
        os.chmod(stale, 0o600)
        out = tls_cache_send(inst, runner, trust, "resume4",
                             ["--tls-fingerprint=" + fp])
        expect_debug(out, ["none saved", ": saved",
                           "TLS session established with a full handshake",
                           "removed 1 stale file"])
        if os.path.exists(stale) or len(cache_files(cache)) != 1:
            raise CaseFailure("the stale session file was not removed, or "
                              "more went: %s" % cache_files(cache))
        out = tls_cache_send(inst, runner, trust, "resume5")
        expect_debug(out, ["saved for other TLS settings",
                           "TLS session established with a full handshake"],
                     ["resumed", "offering"])
        # a refused handshake removes the saved session only from a cache
        # directory it may trust: one others may write (or, for root, a
        # user's) is never acted on, whatever the file's name
        top = os.path.join(cache, "msmtp")
        kept = cache_files(cache)
        os.chmod(top, 0o777)
        try:
            with open(trust, "wb") as f:
                f.write(other)
            out = tls_cache_send(inst, runner, trust, "resume5b", code=69)
            expect_debug(out, ["untrusted issuer"], ["offering"])
            if sorted(os.listdir(top)) != kept:
                raise CaseFailure("a file was removed from a cache directory "
                                  "others may write: %s left of %s"
                                  % (sorted(os.listdir(top)), kept))
        finally:
            os.chmod(top, 0o700)
            with open(trust, "wb") as f:
                f.write(ca)
        # --host means "no configuration file", so this run goes without
        # the runner: the account comes from the file
        conf = os.path.join(home, "cache-off.rc")
        with open(conf, "w") as f:
            f.write("account default\nhost 127.0.0.1\nport %d\ntls on\n"
                    "tls_trust_file %s\ntls_session_cache off\n"
                    % (inst.tls_port, trust))
        os.chmod(conf, 0o600)
        proc = subprocess.run([runner.msmtp, "-C", conf, "-d", "-f", SENDER,
                               "resume6@" + DOMAIN], input=MESSAGE_TLS,
                              capture_output=True, env=runner.env,
                              timeout=budget(RUN_TIMEOUT) or 1)
        expect_exit(proc, 0)
        inst.wait_settled(["resume6"])
        out = proc.stdout.decode("utf-8", "replace")
        expect_debug(out, ["TLS session established with a full handshake"],
                     ["TLS session cache", "resumed"])
    finally:
        if old is None:
            runner.env.pop("XDG_CACHE_HOME", None)
        else:
            runner.env["XDG_CACHE_HOME"] = old


def debug_lines(proc):
    """The client lines of a --debug transcript ("--> ..."), as text."""
    return [ln[4:] for ln in proc.stdout.decode("utf-8", "replace")
            .splitlines() if ln.startswith("--> ")]


MESSAGE_BIG = (
    b"From: Sender <sender@example.test>\n"
    b"To: big@example.test\n"
    b"Subject: several BDAT chunks\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    + b"".join(b".dot line %d\n..two dots\n.\nplain text 0123456789 "
               b"Gr\xc3\xbc\xc3\x9fe\n" % i for i in range(10000))
    + LONG_LINE + b"\n"
    b"no final newline after this line")


def case_bdat_chunks(inst, runner):
    """Postfix offers CHUNKING: a message of about 700 KB goes in BDAT
    chunks (two of 262144 bytes, then LAST), never DATA, and arrives byte
    for byte: dot lines not stuffed yet intact, 8-bit text, a long line and
    the final newline added."""
    proc = runner.run(["-d", "-f", SENDER, "big@" + DOMAIN], MESSAGE_BIG)
    expect_exit(proc, 0)
    sent = debug_lines(proc)
    bdat = [ln for ln in sent if ln.startswith("BDAT ")]
    if bdat[:2] != ["BDAT 262144"] * 2 or len(bdat) != 3 \
            or not re.fullmatch(r"BDAT [0-9]+ LAST", bdat[2]) \
            or "DATA" in sent:
        raise CaseFailure("expected BDAT 262144 twice, then BDAT n LAST, "
                          "and no DATA", ["sent: %r" % ln for ln in sent])
    inst.wait_settled(["big"])
    expect_copies(inst, ["big"], expected_delivery(MESSAGE_BIG))


def case_data_chunking_off(inst, runner):
    """--chunking=off: DATA to the same server, the message intact."""
    proc = runner.run(["-d", "--chunking=off", "-f", SENDER,
                       "nochunk@" + DOMAIN], MESSAGE_ARGV)
    expect_exit(proc, 0)
    sent = debug_lines(proc)
    if "DATA" not in sent or any(ln.startswith("BDAT") for ln in sent):
        raise CaseFailure("expected DATA and no BDAT",
                          ["sent: %r" % ln for ln in sent])
    inst.wait_settled(["nochunk"])
    expect_copies(inst, ["nochunk"], expected_delivery(MESSAGE_ARGV))


AUTH_USER = "alice@example.test"
AUTH_PASSWORD = "dovecot-test-password"   # tests/servers/dovecot/users


def auth_case(inst, runner, method, password, code, box):
    """Submission with SASL through Dovecot, over STARTTLS."""
    if inst.auth_port is None:
        raise CaseSkip("no AUTH port (dovecot or certtool missing)")
    ca = os.path.join(inst.workdir, "conf", "pki", "ca.pem")
    args = ["--port=%d" % inst.auth_port, "--tls=on", "--tls-trust-file=" + ca]
    if method:
        args += ["--auth=" + method, "--user=" + AUTH_USER,
                 "--passwordeval=printf '%s'" % password]
    proc = runner.run(args + ["-d", "-f", SENDER, box + "@" + DOMAIN],
                      MESSAGE_TLS)
    expect_exit(proc, code)
    for secret in (password.encode(),):
        if method and secret in proc.stdout + proc.stderr:
            raise CaseFailure("the password appears in the output")
    if code == 0:
        inst.wait_settled([box])
        expect_copies(inst, [box], expected_delivery(MESSAGE_TLS))
    else:
        inst.wait_settled([])
        expect_nothing(inst, [box])
    return proc


def case_auth_plain(inst, runner):
    """AUTH PLAIN through Dovecot with the right password."""
    proc = auth_case(inst, runner, "plain", AUTH_PASSWORD, 0, "auth1")
    if b"--> AUTH PLAIN <redacted>" not in proc.stdout:
        raise CaseFailure("the debug transcript does not show AUTH PLAIN "
                          "redacted", stderr_lines(proc.stdout))


def case_auth_login(inst, runner):
    """AUTH LOGIN through Dovecot."""
    auth_case(inst, runner, "login", AUTH_PASSWORD, 0, "auth2")


def case_auth_on_scram(inst, runner):
    """auth on picks the strongest mechanism Dovecot offers (SCRAM-SHA-256)."""
    proc = auth_case(inst, runner, "on", AUTH_PASSWORD, 0, "auth3")
    if b"--> AUTH SCRAM-SHA-256 " not in proc.stdout:
        raise CaseFailure("auth on did not choose SCRAM-SHA-256",
                          stderr_lines(proc.stdout))


def case_auth_wrong_password(inst, runner):
    """A wrong password: 535 from Postfix/Dovecot, exit 77, nothing sent."""
    auth_case(inst, runner, "plain", "not-the-password", 77, "auth4")


def case_auth_required(inst, runner):
    """Without AUTH the submission port refuses the client (RCPT 554)."""
    auth_case(inst, runner, None, "", 65, "auth5")


CASES = [
    ("argv-recipients", case_argv_recipients),
    ("t-option-recipients", case_t_recipients),
    ("rcpt-450-all-or-nothing", case_tempfail_450),
    ("rcpt-550-all-or-nothing", case_reject_550),
    ("bdat-chunks-byte-exact", case_bdat_chunks),
    ("data-when-chunking-off", case_data_chunking_off),
    ("starttls-submission", case_starttls),
    ("implicit-tls", case_implicit_tls),
    ("starttls-untrusted", case_starttls_wrong_ca),
    ("tls-session-resumption", case_tls_resumption),
    ("auth-plain-dovecot", case_auth_plain),
    ("auth-login-dovecot", case_auth_login),
    ("auth-on-scram-dovecot", case_auth_on_scram),
    ("auth-wrong-password", case_auth_wrong_password),
    ("auth-required", case_auth_required),
]


def interrupted(signum, _frame):
    """Turn SIGTERM/SIGHUP into an exception so the caller's trap still
    stops Postfix and the summary is printed."""
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--msmtp", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--tls-port", type=int, default=None)
    ap.add_argument("--smtps-port", type=int, default=None)
    ap.add_argument("--auth-port", type=int, default=None)
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    opts = ap.parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)

    selected = [c for c in CASES if not opts.cases or c[0] in opts.cases]
    unknown = set(opts.cases) - {c[0] for c in CASES}
    if unknown:
        print("unknown case(s): " + ", ".join(sorted(unknown)))
        return 1
    inst = Instance(os.path.abspath(opts.workdir), opts.port)
    inst.tls_port = opts.tls_port
    inst.smtps_port = opts.smtps_port
    inst.auth_port = opts.auth_port
    runner = Runner(os.path.abspath(opts.msmtp), inst)
    passed = failed = 0
    try:
        for name, func in selected:
            try:
                func(inst, runner)
            except CaseSkip as e:
                print("SKIP %s: %s" % (name, e.args[0]))
            except CaseFailure as e:
                failed += 1
                print("FAIL %s: %s" % (name, e.args[0]))
                for line in (e.args[1] if len(e.args) > 1 else []):
                    print("    " + line)
            else:
                passed += 1
                print("PASS " + name)
            sys.stdout.flush()
    except KeyboardInterrupt as e:
        failed += 1
        print("FAIL interrupted: %s" % (e.args[0] if e.args else "SIGINT"))
    if failed:
        print("--- last lines of %s:" % inst.maillog)
        for line in inst.log_tail():
            print("    " + line)
        print("--- work directory kept: %s" % inst.workdir)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
