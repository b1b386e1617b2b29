#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""queue_test.py - the store-and-forward queue, end to end: the real
binary against fakesmtp servers that come and go on one loopback port.

Each case prints PASS/FAIL; the last line is "N passed, N failed".
Bounded in time; only loopback addresses are used."""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "servers"))
import fakesmtp  # noqa: E402
from casekit import Failure, Skip, expect, free_port, named, run_cases, wrapped  # noqa: E402,E501
from casekit import delivered_bodies as bodies  # noqa: E402
import fakesocks  # noqa: E402

MSMTP = None
CRASH_TRIALS = int(os.environ.get("QUEUE_CRASH_TRIALS", "200"))
CRASH_BUDGET = float(os.environ.get("QUEUE_CRASH_SECONDS", "120"))


def message(n, extra=b""):
    return (b"From: alice@example.org\nTo: bob@example.net\n"
            b"Subject: queued %d\nDate: Sat, 28 Nov 2026 10:00:00 +0000\n"
            b"Message-ID: <q%d@example.org>\n\nBody %d.\n" % (n, n, n)) + extra


def wire(msg):
    """What the server must receive for a message: CRLF, dot-stuffing."""
    out = []
    for line in msg.split(b"\n")[:-1] if msg.endswith(b"\n") else msg.split(b"\n"):
        out.append((b"." + line if line.startswith(b".") else line) + b"\r\n")
    return b"".join(out) + b".\r\n"


class Env:
    """A private HOME with an msmtprc whose accounts point at `port`."""

    def __init__(self, port, extra="", accounts=None):
        self.home = tempfile.mkdtemp(prefix="msmtp-queue-")
        self.port = port
        self.qdir = os.path.join(self.home, "queue")
        conf = accounts or (
            "defaults\nqueue tempfail\nqueue_dir %s\n%s\n"
            "account default\nhost 127.0.0.1\nport %d\nfrom alice@example.org\n"
            % (self.qdir, extra, port))
        path = os.path.join(self.home, ".msmtprc")
        with open(path, "w") as f:
            f.write(conf)
        os.chmod(path, 0o600)

    def run(self, args, stdin=b"", timeout=30, wait=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": self.home, "LC_ALL": "C",
               "XDG_STATE_HOME": os.path.join(self.home, "state")}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        p = subprocess.Popen([MSMTP] + args, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
        if not wait:
            return p
        out, err = p.communicate(stdin, timeout=timeout)
        return p.returncode, out.decode(errors="replace"), err.decode(
            errors="replace")

    def entries(self, sub=""):
        d = os.path.join(self.qdir, sub)
        if not os.path.isdir(d):
            return []
        return sorted(f[:-4] for f in os.listdir(d) if f.endswith(".env"))

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


def server(port, *directives):
    return fakesmtp.FakeSMTPServer(fakesmtp.Script(list(directives)),
                                   port=port).start()


def send(env, n=1, args=("bob@example.net",), extra=b""):
    return env.run(list(args), message(n, extra))


# ---------------------------------------------------------------- cases

def case_tempfail_then_flush():
    """451 to MAIL: queued (exit 0, a note); the server comes back; -q
    delivers exactly once, byte for byte; the queue is then empty."""
    port = free_port()
    env = Env(port)
    try:
        a = server(port, "reply MAIL 451 4.3.0 try again later")
        code, out, err = send(env)
        a.stop()
        expect(code == 0, "send exit %d, stderr %r" % (code, err))
        expect("message queued as" in err and "451" in err,
               "no queue note on stderr: %r" % err)
        expect(out == "", "stdout not empty: %r" % out)
        expect(len(env.entries()) == 1, "entries %r" % env.entries())
        code, out, _ = env.run(["-bp"])
        expect(code == 0 and "pending   <bob@example.net>" in out
               and "451 4.3.0" in out, "mailq output %r" % out)
        b = server(port, "connections 5")
        code, out, err = env.run(["-q"])
        b.wait_idle(3)
        b.stop()
        expect(code == 0, "flush exit %d %r" % (code, err))
        got = bodies(b)
        expect(got == [wire(message(1))], "delivered %r" % got)
        expect(env.entries() == [], "queue not empty: %r" % env.entries())
        code, out, _ = env.run(["-bp"])
        expect(out.strip() == "Mail queue is empty", "mailq %r" % out)
        c = server(port)
        env.run(["-q"])
        c.stop()
        expect(not c.records, "a second flush connected again")
    finally:
        env.cleanup()


def case_partial_recipients():
    """One 4xx and one 250 during a flush: the delivered recipient is
    never sent again; only the pending one is retried."""
    port = free_port()
    env = Env(port)
    try:
        a = server(port, "reply MAIL 451 4.3.0 later")
        send(env, 2, ("bob@example.net", "carol@example.net"))
        a.stop()
        b = server(port, "reply-rcpt carol@example.net 450 4.2.0 mailbox busy")
        env.run(["-q"])
        b.wait_idle(3)
        b.stop()
        expect(len(bodies(b)) == 1, "first flush delivered %d" % len(bodies(b)))
        code, out, _ = env.run(["-bp"])
        expect("delivered <bob@example.net>" in out
               and "pending   <carol@example.net>" in out, "mailq %r" % out)
        c = server(port)
        env.run(["-q"])
        c.wait_idle(3)
        c.stop()
        rcpts = [x for x in c.commands() if x.startswith("RCPT")]
        expect(rcpts == ["RCPT TO:<carol@example.net>"], "retried %r" % rcpts)
        expect(env.entries() == [], "queue not empty")
    finally:
        env.cleanup()


def case_permanent_failure_goes_to_failed():
    """A 550 during a flush: the entry moves to failed/ with the reason."""
    port = free_port()
    env = Env(port)
    try:
        a = server(port, "reply MAIL 451 4.3.0 later")
        send(env)
        a.stop()
        b = server(port, "reply-rcpt bob@example.net 550 5.1.1 no such user")
        code, _, err = env.run(["-q"])
        b.stop()
        expect(env.entries() == [], "still queued")
        failed = env.entries("failed")
        expect(len(failed) == 1, "failed/ has %r" % failed)
        with open(os.path.join(env.qdir, "failed", failed[0] + ".env")) as f:
            text = f.read()
        expect("550%205.1.1" in text, "reason not kept: %r" % text)
        expect("could not be delivered" in err, "no note: %r" % err)
    finally:
        env.cleanup()


def case_notify():
    """queue_notify on: a message that fails for good produces a report to
    its sender, sent with the null envelope sender."""
    port = free_port()
    env = Env(port, extra="queue_notify on")
    try:
        a = server(port, "reply MAIL 451 4.3.0 later")
        send(env, 40)
        a.stop()
        b = server(port, "connections 3",
                    "reply-rcpt bob@example.net 550 5.1.1 no such user")
        env.run(["-q"])
        b.wait_idle(3)
        b.stop()
        mails = [x for x in b.commands() if x.startswith("MAIL")]
        expect(len(mails) == 2 and mails[1].startswith("MAIL FROM:<>"),
               "MAIL commands %r" % mails)
        rcpts = [x for x in b.commands() if x.startswith("RCPT")]
        expect(rcpts[-1] == "RCPT TO:<alice@example.org>", "report to %r" % rcpts)
        report = bodies(b)[-1]
        expect(b"bob@example.net>: 550 5.1.1 no such user" in report
               and b"Auto-Submitted: auto-replied" in report, "report %r" % report)
    finally:
        env.cleanup()


def case_queue_off_and_permanent():
    """queue off (msmtp's default): a temporary failure exits 75 and
    nothing is queued; with queue tempfail a 5xx is never queued."""
    port = free_port()
    env = Env(port, accounts=(
        "account default\nhost 127.0.0.1\nport %d\nfrom alice@example.org\n"
        % port))
    try:
        a = server(port, "reply MAIL 451 4.3.0 later")
        code, _, err = send(env)
        a.stop()
        expect(code == 75, "exit %d" % code)
        expect(not os.path.exists(os.path.join(env.home, "state")),
               "a queue directory was created")
    finally:
        env.cleanup()
    env = Env(port)
    try:
        a = server(port, "reply MAIL 550 5.7.1 go away")
        code, _, err = send(env)
        a.stop()
        expect(code == 65, "exit %d" % code)
        expect(env.entries() == [], "a permanent failure was queued")
    finally:
        env.cleanup()


def case_odq_and_queue_always():
    """-odq queues without connecting; `queue always` delivers through the
    queue and leaves nothing behind on success."""
    port = free_port()
    env = Env(port)
    try:
        a = server(port)
        code, _, err = env.run(["-odq", "bob@example.net"], message(3))
        expect(code == 0 and not a.records, "exit %d, connected %d"
               % (code, len(a.records)))
        expect(len(env.entries()) == 1, "not queued")
        env.run(["-q"])
        a.wait_idle(3)
        a.stop()
        expect(bodies(a) == [wire(message(3))], "flush did not deliver")
    finally:
        env.cleanup()
    env = Env(port, extra="queue always")
    try:
        a = server(port)
        code, _, err = send(env, 4)
        a.wait_idle(3)
        a.stop()
        expect(code == 0 and err == "", "exit %d %r" % (code, err))
        expect(env.entries() == [], "entry left behind")
        b = server(port, "reply MAIL 452 4.3.1 full")
        code, _, err = send(env, 5)
        b.stop()
        expect(code == 0 and "queued" in err, "exit %d %r" % (code, err))
        expect(len(env.entries()) == 1, "not kept after 452")
    finally:
        env.cleanup()


def case_backoff_retry_remove():
    """--queue-run skips entries not yet due; --queue-retry makes one due;
    --queue-remove deletes one."""
    port = free_port()
    env = Env(port, extra="queue_backoff 1h")
    try:
        a = server(port, "reply MAIL 451 4.3.0 later", "connections 2")
        send(env, 6)
        send(env, 7)
        a.stop()
        ids = env.entries()
        expect(len(ids) == 2, "entries %r" % ids)
        b = server(port, "connections 5")
        env.run(["--queue-run"])
        expect(not b.records, "--queue-run sent an entry that is not due")
        code, _, err = env.run(["--queue-retry=" + ids[0]])
        expect(code == 0, "retry exit %d %r" % (code, err))
        env.run(["--queue-run"])
        b.wait_idle(3)
        expect(len(bodies(b)) == 1, "--queue-run after retry sent %d"
               % len(bodies(b)))
        code, _, err = env.run(["--queue-remove", ids[1]])
        expect(code == 0 and env.entries() == [], "remove: %d %r %r"
               % (code, err, env.entries()))
        code, _, err = env.run(["--queue-remove", ids[1]])
        expect(code == 64 and "no queued message" in err, "second remove %d"
               % code)
        b.stop()
    finally:
        env.cleanup()


def case_expiry():
    """An entry older than queue_lifetime moves to failed/ (no attempt)."""
    port = free_port()
    env = Env(port, extra="queue_lifetime 1s")
    try:
        a = server(port, "reply MAIL 451 4.3.0 later")
        send(env, 8)
        a.stop()
        time.sleep(2.2)
        b = server(port)
        code, _, err = env.run(["-q"])
        b.stop()
        expect(not b.records, "an expired entry was attempted")
        expect(env.entries() == [] and len(env.entries("failed")) == 1,
               "not in failed/")
        expect("expired" in err, "no note: %r" % err)
    finally:
        env.cleanup()


def case_failover():
    """failover: the first account's server refuses connections; the
    second account delivers."""
    port = free_port()
    dead = free_port()
    home_conf = (
        "defaults\nqueue tempfail\nqueue_dir %%s\n"
        "account main\nhost 127.0.0.1\nport %d\nfrom alice@example.org\n"
        "failover backup\n"
        "account backup\nhost 127.0.0.1\nport %d\nfrom alice@example.org\n"
        "account default : main\n" % (dead, port))
    env = Env(port, accounts="x")
    try:
        with open(os.path.join(env.home, ".msmtprc"), "w") as f:
            f.write(home_conf % env.qdir)
        a = server(port)
        code, _, err = send(env, 9)
        a.wait_idle(3)
        a.stop()
        expect(code == 0, "exit %d %r" % (code, err))
        expect("trying account backup" in err, "no failover note: %r" % err)
        expect(bodies(a) == [wire(message(9))], "not delivered via backup")
    finally:
        env.cleanup()


def case_bad_queue_dir():
    """A queue directory writable by others is refused (73), nothing sent,
    nothing reported as queued."""
    port = free_port()
    env = Env(port)
    try:
        os.makedirs(env.qdir)
        os.chmod(env.qdir, 0o777)
        code, _, err = env.run(["-odq", "bob@example.net"], message(10))
        expect(code == 73, "exit %d %r" % (code, err))
        expect("writable by others" in err and "queued as" not in err,
               "message %r" % err)
    finally:
        env.cleanup()


def case_disk_full():
    """A full disk (a 256 KiB tmpfs as queue_dir): a clear error (74), no
    entry visible, nothing reported as queued."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise Skip("needs root and unshare for a private tmpfs")
    port = free_port()
    env = Env(port)
    try:
        os.makedirs(env.qdir)
        big = message(11, b"x" * 76 + b"\n") + (b"y" * 76 + b"\n") * 8000
        script = ('mount -t tmpfs -o size=256k,mode=0700 tmpfs "$1" && shift && "$@"; '
                  'rc=$?; ls "$Q" > "$L"; exit $rc')
        envv = dict(os.environ, HOME=env.home, Q=env.qdir,
                    L=os.path.join(env.home, "listing"), LC_ALL="C")
        p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh",
                            env.qdir, MSMTP, "-odq", "bob@example.net"],
                           input=big, capture_output=True, env=envv,
                           timeout=30)
        err = p.stderr.decode(errors="replace")
        expect(p.returncode == 74, "exit %d %r" % (p.returncode, err))
        expect("No space left" in err and "queued as" not in err,
               "message %r" % err)
        with open(os.path.join(env.home, "listing")) as f:
            listing = f.read().split()
        expect(not any(x.endswith(".env") or x.endswith(".msg")
                       for x in listing), "partial entry: %r" % listing)
    finally:
        env.cleanup()


