"""Rich display: objects become mime bundles (through their _repr_*_
methods, _repr_mimebundle_ or _ipython_display_), sent as display_data,
update_display_data (display_id) or clear_output to the current request.

This module is also what `display()` (a builtin in the kernel),
IPython.display's functions and the get_ipython() shim call."""

import base64
import inspect
import sys
import uuid

from . import outputs
from .outputs import CURRENT

# (mime type, method), in the order IPython tries them.
REPR_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
    ("application/javascript", "_repr_javascript_"),
    ("application/pdf", "_repr_pdf_"),
)
BINARY_TYPES = {"image/png", "image/jpeg", "application/pdf"}

_post_execute = []


def register_post_execute(callback) -> None:
    """Call callback(cell) when a cell has run, before its reply."""
    if callback not in _post_execute:
        _post_execute.append(callback)


def post_execute(cell) -> None:
    for callback in list(_post_execute):
        callback(cell)


def _real_method(obj, name):
    """obj.name if it is a real method: not on a class, not conjured up by
    a __getattr__ that answers every name (as IPython checks)."""
    if inspect.isclass(obj):
        return None
    try:
        method = getattr(obj, name, None)
        if method is None or getattr(obj, "_akernel_no_such_method_xyz", None) is not None:
            return None
    except Exception:
        return None
    return method if callable(method) else None


def _encode(mime: str, value):
    if mime in BINARY_TYPES and isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def format_object(obj, include=None, exclude=None):
    """(data, metadata) mime bundles for obj; text/plain is always there."""
    if type(obj).__module__ == "matplotlib.figure":  # a Figure: its picture
        from . import mpl_backend

        data, metadata = (dict(d) for d in mpl_backend.figure_data(obj))
    else:
        data, metadata = _bundle(obj, include, exclude)
    if "text/plain" not in data:
        data["text/plain"] = repr(obj)
    data = {mime: _encode(mime, value) for mime, value in data.items()
            if (include is None or mime in include) and (exclude is None or mime not in exclude)}
    return data, metadata


def _bundle(obj, include, exclude):
    """What obj's _repr_mimebundle_ and _repr_*_ methods give."""
    data, metadata = {}, {}
    bundle_method = _real_method(obj, "_repr_mimebundle_")
    if bundle_method is not None:
        try:
            bundle = bundle_method(include=include, exclude=exclude)
        except TypeError:
            bundle = bundle_method()
        if isinstance(bundle, tuple):
            bundle, md = bundle
            metadata.update(md or {})
        data.update(bundle or {})
    for mime, name in REPR_METHODS:
        if mime in data:
            continue
        method = _real_method(obj, name)
        if method is None:
            continue
        value = method()
        if isinstance(value, tuple) and len(value) == 2:
            value, md = value
            if md:
                metadata[mime] = md
        if value is not None:
            data[mime] = value
    return data, metadata


# Values that have no _repr_*_ methods: shown by repr alone, without looking.
_PLAIN_TYPES = frozenset({int, float, complex, bool, str, bytes, list, tuple, dict, set, frozenset,
                          type(None), range})


def format_plain_or_rich(value):
    if type(value) in _PLAIN_TYPES:
        return {"text/plain": repr(value)}, {}
    return format_object(value)


def displayhook(value):
    """sys.displayhook: the value of a cell's last expression."""
    if value is None:
        return
    request = CURRENT.get()
    if request is None:
        sys.__displayhook__(value)
        return
    ns = request.session.namespace
    ns["___"], ns["__"], ns["_"] = ns.get("__"), ns.get("_"), value
    data, metadata = format_plain_or_rich(value)
    if request.history is not None:
        request.history[2] = data.get("text/plain")
    if not request.out:
        return
    if len(data) == 1 and not metadata:  # text/plain only: encoded by hand, it is hot
        outputs.send_raw("iopub", request.req, "execute_result",
                         f'{{"execution_count":{request.count},'
                         f'"data":{{"text/plain":{outputs.json_string(data["text/plain"])}}},"metadata":{{}}}}')
    else:
        outputs.send_iopub(request.req, "execute_result",
                           {"execution_count": request.count, "data": data, "metadata": metadata})


def publish_display_data(data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
    """Send display_data (or update_display_data) to the current request."""
    request = CURRENT.get()
    if request is None or not request.out:
        return
    content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
    binary = {k: v for k, v in content["data"].items() if isinstance(v, (bytes, bytearray))}
    for mime, value in binary.items():
        content["data"][mime] = _encode(mime, value)
    outputs.send_iopub(request.req, "update_display_data" if update else "display_data", content)


def display(*objs, include=None, exclude=None, metadata=None, transient=None, display_id=None,
            raw=False, clear=False, update=False, **kwargs):
    """IPython's display(): show each object as rich output in the cell."""
    if display_id is True:
        display_id = uuid.uuid4().hex
    transient = dict(transient or {})
    if display_id:
        transient["display_id"] = display_id
    if clear:
        clear_output(wait=True)
    for obj in objs:
        if raw:
            publish_display_data(obj, metadata, transient=transient, update=update)
            continue
        show = _real_method(obj, "_ipython_display_")
        if show is not None:
            show()
            continue
        data, md = format_object(obj, include, exclude)
        if metadata:
            md.update(metadata)
        publish_display_data(data, md, transient=transient, update=update)
    if display_id:
        return DisplayHandle(display_id)
    return None


def update_display(obj, *, display_id, **kwargs):
    """Replace what was shown with this display_id."""
    kwargs["update"] = True
    display(obj, display_id=display_id, **kwargs)


def clear_output(wait=False):
    request = CURRENT.get()
    if request is not None and request.out:
        outputs.send_iopub(request.req, "clear_output", {"wait": bool(wait)})


class DisplayHandle:
    """What display(..., display_id=True) returns: update it in place."""

    def __init__(self, display_id=None):
        self.display_id = display_id or uuid.uuid4().hex

    def __repr__(self):
        return f"<{type(self).__name__} display_id={self.display_id}>"

    def display(self, obj, **kwargs):
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj, **kwargs):
        update_display(obj, display_id=self.display_id, **kwargs)
