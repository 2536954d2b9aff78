"""Hostile or broken input on the kernel's sockets is logged and dropped;
the router keeps serving and never runs code it should not."""

import json

import pytest
import zmq
from jupyter_client.session import Session

DELIM = b"<IDS|MSG>"


@pytest.fixture
def raw(kernel):
    """A raw DEALER on the kernel's shell socket, and a Session with its key."""
    info = kernel.km.get_connection_info(session=False)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(f"tcp://{info['ip']}:{info['shell_port']}")
    session = Session(key=info["key"], signature_scheme="hmac-sha256")
    yield sock, session
    sock.close()


def resign(session, frames):
    return session.sign(frames[2:6])


def signed(session, msg_type, content, header_overrides=None):
    msg = session.msg(msg_type, content)
    msg["header"].update(header_overrides or {})
    frames = session.serialize(msg)  # [DELIM, sig, header, parent, metadata, content]
    return msg, frames


def recv_reply(sock, timeout_ms=5000):
    if not sock.poll(timeout_ms):
        return None
    return sock.recv_multipart()


def kernel_info_works(sock, session):
    msg, frames = signed(session, "kernel_info_request", {})
    sock.send_multipart(frames)
    reply = recv_reply(sock)
    assert reply is not None, "no kernel_info_reply after bad input"
    header = json.loads(reply[reply.index(DELIM) + 2])
    assert header["msg_type"] == "kernel_info_reply"


def assert_no_reply(sock):
    assert recv_reply(sock, timeout_ms=300) is None


BAD_INPUTS = {
    "garbage": [b"\xff\x00garbage"],
    "no delimiter": [b"a", b"b", b"c", b"d", b"e", b"f"],
    "truncated": [DELIM, b"sig", b"{}"],
    "empty": [b""],
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_malformed_multipart_is_dropped(kernel, raw, name):
    sock, session = raw
    sock.send_multipart(BAD_INPUTS[name])
    assert_no_reply(sock)
    kernel_info_works(sock, session)


def test_bad_signature_does_not_execute(kernel, raw, tmp_path):
    sock, session = raw
    marker = tmp_path / "ran"
    msg, frames = signed(session, "execute_request",
                         {"code": f"open({str(marker)!r}, 'w').close()", "silent": False})
    frames[1] = b"0" * 64
    sock.send_multipart(frames)
    frames[1] = b""  # missing signature
    sock.send_multipart(frames)
    assert_no_reply(sock)
    kernel_info_works(sock, session)
    assert kernel.result("1") == "1"
    assert not marker.exists()


def test_replayed_message_runs_once(kernel, raw):
    sock, session = raw
    kernel.run("count = 0")
    msg, frames = signed(session, "execute_request", {"code": "count += 1", "silent": False})
    sock.send_multipart(frames)
    assert recv_reply(sock) is not None
    sock.send_multipart(frames)  # the same signed bytes again
    assert_no_reply(sock)
    assert kernel.result("count") == "1"


@pytest.mark.parametrize("part, value", [
    (2, b"{not json"), (3, b"[]"), (4, b"\"str\""), (5, b"{\"code\": "),
])
def test_invalid_json_is_dropped(kernel, raw, part, value):
    sock, session = raw
    msg, frames = signed(session, "execute_request", {"code": "1"})
    frames[part] = value
    frames[1] = resign(session, frames)  # validly signed, so only the JSON is wrong
    sock.send_multipart(frames)
    assert_no_reply(sock)
    kernel_info_works(sock, session)


@pytest.mark.parametrize("overrides", [
    {"msg_id": 5}, {"session": None}, {"msg_type": "bad type"}, {"username": ["x"]}, {"version": 5.3},
])
def test_wrong_header_types_are_dropped(kernel, raw, overrides):
    sock, session = raw
    msg, frames = signed(session, "kernel_info_request", {}, overrides)
    sock.send_multipart(frames)
    assert_no_reply(sock)
    kernel_info_works(sock, session)


def test_deeply_nested_json_is_dropped(kernel, raw):
    sock, session = raw
    msg, frames = signed(session, "execute_request", {"code": "1"})
    frames[5] = b'{"code": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    frames[1] = resign(session, frames)
    sock.send_multipart(frames)
    assert_no_reply(sock)
    kernel_info_works(sock, session)


def test_unknown_message_type_gets_no_reply(kernel, raw):
    sock, session = raw
    msg, frames = signed(session, "frobnicate_request", {})
    sock.send_multipart(frames)
    assert_no_reply(sock)
    kernel_info_works(sock, session)
