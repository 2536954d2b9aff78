"""Replies that look at code or the namespace without running a cell:
completion, inspection, is_complete, history, comm_info. They are answered
at once, even while a cell of the same session awaits."""

import ast
import codeop
import fnmatch
import re

from . import outputs

_NAME_BEFORE = re.compile(r"[A-Za-z_][\w.]*$|$")
_NAME_AROUND = re.compile(r"[A-Za-z_][\w.]*")


def complete(worker, req, session, content, metadata) -> None:
    code = content.get("code", "")
    pos = content.get("cursor_pos")
    pos = len(code) if pos is None else max(0, min(int(pos), len(code)))
    token = _NAME_BEFORE.search(code[:pos]).group(0)
    matches = _complete_token(token, session.namespace)
    outputs.send_reply(req, "complete_reply", {
        "status": "ok", "matches": matches, "cursor_start": pos - len(token),
        "cursor_end": pos, "metadata": {}})


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
        lines.append(f"Value:     {outputs.format_result(obj)['text/plain'][:1000]}")
    doc = inspect.getdoc(obj)
    if doc:
        lines.append("Docstring:\n" + doc)
    if detail_level > 0:
        try:
            lines.append("Source:\n" + inspect.getsource(obj))
        except (OSError, TypeError):
            pass
    return "\n".join(lines)


def inspect_object(worker, req, session, content, metadata) -> None:
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


def is_complete(worker, req, session, content, metadata) -> None:
    status, indent = check_complete(content.get("code", ""))
    reply = {"status": status}
    if status == "incomplete":
        reply["indent"] = indent
    outputs.send_reply(req, "is_complete_reply", reply)


HISTORY_SESSION = 1  # this kernel's history is per process (and per session in multi)


def history(worker, req, session, content, metadata) -> None:
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


def comm_info(worker, req, session, content, metadata) -> None:
    outputs.send_reply(req, "comm_info_reply", {"status": "ok", "comms": {}})
