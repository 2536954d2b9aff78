"""Comms (the `comm` package's API, ipywidgets): opened by cells or by the
frontend, messages both ways with the request that caused them as parent,
binary buffers untouched, and widgets answering while a cell awaits."""

import uuid

import pytest

BYTES = bytes(range(256))
MODES = pytest.mark.parametrize("mode", [
    pytest.param("", id="default"),
    pytest.param("multi", id="multi", marks=pytest.mark.mode("multi")),
    pytest.param("concurrent", id="concurrent", marks=pytest.mark.mode("concurrent")),
])


def send_comm(client, msg_type, content, buffers=None):
    """Send comm_open / comm_msg / comm_close as a frontend does; returns its msg_id."""
    msg = client.kc.session.msg(msg_type, content)
    if buffers is not None:
        msg["buffers"] = list(buffers)
    client.kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def stream_with(client, msg_id, text):
    """The stdout message of request msg_id that contains text."""
    return client.wait_iopub(msg_id, lambda m: m["msg_type"] == "stream" and text in m["content"]["text"])


def comm_event(client, msg_id, msg_type, comm_id=None):
    return client.wait_iopub(msg_id, lambda m: m["msg_type"] == msg_type
                             and (comm_id is None or m["content"]["comm_id"] == comm_id))


def test_comm_info_lists_a_comm_opened_by_a_cell(kernel):
    assert kernel.request("comm_info") == {"status": "ok", "comms": {}}
    cell = kernel.submit("import comm\nc = comm.create_comm(target_name='akg.info', data={'x': 1})\n"
                         "other = comm.create_comm(target_name='akg.other')")
    assert kernel.finish(cell)[0]["status"] == "ok"
    opened = comm_event(kernel, cell, "comm_open")
    assert opened["content"]["target_name"] == "akg.info" and opened["content"]["data"] == {"x": 1}
    comm_id = opened["content"]["comm_id"]
    assert opened["parent_header"]["msg_id"] == cell
    assert kernel.result("c.comm_id") == repr(comm_id)

    info = kernel.request("comm_info")
    assert info["status"] == "ok"
    assert info["comms"][comm_id] == {"target_name": "akg.info"}
    assert len(info["comms"]) == 2
    only = kernel.request("comm_info", target_name="akg.info")["comms"]
    assert only == {comm_id: {"target_name": "akg.info"}}

    # closed by the kernel: the frontend is told, and it is no longer listed
    closing = kernel.submit("c.close({'reason': 'done'})")
    kernel.finish(closing)
    closed = comm_event(kernel, closing, "comm_close", comm_id)
    assert closed["content"]["data"] == {"reason": "done"}
    assert kernel.request("comm_info", target_name="akg.info")["comms"] == {}


@MODES
def test_frontend_opens_and_messages_a_kernel_target(kernel, mode):
    kernel.run(
        "import comm\n"
        "received = []\n"
        "def target(c, msg):\n"
        "    print('opened', msg['content']['data'])\n"
        "    def on_msg(msg):\n"
        "        received.append(msg['content']['data'])\n"
        "        print('got', msg['content']['data'], msg['msg_type'], msg['header']['msg_id'])\n"
        "    c.on_msg(on_msg)\n"
        "comm.get_comm_manager().register_target('akg.target', target)\n")
    comm_id = uuid.uuid4().hex
    opening = send_comm(kernel, "comm_open", {"comm_id": comm_id, "target_name": "akg.target",
                                              "data": {"hello": 1}})
    stream_with(kernel, opening, "opened {'hello': 1}")
    kernel.wait_idle(opening)

    sending = send_comm(kernel, "comm_msg", {"comm_id": comm_id, "data": {"n": 2}})
    out = stream_with(kernel, sending, "got {'n': 2} comm_msg " + sending)
    assert out["parent_header"]["msg_id"] == sending  # the callback's output has the comm_msg as parent
    kernel.wait_idle(sending)

    assert kernel.request("comm_info")["comms"] == {comm_id: {"target_name": "akg.target"}}
    assert kernel.result("received") == "[{'n': 2}]"


