"""Stand-in for IPython.core.display: the rich display classes."""

from IPython.display import *  # noqa: F401,F403
