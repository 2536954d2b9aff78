"""Runs once in the zygote, before any fork: import what workers need so
every worker shares those pages instead of importing them again."""

import gc
import importlib
import os
import sys


def prepare(modes: str, preload: str) -> None:
    from . import worker

    worker.configure(modes)
    for name in filter(None, (m.strip() for m in preload.split(","))):
        try:
            importlib.import_module(name)
        except Exception as e:  # a bad preload must not stop the kernel
            print(f"akernel-gateway: --preload {name}: {type(e).__name__}: {e}", file=sys.stderr)
    gc.collect()
    gc.freeze()  # keep the collector from writing to (and copying) shared pages
    threads = len(os.listdir("/proc/self/task"))
    if threads > 1:  # fork() copies only the calling thread: locks may be held
        print(f"akernel-gateway: warning: the zygote has {threads} threads after --preload {preload!r}; "
              "workers forked from it may deadlock", file=sys.stderr)
