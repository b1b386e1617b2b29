#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""prompt_signal_test.py - a signal at the password prompt must not leave
the terminal without echo.  Runs the real binary on a pseudo-terminal (its
controlling terminal; the message comes from a file), waits for the no-echo
prompt, then interrupts it: ^C and ^\\ typed on the terminal, SIGTERM and
SIGHUP sent with kill.  Each time the binary must die of that very signal
and the terminal must have ECHO (and ICANON) on again."""
import fcntl
import os
import select
import shutil
import signal
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakesmtp  # noqa: E402
from casekit import wrapped  # noqa: E402
from prompt_test import read_until  # noqa: E402

PROMPT = b"password for alice at 127.0.0.1: "
WAIT = 10.0

# (name, how: bytes typed on the terminal or a signal sent with kill, signal
# the binary must die of)
CASES = [
    ("ctrl-c", b"\x03", signal.SIGINT),
    ("ctrl-backslash", b"\x1c", signal.SIGQUIT),
    ("kill-term", signal.SIGTERM, signal.SIGTERM),
    ("kill-hup", signal.SIGHUP, signal.SIGHUP),
]


def wait_exit(pid, limit=WAIT):
    """The wait status of pid, or None if it is still running at limit."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def spawn(msmtp, home, msgfile):
    """Start the binary with a fresh pty as its controlling terminal."""
    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            os.dup2(os.open(msgfile, os.O_RDONLY), 0)
            os.dup2(slave, 1)
            os.dup2(slave, 2)
            for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                        signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            os.environ.update(HOME=home, LC_ALL="C")
            os.execv(msmtp, [msmtp, "b@example.org"])
        finally:
            os._exit(127)
    return pid, master, slave


def one_case(msmtp, home, msgfile, name, how, want_sig):
    """Run one interruption; a list of failure texts (empty: passed)."""
    fails = []
    pid, master, slave = spawn(msmtp, home, msgfile)
    try:
        out = read_until(master, PROMPT)
        if PROMPT not in out:
            wait_exit(pid, 0)
            return ["no prompt on the terminal: %r" % out[-200:]]
        if termios.tcgetattr(slave)[3] & termios.ECHO:
            fails.append("echo was not off at the prompt")
        if isinstance(how, bytes):
            os.write(master, how)
        else:
            os.kill(pid, how)
        status = wait_exit(pid)
        read_until(master, b"\0", 0.2)
        if status is None:
            fails.append("still running %.0f s after %s (killed)"
                         % (WAIT, name))
        elif not os.WIFSIGNALED(status) or \
                os.WTERMSIG(status) != want_sig:
            fails.append("did not die of %s: wait status %#x"
                         % (signal.Signals(want_sig).name, status))
        lflag = termios.tcgetattr(slave)[3]
        if not lflag & termios.ECHO:
            fails.append("ECHO is still off after %s" % name)
        if not lflag & termios.ICANON:
            fails.append("ICANON is off after %s" % name)
    finally:
        os.close(master)
        os.close(slave)
    return fails


def main():
    msmtp = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MSMTP")
    if not msmtp or not os.access(msmtp, os.X_OK):
        print("SKIP: binary not built")
        return 77
    msmtp = wrapped(msmtp)
    script = fakesmtp.Script(["caps AUTH PLAIN", "connections 100",
                              "ignore-client-errors"])
    server = fakesmtp.FakeSMTPServer(script).start()
    home = tempfile.mkdtemp(prefix="msmtp-prompt-sig-")
    msgfile = os.path.join(home, "msg")
    with open(msgfile, "w") as f:
        f.write("Subject: prompt\n\nBody.\n")
    conf = os.path.join(home, ".msmtprc")
    with open(conf, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\n"
                "from a@example.org\nauth plain\nuser alice\n" % server.port)
    os.chmod(conf, 0o600)
    passed = failed = 0
    try:
        for name, how, want_sig in CASES:
            fails = one_case(msmtp, home, msgfile, name, how, want_sig)
            if fails:
                failed += 1
                print("FAIL prompt-signal-%s: %s" % (name, "; ".join(fails)))
            else:
                passed += 1
                print("PASS prompt-signal-%s" % name)
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