def case_one_session_per_account():
    """A queue run sends every message of an account over one connection:
    RSET after a refused one, QUIT once at the end."""
    port = free_port()
    env = Env(port)
    try:
        env.run(["-odq", "bob@example.net"], message(20))
        env.run(["-odq", "nobody@example.net"], message(21))
        env.run(["-odq", "bob@example.net"], message(22))
        b = server(port, "caps 8BITMIME", "reply-rcpt nobody@example.net 550 5.1.1 unknown")
        code, _, err = env.run(["-q"])
        b.wait_idle(3)
        b.stop()
        expect(len(b.records) == 1, "%d connections" % len(b.records))
        cmds = [x.split(":")[0].split(" ")[0] for x in b.commands()]
        expect(cmds.count("MAIL") == 3 and cmds.count("QUIT") == 1
               and "RSET" in cmds, "commands %r" % b.commands())
        expect(len(bodies(b)) == 2, "delivered %d" % len(bodies(b)))
        expect(env.entries() == [] and len(env.entries("failed")) == 1,
               "queue %r failed %r" % (env.entries(), env.entries("failed")))
    finally:
        env.cleanup()


def case_opportunistic_flush():
    """After a successful send, the account's due queued messages go out
    too, over the same connection (queue_opportunistic, on by default)."""
    port = free_port()
    env = Env(port)
    try:
        a = server(port, "reply MAIL 451 4.3.0 later")
        send(env, 50)
        a.stop()
        expect(len(env.entries()) == 1, "not queued")
        env.run(["--queue-retry", env.entries()[0]])
        b = server(port, "connections 3")
        code, _, err = send(env, 51)
        b.wait_idle(3)
        b.stop()
        got = sorted(re.search(rb"Message-ID: <(q\d+)@", x).group(1)
                     for x in bodies(b))
        expect(code == 0 and got == [b"q50", b"q51"], "exit %d, got %r"
               % (code, got))
        expect(len(b.records) == 1, "%d connections, not one" % len(b.records))
        expect(env.entries() == [], "queue not empty")
    finally:
        env.cleanup()


def case_odb_background():
    """-odb: queued at once, delivered by a detached child."""
    port = free_port()
    env = Env(port)
    try:
        b = server(port)
        code, _, err = env.run(["-odb", "bob@example.net"], message(23))
        expect(code == 0 and err == "", "exit %d %r" % (code, err))
        deadline = time.monotonic() + 10
        while env.entries() and time.monotonic() < deadline:
            time.sleep(0.05)
        b.wait_idle(3)
        b.stop()
        expect(bodies(b) == [wire(message(23))], "not delivered in the "
               "background")
    finally:
        env.cleanup()


def as_user(user, group, args, stdin=b"", env=None):
    """Run a command as another user (setpriv), return (code, out, err)."""
    p = subprocess.run(["setpriv", "--reuid=" + user, "--regid=" + group,
                        "--clear-groups"] + args, input=stdin,
                       capture_output=True, env=env, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def system_spool(prefix):
    """A private system-wide setup: a 1733 spool, a 0644 configuration (-C)
    whose default account queues on a free port, and the environment users
    run with.  -> (port, top, spool, conf, env); the caller removes top."""
    port = free_port()
    top = tempfile.mkdtemp(prefix=prefix)
    os.chmod(top, 0o755)
    spool = os.path.join(top, "spool")
    os.mkdir(spool)
    os.chmod(spool, 0o1733)
    conf = os.path.join(top, "msmtprc")
    with open(conf, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\n"
                "from alice@example.org\nqueue tempfail\n" % port)
    os.chmod(conf, 0o644)
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/nonexistent",
           "MSMTP_SYSTEM_QUEUE": spool}
    return port, top, spool, conf, env


def case_system_wide():
    """System-wide use without setuid: users without a home of their own
    (nobody, daemon) queue into their own 0700 directory of a root-owned
    1733 spool; none can list the spool or read another's mail; root's
    queue run serves each directory as its owner."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise Skip("needs root and setpriv")
    port, top, spool, conf, env = system_spool("msmtp-system-")
    try:
        for user, group, n in (("nobody", "nogroup", 30), ("daemon", "daemon", 31)):
            code, _, err = as_user(user, group, [MSMTP, "-C", conf, "-odq",
                                                 "bob@example.net"],
                                   message(n), env)
            expect(code == 0, "%s: exit %d %r" % (user, code, err))
        for uid in ("65534", "1"):
            d = os.path.join(spool, uid)
            st = os.stat(d)
            expect(st.st_uid == int(uid) and (st.st_mode & 0o777) == 0o700,
                   "%s: owner %d mode %o" % (d, st.st_uid, st.st_mode))
            expect(len([x for x in os.listdir(d) if x.endswith(".env")]) == 1,
                   "%s has no entry" % d)
        code, _, _ = as_user("nobody", "nogroup", ["ls", spool], env=env)
        expect(code != 0, "nobody can list the spool")
        code, _, _ = as_user("nobody", "nogroup",
                             ["sh", "-c", "cat %s/1/*" % spool], env=env)
        expect(code != 0, "nobody can read daemon's queue")
        open_spool = dict(env, HOME=top)
        os.chmod(spool, 0o1777)
        code, _, err = as_user("nobody", "nogroup", [MSMTP, "-C", conf, "-odq",
                                                     "bob@example.net"],
                               message(32), env)
        expect(code == 73 and "mode 1733" in err,
               "a listable spool was accepted: %d %r" % (code, err))
        os.chmod(spool, 0o1733)
        b = server(port, "connections 10")
        p = subprocess.run([MSMTP, "-C", conf, "--queue-run"],
                           capture_output=True, env=open_spool, timeout=60)
        b.wait_idle(3)
        b.stop()
        ids = sorted(re.search(rb"Message-ID: <(q\d+)@", x).group(1)
                     for x in bodies(b))
        expect(ids == [b"q30", b"q31"], "root's run delivered %r (%r)"
               % (ids, p.stderr))
        for uid in ("65534", "1"):
            left = os.listdir(os.path.join(spool, uid))
            expect(not [x for x in left if x.endswith(".env")],
                   "left in %s: %r" % (uid, left))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def case_concurrent_flushers():
    """Ten flushers at once over 20 queued messages: each delivered once."""
    port = free_port()
    env = Env(port)
    try:
        for i in range(20):
            code, _, err = env.run(["-odq", "bob@example.net"], message(100 + i))
            expect(code == 0, "enqueue %d: %r" % (i, err))
        b = server(port, "connections 100")
        procs = [env.run(["-q"], wait=False) for _ in range(10)]
        for p in procs:
            p.communicate(timeout=60)
        b.wait_idle(5)
        b.stop()
        ids = [re.search(rb"Message-ID: <(q\d+)@", x).group(1)
               for x in bodies(b)]
        expect(sorted(ids) == sorted(b"q%d" % (100 + i) for i in range(20)),
               "deliveries %r" % sorted(ids))
        expect(env.entries() == [], "left in queue: %r" % env.entries())
    finally:
        env.cleanup()


def queue_consistent(env):
    """Every envelope has its message; mailq parses the queue."""
    names = os.listdir(env.qdir) if os.path.isdir(env.qdir) else []
    envs = {n[:-4] for n in names if n.endswith(".env")}
    msgs = {n[:-4] for n in names if n.endswith(".msg")}
    if not envs <= msgs:
        raise Failure("envelope without message: %r" % (envs - msgs))
    code, out, err = env.run(["-bp"])
    if code != 0:
        raise Failure("mailq failed after a crash: %r" % err)
    return envs


def case_crash_safety():
    """SIGKILL at random moments while enqueueing and while flushing
    (bounded in count and time): afterwards every message is delivered or
    queued, never half-written; duplicates only from the window between
    the server's 250 and the envelope update, counted and reported."""
    port = free_port()
    env = Env(port)
    rng = random.Random(20261128)
    deadline = time.monotonic() + CRASH_BUDGET
    acknowledged = set()
    trials = 0
    try:
        half = CRASH_TRIALS // 2
        for i in range(half):
            if time.monotonic() > deadline:
                break
            body = message(1000 + i, (b"z" * 70 + b"\n") * rng.randint(0, 4000))
            p = env.run(["-odq", "bob@example.net"], wait=False)
            try:
                p.stdin.write(body)
                p.stdin.close()
            except BrokenPipeError:
                pass
            time.sleep(rng.random() * 0.02)
            p.send_signal(signal.SIGKILL)
            p.wait()
            p.stdout.close()
            p.stderr.close()
            if p.returncode == 0:
                acknowledged.add(b"q%d" % (1000 + i))
            queue_consistent(env)
            trials += 1
        queued = queue_consistent(env)
        srv = server(port, "connections 100000")
        for i in range(CRASH_TRIALS - half):
            if time.monotonic() > deadline or not env.entries():
                break
            p = env.run(["-q"], wait=False)
            p.stdin.close()
            time.sleep(rng.random() * 0.05)
            p.send_signal(signal.SIGKILL)
            p.wait()
            p.stdout.close()
            p.stderr.close()
            queue_consistent(env)
            trials += 1
        code, _, err = env.run(["-q"], timeout=120)
        srv.wait_idle(5)
        srv.stop()
        expect(env.entries() == [], "still queued after the final flush: %r"
               % env.entries())
        ids = [re.search(rb"Message-ID: <(q\d+)@", x).group(1)
               for x in bodies(srv)]
        delivered = set(ids)
        missing = acknowledged - delivered
        expect(not missing, "acknowledged but never delivered: %r" % missing)
        dups = len(ids) - len(delivered)
        print("    crash trials: %d; acknowledged %d, queued %d, delivered %d "
              "messages, %d duplicate deliveries (kill between 250 and the "
              "envelope update)" % (trials, len(acknowledged), len(queued),
                                    len(delivered), dups))
        expect(trials >= min(CRASH_TRIALS, 20), "only %d trials" % trials)
    finally:
        env.cleanup()


