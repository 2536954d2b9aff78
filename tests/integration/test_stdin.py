"""input() and getpass() ask the frontend on the stdin channel."""

import queue


def answer_input(kernel, value, timeout=30):
    msg = kernel.kc.get_stdin_msg(timeout=timeout)
    assert msg["msg_type"] == "input_request"
    kernel.kc.input(value)
    return msg


def test_input_round_trip(kernel):
    msg_id = kernel.submit("name = input('Who? ')\nprint('hello', name)", allow_stdin=True)
    request = answer_input(kernel, "Ada")
    assert request["content"] == {"prompt": "Who? ", "password": False}
    assert request["parent_header"]["msg_id"] == msg_id
    kernel.finish(msg_id)
    assert kernel.stdout(msg_id) == "hello Ada\n"


def test_getpass_is_a_password_request(kernel):
    msg_id = kernel.submit("import getpass\nsecret = getpass.getpass()\nlen(secret)", allow_stdin=True)
    request = answer_input(kernel, "hunter2")
    assert request["content"]["password"] is True
    kernel.finish(msg_id)
    assert kernel.result("secret") == "'hunter2'"


def test_input_without_allow_stdin_is_a_clear_error(kernel):
    reply, outs = kernel.execute("input('x')", allow_stdin=False)
    assert reply["status"] == "error" and reply["ename"] == "StdinNotImplementedError"
    try:
        kernel.kc.get_stdin_msg(timeout=0.2)
        raise AssertionError("an input_request was sent")
    except queue.Empty:
        pass


def test_ainput_does_not_block_other_cells(kernel):
    kernel.run("__unchain_execution__()")
    asking = kernel.submit("answer = await ainput('? ')\nprint('got', answer)", allow_stdin=True)
    msg = kernel.kc.get_stdin_msg(timeout=30)
    assert msg["content"]["prompt"] == "? "
    assert kernel.result("6 * 7") == "42"  # served while the input is pending
    kernel.kc.input("yes")
    kernel.finish(asking)
    assert kernel.stdout(asking) == "got yes\n"


def test_interrupt_while_waiting_for_input(kernel):
    msg_id = kernel.submit("input('? ')", allow_stdin=True)
    kernel.kc.get_stdin_msg(timeout=30)
    kernel.interrupt()
    reply, _ = kernel.finish(msg_id)
    assert reply["ename"] == "KeyboardInterrupt"
    assert kernel.result("1") == "1"


def test_input_while_another_cell_awaits(kernel):
    """concurrent cells: one awaits, another asks for input; both finish."""
    kernel.run("__unchain_execution__()\ngate = asyncio.Event()")
    waiting = kernel.submit("await gate.wait()\nprint('released')")
    asking = kernel.submit("name = input('name? ')\ngate.set()\nprint('hi', name)", allow_stdin=True)
    answer_input(kernel, "Grace")
    assert kernel.finish(asking)[0]["status"] == "ok"
    assert kernel.finish(waiting)[0]["status"] == "ok"
    assert kernel.stdout(asking) == "hi Grace\n" and kernel.stdout(waiting) == "released\n"
