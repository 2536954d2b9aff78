"""React mode: cells re-run when the names they read change, and the result
each one shows is replaced in place (display_data with a display_id, then
update_display_data). Tests assert what a frontend sees on iopub."""

import pathlib
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

import conftest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "worker" / "runtime"))
from akernel_runtime.analysis import analyze  # noqa: E402  (pure Python, no kernel needed)

EXTRA_MODES = ["multi-react", "react-concurrent"]


@pytest.fixture(scope="module", autouse=True)
def react_kernelspecs():
    """conftest installs "react"; the combined modes are installed here."""
    for mode in EXTRA_MODES:
        subprocess.run([str(conftest.GATEWAY), "install", mode, "--prefix", conftest._specs],
                       check=True, stdout=subprocess.DEVNULL)


# -- a frontend that sends cellId (as JupyterLab and Notebook 7 do) --------------------------


def send(client, code, cell_id=None, deleted=None):
    metadata = {}
    if cell_id is not None:
        metadata["cellId"] = cell_id
    if deleted is not None:
        metadata["deletedCells"] = deleted
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}
    msg = client.kc.session.msg("execute_request", content, metadata=metadata)
    client.kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


class Run:
    """One executed request and what it showed."""

    def __init__(self, client, msg_id, reply=None):
        self.msg_id = msg_id
        if reply is None:
            self.reply, self.outputs = client.finish(msg_id)
        else:  # already taken with client.wait_reply
            client.wait_idle(msg_id)
            self.reply, self.outputs = reply["content"], client.outputs(msg_id)

    def of_type(self, msg_type):
        return [m for m in self.outputs if m["msg_type"] == msg_type]

    @property
    def slot(self):
        """(display_id, text) of the cell's own result."""
        shown = self.of_type("display_data")
        assert len(shown) == 1, self.outputs
        content = shown[0]["content"]
        return content["transient"]["display_id"], content["data"]["text/plain"]

    @property
    def updates(self):
        """[(display_id, text)] of the update_display_data this request sent."""
        return [(m["content"]["transient"]["display_id"], m["content"]["data"]["text/plain"])
                for m in self.of_type("update_display_data")]

    def stream(self, name):
        return "".join(m["content"]["text"] for m in self.of_type("stream")
                       if m["content"]["name"] == name)


def run(client, code, cell_id=None, deleted=None, status="ok"):
    r = Run(client, send(client, code, cell_id, deleted))
    assert r.reply["status"] == status, r.reply
    return r


# -- analysis (the names a cell defines and reads) -----------------------------------------------


@pytest.mark.parametrize("code, defined, read", [
    ("a = b + 1\na", {"a"}, {"b"}),
    ("x += 1", {"x"}, {"x"}),
    ("y = x\nx = 1", {"x", "y"}, {"x"}),
    ("x = 1\ny = x", {"x", "y"}, set()),
    ("import os.path, numpy as np\nfrom m import f as g", {"os", "np", "g"}, set()),
    ("del x", {"x"}, set()),
    ("for i in items:\n    total = total + i", {"i", "total"}, {"items", "total"}),
    ("with open(p) as fh:\n    data = fh.read()", {"fh", "data"}, {"open", "p"}),
    ("if (n := count) > 1:\n    m = n", {"n", "m"}, {"count"}),
    ("[t := v for v in xs]", {"t"}, {"xs"}),
    ("def f(p):\n    q = p + k\n    return f(q) + helper(q)\ndef helper(z):\n    return z",
     {"f", "helper"}, {"k"}),
    ("def outer():\n    v = 1\n    def inner():\n        return v + w\n    return inner", {"outer"}, {"w"}),
    ("class C(Base):\n    z = 1\n    w = z + q", {"C"}, {"Base", "q"}),
    ("@deco\ndef h(a=default):\n    pass", {"h"}, {"deco", "default"}),
    ("await asyncio.sleep(0)\nb = a + 1", {"b"}, {"asyncio", "a"}),
    ("square = lambda v: v * factor", {"square"}, {"factor"}),
])
def test_analysis(code, defined, read):
    names = analyze(code)
    assert set(names.defined) == defined
    assert set(names.read) == read


