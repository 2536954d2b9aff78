#!/usr/bin/python3
"""Where an execute's time goes between processes: a scheduler trace of the
latency loop of bench_kernel.py, for akernel-gateway and the null kernel.

Run from the repository root, as root (perf traces every CPU), with perf
installed (Debian: linux-perf):

    /usr/bin/python3 bench/trace_wakeups.py [--build build] [--iterations 2000]
                                            [--split] [--kernels akernel-gateway,null]

For each kernel it runs the same execute loop as bench_kernel.py (cell `1`,
each waiting for the reply and idle) with `perf record` tracing
sched_waking on every CPU and the system-call returns of the client's and the
kernel's threads, then prints, per execute:

  on CPU     how long each process (or thread) of the client and the kernel
             ran (Linux's own count, /proc/PID/task/TID/schedstat): the
             client's main thread and ZMQ I/O thread, the kernel's router
             and worker (the null kernel is one process);
  wake-ups   each wake-up of one of them by another: how many per execute,
             and how long from the waker's call to the wakee's return from
             the call it slept in, split by whether the wakee ran on the
             waker's CPU or on the other. (Not sched_switch: on this project's
             VM, switches out of the idle task of CPU 1 are never recorded.)

A wake-up across CPUs costs far more than one within a CPU on a VM whose
idle virtual CPUs halt; the table shows which hops of each kernel cross.
--split pins the client to CPU 0 and the kernel to CPU 1, as bench_kernel's
split pass. Tracing costs ~1 us per event, so the figures are a little above
bench_kernel's; compare the kernels with each other, not with it."""

import argparse
import collections
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_kernel as bk  # noqa: E402

PERF_TIMEOUT = 60.0  # s for perf to acknowledge a command, or to write its file
EVENT = re.compile(r"\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(sched:sched_waking|raw_syscalls:sys_exit):\s+(.*)")
WAKING = re.compile(r"pid=(\d+)")


