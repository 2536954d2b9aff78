"""Fixtures for the end-to-end suite: the real akernel-gateway binary,
started through kernelspecs written by `akernel-gateway install`, driven by
jupyter_client as a frontend would. AKG_BUILD_DIR selects the build (the
plain one by default; tests/run.sh also runs the suite on the ASan build)."""

import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("AKG_BUILD_DIR", ROOT / "build")).resolve()
GATEWAY = BUILD / "akernel-gateway"
MODES = ["", "concurrent", "multi", "multi-concurrent", "react", "multi-react", "react-concurrent", "cache",
         "cache-multi", "cache-react", "cache-concurrent"]

_specs = tempfile.mkdtemp(prefix="akg-kernelspecs-")
os.environ["JUPYTER_PATH"] = os.path.join(_specs, "share", "jupyter")
os.environ.setdefault("JUPYTER_RUNTIME_DIR", os.path.join(_specs, "runtime"))


def pytest_sessionstart(session):
    if not GATEWAY.exists():
        raise pytest.UsageError(f"{GATEWAY} is missing: build first (make build)")
    for mode in MODES:
        subprocess.run([str(GATEWAY), "install", *([mode] if mode else []), "--prefix", _specs],
                       check=True, stdout=subprocess.DEVNULL)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_specs, ignore_errors=True)


def kernel_name(mode: str = "") -> str:
    return "akernel" + (f"-{mode}" if mode else "")


def wait_for(predicate, timeout=10.0, interval=0.01, what="condition"):
    """Poll `predicate` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def worker_pids(router_pid: int):
    """Worker pids: the children of the zygote, the router's child."""
    def children(pid):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []
    return [w for z in children(router_pid) for w in children(z)]


from kernel_client import Kernel  # noqa: E402  (needs the environment above)


@pytest.fixture
def kernel(request):
    """A started kernel in the mode given by @pytest.mark.mode("..."), with
    extra command-line options from @pytest.mark.args(...)."""
    mode = request.node.get_closest_marker("mode")
    args = request.node.get_closest_marker("args")
    k = Kernel(kernel_name(mode.args[0] if mode else ""), extra_args=args.args if args else ())
    yield k
    k.stop()


def pytest_configure(config):
    config.addinivalue_line("markers", "mode(name): run the kernel fixture in this akernel mode")
    config.addinivalue_line("markers", "args(*options): extra akernel-gateway launch options")
