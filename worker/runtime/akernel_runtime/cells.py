"""Sessions and cells.

A Session is one namespace with its execution count, history and chain of
cells (one per session ID in multi mode, one in all in the other modes).
A Cell is one execute_request. Cells are chained: a cell starts when the
cell submitted before it has finished, unless the session is unchained
(concurrent mode, or __unchain_execution__()). A cell without top-level
await runs at once, inline; one with await runs as an asyncio task, so the
worker keeps answering other requests while it waits."""

import ast
import asyncio
import builtins
import inspect
import types

import _akernel

from . import cache, display, outputs, react, shell
from .outputs import CURRENT

_COMPILE_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_COMPILED_CACHE_SIZE = 256
_OUTPUTS_KEPT = 1000  # results whose text history keeps, as IPython's output cache


class Compiled:
    """A cell's code, split like IPython: the body, then the last
    expression compiled in 'single' mode so its value reaches the display
    hook. Each part says whether it is a coroutine (uses await)."""

    __slots__ = ("filename", "python", "parts", "is_async")

    def __init__(self, code: str):
        import linecache

        self.filename = outputs.cell_filename(code)
        self.python = python = shell.transform_cell(code)  # %magics, !shell, obj?
        tree = ast.parse(python, self.filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not _ends_with_semicolon(code):
            last = ast.Interactive([tree.body.pop()])
        codes = []
        if tree.body:
            codes.append(compile(tree, self.filename, "exec", _COMPILE_FLAGS))
        if last is not None:
            codes.append(compile(last, self.filename, "single", _COMPILE_FLAGS))
        self.parts = [(c, bool(c.co_flags & inspect.CO_COROUTINE)) for c in codes]
        self.is_async = any(is_coro for _, is_coro in self.parts)
        shown = code if code.count("\n") == python.rstrip("\n").count("\n") else python
        linecache.cache[self.filename] = (len(shown), None, shown.splitlines(True), self.filename)


def _ends_with_semicolon(code: str) -> bool:
    """A trailing ';' hides the result, as in IPython (comments ignored)."""
    stripped = code.rstrip()
    if ";" not in stripped.rsplit("\n", 1)[-1]:
        return False
    import io
    import tokenize

    last = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                tokenize.ENDMARKER, tokenize.DEDENT, tokenize.INDENT):
                last = tok
    except (tokenize.TokenError, SyntaxError):
        return False
    return last is not None and last.type == tokenize.OP and last.string == ";"


_compiled: dict = {}


def compile_cell(code: str) -> Compiled:
    c = _compiled.pop(code, None)
    if c is None:
        c = Compiled(code)
        if len(_compiled) >= _COMPILED_CACHE_SIZE:
            del _compiled[next(iter(_compiled))]
    _compiled[code] = c  # most recently used last
    return c


class Cell(outputs.Request):
    __slots__ = ("code", "silent", "store_history", "user_expressions", "stop_on_error",
                 "metadata", "prev", "waiters", "queued", "done", "future", "task", "interrupted",
                 "payload", "react", "cache")

    def __init__(self, request: outputs.Request, content: dict, metadata: dict):
        self.silent = bool(content.get("silent", False))
        super().__init__(request.session, request.req, request.header, self.silent)
        self.code = content.get("code", "")
        self.store_history = bool(content.get("store_history", True)) and not self.silent
        self.user_expressions = content.get("user_expressions") or {}
        self.allow_stdin = bool(content.get("allow_stdin", False))
        self.stop_on_error = bool(content.get("stop_on_error", True))
        self.metadata = metadata
        self.prev = None
        self.waiters = []
        self.queued = False
        self.done = False
        self.future = None
        self.task = None
        self.interrupted = False
        self.payload = []  # e.g. the pager text of `obj?`
        self.react = None  # react mode: its run in the session's graph
        self.cache = None  # cache mode: its key, while it runs recorded

    def awaitable(self):
        """A future that completes when this cell has finished."""
        if self.future is None:
            self.future = asyncio.get_running_loop().create_future()
            if self.done:
                self.future.set_result(None)
        return self.future


