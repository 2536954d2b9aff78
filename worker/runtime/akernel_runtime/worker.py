"""The worker's event loop.

The router sends (see gateway/workers.c):
    request ID TYPE SESSION CONTENT METADATA HEADER [BUFFERS...]
    input_reply ID CONTENT
    session SESSION MODES      a new session and the modes it runs in
    interrupt SESSION          ("" = every session, "N/" = those of frontend N)
    reset SESSION              (its frontend restarted it, or went away)
A SESSION is "<frontend id>/<session id>", unique across frontends.
Messages are read when the channel is readable, and also by the SIGINT
handler, which the router sends after an interrupt so that a cell blocking
the loop (time.sleep, a CPU loop) gets KeyboardInterrupt."""

import asyncio
import builtins
import getpass
import json
import os
import signal
import sys
import traceback

import _akernel

from . import comms, compat, display, introspect, outputs, shell, stdin
from .cells import Cell, Session

_modes = frozenset()


def configure(modes: str) -> None:
    global _modes
    _modes = frozenset(modes.split("-")) - {"default", ""}


def log(text: str) -> None:
    _akernel.log(text)


class Worker:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.multi = "multi" in _modes
        self.sessions = {}
        self.backlog = []  # messages read, not yet handled (mutated in place only)
        self.running = None  # the cell whose code executes right now
        self.pending_inputs = {}  # request id -> future, for ainput()
        self.session_modes = {}  # session key -> its modes, when the router says
        self._current_out = None
        self._flush_scheduled = False
        self._dispatching = False
        self.handlers = {
            "execute_request": self.on_execute,
            "complete_request": introspect.complete,
            "inspect_request": introspect.inspect_object,
            "is_complete_request": introspect.is_complete,
            "history_request": introspect.history,
        }
        self.handlers.update(comms.HANDLERS)  # comm_open, comm_msg, comm_close, comm_info_request

    # -- what runs now ----------------------------------------------------------

    def enter(self, cell) -> None:
        self.running = cell
        if cell.out != self._current_out:
            self._current_out = cell.out
            _akernel.set_current(cell.out)
        if sys.modules.get("__main__") is not cell.session.module:
            sys.modules["__main__"] = cell.session.module

    def leave(self) -> None:
        self.running = None

    def schedule_flush(self) -> None:
        """Write queued output once the loop is idle (on_readable flushes
        what its own dispatch queued)."""
        if not self._flush_scheduled and not self._dispatching:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        _akernel.flush()

    def session_key(self, sid: str) -> str:
        """Sessions share one namespace unless the kernel is in multi mode."""
        return sid if self.multi else ""

    def session(self, sid: str) -> Session:
        key = self.session_key(sid)
        s = self.sessions.get(key)
        if s is None:
            modes = self.session_modes.get(key, _modes)  # per frontend under serve
            s = self.sessions[key] = Session(key, self, modes)
        return s

    # -- reading the channel ----------------------------------------------------------

    def read_channel(self) -> None:
        try:
            self.backlog.extend(_akernel.recv())
        except EOFError:
            os._exit(0)  # the router is gone

    def on_readable(self) -> None:
        self.read_channel()
        self._dispatching = True
        try:
            self.process_backlog()
        finally:
            self._dispatching = False
            _akernel.flush()

    def process_backlog(self) -> None:
        while self.backlog:
            self.dispatch(self.backlog.pop(0))

    def dispatch(self, msg) -> None:
        kind = msg[0]
        if kind == b"request":
            self.on_request(int(msg[1]), msg[2].decode(), msg[3].decode(), msg[4].decode(), msg[5],
                            msg[6], msg[7:])
        elif kind == b"input_reply":
            stdin.deliver(self, int(msg[1]), json.loads(msg[2]))
        elif kind == b"interrupt":
            self.interrupt(msg[1].decode(), None)
        elif kind == b"reset":
            self.reset(msg[1].decode())
        elif kind == b"session":
            key = self.session_key(msg[1].decode())
            self.session_modes[key] = frozenset(msg[2].decode().split("-")) - {""}
        else:
            log(f"unknown message from the router: {kind!r}")

    def on_request(self, req, msg_type, sid, content, metadata, header, buffers) -> None:
        handler = self.handlers.get(msg_type)
        try:
            if handler is None:
                log(f"no handler for {msg_type}")
                outputs.send_done(req)
                return
            metadata = json.loads(metadata) if metadata != b"{}" else {}
            request = outputs.Request(self.session(sid), req, header)
            handler(self, request, json.loads(content), metadata, buffers)
        except Exception as e:  # a bug here must not leave the client waiting
            log("".join(traceback.format_exception(e)))
            reply = msg_type.replace("_request", "_reply")
            if reply != msg_type:
                outputs.send_reply(req, reply, {"status": "error", **outputs.error_content(e, {})})
            else:
                outputs.send_done(req)

    def on_execute(self, _, request, content, metadata, buffers) -> None:
        request.session.submit(Cell(request, content, metadata))

    # -- interrupts, restarts, aborts --------------------------------------------------

    def interrupt(self, sid: str, running) -> bool:
        """Cancel the cells of session `sid` ("" = all). True if `running`
        is among them."""
        if sid == "" or not self.multi:
            sessions = list(self.sessions.values())
        elif sid.endswith("/"):  # every session of one frontend
            sessions = [s for key, s in self.sessions.items() if key.startswith(sid)]
        else:
            sessions = [self.sessions[sid]] if sid in self.sessions else []
        hit = False
        for s in sessions:
            hit |= s.interrupt(running)
        return hit

    def on_sigint(self, signum, frame) -> None:
        self.read_channel()
        if self.running is None:  # the loop is not blocked: let it handle them
            self.loop.call_soon_threadsafe(self.process_backlog)
            return
        self.loop.call_soon_threadsafe(self.process_backlog)
        self._interrupt_running()

    def _interrupt_running(self) -> None:
        """While a cell's code runs: act on the interrupts already read, and
        raise KeyboardInterrupt in the cell if one is for it."""
        interrupts = [m for m in self.backlog if m[0] == b"interrupt"]
        if not interrupts:
            return
        self.backlog[:] = [m for m in self.backlog if m[0] != b"interrupt"]
        hit = False
        for m in interrupts:
            hit |= self.interrupt(m[1].decode(), self.running)
        if hit:
            raise KeyboardInterrupt

    def reset(self, sid: str) -> None:
        key = self.session_key(sid)
        old = self.sessions.pop(key, None)
        self.session_modes.pop(key, None)
        if old is not None:
            old.close()

    def abort_pending_executes(self, session) -> None:
        """Abort execute requests of `session` read but not yet handled."""
        keep = []
        for m in self.backlog:
            if (m[0] == b"request" and m[2] == b"execute_request"
                    and self.session_key(m[3].decode()) == session.sid):
                outputs.send_reply(int(m[1]), "execute_reply", {"status": "aborted"})
            else:
                keep.append(m)
        self.backlog[:] = keep

    # -- blocking input ----------------------------------------------------------------

    def wait_input(self, req: int) -> str:
        """Block until the input_reply for request `req` arrives."""
        import select

        fd = _akernel.fileno()
        _akernel.flush()  # the input_request
        try:
            while True:
                for i, m in enumerate(self.backlog):
                    if m[0] == b"input_reply" and int(m[1]) == req:
                        del self.backlog[i]
                        return json.loads(m[2]).get("value", "")
                self._interrupt_running()  # an interrupt read here, before its signal
                select.select([fd], [], [])
                self.read_channel()
        finally:
            if self.backlog:
                self.loop.call_soon(self.process_backlog)


