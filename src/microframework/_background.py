"""``_background.py``: background tasks started by ``app.add_background_task``.

Rule: a task started during a request runs once the response has gone out, in its own
app context. Failures are logged and signalled, never raised into the server.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any
from typing import TYPE_CHECKING

from ._compile import overrides
from .globals import _cv_app
from .signals import got_background_exception
from .signals import send_signal

if TYPE_CHECKING:
    from .app import Microframework


def add_background_task(
    app: Microframework,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> asyncio.Task[Any]:
    """Start *func* as a task tracked in ``app.background_tasks``."""
    if not callable(func):
        raise _not_a_function(func)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "add_background_task() runs on the event loop: call it from an 'async def'"
            " view or hook (a plain 'def' one runs in a worker thread)"
        ) from None
    ctx = _cv_app.get(None)
    gate: asyncio.Future[None] | None = None
    if ctx is not None and ctx.request is not None:
        # Start once the response is sent (test_request_context's sends nothing), by
        # the request's own context. Without asgi_send it has gone: a task added
        # from teardown starts at once; so does one in a context pushed by hand for
        # another request (request_context(other)), whose response_sent nothing
        # resolves (one for the request under way is a copy, sharing it).
        if ctx.request.asgi_send is not None and not (ctx := ctx.sharing or ctx).pushed:
            sent = ctx.response_sent
            if sent is None:
                gate = ctx.response_sent = loop.create_future()
            elif sent is not True:  # (True: a stream has begun, start at once)
                gate = sent
    task = loop.create_task(_run(app, func, args, kwargs, gate))
    app.background_tasks.add(task)
    task.add_done_callback(lambda task: _done(app, task))
    return task


async def _run(
    app: Microframework,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    gate: asyncio.Future[None] | None,
) -> Any:
    if gate is not None:
        await gate
    # This task's copy of the context still names the request's: its own app context
    # must not take the request in (see app_context), the request is over.
    _cv_app.set(None)  # type: ignore[arg-type] # read as get(None): no context
    failed = False  # a flag, not the error: this frame in its traceback, a cycle
    try:
        async with app.app_context():
            try:
                return await app.ensure_async(func)(*args, **kwargs)
            except Exception as error:
                failed = True
                await _handle(app, error)
                raise  # the task's handle keeps it
    except Exception as error:
        # The app context's own push or pop failed (a receiver of appcontext_pushed
        # or appcontext_popped raised): reported too, as Quart does, not lost.
        if not failed:
            await _handle(app, error)
        raise


async def _handle(app: Microframework, error: Exception) -> None:
    try:
        await app.handle_background_exception(error)
    except Exception:
        app.logger.exception("handle_background_exception failed")


async def report(app: Microframework, error: Exception) -> None:
    """What ``app.handle_background_exception`` does by default."""
    if got_background_exception.receivers:
        await send_signal(got_background_exception, app, exception=error)
    if overrides(app, "log_exception"):  # honoured, as in Quart
        app.log_exception((type(error), error, error.__traceback__))  # type: ignore[arg-type]
    else:
        app.logger.error("Background task failed", exc_info=error)


def _done(app: Microframework, task: asyncio.Task[Any]) -> None:
    app.background_tasks.discard(task)
    if not task.cancelled():
        task.exception()  # reported already: retrieved, so asyncio does not warn


async def finish_background_tasks(app: Microframework) -> None:
    """Wait for unfinished tasks up to the shutdown timeout, then cancel the rest;
    tasks they start meanwhile too (a snapshot left those running)."""
    if not app.background_tasks:
        return
    timeout = app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"]
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    # Only add_background_task's tasks remove themselves; one added by hand
    # (quart-tasks does) stays once done, and must not keep this loop spinning.
    while tasks := {task for task in app.background_tasks if not task.done()}:
        left = None if deadline is None else max(0.0, deadline - loop.time())
        _, pending = await asyncio.wait(tasks, timeout=left)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


def _not_a_function(func: object) -> TypeError:
    if inspect.iscoroutine(func):
        func.close()  # not "never awaited" on top of this
    return TypeError(
        f"add_background_task() takes the function and its arguments, not {func!r}:"
        " write add_background_task(task, arg), not add_background_task(task(arg))"
    )
