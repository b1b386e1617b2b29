#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""run.py - run the integration cases: the real binary against fakesmtp.py.

usage: run.py [--msmtp PATH] [--keep] [-k SUBSTRING] [-j N] [--wrapper CMD]
              [CASE...]

Each case file (tests/integration/cases/NNNN-slug.case, format in README)
gets a fresh HOME, its own fake server on an ephemeral loopback port, and
one run of the binary with a hard timeout.  The runner then compares what
the server saw (command lines, message data) and what the binary did (exit
code, stdout, stderr) with the case's expectations, and prints one line per
case, `PASS name` or `FAIL name: reason` followed by indented details, and
finally `N passed, N failed[, N skipped]`.  Exit status 0 only if no case
failed; 77 (automake SKIP) if the binary does not exist.

Python 3 standard library only.
"""

import argparse
import atexit
import concurrent.futures
import difflib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "servers"))
import fakesmtp  # noqa: E402
import fakesocks  # noqa: E402

DEFAULT_MSMTP = os.path.normpath(os.path.join(HERE, "..", "..", "src",
                                              "msmtp"))
DEFAULT_TIMEOUT = 20.0
SERVER_SETTLE = 3.0         # wait this long for the server after exit
SHOW_MAX = 160              # longest line shown in a diff
WRAPPER_SLACK = 10.0        # [expect-elapsed-max] allowance under --wrapper
                            # (valgrind's own start-up, not the binary's)
DIFF_MAX = 40               # most diff lines shown

CONTENT = {"config", "stdin", "stdin-file", "expect-body", "file",
           "system-config", "hosts"}
LISTS = {"meta", "server", "env", "expect-protocol", "expect-protocol-re",
         "expect-body-re",
         "expect-exit", "expect-stderr", "expect-stdout",
         "expect-not-in-output", "argv", "expect-tls", "expect-syslog",
         "proxy", "expect-proxy", "expect-elapsed-max"}
FLAGS = {"expect-stderr-empty", "expect-stdout-empty",
         "expect-no-connection", "expect-stdin-unread"}
KNOWN = CONTENT | LISTS | FLAGS
ARG_SECTIONS = {"file", "expect-file"}     # [file NAME], [expect-file NAME]
META_KEYS = {"name", "argv0", "timeout", "config-mode", "config-path",
             "requires", "stdin", "stdout", "stderr", "keywords", "secret",
             "syslog", "run-as", "system-config-mode", "server-address"}
SECTION_RE = re.compile(r"^\[([a-z][a-z0-9-]*)(?:[ \t]+([^\]]+?))?\]\s*$")
PLACEHOLDER_RE = re.compile(r"%(HOST|PORT|CLOSEDPORT|PROXYPORT|BLACKHOLEPORT|"
                            r"HOME|TMP|PKI|CAFILE|FP1?_[A-Z]+)%")
HELPER_RE = re.compile(rb"%(CR|LF|NUL|TAB|HEX\(([0-9A-Fa-f \t]*)\)"
                       rb"|REPEAT\((\d+),(.*?)\))%", re.S)
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|"
                          r"runtime error: |==\d+== (Invalid|Conditional)")


class CaseError(Exception):
    """A malformed case file."""


# ---------------------------------------------------------------- parsing

class Case:
    """One parsed .case file."""

    def __init__(self, path):
        self.path = path
        self.sections = {}
        self.files = {}
        self._parse()
        self.meta = self._meta()
        self.name = self.meta.get("name") or \
            os.path.splitext(os.path.basename(path))[0]

    def _parse(self):
        with open(self.path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
        current = None
        for number, line in enumerate(text.split("\n"), 1):
            m = SECTION_RE.match(line)
            if m and (m.group(1) in KNOWN or m.group(1) in ARG_SECTIONS):
                current = self._open_section(m.group(1), m.group(2), number)
                continue
            if current is None:
                if line.strip() and not line.lstrip().startswith("#"):
                    raise CaseError("%s:%d: text before the first section"
                                    % (self.path, number))
                continue
            current.append(line)
        for key, lines in list(self.sections.items()):
            while lines and not lines[-1].strip():
                lines.pop()

    def _open_section(self, name, arg, number):
        if name in ARG_SECTIONS:
            if not arg:
                raise CaseError("%s:%d: [%s NAME] needs a name"
                                % (self.path, number, name))
            key = name + " " + arg.strip()
        elif arg:
            raise CaseError("%s:%d: [%s] takes no argument"
                            % (self.path, number, name))
        else:
            key = name
        if key in self.sections:
            raise CaseError("%s:%d: duplicate section [%s]"
                            % (self.path, number, key))
        self.sections[key] = []
        if name == "file":
            self.files[arg.strip()] = self.sections[key]
        return self.sections[key]

    def lines(self, name, comments=False):
        """Non-blank lines of a list section (optionally minus comments)."""
        out = []
        for ln in self.sections.get(name, []):
            if not ln.strip():
                continue
            if comments and ln.lstrip().startswith("#"):
                continue
            out.append(ln.rstrip("\r"))
        return out

    def has(self, name):
        return name in self.sections

    def _meta(self):
        meta = {}
        for ln in self.lines("meta", comments=True):
            key, sep, value = ln.partition("=")
            key = key.strip()
            if not sep or key not in META_KEYS:
                raise CaseError("%s: bad [meta] line %r" % (self.path, ln))
            meta[key] = value.strip()
        for key in FLAGS:
            if self.lines(key):
                raise CaseError("%s: [%s] takes no content"
                                % (self.path, key))
        return meta


def expand_helpers(data):
    """Expand %CR% %LF% %NUL% %TAB% %HEX(..)% %REPEAT(N,text)% in bytes."""
    def one(m):
        word = m.group(1)
        if word == b"CR":
            return b"\r"
        if word == b"LF":
            return b"\n"
        if word == b"NUL":
            return b"\0"
        if word == b"TAB":
            return b"\t"
        if word.startswith(b"HEX"):
            digits = re.sub(rb"\s", b"", m.group(2))
            if len(digits) % 2:
                raise CaseError("odd number of digits in %r" % m.group(0))
            return bytes.fromhex(digits.decode())
        return expand_helpers(m.group(4)) * int(m.group(3))
    return HELPER_RE.sub(one, data)


def content_bytes(lines, eol=b"\n"):
    """A content section's lines -> bytes (final EOL, %NOEOL%, helpers)."""
    lines = [ln.encode("utf-8", "surrogateescape") for ln in lines]
    if not lines:
        return b""
    final = eol
    if lines[-1] == b"%NOEOL%":
        lines = lines[:-1]
        final = b""
    elif lines[-1].endswith(b"%NOEOL%"):
        lines[-1] = lines[-1][:-len(b"%NOEOL%")]
        final = b""
    if not lines:
        return b""
    return expand_helpers(eol.join(lines) + final)


