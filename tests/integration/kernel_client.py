"""A test frontend over jupyter_client: starts a kernel from its
kernelspec, and sorts iopub messages by the request they answer, so tests
with several cells in flight can wait on exactly the message they expect.

Kernel owns the process (a KernelManager) and is itself a Client; more
Clients, each a notebook with its own session ID, join with new_client()."""

import collections
import os
import queue
import signal
import time

from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.session import Session

TIMEOUT = 30


class Client:
    def __init__(self, kc):
        self.kc = kc
        self.iopub = collections.defaultdict(list)  # parent msg_id -> messages
        self.replies = {}  # parent msg_id -> shell reply

    @property
    def session_id(self) -> str:
        return self.kc.session.session

    # -- collecting ---------------------------------------------------------------

    def _pump_iopub(self, timeout: float) -> bool:
        try:
            msg = self.kc.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return False
        self.iopub[msg["parent_header"].get("msg_id")].append(msg)
        return True

    def _pump_shell(self, timeout: float) -> bool:
        try:
            msg = self.kc.get_shell_msg(timeout=timeout)
        except queue.Empty:
            return False
        self.replies[msg["parent_header"].get("msg_id")] = msg
        return True

    def wait_iopub(self, msg_id: str, predicate, timeout=TIMEOUT):
        """The first iopub message for msg_id that satisfies predicate."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            msgs = self.iopub[msg_id]
            for m in msgs[seen:]:
                if predicate(m):
                    return m
            seen = len(msgs)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching iopub message for {msg_id}; got {[m['msg_type'] for m in msgs]}")
            self._pump_iopub(min(remaining, 0.5))

    def wait_idle(self, msg_id: str, timeout=TIMEOUT):
        return self.wait_iopub(msg_id, lambda m: m["msg_type"] == "status"
                               and m["content"]["execution_state"] == "idle", timeout)

    def wait_reply(self, msg_id: str, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while msg_id not in self.replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no reply to {msg_id}")
            self._pump_shell(min(remaining, 0.5))
        return self.replies.pop(msg_id)

    def outputs(self, msg_id: str):
        """Iopub messages of a request, except status and execute_input."""
        return [m for m in self.iopub[msg_id] if m["msg_type"] not in ("status", "execute_input")]

    # -- requests -----------------------------------------------------------------------

    def submit(self, code: str, **kw) -> str:
        return self.kc.execute(code, **kw)

    def finish(self, msg_id: str, timeout=TIMEOUT):
        """Wait for the reply and the idle status; return (reply content, outputs)."""
        reply = self.wait_reply(msg_id, timeout)
        self.wait_idle(msg_id, timeout)
        return reply["content"], self.outputs(msg_id)

    def execute(self, code: str, timeout=TIMEOUT, **kw):
        return self.finish(self.submit(code, **kw), timeout)

    def stdout(self, msg_id: str) -> str:
        return "".join(m["content"]["text"] for m in self.outputs(msg_id)
                       if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")

    def run(self, code: str, **kw):
        """Execute, assert it succeeded, return its stdout and outputs."""
        msg_id = self.submit(code, **kw)
        reply, outs = self.finish(msg_id)
        assert reply["status"] == "ok", reply
        return self.stdout(msg_id), outs

    def result(self, code: str):
        """The text/plain execute_result of a cell."""
        _, outs = self.run(code)
        results = [m for m in outs if m["msg_type"] == "execute_result"]
        assert results, outs
        return results[-1]["content"]["data"]["text/plain"]

    def request(self, method: str, *args, **kw):
        """Send a shell request (kc.<method>) and wait for its reply."""
        msg_id = getattr(self.kc, method)(*args, **kw)
        reply = self.wait_reply(msg_id)
        self.wait_idle(msg_id)
        return reply["content"]

    def interrupt(self):
        """An interrupt_request from this client's session."""
        msg = self.kc.session.msg("interrupt_request", {})
        self.kc.control_channel.send(msg)
        reply = self.kc.get_control_msg(timeout=TIMEOUT)
        assert reply["msg_type"] == "interrupt_reply", reply
        return reply["content"]

    def restart_session(self):
        """shutdown_request(restart=True) from this client's session."""
        self.kc.shutdown(restart=True)
        reply = self.kc.get_control_msg(timeout=TIMEOUT)
        assert reply["content"] == {"status": "ok", "restart": True}, reply

    def worker_pid(self) -> int:
        return int(self.result("import os; os.getpid()"))

    def close(self):
        self.kc.stop_channels()


class Kernel(Client):
    def __init__(self, name: str, extra_env=None, extra_args=(), transport="tcp"):
        self.km = KernelManager(kernel_name=name, transport=transport)
        if extra_args:
            self.km.kernel_spec.argv.extend(extra_args)
        env = dict(os.environ, **(extra_env or {}))
        self.km.start_kernel(env=env)
        self.pid = self.km.provisioner.process.pid
        kc = self.km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=TIMEOUT)
        super().__init__(kc)
        self.clients = []

    def new_client(self) -> Client:
        """Another notebook on the same kernel: its own session ID."""
        info = self.km.get_connection_info()
        kc = BlockingKernelClient(session=Session(key=info["key"]))
        kc.load_connection_info(info)
        kc.start_channels()
        kc.wait_for_ready(timeout=TIMEOUT)
        client = Client(kc)
        self.clients.append(client)
        return client

    def interrupt_all(self):
        """KernelManager.interrupt_kernel(). Note that this Kernel's own client
        shares the manager's session, so in multi mode it interrupts only the
        cells of that session."""
        self.km.interrupt_kernel()

    def stop(self):
        for c in self.clients:
            c.close()
        self.kc.stop_channels()
        if self.km.has_kernel:
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