def test_analysis_imports_and_deletions():
    assert analyze("import os").has_imports
    assert analyze("def f():\n    import json").has_imports
    assert not analyze("x = 1").has_imports
    assert analyze("del x, y").deleted == {"x", "y"}


# -- the README example ---------------------------------------------------------------------------


@pytest.mark.mode("react")
def test_readme_example(kernel):
    first = run(kernel, "a = b + 1  # b is not defined yet\na")
    display_id, shown = first.slot
    assert shown == "None"  # undefined is not an error: the result is None
    assert not first.of_type("error") and not first.of_type("execute_result")
    second = run(kernel, "b = 2")
    assert second.updates == [(display_id, "3")]
    assert not second.of_type("display_data")  # b = 2 itself shows nothing
    third = run(kernel, "b = 10")
    assert third.updates == [(display_id, "11")]


# -- propagation ------------------------------------------------------------------------------------


@pytest.mark.mode("react")
def test_chain_reruns_each_dependent_once_in_order(kernel):
    run(kernel, "a = 1", "A")
    b = run(kernel, "print('b runs')\nb = a + 1\nb", "B").slot[0]
    c = run(kernel, "print('c runs')\nc = b * 10\nc", "C").slot[0]
    top = run(kernel, "a = 5", "A")
    assert top.updates == [(b, "6"), (c, "60")]
    assert top.stream("stdout") == "b runs\nc runs\n"  # a re-run prints in the cell that was run


@pytest.mark.mode("react")
def test_diamond_reruns_the_join_once_after_both_sides(kernel):
    run(kernel, "a = 1", "A")
    left = run(kernel, "print('left')\nleft = a + 1\nleft", "L").slot[0]
    right = run(kernel, "print('right')\nright = a * 2\nright", "R").slot[0]
    join = run(kernel, "print('join')\nleft + right", "J").slot[0]
    top = run(kernel, "a = 10", "A")
    assert sorted(top.updates[:2]) == sorted([(left, "11"), (right, "20")])
    assert top.updates[2:] == [(join, "31")]
    out = top.stream("stdout").split()
    assert sorted(out[:2]) == ["left", "right"] and out[2:] == ["join"]


@pytest.mark.mode("react")
def test_names_read_in_function_bodies_are_inputs(kernel):
    run(kernel, "def double():\n    return k * 2", "F")
    g_id, shown = run(kernel, "g = double()\ng", "G").slot
    assert shown == "None"  # k is undefined, inside the function: waiting
    k = run(kernel, "k = 21", "K")
    assert k.updates[-1] == (g_id, "42")


@pytest.mark.mode("react")
def test_a_cell_never_retriggers_itself(kernel):
    run(kernel, "x = 0", "X")
    inc = run(kernel, "x += 1\nx", "INC")
    assert inc.slot[1] == "1" and inc.updates == []
    again = run(kernel, "x += 1\nx", "INC")
    assert again.slot[1] == "2" and again.updates == []


@pytest.mark.mode("react")
def test_a_failing_dependent_shows_its_error_in_place(kernel):
    run(kernel, "a = 1", "A")
    inverse = run(kernel, "inv = 1 / (a - 2)\ninv", "INV").slot[0]
    other = run(kernel, "other = a + 100\nother", "OTHER").slot[0]
    below = run(kernel, "print('below runs')\nbelow = inv * 2\nbelow", "BELOW").slot[0]
    top = run(kernel, "a = 2", "A")  # status ok: the error is the dependent's
    shown = dict(top.updates)
    assert "ZeroDivisionError" in shown[inverse]
    assert shown[other] == "102"  # not stopped by the failure
    assert below not in shown and "below runs" not in top.stream("stdout")  # depends on it: not re-run
    fixed = run(kernel, "a = 3", "A")
    assert dict(fixed.updates) == {inverse: "1.0", other: "103", below: "2.0"}


