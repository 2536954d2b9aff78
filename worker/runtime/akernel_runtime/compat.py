"""Import-time compatibility: after_import(name, hook) runs a hook when a
module is imported, which is how IPython, the comm package, ipykernel.comm
and matplotlib are made to work with this kernel.

`from IPython.display import display, HTML, ...` and `from IPython import
get_ipython` work in cells as under ipykernel.

With Debian's python3-ipython, its modules are used, but as each display
module loads, its display functions and get_ipython are replaced by this
kernel's (IPython's own display() would just print without an IPython
shell). Without IPython (or with AKERNEL_GATEWAY_BUILTIN_IPYTHON=1), the
small package in fallback/IPython stands in for it."""

import importlib.abc
import importlib.machinery
import os
import sys
import traceback

import _akernel

from . import display, shell

_DISPLAY_FUNCTIONS = {
    "display": display.display,
    "publish_display_data": display.publish_display_data,
    "clear_output": display.clear_output,
    "update_display": display.update_display,
}
PATCHES = {
    "IPython": {"get_ipython": shell.get_ipython},
    "IPython.core.getipython": {"get_ipython": shell.get_ipython},
    "IPython.core.display_functions": _DISPLAY_FUNCTIONS,
    "IPython.core.display": _DISPLAY_FUNCTIONS,
    "IPython.display": _DISPLAY_FUNCTIONS,
}
FALLBACK_DIR = os.path.join(os.path.dirname(__file__), "fallback")


class _HookedLoader:
    """Wraps a loader shared by several modules (a class, say)."""

    def __init__(self, loader, after):
        self._loader, self._after = loader, after

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._after(module)

    def __getattr__(self, name):  # get_source, get_resource_reader...
        return getattr(self._loader, name)


class _AfterImport:
    """A meta path finder that calls hooks[name](module) once the module
    `name` has been executed (found by the other finders, as usual)."""

    def __init__(self):
        self.hooks = {}

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.hooks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec

        def after(module):
            hook = self.hooks.pop(fullname, None)
            if not self.hooks and self in sys.meta_path:
                sys.meta_path.remove(self)  # nothing left to wait for
            if hook is not None:
                try:
                    hook(module)
                except Exception as e:
                    _akernel.log(f"after importing {fullname}: " + "".join(traceback.format_exception(e)))

        if isinstance(loader, type):
            spec.loader = _HookedLoader(loader, after)
        else:  # a source file's loader is this module's own: keep it, and its class
            real_exec = loader.exec_module

            def exec_module(module):
                real_exec(module)
                after(module)

            loader.exec_module = exec_module
        return spec


_after_import = None


def after_import(name: str, hook) -> None:
    """Call hook(module) when the module `name` is imported (now if it is)."""
    global _after_import
    module = sys.modules.get(name)
    if module is not None:
        hook(module)
        return
    if _after_import is None:
        _after_import = _AfterImport()
    if _after_import not in sys.meta_path:
        sys.meta_path.insert(0, _after_import)
    _after_import.hooks[name] = hook


class _FallbackFinder(importlib.abc.MetaPathFinder):
    """Offers fallback/IPython (submodules follow through its __path__)."""

    def find_spec(self, name, path, target=None):
        if name != "IPython":
            return None
        return importlib.machinery.PathFinder.find_spec(name, [FALLBACK_DIR])


def install() -> None:
    fallback = _FallbackFinder()
    if os.environ.get("AKERNEL_GATEWAY_BUILTIN_IPYTHON") == "1":
        sys.meta_path.insert(0, fallback)
    else:
        sys.meta_path.append(fallback)  # only if the real one is not found
    for name, patch in PATCHES.items():
        after_import(name, lambda module, patch=patch: vars(module).update(patch))