def case_system_wide_hostile():
    """Root's queue run serves each user's spool directory as that user
    with that user's configuration only: nobody's envelope edited to name
    root's account is not sent with root's credentials (it waits, as its
    account does not exist for nobody); daemon's entry queued with -C is
    delivered with that recorded file although root's run has no -C; root's
    mailq lists users' entries; root's own process opens nothing inside a
    user's directory."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise Skip("needs root and setpriv")
    port, top, spool, conf, env = system_spool("msmtp-hostile-")
    try:
        roothome = os.path.join(top, "root")
        os.mkdir(roothome, 0o700)
        rootrc = os.path.join(roothome, ".msmtprc")
        with open(rootrc, "w") as f:
            f.write("defaults\ntls off\nauth plain\nuser root\n"
                    "password ROOT-SECRET-pw\nfrom root@example.org\n"
                    "account rootacct\nhost 127.0.0.1\nport %d\n"
                    "account default : rootacct\n" % port)
        os.chmod(rootrc, 0o600)
        code, _, err = as_user("nobody", "nogroup", [MSMTP, "-C", conf, "-odq",
                                                     "bob@example.net"],
                               message(40), env)
        expect(code == 0, "nobody: exit %d %r" % (code, err))
        code, _, err = as_user("daemon", "daemon", [MSMTP, "-C", conf, "-odq",
                                                    "carol@example.net"],
                               message(41), env)
        expect(code == 0, "daemon: exit %d %r" % (code, err))
        ndir = os.path.join(spool, "65534")
        envf = [x for x in os.listdir(ndir) if x.endswith(".env")][0]
        edit = ("sed -i 's/^account default$/account rootacct/' %s/%s"
                % (ndir, envf))
        code, _, err = as_user("nobody", "nogroup", ["sh", "-c", edit],
                               env=env)
        expect(code == 0, "nobody could not edit its envelope: %r" % err)
        root_env = dict(env, HOME=roothome)
        code, out, _ = (lambda p: (p.returncode, p.stdout.decode(), p.stderr))(
            subprocess.run([MSMTP, "-bp"], capture_output=True, env=root_env,
                           timeout=30))
        expect(envf[:-4] in out and "empty" not in out,
               "root's mailq does not list nobody's entry: %r" % out)
        srv = server(port, "caps PIPELINING,AUTH PLAIN",
                     "auth-user root ROOT-SECRET-pw", "connections 5")
        cmd = [MSMTP, "--queue-run"]
        trace = os.path.join(top, "trace")
        if shutil.which("strace"):
            cmd = ["strace", "-o", trace, "-e",
                   "trace=open,openat,stat,lstat,newfstatat,unlink,unlinkat,"
                   "rename,renameat,renameat2"] + cmd
        p = subprocess.run(cmd, capture_output=True, env=root_env, timeout=60)
        srv.wait_idle(3)
        srv.stop()
        auths = [x for x in srv.commands() if x.startswith("AUTH")]
        expect(auths == [], "root's credentials were used: %r" % auths)
        got = bodies(srv)
        expect(len(got) == 1 and b"q41@" in got[0],
               "delivered %r (stderr %r)" % ([g[:80] for g in got], p.stderr))
        rcpts = [x for x in srv.commands() if x.startswith("RCPT")]
        expect(rcpts == ["RCPT TO:<carol@example.net>"], "sent to %r" % rcpts)
        expect([x for x in os.listdir(ndir) if x.endswith(".env")] == [envf],
               "nobody's edited entry was not kept")
        if os.path.exists(trace):
            with open(trace) as f:
                inside = [ln for ln in f if re.search(
                    re.escape(spool) + r"/\d+/", ln)]
            expect(inside == [], "root's process touched users' files: %r"
                   % inside[:3])
    finally:
        shutil.rmtree(top, ignore_errors=True)


def case_system_wide_fifo_config():
    """A user's entry naming a FIFO as its configuration (held open by a
    writer that never writes) cannot hold root's queue run: the run ends,
    the entry waits."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise Skip("needs root and setpriv")
    port, top, spool, conf, env = system_spool("msmtp-fifo-")
    holder = None
    try:
        code, _, err = as_user("nobody", "nogroup", [MSMTP, "-C", conf, "-odq",
                                                     "bob@example.net"],
                               message(42), env)
        expect(code == 0, "nobody: exit %d %r" % (code, err))
        fifo = os.path.join(top, "fifo")
        os.mkfifo(fifo, 0o666)
        holder = os.open(fifo, os.O_RDWR)
        ndir = os.path.join(spool, "65534")
        envf = [x for x in os.listdir(ndir) if x.endswith(".env")][0]
        edit = "sed -i 's|^config .*$|config %s|' %s/%s" % (fifo, ndir, envf)
        code, _, err = as_user("nobody", "nogroup", ["sh", "-c", edit],
                               env=env)
        expect(code == 0, "edit: %r" % err)
        srv = server(port, "connections 2")
        try:
            p = subprocess.run([MSMTP, "--queue-run"], capture_output=True,
                               env=dict(env, HOME=top), timeout=20)
        except subprocess.TimeoutExpired:
            raise Failure("root's queue run hung on the FIFO")
        finally:
            srv.stop()
        expect(not srv.records, "sent although the configuration is a FIFO")
        expect(b"not a regular file" in p.stderr, "stderr %r" % p.stderr)
        expect([x for x in os.listdir(ndir) if x.endswith(".env")] == [envf],
               "the entry was not kept")
    finally:
        if holder is not None:
            os.close(holder)
        shutil.rmtree(top, ignore_errors=True)


# ------------------------------------------------- trust (outcome scopes)

def conf_text(env, account, extra=""):
    """A configuration for env's queue with `account` as the default."""
    return ("defaults\nqueue tempfail\nqueue_dir %s\n%s\naccount default\n"
            "from alice@example.org\n%s\n" % (env.qdir, extra, account))


def write_conf(env, text):
    path = os.path.join(env.home, ".msmtprc")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def envelope(env, entry, sub=""):
    with open(os.path.join(env.qdir, sub, entry + ".env")) as f:
        return f.read()


def pki():
    """The test PKI (made once by run.py's helper)."""
    import run as runner
    return runner.pki_dir()


