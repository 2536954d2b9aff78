"""React mode: cells re-run when the names they read change.

Each session (each notebook in multi mode) has a Graph of its cells, built
from their code (analysis.py): the names a cell defines at top level and the
names it reads. When a cell (re)defines names, every cell that reads them,
directly or through others, re-runs once, in dependency order, before the
reply to the cell that was run.

Cell identity
    A cell is known by the `cellId` in the execute_request's metadata
    (JupyterLab and Notebook 7 send it): running the same cellId again
    replaces that cell's code in the graph. Cells listed in the metadata's
    `deletedCells` are dropped from the graph (the values they defined stay
    in the namespace, no longer owned by any cell).
    A request without cellId (classic Notebook, jupyter_client, nbclient up
    to 0.7, consoles) is a new cell each time; the latest cell to define a
    name owns it. Two rules keep such cells from piling up: a request whose
    code is the same as an earlier one without cellId replaces it (running
    the same cell again), and an earlier cell without cellId whose names
    have all been taken over by later cells is dropped. An edited cell that
    only reads names (e.g. `print(x)` changed to `print(x, y)`) stays in the
    graph: use a frontend that sends cellId.

What a cell shows
    A react cell's result is not an execute_result: it is a display_data
    with a display_id (transient {"display_id": ...}), the cell's "slot",
    and each re-run replaces it with an update_display_data (parented to
    the request being run; frontends update by display_id). A slot is sent
    when the cell shows a value, waits for a name, or reads names (it may
    re-run: a cell without a value shows an empty text/plain there).
    What a re-run prints or displays goes to the output of the cell that
    was run (frontends can only replace outputs in place by display_id).

Undefined names
    A cell that raises NameError for a name missing from the namespace
    (raised by code of this namespace: the cell or a function it defined)
    is not an error: it waits for that name. Its result is None (the slot
    shows None), the names it owns are removed from the namespace (so the
    cells that read them wait too), and it re-runs when the name is
    defined. Other exceptions are errors as usual.

Propagation
    When a cell has run without error (or is waiting), the cells that read
    what it defines (or the names it no longer defines) re-run, each once,
    in dependency order (ties in the order cells were last run). A cell never
    re-triggers itself (`x += 1` reads and defines x). A dependent that
    raises shows its traceback as text in its slot (update_display_data with
    text/plain); the cells that depend on it are not re-run (they keep what
    they showed), and the others go on. An interrupt stops the propagation;
    the cell that was run then ends with KeyboardInterrupt.

Cycles and conflicts
    A cell whose names would make cells depend on each other in a circle is
    not run: it ends with CyclicDependencyError, and the graph is left as it
    was. When two cells define the same name, the one run last (by a
    request, not a re-run) owns it: it gets a one-line notice on stderr. A
    cell that lost a name still assigns it when it re-runs: avoid defining a
    name in two cells.

Deleting
    Running a cell with new code drops the names it no longer defines
    (removed from the namespace if it owned them; their readers re-run and
    wait). `del x` counts as defining x: the readers of x re-run and wait.

With other modes
    multi: one graph per session. Async cells (top-level await) take part;
    their re-runs run as a task, and the reply waits for them. Concurrent:
    a cell, or a re-run, whose inputs are defined by a cell still running
    (started earlier) waits for that cell to finish first. Cache mode: an
    unchanged dependent takes its outputs from the cache instead of
    re-running (Graph.from_cache, cache.py). Silent requests stay out of
    the graph.
"""

import asyncio
import heapq
import sys
import uuid

from . import analysis, cache, display, outputs, shell
from .outputs import CURRENT

PENDING = object()  # from finishing(): the reply waits for the dependents

_RUN, _PROPAGATING, _DONE = 0, 1, 2
_NOTHING = object()  # no value was shown


class CyclicDependencyError(Exception):
    """The cell would make cells depend on each other in a circle."""


CyclicDependencyError.__module__ = "builtins"  # shown as `CyclicDependencyError: ...`


