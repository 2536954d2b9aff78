"""The kernel's matplotlib backend: figures are shown in the cell as PNG
(display_data with image/png and text/plain), like ipykernel's inline one.

Selected by MPLBACKEND=module://akernel_runtime.mpl_backend. Rendering is
backend_agg's. Interactive mode is on once it is loaded.
  - plt.show() shows the figures of the current cell (and any left by cells
    that have finished) and closes them; with none, it shows nothing;
  - at the end of a cell (display.register_post_execute), the figures it left
    open are shown, once, and closed; those shown already and unchanged
    since are closed without being shown again;
  - fig.show() shows that figure now (it stays open, as in ipykernel).
Figures belong to the request that created them: a cell that ends while
another (concurrent mode) still awaits shows its own figures, not the
other's. Figures made while interactive mode is off (plt.ioff()) are shown
by show() only, as in ipykernel."""

import io

import matplotlib
from matplotlib import colors
from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase, _Backend
from matplotlib.backends.backend_agg import FigureCanvasAgg

from . import display
from .outputs import CURRENT

NAME = "module://akernel_runtime.mpl_backend"


class FigureManager(FigureManagerBase):
    def __init__(self, canvas, num):
        super().__init__(canvas, num)
        self.owner = CURRENT.get()  # the request that made the figure

    def show(self):
        """fig.show(): display it now."""
        show_figure(self.canvas.figure)


class FigureCanvas(FigureCanvasAgg):
    manager_class = FigureManager

    def draw_idle(self, *args, **kwargs):
        """Nothing to redraw on screen: a figure is rendered when shown
        (interactive mode would otherwise render it at every change)."""


def _is_transparent(color) -> bool:
    return colors.to_rgba(color)[3] < 0.5


def _metadata(figure) -> dict:
    """As ipykernel: a transparent figure whose tick labels are all light
    (or all dark) asks for a background to stay legible."""
    if not _is_transparent(figure.get_facecolor()):
        return {}
    labels = [label.get_color() for axes in figure.axes for axis in (axes.xaxis, axes.yaxis)
              for label in axis.get_ticklabels()]
    if not labels:
        return {}
    light = colors.to_rgba_array(labels)[:, :3].dot((0.299, 0.587, 0.114)) > 0.5
    if (light == light[0]).all():
        return {"image/png": {"needs_background": "dark" if light[0] else "light"}}
    return {}


def figure_data(figure):
    """(data, metadata): the figure as a mime bundle, PNG at its own size."""
    buffer = io.BytesIO()
    figure.canvas.print_figure(buffer, format="png", dpi=figure.dpi)
    # It was just drawn: anything changed from now on makes it stale again
    # (print_figure's restoring the dpi marks it stale for nothing).
    figure.stale = False
    figure._akernel_shown = True
    return {"image/png": buffer.getvalue(), "text/plain": repr(figure)}, _metadata(figure)


def show_figure(figure) -> None:
    """Display one figure in the current request's output."""
    data, metadata = figure_data(figure)
    display.publish_display_data(data, metadata)


def _belongs(manager, request) -> bool:
    """Is this figure the request's to show? Its own, or one whose request
    has ended (a Cell says it is done; any other request is synchronous and
    so over unless it is the current one)."""
    owner = getattr(manager, "owner", None)
    return owner is None or owner is request or getattr(owner, "done", True)


def _show_and_close(managers, unless_shown: bool) -> None:
    try:
        for manager in managers:
            figure = manager.canvas.figure
            if unless_shown and getattr(figure, "_akernel_shown", False) and not figure.stale:
                continue
            show_figure(figure)
    finally:
        for manager in managers:
            Gcf.destroy(manager)  # even if one failed to render: not again next cell


def _show(close=None, block=None):
    """plt.show(): show the current request's figures, then close them
    (close=False keeps them open)."""
    request = CURRENT.get()
    managers = [m for m in Gcf.get_all_fig_managers() if _belongs(m, request)]
    if not managers:
        return
    if close is False:
        for manager in managers:
            show_figure(manager.canvas.figure)
        return
    _show_and_close(managers, unless_shown=False)


def flush_figures(request) -> None:
    """At the end of a request: show and close the figures it left open.
    Registered with display.register_post_execute when this backend loads."""
    if not Gcf.figs or not matplotlib.is_interactive():
        return
    managers = [m for m in Gcf.get_all_fig_managers() if _belongs(m, request)]
    if managers:
        _show_and_close(managers, unless_shown=True)


@_Backend.export
class _BackendAkernel(_Backend):
    """Exports FigureCanvas, FigureManager, show, draw_if_interactive,
    new_figure_manager... as this module's names, as matplotlib expects."""

    backend_version = "akernel"
    FigureCanvas = FigureCanvas
    FigureManager = FigureManager
    show = staticmethod(_show)

    @staticmethod
    def draw_if_interactive():
        pass  # figures are shown when the cell ends


matplotlib.interactive(True)
display.register_post_execute(flush_figures)
