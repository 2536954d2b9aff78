"""Start, shutdown, restart and signals: the router exits cleanly, reaps its
workers, and no worker outlives it, even when it is SIGKILLed."""

import json
import os
import signal
import subprocess

from conftest import GATEWAY, pid_alive, wait_for


def test_shutdown_exits_cleanly_and_reaps_workers(kernel):
    worker = kernel.worker_pid()
    kernel.kc.stop_channels()
    kernel.km.request_shutdown()
    wait_for(lambda: kernel.km.provisioner.process.poll() is not None, what="router exit")
    assert kernel.km.provisioner.process.returncode == 0
    wait_for(lambda: not pid_alive(worker), what="worker exit")


def test_shutdown_reply_on_control_and_iopub(kernel):
    msg_id = kernel.kc.shutdown()
    reply = kernel.kc.get_control_msg(timeout=10)
    assert reply["msg_type"] == "shutdown_reply" and reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"] == {"status": "ok", "restart": False}
    wait_for(lambda: kernel.km.provisioner.process.poll() is not None, what="router exit")
    published = kernel.wait_iopub(msg_id, lambda m: m["msg_type"] == "shutdown_reply")
    assert published["content"] == {"status": "ok", "restart": False}


def test_restart_gives_a_fresh_namespace(kernel):
    kernel.run("secret = 42")
    old_worker = kernel.worker_pid()
    kernel.km.restart_kernel(now=False)
    kernel.kc.wait_for_ready(timeout=30)
    kernel.pid = kernel.km.provisioner.process.pid
    reply, outs = kernel.execute("secret")
    assert reply["status"] == "error" and reply["ename"] == "NameError"
    wait_for(lambda: not pid_alive(old_worker), what="old worker exit")


def test_sigkill_of_router_takes_workers_down(kernel):
    worker = kernel.worker_pid()
    os.kill(kernel.pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(worker), what="worker death after router SIGKILL")


def test_sigterm_stops_the_router(kernel):
    worker = kernel.worker_pid()
    os.kill(kernel.pid, signal.SIGTERM)
    wait_for(lambda: kernel.km.provisioner.process.poll() is not None, what="router exit")
    assert kernel.km.provisioner.process.returncode == 0
    wait_for(lambda: not pid_alive(worker), what="worker exit")


def test_worker_crash_is_reported_and_replaced(kernel):
    kernel.run("x = 1")
    msg_id = kernel.submit("import ctypes\nctypes.string_at(0)")  # segfault
    reply, outs = kernel.finish(msg_id)
    assert reply["status"] == "error" and reply["ename"] == "WorkerDied"
    assert "signal 11" in reply["evalue"]
    assert [m["msg_type"] for m in outs] == ["error"]
    reply, _ = kernel.execute("x")  # a fresh worker: the state is gone
    assert reply["ename"] == "NameError"
    assert kernel.result("1 + 1") == "2"


def test_launch_without_connection_file(tmp_path):
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    proc = subprocess.Popen([str(GATEWAY), "launch"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert "akernel-gateway" in first and "jupyter console --existing" in second
        path = second.split("--existing", 1)[1].strip()
        assert os.stat(path).st_mode & 0o777 == 0o600
        info = json.load(open(path))
        assert info["key"] and all(info[f"{c}_port"] for c in ("shell", "iopub", "stdin", "control", "hb"))
        from jupyter_client import BlockingKernelClient

        kc = BlockingKernelClient(connection_file=path)
        kc.load_connection_file()
        kc.start_channels()
        kc.wait_for_ready(timeout=30)
        reply = kc.execute_interactive("1 + 1", timeout=30)
        assert reply["content"]["status"] == "ok"
        kc.shutdown()
        kc.stop_channels()
        assert proc.wait(timeout=10) == 0
        assert not os.path.exists(path)  # it removes the file it wrote
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_connection_file_is_reported(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"shell_port": "not a port"}')
    proc = subprocess.run([str(GATEWAY), "launch", "-f", str(bad)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0
    assert "shell_port" in proc.stderr


def test_unknown_mode_is_refused():
    proc = subprocess.run([str(GATEWAY), "launch", "fast"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and 'unknown mode "fast"' in proc.stderr
