"""Many notebooks on one kernel (multi mode): one namespace, count, chain,
history and unchain switch per session; sessions spread over workers; a
blocking or crashing worker is invisible to sessions on other workers;
--max-sessions, with and without multi mode."""

import os
import signal

import pytest

from conftest import pid_alive, wait_for


def started(client, msg_id, text="started"):
    client.wait_iopub(msg_id, lambda m: m["msg_type"] == "stream" and text in m["content"]["text"])


@pytest.mark.mode("multi")
def test_two_sessions_have_their_own_namespace_and_count(kernel):
    a, b = kernel, kernel.new_client()
    assert a.execute("x = 'a'")[0]["execution_count"] == 1
    assert b.execute("x = 'b'")[0]["execution_count"] == 1
    assert a.result("x") == "'a'"
    assert b.result("x") == "'b'"
    assert a.execute("pass")[0]["execution_count"] == 3
    assert b.execute("pass")[0]["execution_count"] == 3


@pytest.mark.mode("multi")
@pytest.mark.args("--workers", "2")
def test_fifty_sessions(kernel):
    clients = [kernel] + [kernel.new_client() for _ in range(49)]
    ids = [c.submit(f"me = {i}\nprint(me)") for i, c in enumerate(clients)]  # all in flight at once
    for i, (c, msg_id) in enumerate(zip(clients, ids)):
        reply, outs = c.finish(msg_id)
        assert reply["execution_count"] == 1
        assert c.stdout(msg_id) == f"{i}\n"
        # outputs carry the parent header of the request they answer
        assert all(m["parent_header"]["session"] == c.session_id for m in c.iopub[msg_id])
    for i, c in enumerate(clients):
        assert c.result("me") == str(i)
    pids = {c.worker_pid() for c in clients}
    assert len(pids) == 2  # spread over both workers


@pytest.mark.mode("multi")
def test_history_is_per_session(kernel):
    a, b = kernel, kernel.new_client()
    a.run("'from a'")
    b.run("'from b'")
    hist = a.request("history", hist_access_type="tail", n=10, output=False, raw=True)["history"]
    assert [h[2] for h in hist] == ["'from a'"]


@pytest.mark.mode("multi")
def test_a_sessions_cell_does_not_wait_behind_another_sessions_await(kernel, tmp_path):
    a, b = kernel, kernel.new_client()
    gate = tmp_path / "gate"
    waiting = a.submit(f"import os\nwhile not os.path.exists({str(gate)!r}):\n    await asyncio.sleep(0.01)")
    assert b.result("1 + 1") == "2"  # answered while a's cell awaits
    gate.touch()
    assert a.finish(waiting)[0]["status"] == "ok"


@pytest.mark.mode("multi")
def test_unchain_is_per_session(kernel, tmp_path):
    a, b = kernel, kernel.new_client()
    a.run("__unchain_execution__()\ngate = asyncio.Event()")
    first = a.submit("await gate.wait()")
    a.run("gate.set()")  # runs while `first` waits: a is unchained
    a.finish(first)
    # b is still chained: its second cell waits for its first
    gate = tmp_path / "gate"
    b.run("log = []")
    b1 = b.submit(f"import os\nwhile not os.path.exists({str(gate)!r}):\n    await asyncio.sleep(0.01)\nlog.append(1)")
    b2 = b.submit("log.append(2)")
    gate.touch()
    b.finish(b1)
    b.finish(b2)
    assert b.result("log") == "[1, 2]"


@pytest.mark.mode("multi")
@pytest.mark.args("--workers", "2")
def test_cpu_bound_cell_does_not_delay_others(kernel, tmp_path):
    a, b = kernel, kernel.new_client()
    assert a.worker_pid() != b.worker_pid()  # least-loaded: different workers
    gate = tmp_path / "gate"
    spinning = a.submit(f"import os\nprint('started')\nwhile not os.path.exists({str(gate)!r}):\n    pass")
    started(a, spinning)
    # all of these are answered while a's worker spins
    assert b.kc.hb_channel.is_beating() or _heartbeat(kernel)
    assert _heartbeat(kernel)
    assert b.request("kernel_info")["status"] == "ok"
    assert b.result("6 * 7") == "42"
    gate.touch()
    assert a.finish(spinning)[0]["status"] == "ok"


