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