@pytest.mark.mode("react")
def test_errors_of_the_cell_run_are_errors_as_usual(kernel):
    r = run(kernel, "1 / 0", status="error")
    assert r.reply["ename"] == "ZeroDivisionError"
    assert [m["content"]["ename"] for m in r.of_type("error")] == ["ZeroDivisionError"]
    r = run(kernel, "import nonexistent_module_xyz", status="error")
    assert r.reply["ename"] == "ModuleNotFoundError"


# -- redefinition and deletion ----------------------------------------------------------------------


@pytest.mark.mode("react")
def test_redefining_and_deleting(kernel):
    run(kernel, "x = 1", "X")
    y = run(kernel, "y = x + 1\ny", "Y").slot[0]
    assert run(kernel, "x = 10", "X").updates == [(y, "11")]
    # the same cell with new code no longer defines x: x goes, y waits
    assert run(kernel, "z = 0", "X").updates == [(y, "None")]
    assert run(kernel, "'x' in globals()", "CHECK").slot[1] == "False"
    assert run(kernel, "x = 3", "X2").updates == [(y, "4")]
    # del x propagates: readers of x go back to waiting
    assert run(kernel, "del x", "DEL").updates == [(y, "None")]
    again = run(kernel, "x = 5", "X3")
    assert again.updates == [(y, "6")]
    assert again.stream("stderr") == ""  # no notice: the last cell only deleted x


@pytest.mark.mode("react")
def test_waiting_cascades(kernel):
    run(kernel, "a = 1", "A")
    b = run(kernel, "b = a + 1\nb", "B").slot[0]
    c = run(kernel, "c = b + 1\nc", "C").slot[0]
    assert run(kernel, "del a", "D").updates == [(b, "None"), (c, "None")]
    assert run(kernel, "a = 7", "A").updates == [(b, "8"), (c, "9")]


# -- cycles and conflicts ------------------------------------------------------------------------------


@pytest.mark.mode("react")
def test_a_cycle_is_an_error_and_leaves_the_graph(kernel):
    a = run(kernel, "a = b + 1\na", "A").slot[0]
    cyc = run(kernel, "print('ran')\nb = a + 1\nb", "B", status="error")
    assert cyc.reply["ename"] == "CyclicDependencyError"
    assert "circle" in cyc.reply["evalue"] and "cell In [1]" in cyc.reply["evalue"]
    assert cyc.of_type("error") and cyc.stream("stdout") == ""  # not run
    # the graph is as it was: B is not in it, A still waits for b
    assert run(kernel, "b = 1", "B2").updates == [(a, "2")]
    # a cell may read and define the same name: not a cycle
    assert run(kernel, "b = b + 1", "B3").updates == [(a, "3")]


@pytest.mark.mode("react")
def test_the_cell_run_last_owns_a_name(kernel):
    run(kernel, "v = 1", "P")
    w = run(kernel, "w = v * 10\nw", "W").slot[0]
    q = run(kernel, "v = 2", "Q")
    notice = q.stream("stderr")
    assert notice.count("\n") == 1 and "v" in notice and "cell In [1]" in notice
    assert q.updates == [(w, "20")]
    p = run(kernel, "v = 3", "P")  # P takes it back
    assert "cell In [3]" in p.stream("stderr")
    assert p.updates == [(w, "30")]
    assert run(kernel, "v = 4", "P").stream("stderr") == ""  # already its own


# -- cell identity ------------------------------------------------------------------------------------


@pytest.mark.mode("react")
def test_same_cell_id_replaces_the_cell(kernel):
    a = run(kernel, "a = 1\na", "c1")
    assert a.slot[1] == "1"
    b_id = run(kernel, "b = a * 2\nb", "c2").slot[0]
    a2 = run(kernel, "a = 10\na", "c1")
    assert a2.slot[1] == "10" and a2.updates == [(b_id, "20")]
    b_id = run(kernel, "b = a * 3\nb", "c2").slot[0]  # new code, same cell
    assert run(kernel, "a = 1\na", "c1").updates == [(b_id, "3")]  # only the new code runs