def _inline_figures(matplotlib) -> None:
    """Figures are shown in the cell, as ipykernel's inline backend does,
    unless the user chose a backend (MPLBACKEND). Set at import, not in the
    environment, so subprocesses do not inherit a backend they cannot load."""
    if not os.environ.get("MPLBACKEND"):
        matplotlib.use("module://akernel_runtime.mpl_backend")


def _install(worker: Worker) -> None:
    outputs.schedule_flush = worker.schedule_flush
    sys.stdout = outputs.Stream("stdout", outputs.STDOUT)
    sys.stderr = outputs.Stream("stderr", outputs.STDERR)
    sys.stdin = open(os.devnull)
    sys.displayhook = display.displayhook
    builtins.display = display.display
    builtins.get_ipython = shell.get_ipython
    compat.install()
    comms.install()
    compat.after_import("matplotlib", _inline_figures)
    builtins.input = stdin.input
    getpass.getpass = stdin.getpass
    stdin.WORKER = worker
    if "" not in sys.path:
        sys.path.insert(0, "")  # import from the working directory, as ipykernel
    signal.signal(signal.SIGINT, worker.on_sigint)


def main() -> None:
    worker = Worker()
    _install(worker)
    worker.loop.add_reader(_akernel.fileno(), worker.on_readable)
    _akernel.send("ready", str(os.getpid()))
    while True:
        try:
            worker.loop.run_forever()
        except KeyboardInterrupt:
            continue  # an interrupt that landed between two steps
