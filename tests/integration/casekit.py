# SPDX-License-Identifier: GPL-3.0-or-later
"""casekit.py - what the Python integration scripts share: the failure
and skip exceptions, expect(), a free loopback port, and the loop that
runs named cases and prints PASS/FAIL/SKIP lines and the summary
"N passed, N failed[, N skipped]" (the last line each script prints)."""
import socket
import subprocess
import sys


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
