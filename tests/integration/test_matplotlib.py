"""matplotlib figures shown inline, as with ipykernel: plt.show() and
figures left open at the end of a cell become one image/png display_data
each (base64 PNG of the figure's size), then are closed; nothing is shown
twice, and nothing without a figure."""

import base64
import struct
import uuid

import pytest

from conftest import kernel_name
from kernel_client import Kernel

pytest.importorskip("matplotlib")

BACKEND = "module://akernel_runtime.mpl_backend"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def mpl(request):
    """A kernel with the backend selected explicitly (mode from @pytest.mark.mode)."""
    mode = request.node.get_closest_marker("mode")
    k = Kernel(kernel_name(mode.args[0] if mode else ""), extra_env={"MPLBACKEND": BACKEND})
    yield k
    k.stop()


@pytest.fixture
def plain_kernel(monkeypatch):
    """A kernel started as a frontend starts it: no MPLBACKEND of ours."""
    monkeypatch.delenv("MPLBACKEND", raising=False)
    k = Kernel(kernel_name())
    yield k
    k.stop()


def png_size(data: dict):
    """(width, height) of the base64 PNG in a display_data's data."""
    raw = base64.b64decode(data["image/png"], validate=True)
    assert raw.startswith(PNG_SIGNATURE), raw[:16]
    assert raw[12:16] == b"IHDR"
    return struct.unpack(">II", raw[16:24])


def images(outs):
    return [m for m in outs if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]]


def displays(outs):
    return [m for m in outs if m["msg_type"] in ("display_data", "update_display_data", "execute_result")]


def test_show_displays_one_png_and_closes_the_figure(mpl):
    stdout, outs = mpl.run("import matplotlib.pyplot as plt\n"
                           "plt.figure(figsize=(4, 3), dpi=50)\n"
                           "plt.plot([1, 3, 2])\n"
                           "plt.show()\n"
                           "print('open:', plt.get_fignums(), plt.isinteractive())")
    assert stdout == "open: [] True\n"
    assert [m["msg_type"] for m in outs] == ["display_data", "stream"]  # shown by show(), not again at the end
    data = outs[0]["content"]["data"]
    assert set(data) == {"image/png", "text/plain"}
    assert data["text/plain"] == "<Figure size 200x150 with 1 Axes>"
    assert png_size(data) == (200, 150)


def test_figure_left_open_is_shown_once_at_the_end_of_the_cell(mpl):
    stdout, outs = mpl.run("import matplotlib.pyplot as plt\n"
                           "fig = plt.figure(figsize=(3, 2), dpi=40)\n"
                           "plt.plot([1, 0])\n"
                           "print('drawn')")
    assert [m["msg_type"] for m in outs] == ["stream", "display_data"]  # after what the cell printed
    assert png_size(outs[1]["content"]["data"]) == (120, 80)
    assert mpl.result("plt.get_fignums()") == "[]"
    # a later cell does not show it again, nor does one that calls show()
    assert displays(mpl.run("x = 1")[1]) == []
    assert displays(mpl.run("plt.show()")[1]) == []


def test_two_figures_give_two_pngs_in_order(mpl):
    _, outs = mpl.run("import matplotlib.pyplot as plt\n"
                      "plt.figure(figsize=(2, 1), dpi=50)\n"
                      "plt.plot([1, 2])\n"
                      "plt.figure(figsize=(3, 2), dpi=50)\n"
                      "plt.plot([2, 1]);")
    assert [png_size(m["content"]["data"]) for m in images(outs)] == [(100, 50), (150, 100)]
    assert len(displays(outs)) == 2


def test_nothing_is_shown_without_a_figure(mpl):
    _, outs = mpl.run("import matplotlib.pyplot as plt\nplt.show()")
    assert outs == []
    _, outs = mpl.run("plt.plot([1, 2]);\nplt.show()")
    assert len(images(outs)) == 1
    assert mpl.run("pass")[1] == []  # an empty cell after a shown figure shows nothing
    assert mpl.run("plt.show()")[1] == []


def test_fig_show_is_not_repeated_unless_the_figure_changes(mpl):
    _, outs = mpl.run("import matplotlib.pyplot as plt\n"
                      "fig = plt.figure(figsize=(2, 2), dpi=50)\n"
                      "plt.plot([1, 2])\n"
                      "fig.show()")
    assert len(images(outs)) == 1  # shown by fig.show(), closed unchanged at the end
    assert mpl.result("plt.get_fignums()") == "[]"
    _, outs = mpl.run("fig = plt.figure(figsize=(2, 2), dpi=50)\n"
                      "plt.plot([1, 2])\n"
                      "fig.show()\n"
                      "plt.title('changed after show')")
    assert len(images(outs)) == 2  # changed after it was shown: shown again at the end