def _heartbeat(kernel) -> bool:
    import zmq

    info = kernel.km.get_connection_info()
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.linger = 0
    sock.connect(f"tcp://{info['ip']}:{info['hb_port']}")
    try:
        sock.send(b"ping")
        return bool(sock.poll(10000)) and sock.recv() == b"ping"
    finally:
        sock.close()


@pytest.mark.mode("multi")
def test_interrupt_is_per_session(kernel, tmp_path):
    a, b = kernel, kernel.new_client()
    gate = tmp_path / "gate"
    ca = a.submit("print('started')\nawait asyncio.sleep(60)")
    cb = b.submit(f"import os\nprint('started')\nwhile not os.path.exists({str(gate)!r}):\n"
                  "    await asyncio.sleep(0.01)\nprint('finished normally')")
    started(a, ca)
    started(b, cb)
    a.interrupt()
    assert a.finish(ca)[0]["ename"] == "KeyboardInterrupt"
    gate.touch()  # b's cell was not interrupted: it runs to its end
    assert b.finish(cb)[0]["status"] == "ok"
    assert "finished normally" in b.stdout(cb)


@pytest.mark.mode("multi")
def test_blocking_cell_gets_keyboardinterrupt_only_from_its_session(kernel, tmp_path):
    a, b = kernel, kernel.new_client()
    b.run("pass")  # b has a session on the same worker
    gate = tmp_path / "gate"
    blocking = a.submit(f"import os, time\nprint('started')\nwhile not os.path.exists({str(gate)!r}):\n"
                        "    time.sleep(0.01)\nprint('finished normally')")
    started(a, blocking)
    b.interrupt()  # not b's cell: it must go on
    gate_msg = b.submit("pass")  # queued behind a's blocking cell in the same worker
    gate.touch()
    reply, _ = a.finish(blocking)
    assert reply["status"] == "ok" and "finished normally" in a.stdout(blocking)
    assert b.finish(gate_msg)[0]["status"] == "ok"
    again = a.submit("import time\nprint('started')\ntime.sleep(60)")
    started(a, again)
    a.interrupt()
    assert a.finish(again)[0]["ename"] == "KeyboardInterrupt"


@pytest.mark.mode("multi")
def test_interrupt_from_a_session_without_cells_reaches_every_session(kernel):
    """A kernel manager (JupyterLab's server) interrupts from a session of its
    own, which has no cells here: that interrupts every session."""
    a, b, manager = kernel, kernel.new_client(), kernel.new_client()
    ca = a.submit("print('started')\nawait asyncio.sleep(60)")
    cb = b.submit("print('started')\nawait asyncio.sleep(60)")
    started(a, ca)
    started(b, cb)
    manager.interrupt()
    assert a.finish(ca)[0]["ename"] == "KeyboardInterrupt"
    assert b.finish(cb)[0]["ename"] == "KeyboardInterrupt"


@pytest.mark.mode("multi")
def test_restart_resets_only_that_session(kernel):
    a, b = kernel, kernel.new_client()
    a.run("x = 1")
    b.run("x = 2")
    a.restart_session()
    reply, _ = a.execute("x")
    assert reply["ename"] == "NameError" and reply["execution_count"] == 1
    assert b.result("x") == "2"
    assert kernel.km.is_alive()


@pytest.mark.mode("multi")
@pytest.mark.args("--workers", "2")
def test_worker_crash_is_isolated(kernel):
    a, b, c = kernel, kernel.new_client(), kernel.new_client()
    for client, value in ((a, 1), (b, 2), (c, 3)):
        client.run(f"x = {value}")
    pa, pb, pc = a.worker_pid(), b.worker_pid(), c.worker_pid()
    assert pa != pb and pc == pa  # c shares a's worker, b has the other
    running = a.submit("print('started')\nawait asyncio.sleep(60)")
    started(a, running)
    os.kill(pa, signal.SIGKILL)
    reply, outs = a.finish(running)
    assert reply["status"] == "error" and reply["ename"] == "WorkerDied"
    assert "signal 9" in reply["evalue"] and "lost" in reply["evalue"]
    assert [m["msg_type"] for m in outs] == ["stream", "error"]  # its 'started', then the error
    wait_for(lambda: not pid_alive(pa), what="the killed worker to be reaped")
    # b, on the other worker, kept its state; the only error anyone got
    # (iopub is a broadcast: every client sees it) answers a's cell
    assert b.result("x") == "2" and b.worker_pid() == pb
    errors = [m for msgs in b.iopub.values() for m in msgs if m["msg_type"] == "error"]
    assert [m["parent_header"]["msg_id"] for m in errors] == [running]
    # a and c get a fresh worker: their state is gone, they run again
    assert a.execute("x")[0]["ename"] == "NameError"
    assert c.execute("x")[0]["ename"] == "NameError"
    assert a.worker_pid() not in (pa, pb)
    assert a.result("1 + 1") == "2"


