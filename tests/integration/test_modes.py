"""akernel's execution modes: chained cells that never block the kernel,
concurrent cells, __unchain_execution__/__chain_execution__, __task__.
Cells synchronise through asyncio objects and files, never through sleeps
the test has to outguess."""

import pytest


def reply_order(kernel, *msg_ids):
    """Request ids sorted by when their execute_reply was sent."""
    replies = {m: kernel.wait_reply(m) for m in msg_ids}
    for m in msg_ids:
        kernel.wait_idle(m)
    return sorted(msg_ids, key=lambda m: replies[m]["header"]["date"])


def test_chained_cells_run_one_after_the_other(kernel):
    kernel.run("log = []")
    first = kernel.submit("await asyncio.sleep(0.3)\nlog.append(1)")
    second = kernel.submit("log.append(2)")
    assert reply_order(kernel, first, second) == [first, second]
    assert kernel.result("log") == "[1, 2]"


def test_kernel_answers_while_a_cell_awaits(kernel):
    kernel.run("gate = asyncio.Event()")
    waiting = kernel.submit("await gate.wait()\nprint('released')")
    # the worker serves these while the cell awaits (they would hang otherwise)
    assert kernel.request("kernel_info")["status"] == "ok"
    assert kernel.request("comm_info")["status"] == "ok"
    assert kernel.request("complete", "ga", 2)["matches"] == ["gate"]
    # a chained cell queues behind the waiting one; the interrupt ends both
    queued = kernel.submit("print('never')")
    kernel.interrupt()
    reply, _ = kernel.finish(waiting)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert kernel.finish(queued)[0]["status"] == "aborted"
    assert kernel.result("1") == "1"


@pytest.mark.mode("concurrent")
def test_concurrent_cells_overlap(kernel):
    kernel.run("gate = asyncio.Event()")
    first = kernel.submit("print('first waits')\nawait gate.wait()\nprint('first done')")
    second = kernel.submit("gate.set()\nprint('second')")
    assert reply_order(kernel, first, second) == [second, first]
    assert kernel.stdout(first) == "first waits\nfirst done\n"


@pytest.mark.mode("concurrent")
def test_concurrent_prints_interleave(kernel):
    """akernel's example: two looping cells' prints alternate."""
    kernel.run("turn = [asyncio.Event(), asyncio.Event()]")
    code = ("for i{me} in range(3):\n"
            "    await turn[{me}].wait(); turn[{me}].clear()\n"
            "    print('cell {me}:', i{me})\n"
            "    turn[{other}].set()")
    a = kernel.submit(code.format(me=0, other=1))
    b = kernel.submit(code.format(me=1, other=0))
    kernel.run("turn[0].set()")
    kernel.finish(a)
    kernel.finish(b)
    assert kernel.stdout(a) == "cell 0: 0\ncell 0: 1\ncell 0: 2\n"
    assert kernel.stdout(b) == "cell 1: 0\ncell 1: 1\ncell 1: 2\n"
    stamps = [(m["header"]["date"], m["parent_header"]["msg_id"]) for mid in (a, b)
              for m in kernel.outputs(mid)]
    order = [mid for _, mid in sorted(stamps)]
    assert order == [a, b, a, b, a, b]


def test_unchain_and_chain_execution(kernel):
    kernel.run("__unchain_execution__()\ngate = asyncio.Event()")
    first = kernel.submit("await gate.wait()")
    second = kernel.submit("gate.set()")  # would deadlock if still chained
    assert reply_order(kernel, first, second) == [second, first]
    kernel.run("__chain_execution__()\nlog = []")
    a = kernel.submit("await asyncio.sleep(0.2)\nlog.append('a')")
    b = kernel.submit("log.append('b')")
    assert reply_order(kernel, a, b) == [a, b]
    assert kernel.result("log") == "['a', 'b']"


@pytest.mark.mode("concurrent")
def test_task_waits_for_the_previous_cell(kernel):
    kernel.run("gate = asyncio.Event()\nlog = []")
    second = kernel.submit("await gate.wait()\nlog.append('cell 2')")
    third = kernel.submit("await __task__()\nlog.append('cell 3')\nprint('cell 2 has run')")
    kernel.run("log.append('opened'); gate.set()")
    kernel.finish(second)
    kernel.finish(third)
    assert kernel.stdout(third) == "cell 2 has run\n"
    assert kernel.result("log") == "['opened', 'cell 2', 'cell 3']"


@pytest.mark.mode("concurrent")
def test_blocking_cell_holds_up_the_others(kernel, tmp_path):
    """As in akernel: a cell that blocks (no await) holds the loop."""
    gate = tmp_path / "gate"
    blocking = kernel.submit(f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.01)")
    other = kernel.submit("print('after')")
    gate.touch()
    assert reply_order(kernel, blocking, other) == [blocking, other]


def test_status_stays_busy_while_queued_cells_run(kernel):
    """When a cell ends while others of the session are queued, the router
    says busy again (for the oldest), so a frontend's indicator stays busy."""
    first = kernel.submit("await asyncio.sleep(0.2)")
    second = kernel.submit("await asyncio.sleep(0.2)")
    kernel.finish(first)
    kernel.finish(second)
    states = [m["content"]["execution_state"] for m in kernel.iopub[second] if m["msg_type"] == "status"]
    assert states == ["busy", "busy", "idle"]
    states = [m["content"]["execution_state"] for m in kernel.iopub[first] if m["msg_type"] == "status"]
    assert states == ["busy", "idle"]
