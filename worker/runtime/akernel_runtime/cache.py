"""cache mode: a cell that has run with the same code and the same inputs is
not run again; what it assigned and everything it showed come back from a
store on disk, so it looks in the frontend exactly like a run one.

Key: SHA-256 over a format tag, the Python version, the cell's code as an
AST dump (comments and whitespace do not matter) and each name the cell
reads (analysis.analyze) with a fingerprint of its value: the pickled
value; a function by its code, defaults, closure and the globals it reads;
a class defined in the notebook by its members (pickle would store only
their names); a module by its name. Rules:
  * a cell with an import always runs (as in akernel): what it imports can
    change without its code changing;
  * a cell whose inputs cannot be pickled runs, is not cached, and says why
    once on its stderr (never a key on a partial hash);
  * a cell that raises, or whose assigned values cannot be pickled, is not
    stored.
Value: the names it assigned (and `_`), the names it deleted, and every
iopub event it produced (recorded by the worker's output code, so output
from C code and subprocesses is included), replayed in order on a hit.

With react mode: the cell being run always runs (react needs its value);
its dependents come from the cache when their inputs are unchanged, else
re-run and are stored (under keys of their own: what a re-run shows is an
update of the dependent's slot, not a cell's output).

Store: SQLite in WAL mode, in $AKERNEL_GATEWAY_CACHE_DIR (else
$XDG_CACHE_HOME/akernel-gateway, else ~/.cache/akernel-gateway): shared by
every worker of the user, each entry written in one transaction (a worker
killed while storing leaves no torn entry), least recently used entries
evicted past $AKERNEL_GATEWAY_CACHE_SIZE bytes (default 1 GiB).
`akernel-gateway cache stats` and `cache clear` read and empty it."""

import ast
import hashlib
import io
import json
import os
import pickle
import sqlite3
import sys
import time
import types

import _akernel

from . import analysis, outputs

FORMAT = b"akernel-gateway cache 1"
DEFAULT_SIZE = 1 << 30
LOCK_TIMEOUT = 30  # seconds a worker waits for another to release the store


class Uncacheable(Exception):
    """This cell's inputs cannot be fingerprinted."""


# -- fingerprints -------------------------------------------------------------------------

class _KeyPickler(pickle.Pickler):
    """Pickles values for the key; functions and notebook classes go in by
    content, not by name."""

    def __init__(self, file, seen):
        super().__init__(file, protocol=5)
        self.seen = seen

    def reducer_override(self, obj):
        if isinstance(obj, types.FunctionType) or (isinstance(obj, type) and obj.__module__ == "__main__"):
            return str, (_content_digest(obj, self.seen),)
        if isinstance(obj, types.ModuleType):
            return str, ("module " + obj.__name__,)
        return NotImplemented


def _value_digest(value, seen) -> str:
    buffer = io.BytesIO()
    _KeyPickler(buffer, seen).dump(value)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _code_digest(code, h) -> None:
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, h)
        else:
            h.update(repr(const).encode())


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _content_digest(obj, seen) -> str:
    """A function or a notebook class by what it is, not by its name."""
    if id(obj) in seen:
        return "cycle " + getattr(obj, "__qualname__", "?")
    seen = seen | {id(obj)}
    h = hashlib.sha256()
    if isinstance(obj, types.FunctionType):
        h.update(b"function")
        _code_digest(obj.__code__, h)
        parts = [obj.__defaults__, obj.__kwdefaults__,
                 [c.cell_contents for c in obj.__closure__ or () if _filled(c)],
                 {n: obj.__globals__[n] for n in sorted(_global_names(obj.__code__)) if n in obj.__globals__}]
    else:
        h.update(b"class " + obj.__qualname__.encode())
        parts = [[base for base in obj.__bases__],
                 {k: v for k, v in sorted(vars(obj).items())
                  if not isinstance(v, (types.GetSetDescriptorType, types.MemberDescriptorType))
                  and k not in ("__dict__", "__weakref__")}]
    for part in parts:
        h.update(_value_digest(part, seen).encode())
    return h.hexdigest()


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # an empty closure cell
        return False
    return True


def cell_key(code: str, reads, namespace: dict) -> bytes:
    """The key of running `code` with these inputs; Uncacheable if an input
    cannot be pickled."""
    h = hashlib.sha256(FORMAT)
    h.update(sys.version.encode())
    h.update(ast.dump(ast.parse(code)).encode())
    builtins = namespace.get("__builtins__")
    builtins = vars(builtins) if isinstance(builtins, types.ModuleType) else builtins or {}
    for name in sorted(reads):
        if name in namespace:
            value = namespace[name]
        elif name in builtins:
            h.update(f"builtin {name}\n".encode())
            continue
        else:  # it will raise NameError: nothing to cache
            raise Uncacheable(f"`{name}` is not defined")
        try:
            digest = _value_digest(value, frozenset())
        except Exception as e:
            raise Uncacheable(f"`{name}` cannot be pickled ({type(e).__name__}: {e})") from None
        h.update(f"{name} {digest}\n".encode())
    return h.digest()


# -- the store ---------------------------------------------------------------------------------

