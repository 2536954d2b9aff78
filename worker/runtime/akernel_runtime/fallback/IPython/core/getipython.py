"""get_ipython(): the kernel's shell."""

from akernel_runtime.shell import get_ipython  # noqa: F401
