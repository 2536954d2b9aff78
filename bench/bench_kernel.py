#!/usr/bin/python3
"""Benchmark akernel-gateway against ipykernel and a null kernel, side by side.

Run from the repository root with the system Python (it needs jupyter_client
and pyzmq):

    /usr/bin/python3 bench/bench_kernel.py [--build build] [--iterations 2000]
                                           [--startup-runs 10] [--json FILE]

For each kernel it measures

  start-up   time from just before Popen to the first kernel_info_reply, with
             jupyter_client's BlockingKernelClient (median and min over
             --startup-runs runs, interleaved round-robin between kernels);
             also, as an extra figure, the time to the first execute_reply
             of `1` in the same run (a kernel may answer kernel_info before it
             can run code). The client's sockets use ZMQ_RECONNECT_IVL 1 ms:
             with ZMQ's default of 100 ms a connect refused before the kernel
             binds is retried 100 ms later and the figure measures that retry
             (~100-170 ms for every kernel), whereas resending every 5 ms or
             sending once makes no difference (ZMQ queues the request);
  latency    on one running kernel, 200 warm-up then --iterations
             execute_request of `1`, each waiting for the execute_reply on
             shell AND status idle on iopub for that request (p50, p99, mean).
             The kernels run at once and take turns in blocks of --block
             executes, so load changes on the machine hit all alike.
             With it, the kernel's CPU time per execute (every thread of
             the kernel and of the processes it forked, from
             /proc/PID/task/TID/schedstat): its own cost, which moves less
             than latency with where the scheduler puts its processes (a
             wake-up across CPUs costs CPU time too);
  split      the latency pass again with the client on CPU 0 and every kernel
             (all its processes) on CPU 1 (--no-split skips it). Unpinned,
             the scheduler decides where each process wakes, and a wake-up
             across CPUs costs far more than one within a CPU on some
             machines (a VM's virtual CPUs above all): the null kernel is one
             process, the gateway two (router and worker), so the unpinned
             difference mixes the gateway's own cost with where the scheduler
             put it. The split pass gives both kernels the same placement.
             Last, a pipe round trip between two processes, on one CPU and
             across two, shows what a cross-CPU wake-up costs on this machine.

The latency client is the same for every kernel: raw pyzmq sockets, messages
signed with jupyter_client.session.Session.sign (HMAC-SHA256) and every
received message's signature checked, JSON parsed with the stdlib.
(Session.deserialize costs ~70 us per message, which would swamp the figures.)

The null kernel (bench/null_kernel.c) answers at once, so its latency is the
client's own floor; akernel-gateway minus null is the gateway's own cost. It
uses the gateway's own sockets (common/zsock.c); null-libzmq is the same stub
on libzmq's sockets, as other kernels (ipykernel, xeus) are built, shown for
reference: the target is judged against `null`, the lower floor.

A completed measurement always exits 0, whether the targets are met or not;
a kernel that hangs, crashes or answers `1` with an error makes it exit 1.
"""

import argparse
import datetime
import importlib.metadata
import gc
import hmac
import json
import math
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from queue import Empty

import zmq
import zmq.asyncio

import jupyter_client
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

DELIM = b"<IDS|MSG>"
try:
    IPYKERNEL_VERSION = importlib.metadata.version("ipykernel")
except importlib.metadata.PackageNotFoundError:
    IPYKERNEL_VERSION = "?"
WARMUP = 200

