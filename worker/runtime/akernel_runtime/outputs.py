"""What a cell shows: stdout/stderr streams, results and errors, sent to the
router as events tagged with the request they belong to.

The request is found through the context variable CURRENT (the Cell whose
code runs), so concurrent cells each get their own output; code with no
cell context (a thread started by a cell) writes to the cell running now."""

import contextvars
import io
import json
import re
import threading
import traceback

import _akernel

CURRENT: contextvars.ContextVar = contextvars.ContextVar("akernel_request", default=None)


class Request:
    """A request being handled: what CURRENT holds while its code runs, so
    that output, display and comm messages go to it. A Cell is one."""

    __slots__ = ("session", "req", "out", "header", "count", "history", "allow_stdin")

    def __init__(self, session, req: int, header: bytes = b"", silent: bool = False):
        self.session = session
        self.req = req
        self.out = 0 if silent else req  # where its output goes (0: nowhere)
        self.header = header  # the raw request header, from the router
        self.count = None
        self.history = None
        self.allow_stdin = False

    def parent(self) -> dict:
        """The request's header, as a frontend sent it."""
        return {"header": json.loads(self.header)} if self.header else {"header": {}}

    def run(self, function, *args):
        """Call function with this request as the current one."""
        token = CURRENT.set(self)
        try:
            return function(*args)
        finally:
            CURRENT.reset(token)
STDOUT, STDERR = 1, 2
_RUNTIME_DIR = __file__.rsplit("/", 1)[0]
_MAIN_THREAD = threading.main_thread().ident


dumps = json.JSONEncoder(separators=(",", ":"), default=repr).encode
json_string = json.encoder.encode_basestring  # the C one: str -> JSON literal


def _no_loop():
    pass


# Events are queued in C and written when the loop has handled what it read;
# set by the worker to make sure a queue filled outside that is flushed too.
schedule_flush = _no_loop


def send_iopub(req: int, msg_type: str, content: dict, buffers=(), metadata=None) -> None:
    """Publish for request req: iopub ID TYPE CONTENT METADATA [BUFFERS...]."""
    _akernel.send("iopub", str(req), msg_type, dumps(content), dumps(metadata) if metadata else "", *buffers)
    schedule_flush()


def send_raw(kind: str, req: int, msg_type: str, content_json: str) -> None:
    """send_iopub/send_reply with content already encoded (hot paths)."""
    if kind == "iopub":
        _akernel.send(kind, str(req), msg_type, content_json, "")
    else:
        _akernel.send(kind, str(req), msg_type, content_json)
    schedule_flush()


def send_reply(req: int, msg_type: str, content: dict) -> None:
    _akernel.send("reply", str(req), msg_type, dumps(content))
    schedule_flush()


def send_done(req: int) -> None:
    _akernel.send("done", str(req))
    schedule_flush()


class Stream(io.TextIOBase):
    """sys.stdout / sys.stderr: text goes to the cell that wrote it."""

    def __init__(self, name: str, fd: int):
        self._name = name
        self._fd = fd

    @property
    def name(self):
        return f"<{self._name}>"

    @property
    def encoding(self):
        return "utf-8"

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        cell = CURRENT.get()
        req = _akernel.CURRENT if cell is None else cell.out
        if req and text:
            _akernel.stream(req, self._fd, text)
            if threading.get_ident() == _MAIN_THREAD:
                schedule_flush()
        return len(text)

    def flush(self):
        _akernel.flush()


_CELL_FILE = re.compile(r'File "<cell-([0-9a-f]+)>", line (\d+)')


def cell_filename(code: str) -> str:
    import hashlib

    return "<cell-" + hashlib.sha1(code.encode("utf-8", "surrogatepass")).hexdigest()[:12] + ">"


def _without_runtime_frames(tb):
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_RUNTIME_DIR):
        tb = tb.tb_next
    return tb


def error_content(exc: BaseException, counts: dict, ename: str = None) -> dict:
    """ename/evalue/traceback for an exception raised by a cell. `counts`
    maps cell filenames to execution counts, to say "Cell In[3], line 2"."""
    tb = _without_runtime_frames(exc.__traceback__)
    if type(exc).__name__ == "UsageError":  # a magic used wrongly: one line, as IPython
        return {"ename": "UsageError", "evalue": str(exc), "traceback": [f"UsageError: {exc}"]}
    if isinstance(exc, SyntaxError):
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        lines = traceback.format_exception(type(exc), exc, tb)

    def name_cell(m):
        n = counts.get(f"<cell-{m.group(1)}>")
        return f"Cell In[{n if n is not None else ' '}], line {m.group(2)}"

    lines = [_CELL_FILE.sub(name_cell, line).rstrip("\n") for line in lines]
    evalue = str(exc)
    if isinstance(exc, SyntaxError) and exc.msg:
        evalue = f"{exc.msg} (line {exc.lineno})" if exc.lineno else exc.msg
    return {"ename": ename or type(exc).__name__, "evalue": evalue, "traceback": lines}
