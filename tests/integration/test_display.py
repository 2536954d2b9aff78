"""Rich output: _repr_*_ methods, _repr_mimebundle_, _ipython_display_,
display() as a builtin and from IPython.display (Debian's IPython, and the
built-in stand-in), display_id updates and clear_output."""

import base64

import pytest

REPRS = '''
class Rich:
    def _repr_html_(self): return "<b>html</b>"
    def _repr_markdown_(self): return "**md**"
    def _repr_svg_(self): return "<svg/>"
    def _repr_png_(self): return b"\\x89PNG\\r\\n\\x1a\\npng"
    def _repr_jpeg_(self): return b"\\xff\\xd8\\xffjpeg"
    def _repr_latex_(self): return "$x$"
    def _repr_json_(self): return {"a": [1, 2]}
    def __repr__(self): return "Rich()"
'''


def result_data(kernel, code):
    _, outs = kernel.run(code)
    (res,) = [m for m in outs if m["msg_type"] == "execute_result"]
    return res["content"]["data"]


def test_every_repr_method_gives_its_mime_type(kernel):
    kernel.run(REPRS)
    data = result_data(kernel, "Rich()")
    assert data["text/plain"] == "Rich()"
    assert data["text/html"] == "<b>html</b>"
    assert data["text/markdown"] == "**md**"
    assert data["image/svg+xml"] == "<svg/>"
    assert base64.b64decode(data["image/png"]) == b"\x89PNG\r\n\x1a\npng"
    assert base64.b64decode(data["image/jpeg"]) == b"\xff\xd8\xffjpeg"
    assert data["text/latex"] == "$x$"
    assert data["application/json"] == {"a": [1, 2]}


def test_mimebundle_and_metadata(kernel):
    kernel.run("class B:\n    def _repr_mimebundle_(self, include=None, exclude=None):\n"
               "        return {'text/html': '<p>b</p>', 'text/plain': 'B!'}, {'text/html': {'isolated': True}}")
    _, outs = kernel.run("B()")
    (res,) = outs
    assert res["content"]["data"] == {"text/html": "<p>b</p>", "text/plain": "B!"}
    assert res["content"]["metadata"] == {"text/html": {"isolated": True}}


def test_ipython_display_hook(kernel):
    _, outs = kernel.run("class D:\n    def _ipython_display_(self):\n        print('custom display')\n"
                         "display(D())")
    assert [(m["msg_type"], m["content"].get("text")) for m in outs] == [("stream", "custom display\n")]


def test_display_builtin_and_order_with_prints(kernel):
    kernel.run(REPRS)
    _, outs = kernel.run("print('before')\ndisplay(Rich(), 'plain')\nprint('after')")
    kinds = [(m["msg_type"], m["content"].get("text") or m["content"]["data"]["text/plain"]) for m in outs]
    assert kinds == [("stream", "before\n"), ("display_data", "Rich()"), ("display_data", "'plain'"),
                     ("stream", "after\n")]


@pytest.mark.parametrize("builtin_ipython", [False, True])
def test_ipython_display_module(kernel_factory, builtin_ipython):
    kernel = kernel_factory(builtin_ipython)
    _, outs = kernel.run("from IPython.display import display, HTML, Markdown, Image, JSON, Latex, SVG\n"
                         "display(HTML('<i>h</i>'), Markdown('*m*'), JSON({'k': 1}))\n"
                         "display(Image(b'\\x89PNG\\r\\n\\x1a\\nXX', format='png'))")
    datas = [m["content"]["data"] for m in outs]
    assert datas[0]["text/html"] == "<i>h</i>"
    assert datas[1]["text/markdown"] == "*m*"
    assert datas[2]["application/json"] == {"k": 1}
    assert base64.b64decode(datas[3]["image/png"]) == b"\x89PNG\r\n\x1a\nXX"
    version = kernel.result("import IPython; IPython.__version__")
    assert ("akernel-gateway" in version) == builtin_ipython


@pytest.fixture
def kernel_factory(request):
    from conftest import kernel_name
    from kernel_client import Kernel

    kernels = []

    def make(builtin_ipython):
        env = {"AKERNEL_GATEWAY_BUILTIN_IPYTHON": "1"} if builtin_ipython else {}
        kernels.append(Kernel(kernel_name(), extra_env=env))
        return kernels[-1]

    yield make
    for k in kernels:
        k.stop()


def test_display_id_update(kernel):
    msg_id = kernel.submit("h = display('first', display_id=True)\nh.update('second')\n"
                           "from IPython.display import update_display\nupdate_display('third', display_id=h.display_id)")
    kernel.finish(msg_id)
    outs = kernel.outputs(msg_id)
    assert [m["msg_type"] for m in outs] == ["display_data", "update_display_data", "update_display_data"]
    ids = {m["content"]["transient"]["display_id"] for m in outs}
    assert len(ids) == 1
    assert [m["content"]["data"]["text/plain"] for m in outs] == ["'first'", "'second'", "'third'"]


def test_update_from_a_later_cell(kernel):
    first = kernel.submit("h = display('v1', display_id='progress')")
    kernel.finish(first)
    _, outs = kernel.run("h.update('v2')")
    assert outs[0]["msg_type"] == "update_display_data"
    assert outs[0]["content"]["transient"] == {"display_id": "progress"}


def test_clear_output(kernel):
    _, outs = kernel.run("from IPython.display import clear_output\nprint('x')\nclear_output(wait=True)\n"
                         "clear_output()")
    assert [(m["msg_type"], m["content"].get("wait")) for m in outs] == [
        ("stream", None), ("clear_output", True), ("clear_output", False)]


def test_get_ipython(kernel):
    assert kernel.result("get_ipython().__class__.__name__") == "'ZMQInteractiveShell'"
    assert kernel.result("from IPython import get_ipython as g; g() is get_ipython()") == "True"
    assert kernel.result("q = 5\nget_ipython().user_ns['q']") == "5"


def test_user_expressions_are_rich(kernel):
    kernel.run(REPRS)
    reply, _ = kernel.execute("pass", user_expressions={"r": "Rich()"})
    assert reply["user_expressions"]["r"]["data"]["text/html"] == "<b>html</b>"
