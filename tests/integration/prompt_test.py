#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""prompt_test.py - the last password source: a no-echo prompt on the
controlling terminal.  Runs the real binary on a pseudo-terminal (it gets
no stdin message from the terminal: the message comes from a file), types
the password at the prompt and checks that the server saw it, that the
terminal did not echo it, and that nothing else printed it."""
import os
import pty
import select
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakesmtp  # noqa: E402
from casekit import wrapped  # noqa: E402

SECRET = "canary-Tty-0001"


def read_until(fd, needle, limit=10.0):
    data = b""
    deadline = time.monotonic() + limit
    while needle not in data and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def main():
    msmtp = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MSMTP")
    if not msmtp or not os.access(msmtp, os.X_OK):
        print("SKIP: binary not built")
        return 77
    msmtp = wrapped(msmtp)
    script = fakesmtp.Script(["caps AUTH PLAIN", "auth-user alice " + SECRET])
    server = fakesmtp.FakeSMTPServer(script).start()
    home = tempfile.mkdtemp(prefix="msmtp-prompt-")
    msgfile = os.path.join(home, "msg")
    with open(msgfile, "w") as f:
        f.write("Subject: prompt\n\nBody.\n")
    conf = os.path.join(home, ".msmtprc")
    with open(conf, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\nfrom a@example.org\n"
                "auth plain\nuser alice\nlogfile %s/msmtp.log\n"
                % (server.port, home))
    os.chmod(conf, 0o600)
    failures = []
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(HOME=home, LC_ALL="C")
        in_fd = os.open(msgfile, os.O_RDONLY)
        os.dup2(in_fd, 0)
        os.execv(msmtp, [msmtp, "-d", "b@example.org"])
    out = read_until(fd, b"password for alice at 127.0.0.1: ")
    if b"password for alice at 127.0.0.1: " not in out:
        failures.append("no prompt on the terminal: %r" % out[-200:])
    os.write(fd, (SECRET + "\n").encode())
    out += read_until(fd, b"<-- 221", 10.0)
    _, status = os.waitpid(pid, 0)
    out += read_until(fd, b"\0", 0.3)
    server.wait_idle(2.0)
    server.stop()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        failures.append("exit %d" % code)
    if not server.records or server.records[0].auth != ("PLAIN", True):
        failures.append("the server did not accept the typed password")
    with open(os.path.join(home, "msmtp.log"), "rb") as f:
        log = f.read()
    for where, data in (("terminal", out), ("log", log)):
        if SECRET.encode() in data:
            failures.append("the password appears on the %s" % where)
    if failures:
        print("FAIL prompt-on-tty: " + "; ".join(failures))
        print("  (its files are kept in %s)" % home)
        print("0 passed, 1 failed")
        return 1
    shutil.rmtree(home, ignore_errors=True)
    print("PASS prompt-on-tty")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
