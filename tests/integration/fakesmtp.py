#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fakesmtp - a scripted fake SMTP/LMTP server for the integration tests.

One listening socket; connections are served one after another.  Each
connection gets a greeting and then a command loop whose replies can be
changed by a small script of directives (see SCRIPT_HELP or
tests/integration/README).  Everything the client sends is recorded: the raw
bytes, the command lines, the message data of each DATA phase and every
recv()/send() with a timestamp, so a test can check pipelining (which bytes
arrived before the server answered).  Anything the client does wrong that a
test could not see otherwise (pipelining when it must not, message data
before the 354, a bare LF in a command, an overlong line) is recorded as an
error; the runner fails a case when the server recorded an error.

Used as a module by run.py, and standalone (python3 fakesmtp.py --help) by
tests/demo.sh and for manual experiments.

Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import hmac
import os
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time

LINE_MAX = 64 * 1024            # longest command line we accept
BODY_MAX = 512 * 1024 * 1024    # largest message data we record
STALL_MAX = 30.0                # how long `stall` keeps a socket open
FAULT_KINDS = ("drop", "stall", "4xx", "5xx", "garbage", "hugeline",
               "manylines", "trickle", "unsolicited")
FAULT_4XX = b"451 4.3.0 fault injected: try again later"
FAULT_5XX = b"554 5.3.0 fault injected: refused"
FAULT_GARBAGE = b"this is not an SMTP reply\r\n"
FAULT_HUGE = 1024 * 1024        # hugeline: one reply line of 1 MiB
FAULT_LINES = 10000             # manylines: continuation lines
FAULT_UNSOLICITED = b"250 2.0.0 unsolicited\r\n"
HOLD_MAX = 5.0                  # require-pipelined: wait this long for DATA
IDLE_MAX = 60.0                 # a client silent this long is dropped
PEEK_WAIT = 0.05                # no-pipelining-allowed: look for early bytes
SLICE = 0.05                    # poll granularity (to notice stop requests)

DEFAULT_GREETING = ["220 fake.test ESMTP"]
DEFAULT_CAPS = ["PIPELINING", "8BITMIME", "SIZE 10240000",
                "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8"]
SERVER_NAME = "fake.test"
PKI_DIR = None                  # set by the runner: test certificates (mkpki.sh)
TLS_HANDSHAKE_MAX = 10.0

SCRIPT_HELP = """\
directives (one per line, '#' comments):
  greeting TEXT               full greeting (\\n separates lines)
  caps A,B,C | caps none      EHLO capabilities replacing the default
                              (e.g. caps PIPELINING,AUTH XOAUTH2 OAUTHBEARER)
  no-ehlo                     EHLO -> 502 (client must fall back to HELO)
  reply VERB[#n] TEXT         override (the n-th) reply to VERB; VERB is a
                              command or GREETING or EOD (end of data)
  reply-rcpt ADDR TEXT        reply for RCPT TO:<ADDR>
  lf-only                     replies end in LF only
  split-bytes                 replies go out one byte per send()
  delay VERB SECS             sleep before replying to VERB
  trickle VERB SECS           send the reply to VERB one byte every SECS
                              seconds (GREETING: the greeting)
  stall VERB                  never reply to VERB (GREETING: no greeting)
  close-after VERB            close right after reading VERB (GREETING:
                              right after sending the greeting)
  close-during-body [N]       close after N (default 1) bytes of message data
  garbage-before VERB TEXT    raw TEXT (\\r \\n \\t \\0 \\xNN escapes) before
                              the reply
  nul-in-reply VERB           a NUL byte inside VERB's reply
  overlong-reply VERB N       VERB's reply is one line of N bytes
  too-many-lines VERB N       VERB's reply has N continuation lines
  require-pipelined           MAIL, all RCPTs and DATA must arrive before
                              the reply to MAIL (replies held up to 5 s)
  no-pipelining-allowed       error if a command arrives before the reply
                              to the previous one was sent
  reject-all-rcpt-but-354     every RCPT 550, DATA still 354
  connections N               serve N connections (default 1)
  starttls CERT               offer STARTTLS; handshake with PKI/CERT.pem
  implicit-tls CERT           TLS from the first byte with PKI/CERT.pem
  inject-after-starttls TEXT  send TEXT in the same segment as the 220 to
                              STARTTLS (response injection attack)
  inject-after VERB TEXT      send TEXT in the same segment as the reply to
                              VERB (e.g. DATA: bytes behind the 354)
  ignore-client-errors        log client protocol errors instead of failing
  auth-user USER PASSWORD     verify AUTH exchanges against these
                              credentials (the token for OAuth mechanisms)
  auth-token-file PATH        XOAUTH2/OAUTHBEARER: accept a bearer token
                              that equals a line of PATH, re-read at each
                              AUTH (tests/servers/fakeoauth.py writes it);
                              the user must be auth-user's USER if given;
                              else a 334 JSON error challenge, then 535
  tls-max 1.2                 cap the TLS version (tls-unique for -PLUS)
  chunking                    offer CHUNKING (RFC 3030): BDAT chunks are
                              read by their size and reassembled into the
                              message data (no stuffing, no final dot);
                              `reply BDAT[#n]` answers the n-th BDAT of
                              the connection, the LAST chunk is answered
                              as EOD (reply EOD, close-after EOD, ...)
  fault VERB[#n] KIND         misbehave at the (n-th) reply to VERB: drop,
                              stall, 4xx, 5xx, garbage, hugeline,
                              manylines, trickle, unsolicited; VERB
                              HANDSHAKE (the TLS handshake) or BODY (while
                              message data arrives; 4xx/5xx refuse early):
                              see tests/integration/README
"""


class ScriptError(ValueError):
    """A bad directive in a server script."""


