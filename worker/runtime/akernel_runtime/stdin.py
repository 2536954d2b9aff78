"""input(), getpass() and ainput(): ask the frontend that ran the cell, on
the stdin channel. input() and getpass() block the worker until the reply
comes, as in ipykernel; `await ainput()` lets other cells run meanwhile."""

import asyncio

import _akernel

from .outputs import CURRENT, dumps

WORKER = None  # set by worker.main


class StdinNotImplementedError(NotImplementedError):
    """Raised when input is asked of a frontend that does not allow it."""


def _cell_for_input():
    cell = CURRENT.get()
    if cell is None or not cell.allow_stdin:
        raise StdinNotImplementedError(
            "input was called, but this frontend does not support input requests.")
    return cell


def _ask(cell, prompt, password: bool) -> None:
    _akernel.send("input_request", str(cell.req), dumps({"prompt": str(prompt), "password": password}))
    _akernel.flush()


def input(prompt=""):
    cell = _cell_for_input()
    _ask(cell, prompt, False)
    return WORKER.wait_input(cell.req)


def getpass(prompt="Password: ", stream=None):
    cell = _cell_for_input()
    _ask(cell, prompt, True)
    return WORKER.wait_input(cell.req)


async def ainput(prompt="", password=False):
    cell = _cell_for_input()
    future = asyncio.get_running_loop().create_future()
    WORKER.pending_inputs[cell.req] = future
    _ask(cell, prompt, password)
    try:
        return await future
    finally:
        WORKER.pending_inputs.pop(cell.req, None)


def deliver(worker, req: int, content: dict) -> None:
    """An input_reply arrived through the loop: wake the ainput() waiting."""
    future = worker.pending_inputs.get(req)
    if future is not None and not future.done():
        future.set_result(content.get("value", ""))
