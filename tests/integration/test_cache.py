"""cache mode: a cell run before with the same code and inputs is not run
again; a side effect (a counter file) proves it, while its names, result
and output come back as if it ran."""

import os
import signal
import subprocess
import tempfile

import pytest

from conftest import GATEWAY, kernel_name, wait_for, worker_pids
from kernel_client import Kernel


@pytest.fixture
def cache_dir():
    with tempfile.TemporaryDirectory(prefix="akg-cache-") as d:
        yield d


@pytest.fixture
def make_kernel(cache_dir):
    kernels = []

    def make(mode="cache", *args):
        kernels.append(Kernel(kernel_name(mode), extra_env={"AKERNEL_GATEWAY_CACHE_DIR": cache_dir},
                              extra_args=args))
        return kernels[-1]

    yield make
    for k in kernels:
        k.stop()


def counted(counter, body):
    """A cell that appends to the counter file each time it really runs."""
    return f"open({counter!r}, 'a').write('x')\n{body}"


def runs(counter):
    return open(counter).read().count("x") if os.path.exists(counter) else 0


def outputs_of(kernel, code):
    msg_id = kernel.submit(code)
    reply, outs = kernel.finish(msg_id)
    assert reply["status"] == "ok", reply
    return reply, [(m["msg_type"], m["content"].get("text") or m["content"].get("data")) for m in outs]


def test_second_identical_run_comes_from_the_cache(make_kernel, cache_dir):
    k = make_kernel()
    counter = os.path.join(cache_dir, "count")
    k.run("a = 20")
    code = counted(counter, "b = a + 1\nprint('b is', b)\nb * 2")
    first_reply, first = outputs_of(k, code)
    k.run("del b")
    second_reply, second = outputs_of(k, code)
    assert runs(counter) == 1  # not run again
    assert second == first == [("stream", "b is 21\n"), ("execute_result", {"text/plain": "42"})]
    assert second_reply["execution_count"] == first_reply["execution_count"] + 2
    assert k.result("_") == "42"  # its names came back, and its result as `_`
    assert k.result("b") == "21"


def test_fd_level_output_is_replayed(make_kernel, cache_dir):
    k = make_kernel()
    counter = os.path.join(cache_dir, "count")
    code = counted(counter, "__import__('os').write(1, b'from fd\\n');")
    assert outputs_of(k, code)[1] == [("stream", "from fd\n")]
    assert outputs_of(k, code)[1] == [("stream", "from fd\n")]
    assert runs(counter) == 1


def test_comments_and_whitespace_do_not_matter(make_kernel, cache_dir):
    k = make_kernel()
    counter = os.path.join(cache_dir, "count")
    outputs_of(k, counted(counter, "x = 1 + 1"))
    outputs_of(k, counted(counter, "x  =  1+1   # same code\n\n"))
    assert runs(counter) == 1


def test_a_changed_input_reruns(make_kernel, cache_dir):
    k = make_kernel()
    counter = os.path.join(cache_dir, "count")
    code = counted(counter, "y = a * 2\ny")
    k.run("a = 1")
    assert outputs_of(k, code)[1][-1] == ("execute_result", {"text/plain": "2"})
    k.run("a = 2")
    assert outputs_of(k, code)[1][-1] == ("execute_result", {"text/plain": "4"})
    assert runs(counter) == 2
    k.run("a = 1")
    assert outputs_of(k, code)[1][-1] == ("execute_result", {"text/plain": "2"})
    assert runs(counter) == 2  # a = 1 again: cached


def test_a_function_counts_by_its_code_not_its_name(make_kernel, cache_dir):
    k = make_kernel()
    counter = os.path.join(cache_dir, "count")
    code = counted(counter, "f(3)")
    k.run("def f(x):\n    return x + 1")
    assert outputs_of(k, code)[1][-1] == ("execute_result", {"text/plain": "4"})
    k.run("def f(x):\n    return x * 10")
    assert outputs_of(k, code)[1][-1] == ("execute_result", {"text/plain": "30"})
    k.run("scale = 2\ndef f(x):\n    return x * scale")
    assert outputs_of(k, code)[1][-1] == ("execute_result", {"text/plain": "6"})
    k.run("scale = 5")  # a global the function reads changed
    assert outputs_of(k, code)[1][-1] == ("execute_result", {"text/plain": "15"})
    assert runs(counter) == 4


def test_a_cell_with_an_import_always_runs(make_kernel, cache_dir):
    k = make_kernel()
    counter = os.path.join(cache_dir, "count")
    code = counted(counter, "import math\nmath.floor(2.5)")
    outputs_of(k, code)
    outputs_of(k, code)
    assert runs(counter) == 2


def test_an_unpicklable_input_runs_and_says_why(make_kernel, cache_dir):
    k = make_kernel()
    counter = os.path.join(cache_dir, "count")
    k.run("gen = (i for i in range(3))")
    _, outs = outputs_of(k, counted(counter, "n = len(str(gen))"))
    notes = [text for kind, text in outs if kind == "stream"]
    assert len(notes) == 1 and "runs without the cache: `gen` cannot be pickled" in notes[0]
    outputs_of(k, counted(counter, "n = len(str(gen))"))
    assert runs(counter) == 2


def test_the_cache_survives_a_kernel_restart(make_kernel, cache_dir):
    counter = os.path.join(cache_dir, "count")
    code = counted(counter, "total = sum(range(100))\ntotal")
    first = make_kernel()
    outputs_of(first, code)
    first.stop()
    second = make_kernel()
    assert outputs_of(second, code)[1] == [("execute_result", {"text/plain": "4950"})]
    assert runs(counter) == 1
    assert second.result("total") == "4950"


