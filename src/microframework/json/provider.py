"""The JSON provider (``app.json``): values to JSON text and responses, and back.

Rule: imports nothing from the package at runtime and reads only ``app.debug`` and
``app.response_class``. Decoding errors propagate; the request turns them into a 400."""

from __future__ import annotations

import dataclasses
import decimal
import json
import uuid
from datetime import date
from inspect import iscoroutine
from typing import Any
from typing import IO
from typing import Protocol
from typing import TYPE_CHECKING

from werkzeug.http import http_date

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..wrappers.response import Response


class _JSONApp(Protocol):
    @property
    def debug(self) -> bool: ...
    @property
    def response_class(self) -> Callable[..., Response]: ...


class JSONProvider:
    """Base class for JSON providers: subclass it, implement ``dumps`` and ``loads``."""

    mimetype = "application/json"

    def __init__(self, app: _JSONApp) -> None:
        # A cycle is cheaper than a weakref proxy on every response.
        self._app = app

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise *obj* to a JSON string."""
        raise NotImplementedError

    def dump(self, obj: Any, fp: IO[str], **kwargs: Any) -> None:
        """Serialise *obj* and write it to the text file *fp*."""
        fp.write(self.dumps(obj, **kwargs))

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Deserialise the JSON document *s*."""
        raise NotImplementedError

    def load(self, fp: IO[str] | IO[bytes], **kwargs: Any) -> Any:
        """Read the file *fp* and deserialise its contents."""
        return self.loads(fp.read(), **kwargs)

    def _response_value(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # jsonify(x) -> x, jsonify(a, b) -> [a, b], jsonify(k=v) -> {"k": v},
        # jsonify() -> None (serialised as null).
        if args and kwargs:
            raise TypeError(
                "JSON response takes positional or keyword arguments, not both;"
                f" got {len(args)} positional and keyword(s) {sorted(kwargs)}"
            )
        if len(args) == 1:
            return args[0]
        if args:
            return list(args)
        if kwargs:
            return kwargs
        return None

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """Serialise the arguments like ``jsonify`` and wrap them in a response."""
        value = self._response_value(args, kwargs)
        return self._app.response_class(self.dumps(value), mimetype=self.mimetype)


def _default(o: Any) -> Any:
    # datetime is a date too; HTTP dates are what Flask emits, so clients parse them.
    if isinstance(o, date):
        return http_date(o)
    if isinstance(o, decimal.Decimal | uuid.UUID):
        return str(o)
    # is_dataclass is also true for the class itself, which asdict rejects.
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "__html__"):
        return str(o.__html__())
    if iscoroutine(o):  # the commonest slip of a port: jsonify(request.json)
        o.close()
        raise TypeError("a coroutine is not JSON serializable: a missing 'await'?")
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


class DefaultJSONProvider(JSONProvider):
    """JSON through the standard library, extended for dates, ``Decimal``, ``UUID``,
    dataclasses and ``__html__``; configured by the class attributes."""

    default: Callable[[Any], Any] = staticmethod(_default)
    ensure_ascii = True
    sort_keys = True
    #: ``None``: compact responses unless ``app.debug``; ``True``/``False`` force it.
    compact: bool | None = None

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise *obj* with :func:`json.dumps` and this provider's settings."""
        if kwargs == _COMPACT and type(self).dumps is _DEFAULT_DUMPS:  # the session's
            return self._encoder(False)(obj)
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return json.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Deserialise *s* with :func:`json.loads`; errors propagate."""
        return json.loads(s, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """Like :meth:`JSONProvider.response`, indented per ``compact``."""
        value = self._response_value(args, kwargs)
        return self._app.response_class(
            self.response_text(value), mimetype=self.mimetype
        )

    def response_text(self, value: Any) -> str:
        """The body :meth:`response` sends for *value*: its JSON and a newline."""
        pretty = self.compact is False or (self.compact is None and self._app.debug)
        # As in Flask, an own dumps() writes it: a subclass's, the instance's, or one
        # patched onto the class later (mock.patch.object), so looked up per call.
        if type(self).dumps is not _DEFAULT_DUMPS or "dumps" in self.__dict__:
            shape = {"indent": 2} if pretty else {"separators": (",", ":")}
            return f"{self.dumps(value, **shape)}\n"
        return f"{self._encoder(pretty)(value)}\n"

    def _encoder(self, pretty: bool) -> Callable[[Any], str]:
        # json.dumps builds an encoder per call for non-default arguments; keep one per
        # combination of settings (they may change at runtime).
        key = (pretty, self.sort_keys, self.ensure_ascii, self.default)
        encoders: dict[tuple[Any, ...], Callable[[Any], str]] = (
            self.__dict__.setdefault("_encoders", {})
        )
        try:
            encode = encoders.get(key)
        except TypeError:  # an unhashable default (a dataclass with __call__): unkept
            return self._new_encoder(pretty)
        if encode is None:
            encode = encoders[key] = self._new_encoder(pretty)
        return encode

    def _new_encoder(self, pretty: bool) -> Callable[[Any], str]:
        encode = None if pretty else _compact_encoder(self)
        if encode is None:
            encode = json.JSONEncoder(
                default=self.default,
                ensure_ascii=self.ensure_ascii,
                sort_keys=self.sort_keys,
                indent=2 if pretty else None,
                separators=None if pretty else (",", ":"),
            ).encode
        return encode


_COMPACT = {"separators": (",", ":")}
_DEFAULT_DUMPS = DefaultJSONProvider.dumps


def _compact_encoder(provider: DefaultJSONProvider) -> Callable[[Any], str] | None:
    # JSONEncoder.encode minus its per-call set-up (still a fresh circular-reference
    # check per call, as encode does).
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None  # no C accelerator: the plain encoder
    if provider.ensure_ascii:
        strings = json.encoder.encode_basestring_ascii
    else:
        strings = json.encoder.encode_basestring
    default, sort_keys = provider.default, provider.sort_keys

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return strings(value)
        iterencode = make({}, default, strings, None, ":", ",", sort_keys, False, True)
        return "".join(iterencode(value, 0))

    return encode