@pytest.mark.mode("multi")
@pytest.mark.args("--isolate", "--max-workers", "3")
def test_isolate_gives_each_session_a_worker(kernel, tmp_path):
    a, b, c, d = kernel, kernel.new_client(), kernel.new_client(), kernel.new_client()
    pids = [x.worker_pid() for x in (a, b, c)]
    assert len(set(pids)) == 3
    gate = tmp_path / "gate"
    blocking = a.submit(f"import os\nprint('started')\nwhile not os.path.exists({str(gate)!r}):\n    pass")
    started(a, blocking)
    assert b.result("'b runs'") == "'b runs'"  # its own worker is free
    reply, _ = d.execute("1")  # a fourth session is over --max-workers
    assert reply["status"] == "error" and reply["ename"] == "WorkerUnavailable"
    assert "--max-workers" in reply["evalue"]
    gate.touch()
    assert a.finish(blocking)[0]["status"] == "ok"


@pytest.mark.mode("multi")
@pytest.mark.args("--worker-queue-limit", "65536")
def test_full_worker_queue_is_reported(kernel, tmp_path):
    gate = tmp_path / "gate"
    blocking = kernel.submit(f"import os, time\nprint('started')\nwhile not os.path.exists({str(gate)!r}):\n"
                             "    time.sleep(0.01)")
    started(kernel, blocking)
    big = "x = '" + "y" * 20000 + "'"
    sent = [kernel.submit(big) for _ in range(40)]  # ~800 kB for a worker that reads nothing
    refused = None
    gate.touch()
    for msg_id in sent:
        reply, outs = kernel.finish(msg_id)
        if reply["status"] == "error" and reply["ename"] == "WorkerBusy":
            refused = reply
    assert refused is not None and "queue is full" in refused["evalue"]
    assert kernel.finish(blocking)[0]["status"] == "ok"


@pytest.mark.args("--max-sessions", "2")
def test_sessions_sharing_a_namespace_are_forgotten_at_the_limit(kernel):
    """Without multi mode every session runs in one namespace, so a session
    is only bookkeeping, and clients never say they have left: at
    --max-sessions the one idle longest is forgotten, and a new client is
    served (it used to be refused for the rest of the kernel's life)."""
    kernel.run("n = 0")
    for i in range(1, 5):
        client = kernel.new_client()
        assert client.result("n += 1\nn") == str(i)
        client.close()
    assert kernel.result("n") == "4"  # the session forgotten first comes back
    # and the worker keeps the modes of the one namespace, not of each session
    assert kernel.result("from akernel_runtime import stdin\nlen(stdin.WORKER.session_modes)") == "1"


@pytest.mark.args("--max-sessions", "1")
def test_late_output_reaches_a_forgotten_sessions_cell(kernel):
    msg_id = kernel.submit("async def later():\n    await asyncio.sleep(0.5)\n    print('late')\n"
                           "asyncio.ensure_future(later())")
    kernel.finish(msg_id)
    other = kernel.new_client()
    assert other.result("2 + 2") == "4"  # the first session, idle, is forgotten
    kernel.wait_iopub(msg_id, lambda m: m["msg_type"] == "stream" and "late" in m["content"]["text"])
    assert kernel.result("3") == "3"  # and comes back


@pytest.mark.mode("multi")
@pytest.mark.args("--max-sessions", "2")
def test_a_session_over_the_limit_is_refused_in_multi_mode(kernel):
    """In multi mode a session is a namespace: none is dropped to make room."""
    kernel.run("x = 1")
    b = kernel.new_client()
    b.run("x = 2")
    reply, _ = kernel.new_client().execute("1")
    assert reply["status"] == "error" and reply["ename"] == "SessionLimit"
    assert kernel.result("x") == "1" and b.result("x") == "2"