def cache_dir() -> str:
    explicit = os.environ.get("AKERNEL_GATEWAY_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "akernel-gateway")


class Store:
    """Entries by key in SQLite (WAL): value, size, last use, hits."""

    def __init__(self, directory: str, size_limit: int):
        os.makedirs(directory, exist_ok=True)
        self.size_limit = size_limit
        self.db = sqlite3.connect(os.path.join(directory, "cache.sqlite3"), timeout=LOCK_TIMEOUT,
                                  isolation_level=None)
        self._use_wal()
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS entries (key BLOB PRIMARY KEY, value BLOB NOT NULL,
                size INTEGER NOT NULL, created REAL NOT NULL, used REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX IF NOT EXISTS entries_by_use ON entries (used);
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO counters VALUES ('hits', 0), ('misses', 0);
        """)

    def _use_wal(self) -> None:
        """Switch the file to WAL (it stays so). SQLite answers "locked" at
        once, without waiting, when another process is switching it too or
        holds a write lock: retry until LOCK_TIMEOUT."""
        deadline = time.monotonic() + LOCK_TIMEOUT
        while self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def get(self, key: bytes):
        row = self.db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if row is not None:
                self.db.execute("UPDATE entries SET used = ?, hits = hits + 1 WHERE key = ?", (time.time(), key))
            self.db.execute("UPDATE counters SET value = value + 1 WHERE name = ?",
                            ("hits" if row is not None else "misses",))
        return row[0] if row is not None else None

    def put(self, key: bytes, value: bytes) -> None:
        now = time.time()
        with self.db:  # one transaction: all of the entry or none of it
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT OR REPLACE INTO entries (key, value, size, created, used) VALUES (?, ?, ?, ?, ?)",
                            (key, value, len(value), now, now))
            self._evict()

    def _evict(self) -> None:
        total = self.db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0]
        if total <= self.size_limit:
            return
        for key, size in self.db.execute("SELECT key, size FROM entries ORDER BY used").fetchall():
            if total <= self.size_limit:
                break
            self.db.execute("DELETE FROM entries WHERE key = ?", (key,))
            total -= size


_store = None


def store() -> Store:
    global _store
    if _store is None:
        size = int(os.environ.get("AKERNEL_GATEWAY_CACHE_SIZE") or DEFAULT_SIZE)
        _store = Store(cache_dir(), size)
    return _store


# -- cells ---------------------------------------------------------------------------------------

class Entry:
    """What a cache-mode cell needs between its start and its finish."""

    __slots__ = ("key", "names")

    def __init__(self, key, names):
        self.key, self.names = key, names


def _note(cell, text: str) -> None:
    if cell.out:
        _akernel.stream(cell.out, outputs.STDERR, f"[cache] {text}\n")


def _key(python: str, namespace: dict, kind: bytes):
    """(key, names) of a cacheable cell, else (None, names or reason)."""
    names = analysis.analyze(python)
    if names.has_imports:
        return None, names  # cells with imports always run
    try:
        return kind + cell_key(python, names.read, namespace), names
    except Uncacheable as e:
        return None, str(e)


def start(cell, python: str) -> bool:
    """Before a cell runs in cache mode: True if it was answered from the
    cache (outputs replayed, names restored); else it runs, recorded."""
    key, names = _key(python, cell.session.namespace, b"cell ")
    if key is None:
        if isinstance(names, str):
            _note(cell, f"this cell runs without the cache: {names}")
        return False
    value = store().get(key)
    if value is not None and _replay(cell, cell.session.namespace, value, cell.count):
        return True
    cell.cache = Entry(key, names)
    _akernel.record(cell.req)
    return False


def _replay(request, namespace: dict, value: bytes, count=None, display_id=None) -> bool:
    """Restore what an entry assigned and send what it showed, for request
    (with its execution count; with display_id, a react slot's updates go
    to the slot it has now)."""
    try:
        saved = pickle.loads(value)
    except Exception as e:  # e.g. a class it needs is gone
        _akernel.log(f"cache entry unusable ({type(e).__name__}: {e}): running the cell")
        return False
    namespace.update(saved["names"])
    for name in saved["deleted"]:
        namespace.pop(name, None)
    for msg_type, content, metadata, buffers in saved["events"]:
        if msg_type == "execute_result" or (display_id and msg_type == "update_display_data"):
            body = json.loads(content)
            if msg_type == "execute_result":
                body["execution_count"] = count
            else:
                body.setdefault("transient", {})["display_id"] = display_id
            content = outputs.dumps(body)
        if request.out:
            _akernel.send("iopub", str(request.req), msg_type, content, metadata, *buffers)
    outputs.schedule_flush()
    return True


def finish(cell, error) -> None:
    """After a recorded cell: store what it did, unless it failed."""
    entry, cell.cache = cell.cache, None
    _save(cell, cell.session.namespace, entry, error)


def _save(request, namespace: dict, entry: Entry, error) -> None:
    events = _akernel.take_record(request.req)
    if error is not None:
        return
    names = {n: namespace[n] for n in entry.names.defined if n in namespace}
    if any(m[2] == b"execute_result" for m in events) and "_" in namespace:
        names["_"] = namespace["_"]
    saved = {"names": names, "deleted": sorted(n for n in entry.names.deleted if n not in namespace),
             "events": [(m[2].decode(), m[3], m[4], list(m[5:])) for m in events]}
    try:
        value = pickle.dumps(saved, protocol=5)
    except Exception as e:
        _note(request, f"not stored: what it assigned cannot be pickled ({type(e).__name__}: {e})")
        return
    store().put(entry.key, value)


# -- react mode: dependents -----------------------------------------------------------------

def serve_dependent(session, node, trigger) -> bool:
    """A dependent about to re-run: True if it came from the cache instead
    (its names restored, its slot updated, what it printed shown)."""
    key, _ = _key(node.compiled.python, session.namespace, b"dependent ")
    value = store().get(key) if key is not None else None
    return value is not None and _replay(trigger, session.namespace, value, display_id=node.display_id)


def record_dependent(session, node, trigger):
    """Before a dependent re-runs: an Entry to store it with, or None."""
    key, names = _key(node.compiled.python, session.namespace, b"dependent ")
    if key is None:
        return None
    _akernel.record(trigger.req)
    return Entry(key, names)


def store_dependent(session, trigger, entry, error) -> None:
    _save(trigger, session.namespace, entry, error)