# pyzmq's sugar layer (send_multipart, recv_multipart, enum flags, ZMQError
# for EAGAIN) costs several us per frame; the Cython methods with int flags
# do not. The same lean path serves every kernel.
_send = zmq.backend.Socket.send
_recv = zmq.backend.Socket.recv
_get = zmq.backend.Socket.get
_SNDMORE = int(zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
TARGET_STARTUP_RATIO = 25.0
TARGET_P50_RATIO = 10.0
TARGET_OVERHEAD_US = 50.0


class BenchError(Exception):
    """A kernel misbehaved: the measurement could not complete."""


# --------------------------------------------------------------------------
# Kernel processes

LIVE = {}  # pid -> Kernel, for cleanup on any exit


def kernel_specs(build):
    return [
        ("akernel-gateway", lambda f: [os.path.join(build, "akernel-gateway"), "launch", "-f", f]),
        ("ipykernel", lambda f: ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", f]),
        ("null", lambda f: [os.path.join(build, "akg-null-kernel"), "-f", f]),
        ("null-libzmq", lambda f: [os.path.join(build, "akg-null-kernel"), "--libzmq", "-f", f]),
    ]


def _start_time(pid):
    """A live (non-zombie) process's start time, to tell it from a reused PID."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def thread_ids(pid):
    """The threads of a live process (none if it is gone)."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def thread_cpu_ns(tid):
    """How long a thread has run so far, in ns (schedstat: the scheduler's
    own count, not ticks); 0 if it is gone."""
    try:
        with open(f"/proc/{tid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


class Kernel:
    """One kernel process with its own connection file in a temporary dir.

    The process is started in a session of its own so that it and anything it
    forks (akernel-gateway's zygote and workers) can be signalled as one
    process group, whose id is the kernel's PID."""

    def __init__(self, name, argv_for, env, cpus=None):
        self.name = name
        self.cpus = cpus  # CPUs the process (and all it forks) may run on; None: any
        self.dir = tempfile.mkdtemp(prefix="akg-bench-")
        self.connfile = os.path.join(self.dir, "kernel.json")
        self.key = secrets.token_hex(32).encode()
        _, self.cfg = write_connection_file(
            self.connfile, ip="127.0.0.1", transport="tcp", key=self.key,
            signature_scheme="hmac-sha256", kernel_name=name)
        self.argv = argv_for(self.connfile)
        self.env = env
        self.proc = None
        self.log_path = os.path.join(self.dir, "kernel.log")
        self.exit_status = None  # set once the process is gone
        self.signalled = False  # whether stop() had to send a signal
        self.descendants = {}  # pid -> start time

    def start(self):
        log = open(self.log_path, "wb")
        try:
            cpus = self.cpus
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True,
                                         preexec_fn=(lambda: os.sched_setaffinity(0, cpus))
                                         if cpus else None)
        finally:
            log.close()
        LIVE[self.proc.pid] = self

    def exited(self):
        return self.proc is not None and self.proc.poll() is not None

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:]) if lines else "(empty)"

    def _group_alive(self, pgid):
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def note_descendants(self):
        """Remember every process below the kernel (by PID and start time):
        akernel-gateway's zygote puts itself in a process group of its own."""
        stack = [self.proc.pid]
        while stack:
            p = stack.pop()
            for t in thread_ids(p):
                try:
                    with open(f"/proc/{p}/task/{t}/children") as f:
                        kids = [int(c) for c in f.read().split()]
                except OSError:
                    continue
                for c in kids:
                    st = _start_time(c)
                    if st is not None:
                        self.descendants[c] = st
                        stack.append(c)

    def live_descendants(self):
        return [p for p, st in self.descendants.items() if _start_time(p) == st]

    def cpu_ns(self):
        """CPU time (ns) so far of every thread of the kernel and of what it
        forked (as far as note_descendants has seen); threads and processes
        that ended are not counted."""
        return sum(thread_cpu_ns(t) for pid in [self.proc.pid, *self.live_descendants()]
                   for t in thread_ids(pid))

    def stop(self, wait_exit=0.0):
        """Wait up to wait_exit s for the process to leave on its own (after a
        shutdown_request), then SIGTERM, then SIGKILL its process group and any
        descendant still alive (each by PID); reap it."""
        if self.proc is None:
            return
        pid = self.proc.pid
        try:
            if wait_exit > 0 and self.proc.poll() is None:
                self.note_descendants()
                try:
                    self.proc.wait(timeout=wait_exit)
                except subprocess.TimeoutExpired:
                    pass
            if self.proc.poll() is not None:
                self.exit_status = self.proc.returncode
            for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
                if self.proc.poll() is None:
                    self.note_descendants()
                stragglers = self.live_descendants()
                if self.proc.poll() is None or self._group_alive(pid) or stragglers:
                    self.signalled = True
                    try:
                        os.killpg(pid, sig)
                    except ProcessLookupError:
                        pass
                    for p in stragglers:
                        try:
                            os.kill(p, sig)
                        except ProcessLookupError:
                            pass
                    deadline = time.monotonic() + grace
                    while time.monotonic() < deadline:
                        if (self.proc.poll() is not None and not self._group_alive(pid)
                                and not self.live_descendants()):
                            break
                        time.sleep(0.005)
            try:
                status = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                status = None
            if self.exit_status is None:
                self.exit_status = status
            left = self.live_descendants()
            if left:
                print(f"warning: {self.name}: processes {left} survived SIGKILL",
                      file=sys.stderr)
        finally:
            LIVE.pop(pid, None)

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def kill_all_live():
    for k in list(LIVE.values()):
        try:
            k.cleanup()
        except Exception as e:  # keep going: every PID must be killed
            print(f"warning: cleanup of {k.name} failed: {e}", file=sys.stderr)