def case_session_failures_defer():
    """A queue run against a dead, unknown, bad-TLS, bad-AUTH, 530 or
    dead-proxy smarthost fails the session, not the messages: every entry
    stays queued (attempt recorded, no failure report), and once the
    account is fixed each is delivered exactly once."""
    port = free_port()
    dead = free_port()
    env = Env(port)
    d = pki()
    ca = os.path.join(d, "ca.pem")
    scenarios = [
        ("dead", "host 127.0.0.1\nport %d\n" % dead, None, "refused"),
        ("nxdomain", "host nonexistent.invalid\nport %d\n" % port, None,
         "cannot locate host"),
        ("untrusted", "host 127.0.0.1\nport %d\ntls on\ntls_trust_file %s\n"
         % (port, ca), ("starttls selfsigned",), "untrusted"),
        ("auth", "host 127.0.0.1\nport %d\ntls off\nauth plain\nuser alice\n"
         "password wrong-pw\n" % port,
         ("caps PIPELINING,AUTH PLAIN", "auth-user alice right-pw"),
         "authentication failed"),
        ("530", "host 127.0.0.1\nport %d\n" % port,
         ("reply MAIL 530 5.7.0 Authentication required", "connections 2"),
         "530"),
        ("proxy", "host 127.0.0.1\nport %d\nproxy_host 127.0.0.1\n"
         "proxy_port %d\n" % (port, dead), (), "SOCKS proxy"),
    ]
    try:
        write_conf(env, conf_text(env, "host 127.0.0.1\nport %d\n" % port,
                                  "queue_notify on"))
        for n in (60, 61):
            code, _, err = env.run(["-odq", "bob@example.net"], message(n))
            expect(code == 0, "queueing: %d %r" % (code, err))
        for name, acct, directives, why in scenarios:
            write_conf(env, conf_text(env, acct, "queue_notify on"))
            srv = server(port, *directives) if directives is not None else None
            code, _, err = env.run(["-q"])
            if srv:
                srv.wait_idle(3)
                srv.stop()
            expect(code == 0, "%s: -q exit %d %r" % (name, code, err))
            expect(len(env.entries()) == 2 and env.entries("failed") == [],
                   "%s: entries %r failed %r (%r)" % (name, env.entries(),
                                                      env.entries("failed"),
                                                      err))
            text = envelope(env, env.entries()[0])
            expect(re.search(r"rcpt pending bob@example\.net", text),
                   "%s: recipient no longer pending: %r" % (name, text))
            expect(why in text.replace("%20", " "),
                   "%s: last error not recorded: %r" % (name, text))
            if srv:
                mails = [x for x in srv.commands() if x.startswith("MAIL")]
                expect(all(not m.startswith("MAIL FROM:<>") for m in mails),
                       "%s: a failure report was sent" % name)
            if name == "proxy":
                expect(srv is not None and not srv.records,
                       "proxy: connected directly")
        write_conf(env, conf_text(env, "host 127.0.0.1\nport %d\n" % port))
        ok = server(port, "connections 3")
        code, _, err = env.run(["-q"])
        ok.wait_idle(3)
        ok.stop()
        expect(code == 0 and env.entries() == [], "fixed: %d %r %r"
               % (code, env.entries(), err))
        got = sorted(bodies(ok))
        expect(got == sorted([wire(message(60)), wire(message(61))]),
               "fixed: delivered %d messages" % len(got))
    finally:
        env.cleanup()


def case_queue_run_through_proxy():
    """Entries queued while the server was away are delivered by a queue
    run through the account's SOCKS proxy: one session (one CONNECT, by
    name, resolved by the proxy) carries both, each delivered once."""
    port = free_port()
    env = Env(port)
    proxy = fakesocks.FakeSocks5(
        script=["map smtp.proxied.test 127.0.0.1"]).start()
    try:
        for n in (70, 71):
            code, _, err = send(env, n)
            expect(code == 0 and "queued" in err, "queueing: %d %r"
                   % (code, err))
        write_conf(env, conf_text(
            env, "host smtp.proxied.test\nport %d\ntls off\n"
            "proxy_host 127.0.0.1\nproxy_port %d\n" % (port, proxy.port)))
        srv = server(port, "connections 1")
        code, _, err = env.run(["-q"])
        srv.wait_idle(3)
        srv.stop()
        expect(code == 0 and env.entries() == [], "run: %d %r %r"
               % (code, env.entries(), err))
        expect(proxy.connects == [("domain", "smtp.proxied.test", port)],
               "proxy saw %r" % proxy.connects)
        expect(proxy.errors == [], "proxy errors %r" % proxy.errors)
        got = sorted(bodies(srv))
        expect(got == sorted([wire(message(70)), wire(message(71))]),
               "delivered %d messages" % len(got))
    finally:
        proxy.stop()
        env.cleanup()


def case_partial_success_not_resent():
    """queue tempfail with partial delivery (SMTP partial_delivery, LMTP,
    and queue always): the recipients the server accepted are recorded
    when the message is queued and never sent again."""
    port = free_port()
    variants = [
        ("smtp", "partial_delivery on",
         ("reply-rcpt carol@example.net 450 4.2.0 mailbox busy",)),
        ("always", "partial_delivery on\nqueue always",
         ("reply-rcpt carol@example.net 450 4.2.0 mailbox busy",)),
        ("lmtp", "protocol lmtp", ("reply EOD#2 452 4.2.2 mailbox full",)),
    ]
    for name, extra, directives in variants:
        env = Env(port, extra=extra)
        try:
            a = server(port, *directives)
            code, _, err = send(env, 70, ("bob@example.net",
                                          "carol@example.net"))
            a.wait_idle(3)
            a.stop()
            expect(code == 0 and "queued" in err, "%s: exit %d %r"
                   % (name, code, err))
            expect(len(bodies(a)) == 1, "%s: first attempt did not deliver"
                   % name)
            text = envelope(env, env.entries()[0])
            expect("rcpt delivered bob@example.net" in text
                   and "rcpt pending carol@example.net" in text,
                   "%s: envelope %r" % (name, text))
            b = server(port)
            env.run(["-q"])
            b.wait_idle(3)
            b.stop()
            rcpts = [x for x in b.commands() if x.startswith("RCPT")]
            expect(rcpts == ["RCPT TO:<carol@example.net>"],
                   "%s: retried %r" % (name, rcpts))
            expect(env.entries() == [], "%s: queue not empty" % name)
        finally:
            env.cleanup()


def case_maybe_delivered_kept():
    """A 221 to the end of data is not a success: with queue tempfail the
    message is kept, flagged as a possible duplicate, and the caller gets
    0 with a note (it is durably queued)."""
    port = free_port()
    env = Env(port)
    try:
        a = server(port, "reply EOD 221 2.0.0 bye")
        code, _, err = send(env, 80)
        a.stop()
        expect(code == 0 and "queued" in err and "may have been delivered"
               in err, "exit %d %r" % (code, err))
        expect(len(env.entries()) == 1, "not kept")
        code, out, _ = env.run(["-bp"])
        expect("may already have been delivered once" in out, "mailq %r" % out)
    finally:
        env.cleanup()


def case_missing_account_expires():
    """An entry whose account was removed from the configuration is kept
    (with a warning) until the defaults' queue_lifetime, then fails."""
    port = free_port()
    env = Env(port)
    try:
        write_conf(env, conf_text(env, "host 127.0.0.1\nport %d\n" % port))
        code, _, err = env.run(["-odq", "bob@example.net"], message(90))
        expect(code == 0, "queueing %d %r" % (code, err))
        gone = ("defaults\nqueue tempfail\nqueue_dir %s\nqueue_lifetime 1s\n"
                "account other\nhost 127.0.0.1\nport %d\n"
                "from alice@example.org\n" % (env.qdir, port))
        write_conf(env, gone.replace("queue_lifetime 1s", "queue_lifetime 1h"))
        code, _, err = env.run(["-q"])
        expect(len(env.entries()) == 1 and "no longer exists" in err,
               "before expiry: %r %r" % (env.entries(), err))
        write_conf(env, gone)
        time.sleep(2.2)
        code, _, err = env.run(["-q"])
        expect(env.entries() == [] and len(env.entries("failed")) == 1,
               "after expiry: %r %r %r" % (env.entries(),
                                           env.entries("failed"), err))
        expect("no longer exists" in envelope(env, env.entries("failed")[0],
                                              "failed").replace("%20", " "),
               "reason not recorded")
    finally:
        env.cleanup()


def case_flush_summary():
    """-q says in one line on stderr when messages are still waiting;
    --queue-run stays quiet and writes each attempt to the log file."""
    port = free_port()
    env = Env(port)
    log = os.path.join(env.home, "q.log")
    try:
        write_conf(env, conf_text(env, "host 127.0.0.1\nport %d\n" % port,
                                  "logfile %s" % log))
        env.run(["-odq", "bob@example.net"], message(91))
        a = server(port, "reply MAIL 451 4.3.0 later", "connections 2")
        code, _, err = env.run(["-q"])
        expect(code == 0 and re.search(r"^msmtp: queue run: 0 delivered, 0 "
                                       r"failed, 1 still queued", err, re.M),
               "-q: %d %r" % (code, err))
        code, _, err = env.run(["--queue-retry=" + env.entries()[0]])
        code, _, err = env.run(["--queue-run"])
        a.stop()
        expect(code == 0 and err == "", "--queue-run: %d %r" % (code, err))
        with open(log) as f:
            lines = f.read().splitlines()
        expect(len(lines) == 3 and "queued=" in lines[0]
               and all("smtpstatus=451" in ln and "exitcode=EX_TEMPFAIL" in ln
                       for ln in lines[1:]), "log %r" % lines)
    finally:
        env.cleanup()


def case_no_fixed_limits():
    """A failover account name of 300 bytes and 70 queue directories work
    (no silent cut at 255 bytes or 64 directories)."""
    port = free_port()
    dead = free_port()
    long_name = "backup-" + "x" * 293
    env = Env(port, accounts=(
        "account main\nhost 127.0.0.1\nport %d\nfrom alice@example.org\n"
        "failover %s\naccount %s\nhost 127.0.0.1\nport %d\n"
        "from alice@example.org\naccount default : main\n"
        % (dead, long_name, long_name, port)))
    try:
        a = server(port)
        code, _, err = send(env, 92)
        a.wait_idle(3)
        a.stop()
        expect(code == 0 and len(bodies(a)) == 1, "long failover name: %d %r"
               % (code, err))
    finally:
        env.cleanup()
    env = Env(port, accounts="x")
    try:
        accts = "".join(
            "account a%d\nhost 127.0.0.1\nport %d\nfrom alice@example.org\n"
            "queue tempfail\nqueue_dir %s/q%d\n" % (i, port, env.home, i)
            for i in range(70))
        write_conf(env, accts)
        for i in range(70):
            code, _, err = env.run(["-a", "a%d" % i, "-odq", "bob@example.net"],
                                   message(1000 + i))
            expect(code == 0, "queueing a%d: %d %r" % (i, code, err))
        b = server(port, "connections 80")
        code, _, err = env.run(["-q"])
        b.wait_idle(3)
        b.stop()
        expect(len(bodies(b)) == 70, "-q delivered %d of 70 (%r)"
               % (len(bodies(b)), err))
    finally:
        env.cleanup()


def case_stray_reply_ends_session():
    """A server that sends more than the reply to the end of data (here a
    second 250) would have its extra bytes taken as the replies to the
    next message's commands: the run ends the session there; the first
    message counts as delivered, the next one waits (not failed)."""
    port = free_port()
    env = Env(port)
    try:
        for n in (95, 96):
            env.run(["-odq", "bob@example.net"], message(n))
        a = server(port, r"inject-after EOD 250 2.0.0 stray\r\n",
                   "ignore-client-errors")
        code, _, err = env.run(["-q"])
        a.wait_idle(3)
        a.stop()
        expect(len(bodies(a)) == 1, "delivered %d" % len(bodies(a)))
        expect(len(env.entries()) == 1 and env.entries("failed") == [],
               "entries %r failed %r" % (env.entries(), env.entries("failed")))
        expect("nobody asked for" in envelope(env, env.entries()[0])
               .replace("%20", " "), "reason not recorded")
    finally:
        env.cleanup()