# ---------------------------------------------------------------- running

class Result:
    def __init__(self, case):
        self.case = case
        self.status = "PASS"
        self.reasons = []       # (short reason, [detail lines])
        self.notes = []
        self.kept = None

    def fail(self, reason, details=()):
        self.status = "FAIL"
        self.reasons.append((reason, list(details)))

    def skip(self, reason):
        self.status = "SKIP"
        self.reasons.append((reason, []))

    def render(self):
        name = self.case.name
        if self.status == "PASS":
            out = ["PASS " + name]
        elif self.status == "SKIP":
            out = ["SKIP %s: %s" % (name, self.reasons[0][0])]
        else:
            out = ["FAIL %s: %s" % (name, self.reasons[0][0])]
            for k, (reason, details) in enumerate(self.reasons):
                if k or len(self.reasons) > 1:
                    out.append("    " + reason)
                out += ["        " + d for d in details]
            out += ["    " + n for n in self.notes]
        if self.kept:
            out.append("    kept: " + self.kept)
        return "\n".join(out)


def ipv6_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


_PKI = {"dir": None, "lock": threading.Lock()}


def pki_dir():
    """The test PKI (tests/servers/mkpki.sh), made once per run; None if
    certtool is missing."""
    with _PKI["lock"]:
        if _PKI["dir"] is None:
            if shutil.which("certtool") is None:
                return None
            d = tempfile.mkdtemp(prefix="msmtp-pki-")
            # removed when the run ends, whoever made it (run.py, or a
            # script that imports it)
            atexit.register(shutil.rmtree, d, True)
            script = os.path.join(HERE, "..", "servers", "mkpki.sh")
            subprocess.run(["sh", script, d], check=True,
                           stdout=subprocess.DEVNULL)
            _PKI["dir"] = d
            fakesmtp.PKI_DIR = d
        return _PKI["dir"]


def pki_placeholders():
    """%PKI%, %CAFILE% and %FP_NAME% (SHA-256 of NAME.pem, colon hex)."""
    import hashlib
    import ssl
    d = pki_dir()
    ph = {"PKI": d, "CAFILE": os.path.join(d, "ca.pem")}
    for name in ("good", "wrongname", "expired", "selfsigned"):
        with open(os.path.join(d, name + ".pem")) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        for prefix, algo in (("FP_", hashlib.sha256), ("FP1_", hashlib.sha1)):
            digest = algo(der).hexdigest().upper()
            ph[prefix + name.upper()] = ":".join(
                digest[i:i + 2] for i in range(0, len(digest), 2))
    return ph


SYSLOG_WRAPPER = r"""
# Run the binary with a private /dev that holds a syslog socket of ours:
# a private mount namespace, so nothing outside it changes.
d=$1; shift
for n in null zero urandom random; do : > "$d/dev/$n"; mount --bind "/dev/$n" "$d/dev/$n"; done
mount --bind "$d/dev" /dev
exec "$@"
"""


class SyslogCapture:
    """A datagram socket that receives what syslog(3) writes to /dev/log
    inside the case's private /dev."""

    def __init__(self, top):
        self.dir = os.path.join(top, "syslog")
        os.makedirs(os.path.join(self.dir, "dev"))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(self.dir, "dev", "log"))
        self.lines = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                self.lines.append(self.sock.recv(65536).decode(
                    "utf-8", "surrogateescape"))
            except socket.timeout:
                continue
            except OSError:
                return

    def wrap(self, cmd):
        return ["unshare", "-m", "sh", "-c", SYSLOG_WRAPPER, "sh",
                self.dir] + cmd

    def close(self):
        time.sleep(0.2)
        self.stop.set()
        self.thread.join(1)
        self.sock.close()
        return "\n".join(self.lines)