# --------------------------------------------------------------------------
# Start-up: jupyter_client's BlockingKernelClient

def measure_startup(name, argv_for, env, args):
    """One start: seconds from just before Popen to the first kernel_info_reply,
    and to the first execute_reply of `1`."""
    k = Kernel(name, argv_for, env)
    ctx = zmq.asyncio.Context()
    # ZMQ retries a refused connect only every RECONNECT_IVL (100 ms by
    # default): with the default, the first reply would come on the first
    # retry after the kernel binds, not when it can first answer.
    ctx.setsockopt(zmq.RECONNECT_IVL, args.reconnect_ivl_ms)
    client = BlockingKernelClient(context=ctx)
    client.load_connection_file(k.connfile)
    client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        interval = args.resend_ms / 1000.0
        t0 = time.perf_counter()
        k.start()
        deadline = t0 + args.timeout
        sent = set()
        next_send = t0
        t_info = None
        while t_info is None:
            now = time.perf_counter()
            if now > deadline:
                raise BenchError(f"{name}: no kernel_info_reply within {args.timeout} s")
            if k.exited():
                raise BenchError(f"{name}: exited with status {k.proc.returncode} before "
                                 f"answering kernel_info")
            if now >= next_send and (interval > 0 or not sent):
                sent.add(client.kernel_info())
                next_send = now + interval
            wait = max(0.0, min(next_send - now if interval > 0 else 0.05, deadline - now))
            try:
                msg = client.get_shell_msg(timeout=wait)
            except Empty:
                continue
            if (msg["msg_type"] == "kernel_info_reply"
                    and msg["parent_header"].get("msg_id") in sent):
                t_info = time.perf_counter() - t0
        exec_id = client.execute("1", store_history=False)
        t_exec = None
        while t_exec is None:
            now = time.perf_counter()
            if now > deadline:
                raise BenchError(f"{name}: no execute_reply to the first `1` within "
                                 f"{args.timeout} s")
            if k.exited():
                raise BenchError(f"{name}: exited with status {k.proc.returncode} before "
                                 f"answering the first execute_request")
            try:
                msg = client.get_shell_msg(timeout=min(0.05, deadline - now))
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == exec_id:
                if msg["content"].get("status") != "ok":
                    raise BenchError(f"{name}: first execute of `1` replied "
                                     f"{json.dumps(msg['content'])[:500]}")
                t_exec = time.perf_counter() - t0
        return t_info, t_exec
    except BenchError as e:
        raise BenchError(f"{e}\n--- {name} output ---\n{k.log_tail()}") from None
    finally:
        try:
            client.stop_channels()
        finally:
            ctx.destroy(linger=0)
            k.cleanup()


# --------------------------------------------------------------------------
# Latency: a lean client on raw sockets

def send_signed(sock, session, session_id, msg_type, content):
    """Send one request, signed with session's key; returns its msg_id."""
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": msg_type, "username": "bench", "session": session_id,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "version": "5.3"}
    parts = [json.dumps(header).encode(), b"{}", b"{}", json.dumps(content).encode()]
    _send(sock, DELIM, _SNDMORE)
    _send(sock, session.sign(parts), _SNDMORE)
    for part in parts[:3]:
        _send(sock, part, _SNDMORE)
    _send(sock, parts[3], 0)
    return msg_id