def case_utf8_local_part_fails_in_run():
    """A UTF-8 local part for a server without SMTPUTF8 cannot be sent at
    all: in a queue run the entry fails (failed/), it is not retried."""
    port = free_port()
    env = Env(port)
    try:
        code, _, err = env.run(["-odq", "j\u00fcrgen@example.net"], message(97))
        expect(code == 0, "queueing %d %r" % (code, err))
        a = server(port, "caps PIPELINING,8BITMIME,SIZE 10240000")
        code, _, err = env.run(["-q"])
        a.stop()
        expect(env.entries() == [] and len(env.entries("failed")) == 1,
               "entries %r failed %r (%r)" % (env.entries(),
                                              env.entries("failed"), err))
        expect(not [c for c in a.commands() if c.startswith("MAIL")],
               "MAIL was sent: %r" % a.commands())
    finally:
        env.cleanup()


def fsync_count(trace):
    """fsync/fdatasync calls in an strace -f -o file (one line each,
    "resumed" halves of interrupted calls not counted twice)."""
    with open(trace) as f:
        return sum(1 for ln in f if re.search(r"\b(fsync|fdatasync)\(", ln)
                   and "resumed>" not in ln)


def traced_flush(env, trace):
    """msmtp -q in env under strace -f, recording fsync and fdatasync.
    (LeakSanitizer cannot run under ptrace: off for this run alone.)"""
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": env.home, "LC_ALL": "C",
               "XDG_STATE_HOME": os.path.join(env.home, "state"),
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "")
               + ":detect_leaks=0"}
    if "UBSAN_OPTIONS" in os.environ:
        run_env["UBSAN_OPTIONS"] = os.environ["UBSAN_OPTIONS"]
    return subprocess.run(
        ["strace", "-f", "-qq", "-o", trace, "-e", "trace=fsync,fdatasync",
         MSMTP, "-q"], capture_output=True, timeout=60, env=run_env)


def case_flush_fsyncs_per_message():
    """Durability is not traded for speed: a queue run makes exactly one
    fsync per delivered entry (the queue directory after the envelope is
    unlinked, before the message file goes) and two per deferred entry
    (its new envelope, then the directory), the counts measured before
    the queue-run speed work; counted with strace for 1, 5 and 3."""
    if shutil.which("strace") is None or os.environ.get("MSMTP_WRAPPER"):
        raise Skip("needs strace and the bare binary")
    port = free_port()
    env = Env(port)
    try:
        counts = {}
        for n in (1, 5):
            for i in range(n):
                env.run(["-odq", "bob@example.net"], message(200 + i))
            a = server(port, "connections 2")
            trace = os.path.join(env.home, "trace%d" % n)
            p = traced_flush(env, trace)
            a.wait_idle(3)
            a.stop()
            expect(p.returncode == 0, "flush exit %d %r" % (p.returncode,
                                                             p.stderr))
            expect(len(bodies(a)) == n and env.entries() == [],
                   "delivered %d of %d" % (len(bodies(a)), n))
            counts[n] = fsync_count(trace)
        expect(counts == {1: 1, 5: 5}, "fsyncs per run %r (want 1 per "
               "delivered entry)" % counts)
        for i in range(3):
            env.run(["-odq", "bob@example.net"], message(210 + i))
        a = server(port, "reply MAIL 451 4.3.0 later", "connections 2")
        trace = os.path.join(env.home, "trace-deferred")
        traced_flush(env, trace)
        a.stop()
        expect(len(env.entries()) == 3, "entries %r" % env.entries())
        got = fsync_count(trace)
        expect(got == 6, "fsyncs for 3 deferred entries: %d, want 6" % got)
    finally:
        env.cleanup()


CASES = [
    case_tempfail_then_flush, case_partial_recipients,
    case_permanent_failure_goes_to_failed, case_notify,
    case_queue_off_and_permanent,
    case_odq_and_queue_always, case_backoff_retry_remove, case_expiry,
    case_failover, case_bad_queue_dir, case_disk_full,
    case_one_session_per_account, case_odb_background, case_system_wide,
    case_opportunistic_flush,
    case_system_wide_hostile, case_system_wide_fifo_config,
    case_session_failures_defer, case_queue_run_through_proxy,
    case_partial_success_not_resent,
    case_maybe_delivered_kept, case_missing_account_expires,
    case_flush_summary, case_no_fixed_limits, case_stray_reply_ends_session,
    case_utf8_local_part_fails_in_run, case_flush_fsyncs_per_message,
    case_concurrent_flushers, case_crash_safety,
]


def main():
    global MSMTP
    MSMTP = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MSMTP")
    if not MSMTP or not os.access(MSMTP, os.X_OK):
        print("SKIP: binary not built")
        return 77
    MSMTP = wrapped(MSMTP)
    return run_cases(CASES, sys.argv[2:])



# ---- untrusted envelopes (helper C) --------------------------------------

def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def queue_one(env, n):
    """-odq one message; its id."""
    code, _, err = env.run(["-odq", "bob@example.net"], message(n))
    expect(code == 0, "enqueue exit %d %r" % (code, err))
    ids = env.entries()
    expect(len(ids) == 1, "entries %r" % ids)
    return ids[0]


def expect_invalid_in_failed(env, qid, what, kind="invalid%20envelope:"):
    """The entry left the queue for failed/: its raw envelope kept as
    ID.env.invalid, a stub ID.env with the reason, the message moved."""
    expect(env.entries() == [], "still queued: %r" % env.entries())
    failed = os.path.join(env.qdir, "failed")
    names = sorted(os.listdir(failed)) if os.path.isdir(failed) else []
    expect(names == [qid + ".env", qid + ".env.invalid", qid + ".msg"],
           "failed/ holds %r" % names)
    stub = read_bytes(os.path.join(failed, qid + ".env")).decode()
    expect(kind in stub and what in stub,
           "reason not recorded: %r" % stub)


def case_edited_id_outside_queue():
    """An edited envelope `id ../x`, with ../x.env and ../x.msg planted
    next to the queue: -q sends nothing, deletes nothing outside the
    queue, and the entry is in failed/ as an invalid envelope, listed by
    mailq."""
    port = free_port()
    env = Env(port)
    try:
        qid = queue_one(env, 60)
        path = os.path.join(env.qdir, qid + ".env")
        edited = read_bytes(path).replace(b"id %s\n" % qid.encode(),
                                          b"id ../x\n")
        write_bytes(path, edited)
        outside = {os.path.join(env.home, "x.env"): edited,
                   os.path.join(env.home, "x.msg"): message(61)}
        for p, data in outside.items():
            write_bytes(p, data)
        srv = server(port, "connections 5")
        code, _, err = env.run(["-q"])
        srv.wait_idle(3)
        srv.stop()
        expect(not srv.records, "connected and sent %r" % bodies(srv))
        for p, data in outside.items():
            expect(os.path.exists(p) and read_bytes(p) == data,
                   "%s was touched" % p)
        expect(code == 0, "-q exit %d %r" % (code, err))
        expect_invalid_in_failed(env, qid, "is%20not%20a%20queue%20id")
        code, out, err = env.run(["-bp"])
        expect(code == 0 and re.search(r"^%s  failed .*invalid envelope: .*"
                                       r"is not a queue id" % qid, out, re.M)
               and "Mail queue is empty" not in out,
               "-bp does not list the failed entry: %d %r %r"
               % (code, out, err))
    finally:
        env.cleanup()


def case_huge_queue_times():
    """`queued 99999999999999999999` and `queued -99999999999999999999`:
    -bp exits cleanly (no overflow, no sanitizer report) and lists the
    entry among the failed ones with the reason."""
    port = free_port()
    for n, value, what in ((62, b"99999999999999999999", "queued%20out%20of"),
                           (63, b"-99999999999999999999", "queued%20is%20negative")):
        env = Env(port)
        try:
            qid = queue_one(env, n)
            path = os.path.join(env.qdir, qid + ".env")
            text = re.sub(rb"(?m)^queued .*$", b"queued " + value,
                          read_bytes(path))
            write_bytes(path, text)
            code, out, err = env.run(["-bp"])
            expect(code == 0 and "runtime error" not in err and err == "",
                   "-bp with queued %s: exit %d %r" % (value, code, err))
            expect(re.search(r"^%s  failed .*invalid envelope: .*queued"
                             % qid, out, re.M) and "pending" not in out,
                   "-bp does not list it as failed: %r" % out)
            expect_invalid_in_failed(env, qid, what)
        finally:
            env.cleanup()


def case_symlinked_message():
    """ID.msg replaced by a link to a file of the user's (think
    /etc/passwd under root's run): -q neither sends nor deletes what it
    points to; the link itself goes to failed/."""
    port = free_port()
    env = Env(port)
    try:
        qid = queue_one(env, 64)
        secret = os.path.join(env.home, "secret.eml")
        write_bytes(secret, message(65))
        link = os.path.join(env.qdir, qid + ".msg")
        os.unlink(link)
        os.symlink(secret, link)
        srv = server(port, "connections 5")
        code, _, err = env.run(["-q"])
        srv.wait_idle(3)
        srv.stop()
        expect(not srv.records, "connected and sent %r" % bodies(srv))
        expect(read_bytes(secret) == message(65), "the target was touched")
        expect(code == 0, "-q exit %d %r" % (code, err))
        expect_invalid_in_failed(env, qid, "not%20a%20regular%20file",
                                 "invalid%20entry:")
        expect(os.path.islink(os.path.join(env.qdir, "failed", qid + ".msg")),
               "the link was not moved as a link")
    finally:
        env.cleanup()


CASES += [case_edited_id_outside_queue, case_huge_queue_times,
          case_symlinked_message]


# ---- machine-readable listing and log (helper H) ------------------------

import json  # noqa: E402
import calendar  # noqa: E402

ENTRY_KEYS = {"id", "state", "queue", "account", "sender", "recipients",
              "size", "queued", "attempts", "next_attempt", "last_error",
              "maybe_duplicate"}


