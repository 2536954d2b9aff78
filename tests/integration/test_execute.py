"""Cells run end to end: results, streams, errors, counts and the fields of
execute_request (silent, store_history, user_expressions, trailing ;)."""

import platform


def test_kernel_info(kernel):
    info = kernel.request("kernel_info")
    assert info["status"] == "ok"
    assert info["protocol_version"] == "5.3"
    assert info["implementation"] == "akernel-gateway"
    lang = info["language_info"]
    assert lang["name"] == "python" and lang["file_extension"] == ".py"
    # the interpreter the workers embed: Debian's, the same as /usr/bin/python3
    assert lang["version"] == platform.python_version()
    assert lang["version"] == kernel.result("import platform; platform.python_version()").strip("'")
    assert "Python" in info["banner"]


def test_result_and_count(kernel):
    r1, outs = kernel.execute("1 + 1")
    assert r1["status"] == "ok" and r1["execution_count"] == 1
    (res,) = [m for m in outs if m["msg_type"] == "execute_result"]
    assert res["content"]["data"]["text/plain"] == "2"
    assert res["content"]["execution_count"] == 1
    r2, _ = kernel.execute("x = 41")
    assert r2["execution_count"] == 2
    assert kernel.result("x + 1") == "42"
    assert kernel.result("_ * 2") == "84"  # _ is the last result


def test_execute_input_is_published(kernel):
    msg_id = kernel.submit("y = 3")
    kernel.finish(msg_id)
    (inp,) = [m for m in kernel.iopub[msg_id] if m["msg_type"] == "execute_input"]
    assert inp["content"] == {"code": "y = 3", "execution_count": 1}


def test_status_order(kernel):
    msg_id = kernel.submit("print('x')")
    kernel.finish(msg_id)
    types = [m["msg_type"] if m["msg_type"] != "status" else m["content"]["execution_state"]
             for m in kernel.iopub[msg_id]]
    assert types == ["busy", "execute_input", "stream", "idle"]


def test_streams_reach_their_cell(kernel):
    msg_id = kernel.submit("import sys\nprint('out', 1)\nsys.stdout.write('w\\n')\n"
                           "sys.stderr.write('err\\n')\nprint('e2', file=sys.stderr);")
    reply, outs = kernel.finish(msg_id)
    assert reply["status"] == "ok"
    text = {"stdout": "", "stderr": ""}
    for m in outs:
        assert m["msg_type"] == "stream"
        text[m["content"]["name"]] += m["content"]["text"]
    assert text == {"stdout": "out 1\nw\n", "stderr": "err\ne2\n"}


def test_error_reply_and_traceback(kernel):
    kernel.execute("def f():\n    return 1 / 0")
    reply, outs = kernel.execute("x = 1\nf()")
    assert reply["status"] == "error"
    assert reply["ename"] == "ZeroDivisionError" and reply["evalue"] == "division by zero"
    (err,) = outs
    assert err["msg_type"] == "error" and err["content"]["ename"] == "ZeroDivisionError"
    tb = "\n".join(err["content"]["traceback"])
    assert "Cell In[2], line 2" in tb and "f()" in tb  # points at the cell that ran
    assert "Cell In[1], line 2" in tb and "return 1 / 0" in tb  # and at the function's cell
    assert "akernel_runtime" not in tb  # no frames of the kernel itself
    assert reply["execution_count"] == 2


def test_syntax_error(kernel):
    reply, outs = kernel.execute("x = (1,\ny = 2 +")
    assert reply["status"] == "error" and reply["ename"] == "SyntaxError"
    tb = "\n".join(outs[0]["content"]["traceback"])
    assert "Cell In[1], line" in tb and "<cell-" not in reply["evalue"]


def test_silent_publishes_nothing_and_keeps_count(kernel):
    kernel.execute("a = 1")
    msg_id = kernel.submit("print('hidden'); a + 1", silent=True)
    reply, outs = kernel.finish(msg_id)
    assert reply["status"] == "ok" and outs == []
    assert not [m for m in kernel.iopub[msg_id] if m["msg_type"] == "execute_input"]
    reply, _ = kernel.execute("a")
    assert reply["execution_count"] == 2


def test_store_history_false_keeps_count(kernel):
    kernel.execute("1")
    reply, outs = kernel.execute("2", store_history=False)
    assert reply["execution_count"] == 1
    assert kernel.execute("3")[0]["execution_count"] == 2


def test_trailing_semicolon_hides_result(kernel):
    _, outs = kernel.run("1 + 1;")
    assert outs == []
    _, outs = kernel.run("1 + 1  # no semicolon here;")
    assert [m["msg_type"] for m in outs] == ["execute_result"]
    assert kernel.result("'a;'") == "'a;'"


def test_user_expressions(kernel):
    kernel.execute("z = 6")
    reply, _ = kernel.execute("pass", user_expressions={"double": "z * 2", "bad": "1/0"})
    ue = reply["user_expressions"]
    assert ue["double"] == {"status": "ok", "data": {"text/plain": "12"}, "metadata": {}}
    assert ue["bad"]["status"] == "error" and ue["bad"]["ename"] == "ZeroDivisionError"