def parse_signed(frames, session, who):
    """(msg_type, parent msg_id, raw content) of a received message whose
    signature is checked; BenchError (naming `who`) if it is not valid."""
    try:
        i = frames.index(DELIM)
    except ValueError:
        raise BenchError(f"{who}: a message without {DELIM!r}") from None
    parts = frames[i + 2:i + 6]
    if len(parts) != 4 or not hmac.compare_digest(frames[i + 1], session.sign(parts)):
        raise BenchError(f"{who}: a message with a bad signature")
    return json.loads(parts[0])["msg_type"], json.loads(parts[1]).get("msg_id"), parts[3]


def recv_frames(sock):
    """The frames of one waiting multipart message, or None (never blocks)."""
    if not _get(sock, _EVENTS) & _POLLIN:
        return None
    frames = [_recv(sock, 0)]
    while _get(sock, _RCVMORE):
        frames.append(_recv(sock, 0))
    return frames


class RawClient:
    """Shell, iopub and control sockets driven directly. Messages are built
    and signed with the kernel's key (Session.sign: HMAC-SHA256 over header,
    parent, metadata, content); every received signature is checked."""

    def __init__(self, kernel):
        cfg = kernel.cfg
        self.kernel = kernel
        self.session = Session(key=kernel.key, signature_scheme="hmac-sha256", username="bench")
        self.session_id = self.session.session
        self.ctx = zmq.Context()
        self.ctx.setsockopt(zmq.RECONNECT_IVL, 1)
        self.ctx.setsockopt(zmq.LINGER, 0)
        ip = cfg["ip"]
        ident = self.session.bsession
        self.shell = self._connect(zmq.DEALER, f"tcp://{ip}:{cfg['shell_port']}", ident)
        self.control = self._connect(zmq.DEALER, f"tcp://{ip}:{cfg['control_port']}", ident)
        self.iopub = self.ctx.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(f"tcp://{ip}:{cfg['iopub_port']}")
        self.poller = zmq.Poller()
        self.poller.register(self.shell, zmq.POLLIN)
        self.poller.register(self.iopub, zmq.POLLIN)
        self.control_poller = zmq.Poller()
        self.control_poller.register(self.control, zmq.POLLIN)

    def _connect(self, kind, url, ident):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.IDENTITY, ident)
        s.connect(url)
        return s

    def close(self):
        self.ctx.destroy(linger=0)

    def send(self, sock, msg_type, content):
        return send_signed(sock, self.session, self.session_id, msg_type, content)

    def recv(self, sock):
        """One waiting message, or None: (msg_type, parent msg_id, raw content)."""
        frames = recv_frames(sock)
        return None if frames is None else parse_signed(frames, self.session, self.kernel.name)

    def request(self, msg_type, content, timeout, want_idle=True):
        """Send on shell; wait for the reply (and status idle on iopub with the
        request as parent). Returns (reply content, {iopub msg_type: content})."""
        msg_id = self.send(self.shell, msg_type, content)
        reply = None
        outputs = {}
        idle = not want_idle
        deadline = time.perf_counter() + timeout
        shell, iopub, poll = self.shell, self.iopub, self.poller.poll
        while reply is None or not idle:
            # Read whatever is already there; poll only when nothing is.
            got = False
            while (m := self.recv(shell)) is not None:
                got = True
                if m[1] == msg_id:
                    reply = json.loads(m[2])
            while (m := self.recv(iopub)) is not None:
                got = True
                if m[1] != msg_id:
                    continue
                t = m[0]
                if t == "status":
                    if json.loads(m[2]).get("execution_state") == "idle":
                        idle = True
                elif t in ("execute_result", "error", "stream"):
                    outputs[t] = json.loads(m[2])
            if reply is not None and idle:
                break
            if not got and poll(max(1, min(1000, int((deadline - time.perf_counter()) * 1000)))):
                continue
            if time.perf_counter() > deadline or (not got and self.kernel.exited()):
                what = "reply" if reply is None else "status idle"
                state = (f"exited with status {self.kernel.proc.returncode}"
                         if self.kernel.exited() else f"no {what} within {timeout} s")
                raise BenchError(f"{self.kernel.name}: {msg_type}: {state}")
        return reply, outputs

    def wait_ready(self, timeout):
        """Until a kernel_info round trip also shows its status idle on iopub,
        so the SUB socket is known to be subscribed."""
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BenchError(f"{self.kernel.name}: iopub never delivered status idle "
                                 f"for kernel_info within {timeout} s")
            try:
                reply, _ = self.request("kernel_info_request", {}, min(0.5, left))
            except BenchError:
                if self.kernel.exited() or time.perf_counter() >= deadline:
                    raise
                continue
            if reply.get("status", "ok") != "ok":
                raise BenchError(f"{self.kernel.name}: kernel_info_reply {reply}")
            return reply

    def shutdown(self, timeout):
        """shutdown_request on control; True if shutdown_reply came in time."""
        msg_id = self.send(self.control, "shutdown_request", {"restart": False})
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            if not self.control_poller.poll(max(1, int(left * 1000))):
                continue
            while (m := self.recv(self.control)) is not None:
                if m[1] == msg_id and m[0] == "shutdown_reply":
                    return True


