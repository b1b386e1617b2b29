# SPDX-License-Identifier: GPL-3.0-or-later
"""casekit.py - what the Python integration scripts share: the failure
and skip exceptions, expect(), a free loopback port, and the loop that
runs named cases and prints PASS/FAIL/SKIP lines and the summary
"N passed, N failed[, N skipped]" (the last line each script prints),
and the MSMTP_WRAPPER knob (wrapped, named)."""
import atexit
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def delivered_bodies(srv):
    """Message data each transaction of a fakesmtp server completed, in
    order (a transaction cut off in its data is left out)."""
    out = []
    for rec in srv.records:
        for body, done in zip(rec.bodies, rec.data_complete):
            if done:
                out.append(bytes(body))
    return out


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_WRAPPED = {}


def wrapped(msmtp):
    """The binary to start: with MSMTP_WRAPPER set (make check-valgrind:
    "valgrind -q --error-exitcode=99 ..."), a script that runs msmtp
    under that command - for every name the binary answers to, see
    named() - else msmtp itself.  The scripts live in a directory others
    may enter (cases run the binary as other users too)."""
    words = shlex.split(os.environ.get("MSMTP_WRAPPER", ""))
    if not words:
        return msmtp
    real = os.path.abspath(msmtp)
    top = tempfile.mkdtemp(prefix="msmtp-wrapper-")
    atexit.register(shutil.rmtree, top, True)
    os.chmod(top, 0o755)
    os.mkdir(os.path.join(top, "real"), 0o755)
    for name in ("msmtp", "sendmail", "mailq", "newaliases"):
        link = os.path.join(top, "real", name)
        os.symlink(real, link)
        script = os.path.join(top, name)
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexec %s %s \"$@\"\n"
                    % (" ".join(shlex.quote(w) for w in words),
                       shlex.quote(link)))
        os.chmod(script, 0o755)
    path = os.path.join(top, "msmtp")
    _WRAPPED[path] = top
    return path


def named(msmtp, argv0):
    """What to execute for argv[0] = argv0: under a wrapper the script of
    that name (a script cannot pass its argv[0] on), else msmtp itself."""
    top = _WRAPPED.get(msmtp)
    return os.path.join(top, argv0) if top else msmtp


def case_name(case):
    return case.__name__[5:].replace("_", "-")


def run_cases(cases, only=(), args=()):
    """Run each case (all, or those named in only) as case(*args); 1 when
    any failed, else 0."""
    passed = failed = skipped = 0
    for case in cases:
        name = case_name(case)
        if only and name not in only:
            continue
        try:
            case(*args)
        except Skip as ex:
            skipped += 1
            print("SKIP %s: %s" % (name, ex))
        except (Failure, subprocess.TimeoutExpired) as ex:
            failed += 1
            print("FAIL %s: %s" % (name, ex))
        else:
            passed += 1
            print("PASS " + name)
        sys.stdout.flush()
    print("%d passed, %d failed%s" % (passed, failed,
                                      ", %d skipped" % skipped if skipped
                                      else ""))
    return 1 if failed else 0
