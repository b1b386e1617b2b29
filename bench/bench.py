#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench.py - the issue-13 workloads, this msmtp side by side with another
client (Debian's msmtp when installed), run on request - never in make
check:

    bench/bench.py [--ours src/msmtp] [--other /usr/bin/msmtp]
                   [--rounds N] [--seq N] [--big-mb N] [--queue N]
                   [--only small,seq,big,tls,queue] [--out FILE]

Workloads (loopback; the sink is Postfix's smtp-sink when installed, else
bench/sink.py):
  small  one 2 KB message, one process: wall time, instructions, syscalls,
         peak RSS
  seq    --seq processes in a row, one message each: messages per second
  big    --big-mb MB with LF line ends and with CRLF: MB/s, peak RSS
  tls    2 KB over implicit TLS, --seq processes in a row (a full
         handshake each, or a resumed one when the client resumes), and
         the big LF message over TLS (bench/tlsfront.py: a Python relay,
         which caps the rate)
  queue  (ours only) -q flushing --queue messages queued beforehand with
         -odq, the queue on tmpfs (/dev/shm) when there is one: messages
         per second, instructions, syscalls and fsyncs per message

The two clients run alternately in every round (the order swapped each
round), so a machine that slows down for a while slows both; the report
gives medians and the median of the per-round ratios ours/other.
Instructions come from `perf stat -e instructions:u` (else callgrind),
syscalls from `strace -f -c`, peak RSS from wait4(2).  Wall times on a
shared machine are noise: compare ratios and instruction counts."""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def bench_free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bench_wait_port(port, proc):
    for _ in range(100):
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Sink:
    """smtp-sink (fast, C) when installed, else our Python sink."""

    def __init__(self):
        exe = shutil.which("smtp-sink") or (
            "/usr/sbin/smtp-sink" if os.access("/usr/sbin/smtp-sink", os.X_OK)
            else None)
        if exe:
            self.port = bench_free_port()
            argv = [exe]
            if os.geteuid() == 0:
                argv += ["-u", "nobody"]
            argv += ["127.0.0.1:%d" % self.port, "256"]
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            self.name = "Postfix smtp-sink"
            if not bench_wait_port(self.port, self.proc):
                sys.exit("bench.py: smtp-sink did not start")
        else:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "sink.py")],
                stdout=subprocess.PIPE)
            self.port = int(self.proc.stdout.readline())
            self.name = "bench/sink.py (Python; slower than the clients)"

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def bench_messages(work, big_mb):
    """The 2 KB message and the big ones (LF and CRLF line ends)."""
    head = (b"From: a@example.org\nTo: b@example.org\nSubject: bench\n"
            b"Date: Wed, 02 Dec 2026 08:00:00 +0000\n"
            b"Message-ID: <bench@example.org>\n\n")
    line = b"The quick brown fox jumps over the lazy dog 0123456789 abcdefghij\n"
    small = head + line * ((2048 - len(head)) // len(line))
    paths = {"small": os.path.join(work, "small.eml")}
    with open(paths["small"], "wb") as f:
        f.write(small)
    block = line * (1024 * 1024 // len(line))
    for kind, eol in (("lf", b"\n"), ("crlf", b"\r\n")):
        paths[kind] = os.path.join(work, "big-%s.eml" % kind)
        data = block.replace(b"\n", eol)
        with open(paths[kind], "wb") as f:
            f.write(head.replace(b"\n", eol))
            for _ in range(big_mb):
                f.write(data)
    return paths


def bench_rc(work, name, port, queue_dir=None, cert=None):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\n"
                "from a@example.org\nauth off\n" % port)
        if cert:
            f.write("tls on\ntls_starttls off\ntls_trust_file %s\n" % cert)
        else:
            f.write("tls off\n")
        if queue_dir:
            f.write("queue_dir %s\n" % queue_dir)
    os.chmod(path, 0o600)
    return path


def bench_run(argv, stdin_path):
    """One run: (wall seconds, peak RSS KiB as wait4 says - see
    bench_rss, exit status)."""
    with open(stdin_path, "rb") as inp:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=inp, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
    p.returncode = os.waitstatus_to_exitcode(status)
    return t1 - t0, ru.ru_maxrss, p.returncode


def bench_rss(argv, stdin_path, work):
    """Peak RSS (KiB) of one run, from GNU time: wait4 in this script
    would count the Python image the child was forked from (Linux keeps
    the high-water mark across exec); time(1) is small.  None without
    /usr/bin/time."""
    if not os.access("/usr/bin/time", os.X_OK):
        return None
    out = os.path.join(work, "rss.txt")
    with open(stdin_path, "rb") as inp:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + argv,
                       stdin=inp, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    with open(out) as f:
        return int(f.read().split()[-1])


def bench_perf_works():
    """1 when perf can count instructions here (a VM often cannot): asked
    once with true(1), since a run that perf cannot count still runs -
    and a queue flush must not run twice."""
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", "instructions:u",
                        "true"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    return re.search(rb"^\d+,[^,]*,instructions", r.stderr, re.M) is not None


PERF = None


def bench_insns(argv, stdin_path):
    """User-space instructions of one run (perf, else callgrind); None."""
    global PERF
    if PERF is None:
        PERF = bench_perf_works()
    with open(stdin_path, "rb") as inp:
        if PERF:
            r = subprocess.run(["perf", "stat", "-x,", "-e", "instructions:u",
                                "--"] + argv, stdin=inp,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            m = re.search(rb"^(\d+),[^,]*,instructions", r.stderr, re.M)
            return int(m.group(1)) if m else None
        if shutil.which("valgrind"):
            r = subprocess.run(["valgrind", "--tool=callgrind",
                                "--callgrind-out-file=/dev/null"] + argv,
                               stdin=inp, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            m = re.search(rb"Collected : (\d+)", r.stderr)
            if m:
                return int(m.group(1))
    return None


def bench_syscalls(argv, stdin_path, work):
    """(all syscalls, fsync+fdatasync) of one run under strace -f -c."""
    if not shutil.which("strace"):
        return None, None
    out = os.path.join(work, "strace.txt")
    with open(stdin_path, "rb") as inp:
        subprocess.run(["strace", "-f", "-c", "-o", out] + argv, stdin=inp,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    total = syncs = 0
    with open(out) as f:
        for ln in f:
            w = ln.split()
            if len(w) >= 5 and w[-1] == "total":
                total = int(w[3])
            elif len(w) >= 5 and w[-1] in ("fsync", "fdatasync"):
                syncs += int(w[3])
    return total, syncs


def bench_median(v):
    return statistics.median(v) if v else float("nan")


def bench_ratio(a, b):
    return bench_median([x / y for x, y in zip(a, b) if y > 0])


class Report:
    def __init__(self):
        self.rows = []

    def add(self, *cells):
        self.rows.append(" | ".join(str(c) for c in cells))

    def text(self, other_name):
        head = ("| workload | measure | ours | %s | ours/%s (paired) |\n"
                "| --- | --- | --- | --- | --- |\n" % (other_name, "other"))
        return head + "".join("| %s |\n" % r for r in self.rows)


def bench_fmt(v, unit, scale=1.0, digits=2):
    if v is None or v != v:
        return "-"
    return "%.*f %s" % (digits, v * scale, unit)


def bench_pair(clients, rounds, one):
    """one(client) -> value, alternately for each client, `rounds` times;
    {name: [values]}."""
    got = {name: [] for name, _ in clients}
    for r in range(rounds):
        order = clients if r % 2 == 0 else list(reversed(clients))
        for name, argv in order:
            got[name].append(one(argv))
    return got


def bench_small(clients, msgs, args, rep, work):
    walls = bench_pair(clients, args.rounds,
                       lambda argv: bench_run(argv, msgs["small"]))
    med = {n: bench_median([w for w, _, _ in v]) for n, v in walls.items()}
    rss = {n: bench_rss(a, msgs["small"], work) for n, a in clients}
    bad = {n: sum(1 for _, _, c in v if c != 0) for n, v in walls.items()}
    names = [n for n, _ in clients]
    ratio = (bench_ratio([w for w, _, _ in walls["ours"]],
                         [w for w, _, _ in walls[names[1]]])
             if len(names) > 1 else None)
    other = names[1] if len(names) > 1 else None
    rep.add("2 KB, one process", "wall (median of %d)" % args.rounds,
            bench_fmt(med["ours"], "ms", 1e3),
            bench_fmt(med.get(other), "ms", 1e3), bench_fmt(ratio, "x"))
    ins = {n: bench_insns(a, msgs["small"]) for n, a in clients}
    rep.add("2 KB, one process", "instructions (user space)",
            bench_fmt(ins["ours"], "M", 1e-6),
            bench_fmt(ins.get(other), "M", 1e-6),
            bench_fmt(ins["ours"] / ins[other] if other and ins["ours"]
                      and ins[other] else None, "x"))
    sc = {n: bench_syscalls(a, msgs["small"], work)[0] for n, a in clients}
    rep.add("2 KB, one process", "syscalls", sc["ours"], sc.get(other, "-"),
            bench_fmt(sc["ours"] / sc[other] if other and sc["ours"]
                      and sc[other] else None, "x"))
    rep.add("2 KB, one process", "peak RSS",
            bench_fmt(rss["ours"] / 1024 if rss["ours"] else None, "MiB"),
            bench_fmt(rss[other] / 1024 if other and rss[other] else None,
                      "MiB"),
            bench_fmt(rss["ours"] / rss[other] if other and rss[other]
                      else None, "x"))
    if any(bad.values()):
        rep.add("2 KB, one process", "failed runs", bad["ours"],
                bad.get(other, "-"), "")


def bench_seq(clients, msgs, args, rep):
    def one(argv):
        t0 = time.perf_counter()
        for _ in range(args.seq):
            bench_run(argv, msgs["small"])
        return args.seq / (time.perf_counter() - t0)
    rates = bench_pair(clients, max(3, args.rounds // 5), one)
    names = [n for n, _ in clients]
    other = names[1] if len(names) > 1 else None
    rep.add("%d processes in a row" % args.seq, "messages/s",
            bench_fmt(bench_median(rates["ours"]), "msg/s", 1, 1),
            bench_fmt(bench_median(rates[other]) if other else None,
                      "msg/s", 1, 1),
            bench_fmt(bench_ratio(rates["ours"], rates[other])
                      if other else None, "x"))


def bench_big(clients, msgs, args, rep, work):
    names = [n for n, _ in clients]
    other = names[1] if len(names) > 1 else None
    for kind in ("lf", "crlf"):
        size = os.path.getsize(msgs[kind]) / 1e6
        got = bench_pair(clients, 3, lambda argv: bench_run(argv, msgs[kind]))
        rate = {n: [size / w for w, _, _ in v] for n, v in got.items()}
        rss = {n: bench_rss(a, msgs[kind], work) or 0 for n, a in clients}
        what = "%d MB, %s input" % (args.big_mb, kind.upper())
        rep.add(what, "MB/s (median of 3)",
                bench_fmt(bench_median(rate["ours"]), "MB/s", 1, 1),
                bench_fmt(bench_median(rate[other]) if other else None,
                          "MB/s", 1, 1),
                bench_fmt(bench_ratio(rate["ours"], rate[other])
                          if other else None, "x"))
        rep.add(what, "peak RSS", bench_fmt(rss["ours"] / 1024, "MiB"),
                bench_fmt(rss[other] / 1024 if other else None, "MiB"), "")


class TLSFront:
    """A self-signed certificate for 127.0.0.1 (openssl) and bench/
    tlsfront.py relaying implicit TLS to the sink; None when openssl is
    missing."""

    def __init__(self, work, backend):
        self.cert = os.path.join(work, "cert.pem")
        key = os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", self.cert, "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "tlsfront.py"), self.cert,
             key, str(backend)], stdout=subprocess.PIPE)
        self.port = int(self.proc.stdout.readline())

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def bench_tls(clients, msgs, args, rep, work, sink):
    """2 KB over implicit TLS, one process per message in a row, and the
    big LF message over TLS (capped by the Python relay)."""
    if not shutil.which("openssl"):
        rep.add("TLS", "skipped: no openssl", "", "", "")
        return
    front = TLSFront(work, sink.port)
    try:
        tls = [(n, [a[0], "-C", bench_rc(work, "tls-%d.rc" % i, front.port,
                                         cert=front.cert), a[-1]])
               for i, (n, a) in enumerate(clients)]
        names = [n for n, _ in tls]
        other = names[1] if len(names) > 1 else None

        def one(argv):
            t0 = time.perf_counter()
            bad = 0
            for _ in range(args.seq):
                bad += bench_run(argv, msgs["small"])[2] != 0
            if bad:
                sys.stderr.write("bench.py: %d TLS runs failed: %s\n"
                                 % (bad, argv))
            return (time.perf_counter() - t0) / args.seq
        per = bench_pair(tls, 3, one)
        rep.add("2 KB over TLS, %d processes in a row" % args.seq,
                "wall per message (median of 3)",
                bench_fmt(bench_median(per["ours"]), "ms", 1e3),
                bench_fmt(bench_median(per[other]) if other else None,
                          "ms", 1e3),
                bench_fmt(bench_ratio(per["ours"], per[other])
                          if other else None, "x"))
        if "big" in args.only:
            size = os.path.getsize(msgs["lf"]) / 1e6
            got = bench_pair(tls, 3, lambda argv: bench_run(argv, msgs["lf"]))
            rate = {n: [size / w for w, _, _ in v] for n, v in got.items()}
            rep.add("%d MB over TLS (Python relay)" % args.big_mb,
                    "MB/s (median of 3)",
                    bench_fmt(bench_median(rate["ours"]), "MB/s", 1, 1),
                    bench_fmt(bench_median(rate[other]) if other else None,
                              "MB/s", 1, 1),
                    bench_fmt(bench_ratio(rate["ours"], rate[other])
                              if other else None, "x"))
    finally:
        front.stop()


def bench_queue(ours, port, args, rep, work, msgs):
    """Fill a queue once with -odq, keep a copy, flush copies of it."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else work
    top = tempfile.mkdtemp(prefix="msmtp-bench-q-", dir=base)
    try:
        qdir = os.path.join(top, "queue")
        rc = bench_rc(work, "queue.rc", port, qdir)
        for _ in range(args.queue):
            bench_run([ours, "-C", rc, "-odq", "b@example.org"], msgs["small"])
        saved = os.path.join(top, "saved")
        shutil.copytree(qdir, saved)
        flush = [ours, "-C", rc, "-q"]
        empty = os.path.join(work, "empty")
        open(empty, "w").close()

        def fresh():
            shutil.rmtree(qdir)
            shutil.copytree(saved, qdir)
        walls, left = [], 0
        for _ in range(3):
            fresh()
            w, _, _ = bench_run(flush, empty)
            walls.append(w)
            left += len([f for f in os.listdir(qdir) if f.endswith(".env")])
        fresh()
        ins = bench_insns(flush, empty)
        fresh()
        calls, syncs = bench_syscalls(flush, empty, work)
        fresh()
        rss = bench_rss(flush, empty, work)
        n = args.queue
        what = "-q flushing %d queued (%s)" % (n, "tmpfs" if base == "/dev/shm"
                                              else "disk")
        rep.add(what, "wall (median of 3)", bench_fmt(bench_median(walls), "s",
                                                      1, 3), "no queue", "")
        rep.add(what, "messages/s", bench_fmt(n / bench_median(walls),
                                              "msg/s", 1, 0), "", "")
        rep.add(what, "instructions per message",
                bench_fmt(ins / n if ins else None, "k", 1e-3, 1), "", "")
        rep.add(what, "syscalls per message (fsyncs)",
                "%.1f (%.2f)" % (calls / n, syncs / n) if calls else "-",
                "", "")
        rep.add(what, "peak RSS", bench_fmt(rss / 1024 if rss else None,
                                            "MiB"), "", "")
        if left:
            rep.add(what, "entries left after the runs", left, "", "")
    finally:
        shutil.rmtree(top, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", default=os.path.join(HERE, "..", "src", "msmtp"))
    ap.add_argument("--other", default="/usr/bin/msmtp")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--queue", type=int, default=1000)
    ap.add_argument("--only", default="small,seq,big,tls,queue")
    ap.add_argument("--out")
    args = ap.parse_args()
    only = args.only = args.only.split(",")
    ours = os.path.abspath(args.ours)
    work = tempfile.mkdtemp(prefix="msmtp-bench-")
    sink = Sink()
    try:
        msgs = bench_messages(work, args.big_mb if "big" in only else 0)
        clients = [("ours", [ours, "-C", bench_rc(work, "ours.rc", sink.port),
                             "b@example.org"])]
        other_name = "other (not installed)"
        if os.access(args.other, os.X_OK):
            ver = subprocess.run([args.other, "--version"],
                                 capture_output=True, text=True).stdout
            other_name = ver.splitlines()[0] if ver else args.other
            clients.append((other_name, [args.other, "-C",
                                         bench_rc(work, "other.rc", sink.port),
                                         "b@example.org"]))
        rep = Report()
        if "small" in only:
            bench_small(clients, msgs, args, rep, work)
        if "seq" in only:
            bench_seq(clients, msgs, args, rep)
        if "big" in only:
            bench_big(clients, msgs, args, rep, work)
        if "tls" in only:
            bench_tls(clients, msgs, args, rep, work, sink)
        if "queue" in only:
            bench_queue(ours, sink.port, args, rep, work, msgs)
        text = ("sink: %s; ours: %s; %s\n\n" % (
            sink.name, ours, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
            + rep.text(other_name))
        sys.stdout.write(text)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