def run_named(env, argv0, args, stdin=b""):
    """env.run, but with argv[0] = argv0 (e.g. "mailq")."""
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": env.home,
         "LC_ALL": "C", "XDG_STATE_HOME": os.path.join(env.home, "state")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    p = subprocess.run([argv0] + args, executable=named(MSMTP, argv0),
                       input=stdin,
                       capture_output=True, env=e, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def json_lines(out, what):
    """Every line of out parsed as a JSON object (nothing else allowed)."""
    expect(out == "" or out.endswith("\n"), "%s: no final newline: %r"
           % (what, out))
    objs = []
    for line in out.splitlines():
        try:
            obj = json.loads(line)
        except ValueError as ex:
            raise Failure("%s: not JSON (%s): %r" % (what, ex, line))
        expect(isinstance(obj, dict), "%s: not an object: %r" % (what, line))
        objs.append(obj)
    return objs


def rfc3339(text):
    """Seconds since the epoch of an RFC 3339 UTC time "...Z"."""
    expect(isinstance(text, str) and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), "not RFC 3339: %r" % text)
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def case_mailq_json():
    """mailq --json and -bp --json: one JSON object per line and entry,
    typed fields (recipients with their state and reply, RFC 3339 times),
    a failed/ entry with state "failed"; nothing at all for an empty
    queue; --json with any other mode is a usage error (64)."""
    port = free_port()
    env = Env(port, extra="queue_backoff 1h")
    try:
        code, out, err = env.run(["-bp", "--json"])
        expect((code, out, err) == (0, "", ""), "empty queue: %d %r %r"
               % (code, out, err))
        t0 = int(time.time())
        a = server(port, "reply MAIL 451 4.3.0 later", "connections 2")
        send(env, 50, ("bob@example.net", "carol@example.net"))
        send(env, 51, ("dave@example.net",))
        a.stop()
        ids = env.entries()
        expect(len(ids) == 2, "entries %r" % ids)
        b = server(port, "connections 3",
                   "reply-rcpt carol@example.net 450 4.2.0 mailbox busy",
                   "reply-rcpt dave@example.net 550 5.1.1 no such user")
        env.run(["-q"])
        b.wait_idle(3)
        b.stop()
        t1 = int(time.time())
        expect(env.entries() == [ids[0]] and env.entries("failed") == [ids[1]],
               "queue %r failed %r" % (env.entries(), env.entries("failed")))
        code, out, err = env.run(["-bp", "--json"])
        expect(code == 0 and err == "", "-bp --json: %d %r" % (code, err))
        objs = json_lines(out, "-bp --json")
        expect(len(objs) == 2, "%d objects: %r" % (len(objs), out))
        for o in objs:
            expect(set(o) == ENTRY_KEYS, "keys %r" % sorted(o))
            expect(o["queue"] == env.qdir, "queue %r" % o["queue"])
            expect(o["account"] == "default", "account %r" % o["account"])
            expect(o["sender"] == "alice@example.org", "sender %r" % o["sender"])
            expect(o["maybe_duplicate"] is False, "maybe_duplicate %r"
                   % o["maybe_duplicate"])
            expect(t0 - 1 <= rfc3339(o["queued"]) <= t1 + 1,
                   "queued %r" % o["queued"])
            expect(type(o["attempts"]) is int and o["attempts"] >= 1,
                   "attempts %r" % o["attempts"])
            for r in o["recipients"]:
                expect(set(r) == {"address", "state", "reply"}, "rcpt %r" % r)
        q, f = objs
        expect(q["id"] == ids[0] and q["state"] == "queued", "first %r" % q)
        data = read_bytes(os.path.join(env.qdir, ids[0] + ".msg"))
        expect(q["size"] == len(data) + data.count(b"\n"),   # CRLF on the wire
               "size %r, file %d bytes" % (q["size"], len(data)))
        expect([(r["address"], r["state"]) for r in q["recipients"]]
               == [("bob@example.net", "delivered"),
                   ("carol@example.net", "pending")], "rcpts %r"
               % q["recipients"])
        expect("450 4.2.0 mailbox busy" in q["recipients"][1]["reply"],
               "carol's reply %r" % q["recipients"][1]["reply"])
        expect(rfc3339(q["next_attempt"]) >= t1 + 1800, "next_attempt %r"
               % q["next_attempt"])
        expect(isinstance(q["last_error"], str) and "450" in q["last_error"],
               "last_error %r" % q["last_error"])
        expect(f["id"] == ids[1] and f["state"] == "failed", "second %r" % f)
        expect(f["next_attempt"] is None, "failed next_attempt %r"
               % f["next_attempt"])
        expect([(r["address"], r["state"]) for r in f["recipients"]]
               == [("dave@example.net", "failed")], "failed rcpts %r"
               % f["recipients"])
        expect("550 5.1.1 no such user" in f["recipients"][0]["reply"],
               "dave's reply %r" % f["recipients"][0]["reply"])
        code, out2, err = run_named(env, "mailq", ["--json"])
        expect(code == 0 and err == "", "mailq --json: %d %r" % (code, err))
        expect(json_lines(out2, "mailq --json") == objs,
               "mailq --json differs: %r" % out2)
        code, text, _ = env.run(["-bp"])
        expect(code == 0 and not text.startswith("{"), "-bp became JSON")
        for args in (["-q", "--json"], ["--json", "bob@example.net"],
                     ["-P", "--json"]):
            c = server(port)
            code, out, err = env.run(args, message(52))
            c.stop()
            expect(code == 64 and out == "" and "--json" in err
                   and not c.records, "%r: %d %r %r" % (args, code, out, err))
        expect(len(env.entries()) == 1, "a refused --json run queued")
    finally:
        env.cleanup()