@pytest.mark.mode("react")
def test_deleted_cells_leave_the_graph(kernel):
    run(kernel, "a = 1", "c1")
    b = run(kernel, "b = a + 1\nb", "c2").slot[0]
    c = run(kernel, "c = a + 2\nc", "c3").slot[0]
    assert run(kernel, "a = 5", "c1", deleted=["c2"]).updates == [(c, "7")]
    assert b not in dict(run(kernel, "a = 6", "c1").updates)


@pytest.mark.mode("react")
def test_requests_without_cell_id(kernel):
    """Classic Notebook and jupyter_client send no cellId: each request is a
    new cell, the latest to define a name owns it; the same code again
    replaces the earlier request."""
    y1 = run(kernel, "y = x * 2\ny").slot[0]
    assert run(kernel, "x = 1").updates == [(y1, "2")]
    y2 = run(kernel, "y = x * 2\ny").slot[0]  # run again: replaces the first
    assert run(kernel, "x = 2").updates == [(y2, "4")]
    y3 = run(kernel, "y = x * 3\ny").slot[0]  # edited: takes y over, the old one leaves
    assert run(kernel, "x = 3").updates == [(y3, "9")]


# -- async cells and interrupts -------------------------------------------------------------------------


@pytest.mark.mode("react")
def test_async_dependents(kernel):
    run(kernel, "a = 1", "A")
    b = run(kernel, "await asyncio.sleep(0.01)\nb = a + 1\nb", "B").slot[0]
    c = run(kernel, "c = b * 2\nc", "C").slot[0]
    d = run(kernel, "await asyncio.sleep(0)\nd = c + 1\nd", "D").slot[0]
    top = run(kernel, "a = 2", "A")
    assert top.updates == [(b, "3"), (c, "6"), (d, "7")]
    # an async cell run by the request propagates too
    top = run(kernel, "await asyncio.sleep(0)\na = 3", "A")
    assert top.updates == [(b, "4"), (c, "8"), (d, "9")]
    assert run(kernel, "d", "CHECK").slot[1] == "9"


@pytest.mark.mode("react")
def test_interrupting_a_blocking_dependent(kernel):
    run(kernel, "import time", "T")
    run(kernel, "spin = False", "S")
    loop = run(kernel, "while spin:\n    print('spinning', flush=True)\n    time.sleep(0.01)\n'stopped'", "L")
    assert loop.slot[1] == "'stopped'"
    top = send(kernel, "spin = True", "S")
    kernel.wait_iopub(top, lambda m: m["msg_type"] == "stream" and "spinning" in m["content"]["text"])
    kernel.interrupt()
    reply, _ = kernel.finish(top)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert run(kernel, "spin = False", "S").updates == [(loop.slot[0], "'stopped'")]


@pytest.mark.mode("react")
def test_interrupting_an_async_dependent(kernel):
    run(kernel, "flag = False", "F")
    w = run(kernel, "if flag:\n    print('waiting', flush=True)\n    await asyncio.Event().wait()\n'done'", "W")
    assert w.slot[1] == "'done'"
    top = send(kernel, "flag = True", "F")  # its re-run awaits forever: the reply waits
    kernel.wait_iopub(top, lambda m: m["msg_type"] == "stream" and "waiting" in m["content"]["text"])
    assert kernel.request("kernel_info")["status"] == "ok"  # the kernel answers meanwhile
    kernel.interrupt()
    reply, _ = kernel.finish(top)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert run(kernel, "flag = False", "F").updates == [(w.slot[0], "'done'")]


# -- with other modes ------------------------------------------------------------------------------------


