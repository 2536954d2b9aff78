#!/usr/bin/python3
"""Cache mode: what a cache hit costs against running the cell.

Run from the repository root with the system Python:

    /usr/bin/python3 bench/bench_cache.py [--build build] [--runs 20]

It starts the akernel-cache kernel (kernelspec in a temporary prefix, store
in a temporary directory) and times, from sending the execute_request to
receiving both its execute_reply and its idle status (the frontend round
trip, as jupyter_client's BlockingKernelClient sees it):
  run     a cell that takes about 1 s (time.sleep(1)) the first time;
  hit     the same cell again, --runs times: served from the store;
  trivial `1` in the same kernel, for the floor of a round trip.
Target: a hit in under 10 ms. No asserts: it prints figures.
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from jupyter_client import KernelManager

ROOT = pathlib.Path(__file__).resolve().parents[1]


def round_trip(kc, code, timeout=60):
    start = time.perf_counter()
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            break
    elapsed = time.perf_counter() - start
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code!r}: {reply['content']}")
    return elapsed * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    gateway = pathlib.Path(args.build).resolve() / "akernel-gateway"
    prefix = tempfile.mkdtemp(prefix="akg-bench-cache-")
    store = os.path.join(prefix, "store")
    km = None
    try:
        subprocess.run([str(gateway), "install", "cache", "--prefix", prefix], check=True,
                       stdout=subprocess.DEVNULL)
        os.environ["JUPYTER_PATH"] = os.path.join(prefix, "share", "jupyter")
        km = KernelManager(kernel_name="akernel-cache")
        km.start_kernel(env=dict(os.environ, AKERNEL_GATEWAY_CACHE_DIR=store))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        slow = "time_spent = __import__('time').sleep(1) or 1.0\ntime_spent"  # no import: cacheable
        trivial = [round_trip(kc, "1") for _ in range(args.runs)]
        first = round_trip(kc, slow)
        hits = [round_trip(kc, slow) for _ in range(args.runs)]
        figures = {"run_ms": first, "hit_median_ms": statistics.median(hits), "hit_max_ms": max(hits),
                   "trivial_median_ms": statistics.median(trivial)}
        print(f"cache mode, a cell that takes 1 s; {args.runs} hits; "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        print(f"  run (miss, stored)      {first:9.1f} ms")
        print(f"  hit, median             {figures['hit_median_ms']:9.2f} ms   (max {max(hits):.2f} ms)")
        print(f"  trivial `1`, median     {figures['trivial_median_ms']:9.2f} ms")
        verdict = "PASS" if figures["hit_median_ms"] < 10 else "MISS"
        print(f"  hit under 10 ms: {verdict}; {first / figures['hit_median_ms']:.0f}x faster than running it")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=2)
        kc.stop_channels()
    finally:
        if km is not None and km.has_kernel:
            km.shutdown_kernel(now=True)
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    main()
