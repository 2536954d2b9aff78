"""nbclient runs a notebook with the kernelspec; the saved outputs are what
a user of JupyterLab would see."""

import nbformat
from nbclient import NotebookClient


def test_notebook_outputs():
    cells = [
        "x = 21",
        "print('hello')\nx * 2",
        "import sys\nsys.stderr.write('careful\\n');",
        "await asyncio.sleep(0.01)\n'async works'",
        "1 / 0",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(nb, kernel_name="akernel", timeout=60, allow_errors=True)
    client.execute()
    out = [c.outputs for c in nb.cells]
    assert out[0] == []
    assert [o.output_type for o in out[1]] == ["stream", "execute_result"]
    assert out[1][0].text == "hello\n" and out[1][1].data["text/plain"] == "42"
    assert out[2][0].name == "stderr" and out[2][0].text == "careful\n"
    assert out[3][0].data["text/plain"] == "'async works'"
    assert out[4][0].output_type == "error" and out[4][0].ename == "ZeroDivisionError"
    assert [c.execution_count for c in nb.cells] == [1, 2, 3, 4, 5]
    nbformat.validate(nb)


def test_notebook_with_rich_output():
    """Streams, fd-level output, HTML, matplotlib figures, magics: each
    output saved in the cell that made it. (Widgets are tested through the
    protocol in test_comms.py: nbclient 0.7 reads widget protocol 2, while
    Debian bookworm's ipywidgets is 6.0, protocol 1.)"""
    import base64

    cells = [
        "print('hello')\nimport os; os.write(1, b'from fd\\n');",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar([1, 2], [3, 4])",
        "%time total = sum(range(1000))\n!echo shell says hi",
        "import sys; print('to stderr', file=sys.stderr)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="akernel", timeout=60).execute()
    out = [c.outputs for c in nb.cells]
    assert "".join(o.text for o in out[0]) == "hello\nfrom fd\n"
    assert out[1][0].data["text/html"] == "<b>bold</b>"
    for i in (2, 3):
        (png,) = [o for o in out[i] if "image/png" in o.get("data", {})]
        assert base64.b64decode(png.data["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    text = "".join(o.get("text", "") for o in out[4])
    assert "Wall time" in text and "shell says hi\n" in text
    assert out[5][0].name == "stderr" and out[5][0].text == "to stderr\n"
    nbformat.validate(nb)
