#!/usr/bin/python3
"""Benchmark one akernel-gateway serving many notebooks, against ipykernel.

Run from the repository root with the system Python (it needs jupyter_client
and pyzmq):

    /usr/bin/python3 bench/bench_notebooks.py [--build build] [--quick] [--json FILE]

A "notebook" is a client with a jupyter_client Session of its own (its own
session id in every header) that connects shell, control, stdin and iopub, as
Jupyter Server does for each notebook (--channels changes that). All
notebooks of an akernel-gateway share ONE kernel started as
`akernel-gateway launch multi -f CONN` (each session gets its own namespace),
either on shared workers (--workers 2) or with `--isolate` (a worker process
per session); each ipykernel notebook is a kernel process of its own. Every
client is driven from this one process with a zmq.Poller over all sockets.

  1. memory      PSS (/proc/PID/smaps_rollup) summed over the kernel's whole
                 process tree (router, zygote, workers; or all the ipykernels)
                 once every notebook has run `x = 1`, per notebook and marginal:
                 (PSS(N) - PSS(1)) / (N - 1). Notebooks are added to one
                 running kernel (ipykernels: started in parallel batches).
                 An extra row repeats the shared case with clients that
                 connect only shell and iopub (the router's per-connection cost).
  2. new notebook  with a kernel serving 8 notebooks, a new client (new
                 session) sends `1`: time from the send to its execute_reply
                 (its sockets are connected and subscribed first), repeated
                 with a new session each time. ipykernel's equivalent is a new
                 kernel: Popen to its first execute_reply.
  3. throughput  N notebooks at once (shared workers), each with one `1` in
                 flight (the next is sent when reply and status idle arrived):
                 executes/s, per-request latency, CPU of router, workers and
                 this client. The gateway publishes every notebook's iopub
                 messages to every notebook (one kernel-wide topic), so with N
                 notebooks this client receives N copies of each; a second run
                 with one shared SUB socket per kernel removes those copies
                 (a diagnostic). A third runs `serve` with each notebook
                 attached (`attach -f FILE`: its own sockets, no copies), and
                 a fourth N ipykernels, one per notebook; executes/s ratios.
  4. cores       a pure-Python CPU loop calibrated to ~1 s: one alone, two one
                 after the other, two at once from two notebooks on different
                 workers (ipykernel: two kernels); speedup = sequential / at once.
  5. isolation   latency of `1` from one notebook while another notebook's cell
                 (a) awaits asyncio.sleep(2) on the same worker, (b) blocks in
                 time.sleep(2) on the other worker.

Figures are printed with PASS/MISS against the targets; nothing is asserted.
A completed measurement exits 0 whether or not the targets are met; a kernel
that hangs, crashes or answers with an error makes that part fail (reported,
with the kernel's output) and the script exit 1.
"""

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

import jupyter_client  # noqa: E402
from jupyter_client.session import Session  # noqa: E402

import bench_kernel as bk  # noqa: E402
from bench_kernel import BenchError, Kernel, percentile  # noqa: E402

DELIM = bk.DELIM
_send, _recv, _get = bk._send, bk._recv, bk._get
_SNDMORE, _RCVMORE, _EVENTS, _POLLIN = bk._SNDMORE, bk._RCVMORE, bk._EVENTS, bk._POLLIN

MIB = 1024.0
TARGET_MARGINAL_SHARED_MIB = 0.1
TARGET_MARGINAL_ISOLATED_MIB = 5.0
TARGET_NEW_SHARED_MS = 2.0
TARGET_NEW_ISOLATED_MS = 20.0
TARGET_P99_32_MS = 10.0
SEND_TIMEOUT_MS = 30_000
TARGET_SPEEDUP = 1.85
TARGET_ISOLATION_MS = 3.0
IPYKERNEL_REFERENCE_MIB = 52.0
EXEC_IN_FLIGHT = 32  # memory phase: executes in flight at once (iopub HWM is 1000)


def ipykernel_argv(f):
    return ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", f]


# --------------------------------------------------------------------------
# Process trees and memory

def tree(root):
    """[(pid, depth)] of root and every live descendant (/proc children)."""
    out, stack = [], [(root, 0)]
    while stack:
        pid, depth = stack.pop()
        out.append((pid, depth))
        for t in bk.thread_ids(pid):
            try:
                with open(f"/proc/{pid}/task/{t}/children") as f:
                    stack.extend((int(c), depth + 1) for c in f.read().split())
            except OSError:
                pass
    return out


def rollup(pid):
    """{'Pss': kB, 'Rss': kB, 'Uss': kB} from smaps_rollup, or None if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    v = {}
    for line in text.splitlines()[1:]:
        k, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            v[k] = int(parts[0])
    if "Pss" not in v:
        return None
    return {"Pss": v["Pss"], "Rss": v.get("Rss", 0),
            "Uss": v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)}


def tree_memory(roots):
    """PSS/RSS/USS (kB) summed over the process trees of roots, with the PSS
    split by depth: 0 router (or ipykernel), 1 zygote, >= 2 workers."""
    tot = {"Pss": 0, "Rss": 0, "Uss": 0}
    by_role = {"router": 0, "zygote": 0, "workers": 0}
    nproc = 0
    for root in roots:
        for pid, depth in tree(root):
            r = rollup(pid)
            if r is None:
                continue
            nproc += 1
            for k in tot:
                tot[k] += r[k]
            by_role[("router", "zygote", "workers")[min(depth, 2)]] += r["Pss"]
    return {"pss_kb": tot["Pss"], "rss_kb": tot["Rss"], "uss_kb": tot["Uss"],
            "processes": nproc, "pss_by_role_kb": by_role}


def cpu_busy_pct(seconds=0.5):
    """Share of all CPUs busy during `seconds` (/proc/stat), in %: taken
    between parts, when no kernel of this run is alive, it is other load."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 100.0 * (1.0 - (i1 - i0) / max(1, t1 - t0))


def tree_cpu_s(roots):
    """utime + stime (s) of the live processes in the trees of roots, by
    depth: {'router': s, 'zygote': s, 'workers': s}."""
    tck = os.sysconf("SC_CLK_TCK")
    by_role = {"router": 0, "zygote": 0, "workers": 0}
    for root in roots:
        for pid, depth in tree(root):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            by_role[("router", "zygote", "workers")[min(depth, 2)]] += (
                int(fields[11]) + int(fields[12]))
    return {k: v / tck for k, v in by_role.items()}


# --------------------------------------------------------------------------
# Notebooks: lean clients on one shared context, driven by one poller

class Req:
    __slots__ = ("nb", "msg_id", "key", "code", "t0", "t_reply", "t_busy", "t_idle",
                 "t_input", "reply", "outputs", "need_idle", "cb")

    def __init__(self, nb, msg_id, code, need_idle, cb):
        self.nb, self.msg_id, self.key, self.code = nb, msg_id, msg_id.encode(), code
        self.t0 = self.t_reply = self.t_busy = self.t_idle = self.t_input = None
        self.reply, self.outputs, self.need_idle, self.cb = None, {}, need_idle, cb

    def done(self):
        return self.reply is not None and (self.t_idle is not None or not self.need_idle)

    def reply_ms(self):
        return (self.t_reply - self.t0) * 1000.0

    def done_ms(self):
        return (max(self.t_reply, self.t_idle or 0.0) - self.t0) * 1000.0

    def result_text(self):
        return self.outputs.get("execute_result", {}).get("data", {}).get("text/plain")

    def check(self, expect=None):
        """BenchError unless the reply is ok (and the result is `expect`)."""
        name = self.nb.kernel.name
        if self.reply.get("status") != "ok":
            err = self.outputs.get("error")
            raise BenchError(f"{name}: execute of {self.code!r} (session {self.nb.sid}) replied "
                             f"{json.dumps(self.reply)[:800]}"
                             + (f"\nerror output: {json.dumps(err)[:800]}" if err else ""))
        if expect is not None and self.result_text() != expect:
            raise BenchError(f"{name}: execute of {self.code!r} (session {self.nb.sid}): result "
                             f"{self.result_text()!r}, expected {expect!r} (iopub outputs: "
                             f"{json.dumps(self.outputs)[:800]})")