def test_open_to_an_unknown_target_is_closed(kernel):
    comm_id = uuid.uuid4().hex
    opening = send_comm(kernel, "comm_open", {"comm_id": comm_id, "target_name": "akg.nobody", "data": {}})
    comm_event(kernel, opening, "comm_close", comm_id)  # as ipykernel: the kernel closes it
    kernel.wait_idle(opening)
    assert kernel.request("comm_info")["comms"] == {}
    # a message to a comm that does not exist is dropped, and the kernel goes on
    lost = send_comm(kernel, "comm_msg", {"comm_id": comm_id, "data": {}})
    kernel.wait_idle(lost)
    assert kernel.result("1 + 1") == "2"


def test_error_in_a_comm_callback_goes_to_stderr_of_its_message(kernel):
    kernel.run("import comm\n"
               "def target(c, msg):\n"
               "    c.on_msg(lambda msg: 1 / 0)\n"
               "comm.get_comm_manager().register_target('akg.error', target)\n")
    comm_id = uuid.uuid4().hex
    kernel.wait_idle(send_comm(kernel, "comm_open", {"comm_id": comm_id, "target_name": "akg.error", "data": {}}))
    failing = send_comm(kernel, "comm_msg", {"comm_id": comm_id, "data": {}})
    err = kernel.wait_iopub(failing, lambda m: m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
                            and "ZeroDivisionError" in m["content"]["text"])
    assert err["parent_header"]["msg_id"] == failing
    kernel.wait_idle(failing)
    assert kernel.result("'still here'") == "'still here'"


def _widget_state(content):
    """The state in a jupyter.widget comm_open: protocol 2 (ipywidgets 7, 8)
    sends {"state": ..., "buffer_paths": ...}, ipywidgets 6 the state itself."""
    data = content["data"]
    return data["state"] if "state" in data else data


def _set_value_msg(widgets_major, value):
    """What a frontend sends when the user moves a slider."""
    if widgets_major >= 7:
        return {"method": "update", "state": {"value": value}, "buffer_paths": []}
    return {"method": "backbone", "sync_data": {"value": value}}