def test_the_cache_is_shared_by_two_workers_at_once(make_kernel, cache_dir):
    k = make_kernel("cache-multi", "--workers", "2")
    a, b = k, k.new_client()
    assert a.worker_pid() != b.worker_pid()
    counter = os.path.join(cache_dir, "count")
    cells = {c: [counted(counter, f"{name}{i} = {i} ** 2\n{name}{i}") for i in range(20)]
             for c, name in ((a, "v"), (b, "w"))}
    ids = [(c, c.submit(code)) for pair in zip(cells[a], cells[b]) for c, code in zip((a, b), pair)]
    for c, msg_id in ids:  # both workers store at the same time
        assert c.finish(msg_id)[0]["status"] == "ok"
    assert runs(counter) == 40
    for code in cells[b]:  # a gets what b's worker stored, and b what a's did
        outputs_of(a, code)
    for code in cells[a]:
        outputs_of(b, code)
    assert runs(counter) == 40


OPEN_AT_ONCE = """
import os, akernel_runtime.cache as cache
failures = []
for attempt in range({attempts}):
    directory = os.path.join({root!r}, str(attempt))
    go_read, go_write = os.pipe()
    pids = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:  # a process standing for a worker: waits for the others, opens the store
            os.close(go_write)
            os.read(go_read, 1)
            try:
                cache.Store(directory, 1 << 20).get(b"key")
                os._exit(0)
            except Exception as e:
                os.write(2, f"{{e}}\\n".encode())
                os._exit(1)
        pids.append(pid)
    os.close(go_read)
    os.close(go_write)  # all four start at once
    failures += [p for p in pids if os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) != 0]
len(failures)
"""


def test_workers_creating_the_store_at_the_same_moment_all_open_it(make_kernel, cache_dir):
    # SQLite refuses a switch to WAL at once ("database is locked") while
    # another process switches too: 37 of these 400 opens failed before the
    # store retried (CI saw it once in the two-worker test above).
    k = make_kernel()
    reply, outs = k.finish(k.submit(OPEN_AT_ONCE.format(attempts=100, root=cache_dir)), timeout=120)
    assert reply["status"] == "ok", reply
    assert outs[-1]["content"]["data"]["text/plain"] == "0", outs


def test_a_worker_killed_while_storing_leaves_a_clean_store(make_kernel, cache_dir):
    k = make_kernel()
    wal = os.path.join(cache_dir, "cache.sqlite3-wal")
    k.run("small = 1")  # the store exists
    msg_id = k.submit("big = b'z' * 400_000_000")  # storing takes a while
    start = os.path.getsize(wal) if os.path.exists(wal) else 0
    wait_for(lambda: os.path.exists(wal) and os.path.getsize(wal) > start + 50_000_000, timeout=60,
             interval=0.005, what="the worker to be writing the entry")
    (worker,) = worker_pids(k.pid)
    os.kill(worker, signal.SIGKILL)
    reply, _ = k.finish(msg_id)
    assert reply["ename"] == "WorkerDied"
    stats = subprocess.run([str(GATEWAY), "cache", "stats", "--cache-dir", cache_dir], capture_output=True,
                           text=True, timeout=30)
    assert stats.returncode == 0 and "entries:  1\n" in stats.stdout  # `small = 1` only, no torn entry
    check = subprocess.run(["/usr/bin/python3", "-c", "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]);"
                            "print(db.execute('PRAGMA integrity_check').fetchone()[0])",
                            os.path.join(cache_dir, "cache.sqlite3")], capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == "ok"


def test_cache_stats_and_clear(make_kernel, cache_dir):
    k = make_kernel()
    counter = os.path.join(cache_dir, "count")
    outputs_of(k, counted(counter, "q = 1"))  # a miss, stored
    outputs_of(k, counted(counter, "q = 1"))  # a hit
    stats = subprocess.run([str(GATEWAY), "cache", "stats", "--cache-dir", cache_dir], capture_output=True,
                           text=True, timeout=30, check=True).stdout
    assert "entries:  1\n" in stats and "hits:     1\n" in stats and "misses:   1\n" in stats
    assert "hit rate: 50.0%" in stats
    cleared = subprocess.run([str(GATEWAY), "cache", "clear", "--cache-dir", cache_dir], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    assert cleared.startswith("cleared 1 entries")
    stats = subprocess.run([str(GATEWAY), "cache", "stats", "--cache-dir", cache_dir], capture_output=True,
                           text=True, timeout=30, check=True).stdout
    assert "entries:  0\n" in stats
    outputs_of(k, counted(counter, "q = 1"))
    assert runs(counter) == 2  # ran again after the clear


def test_with_react_an_unchanged_dependent_comes_from_the_cache(make_kernel, cache_dir):
    """cache-react: when `a` changes back to a value seen before, the cell
    reading it takes its result from the cache instead of re-running."""
    k = make_kernel("cache-react")
    counter = os.path.join(cache_dir, "count")
    k.run("a = 1")
    reader = k.submit(counted(counter, "b = a * 10\nb"))
    k.finish(reader)
    slot = next(m for m in k.iopub[reader] if m["msg_type"] == "display_data")
    display_id = slot["content"]["transient"]["display_id"]

    def slot_value(msg_id):
        (update,) = [m for m in k.iopub[msg_id] if m["msg_type"] == "update_display_data"]
        assert update["content"]["transient"]["display_id"] == display_id
        return update["content"]["data"]["text/plain"]

    for value, expected_runs in ((2, 2), (1, 3), (2, 3), (1, 3)):
        msg_id = k.submit(f"a = {value}")
        k.finish(msg_id)
        assert slot_value(msg_id) == str(value * 10)
        assert runs(counter) == expected_runs
    assert k.run("print(b)")[0] == "10\n"  # its name came back from the cache too