REQUIREMENTS = {
    "syslog": (lambda: os.geteuid() == 0 and shutil.which("unshare")
               is not None and subprocess.run(
                   ["unshare", "-m", "true"]).returncode == 0,
               "needs root and unshare(1) for a private /dev/log"),
    "tls": (lambda: pki_dir() is not None, "certtool not found"),
    "ipv6": (ipv6_available, "no IPv6 loopback"),
    "root": (lambda: os.geteuid() == 0, "not running as root"),
    "nonroot": (lambda: os.geteuid() != 0, "running as root"),
}


class Blackhole:
    """One port on 127.0.0.2-127.0.0.9 (and ::1 when there is IPv6) where
    a connect never completes: each address has a listener with a backlog
    of one that a connection of ours fills, so the kernel drops every
    further SYN (nothing answers, nothing refuses).  %BLACKHOLEPORT%."""

    ADDRS = ["127.0.0.%d" % n for n in range(2, 10)]

    def __init__(self):
        addrs = self.ADDRS + (["::1"] if ipv6_available() else [])
        for _ in range(50):
            self.socks = []
            try:
                self.port = self._bind_all(addrs)
                break
            except OSError:
                self.close()
        else:
            raise CaseError("no port free on every blackhole address")

    def _bind_all(self, addrs):
        port = 0
        for addr in addrs:
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            lst = socket.socket(family, socket.SOCK_STREAM)
            self.socks.append(lst)
            lst.bind((addr, port))
            port = lst.getsockname()[1]
            lst.listen(0)
            filler = socket.socket(family, socket.SOCK_STREAM)
            self.socks.append(filler)
            filler.settimeout(5)
            filler.connect((addr, port))
        return port

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


HOSTS_WRAPPER = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'