def graph_for(session):
    """A Graph for the session in react mode, else None."""
    if "react" not in session.modes:
        return None
    _install_displayhook()
    return Graph(session)


# -- names, cached by code -------------------------------------------------------------------

_NAMES_CACHE_SIZE = 512
_names: dict = {}


def cell_names(code: str) -> analysis.CellNames:
    names = _names.get(code)
    if names is None:
        try:
            names = analysis.analyze(shell.transform_cell(code))
        except Exception:  # a syntax error: the compile error is what shows
            names = analysis.EMPTY
        if len(_names) >= _NAMES_CACHE_SIZE:
            del _names[next(iter(_names))]
        _names[code] = names
    return names


# -- the display hook: a react cell's value goes to its slot --------------------------------

_previous_hook = None


def _install_displayhook():
    global _previous_hook
    if sys.displayhook is not _displayhook:
        _previous_hook = sys.displayhook
        sys.displayhook = _displayhook


def _displayhook(value):
    state = getattr(CURRENT.get(), "react", None)
    if state is None:
        _previous_hook(value)
    else:
        state.value = value


# -- the graph -------------------------------------------------------------------------------


class Node:
    """A cell in the graph."""

    __slots__ = ("key", "anonymous", "code", "compiled", "defined", "assigned", "reads", "waiting",
                 "display_id", "seq", "count")

    def __init__(self, key: str, anonymous: bool):
        self.key = key
        self.anonymous = anonymous
        self.waiting = None  # the undefined name it waits for
        self.display_id = None

    def inputs(self):
        if self.waiting is None or self.waiting in self.reads:
            return self.reads
        return self.reads | {self.waiting}

    def label(self) -> str:
        return f"cell In [{self.count}]"


class _CellState:
    """Cell.react: a react cell's run."""

    __slots__ = ("node", "phase", "seq", "defines", "dropped", "value")

    def __init__(self, node, seq, dropped):
        self.node = node
        self.phase = _RUN
        self.seq = seq
        self.defines = set(node.defined)  # what its run may change (for concurrent cells)
        self.dropped = dropped
        self.value = _NOTHING


class _ReRun(outputs.Request):
    """CURRENT while a dependent re-runs: its output goes to the cell being
    run, its value (through the display hook) to the dependent's slot."""

    __slots__ = ("react", "value")

    def __init__(self, trigger, node):
        super().__init__(trigger.session, trigger.req, trigger.header)
        self.out = trigger.out
        self.count = node.count
        self.react = self  # where the display hook puts the value
        self.value = _NOTHING


