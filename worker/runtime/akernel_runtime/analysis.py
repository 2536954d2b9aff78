"""What names a cell defines and reads, from Python's ast.

Used by react mode (react.py) to build the dependency graph between cells,
and meant for cache mode too (a cell's inputs and outputs). Pure Python:
no kernel state, so it can be imported and tested anywhere.

    defined, read, has_imports = analyze(code)[:3]

Rules (module scope, statements in source order):
  * defined: names bound at top level (also inside if/for/while/try/with
    blocks, which are the same scope): assignments and their unpacking,
    augmented and annotated assignments (with a value), `del`, `import`
    (the bound name: `import a.b` binds `a`), `def`, `class`, for targets,
    `with ... as`, the walrus (also from inside a comprehension), `except
    ... as`, match capture patterns. `from m import *` binds names that are
    not known before it runs: none are listed.
  * read: names loaded at top level that the cell has not defined before
    (in source order): `x += 1` and `y = x; x = 1` read x, `x = 1; y = x`
    does not. Class bodies, decorators, default values, annotations and
    comprehensions run at once, so their loads are top-level reads too.
    Function and lambda bodies run later: the globals they load (not their
    parameters and locals, not names of enclosing functions) are reads
    unless the cell defines the name anywhere at top level. Builtins are
    not told apart: `print` is a read like any other name.
  * deleted: the names of `defined` that come from a top-level `del`.
  * has_imports: whether the cell has an import statement anywhere.

Not seen: names used through strings (globals()["x"], eval, exec), names a
function assigns through `global x` (they exist once it is called), the
contents of `from m import *`.
"""

import ast
from typing import NamedTuple


class CellNames(NamedTuple):
    defined: frozenset
    read: frozenset
    has_imports: bool
    deleted: frozenset = frozenset()


EMPTY = CellNames(frozenset(), frozenset(), False, frozenset())


def analyze(source) -> CellNames:
    """The names a cell defines and reads. `source` is Python code (a str,
    already free of IPython syntax) or a parsed ast.Module. A str that does
    not parse raises SyntaxError."""
    tree = ast.parse(source) if isinstance(source, str) else source
    visitor = _Visitor()
    for stmt in tree.body:
        visitor.visit(stmt)
    module = visitor.module
    read = module.read | (module.deferred - module.defined)
    return CellNames(frozenset(module.defined), frozenset(read), visitor.has_imports,
                     frozenset(module.deleted))


# -- scopes ------------------------------------------------------------------------------


class _ModuleScope:
    """The cell's top level: loads are reads unless defined before."""

    def __init__(self):
        self.defined = set()
        self.read = set()
        self.deleted = set()
        self.deferred = set()  # globals loaded by function bodies

    def load(self, name):
        if name not in self.defined:
            self.read.add(name)

    def store(self, name):
        self.defined.add(name)

    def delete(self, name):
        self.defined.add(name)
        self.deleted.add(name)

    walrus_store = store

    def free(self, name, now):
        """A name an inner scope loads and does not bind itself. `now`:
        whether the load happens while the cell runs (not later)."""
        if now:
            self.load(name)
        else:
            self.deferred.add(name)


class _ClassScope:
    """A class body: runs at once; its names are not seen by its methods."""

    def __init__(self, parent):
        self.parent = parent
        self.locals = set()

    def load(self, name):
        if name not in self.locals:
            self.parent.free(name, True)

    def store(self, name):
        self.locals.add(name)

    delete = walrus_store = store

    def free(self, name, now):
        self.parent.free(name, now)


class _FunctionScope:
    """A function or lambda body: runs later, when called."""

    def __init__(self, parent, module, locals_, globals_):
        self.parent = parent
        self.module = module
        self.locals = locals_
        self.globals = globals_

    def load(self, name):
        self.free(name, False)

    def store(self, name):
        pass  # a local, or a global assigned when called: not known now

    delete = walrus_store = store

    def free(self, name, now):
        if name in self.globals:
            self.module.free(name, False)
        elif name not in self.locals:
            self.parent.free(name, False)


class _ComprehensionScope(_ClassScope):
    """A comprehension: runs at once, its targets are its own (and, unlike a
    class body's, seen by what is nested in it)."""

    def walrus_store(self, name):  # := binds in the enclosing scope
        self.parent.walrus_store(name)

    def free(self, name, now):
        if name not in self.locals:
            self.parent.free(name, now)