EXEC_CONTENT = {"code": "1", "silent": False, "store_history": True, "user_expressions": {},
                "allow_stdin": False, "stop_on_error": True}


def check_execute(name, reply, outputs, i):
    if reply.get("status") != "ok":
        raise BenchError(f"{name}: execute #{i} of `1` replied {json.dumps(reply)[:800]}"
                         + (f"\nerror output: {json.dumps(outputs['error'])[:800]}"
                            if "error" in outputs else ""))
    text = outputs.get("execute_result", {}).get("data", {}).get("text/plain")
    if text != "1":
        raise BenchError(f"{name}: execute #{i} of `1`: execute_result is {text!r}, not '1' "
                         f"(iopub outputs: {json.dumps(outputs)[:800]})")


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    k = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[k - 1]


class LatencyRun:
    """One kernel kept running for the latency measurement. All kernels run
    at once and take turns in blocks of --block executes, so that a change in
    the machine's load during the run touches all of them alike."""

    def __init__(self, name, argv_for, env, args, cpus=None):
        self.name = name
        self.args = args
        self.kernel = Kernel(name, argv_for, env, cpus)
        self.client = None
        self.samples = []
        self.cpu_ns = 0  # the kernel's CPU time over the timed executes
        self.result = {}
        self.done = 0  # executes so far, warm-up included

    def _fail(self, e):
        return BenchError(f"{e}\n--- {self.name} output ---\n{self.kernel.log_tail()}")

    def start(self):
        try:
            self.kernel.start()
            self.client = RawClient(self.kernel)
            info = self.client.wait_ready(self.args.timeout)
        except BenchError as e:
            raise self._fail(e) from None
        self.result["implementation"] = info.get("implementation")
        self.result["implementation_version"] = info.get("implementation_version")

    def run(self, n, timed):
        request, timeout = self.client.request, self.args.timeout
        perf = time.perf_counter_ns
        samples = self.samples
        cpu_before = 0
        if timed:
            self.kernel.note_descendants()  # akernel-gateway's worker, forked after start-up
            cpu_before = self.kernel.cpu_ns()
        try:
            for _ in range(n):
                t = perf()
                reply, outputs = request("execute_request", EXEC_CONTENT, timeout)
                dt = perf() - t
                check_execute(self.name, reply, outputs, self.done)
                self.done += 1
                if timed:
                    samples.append(dt / 1000.0)
        except BenchError as e:
            raise self._fail(e) from None
        if timed:
            self.cpu_ns += self.kernel.cpu_ns() - cpu_before
        self.result["last_execution_count"] = reply.get("execution_count")

    def finish(self):
        """Figures, then a clean shutdown: shutdown_request on control, and
        the process must leave by itself within 10 s (else it is killed)."""
        s = sorted(self.samples)
        self.result.update(p50_us=percentile(s, 50), p99_us=percentile(s, 99),
                           mean_us=sum(s) / len(s), min_us=s[0], max_us=s[-1],
                           iterations=len(s), cpu_us=self.cpu_ns / 1000.0 / len(s))
        t = time.perf_counter()
        self.result["shutdown_reply"] = self.client.shutdown(5.0)
        self.client.close()
        self.client = None
        self.kernel.stop(wait_exit=10.0)
        self.result["exit_status"] = self.kernel.exit_status
        self.result["exited_by_itself"] = not self.kernel.signalled
        if not self.kernel.signalled:
            self.result["shutdown_ms"] = (time.perf_counter() - t) * 1000.0

    def close(self):
        if self.client is not None:
            self.client.close()
            self.client = None
        self.kernel.cleanup()