class Notebook:
    """One notebook: a Session of its own, and its own sockets to a kernel."""

    def __init__(self, hub, kernel, monitor_shell=False):
        self.hub, self.kernel = hub, kernel
        cfg = kernel.cfg
        self.session = Session(key=kernel.key, signature_scheme="hmac-sha256", username="bench")
        self.sid = self.session.session
        self.pending = {}  # msg_id -> Req
        self.subscribed = False
        self.foreign = 0  # iopub messages of other sessions' requests
        ctx, ident, ip = hub.ctx, self.session.bsession, cfg["ip"]
        self.socks = []
        self.monitor = None
        self.shell = self.iopub = self.control = None
        for ch in hub.channels:
            if ch == "iopub" and hub.shared_iopub:
                continue  # the hub's one SUB socket per kernel stands in
            if ch == "iopub":
                s = ctx.socket(zmq.SUB)
                s.setsockopt(zmq.SUBSCRIBE, b"")
            else:
                s = ctx.socket(zmq.DEALER)
                s.setsockopt(zmq.IDENTITY, ident)
            if ch == "shell" and monitor_shell:
                self.monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            s.connect(f"tcp://{ip}:{cfg[ch + '_port']}")
            setattr(self, ch, s)
            self.socks.append(s)
        hub.add(self)

    def close(self):
        self.hub.remove(self)
        if self.monitor is not None:
            try:
                self.shell.disable_monitor()
            except zmq.ZMQError:
                pass
            self.monitor.close(linger=0)
            self.monitor = None
        for s in self.socks:
            s.close(linger=0)
        self.socks = []

    def wait_shell_connected(self, timeout):
        """Until the shell socket's ZMTP handshake with the kernel is done."""
        if not self.monitor.poll(int(timeout * 1000)):
            raise BenchError(f"{self.kernel.name}: shell connection not established within "
                             f"{timeout} s")
        self.monitor.recv_multipart()

    def send(self, sock, msg_type, content):
        try:
            return bk.send_signed(sock, self.session, self.sid, msg_type, content)
        except zmq.Again:  # the hub's SNDTIMEO: the kernel's socket is full or never came up
            raise BenchError(f"{self.kernel.name}: {msg_type}: could not be sent within "
                             f"{SEND_TIMEOUT_MS / 1000:g} s") from None

    def execute(self, code, need_idle=True, cb=None):
        content = {"code": code, "silent": False, "store_history": True,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
        t0 = time.perf_counter()
        msg_id = self.send(self.shell, "execute_request", content)
        r = Req(self, msg_id, code, need_idle, cb)
        r.t0 = t0
        self.pending[msg_id] = r
        if self.hub.shared_iopub:
            self.hub.owners[msg_id] = self
        return r


    def _parse(self, frames):
        return bk.parse_signed(frames, self.session, self.kernel.name)

    def on_shell(self, now):
        while (frames := bk.recv_frames(self.shell)) is not None:
            msg_type, parent, content = self._parse(frames)
            r = self.pending.get(parent)
            if r is not None and msg_type.endswith("_reply"):
                r.reply = json.loads(content)
                r.t_reply = now
                self._maybe_done(r)

    def on_iopub(self, now):
        probes = self.hub.probes
        while (frames := bk.recv_frames(self.iopub)) is not None:
            try:
                parent_raw = frames[frames.index(DELIM) + 3]
            except (ValueError, IndexError):
                raise BenchError(f"{self.kernel.name}: a malformed iopub message") from None
            # Another session's message: recognised by a substring test on the
            # raw parent header and dropped without parsing or HMAC.
            r = next((r for r in self.pending.values() if r.key in parent_raw), None)
            probe = r is None and any(p in parent_raw for p in probes)
            if r is None and not probe:
                self.foreign += 1
                continue
            msg_type, parent, content = self._parse(frames)
            if probe:
                if msg_type == "status":
                    self.subscribed = True
                continue
            if r.msg_id != parent:
                continue
            self.iopub_event(r, msg_type, content, now)

    def iopub_event(self, r, msg_type, content, now):
        if msg_type == "status":
            state = json.loads(content).get("execution_state")
            if state == "idle":
                r.t_idle = now
                self._maybe_done(r)
            elif state == "busy":
                r.t_busy = now
        elif msg_type == "execute_input":
            r.t_input = now
        elif msg_type in ("execute_result", "error", "stream"):
            r.outputs[msg_type] = json.loads(content)

    def _maybe_done(self, r):
        if r.done():
            del self.pending[r.msg_id]
            if self.hub.shared_iopub:
                self.hub.owners.pop(r.msg_id, None)
            if r.cb is not None:
                r.cb(r)


class SharedIopub:
    """With Hub(shared_iopub=True): one SUB socket per kernel receives each
    iopub message once and hands it to the notebook whose request it answers
    (a diagnostic: it removes the per-notebook copies of every message)."""

    def __init__(self, hub, kernel):
        self.hub, self.kernel = hub, kernel
        self.session = Session(key=kernel.key, signature_scheme="hmac-sha256", username="bench")
        self.sock = hub.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(f"tcp://{kernel.cfg['ip']}:{kernel.cfg['iopub_port']}")
        self.subscribed = False
        self.foreign = 0

    def on_iopub(self, now):
        probes, owners = self.hub.probe_ids, self.hub.owners
        while (frames := bk.recv_frames(self.sock)) is not None:
            msg_type, parent, content = Notebook._parse(self, frames)
            if parent in probes:
                if msg_type == "status" and not self.subscribed:
                    self.subscribed = True
                    for nb in self.hub.notebooks:
                        if nb.kernel is self.kernel:
                            nb.subscribed = True
                continue
            nb = owners.get(parent)
            r = nb.pending.get(parent) if nb is not None else None
            if r is None:
                self.foreign += 1
                continue
            nb.iopub_event(r, msg_type, content, now)


class Hub:
    """Every notebook's shell and iopub sockets in one zmq.Poller."""

    def __init__(self, channels, shared_iopub=False):
        self.ctx = zmq.Context(io_threads=1)
        self.ctx.set(zmq.MAX_SOCKETS, 16384)  # a context option
        self.ctx.setsockopt(zmq.LINGER, 0)
        self.ctx.setsockopt(zmq.RECONNECT_IVL, 1)
        self.ctx.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)  # no send blocks the run for ever
        self.channels = channels
        self.poller = zmq.Poller()
        self.handlers = {}  # socket -> bound handler
        self.notebooks = []
        self.probes = []  # msg_ids (bytes) of kernel_info probes
        self.probe_ids = set()  # the same, as str
        self.shared_iopub = shared_iopub
        self.shared = {}  # id(kernel) -> SharedIopub
        self.owners = {}  # with shared_iopub: msg_id -> notebook, while pending

    def add(self, nb):
        self.notebooks.append(nb)
        pairs = [(nb.shell, nb.on_shell)]
        if self.shared_iopub:
            sh = self.shared.get(id(nb.kernel))
            if sh is None:
                sh = self.shared[id(nb.kernel)] = SharedIopub(self, nb.kernel)
                pairs.append((sh.sock, sh.on_iopub))
            nb.subscribed = sh.subscribed
        else:
            pairs.append((nb.iopub, nb.on_iopub))
        for s, h in pairs:
            self.poller.register(s, zmq.POLLIN)
            self.handlers[s] = h

    def remove(self, nb):
        self.notebooks.remove(nb)
        for s in (nb.shell, nb.iopub):
            if s is not None:
                self.poller.unregister(s)
                del self.handlers[s]

    def close(self):
        for nb in list(self.notebooks):
            nb.close()
        for sh in self.shared.values():
            sh.sock.close(linger=0)
        self.ctx.destroy(linger=0)

    def pump(self, timeout_s):
        """Handle whatever arrives within timeout_s (at least one poll)."""
        events = self.poller.poll(max(0, int(timeout_s * 1000)))
        now = time.perf_counter()
        for sock, _ in events:
            self.handlers[sock](now)
        return bool(events)

    def run_until(self, done, timeout, kernels, what):
        """Pump until done() is true; BenchError after timeout s or if a kernel exits."""
        deadline = time.perf_counter() + timeout
        last_check = 0.0
        while not done():
            now = time.perf_counter()
            if now > deadline:
                raise BenchError(f"{what}: not done within {timeout} s")
            got = self.pump(min(0.1, deadline - now))
            if not got or now - last_check > 0.5:
                last_check = now
                for k in kernels:
                    if k.exited():
                        raise BenchError(f"{k.name}: exited with status {k.proc.returncode} "
                                         f"({what})")

    def subscribe(self, notebooks, probe_nb, timeout, kernels):
        """Until every notebook's iopub socket is subscribed: probe_nb sends
        kernel_info_request (every 100 ms) and each notebook whose SUB socket
        saw a status message of a probe is known subscribed."""
        waiting = [nb for nb in notebooks if not nb.subscribed]
        if not waiting:
            return
        deadline = time.perf_counter() + timeout
        try:
            while waiting:
                if time.perf_counter() > deadline:
                    raise BenchError(f"{probe_nb.kernel.name}: {len(waiting)} iopub sockets not "
                                     f"subscribed (no status for kernel_info) within {timeout} s")
                pid = probe_nb.send(probe_nb.shell, "kernel_info_request", {})
                self.probes.append(pid.encode())
                self.probe_ids.add(pid)
                end = time.perf_counter() + 0.1
                while time.perf_counter() < end and any(not nb.subscribed for nb in waiting):
                    self.pump(max(0.0, end - time.perf_counter()))
                for k in kernels:
                    if k.exited():
                        raise BenchError(f"{k.name}: exited with status {k.proc.returncode} "
                                         "(waiting for iopub subscriptions)")
                waiting = [nb for nb in waiting if not nb.subscribed]
            # Late copies of the probes' status messages and the replies are
            # drained by later pumps; the probes' ids stay known until then.
        finally:
            if len(self.probes) > 64:
                for p in self.probes[:-16]:
                    self.probe_ids.discard(p.decode())
                del self.probes[:-16]

    def execute_all(self, notebooks, code, timeout, kernels, expect=None, in_flight=EXEC_IN_FLIGHT):
        """code in every notebook, at most in_flight at once; each checked."""
        todo = list(notebooks)
        reqs = []
        active = [0]

        def on_done(r):
            active[0] -= 1

        t_end = time.perf_counter() + timeout
        while todo or active[0]:
            while todo and active[0] < in_flight:
                reqs.append(todo.pop(0).execute(code, cb=on_done))
                active[0] += 1
            self.run_until(lambda: (todo and active[0] < in_flight) or not active[0],
                           max(0.1, t_end - time.perf_counter()), kernels,
                           f"{len(notebooks)} notebooks executing {code!r}")
        for r in reqs:
            r.check(expect)
        return reqs