class _Stepper:
    """Drives a cell's coroutine, marking the worker as running that cell's
    code during each step: fd-level output goes to it and an interrupt
    raises KeyboardInterrupt in it."""

    __slots__ = ("coro", "worker", "cell")

    def __init__(self, coro, worker, cell):
        self.coro, self.worker, self.cell = coro, worker, cell

    def __await__(self):
        coro, worker, cell = self.coro, self.worker, self.cell
        value, error = None, None
        while True:
            worker.enter(cell)
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                worker.leave()
            try:
                value, error = (yield yielded), None
            except BaseException as e:  # cancellation, thrown in by the task
                value, error = None, e


class Session:
    def __init__(self, sid: str, worker, modes: frozenset):
        self.sid = sid
        self.worker = worker
        self.modes = modes  # "concurrent", "react", "cache" ("multi" is the worker's)
        self.module = types.ModuleType("__main__")
        self.namespace = self.module.__dict__
        self.namespace.update(_helpers())
        self.execution_count = 0
        self.chained = "concurrent" not in modes
        self.last_cell = None
        self.cells = set()  # submitted and not finished
        self.history = []  # (line number, input, output text or None)
        self.counts = {}  # cell filename -> execution count, for tracebacks
        self.react = react.graph_for(self)  # react mode: the cells' dependency graph

    # -- submitting and starting -------------------------------------------------

    def submit(self, cell: Cell) -> None:
        cell.prev, self.last_cell = self.last_cell, cell
        self.cells.add(cell)
        if self.chained and cell.prev is not None and not cell.prev.done:
            cell.queued = True
            cell.prev.waiters.append(cell)
        else:
            self.start(cell)

    def start(self, cell: Cell) -> None:
        cell.queued = False
        if self.react is not None and self.react.defer(cell):
            return  # a running cell defines one of its inputs: started after it
        if cell.store_history:
            self.execution_count += 1
        cell.count = self.execution_count
        if cell.out:
            outputs.send_raw("iopub", cell.req, "execute_input",
                             f'{{"code":{outputs.json_string(cell.code)},"execution_count":{cell.count}}}')
        if cell.store_history:
            cell.history = [cell.count, cell.code, None]
            self.history.append(cell.history)
            if len(self.history) > _OUTPUTS_KEPT:  # a cell run over and over: memory stays bounded
                self.history[-_OUTPUTS_KEPT - 1][2] = None
        try:
            compiled = compile_cell(cell.code)
        except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError) as e:
            self.counts[outputs.cell_filename(cell.code)] = cell.count
            self.finish(cell, e)
            return
        self.counts[compiled.filename] = cell.count
        if self.react is not None and self.react.refuses(cell, compiled):
            return  # it would close a cycle: finished with the error
        if "cache" in self.modes and self.react is None and cache.start(cell, compiled.python):
            self.finish(cell)  # answered from the cache (in react mode, dependents are)
            return
        if compiled.is_async:
            cell.task = self.worker.loop.create_task(self._run_async(cell, compiled))
            cell.task.add_done_callback(lambda task: self._task_ended(cell, task))
        else:
            self._run_sync(cell, compiled)

    def _run_sync(self, cell: Cell, compiled: Compiled) -> None:
        worker, ns = self.worker, self.namespace
        token = CURRENT.set(cell)
        try:
            worker.enter(cell)
            for code, _ in compiled.parts:
                exec(code, ns)
        except BaseException as e:
            worker.leave()
            self.finish(cell, e)
        else:
            worker.leave()
            self.finish(cell)
        finally:
            CURRENT.reset(token)

    async def _run_async(self, cell: Cell, compiled: Compiled) -> None:
        worker, ns = self.worker, self.namespace
        CURRENT.set(cell)
        try:
            for code, is_coro in compiled.parts:
                worker.enter(cell)
                try:
                    result = eval(code, ns)
                finally:
                    worker.leave()
                if is_coro:
                    await _Stepper(result, worker, cell)
        except BaseException as e:
            self.finish(cell, e)
        else:
            self.finish(cell)

    def _task_ended(self, cell: Cell, task) -> None:
        """A task cancelled before its first step never ran _run_async."""
        if not cell.done:
            error = asyncio.CancelledError() if task.cancelled() else task.exception()
            self.finish(cell, error or RuntimeError("the cell's task ended without a result"))

    # -- finishing -------------------------------------------------------------------

    def finish(self, cell: Cell, error: BaseException = None) -> None:
        if self.react is not None:
            error = self.react.finishing(cell, error)  # waiting is not an error; dependents re-run
            if error is react.PENDING:
                return  # async dependents: finished again when they are done
        try:
            cell.run(display.post_execute, cell)  # e.g. figures left open
        except Exception as e:
            error = error or e
        if cell.cache is not None:
            cache.finish(cell, error)  # store what it did (unless it failed)
        _akernel.collect()  # its last C-level output goes before its reply
        stopping = error is not None and cell.stop_on_error
        if stopping:
            # What was sent before this reply is aborted; what a client sends
            # after seeing it (and the idle that follows) is not.
            self.worker.read_channel()
        if error is not None:
            outputs.send_reply(cell.req, "execute_reply", self._error_reply(cell, error))
        elif cell.user_expressions or cell.payload:
            outputs.send_reply(cell.req, "execute_reply", {
                "status": "ok", "execution_count": cell.count, "payload": cell.payload,
                "user_expressions": self._user_expressions(cell)})
        else:
            outputs.send_raw("reply", cell.req, "execute_reply",
                             f'{{"status":"ok","execution_count":{cell.count},'
                             f'"user_expressions":{{}},"payload":[]}}')
        self._done(cell)
        if stopping:
            self.abort_queued()
        for waiter in cell.waiters:
            if not waiter.done:
                self.worker.loop.call_soon(self.start, waiter)

    def _error_reply(self, cell: Cell, error: BaseException) -> dict:
        interrupted = cell.interrupted or isinstance(error, KeyboardInterrupt)
        if isinstance(error, asyncio.CancelledError) and cell.interrupted:
            error = KeyboardInterrupt()
        content = outputs.error_content(error, self.counts,
                                        "KeyboardInterrupt" if interrupted else None)
        if cell.out:
            outputs.send_iopub(cell.req, "error", content)
        return {"status": "error", "execution_count": cell.count, **content}

    def _user_expressions(self, cell: Cell) -> dict:
        results = {}
        for name, expr in cell.user_expressions.items():
            try:
                data, md = display.format_plain_or_rich(eval(expr, self.namespace))
                results[name] = {"status": "ok", "data": data, "metadata": md}
            except Exception as e:
                results[name] = {"status": "error", **outputs.error_content(e, self.counts)}
        return results

    def _done(self, cell: Cell) -> None:
        cell.done = True
        if cell.prev is not None and cell.prev.done:
            cell.prev = None  # a finished cell awaits as None does: let it go
        self.cells.discard(cell)
        if cell.future is not None and not cell.future.done():
            cell.future.set_result(None)

    def abort(self, cell: Cell) -> None:
        """Answer a cell that will not run (as ipykernel: status aborted)."""
        if cell.done:
            return
        outputs.send_reply(cell.req, "execute_reply", {"status": "aborted"})
        self._done(cell)
        for waiter in cell.waiters:
            self.abort(waiter)

    def abort_queued(self) -> None:
        """After an error with stop_on_error: drop the cells waiting in the
        chain, and those read from the channel but not yet handled."""
        self.worker.abort_pending_executes(self)
        for cell in [c for c in self.cells if c.queued]:
            self.abort(cell)

    # -- interrupting ---------------------------------------------------------------

    def interrupt(self, running) -> bool:
        """Cancel this session's cells. Returns True if `running` (the cell
        whose code is executing right now, if any) is one of them: the
        caller raises KeyboardInterrupt in it."""
        hit = False
        for cell in list(self.cells):
            cell.interrupted = True
            if cell.queued:
                self.abort(cell)
            elif cell is running:
                hit = True
            elif cell.task is not None:
                cell.task.cancel()
        return hit

    def close(self) -> None:
        for cell in list(self.cells):
            cell.interrupted = True
            if cell.task is not None:
                cell.task.cancel()
            else:
                self.abort(cell)


def _helpers() -> dict:
    """Names akernel puts in every namespace."""
    from . import stdin

    def __task__():
        cell = CURRENT.get()
        if cell is None or cell.prev is None:
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future
        return cell.prev.awaitable()

    def __unchain_execution__():
        CURRENT.get().session.chained = False

    def __chain_execution__():
        CURRENT.get().session.chained = True

    return {
        "__builtins__": builtins,
        "asyncio": asyncio,
        "__task__": __task__,
        "__unchain_execution__": __unchain_execution__,
        "__chain_execution__": __chain_execution__,
        "ainput": stdin.ainput,
    }