def closed_port():
    """A loopback port with nothing listening: bound, never listen()ed."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s


def shorten(line):
    r = repr(line)
    if len(r) > SHOW_MAX:
        r = r[:SHOW_MAX] + "...(%d bytes)" % len(line)
    return r


def bytes_diff(expected, actual):
    """Readable diff of two byte strings, CR/LF/NUL visible."""
    out = []
    n = 0
    while n < min(len(expected), len(actual)) and \
            expected[n] == actual[n]:
        n += 1
    if expected == actual:
        return out
    out.append("first difference at byte %d (expected %d bytes, got %d):"
               % (n, len(expected), len(actual)))
    lo = max(0, n - 30)
    out.append("  expected ...%r" % expected[lo:n + 40])
    out.append("  actual   ...%r" % actual[lo:n + 40])
    exp = [shorten(x) for x in expected.splitlines(keepends=True)]
    act = [shorten(x) for x in actual.splitlines(keepends=True)]
    diff = list(difflib.unified_diff(exp, act, "expected", "actual",
                                     lineterm="", n=2))
    if len(diff) > DIFF_MAX:
        diff = diff[:DIFF_MAX] + ["... (%d more diff lines)"
                                  % (len(diff) - DIFF_MAX)]
    return out + diff


def text_block(title, data, limit=40):
    text = data.decode("utf-8", "backslashreplace") if isinstance(
        data, bytes) else data
    lines = text.splitlines() or ["(empty)"]
    if len(lines) > limit:
        lines = lines[:limit] + ["... (%d more lines)" % (len(lines) - limit)]
    return [title] + ["  " + ln for ln in lines]


def rfc1870_size(body):
    """Size of the message carried by DATA bytes: no stuffing, no dot."""
    if body.endswith(b".\r\n"):
        body = body[:-3]
    lines = body.split(b"\r\n")
    return len(body) - sum(1 for ln in lines if ln.startswith(b"."))


def normalized_size(msg):
    """Size of a message after LF/CR -> CRLF and a final CRLF."""
    text = re.sub(rb"\r\n|\r|\n", b"\r\n", msg)
    if text and not text.endswith(b"\r\n"):
        text += b"\r\n"
    return len(text)


class Runner:
    def __init__(self, opts):
        self.opts = opts
        self.msmtp = os.path.abspath(opts.msmtp)
        self.wrapper = shlex.split(opts.wrapper) if opts.wrapper else []

    def run(self, case):
        result = Result(case)
        for req in filter(None, re.split(r"[\s,]+",
                                         case.meta.get("requires", ""))):
            check = REQUIREMENTS.get(req)
            if check is None:
                result.fail("unknown requirement %r" % req)
                return result
            if not check[0]():
                result.skip(check[1])
                return result
        why = self._run_as_unavailable(case)
        if why:
            result.skip(why)
            return result
        if self.wrapper and any(case.meta.get(k) == "closed"
                                for k in ("stdin", "stdout", "stderr")):
            result.skip("closed standard fds cannot be tested under "
                        "--wrapper")
            return result
        top = tempfile.mkdtemp(prefix="msmtp-it-")
        try:
            self._run_in(case, top, result)
        except CaseError as ex:
            result.fail("bad case: %s" % ex)
        finally:
            if self.opts.keep:
                result.kept = top
            else:
                shutil.rmtree(top, ignore_errors=True)
        return result

    # -- setup --

    def _system_config_path(self):
        """The binary's system configuration file (from --version)."""
        out = subprocess.run([self.msmtp, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode(
                                 "utf-8", "surrogateescape")
        m = re.search(r"^System configuration file name: (/.*)$", out, re.M)
        return m.group(1) if m else None

    def _run_as_unavailable(self, case):
        """Why a run-as, [system-config] or [hosts] case cannot run here,
        or None."""
        if case.meta.get("run-as") or case.has("system-config") \
                or case.has("hosts"):
            if os.geteuid() != 0:
                return "run-as, [system-config] and [hosts] need root"
        if case.has("hosts") and (shutil.which("unshare") is None or
                                  subprocess.run(["unshare", "-m", "true"])
                                  .returncode != 0):
            return "[hosts] needs unshare(1) -m"
        if case.meta.get("run-as") and shutil.which("setpriv") is None:
            return "run-as needs setpriv(1)"
        if case.has("system-config"):
            if shutil.which("unshare") is None or subprocess.run(
                    ["unshare", "-m", "true"]).returncode != 0:
                return "[system-config] needs unshare(1) -m"
            path = self._system_config_path()
            if path is None or not os.path.isdir(os.path.dirname(path)):
                return "the binary's system configuration directory is missing"
        return None

    def _run_as(self, case, top, home, tmp, cmd):
        """[meta] run-as = USER: the binary runs as USER (setpriv, no
        supplementary groups) with HOME and TMPDIR reachable; the files the
        case made stay root's (e.g. a 0600 ~/.msmtprc it cannot read)."""
        import pwd
        user = case.meta.get("run-as")
        if not user:
            return cmd
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            raise CaseError("run-as: no user %r" % user)
        for d in (top, home, os.path.join(home, ".config"),
                  os.path.join(home, "bin")):
            os.chmod(d, 0o755)
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        return ["setpriv", "--reuid=%d" % pw.pw_uid,
                "--regid=%d" % pw.pw_gid, "--clear-groups", "--"] + cmd

    def _system_config(self, case, ph, top, cmd):
        """[system-config]: a system file only this run sees: in a private
        mount namespace a directory holding it is mounted over the
        directory of the binary's system file ([meta] system-config-mode,
        default 644)."""
        if not case.has("system-config"):
            return cmd
        path = self._system_config_path()
        d = os.path.join(top, "sysconf")
        os.makedirs(d)
        os.chmod(d, 0o755)
        mode = int(case.meta.get("system-config-mode", "644"), 8)
        data = content_bytes([self._subst(ln, ph)
                              for ln in case.sections["system-config"]])
        self._write_file(os.path.join(d, os.path.basename(path)), data, mode)
        return ["unshare", "-m", "sh", "-c",
                'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh",
                d, os.path.dirname(path)] + cmd

    def _hosts(self, case, ph, top, cmd):
        """[hosts]: an /etc/hosts only this run sees (a private mount
        namespace), so names can map to chosen loopback addresses."""
        if not case.has("hosts"):
            return cmd
        path = os.path.join(top, "hosts")
        data = content_bytes([self._subst(ln, ph)
                              for ln in case.sections["hosts"]])
        self._write_file(path, data, 0o644)
        return ["unshare", "-m", "sh", "-c", HOSTS_WRAPPER, "sh", path] + cmd

    @staticmethod
    def _uses(case, word):
        """1 if a placeholder appears anywhere in the case file."""
        with open(case.path, encoding="utf-8",
                  errors="surrogateescape") as f:
            return word in f.read()

    def _paths(self, top):
        home = os.path.join(top, "home")
        tmp = os.path.join(top, "tmp")
        for d in (home, tmp, os.path.join(home, ".config"),
                  os.path.join(home, "bin")):
            os.makedirs(d, exist_ok=True)
        return home, tmp

    def _subst(self, text, ph, regex=False):
        def one(m):
            value = ph[m.group(1)]
            return re.escape(value) if regex else value
        return PLACEHOLDER_RE.sub(one, text)

    def _write_file(self, path, data, mode):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)

    def _setup_files(self, case, ph, home):
        for name, lines in case.files.items():
            mode = 0o600
            if lines and re.fullmatch(r"#mode\s+[0-7]+\s*", lines[0]):
                mode = int(lines[0].split()[1], 8)
                lines = lines[1:]
            data = content_bytes([self._subst(ln, ph) for ln in lines])
            self._write_file(os.path.join(home, self._subst(name, ph)),
                             data, mode)
        cpath = self._subst(case.meta.get("config-path",
                                          "%HOME%/.msmtprc"), ph)
        if case.has("config") and cpath != "none":
            mode = int(case.meta.get("config-mode", "600"), 8)
            data = content_bytes([self._subst(ln, ph)
                                  for ln in case.sections["config"]])
            self._write_file(cpath, data, mode)

    def _environment(self, case, ph, home, tmp):
        env = {}
        for key in ("PATH", "USER", "LOGNAME", "LD_LIBRARY_PATH",
                    "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key.encode()] = os.environb[key.encode()]
        env.setdefault(b"PATH", b"/usr/local/bin:/usr/bin:/bin")
        env[b"HOME"] = home.encode()
        env[b"XDG_CONFIG_HOME"] = os.path.join(home, ".config").encode()
        env[b"TMPDIR"] = tmp.encode()
        env[b"LC_ALL"] = b"C"
        for ln in case.lines("env", comments=True):
            key, sep, value = ln.partition("=")
            if not sep or not key.strip():
                raise CaseError("bad [env] line %r" % ln)
            value = expand_helpers(self._subst(value, ph).encode(
                "utf-8", "surrogateescape"))
            env[key.strip().encode()] = value
        return env

    def _argv(self, case, ph, home):
        argv0 = case.meta.get("argv0", "msmtp")
        prog = os.path.join(home, "bin", argv0)
        if not os.path.lexists(prog):
            if case.meta.get("run-as"):
                # another user may not reach the build tree: a copy
                shutil.copy2(self.msmtp, prog)
            else:
                os.symlink(self.msmtp, prog)
        lines = case.lines("argv")
        if len(lines) > 1:
            raise CaseError("[argv] must be one line")
        words = shlex.split(self._subst(lines[0], ph)) if lines else []
        args = [expand_helpers(w.encode("utf-8", "surrogateescape"))
                for w in words]
        if any(b"\0" in a for a in args):
            raise CaseError("a NUL byte cannot be passed in argv")
        closing = []
        for fd, key in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
            value = case.meta.get(key)
            if value == "closed":
                closing.append({0: "<&-", 1: ">&-", 2: "2>&-"}[fd])
            elif value == "full" and fd == 1:
                closing.append(">/dev/full")
            elif value:
                raise CaseError("[meta] %s must be 'closed'%s" % (
                    key, " or 'full'" if fd == 1 else ""))
        cmd = self.wrapper + [prog] + args
        if closing:
            cmd = ["/bin/sh", "-c", 'exec "$0" "$@" ' + " ".join(closing)] \
                + cmd
        return cmd

    def _stdin(self, case, ph, home):
        """-> (fd for the child, data to feed through a pipe or None)."""
        if case.has("stdin") and case.has("stdin-file"):
            raise CaseError("[stdin] and [stdin-file] are exclusive")
        if case.has("stdin-file"):
            path = os.path.join(home, "message.eml")
            self._write_file(path, content_bytes(
                [self._subst(ln, ph) for ln in case.sections["stdin-file"]]),
                0o600)
            return os.open(path, os.O_RDONLY), None
        if case.has("stdin"):
            return None, content_bytes([self._subst(ln, ph)
                                        for ln in case.sections["stdin"]])
        return os.open(os.devnull, os.O_RDONLY), None

    # -- the run --

    def _run_in(self, case, top, result):
        home, tmp = self._paths(top)
        closed = closed_port()
        script = fakesmtp.Script(case.lines("server", comments=True))
        address = case.meta.get("server-address", "127.0.0.1")
        server = fakesmtp.FakeSMTPServer(script, host=address).start()
        proxy = blackhole = None
        try:
            ph = {"HOST": address, "PORT": str(server.port),
                  "CLOSEDPORT": str(closed.getsockname()[1]),
                  "HOME": home, "TMP": tmp}
            if case.has("proxy"):
                try:
                    proxy = fakesocks.FakeSocks5(script=case.lines(
                        "proxy", comments=True)).start()
                except fakesocks.ScriptError as ex:
                    raise CaseError(str(ex))
                ph["PROXYPORT"] = str(proxy.port)
            if self._uses(case, "%BLACKHOLEPORT%"):
                blackhole = Blackhole()
                ph["BLACKHOLEPORT"] = str(blackhole.port)
            if "tls" in case.meta.get("requires", ""):
                ph.update(pki_placeholders())
            self._setup_files(case, ph, home)
            env = self._environment(case, ph, home, tmp)
            cmd = self._argv(case, ph, home)
            cmd = self._run_as(case, top, home, tmp, cmd)
            cmd = self._system_config(case, ph, top, cmd)
            cmd = self._hosts(case, ph, top, cmd)
            capture = None
            if case.meta.get("syslog") == "capture":
                capture = SyslogCapture(top)
                cmd = capture.wrap(cmd)
            stdin_fd, stdin_data = self._stdin(case, ph, home)
            timeout = float(case.meta.get("timeout", self.opts.timeout))
            run = self._execute(cmd, env, home, stdin_fd, stdin_data, timeout)
            run["syslog"] = capture.close() if capture else None
            server.wait_idle(SERVER_SETTLE)
        finally:
            server.stop()
            closed.close()
            if proxy:
                proxy.stop()
            if blackhole:
                blackhole.close()
        run["stdin_data"] = stdin_data
        run["proxy"] = proxy
        run["wrapped"] = bool(self.wrapper)
        if self.opts.keep:
            self._save(top, run, server)
        Checker(case, ph, run, server, result).check()

    def _execute(self, cmd, env, cwd, stdin_fd, stdin_data, timeout):
        feeder = None
        keep_r = None
        if stdin_data is not None:
            r, w = os.pipe()
            stdin_fd, keep_r = r, r

            def feed():
                try:
                    view = memoryview(stdin_data)
                    while view:
                        n = os.write(w, view[:65536])
                        view = view[n:]
                except OSError:
                    pass
                finally:
                    os.close(w)
            feeder = threading.Thread(target=feed, daemon=True)
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=stdin_fd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd,
                                start_new_session=True)
        if feeder:
            feeder.start()
        else:
            os.close(stdin_fd)
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            out, err = proc.communicate()
        elapsed = time.monotonic() - start
        unread = None
        if keep_r is not None:
            unread = self._drain(keep_r, feeder)
        return {"cmd": cmd, "exit": proc.returncode, "stdout": out,
                "stderr": err, "timed_out": timed_out, "elapsed": elapsed,
                "timeout": timeout, "unread": unread}

    @staticmethod
    def _drain(fd, feeder):
        """Count stdin bytes the binary never read (it has exited)."""
        os.set_blocking(fd, False)
        unread = 0
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                if not feeder.is_alive():
                    break
                time.sleep(0.005)
                continue
            if not chunk:
                break
            unread += len(chunk)
        os.close(fd)
        feeder.join(1)
        return unread

    @staticmethod
    def _save(top, run, server):
        for name in ("stdout", "stderr"):
            with open(os.path.join(top, name), "wb") as f:
                f.write(run[name])
        with open(os.path.join(top, "transcript"), "w") as f:
            f.write(server.transcript() + "\n")
        with open(os.path.join(top, "body"), "wb") as f:
            f.write(server.body())
        with open(os.path.join(top, "batches"), "w") as f:
            for rec in server.records:
                f.write("--- connection %d: client bytes between server "
                        "sends\n" % rec.index)
                f.writelines(repr(b)[:300] + "\n" for b in rec.batches())
        with open(os.path.join(top, "command"), "w") as f:
            f.write(" ".join(shlex.quote(os.fsdecode(c))
                             for c in run["cmd"]) + "\n")


# ---------------------------------------------------------------- checks

class Checker:
    """Compares one run against its case's expectations."""

    def __init__(self, case, ph, run, server, result):
        self.case = case
        self.ph = ph
        self.run = run
        self.server = server
        self.result = result
        self.stdout = run["stdout"].decode("utf-8", "surrogateescape")
        self.stderr = run["stderr"].decode("utf-8", "surrogateescape")

    def fail(self, reason, details=()):
        self.result.fail(reason, details)

    def check(self):
        run = self.run
        if run["timed_out"]:
            self.fail("timed out after %.0f s (killed)" % run["timeout"])
        elif run["exit"] < 0:
            self.fail("killed by signal %d" % -run["exit"])
        if SANITIZER_RE.search(self.stderr):
            self.fail("sanitizer or valgrind report on stderr")
        for err in self.server.all_errors():
            self.fail("server: " + err)
        self._exit()
        self._elapsed()
        self._proxy()
        self._connection()
        self._tls()
        self._protocol()
        self._protocol_re()
        self._body()
        self._streams()
        self._files()
        self._stdin()
        if self.result.status == "FAIL":
            self._context()

    def _context(self):
        notes = self.result.notes
        notes.append("exit %s after %.2f s; command: %s"
                     % (self.run["exit"], self.run["elapsed"],
                        " ".join(shlex.quote(os.fsdecode(c))
                                 for c in self.run["cmd"][-12:])))
        notes += text_block("stderr:", self.run["stderr"])
        if self.run["stdout"]:
            notes += text_block("stdout:", self.run["stdout"])
        if self.server.records:
            notes += text_block("server transcript:",
                                self.server.transcript(), limit=60)
        else:
            notes.append("server transcript: (no connection)")

    def _exit(self):
        lines = self.case.lines("expect-exit")
        if not lines:
            return
        try:
            want = int(lines[0].strip())
        except ValueError:
            raise CaseError("[expect-exit] must be an integer")
        if self.run["exit"] != want and not self.run["timed_out"]:
            self.fail("exit code %s, expected %d" % (self.run["exit"], want))

    def _elapsed(self):
        """[expect-elapsed-max]: a coarse bound (seconds) on the run, for
        the cases about timeouts; never a speed goal."""
        lines = self.case.lines("expect-elapsed-max")
        if not lines:
            return
        try:
            limit = float(lines[0].strip())
        except ValueError:
            raise CaseError("[expect-elapsed-max] must be a number")
        if self.run.get("wrapped"):
            limit += WRAPPER_SLACK
        if self.run["elapsed"] > limit:
            self.fail("the run took %.1f s, more than %g s"
                      % (self.run["elapsed"], limit))

    def _proxy(self):
        """The SOCKS proxy's own errors fail the case; [expect-proxy]
        lists the CONNECT requests it saw, in order, as "KIND HOST PORT"
        (KIND: domain, ipv4, ipv6)."""
        proxy = self.run.get("proxy")
        if proxy is None:
            if self.case.has("expect-proxy"):
                raise CaseError("[expect-proxy] needs a [proxy] section")
            return
        for err in proxy.errors:
            self.fail("proxy: " + err)
        if not self.case.has("expect-proxy"):
            return
        want = [" ".join(self.ph_subst(ln).split())
                for ln in self.case.lines("expect-proxy")]
        got = ["%s %s %d" % c for c in proxy.connects]
        if want != got:
            self.fail("the proxy's CONNECT requests differ from "
                      "[expect-proxy]", ["expected %r" % want,
                                         "actual   %r" % got])

    def _connection(self):
        if self.case.has("expect-no-connection") and self.server.records:
            self.fail("the server was connected to (%d connection(s), "
                      "commands %r)" % (len(self.server.records),
                                        self.server.commands()[:5]))

    def _tls(self):
        """[expect-tls]: the first connection ran over TLS; lines may say
        `client-cert` (the client presented a certificate)."""
        if not self.case.has("expect-tls"):
            return
        recs = self.server.records
        if not recs or not recs[0].tls:
            self.fail("no TLS session was established")
            return
        want = " ".join(self.case.lines("expect-tls"))
        if "client-cert" in want and not recs[0].client_cert:
            self.fail("the client presented no certificate")

    def _expected_size(self):
        for rec in self.server.records:
            for body, done, bdat in zip(rec.bodies, rec.data_complete,
                                        rec.body_is_bdat):
                if done:
                    return len(body) if bdat else rfc1870_size(body)
        return normalized_size(self.run["stdin_data"] or b"")

    def _protocol(self):
        if not self.case.has("expect-protocol"):
            return
        want = [self.ph_subst(ln) for ln in self.case.lines("expect-protocol")]
        if any("%SIZE%" in w for w in want):
            size = str(self._expected_size())
            want = [w.replace("%SIZE%", size) for w in want]
        got = self.server.commands()
        shown = [g if w == "%ANY%" else w
                 for w, g in zip(want, got)] + want[len(got):]
        if len(want) == len(got) and shown == got:
            return
        diff = difflib.unified_diff(
            [repr(x)[1:-1] for x in shown], [repr(x)[1:-1] for x in got],
            "expected", "actual", lineterm="", n=20)
        self.fail("client commands differ from [expect-protocol]",
                  list(diff)[2:])

    def _protocol_re(self):
        got = "\n".join(self.server.commands())
        for pattern in self.case.lines("expect-protocol-re"):
            try:
                rx = re.compile(self.ph_subst(pattern, regex=True), re.M)
            except re.error as ex:
                raise CaseError("bad regex %r: %s" % (pattern, ex))
            if not rx.search(got):
                self.fail("client commands do not match %r" % pattern,
                          text_block("client commands:", got or "(none)"))

    def ph_subst(self, text, regex=False):
        return PLACEHOLDER_RE.sub(
            lambda m: re.escape(self.ph[m.group(1)]) if regex
            else self.ph[m.group(1)], text)

    def _body(self):
        body = self.server.body()
        if self.case.has("expect-body"):
            want = content_bytes([self.ph_subst(ln)
                                  for ln in self.case.sections["expect-body"]],
                                 eol=b"\r\n")
            if want != body:
                self.fail("message data differs from [expect-body]",
                          bytes_diff(want, body))
        for pattern in self.case.lines("expect-body-re"):
            pat = expand_helpers(self.ph_subst(pattern, regex=True).encode(
                "utf-8", "surrogateescape"))
            try:
                rx = re.compile(pat, re.M)
            except re.error as ex:
                raise CaseError("bad regex %r: %s" % (pattern, ex))
            if not rx.search(body):
                self.fail("message data does not match %r" % pattern,
                          text_block("message data received:",
                                     repr(body[:3000])[2:-1]
                                     .replace("\\n", "\\n\n")))

    def _regexes(self, section, text, stream):
        for pattern in self.case.lines(section):
            try:
                rx = re.compile(self.ph_subst(pattern, regex=True), re.M)
            except re.error as ex:
                raise CaseError("bad regex %r: %s" % (pattern, ex))
            if not rx.search(text):
                self.fail("%s does not match %r" % (stream, pattern))

    def _stderr_format(self):
        """Every stderr line is "PROG: message" (one-line errors, house
        rule), apart from the usage hint after a usage error."""
        progs = {"msmtp", self.case.meta.get("argv0", "msmtp")}
        for line in self.stderr.split("\n")[:-1] if self.stderr else []:
            if any(line.startswith(p + ": ") for p in progs):
                continue
            if re.fullmatch(r"Try '.*--help' for more information\.", line):
                continue
            self.fail("stderr line not in the form 'msmtp: message': %r"
                      % line)
            return
        if self.stderr and not self.stderr.endswith("\n"):
            self.fail("stderr does not end with a newline")

    def _streams(self):
        self._stderr_format()
        self._regexes("expect-stderr", self.stderr, "stderr")
        self._regexes("expect-stdout", self.stdout, "stdout")
        if self.case.has("expect-stderr-empty") and self.stderr:
            self.fail("stderr is not empty")
        if self.case.has("expect-stdout-empty") and self.stdout:
            self.fail("stdout is not empty",
                      text_block("stdout:", self.run["stdout"]))
        outputs = [("stdout", self.stdout), ("stderr", self.stderr)]
        outputs += self._log_files()
        if self.run.get("syslog") is not None:
            outputs.append(("syslog", self.run["syslog"]))
            for rx in self.case.lines("expect-syslog"):
                if not re.search(self.ph_subst(rx, regex=True),
                                 self.run["syslog"], re.M):
                    self.fail("syslog does not match %r" % rx,
                              text_block("syslog:",
                                         self.run["syslog"].encode()))
        forbidden = [self.ph_subst(x)
                     for x in self.case.lines("expect-not-in-output")]
        forbidden += self._secrets()
        for secret in forbidden:
            for name, text in outputs:
                if secret and secret in text:
                    self.fail("%s contains the forbidden string %r"
                              % (name, secret))

    def _files(self):
        """[expect-file NAME]: regexes (re.M) each matching the content of
        $HOME/NAME after the run (e.g. a logfile)."""
        for key in self.case.sections:
            if not key.startswith("expect-file "):
                continue
            name = self.ph_subst(key[len("expect-file "):])
            path = os.path.join(self.ph["HOME"], name)
            try:
                with open(path, "rb") as fh:
                    text = fh.read().decode("utf-8", "surrogateescape")
            except OSError as ex:
                self.fail("file %s: %s" % (name, ex.strerror))
                continue
            for pattern in self.case.lines(key):
                try:
                    rx = re.compile(self.ph_subst(pattern, regex=True), re.M)
                except re.error as ex:
                    raise CaseError("bad regex %r: %s" % (pattern, ex))
                if not rx.search(text):
                    self.fail("file %s does not match %r" % (name, pattern),
                              text_block("%s (%d bytes):" % (name, len(text)),
                                         repr(text[:2000])))

    def _log_files(self):
        """Every *.log file the run left in HOME (logfile cases)."""
        found = []
        for top, _, files in os.walk(self.ph["HOME"]):
            for f in files:
                if f.endswith(".log"):
                    path = os.path.join(top, f)
                    with open(path, "rb") as fh:
                        found.append((path, fh.read().decode(
                            "utf-8", "surrogateescape")))
        return found

    def _secrets(self):
        """The automatic forbid check: a config `password`, or [meta]
        secret, must appear nowhere - nor in base64, alone or as the
        AUTH PLAIN payload."""
        import base64
        secrets, user = [], ""
        for line in self.case.lines("config"):
            m = re.match(r"\s*(password|user)\s+(.*\S)", line)
            if m and m.group(1) == "password":
                secrets.append(m.group(2).strip('"'))
            elif m:
                user = m.group(2).strip('"')
        if self.case.meta.get("secret"):
            secrets.append(self.case.meta["secret"])
        forms = []
        for sec in secrets:
            forms.append(sec)
            forms.append(base64.b64encode(sec.encode()).decode())
            forms.append(base64.b64encode(
                b"\0" + user.encode() + b"\0" + sec.encode()).decode())
        return forms

    def _stdin(self):
        if not self.case.has("expect-stdin-unread"):
            return
        unread = self.run["unread"]
        total = len(self.run["stdin_data"] or b"")
        if unread is None:
            raise CaseError("[expect-stdin-unread] needs a [stdin] section")
        if total and unread != total:
            self.fail("the binary read %d of %d stdin bytes, expected none"
                      % (total - unread, total))


# ---------------------------------------------------------------- main

def find_cases(opts):
    cases_dir = os.path.join(HERE, "cases")
    if opts.cases:
        paths = []
        for c in opts.cases:
            if os.path.exists(c):
                paths.append(c)
                continue
            hit = [os.path.join(cases_dir, f)
                   for f in sorted(os.listdir(cases_dir))
                   if f.endswith(".case") and (f == c or f == c + ".case"
                                               or f.startswith(c))]
            if not hit:
                raise SystemExit("run.py: no case named %r" % c)
            paths += hit
    else:
        paths = [os.path.join(cases_dir, f)
                 for f in sorted(os.listdir(cases_dir))
                 if f.endswith(".case")]
    if opts.k:
        paths = [p for p in paths if opts.k in os.path.basename(p)]
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--msmtp", default=os.environ.get("MSMTP")
                    or DEFAULT_MSMTP, help="binary under test")
    ap.add_argument("--keep", action="store_true",
                    help="keep each case's temp dir and print its path")
    ap.add_argument("-k", metavar="SUBSTRING",
                    help="only cases whose file name contains SUBSTRING")
    ap.add_argument("-j", type=int, default=1, metavar="N",
                    help="run N cases at once (default 1)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="default hard timeout per case (seconds)")
    ap.add_argument("--wrapper", default=os.environ.get("MSMTP_WRAPPER"),
                    help="run the binary under this command, e.g. "
                    "'valgrind -q --error-exitcode=99' (default: "
                    "$MSMTP_WRAPPER)")
    ap.add_argument("cases", nargs="*", metavar="CASE")
    opts = ap.parse_args(argv)

    if not os.access(opts.msmtp, os.X_OK):
        print("SKIP: no executable binary at %s" % opts.msmtp)
        return 77
    paths = find_cases(opts)
    runner = Runner(opts)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}

    def one(path):
        try:
            case = Case(path)
        except (CaseError, OSError) as ex:
            dummy = Result(type("C", (), {"name": os.path.basename(path)}))
            dummy.fail("bad case file: %s" % ex)
            return dummy
        return runner.run(case)

    with concurrent.futures.ThreadPoolExecutor(max(1, opts.j)) as pool:
        for result in pool.map(one, paths):
            counts[result.status] += 1
            print(result.render(), flush=True)
    summary = "%d passed, %d failed" % (counts["PASS"], counts["FAIL"])
    if counts["SKIP"]:
        summary += ", %d skipped" % counts["SKIP"]
    print(summary)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