def drain(hub, seconds):
    """Handle whatever arrives during the next `seconds`."""
    end = time.perf_counter() + seconds
    while (left := end - time.perf_counter()) > 0:
        hub.pump(left)


def shutdown_kernel(nb, timeout=5.0):
    """shutdown_request on nb's control socket (a temporary one if nb has
    none); True if shutdown_reply came."""
    control = nb.control
    if control is None:
        control = nb.hub.ctx.socket(zmq.DEALER)
        control.setsockopt(zmq.IDENTITY, nb.session.bsession)
        control.connect(f"tcp://{nb.kernel.cfg['ip']}:{nb.kernel.cfg['control_port']}")
    try:
        msg_id = nb.send(control, "shutdown_request", {"restart": False})
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not control.poll(100):
                continue
            while (frames := bk.recv_frames(control)) is not None:
                msg_type, parent, _ = nb._parse(frames)
                if parent == msg_id and msg_type == "shutdown_reply":
                    return True
        return False
    finally:
        if control is not nb.control:
            control.close(linger=0)


class Bench:
    """Run-wide state: environment, options, results, errors, notes."""

    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.gw = os.path.join(self.build, "akernel-gateway")
        self.scratch = tempfile.mkdtemp(prefix="akg-bench-nb-")
        self.env = dict(os.environ, IPYTHONDIR=os.path.join(self.scratch, "ipython"),
                        JUPYTER_RUNTIME_DIR=os.path.join(self.scratch, "runtime"))
        self.channels = args.channels.split(",")
        self.results = {}
        self.errors = {}
        self.notes = []

    def gateway_argv(self, isolate, workers=None, max_workers=None):
        workers = workers or self.args.workers

        def argv(f):
            a = [self.gw, "launch", "multi", "-f", f]
            if isolate:
                a += ["--isolate"]
            else:
                a += ["--workers", str(workers)]
            if max_workers:
                a += ["--max-workers", str(max_workers)]
            return a
        return argv

    def start_kernel(self, name, argv_for):
        k = Kernel(name, argv_for, self.env)
        k.start()
        return k

    def stop_kernels(self, hub, kernels, label):
        """Shut each kernel down through a notebook's control socket; note any
        kernel that did not answer or had to be killed."""
        firsts = {}
        for nb in hub.notebooks:
            firsts.setdefault(id(nb.kernel), nb)
        replied = {}
        for k in kernels:
            nb = firsts.get(id(k))
            if nb is not None and not k.exited():
                replied[id(k)] = shutdown_kernel(nb)
        for k in kernels:
            k.stop(wait_exit=10.0)
            if k.name.startswith("akernel-gateway"):
                self.scan_log(k, label)
            ok = replied.get(id(k), False)
            if not ok or k.signalled or k.exit_status != 0:
                self.notes.append(
                    f"{label}: {k.name} (pid {k.proc.pid}): shutdown_reply "
                    f"{'received' if ok else 'MISSING'}, "
                    f"{'had to be killed' if k.signalled else 'exited'}, exit status "
                    f"{k.exit_status}\n--- its output ---\n{k.log_tail(15)}")

    def scan_log(self, k, label):
        """Note the gateway's warnings and errors (its log is removed later)."""
        try:
            with open(k.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return
        bad = [ln for ln in lines if " WARN " in ln or " ERROR " in ln or "Sanitizer" in ln]
        if bad:
            self.notes.append(f"{label}: the kernel (pid {k.proc.pid}) logged {len(bad)} "
                              "warnings/errors, e.g.:\n    "
                              + "\n    ".join(bad[:5]))

    def fail(self, part, e, kernels):
        # The kernels that exited first: theirs is the output that explains.
        shown = sorted(kernels, key=lambda k: not k.exited())[:3]
        logs = "\n".join(f"--- {k.name} (pid {k.proc.pid if k.proc else '-'}, "
                         f"{'exited ' + str(k.proc.returncode) if k.exited() else 'running'}) "
                         f"output ---\n{k.log_tail(30)}" for k in shown)
        self.errors[part] = f"{e}\n{logs}"
        print(f"ERROR in {part}: {e}", file=sys.stderr)


def status(msg):
    print(msg, file=sys.stderr, flush=True)


class Part:
    """One part of the benchmark, as a context: the kernels it starts are
    recorded; a BenchError inside fails the part (with their output) and
    lets the run go on; at the end the hub is closed and every kernel it
    started is stopped (by PID) and its files removed."""

    def __init__(self, b, name, hub):
        self.b, self.name, self.hub = b, name, hub
        self.kernels = []

    def start(self, label, argv_for):
        k = self.b.start_kernel(label, argv_for)
        self.kernels.append(k)
        return k

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        failed = kind is not None and issubclass(kind, BenchError)
        try:
            if failed:
                self.b.fail(self.name, error, self.kernels)
        finally:
            self.hub.close()
            for k in self.kernels:
                k.cleanup()
        return failed


# --------------------------------------------------------------------------
# 1. memory per notebook

def grow_gateway(hub, kernel, notebooks, n, timeout):
    """Add notebooks until there are n; each new one runs `x = 1`."""
    new = [Notebook(hub, kernel) for _ in range(n - len(notebooks))]
    notebooks.extend(new)
    hub.subscribe(new, notebooks[0], timeout, [kernel])
    hub.execute_all(new, "x = 1", timeout, [kernel])


def settle_and_read(roots, settle):
    time.sleep(settle)
    return tree_memory(roots)


def memory_gateway(b, label, argv_for, counts, part, channels=None):
    args = b.args
    hub = Hub(channels or b.channels)
    rows = []
    with Part(b, part, hub) as run:
        k = run.start(label, argv_for)
        notebooks = []
        for n in counts:
            status(f"memory: {label}: {n} notebooks ...")
            t = time.perf_counter()
            grow_gateway(hub, k, notebooks, n, args.timeout)
            t_grow = time.perf_counter() - t
            # Each notebook's namespace is its own: `x` is 1 in the first and last.
            for nb in (notebooks[0], notebooks[-1]):
                hub.execute_all([nb], "x", args.timeout, [k], expect="1")
            m = settle_and_read([k.proc.pid], args.settle)
            m.update(notebooks=n, grow_s=t_grow,
                     foreign_iopub=sum(nb.foreign for nb in notebooks))
            rows.append(m)
        b.stop_kernels(hub, [k], f"memory {label}")
    return rows


def start_ipykernels(b, hub, n, timeout, kernels, notebooks):
    """n more ipykernels, started in parallel batches, appended to kernels
    (at once, for cleanup) and, with one subscribed notebook each, to
    notebooks. A kernel that exits while starting is noted (with its output)
    and replaced, at most 3 times per call: its ports are picked by
    write_connection_file before the kernel binds them, a window in which
    another process may take one."""
    batch = max(1, b.args.ipykernel_batch)
    retries = 3
    todo = n
    while todo:
        ks = []
        for _ in range(min(batch, todo)):
            k = b.start_kernel("ipykernel", ipykernel_argv)
            ks.append(k)
            kernels.append(k)
        for k in ks:
            nb = Notebook(hub, k)
            try:
                hub.subscribe([nb], nb, timeout, [k])
            except BenchError:
                if not k.exited() or retries == 0:
                    raise
                retries -= 1
                b.notes.append(f"ipykernel (pid {k.proc.pid}) exited with status "
                               f"{k.proc.returncode} while starting; replaced. Its output:\n"
                               + k.log_tail(12))
                nb.close()
                kernels.remove(k)
                k.cleanup()
                continue
            notebooks.append(nb)
            todo -= 1


def memory_ipykernel(b, counts, part):
    args = b.args
    hub = Hub(b.channels)
    notebooks, rows = [], []
    with Part(b, part, hub) as run:
        kernels = run.kernels
        for n in counts:
            status(f"memory: ipykernel: {n} kernels ...")
            t = time.perf_counter()
            before = len(notebooks)
            start_ipykernels(b, hub, n - len(kernels), args.timeout, kernels, notebooks)
            hub.execute_all(notebooks[before:], "x = 1", args.timeout, kernels)
            t_grow = time.perf_counter() - t
            m = settle_and_read([k.proc.pid for k in kernels], args.settle)
            m.update(notebooks=n, grow_s=t_grow)
            rows.append(m)
        b.stop_kernels(hub, kernels, "memory ipykernel")
    return rows


def add_marginals(rows):
    if not rows:
        return
    base = rows[0]
    for r in rows:
        r["pss_per_notebook_mib"] = r["pss_kb"] / r["notebooks"] / MIB
        if r["notebooks"] > base["notebooks"]:
            r["marginal_mib"] = ((r["pss_kb"] - base["pss_kb"])
                                 / (r["notebooks"] - base["notebooks"]) / MIB)
        else:
            r["marginal_mib"] = None


# --------------------------------------------------------------------------
# 2. an additional notebook's first execute_reply

def new_notebook_gateway(b, label, argv_for, part):
    args = b.args
    hub = Hub(b.channels)
    samples, to_idle = [], []
    with Part(b, part, hub) as run:
        k = run.start(label, argv_for)
        notebooks = []
        grow_gateway(hub, k, notebooks, 8, args.timeout)
        status(f"new notebook: {label}: {args.new_runs} new sessions on a kernel serving 8 ...")
        for i in range(args.new_runs + 1):  # the first is a warm-up
            nb = Notebook(hub, k, monitor_shell=True)
            nb.wait_shell_connected(args.timeout)
            hub.subscribe([nb], notebooks[0], args.timeout, [k])
            drain(hub, 0.02)  # let the probes' last messages pass
            r = nb.execute("1")
            hub.run_until(r.done, args.timeout, [k], f"first execute of a new notebook (#{i})")
            r.check("1")
            notebooks.append(nb)
            if i:
                samples.append(r.reply_ms())
                to_idle.append(r.done_ms())
        b.stop_kernels(hub, [k], f"new notebook {label}")
    return summarize(samples, extra={"to_idle_median_ms": statistics.median(to_idle)
                                     if to_idle else None})


def summarize(samples, extra=None):
    if not samples:
        return {}
    s = sorted(samples)
    out = {"median_ms": statistics.median(s), "min_ms": s[0], "max_ms": s[-1],
           "runs": len(s), "samples_ms": samples}
    out.update(extra or {})
    return out


def new_kernel_startup(b, name, argv_for, runs, part):
    """A new kernel (a new notebook with ipykernel): Popen to first execute_reply."""
    ns = types.SimpleNamespace(timeout=b.args.timeout, resend_ms=5.0, reconnect_ivl_ms=1)
    first, info = [], []
    status(f"new notebook: {name}: {runs} new kernels ...")
    try:
        bk.measure_startup(name, argv_for, b.env, ns)  # untimed: page cache, IPython profile
        for _ in range(runs):
            t_info, t_exec = bk.measure_startup(name, argv_for, b.env, ns)
            info.append(t_info * 1000.0)
            first.append(t_exec * 1000.0)
    except BenchError as e:
        b.errors[part] = str(e)
        print(f"ERROR in {part}: {e}", file=sys.stderr)
    return summarize(first, extra={"kernel_info_median_ms": statistics.median(info)
                                   if info else None})


# --------------------------------------------------------------------------
# 3. aggregate throughput

def throughput(b, part, shared_iopub=False):
    args = b.args
    hub = Hub(b.channels, shared_iopub=shared_iopub)
    rows = []
    with Part(b, part, hub) as run:
        k = run.start("akernel-gateway", b.gateway_argv(isolate=False))
        notebooks = []
        for n in args.throughput_counts:
            grow_gateway(hub, k, notebooks, n, args.timeout)
            status(f"throughput: {n} notebooks at once, {args.duration:g} s"
                   f"{' (one shared iopub socket)' if shared_iopub else ''} ...")
            rows.append(throughput_run(hub, [k], notebooks, args))
        b.stop_kernels(hub, [k], "throughput")
    return rows


def throughput_ipykernel(b, part):
    """As throughput(), with N ipykernels for N notebooks (one each)."""
    args = b.args
    hub = Hub(b.channels)
    notebooks, rows = [], []
    with Part(b, part, hub) as run:
        kernels = run.kernels
        for n in args.throughput_counts:
            start_ipykernels(b, hub, n - len(kernels), args.timeout, kernels, notebooks)
            hub.execute_all(notebooks, "x = 1", args.timeout, kernels)
            status(f"throughput: {n} ipykernels at once, {args.duration:g} s ...")
            rows.append(throughput_run(hub, kernels, notebooks, args))
        b.stop_kernels(hub, kernels, "throughput ipykernel")
    return rows


def throughput_serve(b, part):
    """As throughput(), with the gateway as a service: `serve --workers N`,
    and each notebook attached (`attach -f FILE`, as the attach kernelspec
    runs it) with its own connection file, sockets and key, so each receives
    only its own iopub messages."""
    args = b.args
    hub = Hub(b.channels)
    sock = os.path.join(b.scratch, "serve.sock")
    attached, notebooks, rows = [], [], []
    with Part(b, part, hub) as run:
        serve = run.start("akernel-gateway serve",
                          lambda f: [b.gw, "serve", "--socket", sock, "--workers", str(args.workers)])
        deadline = time.perf_counter() + args.timeout
        while not os.path.exists(sock):
            if serve.exited() or time.perf_counter() > deadline:
                raise BenchError(f"serve did not open {sock}")
            time.sleep(0.01)
        for n in args.throughput_counts:
            while len(notebooks) < n:
                a = run.start("akernel-gateway attach",
                              lambda f: [b.gw, "attach", "--socket", sock, "-f", f])
                attached.append(a)
                nb = Notebook(hub, a)
                notebooks.append(nb)
                hub.subscribe([nb], nb, args.timeout, [serve, a])
            hub.execute_all(notebooks, "x = 1", args.timeout, [serve])
            status(f"throughput: {n} notebooks at once, {args.duration:g} s (serve, attached) ...")
            rows.append(throughput_run(hub, [serve], notebooks, args))
        b.stop_kernels(hub, attached, "throughput (serve)")
        serve.stop()  # SIGTERM: the service stops
        b.scan_log(serve, "throughput (serve)")
    return rows


def throughput_run(hub, kernels, notebooks, args):
    """kernels: the processes serving the notebooks (their CPU is counted)."""
    state = {"stop": False, "active": 0}
    reqs = []

    def on_done(r):
        state["active"] -= 1
        reqs.append(r)
        if not state["stop"]:
            state["active"] += 1
            r.nb.execute("1", cb=on_done)

    # Warm-up (untimed), then the timed window; requests sent in the window count.
    for nb in notebooks:
        state["active"] += 1
        nb.execute("1", cb=on_done)
    warm_end = time.perf_counter() + min(1.0, args.duration / 2)
    hub.run_until(lambda: time.perf_counter() >= warm_end, args.timeout, kernels, "throughput warm-up")
    gc_was = gc.isenabled()
    gc.disable()
    try:
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        pids = [k.proc.pid for k in kernels]
        cpu0 = tree_cpu_s(pids)
        t0 = time.perf_counter()
        t_stop = t0 + args.duration
        hub.run_until(lambda: time.perf_counter() >= t_stop, args.duration + args.timeout, kernels,
                      f"throughput with {len(notebooks)} notebooks")
        state["stop"] = True
        hub.run_until(lambda: state["active"] == 0, args.timeout, kernels,
                      "throughput: last requests")
        # Only the requests sent in [t0, t_stop) count, for every figure.
        window = [r for r in reqs if t0 <= r.t0 < t_stop]
        t_last = max(max(r.t_reply, r.t_idle) for r in window)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu1 = tree_cpu_s(pids)
    finally:
        if gc_was:
            gc.enable()
    for r in reqs:
        r.check("1")
    lat = sorted(r.done_ms() for r in window)
    elapsed = t_last - t0
    cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
    cpu_total = sum(cpu.values())
    client_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return {"notebooks": len(notebooks), "executes": len(window), "elapsed_s": elapsed,
            "executes_per_s": len(window) / elapsed, "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99), "max_ms": lat[-1], "mean_ms": sum(lat) / len(lat),
            "client_cpu_pct": 100.0 * client_cpu / elapsed,
            "kernel_cpu_pct": 100.0 * cpu_total / elapsed,
            "router_cpu_pct": 100.0 * cpu["router"] / elapsed,
            "workers_cpu_pct": 100.0 * cpu["workers"] / elapsed,
            "kernel_cpu_us_per_exec": 1e6 * cpu_total / max(1, len(window))}


# --------------------------------------------------------------------------
# 4. every core

def pid_of(hub, nb, timeout, kernels):
    r = hub.execute_all([nb], "import os as _os; _os.getpid()", timeout, kernels)[0]
    return int(r.result_text())


def calibrate(hub, nb, timeout, kernels, target_s):
    k_iters = 200_000
    for _ in range(6):
        code = ("import time as _t\n_t0 = _t.perf_counter()\nsum(i*i for i in range({}))\n"
                "_t.perf_counter() - _t0").format(k_iters)
        r = hub.execute_all([nb], code, timeout, kernels)[0]
        dt = float(r.result_text())
        if dt >= 0.25 * target_s:
            k_iters = int(k_iters * target_s / dt)
            return k_iters
        k_iters = int(k_iters * max(2.0, 0.5 * target_s / max(dt, 1e-3)))
    return k_iters


def cpu_runs(hub, a, b_nb, code, reps, timeout, kernels):
    out = {"alone_s": [], "sequential_s": [], "concurrent_s": []}
    for _ in range(reps):
        r = a.execute(code)
        hub.run_until(r.done, timeout, kernels, "CPU cell alone")
        r.check()
        out["alone_s"].append(r.reply_ms() / 1000.0)
        t0 = time.perf_counter()
        r1 = a.execute(code)
        hub.run_until(r1.done, timeout, kernels, "CPU cells one after the other")
        r2 = b_nb.execute(code)
        hub.run_until(r2.done, timeout, kernels, "CPU cells one after the other")
        r1.check()
        r2.check()
        out["sequential_s"].append(r2.t_reply - t0)
        t0 = time.perf_counter()
        r1, r2 = a.execute(code), b_nb.execute(code)
        hub.run_until(lambda: r1.done() and r2.done(), timeout, kernels, "CPU cells at once")
        r1.check()
        r2.check()
        out["concurrent_s"].append(max(r1.t_reply, r2.t_reply) - t0)
    res = {k: statistics.median(v) for k, v in out.items()}
    res["runs"] = out
    res["speedup"] = res["sequential_s"] / res["concurrent_s"]
    return res


def cores(b, part):
    """Returns (gateway result, ipykernel result, K)."""
    args = b.args
    g, ipy, k_iters = {}, {}, None
    hub = Hub(b.channels)
    with Part(b, part, hub) as run:
        k = run.start("akernel-gateway", b.gateway_argv(isolate=False))
        notebooks = []
        grow_gateway(hub, k, notebooks, 2, args.timeout)
        pids = [pid_of(hub, nb, args.timeout, [k]) for nb in notebooks]
        if pids[0] == pids[1]:
            raise BenchError(f"akernel-gateway: two notebooks on --workers {args.workers} share "
                             f"worker pid {pids[0]}")
        k_iters = calibrate(hub, notebooks[0], args.timeout, [k], args.cpu_seconds)
        code = f"sum(i*i for i in range({k_iters}))"
        status(f"cores: akernel-gateway, {code} x {args.cpu_reps} ...")
        g = cpu_runs(hub, notebooks[0], notebooks[1], code, args.cpu_reps, args.timeout, [k])
        g.update(worker_pids=pids, k=k_iters)
        b.stop_kernels(hub, [k], "cores akernel-gateway")
    if k_iters is None:
        return g, ipy, k_iters
    # Reference: the same loop in a plain /usr/bin/python3 (timed inside it).
    plain = []
    for _ in range(args.cpu_reps):
        try:
            out = subprocess.run(
                ["/usr/bin/python3", "-c", "import time\nt = time.perf_counter()\n"
                 f"sum(i*i for i in range({k_iters}))\nprint(time.perf_counter() - t)"],
                capture_output=True, text=True, timeout=args.timeout, env=b.env, check=True)
            plain.append(float(out.stdout))
        except (subprocess.SubprocessError, ValueError) as e:
            b.notes.append(f"cores: plain /usr/bin/python3 reference failed: {e}")
            break
    if plain:
        g["plain_python_alone_s"] = statistics.median(plain)
    hub = Hub(b.channels)
    with Part(b, part + " (ipykernel)", hub) as run:
        kernels, notebooks = run.kernels, []
        start_ipykernels(b, hub, 2, args.timeout, kernels, notebooks)
        code = f"sum(i*i for i in range({k_iters}))"
        status(f"cores: ipykernel (two kernels), {code} x {args.cpu_reps} ...")
        ipy = cpu_runs(hub, notebooks[0], notebooks[1], code, args.cpu_reps, args.timeout, kernels)
        b.stop_kernels(hub, kernels, "cores ipykernel")
    return g, ipy, k_iters


# --------------------------------------------------------------------------
# 5. a trivial cell while another notebook's cell awaits or blocks

def trivial_samples(hub, nb, n, timeout, kernels, spacing, while_req=None):
    """n executes of `1` from nb, spacing s apart: latency to reply + idle (ms).
    With while_req, only samples completed before while_req's reply count."""
    out = []
    for _ in range(n):
        r = nb.execute("1")
        hub.run_until(r.done, timeout, kernels, "trivial cell")
        r.check("1")
        if while_req is not None and while_req.reply is not None:
            break
        out.append(r.done_ms())
        end = time.perf_counter() + spacing
        while time.perf_counter() < end:
            hub.pump(max(0.0, end - time.perf_counter()))
    return out


def isolation(b, part):
    args = b.args
    hub = Hub(b.channels)
    res = {}
    with Part(b, part, hub) as run:
        k = run.start("akernel-gateway", b.gateway_argv(isolate=False))
        notebooks = []
        grow_gateway(hub, k, notebooks, 2, args.timeout)
        pids = [pid_of(hub, nb, args.timeout, [k]) for nb in notebooks]
        # A third (and further) notebook lands on a worker already in use.
        while len(notebooks) < 8 and len(set(pids)) == len(pids):
            grow_gateway(hub, k, notebooks, len(notebooks) + 1, args.timeout)
            pids.append(pid_of(hub, notebooks[-1], args.timeout, [k]))
        if pids[0] == pids[1]:
            raise BenchError(f"akernel-gateway: the first two notebooks share worker {pids[0]} "
                             f"on --workers {args.workers}")
        same = next(((i, j) for i in range(len(pids)) for j in range(i + 1, len(pids))
                     if pids[i] == pids[j]), None)
        res["worker_pids"] = pids
        n = args.isolation_samples
        spacing = 1.5 / n
        status("isolation: baseline, then during await / time.sleep(2) on another notebook ...")
        res["baseline"] = summarize(trivial_samples(hub, notebooks[0], n, args.timeout, [k],
                                                    spacing))
        cases = [("await_same_worker", "await asyncio.sleep(2)", same),
                 ("block_other_worker", "import time\ntime.sleep(2)", (1, 0))]
        for key, code, pair in cases:
            if pair is None:
                res[key] = {"error": "no two notebooks on the same worker"}
                continue
            other, probe = notebooks[pair[0]], notebooks[pair[1]]
            long_req = other.execute(code)
            hub.run_until(lambda: long_req.t_input is not None or long_req.reply is not None,
                          args.timeout, [k], f"{code!r} starting")
            t_wait = time.perf_counter() + 0.05
            while time.perf_counter() < t_wait:
                hub.pump(max(0.0, t_wait - time.perf_counter()))
            s = trivial_samples(hub, probe, n, args.timeout, [k], spacing, while_req=long_req)
            if long_req.reply is None:
                hub.run_until(long_req.done, args.timeout, [k], f"{code!r} finishing")
            long_req.check()
            res[key] = summarize(s, extra={
                "long_cell_ms": long_req.reply_ms(), "probe_pid": pids[pair[1]],
                "long_pid": pids[pair[0]]})
        b.stop_kernels(hub, [k], "isolation")
    return res


# --------------------------------------------------------------------------
# Report

table = bk.table
fmt = bk.fmt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer notebooks and repetitions (ipykernel up to 8 kernels)")
    ap.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds any one wait may last (default: 120)")
    ap.add_argument("--workers", type=int, default=2,
                    help="shared workers of the multi kernel (default: 2)")
    ap.add_argument("--channels", default="shell,control,stdin,iopub",
                    help="sockets each notebook connects (shell and iopub required)")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds between the last execute and reading PSS (default: 1)")
    ap.add_argument("--ipykernel-batch", type=int, default=8,
                    help="ipykernels started at once (default: 8)")
    ap.add_argument("--parts", default="1,2,3,4,5", help="comma-separated subset of parts 1-5")
    args = ap.parse_args()
    chans = args.channels.split(",")
    if "shell" not in chans or "iopub" not in chans or not set(chans) <= {
            "shell", "control", "stdin", "iopub"}:
        ap.error("--channels: shell and iopub, and optionally control and stdin")
    q = args.quick
    args.shared_counts = [1, 8, 32] if q else [1, 8, 32, 128, 512]
    args.isolate_counts = [1, 8] if q else [1, 8, 32]
    args.ipykernel_counts = [1, 8] if q else [1, 8, 32]
    args.new_runs = 5 if q else 20
    args.new_kernel_runs = 2 if q else 5
    args.throughput_counts = [1, 8, 32]
    args.duration = 1.0 if q else 3.0
    args.cpu_reps = 1 if q else 5
    args.cpu_seconds = 1.0
    args.isolation_samples = 5 if q else 10
    parts = set(args.parts.split(","))

    b = Bench(args)
    for exe in (b.gw, os.path.join(b.build, "akernel-gateway-worker")):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} is not an executable (build it first)")

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    R = b.results
    max_iso = max(args.isolate_counts[-1], 8 + args.new_runs + 1) + 16
    load_before = os.getloadavg()
    t_run = time.perf_counter()
    loads = {}

    busy = {}

    def part_load(p):
        loads[p] = os.getloadavg()[0]
        if p in parts:
            busy[p] = cpu_busy_pct()
        return p in parts

    try:
        if part_load("1"):
            R["memory"] = {
                "shared": memory_gateway(b, f"akernel-gateway multi --workers {args.workers}",
                                         b.gateway_argv(isolate=False,
                                                        max_workers=max(64, args.workers)),
                                         args.shared_counts, "memory shared"),
                "shared_2ch": memory_gateway(
                    b, f"akernel-gateway multi --workers {args.workers} (shell+iopub clients)",
                    b.gateway_argv(isolate=False, max_workers=max(64, args.workers)),
                    [1, args.shared_counts[-1]], "memory shared shell+iopub",
                    channels=["shell", "iopub"]),
                "isolate": memory_gateway(b, "akernel-gateway multi --isolate",
                                          b.gateway_argv(isolate=True, max_workers=max_iso),
                                          args.isolate_counts, "memory isolate"),
                "ipykernel": memory_ipykernel(b, args.ipykernel_counts, "memory ipykernel"),
            }
            for rows in R["memory"].values():
                add_marginals(rows)
        if part_load("2"):
            R["new_notebook"] = {
                "shared": new_notebook_gateway(b, f"akernel-gateway multi --workers {args.workers}",
                                               b.gateway_argv(isolate=False),
                                               "new notebook shared"),
                "isolate": new_notebook_gateway(b, "akernel-gateway multi --isolate",
                                                b.gateway_argv(isolate=True, max_workers=max_iso),
                                                "new notebook isolate"),
                "ipykernel_new_kernel": new_kernel_startup(b, "ipykernel", ipykernel_argv,
                                                           args.new_kernel_runs,
                                                           "new notebook ipykernel"),
                "gateway_new_kernel": new_kernel_startup(b, "akernel-gateway",
                                                         b.gateway_argv(isolate=False),
                                                         args.new_kernel_runs,
                                                         "new notebook gateway kernel"),
            }
        if part_load("3"):
            R["throughput"] = throughput(b, "throughput")
            R["throughput_shared_iopub"] = throughput(b, "throughput (shared iopub)",
                                                      shared_iopub=True)
            R["throughput_serve"] = throughput_serve(b, "throughput (serve)")
            R["throughput_ipykernel"] = throughput_ipykernel(b, "throughput (ipykernel)")
        if part_load("4"):
            g, ipy, k_iters = cores(b, "cores")
            R["cores"] = {"gateway": g, "ipykernel": ipy, "k": k_iters}
        if part_load("5"):
            R["isolation"] = isolation(b, "isolation")
    finally:
        bk.kill_all_live()
        shutil.rmtree(b.scratch, ignore_errors=True)
    load_after = os.getloadavg()
    R["loadavg_at_part_start"] = loads
    R["other_cpu_busy_pct_at_part_start"] = busy
    run_s = time.perf_counter() - t_run

    # ---- report
    print()
    print(f"akernel-gateway notebooks benchmark ({'--quick' if q else 'full'} run, "
          f"{run_s:.0f} s)")
    print(f"ipykernel {bk.IPYKERNEL_VERSION}, jupyter_client {jupyter_client.__version__}, "
          f"pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load avg "
          f"{load_before[0]:.2f} -> {load_after[0]:.2f} (at the start of parts "
          + ", ".join(f"{p}: {v:.2f}" for p, v in loads.items() if p in parts) + ")")
    print("CPU busy with other processes just before each part (0.5 s sample): "
          + ", ".join(f"{p}: {v:.0f}%" for p, v in busy.items()))
    for p, v in busy.items():
        if v > 15.0:
            print(f"WARNING: other processes kept {v:.0f}% of the CPUs busy just before part {p}: "
                  "its timings are not reliable")
    print(f"each notebook: its own Session, connects {','.join(b.channels)}; "
          f"shared = `launch multi --workers {args.workers}`, isolate = `launch multi --isolate`")
    targets = {}

    def target(label, key, value, ok, want, unit=""):
        targets[key] = {"value": value, "target": want,
                        "pass": None if value is None else bool(ok(value))}
        if value is None:
            v = "n/a"
        else:
            v = f"{value:.3f}{unit}" if abs(value) < 10 else f"{value:.1f}{unit}"
        verdict = "" if value is None else ("PASS" if ok(value) else "MISS")
        print(f"  {label:<58} {v:>12}   (target {want}) {verdict}")

    ratios = {}

    def ratio(label, key, a, bb, unit="x"):
        v = a / bb if a is not None and bb else None
        ratios[key] = v
        print(f"  {label:<58} {fmt(v, '.1f') + unit if v is not None else 'n/a':>12}")

    mem = R.get("memory")
    if mem:
        print("\n1. Memory: PSS of the whole kernel process tree after every notebook ran `x = 1`")
        cols = ("kernel", "notebooks", "procs", "PSS MiB", "MiB/notebook", "marginal MiB",
                "router", "zygote", "workers", "USS MiB")
        rows = []
        for key, label in (("shared", f"gateway shared ({args.workers} workers)"),
                           ("shared_2ch", "  same, clients connect shell+iopub only"),
                           ("isolate", "gateway --isolate"), ("ipykernel", "ipykernel")):
            for r in mem.get(key, []):
                role = r["pss_by_role_kb"]
                rows.append((label, str(r["notebooks"]), str(r["processes"]),
                             f"{r['pss_kb'] / MIB:.1f}", f"{r['pss_per_notebook_mib']:.3f}",
                             fmt(r["marginal_mib"], ".3f"),
                             f"{role['router'] / MIB:.1f}" if key != "ipykernel" else "-",
                             f"{role['zygote'] / MIB:.1f}" if key != "ipykernel" else "-",
                             f"{role['workers'] / MIB:.1f}" if key != "ipykernel" else "-",
                             f"{r['uss_kb'] / MIB:.1f}"))
        table(cols, rows)
        print("  (router / zygote / workers: PSS MiB by depth in the tree; marginal = "
              "(PSS(N) - PSS(1)) / (N - 1);\n   notebooks are added to one running kernel "
              "(ipykernel: one kernel per notebook), each connects "
              f"{','.join(b.channels)} unless said)")

    def last_marginal(key):
        rows = (mem or {}).get(key) or []
        return rows[-1]["marginal_mib"] if len(rows) > 1 else None

    def mem_row(key, n):
        return next((r for r in (mem or {}).get(key, []) if r["notebooks"] == n), None)

    nn = R.get("new_notebook")
    if nn:
        print("\n2. An additional notebook's first execute_reply (kernel already serving 8 "
              "notebooks; each new one stays open)")
        cols = ("case", "runs", "median ms", "min ms", "max ms")
        rows = []
        for key, label in (("shared", "gateway shared: new session"),
                           ("isolate", "gateway --isolate: new session (new worker)"),
                           ("ipykernel_new_kernel", "ipykernel: new kernel, Popen -> 1st reply"),
                           ("gateway_new_kernel", "gateway: new kernel, Popen -> 1st reply")):
            r = nn.get(key) or {}
            rows.append((label, str(r.get("runs", 0)), fmt(r.get("median_ms"), ".2f"),
                         fmt(r.get("min_ms"), ".2f"), fmt(r.get("max_ms"), ".2f")))
        table(cols, rows)
        for key in ("shared", "isolate"):
            r = nn.get(key) or {}
            if r.get("to_idle_median_ms") is not None:
                print(f"  ({key}: median to status idle too: {r['to_idle_median_ms']:.2f} ms)")

    tp = R.get("throughput")
    tps = R.get("throughput_shared_iopub")
    tsv = R.get("throughput_serve")
    tipy = R.get("throughput_ipykernel")
    if tp or tps or tsv or tipy:
        print(f"\n3. Throughput of `1` on the shared gateway ({args.workers} workers), each "
              f"notebook one request in flight, {args.duration:g} s")
        cols = ("iopub", "notebooks", "executes", "exec/s", "p50 ms", "p99 ms", "max ms",
                "CPU % router", "workers", "kernel CPU us/exec", "client CPU %")
        table(cols, [(label, str(r["notebooks"]), str(r["executes"]),
                      f"{r['executes_per_s']:.0f}", f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}",
                      f"{r['max_ms']:.3f}", f"{r['router_cpu_pct']:.0f}",
                      f"{r['workers_cpu_pct']:.0f}",
                      f"{r['kernel_cpu_us_per_exec']:.0f}", f"{r['client_cpu_pct']:.0f}")
                     for label, rows in (("per notebook", tp or []), ("one shared", tps or []),
                                         ("serve", tsv or []), ("ipykernel", tipy or []))
                     for r in rows])
        print("  (latency: send -> execute_reply and status idle. iopub per notebook: every "
              "notebook has its SUB socket,\n   and the gateway publishes every message to "
              "all of them (one kernel-wide topic), so this client, a Python\n   process on the "
              "same CPUs, receives N copies of each. One shared: a single SUB socket per kernel "
              "for all\n   notebooks, a diagnostic that removes those copies. serve: the gateway "
              "as a service, each notebook\n   attached with sockets of its own (`serve` + "
              "`attach`, the team-server set-up): no copies.\n   ipykernel: a kernel per "
              "notebook; its CPU is counted under 'router'.)")

    co = R.get("cores")
    if co and (co.get("gateway") or co.get("ipykernel")):
        print(f"\n4. Every core: `sum(i*i for i in range({co['k']}))` from 2 notebooks "
              f"(median of {args.cpu_reps})")
        cols = ("kernel", "one alone s", "two one after other s", "two at once s", "speedup")
        rows = []
        for key, label in (("gateway", f"gateway shared ({args.workers} workers)"),
                           ("ipykernel", "ipykernel (2 kernels)")):
            r = co.get(key) or {}
            rows.append((label, fmt(r.get("alone_s"), ".3f"), fmt(r.get("sequential_s"), ".3f"),
                         fmt(r.get("concurrent_s"), ".3f"), fmt(r.get("speedup"), ".2f")))
        if (co.get("gateway") or {}).get("plain_python_alone_s") is not None:
            rows.append(("plain /usr/bin/python3, no kernel",
                         f"{co['gateway']['plain_python_alone_s']:.3f}", "-", "-", "-"))
        table(cols, rows)
        print("  (wall time from the send to the execute_reply; the plain row is timed inside "
              "the process)")

    iso = R.get("isolation")
    if iso:
        print(f"\n5. `1` from one notebook while another notebook's cell runs (gateway shared, "
              f"{args.workers} workers; worker pids of the notebooks: {iso.get('worker_pids')})")
        cols = ("case", "samples", "median ms", "max ms", "other cell ms")
        rows = []
        for key, label in (("baseline", "nothing else running"),
                           ("await_same_worker", "other awaits asyncio.sleep(2), same worker"),
                           ("block_other_worker", "other in time.sleep(2), other worker")):
            r = iso.get(key) or {}
            rows.append((label, str(r.get("runs", 0)), fmt(r.get("median_ms"), ".3f"),
                         fmt(r.get("max_ms"), ".3f"), fmt(r.get("long_cell_ms"), ".0f")))
        table(cols, rows)
        print("  (latency: send -> execute_reply and status idle; only samples completed while "
              "the other cell was still running count;\n   samples are "
              f"{1500 / args.isolation_samples:.0f} ms apart, so each one also pays for waking "
              "idle processes, unlike part 3's back-to-back requests)")

    print("\nTargets")
    if mem:
        target("1. marginal notebook, gateway shared (MiB)", "marginal_shared_mib",
               last_marginal("shared"), lambda v: v <= TARGET_MARGINAL_SHARED_MIB,
               f"<= {TARGET_MARGINAL_SHARED_MIB:g} MiB")
        target("1. marginal notebook, gateway --isolate (MiB)", "marginal_isolate_mib",
               last_marginal("isolate"), lambda v: v <= TARGET_MARGINAL_ISOLATED_MIB,
               f"<= {TARGET_MARGINAL_ISOLATED_MIB:g} MiB")
        v = last_marginal("ipykernel")
        targets["marginal_ipykernel_mib"] = {"value": v, "reference": IPYKERNEL_REFERENCE_MIB}
        print(f"  {'1. marginal notebook, ipykernel (MiB; reference)':<58} "
              f"{fmt(v, '.1f'):>12}   (about {IPYKERNEL_REFERENCE_MIB:g} MiB expected)")
    if nn:
        target("2. new notebook's first execute_reply, shared (ms)", "new_shared_ms",
               (nn.get("shared") or {}).get("median_ms"), lambda v: v <= TARGET_NEW_SHARED_MS,
               f"<= {TARGET_NEW_SHARED_MS:g} ms")
        target("2. new notebook's first execute_reply, --isolate (ms)", "new_isolate_ms",
               (nn.get("isolate") or {}).get("median_ms"), lambda v: v <= TARGET_NEW_ISOLATED_MS,
               f"<= {TARGET_NEW_ISOLATED_MS:g} ms")
    for runs, label, key in (
            (tp, "3. p99 latency with 32 notebooks at once (ms)", "p99_32_ms"),
            (tsv, "3. same, 32 notebooks attached to `serve` (ms)", "p99_32_serve_ms"),
            (tps, "3. (diagnostic) same, one shared iopub socket (ms)", "p99_32_shared_iopub_ms")):
        if runs:
            r32 = next((r for r in runs if r["notebooks"] == 32), None)
            target(label, key, r32["p99_ms"] if r32 else None, lambda v: v < TARGET_P99_32_MS,
                   f"< {TARGET_P99_32_MS:g} ms")
    if co:
        target("4. speedup, 2 CPU-bound cells at once (gateway)", "speedup_gateway",
               (co.get("gateway") or {}).get("speedup"), lambda v: v >= TARGET_SPEEDUP,
               f">= {TARGET_SPEEDUP:g}x")
    if iso:
        for key, label in (("await_same_worker", "5a. `1` while another awaits, same worker"),
                           ("block_other_worker", "5b. `1` while another blocks, other worker")):
            target(f"{label} (median ms)", f"isolation_{key}_ms",
                   (iso.get(key) or {}).get("median_ms"), lambda v: v <= TARGET_ISOLATION_MS,
                   f"<= {TARGET_ISOLATION_MS:g} ms")
            target(f"{label} (max ms)", f"isolation_{key}_max_ms",
                   (iso.get(key) or {}).get("max_ms"), lambda v: v <= TARGET_ISOLATION_MS,
                   f"<= {TARGET_ISOLATION_MS:g} ms")

    if mem or nn or tipy or (co and co.get("ipykernel")):
        print("\nRatios vs ipykernel")
    if mem:
        for n in (8, 32):
            ipy = mem_row("ipykernel", n)
            for key, label in (("shared", "shared"), ("isolate", "--isolate")):
                g = mem_row(key, n)
                if ipy and g:
                    ratio(f"memory per notebook at {n}: ipykernel / gateway {label}",
                          f"memory_{n}_{key}", ipy["pss_per_notebook_mib"],
                          g["pss_per_notebook_mib"])
        for key, label in (("shared", "shared"), ("isolate", "--isolate")):
            ratio(f"marginal notebook: ipykernel / gateway {label}", f"marginal_{key}",
                  last_marginal("ipykernel"), last_marginal(key))
    if nn:
        ipy = (nn.get("ipykernel_new_kernel") or {}).get("median_ms")
        for key, label in (("shared", "shared"), ("isolate", "--isolate")):
            ratio(f"new notebook: ipykernel new kernel / gateway {label}", f"new_{key}",
                  ipy, (nn.get(key) or {}).get("median_ms"))
    for label, rows in (("launch", tp), ("serve", tsv)):
        for r in rows or []:
            ipy = next((i for i in tipy or [] if i["notebooks"] == r["notebooks"]), None)
            if ipy:
                ratio(f"executes/s at {r['notebooks']} notebooks: gateway {label} / ipykernel",
                      f"throughput_{r['notebooks']}_{label}", r["executes_per_s"], ipy["executes_per_s"])
    if co and co.get("gateway") and co.get("ipykernel"):
        ratio("CPU-bound cell alone, time: gateway / ipykernel", "cpu_alone_time",
              co["gateway"]["alone_s"], co["ipykernel"]["alone_s"])
        ratio("speedup: gateway / ipykernel", "speedup", co["gateway"]["speedup"],
              co["ipykernel"]["speedup"])

    if b.notes:
        print("\nNotes")
        for n in b.notes:
            print(f"  {n}")
    for part, err in b.errors.items():
        print(f"\nERROR ({part}): {err}", file=sys.stderr)

    if args.json:
        doc = {"config": {k: v for k, v in vars(args).items()},
               "environment": {"jupyter_client": jupyter_client.__version__,
                               "ipykernel": bk.IPYKERNEL_VERSION, "pyzmq": zmq.__version__,
                               "libzmq": zmq.zmq_version(), "python": platform.python_version(),
                               "cpus": os.cpu_count(), "loadavg_before": load_before,
                               "loadavg_after": load_after, "run_s": run_s},
               "results": R, "targets": targets, "ratios": ratios, "notes": b.notes,
               "errors": b.errors}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 1 if b.errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        bk.kill_all_live()