class Graph:
    def __init__(self, session):
        self.session = session
        self.nodes = {}  # key -> Node
        self.readers = {}  # name -> nodes that read it (or wait for it)
        self.definers = {}  # name -> nodes that define it
        self.owner = {}  # name -> the node whose run (by a request) defined it last
        self.same_code = {}  # code -> the node of the last request without cellId
        self.seq = 0
        self.anonymous = 0

    # -- indexes ----------------------------------------------------------------------

    def _index(self, node):
        for name in node.inputs():
            self.readers.setdefault(name, set()).add(node)
        for name in node.defined:
            self.definers.setdefault(name, set()).add(node)

    def _unindex(self, node):
        for index, names in ((self.readers, node.inputs()), (self.definers, node.defined)):
            for name in names:
                nodes = index.get(name)
                if nodes is not None:
                    nodes.discard(node)
                    if not nodes:
                        del index[name]

    def _set_waiting(self, node, name):
        if node.waiting == name:
            return
        old = node.waiting
        if old is not None and old not in node.reads:
            nodes = self.readers.get(old)
            if nodes is not None:
                nodes.discard(node)
                if not nodes:
                    del self.readers[old]
        node.waiting = name
        if name is not None and name not in node.reads:
            self.readers.setdefault(name, set()).add(node)

    def drop(self, node):
        """Take a cell out of the graph."""
        if node is None or self.nodes.get(node.key) is not node:
            return
        del self.nodes[node.key]
        if node.anonymous and self.same_code.get(node.code) is node:
            del self.same_code[node.code]
        self._unindex(node)
        for name in node.defined:
            if self.owner.get(name) is node:
                others = self.definers.get(name)
                if others:
                    self.owner[name] = max(others, key=lambda n: n.seq)
                else:
                    del self.owner[name]

    # -- a cell run by a request ------------------------------------------------------------

    def defer(self, cell) -> bool:
        """Concurrent cells: start `cell` later if a running cell defines one
        of its inputs. True if it was put off."""
        if cell.silent or len(self.session.cells) < 2:
            return False
        reads = cell_names(cell.code).read
        blockers = self._blockers(reads, None, cell) if reads else None
        if not blockers:
            return False
        cell.queued = True
        self.session.worker.loop.create_task(self._start_after(cell, blockers))
        return True

    async def _start_after(self, cell, blockers):
        await asyncio.wait(blockers)
        if not cell.done and cell.queued:
            self.session.start(cell)

    def _blockers(self, inputs, seq, me):
        """Futures of the running cells (started before `seq`) whose run may
        define one of `inputs`."""
        futures = []
        for c in self.session.cells:
            state = c.react
            if (c is not me and state is not None and not c.done and not c.queued
                    and (seq is None or state.seq < seq) and not state.defines.isdisjoint(inputs)):
                futures.append(c.awaitable())
        return futures

    def refuses(self, cell, compiled) -> bool:
        """Called when `cell` (a request) has compiled and is about to run:
        put it in the graph. True if it must not run (a cycle: the cell has
        been finished with the error)."""
        if cell.silent:
            return False
        try:
            error = self._enter(cell, compiled)
        except Exception as e:  # a bug here must not keep the cell from running
            _log_bug(e)
            cell.react = None
            return False
        if error is not None:
            self.session.finish(cell, error)
            return True
        return False

    def _enter(self, cell, compiled):
        metadata = cell.metadata if isinstance(cell.metadata, dict) else {}
        deleted = metadata.get("deletedCells")
        if isinstance(deleted, list):
            for key in deleted:
                if isinstance(key, str) and key != metadata.get("cellId"):
                    self.drop(self.nodes.get(key))
        names = cell_names(cell.code)
        key = metadata.get("cellId")
        anonymous = not (isinstance(key, str) and key)
        node = self.same_code.get(cell.code) if anonymous else self.nodes.get(key)
        cycle = self._cycle(node, names)
        if cycle is not None:
            return CyclicDependencyError(cycle)
        ns = self.session.namespace

        if node is None:
            if anonymous:
                self.anonymous += 1
                key = f"#{self.anonymous}"
            node = Node(key, anonymous)
            old_defined = frozenset()
        else:
            self._unindex(node)
            old_defined = node.defined
        # names it no longer defines
        dropped = set()
        for name in old_defined - names.defined:
            if self.owner.get(name) is node:
                others = self.definers.get(name)
                if others:
                    self.owner[name] = max(others, key=lambda n: n.seq)
                else:
                    del self.owner[name]
                    if name in ns:
                        del ns[name]
                        dropped.add(name)
        self.seq += 1
        node.code = cell.code
        node.compiled = compiled
        node.defined = names.defined
        node.assigned = names.defined - names.deleted
        node.reads = names.read
        node.waiting = None
        node.seq = self.seq
        node.count = cell.count
        node.display_id = None
        self.nodes[node.key] = node
        if anonymous:
            self.same_code[cell.code] = node
        self._index(node)

        # the names it takes over from other cells
        taken, previous = [], set()
        for name in sorted(names.defined):
            prev = self.owner.get(name)
            if prev is not None and prev is not node and self.nodes.get(prev.key) is prev:
                previous.add(prev)
                if name in node.assigned and name in prev.assigned:  # not after a `del`
                    taken.append(f"{name} (defined by {prev.label()} until now)")
            self.owner[name] = node
        for prev in previous:
            if prev.anonymous and not any(self.owner.get(n) is prev for n in prev.defined):
                self.drop(prev)  # superseded: all its names belong to later cells
        cell.react = _CellState(node, self.seq, dropped)
        if taken and cell.out:
            cell.run(sys.stderr.write,
                     f"react: this cell defines {', '.join(taken)}; the cell run last owns a name\n")
        return None

    def _cycle(self, node, names):
        """A message if a cell with these names (replacing `node`) would
        close a circle, else None."""
        upstream = {}  # node it would read from -> name
        for name in names.read:
            for m in self.definers.get(name, ()):
                if m is not node:
                    upstream.setdefault(m, name)
        if not upstream or not names.defined:
            return None
        via = {}  # node reached -> (node it reads from, or None for this cell; name)
        seen = set()
        queue = [(None, name) for name in sorted(names.defined)]
        i = 0
        while i < len(queue):
            src, name = queue[i]
            i += 1
            if name in seen:
                continue
            seen.add(name)
            for r in sorted(self.readers.get(name, ()), key=lambda n: n.seq):
                if r is node or r in via:
                    continue
                via[r] = (src, name)
                if r in upstream:
                    return self._cycle_message(r, via, upstream[r])
                queue.extend((r, n) for n in sorted(r.defined))
        return None

    @staticmethod
    def _cycle_message(last, via, back):
        steps = [f"{last.label()} defines {back}, which this cell reads"]
        node = last
        while node is not None:
            src, name = via[node]
            who = "this cell" if src is None else src.label()
            steps.append(f"{who} defines {name}, which {node.label()} reads")
            node = src
        steps.reverse()
        return ("cells would depend on each other in a circle: " + "; ".join(steps)
                + ". This cell was not run, and the graph is as it was.")

    # -- when the cell has run ----------------------------------------------------------------

    def finishing(self, cell, error):
        """Called as `cell` finishes, before its reply. Returns the error to
        reply with (a NameError for an undefined name is none), or PENDING:
        dependents are re-running asynchronously, and the cell will be
        finished again when they are done."""
        state = cell.react
        if state is None or state.phase == _DONE:
            return error
        if state.phase == _PROPAGATING:
            return PENDING  # e.g. the end of the cell's first task: not yet
        state.phase = _DONE
        try:
            return self._after_run(cell, state, error)
        except Exception as e:
            _log_bug(e)
            return error or e

    def _after_run(self, cell, state, error):
        node = state.node
        if self.nodes.get(node.key) is not node:  # dropped while it ran
            return error
        ns = self.session.namespace
        changed = set(state.dropped)
        waiting = _undefined_name(error, ns)
        if waiting is not None:
            error = None
            self._set_waiting(node, waiting)
            changed |= self._undefine(node)
            self._slot(cell, node, "None")
        elif error is None:
            self._set_waiting(node, None)
            changed |= node.defined
            self._own_value(cell, node, state.value)
        else:
            if node.reads:
                self._slot(cell, node, "")  # a place for what its re-runs show
            return error
        if not changed:
            return None
        order = self.affected(changed, node)
        if not order:
            return None
        for n in order:
            state.defines.update(n.defined)
        run = _Propagation(self, cell, state, order)
        if run.run_sync():
            return run.error
        state.phase = _PROPAGATING
        return PENDING

    def _undefine(self, node):
        """A waiting cell defines nothing: remove the names it owns."""
        ns, removed = self.session.namespace, set()
        for name in node.defined:
            if self.owner.get(name) is node and name in ns:
                del ns[name]
                removed.add(name)
        return removed

    def _own_value(self, cell, node, value):
        if value is not _NOTHING and value is not None:
            ns = self.session.namespace
            ns["___"], ns["__"], ns["_"] = ns.get("__"), ns.get("_"), value
            data, metadata = _format(value, self.session)
            if cell.history is not None:
                cell.history[2] = data if isinstance(data, str) else data.get("text/plain")
            self._slot(cell, node, data, metadata)
        elif node.reads:
            self._slot(cell, node, "")

    def _slot(self, cell, node, data, metadata=None):
        """The display_data that a cell's re-runs will replace."""
        node.display_id = f"react-{uuid.uuid4().hex}"
        _send(cell, node, data, metadata, "display_data")

    def affected(self, changed, origin):
        """The cells that read `changed` names, directly or through other
        cells (not `origin`), in dependency order."""
        readers = self.readers
        nodes, seen, names = set(), set(), list(changed)
        while names:
            name = names.pop()
            if name in seen:
                continue
            seen.add(name)
            for r in readers.get(name, ()):
                if r is not origin and r not in nodes:
                    nodes.add(r)
                    names.extend(r.defined)
        if len(nodes) <= 1:
            return list(nodes)
        indegree = dict.fromkeys(nodes, 0)
        after = {}
        for n in nodes:
            targets = set()
            for name in n.defined:
                for r in readers.get(name, ()):
                    if r is not n and r in nodes:
                        targets.add(r)
            after[n] = targets
            for t in targets:
                indegree[t] += 1
        ready = [(n.seq, n.key, n) for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            n = heapq.heappop(ready)[2]
            order.append(n)
            for t in after[n]:
                indegree[t] -= 1
                if indegree[t] == 0:
                    heapq.heappush(ready, (t.seq, t.key, t))
        if len(order) < len(nodes):  # a circle through waiting names: the rest by age
            placed = set(order)
            order.extend(sorted((n for n in nodes if n not in placed), key=lambda n: n.seq))
        return order

    def from_cache(self, node, run) -> bool:
        """Cache mode: a dependent whose inputs are unchanged since it last
        ran takes its outputs (and the names it defines) from the cache and
        shows them in its slot instead of re-running; True then."""
        return "cache" in self.session.modes and cache.serve_dependent(self.session, node, run.trigger)


class _Propagation:
    """Re-running the dependents of a cell, in order; synchronously while it
    can, then as a task (an async dependent, or one that must wait for a
    concurrent cell)."""

    __slots__ = ("graph", "trigger", "state", "order", "i", "bad", "error")

    def __init__(self, graph, trigger, state, order):
        self.graph, self.trigger, self.state, self.order = graph, trigger, state, order
        self.i = 0
        self.bad = set()  # names defined by dependents that failed or were skipped
        self.error = None

    def _skip(self, node) -> bool:
        if self.graph.nodes.get(node.key) is not node or not self.bad.isdisjoint(node.inputs()):
            self.bad.update(node.defined)
            return True
        return self.graph.from_cache(node, self)

    def _must_wait(self, node):
        cells = self.graph.session.cells
        if len(cells) < 2:
            return None
        return self.graph._blockers(node.inputs(), self.state.seq, self.trigger)

    def run_sync(self) -> bool:
        """Run what can run now. True if done (self.error: an interrupt)."""
        order = self.order
        while self.i < len(order):
            node = order[self.i]
            if self._skip(node):
                self.i += 1
                continue
            if node.compiled.is_async or self._must_wait(node):
                loop = self.graph.session.worker.loop
                task = loop.create_task(self._run_rest())
                self.trigger.task = task  # an interrupt cancels it
                task.add_done_callback(self._task_ended)
                return False
            try:
                self._run_one(node)
            except KeyboardInterrupt as e:
                self.error = e
                return True
            self.i += 1
        return True

    async def _run_rest(self):
        error = None
        try:
            order = self.order
            while self.i < len(order):
                node = order[self.i]
                if self._skip(node):
                    self.i += 1
                    continue
                while True:
                    blockers = self._must_wait(node)
                    if not blockers:
                        break
                    await asyncio.wait(blockers)
                if node.compiled.is_async:
                    await self._run_one_async(node)
                else:
                    self._run_one(node)
                self.i += 1
        except BaseException as e:  # KeyboardInterrupt, CancelledError
            error = e
        self.state.phase = _DONE
        self.graph.session.finish(self.trigger, error)

    def _task_ended(self, task):
        if self.state.phase == _PROPAGATING:  # cancelled before it started
            self.state.phase = _DONE
            self.graph.session.finish(self.trigger, asyncio.CancelledError())

    def _begin(self, node):
        """A dependent starts re-running: its request (made current) and, in
        cache mode, the entry its run will be stored under."""
        session = self.graph.session
        rerun = _ReRun(self.trigger, node)
        entry = cache.record_dependent(session, node, self.trigger) if "cache" in session.modes else None
        return rerun, entry, CURRENT.set(rerun)

    def _end(self, node, rerun, entry, error):
        self._ran(node, rerun.value, error)
        if entry is not None:
            cache.store_dependent(self.graph.session, self.trigger, entry, error)

    def _run_one(self, node):
        session, trigger = self.graph.session, self.trigger
        worker, ns = session.worker, session.namespace
        rerun, entry, token = self._begin(node)
        error = None
        try:
            worker.enter(trigger)  # an interrupt hits the cell being run
            try:
                for code, _ in node.compiled.parts:
                    exec(code, ns)
            finally:
                worker.leave()
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            error = e
        finally:
            CURRENT.reset(token)
        self._end(node, rerun, entry, error)

    async def _run_one_async(self, node):
        from .cells import _Stepper

        session, trigger = self.graph.session, self.trigger
        worker, ns = session.worker, session.namespace
        rerun, entry, token = self._begin(node)
        error = None
        try:
            for code, is_coro in node.compiled.parts:
                worker.enter(trigger)
                try:
                    result = eval(code, ns)
                finally:
                    worker.leave()
                if is_coro:
                    await _Stepper(result, worker, trigger)
        except (KeyboardInterrupt, asyncio.CancelledError):
            raise
        except BaseException as e:
            error = e
        finally:
            CURRENT.reset(token)
        self._end(node, rerun, entry, error)

    def _ran(self, node, value, error):
        graph, trigger = self.graph, self.trigger
        if graph.nodes.get(node.key) is not node:
            return
        waiting = _undefined_name(error, graph.session.namespace)
        if waiting is not None:
            graph._set_waiting(node, waiting)
            graph._undefine(node)
            _send(trigger, node, "None", None, "update_display_data")
        elif error is None:
            graph._set_waiting(node, None)
            if value is _NOTHING or value is None:
                _send(trigger, node, "", None, "update_display_data")
            else:
                data, metadata = _format(value, graph.session)
                _send(trigger, node, data, metadata, "update_display_data")
        else:
            self.bad.update(node.defined)
            content = outputs.error_content(error, graph.session.counts)
            _send(trigger, node, "\n".join(content["traceback"]), None, "update_display_data")


# -- helpers -----------------------------------------------------------------------------------


def _send(request, node, data, metadata, msg_type):
    """A slot's display_data or update_display_data; `data` a mime bundle
    or the text/plain text alone."""
    if not request.out or node.display_id is None:
        return
    if isinstance(data, str):  # text/plain alone: encoded by hand, it is hot
        outputs.send_raw("iopub", request.req, msg_type,
                         f'{{"data":{{"text/plain":{outputs.json_string(data)}}},"metadata":{{}},'
                         f'"transient":{{"display_id":"{node.display_id}"}}}}')
    else:
        outputs.send_iopub(request.req, msg_type, {"data": data, "metadata": metadata or {},
                                                   "transient": {"display_id": node.display_id}})


def _format(value, session):
    try:
        data, metadata = display.format_plain_or_rich(value)
    except Exception as e:  # a broken _repr_*_: say so in the slot
        text = "\n".join(outputs.error_content(e, session.counts)["traceback"])
        return {"text/plain": text}, {}
    if len(data) == 1 and not metadata:
        return data["text/plain"], None
    return data, metadata


def _undefined_name(error, ns):
    """The name a NameError says is undefined, if raised by code of this
    namespace (the cell, or a function it defined); else None."""
    if type(error) is not NameError or not getattr(error, "name", None):
        return None
    tb = error.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    if tb.tb_frame.f_globals is not ns or error.name in ns:
        return None
    return error.name


def _log_bug(e):
    import traceback

    import _akernel

    _akernel.log("react: " + "".join(traceback.format_exception(e)))
