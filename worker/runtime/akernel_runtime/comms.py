"""Comms: the Jupyter comm protocol, for ipywidgets and other libraries that
talk to a frontend-side model.

Kernel -> frontend: a Comm's publish_msg sends comm_open / comm_msg /
comm_close on iopub with the current request as parent (the cell that made a
widget, or the comm_msg whose callback changed it), binary buffers as the
message's buffers.
Frontend -> kernel: HANDLERS answers comm_open / comm_msg / comm_close (no
reply: the request is done when the callbacks have run) and
comm_info_request. Callbacks run with that message as the current request,
so what they print or display has it as parent. They are handled by the
worker's loop between the steps of cells, so a widget works while a cell
awaits.

Libraries find this through the `comm` package (comm.create_comm,
comm.get_comm_manager: ipywidgets 8), and through ipykernel.comm.Comm
(ipywidgets 6 and 7 create ipykernel's Comm directly; install() replaces it
with ours when ipykernel.comm is imported, as ipykernel itself is not the
kernel here). `comm` and ipykernel are imported only when something uses
them: install() costs no import."""

import sys
import threading
import traceback

import _akernel

from . import outputs
from .outputs import CURRENT

_MAX_BUFFERS = 60  # the router's channel takes 64 parts: iopub, id, type, content

_manager = None
_classes = None  # (Comm, CommManager), made when `comm` is first needed


def log(text: str) -> None:
    _akernel.log(text)


# -- where a comm message goes ------------------------------------------------------------

def _target_request():
    """The request a comm message answers: the current one; else (a thread
    started by a cell, a finalizer) the cell running now."""
    request = CURRENT.get()
    if request is not None:
        return request.req
    from . import stdin

    worker = getattr(stdin, "WORKER", None)
    running = getattr(worker, "running", None)
    return running.req if running is not None else None


def _as_bytes(buffer) -> bytes:
    if isinstance(buffer, bytes):
        return buffer
    return memoryview(buffer).tobytes()  # memoryview, bytearray, numpy arrays...


def _publish(msg_type: str, content: dict, buffers, metadata=None) -> None:
    req = _target_request()
    if req is None:
        log(f"{msg_type} for comm {content.get('comm_id')} dropped: no request to attach it to")
        return
    parts = [_as_bytes(b) for b in buffers or ()]
    if len(parts) > _MAX_BUFFERS:
        raise ValueError(f"a comm message can carry at most {_MAX_BUFFERS} buffers, not {len(parts)}")
    if threading.current_thread() is threading.main_thread():
        outputs.send_iopub(req, msg_type, content, parts, metadata)
    else:  # queue it here; the loop (not thread-safe) flushes it
        _akernel.send("iopub", str(req), msg_type, outputs.dumps(content),
                      outputs.dumps(metadata) if metadata else "", *parts)
        from . import stdin

        worker = getattr(stdin, "WORKER", None)
        if worker is not None:
            worker.loop.call_soon_threadsafe(outputs.schedule_flush)


# -- the classes (built on the comm package, imported when first needed) ---------------------

class _CommKernel:
    """What Comm.kernel is when get_ipython() has no kernel: ipywidgets 6/7
    only send when comm.kernel is not None."""

    @property
    def comm_manager(self):
        return manager()

    def get_parent(self, channel="shell"):
        request = CURRENT.get()
        return request.parent() if request is not None else {}


def _kernel():
    try:
        from .shell import get_ipython

        return get_ipython().kernel
    except Exception:
        return _CommKernel()


def _flush_figures(request) -> None:
    """Figures drawn by a comm callback are shown with its message as parent
    (ipykernel runs post_execute after comm callbacks for this)."""
    backend = sys.modules.get("akernel_runtime.mpl_backend")
    if backend is not None and request is not None:
        backend.flush_figures(request)


