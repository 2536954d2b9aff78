"""Notebooks that speak the protocol over raw pyzmq sockets, signed with
jupyter_client's Session: cheap enough to run dozens at once from one test
thread, for floods, faults and load."""

import collections
import time

import zmq
from jupyter_client.session import Session


class RawNotebook:
    def __init__(self, info, ctx=None):
        ctx = ctx or zmq.Context.instance()
        self.session = Session(key=info["key"].encode() if isinstance(info["key"], str) else info["key"])
        self.shell = ctx.socket(zmq.DEALER)
        self.shell.linger = 0
        self.shell.connect(f"tcp://{info['ip']}:{info['shell_port']}")

    @property
    def session_id(self):
        return self.session.session

    def send(self, msg_type, content, buffers=()):
        msg = self.session.msg(msg_type, content)
        frames = self.session.serialize(msg)
        self.shell.send_multipart(frames + list(buffers), copy=len(buffers) == 0)
        return msg["header"]["msg_id"]

    def execute(self, code, **fields):
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": False, **fields}
        return self.send("execute_request", content)

    def read_replies(self):
        """Every reply waiting on the shell socket (parsed, signatures checked)."""
        replies = []
        while True:
            try:
                frames = self.shell.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return replies
            _, msg = self.session.feed_identities(frames)
            replies.append(self.session.deserialize(msg))

    def close(self):
        self.shell.close()


def pump(notebooks, timeout=0.5):
    """Replies from all notebooks that arrive within `timeout` seconds."""
    poller = zmq.Poller()
    for nb in notebooks:
        poller.register(nb.shell, zmq.POLLIN)
    out = []
    ready = dict(poller.poll(timeout * 1000))
    for nb in notebooks:
        if nb.shell in ready:
            out.extend((nb, r) for r in nb.read_replies())
    return out


def wait_replies(notebooks, msg_ids, timeout=60):
    """Collect replies until every msg_id has one; returns {msg_id: [replies]}."""
    got = collections.defaultdict(list)
    deadline = time.monotonic() + timeout
    while not all(m in got for m in msg_ids):
        if time.monotonic() > deadline:
            missing = [m for m in msg_ids if m not in got]
            raise AssertionError(f"{len(missing)} requests got no reply")
        for nb, reply in pump(notebooks):
            got[reply["parent_header"]["msg_id"]].append(reply)
    return got
