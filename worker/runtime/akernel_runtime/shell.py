"""What get_ipython() returns in this kernel, and IPython's cell syntax.

Code written for notebooks looks for IPython's shell: to display (display_pub,
display_formatter), to find the kernel (kernel.comm_manager, get_parent()),
to hook cell execution (events), to run magics. This is enough of it, and
IPython's cell syntax (%magic, %%cell magic, !shell, x = !shell, obj?) is
turned into calls on it before a cell is compiled: with IPython's own
transformer when Debian's python3-ipython is there, else a small one here.

Magics: %time, %%time, %timeit, %%timeit, %cd, %pwd, %env, %matplotlib
(inline is always on), %pinfo (obj?), %pinfo2 (obj??), %lsmagic; %pip and
%conda say clearly that packages come from Debian here. Anything else is a
one-line UsageError, never a SyntaxError traceback."""

import os
import re
import shlex
import subprocess
import time

from . import display
from .outputs import CURRENT

_MAGIC_SYNTAX = re.compile(r"^[ \t]*(%|!)|^[ \t]*[\w.]+[ \t]*=[ \t]*[%!]|\?\??[ \t]*$", re.M)


class UsageError(Exception):
    """A magic used wrongly: shown as one line, without a traceback."""


def transform_cell(code: str) -> str:
    """Python code for a cell written in IPython's syntax."""
    if not _MAGIC_SYNTAX.search(code):
        return code
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return _transform_lines(code)
    return TransformerManager().transform_cell(code)


def _transform_lines(code: str) -> str:
    """The common cases of IPython's syntax, for when IPython is absent."""
    lines = code.splitlines()
    if lines and lines[0].startswith("%%"):
        name, _, line = lines[0][2:].partition(" ")
        body = "\n".join(lines[1:])
        return f"get_ipython().run_cell_magic({name!r}, {line!r}, {body!r})\n"
    out = []
    for text in lines:
        indent = text[: len(text) - len(text.lstrip())]
        stripped = text.strip()
        target, sep, rest = stripped.partition("=")
        assign = sep and re.fullmatch(r"[\w.]+", target.strip()) and rest.strip()[:1] in ("!", "%")
        value = rest.strip() if assign else stripped
        prefix = f"{indent}{target.strip()} = " if assign else indent
        if value.startswith("!"):
            call = "getoutput" if assign else "system"
            out.append(f"{prefix}get_ipython().{call}({value[1:]!r})")
        elif value.startswith("%"):
            name, _, line = value[1:].partition(" ")
            out.append(f"{prefix}get_ipython().run_line_magic({name!r}, {line!r})")
        elif value.endswith("?") and not assign:
            detail = "pinfo2" if value.endswith("??") else "pinfo"
            out.append(f"{indent}get_ipython().run_line_magic({detail!r}, {value.rstrip('?')!r})")
        else:
            out.append(text)
    return "\n".join(out) + "\n"


class _Events:
    """shell.events: callbacks some libraries hook to cell execution."""

    def __init__(self):
        self.callbacks = {"pre_execute": [], "pre_run_cell": [], "post_execute": [], "post_run_cell": []}

    def register(self, event, function):
        self.callbacks.setdefault(event, []).append(function)

    def unregister(self, event, function):
        self.callbacks.get(event, []).remove(function)

    def trigger(self, event, *args):
        for function in list(self.callbacks.get(event, [])):
            function(*args)


class _DisplayPublisher:
    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        display.publish_display_data(data, metadata, transient=transient, update=update)

    def clear_output(self, wait=False):
        display.clear_output(wait)


class _DisplayFormatter:
    def format(self, obj, include=None, exclude=None):
        return display.format_object(obj, include, exclude)


class _Kernel:
    """shell.kernel: the parts of ipykernel's Kernel that libraries use."""

    @property
    def comm_manager(self):
        from . import comms

        return comms.manager()

    def get_parent(self, channel="shell"):
        request = CURRENT.get()
        return request.parent() if request is not None else {}

    @property
    def _parent_header(self):
        return self.get_parent()


class ZMQInteractiveShell:
    """Enough of IPython's shell for notebook code (named like ipykernel's,
    which libraries test for)."""

    def __init__(self):
        self.kernel = _Kernel()
        self.display_pub = _DisplayPublisher()
        self.display_formatter = _DisplayFormatter()
        self.events = _Events()
        self.config = {}

    @property
    def user_ns(self):
        request = CURRENT.get()
        return request.session.namespace if request is not None else {}

    @property
    def execution_count(self):
        request = CURRENT.get()
        return request.session.execution_count if request is not None else 0

    # -- shell escapes ---------------------------------------------------------------------

    def system(self, cmd):
        """!cmd: its output reaches the cell through the captured fds."""
        _akernel_flush()
        result = subprocess.run(cmd, shell=True)
        self.user_ns["_exit_code"] = result.returncode

    def getoutput(self, cmd):
        """x = !cmd: the output lines."""
        result = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, text=True)
        return result.stdout.splitlines()

    # -- magics --------------------------------------------------------------------------------

    def run_line_magic(self, name, line, _stack_depth=1):
        magic = _LINE_MAGICS.get(name)
        if magic is None:
            raise UsageError(f"Line magic function `%{name}` not found (akernel-gateway has: "
                             f"{', '.join('%' + m for m in sorted(_LINE_MAGICS))}).")
        return magic(self, line)

    def run_cell_magic(self, name, line, cell):
        magic = _CELL_MAGICS.get(name)
        if magic is None:
            raise UsageError(f"Cell magic `%%{name}` not found (akernel-gateway has: "
                             f"{', '.join('%%' + m for m in sorted(_CELL_MAGICS))}).")
        return magic(self, line, cell)

    def magic(self, arg_s):
        name, _, line = arg_s.lstrip("%").partition(" ")
        return self.run_line_magic(name, line)

    def showtraceback(self, *args, **kwargs):
        import traceback

        traceback.print_exc()


