"""Type-checked, never run: typed user code that failed or passed wrongly (session 32).

``mypy`` checks this file with the project's configuration (``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypedDict

from microframework import Response
from microframework.sse import event_stream


class Tick(TypedDict):
    n: int


async def ticks() -> AsyncIterator[Tick]:
    yield {"n": 1}


def an_event_stream_of_typed_dicts() -> Response:
    # A source yielding a TypedDict was refused: it is no dict[str, Any] (typing 9,
    # session 31); any mapping is sent as JSON.
    return event_stream(ticks())