def test_fd_level_and_subprocess_output(kernel):
    msg_id = kernel.submit("import os, subprocess\nos.write(1, b'fd one\\n')\n"
                           "subprocess.run(['echo', 'from echo'])\nos.write(2, b'fd two\\n');")
    reply, outs = kernel.finish(msg_id)
    assert reply["status"] == "ok"
    assert kernel.stdout(msg_id) == "fd one\nfrom echo\n"
    err = "".join(m["content"]["text"] for m in outs if m["content"].get("name") == "stderr")
    assert err == "fd two\n"


def test_namespace_basics(kernel):
    assert kernel.result("__name__") == "'__main__'"
    assert kernel.result("asyncio.__name__") == "'asyncio'"  # akernel imports it for you
    assert kernel.result("import sys; sys.executable") == "'/usr/bin/python3'"
    assert kernel.result("'' in sys.path") == "True"


def test_top_level_await(kernel):
    assert kernel.result("await asyncio.sleep(0, result=7)") == "7"
    stdout, _ = kernel.run("for i in range(2):\n    await asyncio.sleep(0)\n    print(i)")
    assert stdout == "0\n1\n"


def test_output_while_blocking_arrives_before_reply(kernel, tmp_path):
    """A cell that prints and then blocks shows its output while it blocks:
    it waits for a file that the test creates only after seeing the output."""
    gate = tmp_path / "gate"
    msg_id = kernel.submit(f"import os, time\nprint('early')\n"
                           f"while not os.path.exists({str(gate)!r}): time.sleep(0.01)\nprint('late')")
    kernel.wait_iopub(msg_id, lambda m: m["msg_type"] == "stream" and "early" in m["content"]["text"],
                      timeout=10)
    gate.touch()
    reply, _ = kernel.finish(msg_id)
    assert reply["status"] == "ok"
    assert kernel.stdout(msg_id) == "early\nlate\n"


def test_logging_to_stderr(kernel):
    msg_id = kernel.submit("import logging\nlogging.basicConfig()\nlogging.warning('careful now')")
    kernel.finish(msg_id)
    err = "".join(m["content"]["text"] for m in kernel.outputs(msg_id) if m["content"].get("name") == "stderr")
    assert err == "WARNING:root:careful now\n"


def test_c_level_printf(kernel):
    assert kernel.run("import ctypes\nctypes.CDLL(None).printf(b'from C %d\\n', 42);")[0] == "from C 42\n"


def test_nothing_lost_when_a_cell_ends_right_after_writing(kernel):
    """A megabyte through fd 1 and a subprocess's output, just before the end."""
    msg_id = kernel.submit("import os, subprocess\nos.write(1, b'x' * 1_000_000 + b'\\n')\n"
                           "subprocess.run(['printf', 'last words'])")
    kernel.finish(msg_id)
    out = kernel.stdout(msg_id)
    assert out == "x" * 1_000_000 + "\nlast words"


def test_output_of_a_thread_goes_to_the_running_cell(kernel):
    out, _ = kernel.run("import threading\nt = threading.Thread(target=print, args=('from a thread',))\n"
                        "t.start(); t.join()")
    assert out == "from a thread\n"


def test_invalid_utf8_on_fd_is_replaced(kernel):
    out, _ = kernel.run("import os\nos.write(1, b'ok \\xff\\xfe end\\n');")
    assert out == "ok \ufffd\ufffd end\n"


def test_output_after_a_cell_ends_still_goes_to_it(kernel):
    """A task or thread a cell started may print after the cell has ended:
    the output goes to that cell (its parent header), as a user expects."""
    msg_id = kernel.submit("import threading\nasync def later():\n    await asyncio.sleep(0.3)\n"
                           "    print('from the task')\n"
                           "asyncio.ensure_future(later())\n"
                           "threading.Timer(0.3, lambda: print('from the thread')).start()")
    kernel.finish(msg_id)  # the cell is over
    for text in ("from the task", "from the thread"):
        kernel.wait_iopub(msg_id, lambda m, t=text: m["msg_type"] == "stream" and t in m["content"]["text"])


def test_finished_cells_are_let_go(kernel):
    """A worker keeps no finished cell but the one before the cell running
    now (what `__task__()` gives). Each cell used to hold the one before it,
    so every cell ever run stayed in memory, about 1 kB an execute."""
    count_cells = ("import gc\nfrom akernel_runtime.cells import Cell\ngc.collect()\n"
                   "sum(isinstance(o, Cell) for o in gc.get_objects())")
    for i in range(20):  # each sent when the one before has finished
        kernel.execute(f"{i}")
    assert kernel.result(count_cells) == "2"  # this one and the one before
    gate = kernel.submit("await ainput()", allow_stdin=True)
    kernel.kc.get_stdin_msg(timeout=30)  # the gate runs: what follows queues behind it
    queued = [kernel.submit(f"{i}") for i in range(20)]
    counting = kernel.submit(count_cells)
    kernel.kc.input("")
    for msg_id in [gate, *queued]:
        kernel.finish(msg_id)
    reply, outs = kernel.finish(counting)
    (result,) = [m for m in outs if m["msg_type"] == "execute_result"]
    assert result["content"]["data"]["text/plain"] == "2"
