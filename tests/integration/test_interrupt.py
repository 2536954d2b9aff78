"""Interrupts (interrupt_request and SIGINT to the router) and
stop_on_error: running cells get KeyboardInterrupt, queued ones are
aborted, and the kernel stays usable."""

import os
import signal

import pytest


def started(kernel, msg_id, text="started"):
    """Wait until the cell has printed `text` (so it is really running)."""
    kernel.wait_iopub(msg_id, lambda m: m["msg_type"] == "stream" and text in m["content"]["text"])


@pytest.mark.parametrize("how", ["message", "sigint"])
def test_interrupt_blocking_cell(kernel, how):
    msg_id = kernel.submit("import time\nprint('started')\ntime.sleep(60)")
    started(kernel, msg_id)
    if how == "message":
        kernel.interrupt_all()  # what a kernel manager sends
    else:
        os.kill(kernel.pid, signal.SIGINT)  # the router turns it into an interrupt
    reply, outs = kernel.finish(msg_id)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert outs[-1]["msg_type"] == "error"
    assert kernel.result("'still alive'") == "'still alive'"


def test_interrupt_cpu_loop(kernel):
    msg_id = kernel.submit("print('started')\nn = 0\nwhile True:\n    n += 1")
    started(kernel, msg_id)
    kernel.interrupt()
    reply, _ = kernel.finish(msg_id)
    assert reply["ename"] == "KeyboardInterrupt"
    assert int(kernel.result("n")) > 0


def test_interrupt_awaiting_cell_and_queue(kernel):
    running = kernel.submit("print('started')\nawait asyncio.sleep(60)")
    queued = [kernel.submit(f"print({i})") for i in range(3)]
    started(kernel, running)
    kernel.interrupt()
    assert kernel.finish(running)[0]["ename"] == "KeyboardInterrupt"
    for msg_id in queued:
        reply, outs = kernel.finish(msg_id)
        assert reply["status"] == "aborted" and outs == []
    assert kernel.result("2 + 2") == "4"


@pytest.mark.mode("concurrent")
def test_interrupt_cancels_all_concurrent_cells(kernel):
    cells = [kernel.submit("print('started')\nawait asyncio.sleep(60)") for _ in range(3)]
    for c in cells:
        started(kernel, c)
    kernel.interrupt()
    for c in cells:
        assert kernel.finish(c)[0]["ename"] == "KeyboardInterrupt"


def test_interrupt_with_nothing_running(kernel):
    kernel.interrupt()
    assert kernel.result("1") == "1"


def test_stop_on_error_aborts_queued_cells(kernel):
    failing = kernel.submit("await asyncio.sleep(0.2)\n1/0")
    queued = kernel.submit("print('not run')")
    assert kernel.finish(failing)[0]["status"] == "error"
    reply, outs = kernel.finish(queued)
    assert reply["status"] == "aborted" and outs == []
    assert kernel.result("'later cells run'") == "'later cells run'"


def test_no_stop_on_error_runs_queued_cells(kernel):
    failing = kernel.submit("await asyncio.sleep(0.2)\n1/0", stop_on_error=False)
    queued = kernel.submit("print('runs')")
    assert kernel.finish(failing)[0]["status"] == "error"
    assert kernel.finish(queued)[0]["status"] == "ok"
    assert kernel.stdout(queued) == "runs\n"


def test_keyboard_interrupt_can_be_caught(kernel):
    msg_id = kernel.submit("import time\ntry:\n    print('started')\n    time.sleep(60)\n"
                           "except KeyboardInterrupt:\n    print('caught')")
    started(kernel, msg_id)
    kernel.interrupt()
    reply, _ = kernel.finish(msg_id)
    assert reply["status"] == "ok" and kernel.stdout(msg_id) == "started\ncaught\n"


def test_interrupt_reaches_the_cell_while_other_threads_run(kernel):
    """The interrupt lands in the cell even when the cell has started
    threads (a signal sent to the process could go to any of them)."""
    msg_id = kernel.submit("import threading, time\nstop = threading.Event()\n"
                           "for _ in range(8):\n    threading.Thread(target=stop.wait, daemon=True).start()\n"
                           "print('started')\ntime.sleep(60)")
    started(kernel, msg_id)
    kernel.interrupt()
    reply, _ = kernel.finish(msg_id)
    assert reply["ename"] == "KeyboardInterrupt"
    kernel.run("stop.set()")