class Perf:
    """perf record on every CPU, started disabled and switched on and off
    through its control pipe (each command waits for perf's ack)."""

    def __init__(self, path, tids):
        self.ctl_r, self.ctl_w = os.pipe()
        self.ack_r, self.ack_w = os.pipe()
        self.proc = subprocess.Popen(
            ["perf", "record", "-q", "-a", "-D", "-1", "-e", "sched:sched_waking",
             "-e", "raw_syscalls:sys_exit",
             "--filter", " || ".join(f"common_pid == {t}" for t in sorted(tids)),
             "--control", f"fd:{self.ctl_r},{self.ack_w}", "-o", path],
            pass_fds=(self.ctl_r, self.ack_w),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(self.ctl_r)
        os.close(self.ack_w)

    def command(self, word):
        os.write(self.ctl_w, word.encode() + b"\n")
        done = threading.Event()
        timer = threading.Timer(PERF_TIMEOUT, lambda: done.is_set() or self.proc.kill())
        timer.start()
        try:
            ack = os.read(self.ack_r, 64)  # "ack\n"; empty if perf died
        finally:
            done.set()
            timer.cancel()
        if not ack.startswith(b"ack"):
            err = self.proc.communicate(timeout=PERF_TIMEOUT)[1].decode(errors="replace")
            raise bk.BenchError(f"perf did not acknowledge '{word}': {err.strip()}")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            err = self.proc.communicate(timeout=PERF_TIMEOUT)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise bk.BenchError("perf did not finish writing its trace")
        finally:
            os.close(self.ctl_w)
            os.close(self.ack_r)
        if self.proc.returncode not in (0, -signal.SIGINT):
            raise bk.BenchError(f"perf record failed: {err.decode(errors='replace').strip()}")


def comm(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def roles(run):
    """tid -> role, for the client (this process) and every process of the kernel."""
    me = os.getpid()
    out = {}
    for tid in bk.thread_ids(me):
        name = comm(me, tid)
        if tid == threading.get_native_id():
            out[tid] = "client"
        elif name.startswith("ZMQbg/IO"):
            out[tid] = "client I/O"
    kernel = run.kernel.proc.pid
    for tid in bk.thread_ids(kernel):
        out[tid] = "router" if run.name == "akernel-gateway" else run.name
    run.kernel.note_descendants()
    for pid in run.kernel.live_descendants():
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        if parent == kernel:
            continue  # the zygote: it only forks workers
        for tid in bk.thread_ids(pid):
            out[tid] = "worker" if tid == pid else "worker thread"
    return out


def cpu_ns(who):
    """tid -> ns it has run so far."""
    return {tid: bk.thread_cpu_ns(tid) for tid in who}


def on_cpu_us(who, before, after, iterations):
    """role -> us on CPU per execute, between two cpu_ns() snapshots."""
    out = collections.Counter()
    for tid, ns in after.items():
        out[who[tid]] += (ns - before[tid]) / 1000.0 / iterations
    return out


def wakeups(path, who):
    """(wakee, waker) -> (latencies on the waker's CPU, on another), in us."""
    script = subprocess.run(["perf", "script", "-i", path, "-F", "tid,cpu,time,event,trace"],
                            capture_output=True, text=True, timeout=PERF_TIMEOUT * 5)
    if script.returncode != 0:
        raise bk.BenchError(f"perf script failed: {script.stderr.strip()}")
    woken = {}  # tid -> (waking time, waker role, waker CPU)
    hops = collections.defaultdict(lambda: ([], []))  # (wakee, waker) -> (same-CPU, cross-CPU) latencies
    for line in script.stdout.splitlines():
        m = EVENT.match(line)
        if not m:
            continue
        tid, cpu, t, kind, rest = int(m[1]), int(m[2]), float(m[3]) * 1e6, m[4], m[5]
        if kind == "sched:sched_waking":
            wakee = int(WAKING.search(rest)[1])
            if wakee in who and tid in who:
                woken[wakee] = (t, who[tid], cpu)
            else:  # woken by something else (an interrupt on an idle CPU): not counted
                woken.pop(wakee, None)
        elif tid in woken:  # the wakee's first return from a call: it runs
            t0, waker, waker_cpu = woken.pop(tid)
            hops[(who[tid], waker)][waker_cpu != cpu].append(t - t0)
    return hops


def report(name, on_cpu, hops, iterations):
    print(f"\n{name}: on CPU per execute (us): " +
          ", ".join(f"{r} {us:.1f}" for r, us in sorted(on_cpu.items(), key=lambda kv: -kv[1])
                    if us >= 0.1))
    rows = []
    for (wakee, waker), (same, cross) in sorted(hops.items(), key=lambda kv: -sum(map(len, kv[1]))):
        n = len(same) + len(cross)
        if n < iterations / 20:
            continue  # rarer than one execute in 20: not on the request's path
        rows.append([f"{wakee} woken by {waker}", f"{n / iterations:.2f}",
                     f"{len(same) / iterations:.2f}", bk.fmt(statistics.median(same) if same else None, ".1f"),
                     f"{len(cross) / iterations:.2f}", bk.fmt(statistics.median(cross) if cross else None, ".1f")])
    bk.table(["wake-up", "per exec", "same CPU", "p50 us", "other CPU", "p50 us"], rows)


def trace(name, argv_for, env, args, scratch):
    run = bk.LatencyRun(name, argv_for, env, args, cpus={1} if args.split else None)
    try:
        run.start()
        run.run(bk.WARMUP, timed=False)
        who = roles(run)
        path = os.path.join(scratch, f"{name}.perf")
        perf = Perf(path, who)
        try:
            perf.command("enable")
            before = cpu_ns(who)
            run.run(args.iterations, timed=True)
            after = cpu_ns(who)
            perf.command("disable")
        finally:
            perf.stop()
        s = sorted(run.samples)
        print(f"\n{name}: p50 {bk.percentile(s, 50):.1f} us over {len(s)} executes, traced")
        report(name, on_cpu_us(who, before, after, args.iterations), wakeups(path, who),
               args.iterations)
    finally:
        run.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--kernels", default="akernel-gateway,null", help="comma-separated")
    ap.add_argument("--split", action="store_true", help="client on CPU 0, kernel on CPU 1")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds any one wait may last")
    args = ap.parse_args()
    if not shutil.which("perf"):
        sys.exit("perf is not installed (Debian: apt-get install linux-perf)")
    if os.geteuid() != 0:
        sys.exit("run as root: perf traces the scheduler on every CPU")
    specs = [s for s in bk.kernel_specs(os.path.abspath(args.build)) if s[0] in args.kernels.split(",")]
    scratch = tempfile.mkdtemp(prefix="akg-trace-")
    env = dict(os.environ, IPYTHONDIR=os.path.join(scratch, "ipython"))
    if args.split:
        os.sched_setaffinity(0, {0})  # before the client's ZMQ I/O thread starts
    try:
        for name, argv_for in specs:
            trace(name, argv_for, env, args, scratch)
    except bk.BenchError as e:
        sys.exit(f"trace_wakeups: {e}")
    finally:
        bk.kill_all_live()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