@pytest.mark.mode("multi-react")
def test_sessions_have_their_own_graph(kernel):
    a, b = kernel, kernel.new_client()
    run(a, "x = 1", "X")
    ya = run(a, "y = x + 1\ny", "Y").slot[0]
    yb, shown = run(b, "y = x + 100\ny", "Y").slot  # the same cell ids, another notebook
    assert shown == "None"  # x is a's
    assert run(a, "x = 5", "X").updates == [(ya, "6")]
    assert run(b, "x = 7", "X").updates == [(yb, "107")]
    assert run(a, "y", "CHECK").slot[1] == "6"


@pytest.mark.mode("react-concurrent")
def test_concurrent_cell_waits_for_the_running_cell_that_defines_its_input(kernel):
    run(kernel, "gate = asyncio.Event()")
    producer = send(kernel, "await gate.wait()\nx = 1", "P")
    consumer = send(kernel, "y = x + 1\ny", "C")  # would see no x yet if it ran now
    opener = run(kernel, "gate.set()", "G")  # does not read x: runs at once
    assert opener.reply["status"] == "ok"
    assert Run(kernel, producer).reply["status"] == "ok"
    c = Run(kernel, consumer)
    assert c.slot[1] == "2"
    # it started (and took its execution count) after the opener, submitted later
    assert c.reply["execution_count"] > opener.reply["execution_count"]


@pytest.mark.mode("react-concurrent")
def test_concurrent_rerun_waits_for_the_running_cell_that_defines_its_input(kernel):
    run(kernel, "gate = asyncio.Event()", "G")
    run(kernel, "x = 0", "X")
    run(kernel, "a = 1", "A")
    d = run(kernel, "d = a + x\nd", "D").slot[0]
    producer = send(kernel, "await gate.wait()\nx = 10", "P")  # running, will define x
    kernel.wait_iopub(producer, lambda m: m["msg_type"] == "execute_input")
    top = send(kernel, "a = 2", "A")  # D re-runs after the producer, not with x = 0
    run(kernel, "gate.set()", "S")
    replies = {m: kernel.wait_reply(m) for m in (producer, top)}
    assert replies[producer]["header"]["date"] < replies[top]["header"]["date"]
    produced, changed = Run(kernel, producer, replies[producer]), Run(kernel, top, replies[top])
    assert produced.updates == [(d, "12")]
    assert changed.updates == [(d, "12")]  # not 2 (a = 2 with the old x)


# -- the example notebook, executed by nbclient ---------------------------------------------------------


EXAMPLE = ROOT / "examples" / "react.ipynb"


class CellIdClient(NotebookClient):
    """nbclient >= 0.8 sends cell.id as metadata cellId; this one as well."""

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        self._cell_id = cell.get("id")
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()

        def execute(code, silent=False, store_history=True, user_expressions=None,
                    allow_stdin=None, stop_on_error=True):
            content = {"code": code, "silent": silent, "store_history": store_history,
                       "user_expressions": user_expressions or {}, "allow_stdin": False,
                       "stop_on_error": stop_on_error}
            msg = kc.session.msg("execute_request", content, metadata={"cellId": self._cell_id})
            kc.shell_channel.send(msg)
            return msg["header"]["msg_id"]

        kc.execute = execute
        return kc


def shown(cell):
    return [o.data["text/plain"] for o in cell.outputs if o.output_type == "display_data"]


@pytest.mark.parametrize("client_class", [NotebookClient, CellIdClient])
def test_example_notebook(client_class):
    nb = nbformat.read(EXAMPLE, as_version=4)
    nbformat.validate(nb)
    assert all(c.get("id") for c in nb.cells)  # nbformat 4.5: cells have ids
    client = client_class(nb, kernel_name="akernel-react", timeout=60, allow_errors=False)
    client.execute()
    by_id = {c.id: c for c in nb.cells}
    # the first cell ran before its inputs existed, and shows the final value
    assert shown(by_id["total"]) == ["36"]
    assert shown(by_id["report"]) == ["'total: 36'"]
    assert shown(by_id["fetch"]) == ["['12 x 3', 'total: 36']"]
    assert not any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", []))
