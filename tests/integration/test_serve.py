"""The team-server service: `serve`, notebooks attached with the
akernel-service kernelspec, per-notebook isolation, signals to attach
processes, users, limits, status, config errors, systemd integration."""

import json
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from conftest import GATEWAY, pid_alive, wait_for
from kernel_client import Client, Kernel


class Service:
    """`akernel-gateway serve` on a private socket, with an attach kernelspec."""

    def __init__(self, *args, env=None, launcher=None, owner=None):
        self.dir = tempfile.mkdtemp(prefix="akg-serve-")
        os.chmod(self.dir, 0o755)
        if owner is not None:  # a service run as that user
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.socket = os.path.join(self.dir, "gateway.sock")
        command = [str(GATEWAY), "serve", "--socket", self.socket, *args]
        self.log = open(os.path.join(self.dir, "serve.log"), "w+")
        self.proc = subprocess.Popen((launcher or []) + command, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **(env or {})))
        wait_for(lambda: os.path.exists(self.socket) or self.proc.poll() is not None, what="the service")
        assert self.proc.poll() is None, self.logs()
        prefix = os.path.join(self.dir, "specs")
        subprocess.run([str(GATEWAY), "install", "--attach", "--socket", self.socket, "--prefix", prefix],
                       check=True, stdout=subprocess.DEVNULL)
        self.kernel_name = "akernel-service"
        self.notebooks = []

    def logs(self):
        self.log.seek(0)
        return self.log.read()

    def notebook(self) -> Kernel:
        """A notebook as JupyterLab starts one: the kernelspec runs attach."""
        old = os.environ["JUPYTER_PATH"]
        os.environ["JUPYTER_PATH"] = os.path.join(self.dir, "specs", "share", "jupyter")
        try:
            k = Kernel(self.kernel_name)
        finally:
            os.environ["JUPYTER_PATH"] = old
        self.notebooks.append(k)
        return k

    def status(self):
        out = subprocess.run([str(GATEWAY), "status", "--socket", self.socket, "--json"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
        return json.loads(out)

    def stop(self):
        for k in self.notebooks:
            k.stop()
        self.proc.send_signal(signal.SIGTERM)
        try:
            assert self.proc.wait(timeout=15) == 0, self.logs()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def service(request):
    marker = request.node.get_closest_marker("args")
    s = Service(*(marker.args if marker else ("--workers", "2")))
    yield s
    s.stop()


def test_notebooks_have_their_own_namespaces(service):
    a, b = service.notebook(), service.notebook()
    a.run("x = 'a'")
    b.run("x = 'b'")
    assert a.result("x") == "'a'" and b.result("x") == "'b'"
    status = service.status()
    assert len(status["frontends"]) == 2
    assert all(isinstance(w["pid"], int) and w["pid"] > 0 for w in status["workers"])


def test_sigint_to_attach_interrupts_only_its_cells(service, tmp_path):
    a, b = service.notebook(), service.notebook()
    gate = tmp_path / "gate"
    ca = a.submit("print('started')\nawait asyncio.sleep(60)")
    cb = b.submit(f"import os\nprint('started')\nwhile not os.path.exists({str(gate)!r}):\n"
                  "    await asyncio.sleep(0.01)\nprint('b done')")
    for k, c in ((a, ca), (b, cb)):
        k.wait_iopub(c, lambda m: m["msg_type"] == "stream" and "started" in m["content"]["text"])
    os.kill(a.pid, signal.SIGINT)  # a's attach process
    assert a.finish(ca)[0]["ename"] == "KeyboardInterrupt"
    gate.touch()
    assert b.finish(cb)[0]["status"] == "ok" and "b done" in b.stdout(cb)


def test_killing_attach_frees_its_frontend(service):
    a, b = service.notebook(), service.notebook()
    a.run("pass")
    b.run("pass")
    os.kill(a.pid, signal.SIGKILL)
    wait_for(lambda: len(service.status()["frontends"]) == 1, what="the frontend to be dropped")
    assert b.result("1 + 1") == "2"


def test_shutdown_of_a_kernel_frees_its_frontend_and_attach_exits(service):
    a = service.notebook()
    a.run("pass")
    process = a.km.provisioner.process
    a.km.shutdown_kernel(now=False)
    assert process.wait(timeout=10) == 0  # attach exited by itself, cleanly
    wait_for(lambda: not pid_alive(a.pid), what="the attach process to exit")
    wait_for(lambda: service.status()["frontends"] == [], what="the frontend to be dropped")


def test_restart_resets_only_that_notebook(service):
    a, b = service.notebook(), service.notebook()
    a.run("x = 1")
    b.run("x = 2")
    a.km.restart_kernel(now=False)
    a.kc.wait_for_ready(timeout=30)
    a.pid = a.km.provisioner.process.pid
    assert a.execute("x")[0]["ename"] == "NameError"
    assert b.result("x") == "2"


def test_a_session_id_of_another_frontend_never_reaches_its_namespace(service):
    a, b = service.notebook(), service.notebook()
    b.run("x = 'safe'")
    # a signs with its own key but claims b's session id
    forged = a.kc.session.msg("execute_request", {"code": "x = 'hacked'", "silent": False,
                                                  "store_history": True, "user_expressions": {},
                                                  "allow_stdin": False, "stop_on_error": True})
    forged["header"]["session"] = b.session_id
    a.kc.shell_channel.send(forged)
    reply = a.wait_reply(forged["header"]["msg_id"])
    assert reply["content"]["status"] == "ok"
    assert b.result("x") == "'safe'"


@pytest.mark.args("--workers", "1", "--max-frontends", "1")
def test_max_frontends_is_a_clear_error(service, tmp_path):
    service.notebook()
    conn = tmp_path / "conn.json"
    write_connection_file(str(conn), ip="127.0.0.1", key=b"k")
    proc = subprocess.run([str(GATEWAY), "attach", "--socket", service.socket, "-f", str(conn)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "--max-frontends 1" in proc.stderr


@pytest.mark.args("--workers", "1", "--cull-idle", "1")
def test_idle_frontends_are_culled(service):
    a = service.notebook()
    a.run("pass")
    wait_for(lambda: not pid_alive(a.pid), timeout=20, what="the idle notebook's attach to exit")
    assert service.status()["frontends"] == []


@pytest.mark.skipif(os.environ.get("AKG_SANITIZED") == "1",
                    reason="ASan reserves terabytes of address space: an address-space limit cannot apply")
@pytest.mark.args("--workers", "1", "--worker-memory", "400M")
def test_worker_memory_limit_is_a_clear_error(service):
    a = service.notebook()
    reply, _ = a.execute("big = bytearray(1_000_000_000)")
    assert reply["status"] == "error" and reply["ename"] == "MemoryError"
    assert a.result("'still usable'") == "'still usable'"


def test_bad_config_line_names_file_and_line(tmp_path):
    conf = tmp_path / "gateway.conf"
    conf.write_text("[gateway]\nworkers = 2\nwrokers = 3\n")
    proc = subprocess.run([str(GATEWAY), "serve", "--config", str(conf), "--socket", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert f"{conf}:3: unknown option \"wrokers\"" in proc.stderr
    conf.write_text("workers = many\n")
    proc = subprocess.run([str(GATEWAY), "serve", "--config", str(conf)], capture_output=True, text=True, timeout=30)
    assert f"{conf}:1: workers needs a whole number" in proc.stderr


def test_config_file_and_command_line(tmp_path):
    conf = tmp_path / "gateway.conf"
    conf.write_text("# settings\n[gateway]\nworkers = 3\nmode = concurrent\n")
    s = Service("--config", str(conf))
    try:
        status = s.status()
        assert len(status["workers"]) == 3 and status["mode"] == "multi-concurrent"
    finally:
        s.stop()
    s = Service("--config", str(conf), "--workers", "1")  # the command line overrides
    try:
        assert len(s.status()["workers"]) == 1
    finally:
        s.stop()


def test_sd_notify_ready(tmp_path):
    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(30)
    s = Service("--workers", "1", env={"NOTIFY_SOCKET": path})
    try:
        messages = []
        while not any("READY=1" in m for m in messages):
            messages.append(listener.recv(4096).decode())
        ready = next(m for m in messages if "READY=1" in m)
        assert "STATUS=" in ready and f"MAINPID={s.proc.pid}" in ready
    finally:
        s.stop()
        listener.close()


def test_socket_activation(tmp_path):
    sock = str(tmp_path / "activated.sock")
    proc = subprocess.Popen(["systemd-socket-activate", "-l", sock, str(GATEWAY), "serve", "--workers", "1",
                             "--socket", str(tmp_path / "unused.sock")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: os.path.exists(sock), what="systemd-socket-activate to listen")
        out = subprocess.run([str(GATEWAY), "status", "--socket", sock, "--json"], capture_output=True,
                             text=True, timeout=30)  # the first connection starts the service
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["mode"] == "multi"
        assert not os.path.exists(tmp_path / "unused.sock")  # it used the socket it was given
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# -- users ------------------------------------------------------------------------------------

USERS = ("akgtest_a", "akgtest_b")


@pytest.fixture
def two_users():
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to create throwaway users")
    for name in USERS:
        subprocess.run(["userdel", "-r", name], capture_output=True)
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    try:
        yield [pwd.getpwnam(name) for name in USERS]
    finally:
        for name in USERS:
            subprocess.run(["userdel", "-r", name], capture_output=True)


@pytest.fixture
def shared_dir():
    """A directory every user can reach (pytest's tmp_path is root's alone)."""
    path = tempfile.mkdtemp(prefix="akg-users-")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def attach_as(service, user, tmp_path):
    """Attach a notebook as `user` (the attach process runs as that user,
    as JupyterHub's single-user servers would start it)."""
    conn = tmp_path / f"{user.pw_name}.json"
    write_connection_file(str(conn), ip="127.0.0.1", key=os.urandom(16).hex().encode())
    os.chown(conn, user.pw_uid, user.pw_gid)
    proc = subprocess.Popen(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
                             str(GATEWAY), "attach", "--socket", service.socket, "-f", str(conn)])
    kc = BlockingKernelClient(connection_file=str(conn))
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=30)
    return proc, Client(kc)


def test_each_users_cells_run_as_that_user(two_users, shared_dir):
    tmp_path = shared_dir
    service = Service("--workers", "1")
    procs, clients = [], []
    try:
        for user in two_users:
            proc, client = attach_as(service, user, tmp_path)
            procs.append(proc)
            clients.append(client)
        a, b = clients
        ua, ub = two_users
        assert a.result("import os; os.getuid()") == str(ua.pw_uid)
        assert b.result("import os; os.getuid()") == str(ub.pw_uid)
        assert a.result("os.path.expanduser('~')") == repr(ua.pw_dir)
        secret = os.path.join(ua.pw_dir, "secret.txt")
        a.run(f"with open({secret!r}, 'w') as f: f.write('only a')\nos.chmod({secret!r}, 0o600)")
        assert a.result(f"open({secret!r}).read()") == "'only a'"
        reply, _ = b.execute(f"open({secret!r}).read()")
        assert reply["status"] == "error" and reply["ename"] == "PermissionError"
        assert b.result("import os; os.setuid(0) if False else os.geteuid()") == str(ub.pw_uid)
        users = {w["user"] for w in service.status()["workers"]}
        assert {ua.pw_name, ub.pw_name} <= users
    finally:
        for c in clients:
            c.close()
        for p in procs:
            p.terminate()
            p.wait(timeout=15)
        service.stop()


def test_a_user_service_accepts_only_that_user(two_users, shared_dir):
    tmp_path = shared_dir
    ua, ub = two_users
    service = Service("--workers", "1", launcher=["setpriv", f"--reuid={ua.pw_uid}", f"--regid={ua.pw_gid}",
                                                  "--init-groups"], env={"HOME": ua.pw_dir}, owner=ua)
    try:
        os.chmod(service.socket, 0o666)  # let b reach it at all
        conn = tmp_path / "b.json"
        write_connection_file(str(conn), ip="127.0.0.1", key=b"k")
        os.chown(conn, ub.pw_uid, ub.pw_gid)
        proc = subprocess.run(["setpriv", f"--reuid={ub.pw_uid}", f"--regid={ub.pw_gid}", "--init-groups",
                               str(GATEWAY), "attach", "--socket", service.socket, "-f", str(conn)],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 1 and "accepts only that user's notebooks" in proc.stderr
    finally:
        service.stop()


def test_logs_go_to_the_journal_under_systemd(tmp_path):
    """With stderr connected to journald (JOURNAL_STREAM names it), lines
    carry their syslog priority for the journal, and no timestamp."""
    read_end, write_end = os.pipe()
    st = os.fstat(write_end)
    proc = subprocess.Popen([str(GATEWAY), "serve", "--socket", str(tmp_path / "s"), "--workers", "1"],
                            stderr=write_end, env=dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}"))
    os.close(write_end)
    try:
        with os.fdopen(read_end) as log:
            first = log.readline()
            assert first.startswith("<6>akernel-gateway[") and " INFO serving " in first
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


@pytest.mark.args("--isolate", "--max-workers", "4")
def test_isolated_worker_is_retired_when_its_notebook_goes(service):
    a, b = service.notebook(), service.notebook()
    wa, wb = a.worker_pid(), b.worker_pid()
    assert wa != wb
    os.kill(a.pid, signal.SIGKILL)  # a's notebook goes away
    wait_for(lambda: not pid_alive(wa), what="a's worker to be retired")
    assert pid_alive(wb) and b.result("'b keeps its worker'") == "'b keeps its worker'"
    assert [w["pid"] for w in service.status()["workers"]] == [wb]


def test_status_connection_is_closed_after_the_reply(service):
    """The service closes a status connection once its reply is out (it must
    not keep polling a connection it is done with)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(service.socket)
    s.sendall(b'{"command": "status"}\n')
    data = b""
    while True:
        chunk = s.recv(65536)  # times out (fails) if the service keeps it open
        if not chunk:
            break
        data += chunk
    s.close()
    assert json.loads(data)["status"] == "ok"


def test_a_notebooks_shutdown_never_stops_the_service(service):
    a, b = service.notebook(), service.notebook()
    a.run("pass")
    a.km.shutdown_kernel(now=False)
    wait_for(lambda: service.status()["frontends"] and len(service.status()["frontends"]) == 1,
             what="a's frontend to go")
    assert service.proc.poll() is None
    assert b.result("'b is served'") == "'b is served'"


def test_an_attach_connection_closed_by_the_service_drops_its_frontend(service, tmp_path):
    """Whatever closes an attach connection (here a line over the limit),
    its frontend goes with it: no ports bound, no slot taken, forever."""
    conn = tmp_path / "conn.json"
    write_connection_file(str(conn), ip="127.0.0.1", key=b"k")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(service.socket)
    s.sendall(json.dumps({"command": "attach", "connection": json.load(open(conn))}).encode() + b"\n")
    assert b'"ok"' in s.recv(4096)
    assert len(service.status()["frontends"]) == 1
    s.sendall(b"x" * (300 << 10))  # no newline: over the line limit
    while s.recv(65536):  # the service answers, then closes
        pass
    s.close()
    wait_for(lambda: service.status()["frontends"] == [], what="the frontend to be dropped")


def test_watchdog_pings_when_systemd_asks(tmp_path):
    """With WatchdogSec set, systemd passes WATCHDOG_USEC: the service sends
    WATCHDOG=1 (twice per period) on the notify socket."""
    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(30)
    s = Service("--workers", "1", env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    try:
        pings = 0
        while pings < 3:  # several, so they are periodic, not a one-off
            pings += "WATCHDOG=1" in listener.recv(4096).decode()
    finally:
        s.stop()
        listener.close()
