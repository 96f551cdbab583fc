"""``datastructures.py``: werkzeug's datastructures under Quart's module name, for ports.

Rule: re-exports only; they are werkzeug's own classes, as Flask uses them.
"""

from __future__ import annotations

from werkzeug.datastructures import Accept
from werkzeug.datastructures import Authorization
from werkzeug.datastructures import CallbackDict
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.datastructures import ContentRange
from werkzeug.datastructures import ETags
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import Headers
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.datastructures import MIMEAccept
from werkzeug.datastructures import MultiDict
from werkzeug.datastructures import Range
from werkzeug.datastructures import RequestCacheControl
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.datastructures import WWWAuthenticate

__all__ = [
    "Accept",
    "Authorization",
    "CallbackDict",
    "CombinedMultiDict",
    "ContentRange",
    "ETags",
    "FileStorage",
    "Headers",
    "ImmutableMultiDict",
    "MIMEAccept",
    "MultiDict",
    "Range",
    "RequestCacheControl",
    "ResponseCacheControl",
    "WWWAuthenticate",
]
