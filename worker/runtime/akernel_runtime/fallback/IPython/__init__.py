"""A small stand-in for IPython inside akernel-gateway, used when Debian's
python3-ipython is not installed: IPython.display and get_ipython()."""

from .core.getipython import get_ipython  # noqa: F401

version_info = (0, 0, 0, "akernel-gateway")
__version__ = "0.0.0+akernel-gateway"
