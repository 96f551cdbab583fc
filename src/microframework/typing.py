"""ASGI message and scope types, and the public aliases used in signatures.

Rule: this module imports nothing from the package at runtime. We define our own
TypedDicts rather than importing ``hypercorn.typing``, which would load h11 and h2.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from collections.abc import AsyncIterable
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import MutableMapping
from collections.abc import Sequence
from typing import Any
from typing import Literal
from typing import TYPE_CHECKING
from typing import TypeAlias
from typing import TypedDict
from typing import Union

from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

if TYPE_CHECKING:
    from os import PathLike

    from werkzeug.wrappers import Response as WerkzeugResponse

    from .testing import MicroframeworkClient
    from .testing import TestApp
    from .testing import TestHTTPConnection
    from .testing import TestWebsocketConnection
    from .wrappers.response import Response

    # Assigned, not imported ``as``, so that ``--strict`` counts them as exported.
    TestClientProtocol = MicroframeworkClient
    TestAppProtocol = TestApp
    TestHTTPConnectionProtocol = TestHTTPConnection
    TestWebsocketConnectionProtocol = TestWebsocketConnection
else:
    # Quart's protocol names are our test classes; at runtime (annotations) any will do.
    TestClientProtocol = TestAppProtocol = Any
    TestHTTPConnectionProtocol = TestWebsocketConnectionProtocol = Any


class ASGIVersions(TypedDict, total=False):
    spec_version: str
    version: Literal["2.0", "3.0"]


class _ConnectionScope(TypedDict):
    asgi: ASGIVersions
    http_version: str
    scheme: str
    path: str
    raw_path: bytes
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    extensions: dict[str, dict[object, object]]


class HTTPScope(_ConnectionScope):
    type: Literal["http"]
    method: str


class WebsocketScope(_ConnectionScope):
    type: Literal["websocket"]
    subprotocols: Iterable[str]


class LifespanScope(TypedDict):
    type: Literal["lifespan"]
    asgi: ASGIVersions


# Plain mappings keep the hot path free of casts; the TypedDicts document the contract.
# Mutable mappings, not dicts, as Starlette's: an app typed to take only a dict would
# not type-check where Starlette or FastAPI mount an ASGI app.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# What the app's entry points take: a server's TypedDict scope and events too (they are
# no MutableMapping), so the app passes to hypercorn's typed API as to Starlette's.
ServerScope = Mapping[str, Any]
ServerReceive = Callable[[], Awaitable[Mapping[str, Any]]]
ServerSend = Callable[[Any], Awaitable[None]]

HeaderValue: TypeAlias = str | list[str] | tuple[str, ...]
HeadersValue: TypeAlias = (
    Headers | Mapping[str, HeaderValue] | Sequence[tuple[str, HeaderValue]]
)
StatusCode = int
# streaming.md's writer body: ``async def body(write)``, each ``await write(chunk)`` one chunk.
BodyWrite = Callable[[Any], Awaitable[None]]
BodyWriter = Callable[[BodyWrite], Awaitable[Any]]
# Real unions, as Quart's: extensions build Callable[..., ResponseReturnValue] at runtime.
# Iterators, not iterables, as in Flask and Quart: a tuple must not pass for a body.
ResponseValue: TypeAlias = Union[  # the quoted names exist only for the checker
    "Response",
    "WerkzeugResponse",
    str,
    bytes,
    Mapping[str, Any],
    list[Any],
    AsyncIterable[bytes],
    AsyncIterable[str],
    Iterator[bytes],
    Iterator[str],
    HTTPException,
    BodyWriter,
]
ResponseReturnValue: TypeAlias = (
    ResponseValue
    | tuple[ResponseValue, HeadersValue]
    | tuple[ResponseValue, StatusCode]
    | tuple[ResponseValue, StatusCode, HeadersValue]
)

AfterRequestCallable = Callable[["Response"], "Response | Awaitable[Response]"]
BeforeRequestCallable = Callable[
    [], "ResponseReturnValue | None | Awaitable[ResponseReturnValue | None]"
]
TeardownCallable = Callable[[BaseException | None], "None | Awaitable[None]"]
ErrorHandlerCallable = Callable[
    [Any], "ResponseReturnValue | Awaitable[ResponseReturnValue]"
]
RouteCallable = Callable[..., "ResponseReturnValue | Awaitable[ResponseReturnValue]"]
TemplateContextProcessorCallable = Callable[
    [], "dict[str, Any] | Awaitable[dict[str, Any]]"
]
URLDefaultCallable = Callable[[str, dict[str, Any]], None]
URLValuePreprocessorCallable = Callable[[str | None, dict[str, Any] | None], None]
ShellContextProcessorCallable = Callable[[], dict[str, Any]]
# The rest of Quart's names, for code that annotates with them.
FilePath: TypeAlias = "bytes | str | PathLike[Any]"
HeaderName = str
AppOrBlueprintKey = str | None
ResponseTypes: TypeAlias = Union["Response", "WerkzeugResponse"]
WebsocketCallable = Callable[
    ..., "ResponseReturnValue | None | Awaitable[ResponseReturnValue | None]"
]
BeforeWebsocketCallable = BeforeRequestCallable
AfterWebsocketCallable = Callable[
    ["Response | None"], "Response | None | Awaitable[Response | None]"
]
BeforeServingCallable = Callable[[], "None | Awaitable[None]"]
AfterServingCallable = BeforeServingCallable
WhileServingCallable = Callable[[], "AsyncGenerator[None, None]"]
TemplateFilterCallable = Callable[..., Any]
TemplateGlobalCallable = Callable[..., Any]
TemplateTestCallable = Callable[..., bool]
