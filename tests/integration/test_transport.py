"""The router's own ZMQ transport (common/zsock.c, ZMTP 3.0) as clients
see it: any peer that is not ZMTP is turned away without harm, a peer that
stalls in its handshake blocks no one, the ipc transport works, and every
request's status busy comes first, before a blocked worker answers."""

import os
import socket
import time

import pytest

from conftest import kernel_name, wait_for
from kernel_client import Kernel

CHANNELS = ("shell", "iopub", "stdin", "control", "hb")


def _ports(kernel):
    info = kernel.km.get_connection_info()
    return {ch: info[f"{ch}_port"] for ch in CHANNELS}


def _read_until_closed(sock, timeout=10.0) -> bytes:
    """Everything the kernel sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    raise TimeoutError(f"the kernel kept the connection open; it sent {data!r}")


def test_a_peer_that_is_not_zmtp_is_disconnected_on_every_port(kernel):
    for ch, port in _ports(kernel).items():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            greeting = _read_until_closed(s)
        assert greeting[:1] == b"\xff" and greeting[9:11] == b"\x7f\x03", (ch, greeting)
    assert kernel.request("kernel_info")["status"] == "ok"
    assert kernel.result("6 * 7") == "42"
    assert kernel.kc.hb_channel.is_alive()


def test_a_peer_stuck_in_its_handshake_blocks_no_one(kernel):
    ports = _ports(kernel)
    stuck = [socket.create_connection(("127.0.0.1", ports[ch]), timeout=10) for ch in CHANNELS]
    try:
        for s in stuck:
            s.sendall(b"\xff\x00\x00")  # the start of a greeting, and then nothing
        other = kernel.new_client()
        assert other.result("1 + 1") == "2"
        assert kernel.result("2 + 2") == "4"
    finally:
        for s in stuck:
            s.close()


def test_ipc_transport(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)  # jupyter_client makes the ipc paths relative to here
    k = None
    try:
        k = Kernel(kernel_name("multi"), transport="ipc")
        assert k.result("6 * 7") == "42"
        assert k.new_client().result("1") == "1"
        paths = [p for p in os.listdir(tmp_path) if "ipc" in p]
        assert paths, os.listdir(tmp_path)
    finally:
        if k:
            k.stop()
        os.chdir(cwd)
    # the router removes its ipc sockets when it exits
    wait_for(lambda: not [p for p in os.listdir(tmp_path) if "ipc" in p], timeout=10,
             what="ipc paths removed")


@pytest.mark.mode("multi")
@pytest.mark.args("--workers", "1")
def test_busy_comes_first_even_while_the_worker_is_blocked(kernel, tmp_path):
    """A request's busy waits for the worker's first answer (so a short cell's
    busy, outputs and idle travel together), but never for long: here the
    only worker blocks in another notebook's cell, and busy still comes."""
    a, b = kernel, kernel.new_client()
    gate = tmp_path / "gate"
    blocking = a.submit(f"import os, time\nprint('started')\n"
                        f"while not os.path.exists({str(gate)!r}):\n    time.sleep(0.01)")
    a.wait_iopub(blocking, lambda m: m["msg_type"] == "stream" and "started" in m["content"]["text"])
    queued = b.submit("6 * 7")
    busy = b.wait_iopub(queued, lambda m: m["msg_type"] == "status", timeout=10)
    assert busy["content"]["execution_state"] == "busy"
    assert queued not in b.replies  # the worker has not answered yet
    gate.touch()
    assert a.finish(blocking)[0]["status"] == "ok"
    reply, outs = b.finish(queued)
    assert reply["status"] == "ok"
    kinds = [m["msg_type"] for m in b.iopub[queued]]
    assert kinds[0] == "status" and kinds.count("status") == 2, kinds
    assert b.iopub[queued][-1]["content"]["execution_state"] == "idle"
    assert [m["content"]["data"]["text/plain"] for m in outs] == ["42"]


def test_every_request_says_busy_first_and_idle_last(kernel):
    """One request at a time (with several in flight, the oldest one still
    running says busy again after another's idle, on purpose)."""
    for send in (lambda kc: kernel.submit("print('x'); 1"), lambda kc: kc.complete("impo", 4),
                 lambda kc: kc.inspect("len", 3), lambda kc: kc.kernel_info(), lambda kc: kc.history(),
                 lambda kc: kc.comm_info(), lambda kc: kc.is_complete("for")):
        msg_id = send(kernel.kc)
        kernel.wait_reply(msg_id)
        kernel.wait_idle(msg_id)
        states = [m["content"]["execution_state"] for m in kernel.iopub[msg_id] if m["msg_type"] == "status"]
        assert states == ["busy", "idle"], (msg_id, states)
        assert kernel.iopub[msg_id][0]["msg_type"] == "status", kernel.iopub[msg_id]