def unescape(text):
    """Turn \\r \\n \\t \\0 \\\\ and \\xNN escapes into bytes."""
    out = bytearray()
    i = 0
    raw = text.encode("utf-8", "surrogateescape")
    simple = {ord("r"): b"\r", ord("n"): b"\n", ord("t"): b"\t",
              ord("0"): b"\0", ord("\\"): b"\\"}
    while i < len(raw):
        c = raw[i]
        if c != 0x5C or i + 1 >= len(raw):
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in simple:
            out += simple[nxt]
            i += 2
        elif nxt == ord("x") and re.fullmatch(rb"[0-9A-Fa-f]{2}",
                                               raw[i + 2:i + 4]):
            out.append(int(raw[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(c)
            i += 1
    return bytes(out)


def reply_lines(text):
    """Reply TEXT with escapes -> list of reply lines (bytes, no CRLF)."""
    return [ln[:-1] if ln.endswith(b"\r") else ln
            for ln in unescape(text).split(b"\n")]


def verb_key(word):
    """Verb names are case-insensitive; GREETING and EOD are pseudo-verbs."""
    return word.strip().upper()


def parse_verb_n(word):
    """'RCPT#2' -> ('RCPT', 2); 'RCPT' -> ('RCPT', 0) meaning every one."""
    m = re.fullmatch(r"([A-Za-z]+)(?:#(\d+))?", word)
    if not m:
        raise ScriptError("bad verb %r" % word)
    n = int(m.group(2)) if m.group(2) else 0
    if m.group(2) and n < 1:
        raise ScriptError("reply numbers start at 1: %r" % word)
    return verb_key(m.group(1)), n


class Script:
    """The parsed directives of one server."""

    def __init__(self, lines=()):
        self.greeting = [ln.encode() for ln in DEFAULT_GREETING]
        self.caps = list(DEFAULT_CAPS)
        self.no_ehlo = False
        self.replies = {}           # (VERB, n) -> [bytes lines]; n=0: all
        self.rcpt_replies = {}      # lower-case address -> [bytes lines]
        self.lf_only = False
        self.split_bytes = False
        self.delays = {}            # VERB -> seconds
        self.trickle = {}           # VERB -> seconds between reply bytes
        self.stalls = set()
        self.close_after = set()
        self.close_during_body = None
        self.garbage = {}           # VERB -> bytes
        self.nul_in = set()
        self.overlong = {}          # VERB -> N
        self.too_many = {}          # VERB -> N
        self.require_pipelined = False
        self.no_pipelining_allowed = False
        self.reject_all_rcpt_but_354 = False
        self.connections = 1        # None = unlimited
        self.starttls_cert = None   # offer STARTTLS with this certificate
        self.ignore_client_errors = False  # log client misbehaviour only
        self.auth_user = None       # (user, password-or-token) to verify
        self.auth_token_file = None  # file of valid bearer tokens, one a line
        self.tls_max = None         # "1.2": cap the TLS version
        self.chunking = False       # offer CHUNKING (BDAT)
        self.implicit_cert = None   # TLS from the first byte
        self.inject_after_starttls = None  # bytes sent right after the 220
        self.inject_after = {}      # VERB -> bytes sent with its reply
        self.faults = {}            # (VERB, n) -> KIND; n=0: every reply
        for number, line in enumerate(lines, 1):
            try:
                self.add(line)
            except ScriptError as ex:
                raise ScriptError("server directive %d: %s" % (number, ex))

    @staticmethod
    def _int(word, what):
        try:
            value = int(word)
        except ValueError:
            raise ScriptError("%s must be an integer, not %r" % (what, word))
        if value < 0:
            raise ScriptError("%s must not be negative" % what)
        return value

    def add(self, line):
        """Parse one directive line (blank and '#' lines are ignored)."""
        line = line.strip()
        if not line or line.startswith("#"):
            return
        parts = line.split(None, 1)
        name = parts[0].lower()
        rest = parts[1] if len(parts) > 1 else ""
        handler = getattr(self, "_d_" + name.replace("-", "_"), None)
        if handler is None:
            raise ScriptError("unknown directive %r" % parts[0])
        handler(rest)

    def _need(self, rest, count, usage):
        words = rest.split(None, count - 1) if count else []
        if len(words) < count or (count == 0 and rest):
            raise ScriptError("usage: " + usage)
        return words

    def _d_greeting(self, rest):
        self.greeting = reply_lines(self._need(rest, 1, "greeting TEXT")[0])

    def _d_caps(self, rest):
        rest = self._need(rest, 1, "caps A,B,C | caps none")[0]
        if rest.strip().lower() == "none":
            self.caps = []
        else:
            self.caps = [c.strip() for c in rest.split(",") if c.strip()]

    def _d_no_ehlo(self, rest):
        self._need(rest, 0, "no-ehlo")
        self.no_ehlo = True

    def _d_reply(self, rest):
        verb, text = self._need(rest, 2, "reply VERB[#n] TEXT")
        self.replies[parse_verb_n(verb)] = reply_lines(text)

    def _d_reply_rcpt(self, rest):
        addr, text = self._need(rest, 2, "reply-rcpt ADDR TEXT")
        self.rcpt_replies[addr.strip("<>").lower()] = reply_lines(text)

    def _d_lf_only(self, rest):
        self._need(rest, 0, "lf-only")
        self.lf_only = True

    def _d_split_bytes(self, rest):
        self._need(rest, 0, "split-bytes")
        self.split_bytes = True

    def _d_delay(self, rest):
        verb, secs = self._need(rest, 2, "delay VERB SECS")
        try:
            self.delays[verb_key(verb)] = float(secs)
        except ValueError:
            raise ScriptError("delay needs seconds, not %r" % secs)

    def _d_trickle(self, rest):
        verb, secs = self._need(rest, 2, "trickle VERB SECS")
        try:
            self.trickle[verb_key(verb)] = float(secs)
        except ValueError:
            raise ScriptError("trickle needs seconds, not %r" % secs)

    def _d_stall(self, rest):
        self.stalls.add(verb_key(self._need(rest, 1, "stall VERB")[0]))

    def _d_close_after(self, rest):
        self.close_after.add(
            verb_key(self._need(rest, 1, "close-after VERB")[0]))

    def _d_close_during_body(self, rest):
        self.close_during_body = self._int(rest, "byte count") if rest else 1

    def _d_garbage_before(self, rest):
        verb, text = self._need(rest, 2, "garbage-before VERB TEXT")
        self.garbage[verb_key(verb)] = unescape(text)

    def _d_nul_in_reply(self, rest):
        self.nul_in.add(verb_key(self._need(rest, 1, "nul-in-reply VERB")[0]))

    def _d_overlong_reply(self, rest):
        verb, n = self._need(rest, 2, "overlong-reply VERB N")
        self.overlong[verb_key(verb)] = max(self._int(n, "length"), 4)

    def _d_too_many_lines(self, rest):
        verb, n = self._need(rest, 2, "too-many-lines VERB N")
        self.too_many[verb_key(verb)] = self._int(n, "line count")

    def _d_require_pipelined(self, rest):
        self._need(rest, 0, "require-pipelined")
        self.require_pipelined = True

    def _d_no_pipelining_allowed(self, rest):
        self._need(rest, 0, "no-pipelining-allowed")
        self.no_pipelining_allowed = True

    def _d_reject_all_rcpt_but_354(self, rest):
        self._need(rest, 0, "reject-all-rcpt-but-354")
        self.reject_all_rcpt_but_354 = True

    def _d_starttls(self, rest):
        self.starttls_cert = self._need(rest, 1, "starttls CERTNAME")[0].strip()

    def _d_implicit_tls(self, rest):
        self.implicit_cert = self._need(rest, 1, "implicit-tls CERTNAME")[0].strip()

    def _d_inject_after_starttls(self, rest):
        text = self._need(rest, 1, "inject-after-starttls TEXT")[0]
        self.inject_after_starttls = unescape(text)

    def _d_inject_after(self, rest):
        verb, text = self._need(rest, 2, "inject-after VERB TEXT")
        self.inject_after[verb_key(verb)] = unescape(text)

    def _d_fault(self, rest):
        verb, kind = self._need(rest, 2, "fault VERB[#n] KIND")
        kind = kind.strip().lower()
        if kind not in FAULT_KINDS:
            raise ScriptError("fault KIND must be one of %s, not %r"
                              % (", ".join(FAULT_KINDS), kind))
        key = parse_verb_n(verb)
        allowed = {"HANDSHAKE": ("drop", "stall", "garbage", "hugeline",
                                 "trickle"),
                   "BODY": ("drop", "stall", "trickle", "unsolicited",
                            "4xx", "5xx")}
        if kind not in allowed.get(key[0], FAULT_KINDS):
            raise ScriptError("fault %s cannot be %s" % (key[0], kind))
        self.faults[key] = kind

    def _d_auth_user(self, rest):
        user, secret = self._need(rest, 2, "auth-user USER PASSWORD")
        self.auth_user = (user, secret.strip())

    def _d_auth_token_file(self, rest):
        self.auth_token_file = self._need(
            rest, 1, "auth-token-file PATH")[0].strip()

    def _d_tls_max(self, rest):
        self.tls_max = self._need(rest, 1, "tls-max 1.2")[0].strip()

    def _d_chunking(self, rest):
        self._need(rest, 0, "chunking")
        self.chunking = True

    def _d_ignore_client_errors(self, rest):
        self._need(rest, 0, "ignore-client-errors")
        self.ignore_client_errors = True

    def _d_connections(self, rest):
        n = self._int(self._need(rest, 1, "connections N")[0], "count")
        if n < 1:
            raise ScriptError("connections must be at least 1")
        self.connections = n


class ConnRecord:
    """What happened on one connection."""

    def __init__(self, index):
        self.index = index
        self.started = time.monotonic()
        self.ended = None
        self.raw = bytearray()      # every byte received, exactly
        self.commands = []          # command lines (str, no CRLF)
        self.bodies = []            # message data of each DATA phase (or
                                    # of each BDAT transaction, reassembled)
        self.data_complete = []     # parallel: terminator (LAST) seen?
        self.body_is_bdat = []      # parallel: came in BDAT chunks
        self.chunks = []            # (size, last) of every BDAT command
        self.events = []            # (time, "recv"|"send", bytes)
        self.log = []               # ("C"|"S"|"D"|"*", text) for humans
        self.errors = []            # client misbehaviour
        self.closed_by = None       # "client" | "server"
        self.tls = None             # TLS version once a handshake succeeded
        self.client_cert = False    # the client presented a certificate
        self.auth = None            # (mechanism, accepted) of the last AUTH
        self.auth_tokens = []       # bearer tokens offered (XOAUTH2...), str

    def batches(self):
        """Command bytes grouped by the server send that followed them."""
        groups, cur = [], bytearray()
        for _, kind, data in self.events:
            if kind == "recv":
                cur += data
            elif cur:
                groups.append(bytes(cur))
                cur = bytearray()
        if cur:
            groups.append(bytes(cur))
        return groups


class _Cancelled(Exception):
    """The client cancelled an AUTH exchange with "*"."""


class _Closed(Exception):
    """The connection is over (either side)."""


class _FaultDone(Exception):
    """An injected 4xx/5xx replaced a reply: whatever the command would
    have started (a data phase, TLS, a SASL exchange) does not happen."""


def _show(data):
    """bytes -> printable text for transcripts (escapes CR, NUL, 8-bit)."""
    text = repr(bytes(data))[2:-1]
    return text.replace('\\"', '"').replace("\\'", "'")


class Session:
    """Serves one client connection according to a Script."""

    def __init__(self, server, sock, record):
        self.server = server
        self.script = server.script
        self.sock = sock
        self.rec = record
        self.buf = bytearray()
        self.eof = False
        self.counts = {}
        self.lmtp = False
        self.in_mail = False
        self.accepted = []          # accepted recipients of this transaction
        self.held = None            # require-pipelined: queued replies
        self.hold_deadline = None
        self.hold_commands = []
        self.enter_data = False
        self.bdat_index = None      # rec.bodies slot of the BDAT transaction
        self.bdat_failed = False    # a chunk was refused: discard the rest
        self.lockstep_reported = False
        self.tls = False
        self.reply_counts = {}      # VERB -> replies so far (for `fault`)

    # ---- low-level I/O ------------------------------------------------

    def _wait_readable(self, deadline):
        """True when the socket is readable before deadline (or stop)."""
        while True:
            if self.server.stopping.is_set():
                raise _Closed("server stopping")
            if self.tls and self.sock.pending():
                return True
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.sock], [], [],
                                   max(0.0, min(left, SLICE)))
            if r:
                return True
            if left <= 0:
                return False

    def _recv(self, deadline):
        """Read what is available into buf; False on timeout."""
        if self.eof:
            raise _Closed("client closed")
        if not self._wait_readable(deadline):
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.eof = True
            self.rec.closed_by = self.rec.closed_by or "client"
            raise _Closed("client closed")
        self.buf += data
        self.rec.raw += data
        self.rec.events.append((time.monotonic(), "recv", data))
        return True

    def _peek_more(self, wait):
        """Collect bytes that arrive within `wait` seconds (no blocking)."""
        deadline = time.monotonic() + wait
        try:
            while self._recv(deadline):
                pass
        except _Closed:
            pass

    def _send(self, data):
        self.rec.events.append((time.monotonic(), "send", data))
        try:
            if self.script.split_bytes:
                for i in range(len(data)):
                    self.sock.sendall(data[i:i + 1])
                    time.sleep(0.002)
            else:
                self.sock.sendall(data)
        except OSError:
            raise _Closed("send failed")

    def close(self, by="server"):
        self.rec.closed_by = self.rec.closed_by or by
        try:
            self.sock.close()
        except OSError:
            pass
        raise _Closed("closed by " + by)

    def read_line(self):
        """One CRLF-terminated command line (bytes, no line end)."""
        deadline = time.monotonic() + IDLE_MAX
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl + 1])
                del self.buf[:nl + 1]
                if not line.endswith(b"\r\n"):
                    self.error("command line ends in a bare LF: %s"
                               % _show(line))
                    return line[:-1]
                if b"\r" in line[:-2]:
                    self.error("bare CR in command line: %s" % _show(line))
                return line[:-2]
            if len(self.buf) > LINE_MAX:
                self.error("command line longer than %d bytes" % LINE_MAX)
                self.close()
            if not self._recv(deadline):
                self.error("client idle for %d s" % IDLE_MAX)
                self.close()

    def error(self, text):
        if not self.script.ignore_client_errors:
            self.rec.errors.append(text)
        self.rec.log.append(("*", "ERROR: " + text))

    # ---- replies --------------------------------------------------------

    def _count(self, verb):
        self.counts[verb] = self.counts.get(verb, 0) + 1
        return self.counts[verb]

    def _override(self, verb, n):
        return self.script.replies.get((verb, n),
                                       self.script.replies.get((verb, 0)))

    def _shape(self, verb, lines):
        """Apply overlong / too-many-lines / NUL directives to a reply."""
        code = lines[-1][:3] if lines and lines[-1][:3].isdigit() else b"250"
        if verb in self.script.overlong:
            n = self.script.overlong[verb]
            lines = [code + b" " + b"x" * (n - 4)]
        if verb in self.script.too_many:
            n = self.script.too_many[verb]
            lines = [code + b"-line %d" % i for i in range(1, n + 1)]
            lines.append(code + b" last line")
        if verb in self.script.nul_in:
            last = lines[-1]
            cut = min(len(last), 6)
            lines = lines[:-1] + [last[:cut] + b"\0" + last[cut:]]
        return lines

    def _encode(self, verb, lines):
        end = b"\n" if self.script.lf_only else b"\r\n"
        data = b"".join(ln + end for ln in lines)
        return self.script.garbage.get(verb, b"") + data

    def respond(self, verb, lines, after=None):
        """Send (or, while holding, queue) the reply to VERB."""
        lines = self._shape(verb, lines)
        kind = self._fault_for(verb)
        if kind is not None:
            self._fault(verb, lines, kind, after)
            return
        if self.held is not None:
            self.held.append((verb, lines, after))
            return
        self._emit(verb, lines, after)

    def _fault_for(self, verb):
        """The `fault` KIND for this reply to VERB (counted), or None."""
        n = self.reply_counts.get(verb, 0) + 1
        self.reply_counts[verb] = n
        faults = self.script.faults
        return faults.get((verb, n), faults.get((verb, 0)))

    def _fault(self, verb, lines, kind, after):
        """Misbehave instead of sending the reply to VERB (`fault`)."""
        self.rec.log.append(("*", "fault %s at the reply to %s"
                             % (kind, verb)))
        code = lines[-1][:3] if lines and lines[-1][:3].isdigit() else b"250"
        if kind == "drop":
            self.close("server")
        if kind == "stall":
            self.stall(verb)
        if kind in ("4xx", "5xx"):
            self._emit(verb, [FAULT_4XX if kind == "4xx" else FAULT_5XX],
                       None)
            raise _FaultDone()
        if kind in ("trickle", "unsolicited"):
            self._emit(verb, lines, after, kind)
            return
        if kind == "garbage":
            self._send(FAULT_GARBAGE)
        elif kind == "hugeline":
            self._send(code + b" " + b"x" * FAULT_HUGE + b"\r\n")
        else:
            self._send(b"".join(code + b"-line %d\r\n" % i
                                for i in range(1, FAULT_LINES + 1))
                       + code + b" last line\r\n")
        self.stall(verb)

    def _emit(self, verb, lines, after, fault=None):
        if verb in self.script.delays:
            self._sleep(self.script.delays[verb])
        if self.script.no_pipelining_allowed:
            self._check_lockstep(verb)
        if after == "data":
            self._peek_more(0)
            if self.buf:
                self.error("client sent %s before the 354 reply to DATA"
                           % _show(self.buf[:60]))
        for ln in lines:
            self.rec.log.append(("S", _show(ln)))
        extra = self.script.inject_after.get(verb, b"")
        if fault == "unsolicited":
            extra += FAULT_UNSOLICITED
        if extra:
            self.rec.log.append(("*", "injecting %s after the reply to %s"
                                 % (_show(extra), verb)))
        self._send_reply(verb, self._encode(verb, lines) + extra,
                         1.0 if fault == "trickle" else None)
        if after == "data":
            self.enter_data = True
        elif after == "close":
            self.close("server")

    def _send_reply(self, verb, data, secs=None):
        """Send a reply: at once, or trickled one byte at a time."""
        if secs is None:
            secs = self.script.trickle.get(verb)
        if secs is None:
            self._send(data)
            return
        for i in range(len(data)):
            if i:
                self._sleep(secs)
            self._send(data[i:i + 1])

    def _check_lockstep(self, verb):
        """no-pipelining-allowed: nothing may be waiting before we answer."""
        self._peek_more(PEEK_WAIT)
        if not self.buf or self.lockstep_reported:
            return
        self.lockstep_reported = True
        what = ("the greeting" if verb == "GREETING"
                else "the reply to " + verb)
        self.error("client sent %s before %s (PIPELINING not offered; "
                   "only the first violation is reported)"
                   % (_show(self.buf[:80]), what))

    def _sleep(self, secs):
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            if self.server.stopping.is_set():
                raise _Closed("server stopping")
            time.sleep(min(SLICE, max(0, deadline - time.monotonic())))

    def flush_held(self):
        held, self.held = self.held, None
        self.hold_deadline = None
        for verb, lines, after in held or ():
            self._emit(verb, lines, after)

    def stall(self, verb):
        """Never answer; wait for the client to leave (or STALL_MAX)."""
        self.rec.log.append(("*", "stalling on " + verb))
        deadline = time.monotonic() + STALL_MAX
        while self._recv(deadline):
            pass
        self.close("server")

    def _pre_reply(self, verb):
        """close-after / stall for a command just read."""
        if verb in self.script.close_after:
            self.rec.log.append(("*", "closing after " + verb))
            self.close("server")
        if verb in self.script.stalls:
            self.stall(verb)

    # ---- the dialogue -------------------------------------------------

    def _start_tls(self, certname):
        """Server side of a TLS handshake with a test certificate."""
        if PKI_DIR is None:
            self.error("TLS requested but no PKI directory was set")
            self.close()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(PKI_DIR, certname + ".pem"),
                            os.path.join(PKI_DIR, certname + ".key"))
        ctx.load_verify_locations(os.path.join(PKI_DIR, "ca.pem"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        if self.script.tls_max == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        kind = self._fault_for("HANDSHAKE")
        if kind is not None:
            self._handshake_fault(kind, ctx)
        raw = self.sock
        try:
            raw.settimeout(TLS_HANDSHAKE_MAX)
            self.sock = ctx.wrap_socket(raw, server_side=True)
            self.sock.settimeout(None)
        except (ssl.SSLError, OSError) as ex:
            self.rec.log.append(("*", "TLS handshake failed: %s" % ex))
            self.sock = raw
            self.eof = True
            self.close("client")
        self.tls = True
        self.rec.tls = self.sock.version()
        peer = self.sock.getpeercert()
        self.rec.log.append(("*", "TLS handshake done: %s%s" % (
            self.rec.tls, ", client certificate presented" if peer else "")))
        self.rec.client_cert = bool(peer)

    def _handshake_fault(self, kind, ctx):
        """`fault HANDSHAKE KIND`: no proper TLS handshake; the connection
        ends (raises _Closed) when the client gives up."""
        self.rec.log.append(("*", "fault %s instead of the TLS handshake"
                             % kind))
        if kind == "drop":
            self.close("server")
        if kind == "garbage":
            self._send(FAULT_GARBAGE)
        elif kind == "hugeline":
            self._send(b"x" * FAULT_HUGE)
        elif kind == "trickle":
            self._trickle_handshake(ctx)
        self.stall("HANDSHAKE")

    def _trickle_handshake(self, ctx):
        """A real server handshake whose every byte goes out a second
        apart (memory BIOs between the TLS object and the socket)."""
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_side=True)
        deadline = time.monotonic() + STALL_MAX
        while time.monotonic() < deadline:
            try:
                obj.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            except ssl.SSLError as ex:
                self.rec.log.append(("*", "TLS handshake failed: %s" % ex))
                self.close("client")
            data = out.read()
            if data:
                self._send_reply("HANDSHAKE", data, 1.0)
            elif done:
                return
            else:
                if not self._recv(deadline):
                    return
                inc.write(bytes(self.buf))
                self.buf.clear()

    def run(self):
        try:
            if self.script.implicit_cert:
                self._start_tls(self.script.implicit_cert)
            try:
                self._greet()
            except _FaultDone:
                pass
            while True:
                try:
                    self._step()
                except _FaultDone:
                    pass
        except _Closed:
            pass
        finally:
            if self.held:
                self.error("connection ended while replies were held "
                           "(require-pipelined): got only %s"
                           % self.hold_commands)
            self.rec.ended = time.monotonic()
            try:
                self.sock.close()
            except OSError:
                pass

    def _step(self):
        """One turn of the command loop."""
        if self.enter_data:
            self.enter_data = False
            self._data_phase()
            return
        if self.held is not None:
            self._read_while_holding()
            return
        self._command(self.read_line())

    def _greet(self):
        if "GREETING" in self.script.stalls:
            self.stall("GREETING")
        lines = self._override("GREETING", 1) or self.script.greeting
        self.respond("GREETING", lines)
        if "GREETING" in self.script.close_after:
            self.rec.log.append(("*", "closing after the greeting"))
            self.close("server")
        # After a 4xx/5xx greeting we keep serving (RFC 5321 3.1: the
        # server waits for QUIT) so the client's behaviour is recorded.

    def _read_while_holding(self):
        """require-pipelined: read the batch without answering MAIL yet."""
        if not self.buf or self.buf.find(b"\n") < 0:
            if not self._recv(self.hold_deadline):
                self.error("client did not pipeline: after MAIL only %s "
                           "arrived within %.0f s while replies were held"
                           % (self.hold_commands, HOLD_MAX))
                self.flush_held()
                return
            return
        self._command(self.read_line())

    def _command(self, line):
        text = line.decode("utf-8", "surrogateescape")
        self.rec.commands.append(text)
        self.rec.log.append(("C", _show(line)))
        verb = verb_key(text.split(" ", 1)[0]) if text else ""
        n = self._count(verb)
        if self.held is not None:
            self.hold_commands.append(text)
        self._pre_reply(verb)
        handler = getattr(self, "_c_" + verb.lower(), None)
        if not re.fullmatch(r"[A-Z]+", verb or "-") or handler is None:
            handler = self._c_unknown
        handler(verb, n, text)
        if self.held is not None and verb not in ("MAIL", "RCPT"):
            if verb != "DATA":
                self.error("require-pipelined: %s arrived in the held batch"
                           % verb)
            self.flush_held()

    def _reply(self, verb, n, default, after=None):
        self.respond(verb, self._override(verb, n) or default, after)

    def _chunking_offered(self):
        return self.script.chunking or any(
            c.upper() == "CHUNKING" for c in self.script.caps)

    def _ehlo_lines(self):
        lines = [b"250 " + SERVER_NAME.encode()]
        caps = list(self.script.caps)
        if self.script.chunking and "CHUNKING" not in \
                [c.upper() for c in caps]:
            caps.append("CHUNKING")
        if self.script.starttls_cert and not self.tls:
            caps.append("STARTTLS")
        if caps:
            lines = [b"250-" + SERVER_NAME.encode()]
            caps = [c.encode() for c in caps]
            lines += [b"250-" + c for c in caps[:-1]]
            lines.append(b"250 " + caps[-1])
        return lines

    def _c_ehlo(self, verb, n, text):
        if self.script.no_ehlo:
            self._reply(verb, n, [b"502 5.5.1 not implemented"])
        else:
            self._reply(verb, n, self._ehlo_lines())
        self._reset()

    def _c_lhlo(self, verb, n, text):
        self.lmtp = True
        self._reply(verb, n, self._ehlo_lines())
        self._reset()

    def _c_helo(self, verb, n, text):
        self._reply(verb, n, [b"250 " + SERVER_NAME.encode()])
        self._reset()

    def _reset(self):
        self.in_mail = False
        self.accepted = []
        self.bdat_index = None
        self.bdat_failed = False

    def _c_mail(self, verb, n, text):
        if self.script.require_pipelined and self.held is None:
            self.held = []
            self.hold_commands = [text]
            self.hold_deadline = time.monotonic() + HOLD_MAX
        lines = self._override(verb, n) or [b"250 2.1.0 Ok"]
        self.respond(verb, lines)
        if lines[-1][:1] == b"2":
            self.in_mail = True
            self.accepted = []

    @staticmethod
    def _path(text):
        m = re.search(r"<([^>]*)>", text)
        return m.group(1) if m else ""

    def _c_rcpt(self, verb, n, text):
        addr = self._path(text)
        lines = self._override(verb, n)
        if lines is None:
            lines = self.script.rcpt_replies.get(addr.lower())
        if lines is None and self.script.reject_all_rcpt_but_354:
            lines = [b"550 5.1.1 <%s>: Recipient address rejected"
                     % addr.encode("utf-8", "surrogateescape")]
        if lines is None:
            lines = ([b"250 2.1.5 Ok"] if self.in_mail
                     else [b"503 5.5.1 Error: need MAIL command"])
        self.respond(verb, lines)
        if lines[-1][:1] == b"2":
            self.accepted.append(addr)

    def _c_data(self, verb, n, text):
        lines = self._override(verb, n)
        if lines is None and self.bdat_index is not None:
            lines = [b"503 5.5.1 Error: DATA after BDAT"]
        if lines is None:
            if not self.in_mail:
                lines = [b"503 5.5.1 Error: need MAIL command"]
            elif not self.accepted and \
                    not self.script.reject_all_rcpt_but_354:
                lines = [b"554 5.5.1 Error: no valid recipients"]
            else:
                lines = [b"354 End data with <CR><LF>.<CR><LF>"]
        after = "data" if lines[-1][:1] == b"3" else None
        self.respond(verb, lines, after)

    # ---- CHUNKING (RFC 3030) ----------------------------------------------

    def _c_bdat(self, verb, n, text):
        """BDAT <size> [LAST]: read exactly size bytes, whatever the state
        of the transaction, then answer (the LAST chunk as EOD)."""
        m = re.fullmatch(r"BDAT ([0-9]{1,12})( LAST)?", text, re.I)
        if not m:
            self.error("malformed BDAT command: %r" % text)
            self.respond(verb, [b"501 5.5.4 Syntax: BDAT size [LAST]"])
            self.close("server")
        size, last = int(m.group(1)), bool(m.group(2))
        self.rec.chunks.append((size, last))
        if not self._chunking_offered():
            self.error("BDAT although CHUNKING was not offered")
        refusal = None
        if not self.in_mail:
            refusal = [b"503 5.5.1 Error: need MAIL command"]
        elif not self.accepted:
            refusal = [b"554 5.5.1 Error: no valid recipients"]
        elif self.bdat_failed:
            refusal = [b"503 5.5.1 Error: transaction failed, send RSET"]
        if refusal is None and self.bdat_index is None:
            self.bdat_index = len(self.rec.bodies)
            self.rec.bodies.append(b"")
            self.rec.data_complete.append(False)
            self.rec.body_is_bdat.append(True)
        chunk = self._read_chunk(size)
        self.rec.log.append(("D", "<BDAT chunk of %d bytes%s>"
                             % (size, ", LAST" if last else "")))
        if refusal is not None:
            self.respond(verb, self._override(verb, n) or refusal)
            if last:
                self._reset()
            return
        body = self.rec.bodies[self.bdat_index] + chunk
        if len(body) > BODY_MAX:
            self.error("message data larger than %d bytes" % BODY_MAX)
            self.close("server")
        self.rec.bodies[self.bdat_index] = body
        if last:
            self.rec.data_complete[self.bdat_index] = True
            self._check_line_ends(body)
            if body and not body.endswith(b"\r\n"):
                self.error("BDAT message data does not end with CRLF")
            self.rec.log.append(("D", "<%d bytes of message data>"
                                 % len(body)))
            self._end_of_data()
            return
        lines = self._override(verb, n) or \
            [b"250 2.0.0 %d octets received" % size]
        if lines[-1][:1] != b"2":
            self.bdat_failed = True     # the server discards the message
        self.respond(verb, lines)

    def _read_chunk(self, size):
        """Exactly size bytes of chunk data (close-during-body applies to
        the data of the whole transaction)."""
        deadline = time.monotonic() + IDLE_MAX
        limit = self.script.close_during_body
        got = bytearray()
        while len(got) < size:
            if not self.buf and not self._recv(deadline):
                self.error("client idle for %d s in BDAT data" % IDLE_MAX)
                self.close("server")
            take = min(size - len(got), len(self.buf))
            got += self.buf[:take]
            del self.buf[:take]
            done = len(self.rec.bodies[self.bdat_index]) + len(got) \
                if self.bdat_index is not None else len(got)
            if limit is not None and done >= limit:
                if self.bdat_index is not None:
                    self.rec.bodies[self.bdat_index] += bytes(got)
                self.rec.log.append(("*", "closing during BDAT data after "
                                          "%d bytes" % done))
                self.close("server")
        return bytes(got)

    def _c_rset(self, verb, n, text):
        self._reply(verb, n, [b"250 2.0.0 Ok"])
        self._reset()

    def _c_etrn(self, verb, n, text):
        if "ETRN" not in [c.split()[0].upper() for c in self.script.caps
                          if c.strip()]:
            self._reply(verb, n, [b"502 5.5.1 Error: command not implemented"])
            return
        node = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
        self._reply(verb, n, [b"250 Queuing for node %s started"
                              % node.encode(errors="replace")])

    def _c_noop(self, verb, n, text):
        self._reply(verb, n, [b"250 2.0.0 Ok"])

    def _c_starttls(self, verb, n, text):
        if not self.script.starttls_cert or self.tls:
            self._reply(verb, n, [b"502 5.5.1 STARTTLS not available"])
            return
        lines = self._override(verb, n) or [b"220 2.0.0 Ready to start TLS"]
        inject = self.script.inject_after_starttls
        if not inject:
            self.respond(verb, lines)
        else:
            # the classic attack: the injected text travels in the same
            # segment as the 220, so the client has it before the handshake
            for ln in lines:
                self.rec.log.append(("S", _show(ln)))
            self.rec.log.append(("*", "injecting %s after the 220" % _show(inject)))
            self._send(self._encode(verb, lines) + inject)
            time.sleep(0.2)
        if not lines[-1].startswith(b"220"):
            return
        if self.buf:
            self.error("client sent %s before the TLS handshake" % _show(bytes(self.buf)))
            del self.buf[:]
        self._start_tls(self.script.starttls_cert)
        self._reset()

    def _c_quit(self, verb, n, text):
        self._reply(verb, n, [b"221 2.0.0 Bye"], after="close")

    def _c_auth(self, verb, n, text):
        """AUTH (RFC 4954) with real server-side checks of PLAIN, LOGIN,
        CRAM-MD5, SCRAM-SHA-1/256(-PLUS), XOAUTH2, OAUTHBEARER, EXTERNAL
        against `auth-user` (bearer tokens: `auth-token-file`); without
        them every exchange is accepted."""
        offered = []
        for c in self.script.caps:
            if c.upper().startswith("AUTH"):
                offered += c.upper().replace("=", " ").split()[1:]
        words = text.split()
        mech = words[1].upper() if len(words) > 1 else ""
        ir = words[2] if len(words) > 2 else None
        if mech not in offered:
            self._reply(verb, n, [b"504 5.5.4 Unrecognized authentication "
                                  b"type"])
            return
        override = self._override(verb, n)
        if override is not None:
            self.respond(verb, override)
            return
        handler = getattr(self, "_sasl_" + mech.replace("-", "_").lower(),
                          None)
        try:
            if handler is None:
                ok = True
                self._sasl_first(ir)
            else:
                ok = handler(ir)
        except _Cancelled:
            self.rec.auth = (mech, False)
            self.respond(verb, [b"501 5.7.0 Authentication aborted"])
            return
        self.rec.auth = (mech, ok)
        if ok:
            self.respond(verb, [b"235 2.7.0 Authentication successful"])
        else:
            self.respond(verb, [b"535 5.7.8 Error: authentication failed"])

    # ---- SASL server side ------------------------------------------------

    def _sasl_ask(self, challenge):
        """Send a 334 challenge, return the decoded client response."""
        self.respond("AUTH", [b"334 " + base64.b64encode(challenge)])
        line = self.read_line()
        self.rec.commands.append(line.decode("utf-8", "surrogateescape"))
        self.rec.log.append(("C", _show(line)))
        if line == b"*":
            raise _Cancelled()
        try:
            return base64.b64decode(line, validate=True)
        except ValueError:
            self.error("AUTH response is not base64: %s" % _show(line))
            return b""

    def _sasl_first(self, ir):
        """The client-first message: the initial response or an answer to
        an empty challenge."""
        if ir is None:
            return self._sasl_ask(b"")
        if ir == "=":
            return b""
        try:
            return base64.b64decode(ir, validate=True)
        except ValueError:
            self.error("initial response is not base64: %r" % ir)
            return b""

    def _creds(self):
        return self.script.auth_user

    def _check(self, user, secret):
        want = self._creds()
        return want is None or (user, secret) == (want[0].encode(),
                                                 want[1].encode())

    def _sasl_plain(self, ir):
        parts = self._sasl_first(ir).split(b"\0")
        if len(parts) != 3:
            self.error("malformed PLAIN payload")
            return False
        return self._check(parts[1], parts[2])

    def _sasl_login(self, ir):
        if ir is not None:
            self.error("LOGIN must not carry an initial response")
        user = self._sasl_ask(b"Username:")
        password = self._sasl_ask(b"Password:")
        return self._check(user, password)

    def _sasl_cram_md5(self, ir):
        challenge = b"<%d.%d@fake.test>" % (os.getpid(), int(time.time()))
        answer = self._sasl_ask(challenge)
        user, _, digest = answer.rpartition(b" ")
        want = self._creds()
        if want is None:
            return True
        good = hmac.new(want[1].encode(), challenge, "md5").hexdigest()
        return user == want[0].encode() and digest == good.encode()

    def _scram(self, ir, algo, plus):
        """RFC 5802 server side, channel binding tls-unique for -PLUS."""
        first = self._sasl_first(ir)
        gs2, _, bare = first.partition(b",")
        authz, _, bare = bare.partition(b",")
        gs2 = gs2 + b"," + authz + b","
        attrs = dict(a.split(b"=", 1) for a in bare.split(b",") if b"=" in a)
        if plus != gs2.startswith(b"p="):
            self.error("SCRAM gs2 header %r does not fit the mechanism" % gs2)
            return False
        cnonce = attrs.get(b"r", b"")
        snonce = cnonce + b"srvNonce" + str(time.time_ns()).encode()
        salt = b"fake-salt-0123"
        iters = 4096
        server_first = b"r=%s,s=%s,i=%d" % (snonce, base64.b64encode(salt),
                                             iters)
        final = self._sasl_ask(server_first)
        fattrs = dict(a.split(b"=", 1) for a in final.split(b",")
                      if b"=" in a)
        without_proof = final[:final.rfind(b",p=")]
        cbind = gs2
        if plus:
            cbind += self.sock.get_channel_binding("tls-unique") or b""
        if base64.b64decode(fattrs.get(b"c", b"")) != cbind:
            self.error("SCRAM channel binding data does not match")
            ok = False
        else:
            ok = True
        want = self._creds()
        user = attrs.get(b"n", b"").decode()
        password = want[1] if want else ""
        h = getattr(hashlib, algo)
        salted = hashlib.pbkdf2_hmac(algo, password.encode(), salt, iters)
        client_key = hmac.new(salted, b"Client Key", h).digest()
        stored = h(client_key).digest()
        auth_msg = bare + b"," + server_first + b"," + without_proof
        sig = hmac.new(stored, auth_msg, h).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        if want is not None:
            ok = ok and user == want[0] and \
                base64.b64decode(fattrs.get(b"p", b"")) == proof
        if not ok:
            return False
        server_key = hmac.new(salted, b"Server Key", h).digest()
        verifier = base64.b64encode(hmac.new(server_key, auth_msg, h).digest())
        self._sasl_ask(b"v=" + verifier)
        return True

    def _sasl_scram_sha_1(self, ir):
        return self._scram(ir, "sha1", False)

    def _sasl_scram_sha_256(self, ir):
        return self._scram(ir, "sha256", False)

    def _sasl_scram_sha_1_plus(self, ir):
        return self._scram(ir, "sha1", True)

    def _sasl_scram_sha_256_plus(self, ir):
        return self._scram(ir, "sha256", True)

    def _oauth_fail(self, answer_expected):
        err = b'{"status":"401","schemes":"bearer","scope":"mail"}'
        answer = self._sasl_ask(err)
        if answer != answer_expected:
            self.error("bad answer %r to the OAuth error challenge" % answer)

    def _sasl_xoauth2(self, ir):
        payload = self._sasl_first(ir)
        m = re.fullmatch(rb"user=([^\x01]*)\x01auth=Bearer ([^\x01]*)"
                         rb"\x01\x01", payload)
        ok = self._bearer_ok(m, "XOAUTH2")
        if not ok:
            self._oauth_fail(b"")
        return ok

    def _sasl_oauthbearer(self, ir):
        payload = self._sasl_first(ir)
        m = re.fullmatch(rb"n,a=([^,]*),\x01host=[^\x01]*\x01port=\d+"
                         rb"\x01auth=Bearer ([^\x01]*)\x01\x01", payload)
        ok = self._bearer_ok(m, "OAUTHBEARER")
        if not ok:
            self._oauth_fail(b"\x01")
        return ok

    def _bearer_ok(self, m, mech):
        """Judge a parsed bearer payload (user, token): against the token
        file (auth-token-file), else against auth-user's secret; without
        either, everything passes.  Records the token offered."""
        want = self._creds()
        path = self.script.auth_token_file
        if m is None:
            self.rec.log.append(("*", "malformed %s payload" % mech))
            return want is None and path is None
        user = m.group(1).decode("utf-8", "surrogateescape")
        token = m.group(2).decode("utf-8", "surrogateescape")
        self.rec.auth_tokens.append(token)
        if path is None:
            return want is None or (user, token) == want
        listed = self._listed_tokens(path)
        ok = (want is None or user == want[0]) and token in listed
        self.rec.log.append(("*", "bearer token for %s %s (%d valid in the "
                                  "token file)" % (user, "accepted" if ok
                                                   else "refused",
                                                   len(listed))))
        return ok

    def _listed_tokens(self, path):
        """The valid tokens now: the non-empty lines of the token file
        (a missing file lists none)."""
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                return {ln.rstrip("\r\n") for ln in f if ln.strip()}
        except OSError as ex:
            self.rec.log.append(("*", "token file unreadable: %s" % ex))
            return set()

    def _sasl_external(self, ir):
        self._sasl_first(ir)
        return bool(self.rec.client_cert)

    def _c_unknown(self, verb, n, text):
        self._reply(verb or "UNKNOWN", n,
                    [b"500 5.5.2 Error: command not recognized"])

    def _data_phase(self):
        """Collect message data up to CRLF.CRLF; then answer EOD."""
        body = bytearray()
        index = len(self.rec.bodies)
        self.rec.bodies.append(b"")
        self.rec.data_complete.append(False)
        self.rec.body_is_bdat.append(False)
        deadline = time.monotonic() + IDLE_MAX
        limit = self.script.close_during_body
        end = -1
        fault_checked = False
        try:
            while True:
                if self.buf:
                    scan_from = max(0, len(body) - 4)
                    body += self.buf
                    self.buf.clear()
                    if not fault_checked:
                        fault_checked = True
                        self.rec.bodies[index] = bytes(body)
                        self._body_fault(self._fault_for("BODY"))
                    end = self._find_end(body, scan_from)
                    if limit is not None and len(body) >= limit:
                        self.rec.bodies[index] = bytes(body)
                        self.rec.log.append(
                            ("*", "closing during message data after %d "
                                  "bytes" % len(body)))
                        self.close("server")
                    if end >= 0:
                        self.buf += body[end:]
                        del body[end:]
                        break
                    if len(body) > BODY_MAX:
                        self.error("message data larger than %d bytes"
                                   % BODY_MAX)
                        self.close("server")
                if not self._recv(deadline):
                    self.error("client idle for %d s in message data"
                               % IDLE_MAX)
                    self.close("server")
        finally:
            self.rec.bodies[index] = bytes(body)
        self.rec.data_complete[index] = True
        self._check_line_ends(body)
        self.rec.log.append(("D", "<%d bytes of message data>" % len(body)))
        self._end_of_data()

    def _body_fault(self, kind):
        """`fault BODY KIND` once the first message data has arrived."""
        if kind is None:
            return
        self.rec.log.append(("*", "fault %s in message data" % kind))
        if kind == "drop":
            self.close("server")
        if kind == "unsolicited":
            self._send(FAULT_UNSOLICITED)
            self._sleep(0.5)
            return
        if kind in ("4xx", "5xx"):
            # refuse before the end, read on until the client gives up
            # (closing with unread data would reset the connection and
            # could destroy the reply), then close
            self._send((FAULT_4XX if kind == "4xx" else FAULT_5XX) + b"\r\n")
            deadline = time.monotonic() + STALL_MAX
            try:
                while self._recv(deadline):
                    self.buf.clear()
            except _Closed:
                pass
            self.close("server")
        if kind == "trickle":
            deadline = time.monotonic() + STALL_MAX
            while time.monotonic() < deadline:
                self._sleep(1.0)
                try:
                    if not self.sock.recv(1):
                        break
                except OSError:
                    break
        else:
            self._sleep(STALL_MAX)      # stall: read nothing more
        self.close("server")

    def _find_end(self, body, scan_from):
        """Offset just past the end-of-data line, or -1.

        Only CRLF.CRLF counts (RFC 5321 4.1.1.4); a client that ends with
        LF.LF is recorded as broken and the data phase ended anyway, so the
        case fails with a clear message instead of a timeout."""
        if body.startswith(b".\r\n"):
            return 3
        hit = body.find(b"\r\n.\r\n", scan_from)
        if hit >= 0:
            return hit + 5
        # only the tail can end the data (searching the whole body at
        # every read made large messages quadratic)
        tail = bytes(body[-4:]) if len(body) > 4 else b"\n" + bytes(body)
        if re.search(rb"\n\.\r?\n\Z", tail):
            self.error("message data ended with a \".\" line not framed "
                       "by CRLF on both sides")
            return len(body)
        return -1

    def _check_line_ends(self, body):
        """RFC 5321 2.3.8: CR and LF only as CRLF in message data."""
        m = re.search(rb"\r(?!\n)|(?<!\r)\n", body)
        if m:
            lo = max(0, m.start() - 20)
            self.error("bare %s in message data at byte %d: %s"
                       % ("CR" if body[m.start()] == 13 else "LF", m.start(),
                          _show(body[lo:m.start() + 20])))

    def _end_of_data(self):
        verb = "EOD"
        self._pre_reply(verb)
        if self.lmtp:
            for k, rcpt in enumerate(self.accepted, 1):
                lines = self._override(verb, k) or \
                    [b"250 2.1.5 <%s> delivered"
                     % rcpt.encode("utf-8", "surrogateescape")]
                self.respond(verb, lines)
        else:
            n = self._count(verb)
            if self.accepted:
                default = [b"250 2.0.0 Ok: queued as ABC"]
            else:
                default = [b"554 5.5.1 Error: no valid recipients"]
            try:
                self._reply(verb, n, default)
            finally:
                self._reset()
            return
        self._reset()


class FakeSMTPServer:
    """A listening socket served by one background thread."""

    def __init__(self, script=None, host="127.0.0.1", port=0):
        self.script = script if script is not None else Script()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.records = []
        self.errors = []            # server-level problems
        self.stopping = threading.Event()
        self.active = threading.Event()
        self.on_connection_end = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _serve(self):
        try:
            while not self.stopping.is_set():
                r, _, _ = select.select([self.sock], [], [], SLICE)
                if not r:
                    continue
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    continue
                self._handle(conn)
        except Exception as ex:     # keep the runner informed, never hang
            self.errors.append("server thread crashed: %r" % ex)

    def _handle(self, conn):
        limit = self.script.connections
        record = ConnRecord(len(self.records) + 1)
        self.records.append(record)
        if limit is not None and len(self.records) > limit:
            record.errors.append("unexpected connection #%d (the script "
                                 "allows %d)" % (record.index, limit))
            try:
                conn.sendall(b"421 4.3.2 too many connections\r\n")
                conn.close()
            except OSError:
                pass
            record.ended = time.monotonic()
            return
        self.active.set()
        try:
            Session(self, conn, record).run()
        except Exception as ex:
            record.errors.append("server session crashed: %r" % ex)
        finally:
            self.active.clear()
            if self.on_connection_end:
                self.on_connection_end(record)

    def wait_idle(self, timeout):
        """Wait until no connection is being served (or timeout)."""
        deadline = time.monotonic() + timeout
        while self.active.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.active.is_set()

    def stop(self, timeout=5.0):
        self.stopping.set()
        self.thread.join(timeout)
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- results ------------------------------------------------------

    def all_errors(self):
        errs = list(self.errors)
        for rec in self.records:
            errs += ["connection %d: %s" % (rec.index, e) for e in rec.errors]
        return errs

    def commands(self):
        return [c for rec in self.records for c in rec.commands]

    def body(self):
        return b"".join(b for rec in self.records for b in rec.bodies)

    def transcript(self):
        out = []
        for rec in self.records:
            out.append("--- connection %d (closed by %s)"
                       % (rec.index, rec.closed_by or "nobody"))
            out += ["%s: %s" % (who, text) for who, text in rec.log]
        return "\n".join(out)


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Scripted fake SMTP/LMTP server.",
        epilog=SCRIPT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--script", help="file of directives")
    ap.add_argument("-d", "--directive", action="append", default=[],
                    help="one directive (repeatable)")
    ap.add_argument("--connections", type=int,
                    help="serve N connections then exit (default 1)")
    ap.add_argument("--forever", action="store_true",
                    help="serve until killed")
    ap.add_argument("--transcript", help="dialogue file (default stdout)")
    ap.add_argument("--message", help="write the last message data here")
    ap.add_argument("--max-wait", type=float, default=0,
                    help="exit after this many seconds (0 = no limit)")
    args = ap.parse_args(argv)

    lines = []
    if args.script:
        with open(args.script) as f:
            lines += f.read().splitlines()
    lines += args.directive
    try:
        script = Script(lines)
    except ScriptError as ex:
        ap.error(str(ex))
    if args.forever:
        script.connections = None
    elif args.connections:
        script.connections = args.connections

    server = FakeSMTPServer(script, args.host, args.port)
    out = open(args.transcript, "w") if args.transcript else sys.stdout
    done = threading.Event()

    def connection_end(rec):
        if script.connections != 1:
            out.write("--- connection %d\n" % rec.index)
        for who, text in rec.log:
            out.write("%s: %s\n" % (who, text))
        for e in rec.errors:
            out.write("*: ERROR: %s\n" % e)
        out.flush()
        if args.message and rec.bodies:
            with open(args.message, "wb") as f:
                f.write(rec.bodies[-1])
        if script.connections is not None and \
                len(server.records) >= script.connections:
            done.set()

    server.on_connection_end = connection_end
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    server.start()
    print("fakesmtp listening on %s port %d" % (args.host, server.port),
          file=sys.stderr, flush=True)
    if args.port_file:
        _write_atomic(args.port_file, "%d\n" % server.port)
    try:
        done.wait(args.max_wait or None)
    except KeyboardInterrupt:
        pass
    server.stop()
    if out is not sys.stdout:
        out.close()
    return 1 if server.all_errors() else 0


if __name__ == "__main__":
    sys.exit(main())