# -- the visitor ---------------------------------------------------------------------------


class _Visitor(ast.NodeVisitor):
    def __init__(self):
        self.module = _ModuleScope()
        self.scope = self.module
        self.has_imports = False

    def _in(self, scope, nodes):
        outer, self.scope = self.scope, scope
        try:
            for node in nodes:
                self.visit(node)
        finally:
            self.scope = outer

    def _visit_all(self, nodes):
        for node in nodes:
            if node is not None:
                self.visit(node)

    # names

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.scope.load(node.id)
        elif isinstance(node.ctx, ast.Store):
            self.scope.store(node.id)
        else:
            self.scope.delete(node.id)

    # statements whose parts run in another order than ast's fields

    def visit_Assign(self, node):
        self.visit(node.value)
        self._visit_all(node.targets)

    def visit_AugAssign(self, node):
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.scope.load(node.target.id)
            self.scope.store(node.target.id)
        else:
            self.visit(node.target)

    def visit_AnnAssign(self, node):
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)
        elif not isinstance(node.target, ast.Name):
            self.visit(node.target)  # x.y: int evaluates x

    def visit_NamedExpr(self, node):
        self.visit(node.value)
        self.scope.walrus_store(node.target.id)

    def visit_For(self, node):
        self.visit(node.iter)
        self.visit(node.target)
        self._visit_all(node.body)
        self._visit_all(node.orelse)

    visit_AsyncFor = visit_For

    def visit_ExceptHandler(self, node):
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.scope.store(node.name)
        self._visit_all(node.body)

    def visit_Import(self, node):
        self.has_imports = True
        for alias in node.names:
            self.scope.store(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node):
        self.has_imports = True
        for alias in node.names:
            if alias.name != "*":
                self.scope.store(alias.asname or alias.name)

    def visit_Global(self, node):
        pass

    visit_Nonlocal = visit_Global

    # match patterns bind names held as strings

    def visit_MatchAs(self, node):
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.scope.store(node.name)

    def visit_MatchStar(self, node):
        if node.name:
            self.scope.store(node.name)

    def visit_MatchMapping(self, node):
        self._visit_all(node.keys)
        self._visit_all(node.patterns)
        if node.rest:
            self.scope.store(node.rest)

    # new scopes

    def _arguments_now(self, args):
        """What a def or lambda evaluates when it is defined."""
        self._visit_all(args.defaults)
        self._visit_all(args.kw_defaults)

    def _annotations(self, args, returns):
        for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)
        if returns is not None:
            self.visit(returns)

    def _function(self, args, body):
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        params.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
        bound, globals_, nonlocals = _bindings(body)
        scope = _FunctionScope(self.scope, self.module, (params | bound) - globals_ - nonlocals, globals_)
        self._in(scope, body)

    def visit_FunctionDef(self, node):
        self._visit_all(node.decorator_list)
        self._arguments_now(node.args)
        self._annotations(node.args, node.returns)
        self.scope.store(node.name)
        self._function(node.args, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self._arguments_now(node.args)
        self._function(node.args, [node.body])

    def visit_ClassDef(self, node):
        self._visit_all(node.decorator_list)
        self._visit_all(node.bases)
        self._visit_all(node.keywords)
        self._in(_ClassScope(self.scope), node.body)
        self.scope.store(node.name)

    def _comprehension(self, generators, results):
        first, *rest = generators
        self.visit(first.iter)  # evaluated in the enclosing scope
        scope = _ComprehensionScope(self.scope)
        outer, self.scope = self.scope, scope
        try:
            self.visit(first.target)
            self._visit_all(first.ifs)
            for gen in rest:
                self.visit(gen.iter)
                self.visit(gen.target)
                self._visit_all(gen.ifs)
            self._visit_all(results)
        finally:
            self.scope = outer

    def visit_ListComp(self, node):
        self._comprehension(node.generators, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._comprehension(node.generators, [node.key, node.value])


def _bindings(body):
    """(bound, global, nonlocal) names of a function body, not looking
    into nested functions and classes (only their names are bound)."""
    bound, globals_, nonlocals = set(), set(), set()
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack.extend(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                stack.extend(node.bases)
                stack.extend(node.keywords)
            else:
                stack.extend(node.args.defaults)
                stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                bound.add(node.id)
        elif isinstance(node, ast.Global):
            globals_.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            nonlocals.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update(a.asname or a.name.split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return bound, globals_, nonlocals
