#!/usr/bin/python3
"""React mode: what re-running a chain of dependent cells costs.

Run from the repository root with the system Python:

    /usr/bin/python3 bench/bench_react.py [--build build] [--cells 100] [--runs 60]

It starts the akernel-react kernel (kernelspec written to a temporary
prefix), runs a chain of --cells cells with cellIds, `x1 = x0 + 1; x1`,
`x2 = x1 + 1; x2`, ..., then changes the top cell (`x0 = N`) --runs times.
Each change re-runs the whole chain, and each dependent's shown result is
replaced with an update_display_data. Figures (median and min over the runs):

  end to end   from sending the change to its execute_reply, which the
               worker sends after the last update; "chain - lone" subtracts
               the same for a cell without dependents, measured before on the
               same kernel, and is what the chain costs, the router (signing
               and publishing every update) included. The client does not
               read iopub while timing (messages are checked after), so its
               decoding is not counted
  in worker    from the end of the top cell's own code to the end of the last
               dependent's code, read with time.perf_counter() in the worker
  cells' work  the dependents' own code: the same statements exec'd in a loop
  overhead     in worker minus cells' work: the graph, running, formatting
               and sending the updates
  async        the same for a second chain whose cells each start with
               `await asyncio.sleep(0)`: they re-run in a task, at least one
               loop iteration each

BENCH_REACT_SAMPLES=1 also prints every sample.
No asserts: it prints figures. A kernel that fails makes it exit 1.
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--runs", type=int, default=60)
    args = ap.parse_args()

    specs = tempfile.mkdtemp(prefix="akg-bench-react-")
    os.environ["JUPYTER_PATH"] = os.path.join(specs, "share", "jupyter")
    os.environ.setdefault("JUPYTER_RUNTIME_DIR", os.path.join(specs, "runtime"))
    gateway = pathlib.Path(args.build) / "akernel-gateway"
    subprocess.run([str(gateway), "install", "react", "--prefix", specs], check=True, stdout=subprocess.DEVNULL)

    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="akernel-react")
    km.start_kernel(stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        return bench(kc, args.cells, args.runs)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        shutil.rmtree(specs, ignore_errors=True)


def send(kc, code, cell_id):
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}
    msg = kc.session.msg("execute_request", content, metadata={"cellId": cell_id})
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def wait_reply(kc, msg_id):
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"cell failed: {reply['content']}")
            return reply


def drain(kc, msg_id):
    """The iopub messages of a request, up to its idle status."""
    msgs = []
    while True:
        m = kc.get_iopub_msg(timeout=60)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            return msgs
        msgs.append(m)


def execute(kc, code, cell_id):
    msg_id = send(kc, code, cell_id)
    wait_reply(kc, msg_id)
    return drain(kc, msg_id)


def timed(kc, code, cell_id):
    t0 = time.perf_counter()
    msg_id = send(kc, code, cell_id)
    wait_reply(kc, msg_id)
    elapsed = time.perf_counter() - t0
    return elapsed, drain(kc, msg_id)


def shown_text(msgs, msg_type):
    return [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == msg_type]


def chain_figures(kc, n, runs, name, prefix=""):
    """Build a chain name0 -> name1 -> ... -> nameN and change name0 `runs` times.
    Returns (end-to-end seconds, in-worker seconds) lists, or None on a failure."""
    top = name + "0 = {}\nstamps.append(time.perf_counter())"
    execute(kc, top.format(0), f"{name}0")
    for i in range(1, n + 1):
        prev = f"{name}{i - 1}"
        stamp = "\nstamps.append(time.perf_counter())" if i == n else ""
        execute(kc, f"{prefix}{name}{i} = {prev} + 1{stamp}\n{name}{i}", f"{name}{i}")
    chain, in_worker = [], []
    probe = "print(stamps[-1] - stamps[-2])"  # end of the top cell -> end of the last dependent
    for r in range(1, runs + 1):
        t, msgs = timed(kc, top.format(r), f"{name}0")
        updates = shown_text(msgs, "update_display_data")
        if len(updates) != n or updates[-1] != str(r + n):
            print(f"run {r}: expected {n} updates ending with {r + n}, got {len(updates)}: {updates[-3:]}")
            return None
        chain.append(t)
        msgs = execute(kc, probe, "probe")
        in_worker.append(float("".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")))
    return chain, in_worker


def bench(kc, n, runs) -> int:
    # stamps is defined by a cell that never re-runs: appending to it makes
    # no cell depend on the top one (only x0 and the chain's names link it)
    execute(kc, "import time\nstamps = []", "setup")
    execute(kc, "lone = 0", "lone")
    lone = []
    for r in range(1, runs + 1):
        t, msgs = timed(kc, f"lone = {r}", "lone")
        if shown_text(msgs, "update_display_data"):
            print("the lone cell has dependents")
            return 1
        lone.append(t)
    figures = chain_figures(kc, n, runs, "x")
    if figures is None:
        return 1
    chain, in_worker = figures
    # the cells' own work: the same statements, exec'd in a loop
    work_cell = (
        f"_codes = [compile('x{{0}} = x{{1}} + 1\\nx{{0}}'.format(i, i - 1), '<w>', 'exec') for i in range(1, {n + 1})]\n"
        "_best = None\n"
        "for _ in range(20):\n"
        "    _t = time.perf_counter()\n"
        "    for _c in _codes:\n"
        "        exec(_c, globals())\n"
        "    _e = time.perf_counter() - _t\n"
        "    _best = _e if _best is None else min(_best, _e)\n"
        "print(_best)")
    msgs = execute(kc, work_cell, "work")
    work = float("".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream"))
    # the same chain of async cells (a re-run per loop iteration at least)
    figures = chain_figures(kc, n, runs, "y", prefix="await asyncio.sleep(0)\n")
    if figures is None:
        return 1
    achain, ain_worker = figures

    if os.environ.get("BENCH_REACT_SAMPLES"):
        print("chain", sorted(round(t * 1000, 2) for t in chain))
        print("lone", sorted(round(t * 1000, 2) for t in lone))
    ms = lambda s: f"{s * 1000:7.2f} ms"  # noqa: E731
    med = statistics.median
    print(f"react mode, a chain of {n} dependent cells, {runs} changes at the top "
          "(median, min; end to end = send to execute_reply)")
    print(f"  end to end, lone cell            {ms(med(lone))}  {ms(min(lone))}")
    print(f"  end to end, chain                {ms(med(chain))}  {ms(min(chain))}")
    print(f"  end to end, chain - lone         {ms(med(chain) - med(lone))}"
          f"             {(med(chain) - med(lone)) / n * 1e6:5.1f} us per cell")
    print(f"  in worker, propagation           {ms(med(in_worker))}  {ms(min(in_worker))}")
    print(f"  cells' own work                  {ms(work)}")
    print(f"  overhead in worker               {ms(med(in_worker) - work)}"
          f"             {(med(in_worker) - work) / n * 1e6:5.1f} us per cell")
    print("  async cells (await asyncio.sleep(0) each):")
    print(f"  end to end, chain - lone         {ms(med(achain) - med(lone))}"
          f"             {(med(achain) - med(lone)) / n * 1e6:5.1f} us per cell")
    print(f"  in worker, propagation           {ms(med(ain_worker))}  {ms(min(ain_worker))}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
