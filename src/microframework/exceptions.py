"""Errors werkzeug does not have.

Connection events, not bad input (which is a werkzeug ``HTTPException`` with a 4xx)::

    asyncio.CancelledError           (Quart cancels the handler of a client that left)
     ├── ClientDisconnected          the peer went away mid-request (no response is sent)
     └── WebsocketDisconnect         the websocket peer closed; carries ``code`` and ``reason``
    Exception
     └── werkzeug HTTPException
          ├── BadJSONMessage (400)   a websocket message receive_json can't parse
          │                          (also a json.JSONDecodeError)
          ├── RequestTimeout (408)   BODY_TIMEOUT expired while reading the body
          └── ResponseTimeout (504)  RESPONSE_TIMEOUT expired while the view ran
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import GatewayTimeout
from werkzeug.exceptions import RequestTimeout


class ClientDisconnected(asyncio.CancelledError):
    """The HTTP client disconnected before the exchange finished (a ``CancelledError``,
    as for :class:`WebsocketDisconnect`)."""


class WebsocketDisconnect(asyncio.CancelledError):
    """The websocket peer closed the connection.

    A ``CancelledError``: Quart cancels a handler whose client left, so cleanup that
    Quart's guides put in ``except asyncio.CancelledError:`` runs here too."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class BodyTimeout(RequestTimeout):
    """The request body did not arrive within ``BODY_TIMEOUT``."""

    description = "The request body was not received in time."


class ResponseTimeout(GatewayTimeout):
    """The view did not produce a response within ``RESPONSE_TIMEOUT``."""

    description = "The server did not produce a response in time."


class BadJSONMessage(json.JSONDecodeError, BadRequest):
    """A message ``receive_json`` can't parse: the client's fault, so left unhandled
    it is a 400 (no ERROR log, an ``errorhandler(400)`` runs), not a 500; still the
    ``JSONDecodeError`` (a ``ValueError``) that Quart raises there."""

    __str__ = BaseException.__str__  # the parser's words, as Quart's error says them
    __repr__ = BaseException.__repr__

    def __reduce__(self) -> tuple[type[BadJSONMessage], tuple[str], dict[str, Any]]:
        return type(self), (str(self),), dict(vars(self))  # copy and pickle, whole

    def __init__(self, reason: str, error: ValueError | None = None) -> None:
        ValueError.__init__(self, reason)
        self.msg, self.doc, self.pos, self.lineno, self.colno = reason, "", 0, 1, 1
        vars(self).update(vars(error) if error is not None else {})
        self.description, self.response = reason, None
