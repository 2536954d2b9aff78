"""Replies that look at code or the namespace without running a cell:
completion, inspection, is_complete, history. They are answered
at once, even while a cell of the same session awaits."""

import ast
import codeop
import fnmatch
import re

from . import outputs

_NAME_BEFORE = re.compile(r"[A-Za-z_][\w.]*$|$")
_NAME_AROUND = re.compile(r"[A-Za-z_][\w.]*")


def complete(worker, request, content, metadata, buffers) -> None:
    """Completions from jedi (static analysis plus the live namespace) when
    Debian's python3-jedi is there, else from rlcompleter. Positions are in
    unicode code points, which is what Python's str indexes count."""
    code = content.get("code", "")
    pos = content.get("cursor_pos")
    pos = len(code) if pos is None else max(0, min(int(pos), len(code)))
    try:
        reply = _complete_with_jedi(code, pos, request.session.namespace)
    except ImportError:
        token = _NAME_BEFORE.search(code[:pos]).group(0)
        reply = {"matches": _complete_token(token, request.session.namespace),
                 "cursor_start": pos - len(token), "cursor_end": pos, "metadata": {}}
    outputs.send_reply(request.req, "complete_reply", {"status": "ok", **reply})


def _complete_with_jedi(code: str, pos: int, namespace: dict) -> dict:
    import jedi

    before = code[:pos]
    line = before.count("\n") + 1
    column = pos - (before.rfind("\n") + 1)
    try:
        completions = jedi.Interpreter(code, [namespace]).complete(line, column)
    except Exception:  # jedi can fail on code it does not understand
        completions = []
    typed = len(completions[0].name) - len(completions[0].complete) if completions else 0
    start = pos - typed
    matches, types = [], []
    for c in completions:
        if len(c.name) - len(c.complete) != typed:
            continue  # all matches replace the same text
        matches.append(c.name)
        types.append({"start": start, "end": pos, "text": c.name, "type": c.type, "signature": ""})
    return {"matches": matches, "cursor_start": start, "cursor_end": pos,
            "metadata": {"_jupyter_types_experimental": types}}


def _complete_token(token: str, namespace: dict) -> list:
    import rlcompleter

    completer = rlcompleter.Completer(namespace)
    matches, seen = [], set()
    for i in range(1000):
        try:
            m = completer.complete(token, i)
        except Exception:
            break
        if m is None:
            break
        m = m.rstrip("(")
        if m not in seen:
            seen.add(m)
            matches.append(m)
    return matches


def _name_at(code: str, pos: int) -> str:
    for m in _NAME_AROUND.finditer(code):
        if m.start() <= pos <= m.end():
            return m.group(0).rstrip(".")
    before = code[:pos].rstrip()
    if before.endswith("("):  # inside a call: inspect the function
        m = _NAME_BEFORE.search(before[:-1])
        return m.group(0) if m else ""
    return ""


def describe(obj, name: str, detail_level: int) -> str:
    import inspect

    lines = []
    try:
        lines.append(f"Signature: {name}{inspect.signature(obj)}")
    except (TypeError, ValueError):
        pass
    lines.append(f"Type:      {type(obj).__name__}")
    if not callable(obj) or isinstance(obj, (int, float, str, list, dict, tuple, set)):
        lines.append(f"Value:     {repr(obj)[:1000]}")
    doc = inspect.getdoc(obj)
    if doc:
        lines.append("Docstring:\n" + doc)
    if detail_level > 0:
        try:
            lines.append("Source:\n" + inspect.getsource(obj))
        except (OSError, TypeError):
            pass
    return "\n".join(lines)


def inspect_object(worker, request, content, metadata, buffers) -> None:
    req, session = request.req, request.session
    code = content.get("code", "")
    pos = content.get("cursor_pos")
    pos = len(code) if pos is None else int(pos)
    name = _name_at(code, pos)
    reply = {"status": "ok", "found": False, "data": {}, "metadata": {}}
    if name:
        try:
            obj = eval(name, session.namespace)
        except Exception:
            pass
        else:
            reply["found"] = True
            reply["data"] = {"text/plain": describe(obj, name, int(content.get("detail_level", 0)))}
    outputs.send_reply(req, "inspect_reply", reply)


_compiler = codeop.CommandCompiler()
_compiler.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def check_complete(code: str):
    """('complete' | 'incomplete' | 'invalid', indent), with the console's
    rule that an indented block ends only at a blank line."""
    try:
        compiled = _compiler(code, "<input>", "exec")
    except (SyntaxError, ValueError, OverflowError):
        return "invalid", ""
    lines = code.rstrip("\n").split("\n") if code.strip() else [""]
    last = lines[-1]
    indent = last[: len(last) - len(last.lstrip())]
    if compiled is None:
        return "incomplete", indent + ("    " if last.rstrip().endswith(":") else "")
    if indent and not code.endswith("\n\n"):
        return "incomplete", indent
    return "complete", ""


def is_complete(worker, request, content, metadata, buffers) -> None:
    req = request.req
    status, indent = check_complete(content.get("code", ""))
    reply = {"status": status}
    if status == "incomplete":
        reply["indent"] = indent
    outputs.send_reply(req, "is_complete_reply", reply)


HISTORY_SESSION = 1  # this kernel's history is per process (and per session in multi)


def history(worker, request, content, metadata, buffers) -> None:
    req, session = request.req, request.session
    entries = [(HISTORY_SESSION, n, code, out) for n, code, out in session.history]
    kind = content.get("hist_access_type", "tail")
    n = content.get("n")
    if kind == "range":
        start, stop = int(content.get("start", 0)), content.get("stop")
        entries = [e for e in entries if e[1] >= start and (stop is None or e[1] < int(stop))]
        if content.get("session", 0) not in (0, HISTORY_SESSION):
            entries = []
    elif kind == "search":
        pattern = content.get("pattern") or "*"
        entries = [e for e in entries if fnmatch.fnmatchcase(e[2], pattern)]
        if content.get("unique"):
            latest = {}
            for e in entries:
                latest.pop(e[2], None)
                latest[e[2]] = e
            entries = list(latest.values())
    if kind in ("tail", "search") and n is not None:
        entries = entries[-int(n):] if int(n) > 0 else []
    if content.get("output"):
        result = [[s, line, [code, out]] for s, line, code, out in entries]
    else:
        result = [[s, line, code] for s, line, code, _ in entries]
    outputs.send_reply(req, "history_reply", {"status": "ok", "history": result})
