"""Type-checked, never run: code from our docs that failed ``mypy --strict``.

Found by running every docs block under ``mypy --strict`` (session 16).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import MutableMapping
from typing import Any
from typing import assert_type

from microframework import copy_current_app_context
from microframework import copy_current_request_context
from microframework import copy_current_websocket_context
from microframework import Microframework

app = Microframework(__name__)

# Starlette's and FastAPI's ASGI types (starlette.types), spelled out: lifespan.md
# mounts the app in FastAPI with api.mount("/legacy", legacy).
StarletteScope = MutableMapping[str, Any]
StarletteMessage = MutableMapping[str, Any]
StarletteReceive = Callable[[], Awaitable[StarletteMessage]]
StarletteSend = Callable[[StarletteMessage], Awaitable[None]]
StarletteApp = Callable[
    [StarletteScope, StarletteReceive, StarletteSend], Awaitable[None]
]

mounted: StarletteApp = app


async def a_copied_function_can_become_a_task() -> None:
    # contexts.md: asyncio.create_task(send_welcome()) on a copied coroutine function.
    @copy_current_request_context
    async def send_welcome(name: str) -> int:
        return len(name)

    task = asyncio.create_task(send_welcome("ada"))
    assert_type(await task, int)

    @copy_current_app_context
    def in_thread() -> str:
        return "sync"

    assert_type(await in_thread(), str)

    @copy_current_websocket_context
    async def pump() -> None:
        return None

    await asyncio.create_task(pump())
