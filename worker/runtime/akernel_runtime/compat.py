"""IPython compatibility: `from IPython.display import display, HTML, ...`
and `from IPython import get_ipython` work in cells as under ipykernel.

With Debian's python3-ipython, its modules are used, but as each display
module loads, its display functions and get_ipython are replaced by this
kernel's (IPython's own display() would just print without an IPython
shell). Without IPython (or with AKERNEL_GATEWAY_BUILTIN_IPYTHON=1), the
small package in fallback/IPython stands in for it."""

import importlib.abc
import importlib.machinery
import os
import sys

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


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader, patch):
        self.loader, self.patch = loader, patch

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        vars(module).update(self.patch)


class _PatchingFinder(importlib.abc.MetaPathFinder):
    """Finds IPython's display modules with the other finders, and patches
    them once they have run."""

    def find_spec(self, name, path, target=None):
        patch = PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


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
    sys.meta_path.insert(0, _PatchingFinder())
    for name, patch in PATCHES.items():  # already imported (--preload)
        if name in sys.modules:
            vars(sys.modules[name]).update(patch)
