"""display() and friends: the kernel's own."""

from akernel_runtime.display import (  # noqa: F401
    DisplayHandle,
    clear_output,
    display,
    publish_display_data,
    update_display,
)