@MODES
def test_ipywidgets_slider_round_trip_while_a_cell_awaits(kernel, mode):
    pytest.importorskip("ipywidgets")
    cell = kernel.submit(
        "import ipywidgets\n"
        "slider = ipywidgets.IntSlider(value=3, min=0, max=10)\n"
        "slider.observe(lambda change: print('value', change['new']), names='value')\n"
        "major = int(ipywidgets.__version__.split('.')[0])")
    reply, _ = kernel.finish(cell)
    assert reply["status"] == "ok", reply
    major = int(kernel.result("major"))
    opened = kernel.wait_iopub(cell, lambda m: m["msg_type"] == "comm_open"
                               and m["content"]["target_name"] == "jupyter.widget"
                               and _widget_state(m["content"]).get("_model_name") == "IntSliderModel")
    state = _widget_state(opened["content"])
    assert state["value"] == 3 and state["max"] == 10
    comm_id = opened["content"]["comm_id"]
    assert kernel.result("slider.model_id") == repr(comm_id)

    # a cell of the same notebook awaits: the widget still answers
    waiting = kernel.submit("print('waiting')\nawait asyncio.Event().wait()")
    stream_with(kernel, waiting, "waiting")
    moving = send_comm(kernel, "comm_msg", {"comm_id": comm_id, "data": _set_value_msg(major, 7)})
    out = stream_with(kernel, moving, "value 7")
    assert out["content"]["text"] == "value 7\n"
    kernel.wait_idle(moving)
    assert not [m for m in kernel.iopub[waiting] if m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"], "the awaiting cell ended early"

    kernel.interrupt()
    assert kernel.finish(waiting)[0]["ename"] == "KeyboardInterrupt"
    assert kernel.result("slider.value") == "7"

    # kernel -> frontend: a change made by a cell is sent as a state update
    change = kernel.submit("slider.value = 9")
    kernel.finish(change)
    update = kernel.wait_iopub(change, lambda m: m["msg_type"] == "comm_msg"
                               and m["content"]["comm_id"] == comm_id)
    data = update["content"]["data"]
    assert (data.get("state") or {}).get("value") == 9 and data["method"] == "update"


def test_binary_buffers_pass_through_both_ways(kernel):
    # kernel -> frontend: comm_open and comm_msg from a cell, with buffers of
    # several kinds (ipywidgets sends memoryviews)
    cell = kernel.submit(
        "import comm\n"
        "data = bytes(range(256))\n"
        "out = comm.create_comm(target_name='akg.bytes', data={'n': 1}, buffers=[data])\n"
        "out.send({'n': 2}, buffers=[memoryview(data), bytearray(b'\\x00\\xff'), data[::-1]])\n"
        "def target(c, msg):\n"
        "    c.on_msg(lambda msg: c.send({'types': [type(b).__name__ for b in msg['buffers']]},\n"
        "                                buffers=msg['buffers']))\n"
        "comm.get_comm_manager().register_target('akg.echo', target)\n")
    assert kernel.finish(cell)[0]["status"] == "ok"
    opened = comm_event(kernel, cell, "comm_open")
    assert [bytes(b) for b in opened["buffers"]] == [BYTES]
    sent = comm_event(kernel, cell, "comm_msg", opened["content"]["comm_id"])
    assert sent["content"]["data"] == {"n": 2}
    assert [bytes(b) for b in sent["buffers"]] == [BYTES, b"\x00\xff", BYTES[::-1]]

    # frontend -> kernel -> frontend: echoed untouched
    comm_id = uuid.uuid4().hex
    kernel.wait_idle(send_comm(kernel, "comm_open", {"comm_id": comm_id, "target_name": "akg.echo", "data": {}}))
    buffers = [BYTES, b"\xff\x00" * 1000, BYTES[128:]]
    echoing = send_comm(kernel, "comm_msg", {"comm_id": comm_id, "data": {}}, buffers)
    echo = comm_event(kernel, echoing, "comm_msg", comm_id)
    assert echo["parent_header"]["msg_id"] == echoing
    assert echo["content"]["data"] == {"types": ["bytes", "bytes", "bytes"]}
    assert [bytes(b) for b in echo["buffers"]] == buffers
    kernel.wait_idle(echoing)


def test_message_sent_from_a_thread_goes_to_the_running_cell(kernel):
    kernel.run("import comm, threading\nc = comm.create_comm(target_name='akg.thread')")
    cell = kernel.submit("t = threading.Thread(target=lambda: c.send({'from': 'thread'}, buffers=[b'\\x01']))\n"
                         "t.start()\nt.join()")
    assert kernel.finish(cell)[0]["status"] == "ok"
    sent = comm_event(kernel, cell, "comm_msg")
    assert sent["content"]["data"] == {"from": "thread"} and [bytes(b) for b in sent["buffers"]] == [b"\x01"]


def test_comm_close_from_the_frontend_runs_on_close(kernel):
    kernel.run("import comm\n"
               "def target(c, msg):\n"
               "    c.on_close(lambda msg: print('closed', msg['content']['data']))\n"
               "comm.get_comm_manager().register_target('akg.closing', target)\n")
    comm_id = uuid.uuid4().hex
    kernel.wait_idle(send_comm(kernel, "comm_open", {"comm_id": comm_id, "target_name": "akg.closing", "data": {}}))
    assert comm_id in kernel.request("comm_info")["comms"]
    closing = send_comm(kernel, "comm_close", {"comm_id": comm_id, "data": {"bye": 1}})
    out = stream_with(kernel, closing, "closed {'bye': 1}")
    assert out["parent_header"]["msg_id"] == closing
    kernel.wait_idle(closing)
    assert kernel.request("comm_info")["comms"] == {}
    # the kernel does not answer a frontend's close with a close of its own
    assert not [m for m in kernel.iopub[closing] if m["msg_type"] == "comm_close"]


def test_comm_open_carries_message_metadata(kernel):
    """ipywidgets' frontends need the protocol version in comm_open's
    message metadata (not in its content)."""
    msg_id = kernel.submit("import comm\nc = comm.create_comm(target_name='probe', data={'x': 1},\n"
                           "                       metadata={'version': '2.1.0'})")
    opened = kernel.wait_iopub(msg_id, lambda m: m["msg_type"] == "comm_open")
    assert opened["metadata"] == {"version": "2.1.0"}
    assert opened["content"]["target_name"] == "probe" and opened["content"]["data"] == {"x": 1}
    kernel.finish(msg_id)
