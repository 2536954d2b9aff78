"""The Python side of an akernel-gateway worker.

Everything here runs inside the embedded interpreter of a worker process;
the router, the wire protocol and the keys live in C. The C host exposes
`_akernel` (see worker/bridge.c): the only way from here to the router.

Modules:
    zygote      imports done once, before any worker is forked
    worker      the event loop: reads the router's messages and dispatches
    cells       sessions and cells: compile, chain, run, interrupt, abort
    outputs     stdout/stderr streams, the display hook, events to the router
    stdin       input(), getpass() and ainput() through the frontend
    introspect  completion, inspection, is_complete and history
"""
