#!/usr/bin/python3
"""Write the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<harness>/).

Real inputs made by jupyter_client (signed messages, connection files) and
the project's own config, plus broken variants. Run with Debian's python3
(/usr/bin/python3, which has jupyter_client):

    /usr/bin/python3 tests/fuzz/make_corpus.py

The files are committed; rerunning rewrites them (message ids, dates and
keys are fixed; only the ports jupyter_client picks for some connection
files change).
"""
import json
import os
import struct
import sys
import tempfile
import uuid

from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
KEY = b"9b7c2e4a-1f0d-4c3b-8a6e-5d2f1e0c9b8a"  # FUZZ_KEY in fuzz.h
SEP = b"\x1e"  # frame separator of fuzz_jmsg

_ids = iter(uuid.UUID(int=0x5EED0000 + i) for i in range(1000))


def fixed(session):
    """Make Session.msg deterministic: fixed msg_ids and dates."""
    orig = session.msg_header

    def msg_header(msg_type):
        h = orig(msg_type)
        h["msg_id"] = str(next(_ids))
        h["date"] = "2026-01-31T12:34:56.123456Z"
        return h

    session.msg_header = msg_header
    session.session = "5eed5e55-1000-4000-8000-000000000001"
    return session


def write(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frames_of(session, msg_type, content, ident=(b"\x00k\x8b\x45\x67",), parent=None, buffers=None, metadata=None):
    msg = session.msg(msg_type, content=content, parent=parent or {}, metadata=metadata or {})
    # serialize leaves the buffers out (Session.send appends them)
    return session.serialize(msg, ident=list(ident)) + list(buffers or [])


def join(frames):
    for f in frames:
        assert SEP not in f, f
    return SEP.join(frames)


def chan(parts):
    body = b"".join(struct.pack("<I", len(p)) + p for p in parts)
    return struct.pack("<I", len(body)) + body


def jmsg():
    s = fixed(Session(key=KEY, username="fuzz"))
    unsigned = fixed(Session(key=b"", username="fuzz"))
    h = "fuzz_jmsg"
    write(h, "kernel_info_request", join(frames_of(s, "kernel_info_request", {})))
    execute = frames_of(s, "execute_request", {
        "code": "import asyncio\nawait asyncio.sleep(0.1)\nprint('hi')", "silent": False,
        "store_history": True, "user_expressions": {}, "allow_stdin": True, "stop_on_error": True})
    write(h, "execute_request", join(execute))
    parent = json.loads(execute[3])
    write(h, "input_reply", join(frames_of(s, "input_reply", {"value": "42"}, parent=parent)))
    write(h, "comm_msg_buffers", join(frames_of(
        s, "comm_msg", {"comm_id": "c0ffee", "data": {"method": "update", "buffer_paths": [["a"], ["b"]]}},
        buffers=[b"\x00\x01\x02\x03binary", b"\xff" * 16])))
    write(h, "interrupt_request_two_idents", join(frames_of(s, "interrupt_request", {}, ident=(b"a", b"\x00\x80\x00\x00\x29"))))
    write(h, "shutdown_request_no_ident", join(frames_of(s, "shutdown_request", {"restart": True}, ident=())))
    write(h, "complete_request_unicode", join(frames_of(s, "complete_request", {"code": "é = 'ü'; é.", "cursor_pos": 12})))
    write(h, "history_request_metadata", join(frames_of(
        s, "history_request", {"output": False, "raw": True, "hist_access_type": "tail", "n": 10},
        metadata={"deletedCells": [], "recordTiming": False, "cellId": "x"})))
    write(h, "execute_request_unsigned", join(frames_of(unsigned, "execute_request", {"code": "1+1"})))
    # broken ones
    bad = list(execute)
    bad[2] = b"0" * 64
    write(h, "bad_signature", join(bad))
    bad = list(execute)
    bad[2] = bad[2][:-1]
    write(h, "short_signature", join(bad))
    write(h, "truncated", join(execute[:5]))
    write(h, "no_delimiter", join(execute[:1] + execute[2:]))
    write(h, "header_not_object", join(frames_of(s, "execute_request", {})[:3] + [b"[]", b"{}", b"{}", b"{}"]))
    hdr = json.loads(execute[3])
    del hdr["session"]
    write(h, "header_no_session", join(execute[:2] + [b"", json.dumps(hdr).encode()] + execute[4:]))
    hdr = json.loads(execute[3])
    hdr["msg_type"] = "execute request!"
    hdr["session"] = "s" * 300
    write(h, "header_bad_type_long_session", join(execute[:2] + [b"", json.dumps(hdr).encode()] + execute[4:]))
    hdr = json.loads(execute[3])
    hdr["version"] = 5.3
    write(h, "header_version_number", join(execute[:2] + [b"", json.dumps(hdr).encode()] + execute[4:]))
    write(h, "content_with_nul_escape", join(execute[:2] + [b""] + execute[3:6] + [b'{"code": "a\\u0000b"}']))
    write(h, "two_delimiters", join([b"<IDS|MSG>"] + execute[1:]))
    # the worker channel (chan_decode reads the same bytes)
    write(h, "chan_execute", chan([b"execute", b"12", b"0/5eed", execute[3], execute[6]]) + chan([b"interrupt", b"0/"]))
    write(h, "chan_reply", chan([b"reply", b"18446744073709551615", b"execute_reply", b'{"status":"ok"}']))
    # the replay guard (16-byte runs of the input as digests, byte 0: capacity)
    runs = [bytes([i % 5 * 16]) + bytes(15) for i in range(12)] + [bytes([0x11] * 16)] * 2
    write(h, "replay_runs", b"\x03" + b"".join(runs))


# fuzz_zmtp: two bytes of settings (byte 0: low nibble the size limit,
# high nibble max_frames; byte 1: how the stream is cut), then what a peer
# sends on one connection. Indices into LIMITS and MAX_FRAMES in fuzz_zmtp.c:
NO_LIMIT, LIMIT_100, LIMIT_1000 = 0, 8, 13
FRAMES_3, FRAMES_16, FRAMES_1024 = 3, 10, 15


def zsettings(limit=NO_LIMIT, frames=FRAMES_1024, cut=0x03):
    return bytes([frames << 4 | limit, cut])


def greeting(major=3, minor=1, mechanism=b"NULL"):
    """What libzmq 4 sends: 0xFF, padding (ending in 1, so that a ZMTP 1.0
    peer reads an empty identity), 0x7F, the version, the mechanism, as-server,
    filler."""
    return b"\xff" + bytes(7) + b"\x01\x7f" + bytes([major, minor]) + mechanism.ljust(20, b"\0") + bytes(32)


def zframe(body, more=False, command=False, long=None):
    flags = (1 if more else 0) | (4 if command else 0)
    if long is None:
        long = len(body) > 255
    size = struct.pack(">Q", len(body)) if long else bytes([len(body)])
    return bytes([flags | (2 if long else 0)]) + size + body


def zcommand(name, data=b""):
    return zframe(bytes([len(name)]) + name + data, command=True)


def zready(socket_type, **props):
    """libzmq sends Identity (maybe empty) from REQ, DEALER and ROUTER."""
    data = b"".join(bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
                    for k, v in [(b"Socket-Type", socket_type)] + [(k.encode(), v) for k, v in props.items()])
    return zcommand(b"READY", data)


def zmessage(frames, long=None):
    return b"".join(zframe(f, more=i + 1 < len(frames), long=long) for i, f in enumerate(frames))


def zmtp():
    h = "fuzz_zmtp"
    s = fixed(Session(key=KEY, username="fuzz"))
    dealer = greeting() + zready(b"DEALER", Identity=b"")
    kernel_info = frames_of(s, "kernel_info_request", {}, ident=())
    execute = frames_of(s, "execute_request", {
        "code": "import asyncio\nawait asyncio.sleep(0.1)\nprint('hi')", "silent": False,
        "store_history": True, "user_expressions": {}, "allow_stdin": True, "stop_on_error": True}, ident=())
    comm = frames_of(s, "comm_msg", {"comm_id": "c0ffee", "data": {"method": "update", "buffer_paths": [["a"], ["b"]]}},
                     ident=(), buffers=[b"\x00\x01\x02\x03binary", bytes(range(256)) * 4])
    big = frames_of(s, "execute_request", {"code": "x = '" + "y" * 1200 + "'", "silent": False}, ident=())
    # what jupyter_client's DEALER sockets send (shell, control, stdin)
    write(h, "dealer_messages", zsettings() + dealer + zmessage(kernel_info) + zmessage(execute) + zmessage(comm))
    write(h, "dealer_identity_ping", zsettings(cut=0x11) + greeting() + zready(b"DEALER", Identity=b"notebook-1") +
          zcommand(b"PING", b"\x00\x0aping-context") + zmessage(kernel_info))
    write(h, "dealer_pieces_1", zsettings(cut=0x00) + dealer + zmessage(execute))
    # limits: frames past 1000 bytes arrive empty; frames past max_frames are dropped
    write(h, "over_size_limit", zsettings(limit=LIMIT_1000, cut=0x22) + dealer + zmessage(big) + zmessage(kernel_info))
    write(h, "over_small_limit", zsettings(limit=LIMIT_100, frames=FRAMES_16, cut=0x02) + dealer + zmessage(execute))
    write(h, "too_many_frames", zsettings(frames=FRAMES_3) + dealer + zmessage([b"a", b"b", b"", b"d", b"e", b"f"]) +
          zmessage([b"one"]))
    # signed and within the limit but for its buffers: jmsg_parse says JMSG_TOO_LARGE
    write(h, "buffers_past_limit", zsettings(limit=LIMIT_1000, frames=FRAMES_16, cut=0x07) + dealer + zmessage(comm))
    # iopub's SUB clients: subscriptions as messages (ZMTP 3.0) or commands (3.1)
    write(h, "sub_subscribe", zsettings(cut=0x05) + greeting(minor=0) + zready(b"SUB") + zmessage([b"\x01"]) +
          zmessage([b"\x01kernel.abc.status"]) + zcommand(b"SUBSCRIBE", b"kernel.") + zcommand(b"CANCEL", b"kernel.") +
          zmessage([b"\x00"]))
    # the heartbeat's REQ: an empty delimiter frame, then the ping
    write(h, "req_heartbeat", zsettings(cut=0x01) + greeting() + zready(b"REQ", Identity=b"") +
          zmessage([b"", b"ping"]) * 3)
    write(h, "long_frames_zmtp30", zsettings(cut=0x13) + greeting(minor=0) + zready(b"DEALER") +
          zmessage(kernel_info, long=True) + zmessage([b""]))
    write(h, "ready_lowercase_props", zsettings() + greeting() +
          zcommand(b"READY", b"\x0bsocket-type\x00\x00\x00\x06DEALER\x08identity\x00\x00\x00\x02id\x01X\x00\x00\x00\x00") +
          zmessage(kernel_info))
    write(h, "greeting_only", zsettings() + greeting())
    write(h, "truncated_message", zsettings() + dealer + zmessage(execute)[:-7])
    write(h, "empty", zsettings())
    # refused streams
    write(h, "not_zmtp", zsettings() + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    write(h, "zmtp10", zsettings() + b"\xff" + bytes(7) + b"\x0b\x00" + b"identity-1")
    write(h, "zmtp20", zsettings() + greeting(major=2, minor=0))
    write(h, "curve", zsettings() + greeting(mechanism=b"CURVE") + zcommand(b"HELLO", bytes(194)))
    write(h, "message_before_ready", zsettings() + greeting() + zmessage(kernel_info))
    write(h, "command_before_ready", zsettings() + greeting() + zcommand(b"PING", b"\x00\x00") + zready(b"DEALER"))
    write(h, "second_ready", zsettings() + dealer + zready(b"DEALER"))
    write(h, "ready_no_socket_type", zsettings() + greeting() + zready(b""))
    write(h, "ready_bad_props", zsettings() + greeting() + zcommand(b"READY", b"\x0bSocket-Type\x00\x00\x01\x00DEALER"))
    # refused as soon as its size is read (a large seed would raise libFuzzer's -max_len)
    write(h, "command_too_large", zsettings() + dealer + b"\x06" + struct.pack(">Q", 65537) + b"\x04PING")
    write(h, "command_in_message", zsettings() + dealer + zframe(b"a", more=True) + zcommand(b"PING", b"\x00\x00"))
    write(h, "reserved_flags", zsettings() + dealer + b"\x08\x01a")
    write(h, "command_no_name", zsettings() + dealer + zframe(b"", command=True))


def connfile():
    h = "fuzz_connfile"
    with tempfile.TemporaryDirectory() as tmp:
        for name, kw in {
            "tcp": dict(ip="127.0.0.1", key=KEY, kernel_name="akernel-service"),
            "tcp_ports": dict(ip="127.0.0.1", key=KEY, shell_port=53794, iopub_port=53795, stdin_port=53796,
                              control_port=53797, hb_port=53798, kernel_name="akernel"),
            "ipc": dict(transport="ipc", ip=os.path.join("/tmp", "akg-kernel"), key=KEY),
            "unsigned": dict(ip="0.0.0.0", key=b""),
        }.items():
            path = os.path.join(tmp, name + ".json")
            write_connection_file(path, **kw)
            with open(path, "rb") as f:
                write(h, name, f.read())
    good = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5,
            "ip": "::1", "key": "k", "transport": "tcp", "signature_scheme": "hmac-sha256", "kernel_name": ""}
    write(h, "minimal", "{}")
    write(h, "ipv6", json.dumps(good))
    for name, change in {
        "port_too_large": {"hb_port": 65536},
        "port_negative": {"shell_port": -1},
        "port_string": {"shell_port": "5555"},
        "port_float": {"iopub_port": 5555.0},
        "key_number": {"key": 42},
        "transport_udp": {"transport": "udp"},
        "ip_too_long": {"ip": "a" * 300},
        "ip_longest": {"ip": "b" * 255, "transport": "ipc"},
        "scheme_md5": {"signature_scheme": "hmac-md5"},
        "scheme_md5_unsigned": {"signature_scheme": "hmac-md5", "key": ""},
        "kernel_name_long": {"kernel_name": "k" * 200},
        "unicode": {"ip": "höst", "kernel_name": "ядро"},
    }.items():
        write(h, name, json.dumps({**good, **change}))
    write(h, "array", "[1, 2, 3]")
    write(h, "invalid_json", '{"ip": "127.0.0.1", "key": ')
    write(h, "duplicate_keys", '{"key": "a", "key": "b", "transport": "ipc"}')
    write(h, "nul_escape", '{"key": "a\\u0000b"}')
    write(h, "empty", "")


def config():
    h = "fuzz_config"
    with open(os.path.join(ROOT, "config", "gateway.conf"), "rb") as f:
        shipped = f.read()
    write(h, "gateway.conf", shipped)
    write(h, "gateway.conf_uncommented", b"\n".join(
        line[2:] if line.startswith(b"# ") and b" = " in line else line for line in shipped.split(b"\n")))
    write(h, "all_settings", """[gateway]
mode = concurrent-react
workers = 8
max-workers = 64
isolate = yes
preload = numpy,pandas
log-level = debug
worker-queue-limit = 512K
max-message-size = 64MiB
socket = /run/akernel-gateway/gateway.sock
worker-memory = 4G
cull-idle = 3600
max-frontends = 1000
max-sessions = 10000
""")
    write(h, "no_section_underscores", "worker_memory = 2GB\nmax_workers=4\nisolate=off\nlog_level=WARNING\n")
    write(h, "mode_default", "mode = default\n; a comment\n# another\n")
    write(h, "bad_section", "[server]\nworkers = 2\n")
    write(h, "no_value", "[gateway]\nisolate\n")
    write(h, "bad_number", "workers = 0\n")
    write(h, "number_overflow", "cull-idle = 99999999999999999999\n")
    write(h, "bad_size", "worker-memory = 4X\n")
    write(h, "size_overflow", "worker-memory = 99999999999T\n")
    write(h, "negative_size", "worker-queue-limit = -1\n")
    write(h, "bad_bool", "isolate = maybe\n")
    write(h, "bad_mode", "mode = multi--fast\n")
    write(h, "unknown_option", "colour = blue\n")
    write(h, "preload_too_long", "preload = " + ",".join(["module%d" % i for i in range(200)]) + "\n")
    write(h, "continuation", "[gateway]\npreload = numpy\n  pandas\n")
    write(h, "not_a_line", "[gateway]\njust some words\n")
    write(h, "crlf_bom", b"\xef\xbb\xbf[gateway]\r\nworkers = 2\r\n")
    write(h, "empty", "")


def control():
    h = "fuzz_control"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernel.json")
        write_connection_file(path, ip="127.0.0.1", key=KEY, shell_port=53794, iopub_port=53795,
                              stdin_port=53796, control_port=53797, hb_port=53798, kernel_name="akernel-service")
        with open(path) as f:
            connection = json.load(f)

    def line(obj):
        return json.dumps(obj, separators=(",", ":")) + "\n"

    # The first byte is fuzz_control's situation flags ('0': none, '1': the
    # service is full, '2': the client leaves its replies unread, '4': the
    # service runs as another user). Inputs that crash because of a known
    # bug are not seeds: they are under tests/fuzz/regressions/.
    # what `akernel-gateway attach` sends (gateway/client.c attach_main)
    attach = line({"command": "attach", "connection": connection, "mode": ""})
    write(h, "attach", "0" + attach)
    write(h, "attach_mode", "0" + line({"command": "attach", "connection": connection, "mode": "concurrent-multi"}))
    write(h, "attach_interrupt", "0" + attach + line({"command": "interrupt"}))
    write(h, "attach_shutdown", "0" + attach + line({"command": "shutdown"}))
    write(h, "attach_twice", "0" + attach + attach)
    write(h, "attach_full", "1" + attach)
    write(h, "attach_other_user", "4" + attach)
    write(h, "attach_interrupt_unread", "2" + attach + line({"command": "interrupt"}))
    ipc = dict(connection, transport="ipc", ip="/tmp/akg-fuzz-kernel")
    for k in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
        ipc[k] = 0
    write(h, "attach_ipc", "0" + line({"command": "attach", "connection": ipc}))
    write(h, "attach_empty_ip", "0" + line({"command": "attach", "connection": dict(connection, ip="")}))
    write(h, "interrupt_alone", "0" + line({"command": "interrupt"}))
    write(h, "shutdown_alone", "0" + line({"command": "shutdown"}))
    write(h, "bad_mode", "0" + line({"command": "attach", "connection": connection, "mode": "fast"}))
    write(h, "mode_number", "0" + line({"command": "attach", "connection": connection, "mode": 3}))
    write(h, "no_connection", "0" + line({"command": "attach"}))
    write(h, "bad_connection", "0" + line({"command": "attach", "connection": dict(connection, hb_port=70000)}))
    write(h, "unknown_command", "0" + line({"command": "restart"}))
    write(h, "not_json", "0attach please\n")
    write(h, "array", "0[\"attach\"]\n")
    write(h, "no_newline", '0{"command":"interrupt"}')
    write(h, "empty_lines", "0\n\n\n")


if __name__ == "__main__":
    jmsg()
    zmtp()
    connfile()
    config()
    control()
    for d in sorted(os.listdir(CORPUS)):
        print(d, len(os.listdir(os.path.join(CORPUS, d))), "seeds", file=sys.stderr)