def test_figures_made_with_interactive_mode_off_wait_for_show(mpl):
    # (as with ipykernel, loading the backend, at the first figure, turns
    # interactive mode on: plt.ioff() is for after that)
    mpl.run("import matplotlib.pyplot as plt\nplt.close(plt.figure())")
    _, outs = mpl.run("plt.ioff()\n"
                      "plt.figure(figsize=(1, 1), dpi=50)\n"
                      "plt.plot([1, 2]);")
    assert outs == []
    _, outs = mpl.run("plt.show()")
    assert [png_size(m["content"]["data"]) for m in images(outs)] == [(50, 50)]
    _, outs = mpl.run("plt.ion()\nplt.plot([1]);")
    assert len(images(outs)) == 1


def test_figure_with_bad_data_raises_once(mpl):
    reply, outs = mpl.execute("import matplotlib.pyplot as plt, matplotlib.artist\n"
                              "class Bad(matplotlib.artist.Artist):\n"
                              "    def draw(self, renderer):\n"
                              "        raise RuntimeError('cannot draw this')\n"
                              "plt.figure()\n"
                              "plt.gca().add_artist(Bad())")
    # rendering at the end of the cell fails: the cell says so
    assert reply["status"] == "error" and reply["evalue"] == "cannot draw this"
    assert mpl.result("plt.get_fignums()") == "[]"  # and the figure does not fail every later cell
    assert mpl.execute("1")[0]["status"] == "ok"


@pytest.mark.mode("concurrent")
def test_a_cell_shows_its_own_figures_not_those_of_a_cell_still_running(mpl):
    mpl.run("import matplotlib.pyplot as plt\ngate = asyncio.Event()")
    slow = mpl.submit("plt.figure(figsize=(1, 1), dpi=50)\n"
                      "plt.plot([1, 2])\n"
                      "print('drawn')\n"
                      "await gate.wait()")
    mpl.wait_iopub(slow, lambda m: m["msg_type"] == "stream" and "drawn" in m["content"]["text"])
    _, outs = mpl.run("plt.figure(figsize=(2, 2), dpi=50)\nplt.plot([2, 1])\nplt.show()\ngate.set()")
    assert [png_size(m["content"]["data"]) for m in images(outs)] == [(100, 100)]
    _, outs = mpl.finish(slow)
    assert [png_size(m["content"]["data"]) for m in images(outs)] == [(50, 50)]


def test_figure_drawn_by_a_comm_callback_goes_to_that_message(mpl):
    mpl.run("import comm, matplotlib.pyplot as plt\n"
            "def target(c, msg):\n"
            "    def on_msg(msg):\n"
            "        plt.figure(figsize=(2, 1), dpi=50)\n"
            "        plt.plot([msg['content']['data']['y'], 0])\n"
            "    c.on_msg(on_msg)\n"
            "comm.get_comm_manager().register_target('akg.plot', target)")
    comm_id = uuid.uuid4().hex
    opening = mpl.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "akg.plot", "data": {}})
    mpl.kc.shell_channel.send(opening)
    mpl.wait_idle(opening["header"]["msg_id"])
    msg = mpl.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"y": 3}})
    mpl.kc.shell_channel.send(msg)
    shown = mpl.wait_iopub(msg["header"]["msg_id"], lambda m: m["msg_type"] == "display_data")
    assert png_size(shown["content"]["data"]) == (100, 50)
    mpl.wait_idle(msg["header"]["msg_id"])
    assert mpl.result("plt.get_fignums()") == "[]"


def test_inline_backend_is_the_default(plain_kernel):
    assert plain_kernel.result("import matplotlib\nmatplotlib.get_backend()") == repr(BACKEND)
    _, outs = plain_kernel.run("import matplotlib.pyplot as plt\nplt.plot([1, 2]);")
    assert len(images(outs)) == 1


def test_notebook_saves_the_png_in_its_cell(monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)
    cells = [
        "import matplotlib.pyplot as plt",
        "plt.figure(figsize=(4, 3), dpi=50)\nplt.plot([1, 2, 3]);",
        "print('no plot here')",
        "fig = plt.figure(figsize=(2, 2), dpi=50)\nplt.plot([3, 1])\nplt.show()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name=kernel_name(), timeout=60).execute()
    out = [c.outputs for c in nb.cells]
    assert out[0] == []
    assert [o.output_type for o in out[1]] == ["display_data"]
    assert png_size(out[1][0].data) == (200, 150)
    assert out[1][0].data["text/plain"] == "<Figure size 200x150 with 1 Axes>"
    assert [o.output_type for o in out[2]] == ["stream"]
    assert [o.output_type for o in out[3]] == ["display_data"]
    assert png_size(out[3][0].data) == (100, 100)
    nbformat.validate(nb)


def test_a_figure_as_the_last_expression_shows_its_picture(kernel):
    """`fig` at the end of a cell shows the PNG once (not again at the end)."""
    _, outs = kernel.run("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\nfig")
    pngs = [m for m in outs if "image/png" in m["content"].get("data", {})]
    assert len(pngs) == 1 and pngs[0]["msg_type"] == "execute_result"
    assert base64.b64decode(pngs[0]["content"]["data"]["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
