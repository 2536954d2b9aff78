#!/usr/bin/python3
"""Load: many notebooks at once on one akernel-gateway, nothing lost.

Run from the repository root with the system Python:

    /usr/bin/python3 bench/bench_load.py [--build build] [--notebooks 500] [--executes 200] [--workers 2]

It starts `akernel-gateway launch multi --workers W` and drives N notebooks
(each its own session ID, over raw pyzmq sockets signed with
jupyter_client's Session, all from this one thread), each keeping one
execute_request of a trivial cell in flight until it has sent M. It checks
that every request gets exactly one execute_reply, with status ok, to the
session that sent it, and prints: requests, replies lost and duplicated,
throughput, latency p50/p99/max, and the router's peak memory (VmHWM).
No asserts: a lost or duplicated reply is printed and makes it exit 1.
"""

import argparse
import collections
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Notebook:
    def __init__(self, ctx, info, key):
        self.session = Session(key=key)
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(f"tcp://127.0.0.1:{info['shell_port']}")
        self.sent = 0
        self.inflight = {}  # msg_id -> send time

    def send(self, code):
        msg = self.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                   "user_expressions": {}, "allow_stdin": False,
                                                   "stop_on_error": False})
        self.sock.send_multipart(self.session.serialize(msg))
        self.inflight[msg["header"]["msg_id"]] = time.perf_counter()
        self.sent += 1


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--notebooks", type=int, default=500)
    parser.add_argument("--executes", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="akg-bench-load-")
    conn = os.path.join(workdir, "kernel.json")
    key = os.urandom(16).hex().encode()
    write_connection_file(conn, ip="127.0.0.1", key=key)
    info = json.load(open(conn))
    gateway = pathlib.Path(args.build).resolve() / "akernel-gateway"
    kernel = subprocess.Popen([str(gateway), "launch", "multi", "-f", conn, "--workers", str(args.workers),
                               "--log-level", "warn"], start_new_session=True)
    ctx = zmq.Context()
    notebooks = []
    status = 0
    try:
        notebooks = [Notebook(ctx, info, key) for _ in range(args.notebooks)]
        poller = zmq.Poller()
        by_socket = {}
        for nb in notebooks:
            poller.register(nb.sock, zmq.POLLIN)
            by_socket[nb.sock] = nb
        replies = collections.Counter()
        wrong_session, not_ok, latencies = 0, 0, []
        start = time.perf_counter()
        for nb in notebooks:
            nb.send("1")
        total = args.notebooks * args.executes
        deadline = time.monotonic() + args.timeout
        while len(latencies) < total and time.monotonic() < deadline:
            for sock, _ in poller.poll(1000):
                nb = by_socket[sock]
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    _, msg = nb.session.feed_identities(frames)
                    reply = nb.session.deserialize(msg)
                    parent = reply["parent_header"]
                    replies[parent["msg_id"]] += 1
                    sent_at = nb.inflight.pop(parent["msg_id"], None)
                    if parent.get("session") != nb.session.session or sent_at is None:
                        wrong_session += 1
                        continue
                    latencies.append(time.perf_counter() - sent_at)
                    not_ok += reply["content"]["status"] != "ok"
                    if nb.sent < args.executes:
                        nb.send("1")
        elapsed = time.perf_counter() - start
        # late duplicates: give the kernel a moment to send anything extra
        for sock, _ in poller.poll(500):
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                _, msg = by_socket[sock].session.feed_identities(frames)
                replies[by_socket[sock].session.deserialize(msg)["parent_header"]["msg_id"]] += 1
        with open(f"/proc/{kernel.pid}/status") as f:
            peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
        lost = total - len(latencies)
        duplicated = sum(n - 1 for n in replies.values() if n > 1)
        latencies.sort()
        ms = [v * 1000 for v in latencies] or [0.0]
        figures = {"notebooks": args.notebooks, "executes_each": args.executes, "workers": args.workers,
                   "requests": total, "lost": lost, "duplicated": duplicated, "wrong_session": wrong_session,
                   "not_ok": not_ok, "seconds": elapsed, "throughput_per_s": len(latencies) / elapsed,
                   "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "max_ms": ms[-1],
                   "router_peak_rss_mib": peak / 1024}
        print(f"load: {args.notebooks} notebooks x {args.executes} executes of `1` on {args.workers} workers, "
              f"{os.cpu_count()} CPUs")
        print(f"  requests {total}, replies lost {lost}, duplicated {duplicated}, to a wrong session "
              f"{wrong_session}, not ok {not_ok}")
        print(f"  {elapsed:.1f} s, {figures['throughput_per_s']:.0f} executes/s; latency p50 "
              f"{figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms, max {figures['max_ms']:.2f} ms")
        print(f"  router peak RSS {figures['router_peak_rss_mib']:.1f} MiB")
        if lost or duplicated or wrong_session:
            status = 1
        if args.json:
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=2)
    finally:
        for nb in notebooks:
            nb.sock.close()
        ctx.term()
        try:
            os.killpg(kernel.pid, signal.SIGTERM)
            kernel.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(kernel.pid, signal.SIGKILL)
            kernel.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