def measure_latency(specs, env, args, results, errors, split=False):
    """The latency pass. With split, the client runs on CPU 0 and every
    kernel (with all its processes) on CPU 1, so that each kernel's messages
    cross between CPUs alike; without, the scheduler places everyone."""
    runs = []
    client_cpus = os.sched_getaffinity(0)
    if split:
        os.sched_setaffinity(0, {0})  # zmq's I/O threads, made later, inherit it
    try:
        for name, argv_for in specs:
            if name in errors:
                continue
            run = LatencyRun(name, argv_for, env, args, cpus={1} if split else None)
            runs.append(run)
            try:
                run.start()
            except BenchError as e:
                errors[name] = str(e)
        live = [r for r in runs if r.name not in errors]
        print(f"latency{' (client on CPU 0, kernels on CPU 1)' if split else ''}: {WARMUP} warm-up + "
              f"{args.iterations} executes per kernel, interleaved in blocks of {args.block} ...",
              file=sys.stderr)
        for r in live:
            try:
                r.run(WARMUP, timed=False)
            except BenchError as e:
                errors[r.name] = str(e)
        gc_was = gc.isenabled()
        gc.disable()  # no collector pauses inside the timed loop
        try:
            for rnd in range((args.iterations + args.block - 1) // args.block):
                n = min(args.block, args.iterations - rnd * args.block)
                live = [r for r in runs if r.name not in errors]
                for r in live[rnd % len(live):] + live[:rnd % len(live)] if live else []:
                    try:
                        r.run(n, timed=True)
                    except BenchError as e:
                        errors[r.name] = str(e)
        finally:
            if gc_was:
                gc.enable()
        for r in runs:
            if r.name not in errors:
                r.finish()
                if split:
                    results[r.name]["split"] = r.result
                else:
                    results[r.name].update(r.result)
    finally:
        for r in runs:
            r.close()
        os.sched_setaffinity(0, client_cpus)


def wakeup_cost_us(rounds=2000):
    """Median round trip of one byte between two processes over pipes, on
    one CPU and across two: what a wake-up across CPUs costs here."""
    def round_trip(cpus_a, cpus_b):
        ping, pong = os.pipe(), os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.sched_setaffinity(0, cpus_b)
                while os.read(ping[0], 1) == b"x":
                    os.write(pong[1], b"x")
            finally:
                os._exit(0)
        saved = os.sched_getaffinity(0)
        try:
            os.sched_setaffinity(0, cpus_a)
            samples = []
            for _ in range(rounds):
                t = time.perf_counter_ns()
                os.write(ping[1], b"x")
                os.read(pong[0], 1)
                samples.append((time.perf_counter_ns() - t) / 1000.0)
                time.sleep(0.0001)  # let both CPUs go idle, as between requests
            os.write(ping[1], b"q")
        finally:
            os.sched_setaffinity(0, saved)
            os.waitpid(pid, 0)
            for fd in ping + pong:
                os.close(fd)
        return statistics.median(samples)
    return round_trip({0}, {0}), round_trip({0}, {1})


HALT_POLL = "/sys/module/haltpoll/parameters/guest_halt_poll_ns"


def guest_halt_poll_ns():
    """How long an idle virtual CPU polls before it halts (Linux's haltpoll
    cpuidle driver), or None where there is no such driver. 0 makes every
    wake-up of an idle CPU wait for the host to resume it."""
    try:
        with open(HALT_POLL) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------

def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def table(cols, rows):
    """Print rows of strings under their column names: first column left, the rest right."""
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
              for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                     for i, c in enumerate(cols))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(v.ljust(widths[0]) if i == 0 else v.rjust(widths[i])
                        for i, v in enumerate(r)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--startup-runs", type=int, default=10)
    ap.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds any one wait may last (default: 60)")
    ap.add_argument("--resend-ms", type=float, default=5.0,
                    help="start-up: resend kernel_info every N ms until a reply "
                         "(0: send once; default: 5)")
    ap.add_argument("--reconnect-ivl-ms", type=int, default=1,
                    help="start-up: ZMQ_RECONNECT_IVL of the client (ZMQ default: 100)")
    ap.add_argument("--block", type=int, default=100,
                    help="latency: executes per kernel per turn (default: 100)")
    ap.add_argument("--kernels", default="akernel-gateway,ipykernel,null,null-libzmq",
                    help="comma-separated subset to run")
    ap.add_argument("--no-split", action="store_true",
                    help="skip the latency pass with the client on CPU 0 and kernels on CPU 1")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    specs = [s for s in kernel_specs(build) if s[0] in args.kernels.split(",")]
    for name, argv_for in specs:
        exe = argv_for("X")[0]
        if not os.access(exe, os.X_OK):
            sys.exit(f"{name}: {exe} is not an executable (build it first)")

    # Run-wide scratch: IPython's profile and history go here, not into $HOME.
    scratch = tempfile.mkdtemp(prefix="akg-bench-run-")
    env = dict(os.environ, IPYTHONDIR=os.path.join(scratch, "ipython"),
               JUPYTER_RUNTIME_DIR=os.path.join(scratch, "runtime"))

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    results = {name: {} for name, _ in specs}
    errors = {}
    load_before = os.getloadavg()
    try:
        # Untimed first start of each kernel: warms the page cache and lets
        # IPython create its profile, so run 1 is not an outlier.
        for name, argv_for in specs:
            try:
                measure_startup(name, argv_for, env, args)
            except BenchError as e:
                errors[name] = str(e)
        print(f"start-up: {args.startup_runs} runs per kernel, interleaved ...", file=sys.stderr)
        startup = {name: ([], []) for name, _ in specs}
        for _ in range(args.startup_runs):
            for name, argv_for in specs:
                if name in errors:
                    continue
                try:
                    t_info, t_exec = measure_startup(name, argv_for, env, args)
                except BenchError as e:
                    errors[name] = str(e)
                    continue
                startup[name][0].append(t_info * 1000.0)
                startup[name][1].append(t_exec * 1000.0)
        for name, (info, first) in startup.items():
            if info:
                results[name].update(
                    startup_median_ms=statistics.median(info), startup_min_ms=min(info),
                    startup_max_ms=max(info), startup_runs_ms=info,
                    first_exec_median_ms=statistics.median(first),
                    first_exec_runs_ms=first)
        measure_latency(specs, env, args, results, errors)
        split = not args.no_split and {0, 1} <= os.sched_getaffinity(0)
        if split:
            measure_latency(specs, env, args, results, errors, split=True)
            wake_same, wake_split = wakeup_cost_us()
    finally:
        kill_all_live()
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = os.getloadavg()

    # ---- report
    print()
    print(f"akernel-gateway benchmark: cell `1`, {args.iterations} executes after "
          f"{WARMUP} warm-up; start-up over {args.startup_runs} runs")
    print(f"ipykernel {IPYKERNEL_VERSION}, jupyter_client {jupyter_client.__version__}, pyzmq {zmq.__version__}, "
          f"libzmq {zmq.zmq_version()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load avg {load_before[0]:.2f} -> {load_after[0]:.2f}")
    cols = ("kernel", "start-up med ms", "start-up min ms", "1st exec med ms",
            "p50 us", "p99 us", "mean us", "CPU us", "split p50 us", "split p99 us")
    rows = []
    for name, _ in specs:
        r = results[name]
        label = f"ipykernel {IPYKERNEL_VERSION}" if name == "ipykernel" else name
        rows.append((label, fmt(r.get("startup_median_ms"), ".1f"),
                     fmt(r.get("startup_min_ms"), ".1f"), fmt(r.get("first_exec_median_ms"), ".1f"),
                     fmt(r.get("p50_us"), ".1f"), fmt(r.get("p99_us"), ".1f"),
                     fmt(r.get("mean_us"), ".1f"), fmt(r.get("cpu_us"), ".1f"),
                     fmt(r.get("split", {}).get("p50_us"), ".1f"),
                     fmt(r.get("split", {}).get("p99_us"), ".1f")))
    table(cols, rows)
    print()

    g, ipy, null = (results.get(n, {}) for n in ("akernel-gateway", "ipykernel", "null"))
    ratios = {}

    def target(label, key, value, ok, want):
        ratios[key] = value
        if value is None:
            print(f"{label:<44} {'n/a':>10}   (target {want})")
        else:
            print(f"{label:<44} {value:>10.1f}   (target {want}) {'PASS' if ok(value) else 'MISS'}")

    def ratio(a, b):
        return a / b if a is not None and b else None

    target("start-up ipykernel / akernel-gateway", "startup_ratio",
           ratio(ipy.get("startup_median_ms"), g.get("startup_median_ms")),
           lambda v: v >= TARGET_STARTUP_RATIO, f">= {TARGET_STARTUP_RATIO:g}x")
    target("p50 latency ipykernel / akernel-gateway", "p50_ratio",
           ratio(ipy.get("p50_us"), g.get("p50_us")),
           lambda v: v >= TARGET_P50_RATIO, f">= {TARGET_P50_RATIO:g}x")
    def overhead(a, b):
        return a["p50_us"] - b["p50_us"] if "p50_us" in a and "p50_us" in b else None
    target("p50 akernel-gateway - p50 null kernel (us)", "p50_overhead_us", overhead(g, null),
           lambda v: v <= TARGET_OVERHEAD_US, f"<= {TARGET_OVERHEAD_US:g} us")
    target("  the same, split: client CPU 0, kernels CPU 1", "split_p50_overhead_us",
           overhead(g.get("split", {}), null.get("split", {})),
           lambda v: v <= TARGET_OVERHEAD_US, f"<= {TARGET_OVERHEAD_US:g} us")
    cpu = [r.get("cpu_us") for r in (g, null)]
    if None not in cpu:
        ratios["cpu_overhead_us"] = cpu[0] - cpu[1]
        print(f"{'CPU per execute, akernel-gateway - null (us)':<44} {cpu[0] - cpu[1]:>10.1f}")
    if split:
        ratios["wakeup_round_trip_us"] = {"one_cpu": wake_same, "two_cpus": wake_split}
        halt_poll = guest_halt_poll_ns()
        print(f"a pipe round trip between two processes: {wake_same:.1f} us on one CPU, "
              f"{wake_split:.1f} us across two"
              + ("" if halt_poll is None else f" (guest halt polling {halt_poll} ns)"))
    for name, _ in specs:
        r = results[name]
        if "shutdown_reply" in r and (not r["shutdown_reply"] or not r["exited_by_itself"]
                                      or r.get("exit_status") != 0):
            print(f"note: {name}: shutdown_reply {'received' if r['shutdown_reply'] else 'MISSING'}"
                  f", {'exited' if r['exited_by_itself'] else 'had to be killed'}"
                  f", exit status {r.get('exit_status')}")

    if args.json:
        doc = {
            "config": {"iterations": args.iterations, "warmup": WARMUP, "block": args.block,
                       "startup_runs": args.startup_runs, "resend_ms": args.resend_ms,
                       "reconnect_ivl_ms": args.reconnect_ivl_ms, "build": build},
            "environment": {"jupyter_client": jupyter_client.__version__,
                            "ipykernel": IPYKERNEL_VERSION,
                            "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(),
                            "python": platform.python_version(), "cpus": os.cpu_count(),
                            "guest_halt_poll_ns": guest_halt_poll_ns(),
                            "loadavg_before": load_before, "loadavg_after": load_after},
            "kernels": results,
            "ratios": ratios,
            "targets": {"startup_ratio_min": TARGET_STARTUP_RATIO,
                        "p50_ratio_min": TARGET_P50_RATIO,
                        "p50_overhead_us_max": TARGET_OVERHEAD_US},
            "errors": errors,
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")

    if errors:
        for name, err in errors.items():
            print(f"\nERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_all_live()
