"""``dumps``/``loads``/``jsonify`` through the current app's JSON provider, or the
standard library outside an app context (as in Flask)."""

from __future__ import annotations

import json as _json
from typing import Any
from typing import IO
from typing import TYPE_CHECKING

from ..globals import _cv_app
from .provider import DefaultJSONProvider

if TYPE_CHECKING:
    from ..wrappers.response import Response


def dumps(obj: Any, **kwargs: Any) -> str:
    """Serialise *obj* with the current app's provider (or the stdlib)."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.dumps(obj, **kwargs)
    kwargs.setdefault("default", DefaultJSONProvider.default)
    return _json.dumps(obj, **kwargs)


def dump(obj: Any, fp: IO[str], **kwargs: Any) -> None:
    """Serialise *obj* into the text file *fp* (the provider's ``dump``)."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.dump(obj, fp, **kwargs)
    fp.write(dumps(obj, **kwargs))


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Parse JSON with the current app's provider (or the stdlib)."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.loads(s, **kwargs)
    return _json.loads(s, **kwargs)


def load(fp: IO[str] | IO[bytes], **kwargs: Any) -> Any:
    """Parse JSON from the file *fp* (the provider's ``load``)."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.load(fp, **kwargs)
    return loads(fp.read(), **kwargs)


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """A JSON response of the arguments (one value, a list of several, or keywords)."""
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError("jsonify needs an application context")
    return ctx.app.json.response(*args, **kwargs)
