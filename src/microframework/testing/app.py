"""``TestApp``: run an app's ASGI lifespan around a block of tests.

Rule: the real ``lifespan`` protocol, the app in its own task, each phase under a
timeout. Any failure is a ``LifespanError``; the task never outlives ``async with``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from typing import TYPE_CHECKING

from ..signals import got_serving_exception
from ..typing import Message
from ..typing import Scope
from .connections import Mailbox
from .connections import wait_owned

if TYPE_CHECKING:
    from ..app import Microframework
    from .client import MicroframeworkClient


class LifespanError(Exception):
    """The app failed lifespan startup or shutdown; the message says how."""


class LifespanTimeout(LifespanError, TimeoutError):
    """A lifespan phase ran out of time (a ``TimeoutError`` too, as Quart raises)."""


#: Seconds test_app() waits for startup, and for shutdown (Quart's name; its 6 s).
DEFAULT_TIMEOUT = 60


class TestApp:
    """``async with TestApp(app) as test_app:`` starts the app, then shuts it down."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(
        self,
        app: Microframework,
        startup_timeout: float = DEFAULT_TIMEOUT,
        shutdown_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._state: dict[str, Any] = {}  # the lifespan scope's, as a server keeps it
        self._reset()

    def _reset(self) -> None:
        # Each serving period afresh: a TestApp made once (a fixture) runs again.
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: Mailbox[Message] = Mailbox()
        self._task: asyncio.Task[None] | None = None
        self._state.clear()  # not replaced: a client made before follows the next period

    async def __aenter__(self) -> TestApp:
        await self.startup()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def test_client(self) -> MicroframeworkClient:
        """The app's test client; its requests carry the lifespan state."""
        client = self.app.test_client()
        client.lifespan_state = self._state
        return client

    async def startup(self) -> None:
        """Start the lifespan task and wait for ``lifespan.startup.complete``."""
        if self._task is not None:
            raise RuntimeError(
                "this TestApp has already been started; shut it down first"
            )
        asgi = {"version": "3.0", "spec_version": "2.0"}
        scope: Scope = {"type": "lifespan", "asgi": asgi, "state": self._state}
        task = self._task = asyncio.create_task(self._run_app(scope))
        mailbox = self._from_app  # this period's: the task may end after a _reset
        task.add_done_callback(lambda _task: mailbox.close())
        try:
            await self._run_phase(task, "startup", self.startup_timeout)
        except BaseException:
            await _stop(task)
            self._reset()
            raise

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown``, wait for the reply and for the app to return."""
        if self._task is None:
            raise RuntimeError("this TestApp has not been started")
        try:
            await self._run_phase(self._task, "shutdown", self.shutdown_timeout)
        finally:
            error = await _stop(self._task)
            self._reset()
        if error is not None:
            raise LifespanError(f"the app raised {error!r} after shutdown") from error

    async def _run_app(self, scope: Scope) -> None:
        await self.app(scope, self._to_app.get, self._asgi_send)

    async def _asgi_send(self, message: Message) -> None:
        self._from_app.put(message)

    async def _run_phase(
        self, task: asyncio.Task[None], phase: str, timeout: float
    ) -> None:
        self._to_app.put_nowait({"type": f"lifespan.{phase}"})
        raised: list[BaseException] = []  # the app's own error: a test shows its frames

        def heard(sender: Any, exception: BaseException, **extra: Any) -> None:
            raised.append(exception)

        try:
            with got_serving_exception.connected_to(heard, sender=self.app):
                async with asyncio.timeout(timeout):
                    reply = await self._from_app.get()
                    if phase == "shutdown" and reply is not None:
                        await asyncio.wait({task})  # the app returns after its reply
        except TimeoutError as error:
            message = f"lifespan {phase} did not finish within {timeout} s"
            raise LifespanTimeout(message) from error
        if reply is None:
            if (failure := await _stop(task)) is not None:
                raise LifespanError(f"lifespan {phase} raised {failure!r}") from failure
            raise LifespanError(
                f"the app returned during lifespan {phase} without replying"
            )
        if (kind := reply.get("type")) == f"lifespan.{phase}.failed":
            why = (
                (str(raised[0]) or repr(raised[0])) if raised else reply.get("message")
            )
            msg = f"Error during {phase} {why}" if why else f"lifespan {phase} failed"
            raise LifespanError(msg) from (raised[0] if raised else None)
        if kind != f"lifespan.{phase}.complete":
            raise LifespanError(f"the app sent {kind!r} during lifespan {phase}")


async def _stop(task: asyncio.Task[None]) -> BaseException | None:
    """Cancel *task* if it still runs, wait for it and return its error."""
    if not task.done():
        task.cancel()
        await wait_owned(task)
    return None if task.cancelled() else task.exception()