def _akernel_flush():
    import _akernel

    _akernel.flush()


def _run_in_namespace(code):
    """Run code in the current namespace; return its last expression's value."""
    import ast

    request = CURRENT.get()
    ns = request.session.namespace if request is not None else {}
    tree = ast.parse(code, "<magic>", "exec")
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<magic>", "exec"), ns)
    if last is not None:
        return eval(compile(ast.Expression(last.value), "<magic>", "eval"), ns)
    return None


def _magic_time(shell, line, cell=None):
    """%time stmt / %%time: run once, print CPU and wall time, as IPython."""
    start, wall = os.times(), time.perf_counter()
    try:
        return _run_in_namespace(cell if cell is not None else line)
    finally:
        end, wall = os.times(), time.perf_counter() - wall
        user, system = end.user - start.user, end.system - start.system
        print(f"CPU times: user {_format_time(user)}, sys: {_format_time(system)}, "
              f"total: {_format_time(user + system)}\nWall time: {_format_time(wall)}")


def _timeit_options(line):
    """-n N -r R -q in front of the statement, as %timeit takes them."""
    options, words = {"n": 0, "r": 7, "q": False}, line.split()
    while words and re.fullmatch(r"-[nrq]\d*", words[0]):
        flag, value = words[0][1], words[0][2:]
        words.pop(0)
        if flag == "q":
            options["q"] = True
            continue
        if not value:
            if not words or not words[0].isdigit():
                raise UsageError(f"%timeit: -{flag} needs a number")
            value = words.pop(0)
        options[flag] = int(value)
    return options, " ".join(words)


def _magic_timeit(shell, line, cell=None):
    import timeit

    options, rest = _timeit_options(line)
    stmt, setup = (cell, rest or "pass") if cell is not None else (rest, "pass")
    request = CURRENT.get()
    ns = request.session.namespace if request is not None else {}
    timer = timeit.Timer(stmt, setup, globals=ns)
    number = options["n"] or timer.autorange()[0]
    runs = [t / number for t in timer.repeat(repeat=max(1, options["r"]), number=number)]
    mean = sum(runs) / len(runs)
    std = (sum((r - mean) ** 2 for r in runs) / len(runs)) ** 0.5
    if not options["q"]:
        print(f"{_format_time(mean)} ± {_format_time(std)} per loop (mean ± std. dev. of {len(runs)} "
              f"run{'s' if len(runs) != 1 else ''}, {number:,} loop{'s' if number != 1 else ''} each)")


def _format_time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"


def _no_package_manager(tool):
    def magic(shell, line):
        raise UsageError(f"%{tool} is not available in akernel-gateway: packages come from Debian "
                         f"here (apt-get install python3-<name>), not from {tool}.")
    return magic


def _magic_cd(shell, line):
    path = os.path.expanduser(line.strip() or "~")
    os.chdir(path)
    print(os.getcwd())


def _magic_env(shell, line):
    if "=" in line:
        name, _, value = line.partition("=")
        os.environ[name.strip()] = value.strip()
        return None
    if line.strip():
        return os.environ.get(line.strip())
    return dict(os.environ)


def _magic_matplotlib(shell, line):
    if line.strip() not in ("", "inline"):
        raise UsageError(f"%matplotlib {line.strip()}: only inline figures exist in this kernel "
                         "(and they are on by default).")


def _magic_pinfo(shell, line, detail=0):
    from .introspect import describe

    name = line.strip()
    request = CURRENT.get()
    try:
        obj = eval(name, request.session.namespace)
    except Exception:
        print(f"Object `{name}` not found.")
        return
    text = describe(obj, name, detail)
    payload = getattr(request, "payload", None)
    if payload is not None:
        payload.append({"source": "page", "data": {"text/plain": text}, "start": 0})
    else:
        print(text)


def _magic_lsmagic(shell, line):
    print("Line magics: " + " ".join("%" + m for m in sorted(_LINE_MAGICS)))
    print("Cell magics: " + " ".join("%%" + m for m in sorted(_CELL_MAGICS)))


_LINE_MAGICS = {
    "time": _magic_time,
    "timeit": _magic_timeit,
    "pip": _no_package_manager("pip"),
    "conda": _no_package_manager("conda"),
    "cd": _magic_cd,
    "pwd": lambda shell, line: os.getcwd(),
    "env": _magic_env,
    "matplotlib": _magic_matplotlib,
    "pinfo": _magic_pinfo,
    "pinfo2": lambda shell, line: _magic_pinfo(shell, line, detail=1),
    "lsmagic": _magic_lsmagic,
}
_CELL_MAGICS = {
    "time": lambda shell, line, cell: _magic_time(shell, line, cell),
    "timeit": lambda shell, line, cell: _magic_timeit(shell, line, cell),
    "bash": lambda shell, line, cell: shell.system(f"bash -c {shlex.quote(cell)}"),
    "sh": lambda shell, line, cell: shell.system(f"sh -c {shlex.quote(cell)}"),
}

_shell = None


def get_ipython():
    """The kernel's shell (a builtin in the kernel, as in IPython)."""
    global _shell
    if _shell is None:
        _shell = ZMQInteractiveShell()
    return _shell