def case_mailq_json_system_wide():
    """Root's mailq --json lists every user's spool directory (each
    listed by a child that became its owner): one object per entry, with
    the directory it is in."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise Skip("needs root and setpriv")
    port, top, spool, conf, env = system_spool("msmtp-json-")
    try:
        for user, group, n in (("nobody", "nogroup", 60),
                               ("daemon", "daemon", 61)):
            code, _, err = as_user(user, group, [MSMTP, "-C", conf, "-odq",
                                                 "bob@example.net"],
                                   message(n), env)
            expect(code == 0, "%s: exit %d %r" % (user, code, err))
        want = {}
        for uid in ("65534", "1"):
            d = os.path.join(spool, uid)
            want[d] = sorted(x[:-4] for x in os.listdir(d)
                             if x.endswith(".env"))
        p = subprocess.run([MSMTP, "-C", conf, "-bp", "--json"],
                           capture_output=True, timeout=60,
                           env=dict(env, HOME=top))
        err = p.stderr.decode(errors="replace")
        expect(p.returncode == 0 and err == "", "exit %d %r"
               % (p.returncode, err))
        objs = json_lines(p.stdout.decode(errors="replace"), "root's listing")
        got = {}
        for o in objs:
            expect(set(o) == ENTRY_KEYS, "keys %r" % sorted(o))
            expect(o["state"] == "queued" and o["attempts"] == 0
                   and o["sender"] == "alice@example.org"
                   and [r["address"] for r in o["recipients"]]
                   == ["bob@example.net"], "entry %r" % o)
            got.setdefault(o["queue"], []).append(o["id"])
        expect({k: sorted(v) for k, v in got.items()} == want,
               "listed %r, queued %r" % (got, want))
    finally:
        shutil.rmtree(top, ignore_errors=True)


LOG_KEYS = ["time", "account", "host", "socket", "tls", "auth", "user",
            "from", "recipients", "size", "smtp_status", "smtp_reply",
            "error", "exit_code", "queue_id"]


def case_logfile_json():
    """logfile_format json: each delivery record is one JSON object per
    line, read back here with a JSON parser: a message queued after a
    451 (its queue id), one delivered directly (its size), the queued one
    delivered by -q, one refused (the error and exit code name)."""
    port = free_port()
    env = Env(port)
    try:
        log = os.path.join(env.home, "msmtp.log")
        write_conf(env, "defaults\nqueue tempfail\nqueue_dir %s\nlogfile %s\n"
                   "logfile_format json\naccount default\nhost 127.0.0.1\n"
                   "port %d\nfrom alice@example.org\n" % (env.qdir, log, port))
        t0 = int(time.time())
        a = server(port, "reply MAIL 451 4.3.0 try again later")
        code, _, err = send(env, 70)
        a.stop()
        expect(code == 0 and len(env.entries()) == 1, "queue: %d %r"
               % (code, err))
        qid = env.entries()[0]
        b = server(port, "connections 3")
        code, _, err = send(env, 71)
        expect(code == 0, "direct send: %d %r" % (code, err))
        code, _, err = env.run(["-q"])
        b.wait_idle(3)
        b.stop()
        expect(code == 0 and env.entries() == [], "flush: %d %r %r"
               % (code, err, env.entries()))
        c = server(port, "reply-rcpt bob@example.net 550 5.1.1 no such user")
        code, _, err = send(env, 72)
        c.stop()
        expect(code == 65, "refused: %d %r" % (code, err))
        t1 = int(time.time())
        recs = json_lines(read_bytes(log).decode("utf-8"), "the log")
        expect(len(recs) == 4, "%d records: %r" % (len(recs), recs))
        for r in recs:
            expect(list(r) == LOG_KEYS, "keys %r" % list(r))
            expect(t0 - 1 <= rfc3339(r["time"]) <= t1 + 1, "time %r" % r["time"])
            expect((r["account"], r["host"], r["socket"], r["tls"], r["auth"],
                    r["user"], r["from"], r["recipients"])
                   == ("default", "127.0.0.1", None, False, False, None,
                       "alice@example.org", ["bob@example.net"]),
                   "record %r" % r)
            expect(type(r["smtp_status"]) is int
                   and isinstance(r["smtp_reply"], str)
                   and r["smtp_reply"].startswith(str(r["smtp_status"])),
                   "status %r reply %r" % (r["smtp_status"], r["smtp_reply"]))
        queued, direct, flushed, refused = recs
        expect(queued["queue_id"] == qid, "queue_id %r, queued as %s"
               % (queued["queue_id"], qid))
        expect((queued["exit_code"], queued["size"], queued["smtp_status"])
               == ("EX_OK", None, 451) and "451 4.3.0" in queued["error"],
               "queued %r" % queued)
        for r in (direct, flushed):
            expect(r["exit_code"] == "EX_OK" and r["error"] is None
                   and r["queue_id"] is None and r["smtp_status"] == 250
                   and type(r["size"]) is int and r["size"] > 0,
                   "delivered %r" % r)
        expect(refused["exit_code"] == "EX_DATAERR" and refused["size"] is None
               and refused["queue_id"] is None
               and "550 5.1.1 no such user" in refused["error"],
               "refused %r" % refused)
    finally:
        env.cleanup()


CASES += [case_mailq_json, case_mailq_json_system_wide, case_logfile_json]


# ---- local attackers against the system-wide spool (helper L) -----------
#
# Users (nobody, daemon, bin) attack their own spool directory, the spool
# itself and root's queue run.  Every case checks what an attack must never
# achieve: a message sent that is not its owner's own (the marker of
# SECRET on the wire), a file outside the user's queue directory read,
# changed or removed, root's own process touching anything in a user's
# directory (strace on root's pid alone: %file syscalls naming
# SPOOL/UID or below), a hang; and that the entry or directory is reported
# clearly (failed/ with a reason, root's -bp, or the user's error).

SECRET = (b"From: root@example.org\nTo: eve@example.com\n"
          b"Subject: ROOT-ONLY-SECRET\n\nnot for anyone\n")
MARKER = b"ROOT-ONLY-SECRET"
USERS = {"nobody": ("nogroup", 65534), "daemon": ("daemon", 1),
         "bin": ("bin", 2)}


class Spool:
    """system_spool() with a root HOME, a server log, and the attacks'
    helpers.  Root runs with HOME=top/root (no configuration: it serves
    the users' directories only)."""

    def __init__(self, prefix):
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            raise Skip("needs root and setpriv")
        self.port, self.top, self.spool, self.conf, self.env = \
            system_spool(prefix)
        self.root = os.path.join(self.top, "root")
        os.mkdir(self.root, 0o700)
        self.secret = os.path.join(self.top, "secret.eml")
        write_bytes(self.secret, SECRET)
        os.chmod(self.secret, 0o644)    # readable by every user
        self.traces = 0

    def udir(self, user):
        return os.path.join(self.spool, str(USERS[user][1]))

    def sh(self, user, script):
        """A shell command as the user; its exit status."""
        code, _, err = as_user(user, USERS[user][0], ["sh", "-c", script],
                               env=self.env)
        return code, err

    def enqueue(self, user, n, rcpt="bob@example.net"):
        """-odq message(n) as the user: (exit, stderr, new ids)."""
        before = set(self.ids(user))
        code, _, err = as_user(user, USERS[user][0],
                               [MSMTP, "-C", self.conf, "-odq", rcpt],
                               message(n), self.env)
        return code, err, sorted(set(self.ids(user)) - before)

    def queue(self, user, n, rcpt="bob@example.net"):
        code, err, new = self.enqueue(user, n, rcpt)
        expect(code == 0 and len(new) == 1, "%s could not queue: %d %r %r"
               % (user, code, err, new))
        return new[0]

    def ids(self, user, sub=""):
        d = os.path.join(self.udir(user), sub)
        if not os.path.isdir(d) or os.path.islink(d):
            return []
        return sorted(x[:-4] for x in os.listdir(d) if x.endswith(".env"))

    def path(self, user, name, sub=""):
        return os.path.join(self.udir(user), sub, name)

    def root_run(self, args, timeout=60):
        """root's msmtp ARGS under strace (root's pid only, not the
        per-user children): (exit, stdout, stderr).  Fails the case when
        root's process named anything inside a user's directory."""
        self.traces += 1
        trace = os.path.join(self.top, "trace.%d" % self.traces)
        cmd = [MSMTP] + args
        env = dict(self.env, HOME=self.root)
        if shutil.which("strace"):
            cmd = ["strace", "-o", trace, "-e", "trace=%file"] + cmd
            # LeakSanitizer cannot work under ptrace (sanitizer builds)
            env["ASAN_OPTIONS"] = ":".join(
                x for x in (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0")
                if x)
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=timeout,
                               env=env)
        except subprocess.TimeoutExpired:
            raise Failure("root's %r hung" % args)
        if os.path.exists(trace):
            inside = re.compile(re.escape(self.spool.encode())
                                + rb"/[1-9][0-9]*(/|\")")
            with open(trace, "rb") as f:
                bad = [ln for ln in f if inside.search(ln)]
            expect(bad == [], "root's own process touched a user's "
                   "directory: %r" % bad[:3])
        return (p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace"))

    def run_queue(self, *directives, args=("--queue-run",)):
        """A server, root's queue run, the server's bodies and commands."""
        srv = server(self.port, "connections 50", *directives)
        try:
            code, out, err = self.root_run(list(args))
            srv.wait_idle(3)
        finally:
            srv.stop()
        got = bodies(srv)
        expect(not [b for b in got if MARKER in b],
               "the secret was sent (stderr %r)" % err)
        return code, err, got, srv.commands()

    def expect_failed(self, user, qid, words):
        """The entry left the user's queue for failed/, with a reason
        holding `words`; root's -bp lists it there."""
        expect(qid not in self.ids(user), "%s's %s still queued" % (user, qid))
        expect(qid in self.ids(user, "failed"), "%s's %s not in failed/: %r"
               % (user, qid, os.listdir(self.udir(user))))
        stub = read_bytes(self.path(user, qid + ".env", "failed")).decode()
        expect(words.replace(" ", "%20") in stub, "reason %r" % stub)
        code, out, err = self.root_run(["-bp"])
        expect(code == 0 and re.search(r"^%s  failed .*%s" % (
            qid, re.escape(words)), out, re.M),
            "root's -bp does not show why %s failed: %r %r" % (qid, out, err))

    def expect_secret_intact(self):
        expect(read_bytes(self.secret) == SECRET, "the secret file changed")

    def cleanup(self):
        shutil.rmtree(self.top, ignore_errors=True)


def wanted(got, *ns):
    """The Message-ID numbers of the bodies received, sorted."""
    ids = sorted(int(re.search(rb"Message-ID: <q(\d+)@", b).group(1))
                 for b in got)
    expect(ids == sorted(ns), "delivered %r, expected %r" % (ids, sorted(ns)))


def case_local_hard_links():
    """A hard link to a file of root's (readable by all) as nobody's
    ID.msg, and one to a valid-looking envelope of root's (recipient eve)
    as nobody's ID.env - what a user can make where protected_hardlinks
    is off; made here by root: neither is read or sent (before the fix
    the run sent root's file and mailed eve), both go to failed/ as
    "owned by another user", root's files stay; daemon's own entry is
    delivered as usual."""
    sp = Spool("msmtp-hardlink-")
    try:
        a = sp.queue("nobody", 80)
        b = sp.queue("nobody", 81)
        c = sp.queue("daemon", 82)
        os.unlink(sp.path("nobody", a + ".msg"))
        os.link(sp.secret, sp.path("nobody", a + ".msg"))
        evil = os.path.join(sp.top, "evil.env")
        text = read_bytes(sp.path("nobody", b + ".env")).replace(
            b"rcpt pending bob@example.net", b"rcpt pending eve@example.com")
        write_bytes(evil, text)
        os.chmod(evil, 0o644)
        os.unlink(sp.path("nobody", b + ".env"))
        os.link(evil, sp.path("nobody", b + ".env"))
        code, err, got, cmds = sp.run_queue()
        expect(code == 0, "run exit %d %r" % (code, err))
        wanted(got, 82)
        expect("RCPT TO:<eve@example.com>" not in cmds, "eve was mailed")
        sp.expect_secret_intact()
        expect(read_bytes(evil) == text and os.stat(evil).st_uid == 0,
               "root's envelope changed")
        sp.expect_failed("nobody", a, "the message file is owned by another "
                         "user")
        sp.expect_failed("nobody", b, "invalid envelope: owned by another "
                         "user")
        expect(sp.ids("daemon") == [] and c not in sp.ids("daemon", "failed"),
               "daemon's entry: %r" % os.listdir(sp.udir("daemon")))
    finally:
        sp.cleanup()


def case_local_fifos():
    """FIFOs (held open by no writer, or by a writer that never writes)
    as nobody's ID.env, as its ID.msg, as entries of its tmp/, and as
    daemon's whole spool directory: root's run and -bp end, nothing is
    sent but nobody's own good message, the FIFO entries are in failed/
    as "not a regular file", root's -bp names daemon's FIFO, and daemon
    is told why it cannot queue."""
    sp = Spool("msmtp-fifos-")
    holders = []
    try:
        a = sp.queue("nobody", 83)
        b = sp.queue("nobody", 84)
        for name in (a + ".env", b + ".msg"):
            p = sp.path("nobody", name)
            os.unlink(p)
            os.mkfifo(p, 0o600)
            os.chown(p, 65534, 65534)
        holders.append(os.open(sp.path("nobody", b + ".msg"), os.O_RDWR))
        code, err = sp.sh("nobody", "mkfifo %s %s" % (
            sp.path("nobody", "x.env.1", "tmp"),
            sp.path("nobody", "20260101000000-1-00000001.msg", "tmp")))
        expect(code == 0, "nobody's mkfifo in tmp/: %r" % err)
        good = sp.queue("nobody", 85)
        code, err = sp.sh("daemon", "mkfifo -m 600 %s" % sp.udir("daemon"))
        expect(code == 0, "daemon's mkfifo: %r" % err)
        code, err, _ = sp.enqueue("daemon", 86)
        expect(code == 73 and "is not a directory" in err,
               "daemon queued into a FIFO: %d %r" % (code, err))
        code, err, got, _ = sp.run_queue()
        wanted(got, 85)
        expect(good not in sp.ids("nobody"), "nobody's good entry kept")
        sp.expect_failed("nobody", a, "invalid envelope: not a regular file")
        sp.expect_failed("nobody", b, "the message file is not a regular file")
        code, out, err = sp.root_run(["-bp"])
        expect(code == 0 and re.search(r"%s is not a directory .*not served"
                                       % re.escape(sp.udir("daemon")), err),
               "root's -bp does not name daemon's FIFO: %r" % err)
    finally:
        for fd in holders:
            os.close(fd)
        sp.cleanup()


def case_local_symlinked_dirs():
    """Symbolic links where the queue expects its directories: nobody's
    spool directory -> daemon's (and bin's -> /etc), daemon's tmp/ ->
    elsewhere, daemon's failed/ -> elsewhere.  Nothing is served through
    a link (daemon's entry is delivered once, by daemon), nothing is
    written where the links point, root's -bp names the links, a user
    queueing through one is refused."""
    sp = Spool("msmtp-dirlinks-")
    try:
        c = sp.queue("daemon", 87)
        sp.queue("nobody", 88)
        code, err = sp.sh("nobody", "mv %s %s/old-nobody && ln -s %s %s" % (
            sp.udir("nobody"), sp.spool, sp.udir("daemon"), sp.udir("nobody")))
        expect(code == 0, "nobody's link: %r" % err)
        code, err = sp.sh("bin", "ln -s /etc %s" % sp.udir("bin"))
        expect(code == 0, "bin's link: %r" % err)
        etc_before = sorted(os.listdir("/etc"))
        code, err, _ = sp.enqueue("nobody", 89)
        expect(code == 73 and "symbolic link" in err,
               "nobody queued through a link: %d %r" % (code, err))
        code, err, got, _ = sp.run_queue()
        wanted(got, 87)
        expect(c not in sp.ids("daemon"), "daemon's entry kept")
        expect(sorted(os.listdir("/etc")) == etc_before, "/etc changed")
        code, out, err = sp.root_run(["-bp"])
        for u in ("nobody", "bin"):
            expect(re.search(r"%s is a symbolic link .*not served"
                             % re.escape(sp.udir(u)), err),
                   "root's -bp does not name %s's link: %r" % (u, err))
        # daemon's tmp/ and failed/ as links to a directory of its own
        elsewhere = os.path.join(sp.top, "elsewhere")
        os.mkdir(elsewhere, 0o700)
        os.chown(elsewhere, 1, 1)
        d = sp.queue("daemon", 90)
        code, err = sp.sh("daemon", "mv %s/tmp %s/tmp.old && ln -s %s %s/tmp"
                          % (sp.udir("daemon"), sp.udir("daemon"), elsewhere,
                             sp.udir("daemon")))
        expect(code == 0, "daemon's tmp link: %r" % err)
        code, err, _ = sp.enqueue("daemon", 91)
        expect(code == 73 and "tmp is a symbolic link" in err,
               "daemon queued through tmp/ -> elsewhere: %d %r" % (code, err))
        code, err, got, _ = sp.run_queue()
        expect(got == [] and d in sp.ids("daemon"),
               "served through tmp/ -> elsewhere: %r" % got)
        expect("tmp is a symbolic link" in err, "run stderr %r" % err)
        code, err = sp.sh("daemon", "rm %s/tmp && mv %s/tmp.old %s/tmp && "
                          "ln -s %s %s/failed" % ((sp.udir("daemon"),) * 3
                                                  + (elsewhere,
                                                     sp.udir("daemon"))))
        expect(code == 0, "daemon's failed link: %r" % err)
        code, err, got, _ = sp.run_queue(
            "reply-rcpt bob@example.net 550 5.1.1 no such user")
        expect(len(got) == 0 and d in sp.ids("daemon"),
               "the refused entry did not stay: %r" % sp.ids("daemon"))
        expect(os.listdir(elsewhere) == [], "written through the links: %r"
               % os.listdir(elsewhere))
        expect(re.search(r"failed is a symbolic link; refusing", err),
               "run stderr %r" % err)
    finally:
        sp.cleanup()


def case_local_oversized():
    """nobody's ID.env and ID.msg made 100 MB (sparse): the run is not
    held by them and reads neither; both go to failed/ ("larger than 4
    MiB", "larger than its envelope says"); nothing is sent."""
    sp = Spool("msmtp-huge-")
    try:
        a = sp.queue("nobody", 92)
        b = sp.queue("nobody", 93)
        code, err = sp.sh("nobody", "truncate -s 100M %s %s" % (
            sp.path("nobody", a + ".env"), sp.path("nobody", b + ".msg")))
        expect(code == 0, "truncate: %r" % err)
        t0 = time.monotonic()
        code, err, got, _ = sp.run_queue()
        expect(time.monotonic() - t0 < 30, "the run took %.0f s"
               % (time.monotonic() - t0))
        expect(got == [], "sent %d messages" % len(got))
        sp.expect_failed("nobody", a, "invalid envelope: larger than 4 MiB")
        sp.expect_failed("nobody", b, "the message file is larger than its "
                         "envelope says (104857600 bytes")
    finally:
        sp.cleanup()


def case_local_foreign_user_dir():
    """Spool directories that are not their user's own: daemon squats
    nobody's name (spool/65534, made before nobody ever queued) and
    plants an entry there for eve; bin opens its own directory to
    everyone (0777).  Root's run serves neither (nothing sent, no child
    as nobody in daemon's directory, daemon's files untouched), root's -bp
    says why, nobody is told why it cannot queue."""
    sp = Spool("msmtp-squat-")
    try:
        c = sp.queue("daemon", 94, "eve@example.com")
        code, err = sp.sh("daemon", "mkdir -m 700 %s && cp %s/%s.env %s/%s.msg"
                          " %s/" % (sp.udir("nobody"), sp.udir("daemon"), c,
                                    sp.udir("daemon"), c, sp.udir("nobody")))
        expect(code == 0, "daemon's squat: %r" % err)
        code, err = sp.sh("daemon", "rm %s/%s.*" % (sp.udir("daemon"), c))
        expect(code == 0, "rm: %r" % err)
        planted = sorted(os.listdir(sp.udir("nobody")))
        code, err, _ = sp.enqueue("nobody", 95)
        expect(code == 73 and "does not belong to you" in err,
               "nobody queued into daemon's directory: %d %r" % (code, err))
        b = sp.queue("bin", 96)
        code, err = sp.sh("bin", "chmod 777 %s" % sp.udir("bin"))
        expect(code == 0, "chmod: %r" % err)
        code, err, got, cmds = sp.run_queue()
        expect(got == [] and "RCPT TO:<eve@example.com>" not in cmds,
               "sent %r" % cmds)
        expect(sorted(os.listdir(sp.udir("nobody"))) == planted,
               "the squatted directory changed: %r"
               % os.listdir(sp.udir("nobody")))
        expect(b in sp.ids("bin"), "bin's entry left its open directory")
        expect(re.search(r"writable by others", err), "run stderr %r" % err)
        code, out, err = sp.root_run(["-bp"])
        expect(re.search(r"%s is named after one user but owned by another "
                         r"\(owner uid 1, mode 0700\); not served"
                         % re.escape(sp.udir("nobody")), err),
               "root's -bp does not name the squatted directory: %r" % err)
        expect("writable by others" in err, "root's -bp: %r" % err)
    finally:
        sp.cleanup()


def case_local_other_users_dir():
    """The spool layout alone keeps users out of each other's
    directories: daemon can neither list the spool, nor create, link,
    rename or remove anything in nobody's directory, nor replace or
    remove that directory; nobody's message is then delivered once,
    intact."""
    sp = Spool("msmtp-modes-")
    try:
        a = sp.queue("nobody", 97)
        st = os.stat(sp.spool)
        expect(st.st_uid == 0 and (st.st_mode & 0o7777) == 0o1733,
               "spool mode %o" % st.st_mode)
        st = os.stat(sp.udir("nobody"))
        expect(st.st_uid == 65534 and (st.st_mode & 0o777) == 0o700,
               "nobody's directory: uid %d mode %o" % (st.st_uid, st.st_mode))
        n = sp.udir("nobody")
        d = os.path.join(sp.top, "daemons")
        os.mkdir(d, 0o700)
        os.chown(d, 1, 1)
        attacks = {
            "list the spool": "ls %s" % sp.spool,
            "list nobody's directory": "ls %s" % n,
            "create an envelope": "echo x > %s/20260101000000-1-00000002.env"
                                  % n,
            "create in tmp/": "echo x > %s/tmp/x" % n,
            "link into it": "ln -s /etc/passwd %s/%s.msg.x" % (n, a),
            "rename the directory away": "mv %s %s/x" % (n, sp.spool),
            "remove the directory": "rm -rf %s" % n,
            "replace the directory": "mkdir %s/d && mv -T %s/d %s"
                                     % (d, d, n),
            "remove an entry": "rm -f %s/%s.env" % (n, a),
            "create nobody's name again": "mkdir %s" % n,
        }
        for what, script in attacks.items():
            code, err = sp.sh("daemon", script)
            expect(code != 0, "daemon could %s" % what)
        code, err, got, _ = sp.run_queue()
        wanted(got, 97)
        expect(got == [wire(message(97)).replace(b"\r\n", b"\n").replace(
            b"\n", b"\r\n")] or len(got) == 1, "delivered %r" % got)
    finally:
        sp.cleanup()


RACER = r"""
import os, sys, time
d, evil, until = sys.argv[1], sys.argv[2], float(sys.argv[3])
swaps = 0
while time.time() < until:
    for name in os.listdir(d):
        if not name.endswith(".msg"):
            continue
        p = os.path.join(d, name)
        try:
            os.rename(p, p + ".real")
            os.rename(evil, p)
            os.rename(p, evil)
            os.rename(p + ".real", p)
            swaps += 1
        except OSError:
            if not os.path.exists(p) and os.path.exists(p + ".real"):
                try:
                    os.rename(p + ".real", p)
                except OSError:
                    pass
print(swaps)
"""


def case_local_swap_race():
    """While root's queue runs serve nobody's directory (the server
    answers 451 after the data, so the entry stays and is sent again and
    again), a process of nobody's renames a symbolic link to root's
    secret, then a hard link to it, over ID.msg and back, as fast as it
    can: every message that goes out is nobody's own, root's file is never
    sent, each entry ends queued or in failed/."""
    sp = Spool("msmtp-race-")
    budget = float(os.environ.get("QUEUE_RACE_SECONDS", "6"))
    try:
        runs = sent = requeued = 0
        for kind in ("symlink", "hard link"):
            evil = sp.path("nobody", ".evil")
            racer = None
            deadline = time.monotonic() + budget
            while time.monotonic() < deadline:
                if not sp.ids("nobody"):
                    sp.queue("nobody", 98)
                    requeued += 1
                if not os.path.lexists(evil):
                    if kind == "symlink":
                        try:    # the racer may move it before lchown
                            os.symlink(sp.secret, evil)
                            os.lchown(evil, 65534, 65534)
                        except (FileExistsError, FileNotFoundError):
                            pass
                    else:
                        try:    # the racer may have just put it back
                            os.link(sp.secret, evil)
                        except FileExistsError:
                            pass
                if racer is None:
                    racer = subprocess.Popen(
                        ["setpriv", "--reuid=nobody", "--regid=nogroup",
                         "--clear-groups", sys.executable, "-c", RACER,
                         sp.udir("nobody"), evil,
                         str(time.time() + budget + 5)],
                        stdout=subprocess.PIPE, env=sp.env)
                code, err, got, _ = sp.run_queue(
                    "reply EOD 451 4.3.0 again", args=("-q",))
                runs += 1
                for body in got:
                    expect(body == wire(message(98)),
                           "sent something else than nobody's message: %r"
                           % body[:200])
                sent += len(got)
            racer.kill()
            racer.wait()
            racer.stdout.close()
            sp.expect_secret_intact()
            if os.path.lexists(evil):
                os.unlink(evil)
        print("    race: %d runs, %d messages sent (all nobody's own), %d "
              "entries queued" % (runs, sent, requeued))
        expect(runs >= 4, "only %d runs" % runs)
    finally:
        sp.cleanup()


CASES += [case_local_hard_links, case_local_fifos, case_local_symlinked_dirs,
          case_local_oversized, case_local_foreign_user_dir,
          case_local_other_users_dir, case_local_swap_race]

if __name__ == "__main__":
    sys.exit(main())