def _make_classes():
    from comm.base_comm import BaseComm, CommManager as BaseCommManager

    _patch_comm(sys.modules["comm"])  # BaseComm.open/close use comm.get_comm_manager()

    class Comm(BaseComm):
        """A comm whose messages go to the frontend through the router."""

        _known = ("comm_id", "primary", "target_module", "topic", "_open_data", "_close_data")

        def __init__(self, target_name="comm", data=None, metadata=None, buffers=None, **kwargs):
            # ipykernel's Comm is a traitlets object: kernel=, parent=, log=...
            # may be passed; BaseComm would hand them to object().
            known = {k: v for k, v in kwargs.items() if k in self._known}
            super().__init__(target_name=target_name or "comm", data=data, metadata=metadata,
                             buffers=buffers, **known)

        @property
        def kernel(self):
            return _kernel()

        @kernel.setter
        def kernel(self, value):
            pass  # ipykernel's CommManager sets it: there is one kernel here

        @property
        def log(self):
            import logging

            return logging.getLogger("Comm")

        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            content = {"data": {} if data is None else data, "comm_id": self.comm_id, **keys}
            _publish(msg_type, content, buffers, metadata)  # comm_open: ipywidgets' version

        def close(self, data=None, metadata=None, buffers=None, deleting=False):
            if deleting:  # from __del__: maybe at exit, with nowhere to send
                try:
                    super().close(data, metadata, buffers, deleting=True)
                except Exception:
                    pass
                return
            if self._closed:
                return
            super().close(data, metadata, buffers)
            if self.comm_id in manager().comms:  # BaseComm unregisters only if its manager is the global one
                manager().unregister_comm(self)

        def handle_msg(self, msg):
            # BaseComm's imports IPython (slow) to trigger its shell events
            if self._msg_callback:
                self._msg_callback(msg)
                _flush_figures(CURRENT.get())

        def handle_close(self, msg):
            if self._close_callback:
                self._close_callback(msg)
                _flush_figures(CURRENT.get())

    class CommManager(BaseCommManager):
        """The worker's comms and targets (one for the whole process, shared
        by every session in it). Errors in callbacks are printed to stderr
        with the message as parent; protocol problems go to the kernel log."""

        def get_comm(self, comm_id):
            comm = self.comms.get(comm_id)
            if comm is None:
                log(f"no such comm: {comm_id}")
            return comm

        def unregister_comm(self, comm):
            return self.comms.pop(comm.comm_id, None)

        def comm_open(self, stream, ident, msg):
            content = msg["content"]
            comm_id, target_name = content.get("comm_id"), content.get("target_name")
            comm = Comm(comm_id=comm_id, primary=False, target_name=target_name)
            self.register_comm(comm)
            target = self.targets.get(target_name)
            if target is None:
                log(f"comm_open: no such comm target registered: {target_name}")
            else:
                try:
                    target(comm, msg)
                    return
                except Exception:
                    traceback.print_exc()
            try:
                comm.close()  # tell the frontend this one is gone
            except Exception:
                log("".join(traceback.format_exc()))

        def comm_msg(self, stream, ident, msg):
            comm = self.get_comm(msg["content"].get("comm_id"))
            if comm is None:
                return
            try:
                comm.handle_msg(msg)
            except Exception:
                traceback.print_exc()

        def comm_close(self, stream, ident, msg):
            comm_id = msg["content"].get("comm_id")
            comm = self.get_comm(comm_id)
            if comm is None:
                return
            comm._closed = True
            self.comms.pop(comm_id, None)
            try:
                comm.handle_close(msg)
            except Exception:
                traceback.print_exc()

    return Comm, CommManager


def classes():
    """(Comm, CommManager): this kernel's subclasses of the comm package's."""
    global _classes
    if _classes is None:
        _classes = _make_classes()
    return _classes


def create_comm(*args, **kwargs):
    """comm.create_comm: a new Comm (opened on the frontend if primary)."""
    return classes()[0](*args, **kwargs)


def manager():
    """The worker's CommManager (comm.get_comm_manager, and what
    get_ipython().kernel.comm_manager returns)."""
    global _manager
    if _manager is None:
        _manager = classes()[1]()
    return _manager


# -- messages from the frontend ------------------------------------------------------------

def _message(request, msg_type: str, content: dict, metadata: dict, buffers) -> dict:
    """The message as ipykernel hands it to comm callbacks."""
    header = request.parent()["header"]
    return {"header": header, "msg_id": header.get("msg_id", ""), "msg_type": msg_type,
            "parent_header": {}, "metadata": metadata, "content": content, "buffers": list(buffers)}


def _handle(worker, request, msg_type, content, metadata, buffers) -> None:
    try:
        msg = _message(request, msg_type, content, metadata, buffers)
        handler = getattr(manager(), msg_type)
        worker.enter(request)  # fd-level output of the callbacks goes to it too
        try:
            request.run(handler, None, None, msg)
        finally:
            worker.leave()
    except BaseException as e:  # KeyboardInterrupt included: the request must end
        log(f"{msg_type}: " + "".join(traceback.format_exception(e)))
    finally:
        outputs.send_done(request.req)


def on_comm_open(worker, request, content, metadata, buffers) -> None:
    _handle(worker, request, "comm_open", content, metadata, buffers)


def on_comm_msg(worker, request, content, metadata, buffers) -> None:
    _handle(worker, request, "comm_msg", content, metadata, buffers)


def on_comm_close(worker, request, content, metadata, buffers) -> None:
    _handle(worker, request, "comm_close", content, metadata, buffers)


def on_comm_info(worker, request, content, metadata, buffers) -> None:
    target = content.get("target_name")
    comms = {}
    if _manager is not None:
        comms = {comm_id: {"target_name": c.target_name} for comm_id, c in _manager.comms.items()
                 if not target or c.target_name == target}
    outputs.send_reply(request.req, "comm_info_reply", {"status": "ok", "comms": comms})


HANDLERS = {
    "comm_open": on_comm_open,
    "comm_msg": on_comm_msg,
    "comm_close": on_comm_close,
    "comm_info_request": on_comm_info,
}


# -- hooking into the comm package and ipykernel ------------------------------------------

def _patch_comm(module) -> None:
    module.create_comm = create_comm
    module.get_comm_manager = manager


def _patch_ipykernel_comm(module) -> None:
    """ipywidgets < 8 makes ipykernel.comm.Comm, which needs an ipykernel
    Kernel; ours goes through the router (and is what the trait
    Instance('ipykernel.comm.Comm') resolves to)."""
    comm_class = classes()[0]
    original = getattr(module, "Comm", None)
    module.Comm = comm_class
    inner = sys.modules.get(module.__name__ + ".comm")
    if inner is not None:
        inner.Comm = comm_class
    widget = sys.modules.get("ipywidgets.widgets.widget")  # imported before (--preload)
    if widget is not None and getattr(widget, "Comm", None) is original:
        widget.Comm = comm_class


def install() -> None:
    """Make the comm package and ipykernel.comm use this kernel's comms."""
    from .compat import after_import

    after_import("comm", _patch_comm)
    after_import("ipykernel.comm", _patch_ipykernel_comm)


__all__ = ["HANDLERS", "install", "manager", "create_comm", "classes"]
