"""Stand-in for IPython.display: display() and the common rich objects,
each shown through its _repr_*_ method as IPython's are."""

import base64
import json as _json
import mimetypes
import os

from .core.display_functions import (  # noqa: F401
    DisplayHandle,
    clear_output,
    display,
    publish_display_data,
    update_display,
)

__all__ = ["display", "clear_output", "update_display", "publish_display_data", "DisplayHandle",
           "DisplayObject", "HTML", "Markdown", "Latex", "SVG", "JSON", "Javascript", "Image",
           "Pretty", "Code", "display_html", "display_markdown", "display_latex", "display_svg",
           "display_json", "display_javascript", "display_png", "display_jpeg", "display_pretty"]


class DisplayObject:
    """Data from a string, a file or bytes, shown as one mime type."""

    def __init__(self, data=None, url=None, filename=None, metadata=None):
        if data is not None and isinstance(data, str) and os.path.isfile(data) and filename is None:
            filename, data = data, None
        self.url, self.filename, self.metadata = url, filename, metadata or {}
        if filename is not None:
            mode = "rb" if getattr(self, "binary", False) else "r"
            with open(filename, mode) as f:
                data = f.read()
        self.data = data

    def __repr__(self):
        return f"<IPython.core.display.{type(self).__name__} object>"


class TextDisplayObject(DisplayObject):
    pass


def _text_type(mime, method):
    def represent(self):
        return (self.data, self.metadata) if self.metadata else self.data

    return type(method.title().replace("_", ""), (TextDisplayObject,), {f"_repr_{method}_": represent})


HTML = _text_type("text/html", "html")
HTML.__name__ = "HTML"
Markdown = _text_type("text/markdown", "markdown")
Markdown.__name__ = "Markdown"
Latex = _text_type("text/latex", "latex")
Latex.__name__ = "Latex"
SVG = _text_type("image/svg+xml", "svg")
SVG.__name__ = "SVG"
Javascript = _text_type("application/javascript", "javascript")
Javascript.__name__ = "Javascript"


class Pretty(TextDisplayObject):
    def _repr_pretty_(self, p, cycle):
        p.text(self.data)

    def __repr__(self):
        return str(self.data)


class Code(TextDisplayObject):
    def __repr__(self):
        return str(self.data)


class JSON(DisplayObject):
    def __init__(self, data=None, url=None, filename=None, expanded=False, metadata=None, root="root"):
        if isinstance(data, str) and filename is None and not os.path.isfile(data):
            data = _json.loads(data)
        super().__init__(data, url, filename, metadata)
        if isinstance(self.data, str):
            self.data = _json.loads(self.data)
        self.metadata = {"expanded": expanded, "root": root, **self.metadata}

    def _repr_json_(self):
        return self.data, self.metadata


class Image(DisplayObject):
    binary = True

    def __init__(self, data=None, url=None, filename=None, format=None, embed=None, width=None,
                 height=None, metadata=None, **kwargs):
        if isinstance(data, str) and data.startswith(("http://", "https://")):
            url, data = data, None
        name = filename or (data if isinstance(data, str) else None) or url or ""
        guessed = mimetypes.guess_type(name)[0] if name else None
        self.format = (format or (guessed.split("/")[1] if guessed else "png")).lower().replace("jpg", "jpeg")
        super().__init__(data, url, filename, metadata)
        if isinstance(self.data, str) and os.path.isfile(self.data):
            with open(self.data, "rb") as f:
                self.data = f.read()
        self.width, self.height = width, height

    def _image_metadata(self):
        md = dict(self.metadata)
        if self.width:
            md["width"] = self.width
        if self.height:
            md["height"] = self.height
        return md

    def _repr_mimebundle_(self, include=None, exclude=None):
        if self.data is None and self.url:
            return {"text/html": f'<img src="{self.url}"/>', "text/plain": repr(self)}, {}
        mime = f"image/{self.format}"
        encoded = base64.b64encode(self.data).decode("ascii")
        md = self._image_metadata()
        return {mime: encoded, "text/plain": repr(self)}, ({mime: md} if md else {})


def _display_as(method):
    def show(*objs, raw=False, metadata=None):
        mime = {"html": "text/html", "markdown": "text/markdown", "latex": "text/latex",
                "svg": "image/svg+xml", "json": "application/json", "javascript": "application/javascript",
                "png": "image/png", "jpeg": "image/jpeg", "pretty": "text/plain"}[method]
        for obj in objs:
            if raw:
                publish_display_data({mime: obj}, metadata)
            else:
                display(obj, include=[mime], metadata=metadata)
    show.__name__ = f"display_{method}"
    return show


display_html = _display_as("html")
display_markdown = _display_as("markdown")
display_latex = _display_as("latex")
display_svg = _display_as("svg")
display_json = _display_as("json")
display_javascript = _display_as("javascript")
display_png = _display_as("png")
display_jpeg = _display_as("jpeg")
display_pretty = _display_as("pretty")
