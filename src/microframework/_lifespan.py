"""``_lifespan.py``: the ASGI lifespan protocol, and the app's startup and shutdown.

Rule: every shutdown step runs even when an earlier one fails, and the first error is
raised; a failure reaches the server as ``lifespan.*.failed``, never raised into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import AsyncGenerator
from collections.abc import Callable
from typing import Any
from typing import TYPE_CHECKING

from ._background import finish_background_tasks
from ._compile import freeze
from ._compile import overrides
from ._compile import refuse_quart_only
from .signals import got_serving_exception
from .signals import send_signal
from .wrappers.base import OWN_STATE

if TYPE_CHECKING:
    from .app import Microframework
    from .typing import Receive
    from .typing import Scope
    from .typing import Send


async def startup(app: Microframework, state: dict[str, Any] | None) -> None:
    """Freeze *app* and run its startup code; *state* is the server's lifespan state.

    A failure is reported (logged, ``got_serving_exception``) and raised, with the
    ``while_serving`` generators already started closed and the background tasks
    started finished, as at shutdown."""
    try:
        await _start(app, state)
    except _FAILURES as exc:
        try:  # their cleanup runs now, not at a later shutdown
            await _close_generators(app)
        finally:  # (even if a cleanup is interrupted)
            app.drain.uninstall()
            _release_state(app)
            app.shutdown_event.set()  # no shutdown follows: nothing may outlive this
        await finish_background_tasks(app)
        await _report(app, "startup", exc)
        raise


#: What fails a lifespan step: ``sys.exit("no DATABASE_URL")`` in startup code too, or it
#: would leave the app, and uvicorn's ``--lifespan auto`` would then serve it unstarted.
_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


async def _close_generators(app: Microframework) -> None:
    while app.serving_generators:
        with contextlib.suppress(Exception):
            await app.serving_generators.pop().aclose()


async def _report(app: Microframework, step: str, exc: BaseException) -> None:
    # Here, not in handle_lifespan: an app mounted elsewhere calls startup() itself.
    if got_serving_exception.receivers:
        await send_signal(got_serving_exception, app, exception=exc)
    if overrides(app, "log_exception"):  # honoured, as in Quart
        app.log_exception((type(exc), exc, exc.__traceback__))  # type: ignore[arg-type]
    else:
        app.logger.error("%s failed", step.capitalize(), exc_info=exc)


async def _start(app: Microframework, state: dict[str, Any] | None) -> None:
    refuse_quart_only(app)  # now, before anything starts
    await _close_generators(app)  # left by a cancelled period: not resumed in this one
    app.shutdown_event = asyncio.Event()  # a new serving period
    app.drain.on_start = lambda: app.shutdown_event.set()  # at the server's signal
    app.drain.install(app.config["SHUTDOWN_GRACE_PERIOD"])
    if state is not None:
        _take_state(app, state)
    async with app.app_context():
        for func in app.before_serving_funcs:
            await app.ensure_async(func)()
        for gen_func in app.while_serving_gens:
            app.serving_generators.append(await _started(gen_func))
    # Only now: an extension may register its blueprint in before_serving (Quart
    # allows it; quart-events does), and no request comes before startup ends.
    freeze(app)
    if _freezes_gc(app):
        # What is alive now lives for good: the collector need not walk it (longest gc
        # pause behind hypercorn ~15 ms -> ~2 ms, benchmarks/e2e.py "gc max").
        gc.collect()
        gc.freeze()


#: The lifespan state dicts apps made their ``app.state``, by ``id``, with the keys
#: the server put there: a dispatcher (hypercorn's) gives every app it serves one
#: lifespan scope, and so one dict.
_TAKEN: dict[int, tuple[weakref.ref[Microframework], frozenset[str]]] = {}


def _take_state(app: Microframework, state: dict[str, Any]) -> None:
    # The first app takes the dict; one served beside it keeps its own app.state, or
    # one app's shutdown would close the other's pool. Requests see their app's keys.
    for key in [key for key, (ref, _) in _TAKEN.items() if ref() is None]:
        del _TAKEN[key]  # apps gone without a shutdown
    taken = _TAKEN.get(id(state))
    owner = taken[0]() if taken is not None else None
    if owner is not None and owner is not app and owner.state is state:
        OWN_STATE.add(app)
        return
    _TAKEN[id(state)] = (weakref.ref(app), frozenset(state))
    state.update(app.state)
    app.state = state


def _release_state(app: Microframework) -> None:
    # The app keeps only its own keys: the server's go with the serving period.
    OWN_STATE.discard(app)
    taken = _TAKEN.get(id(app.state))
    if taken is not None and taken[0]() is app:
        del _TAKEN[id(app.state)]
        app.state = {k: v for k, v in app.state.items() if k not in taken[1]}


async def _started(gen_func: Callable[[], Any]) -> AsyncGenerator[Any, None]:
    """Run a ``while_serving`` generator to its ``yield``; errors name the function."""
    name = getattr(gen_func, "__qualname__", repr(gen_func))
    gen = gen_func()
    if not isinstance(gen, AsyncGenerator):
        getattr(gen, "close", lambda: None)()  # a coroutine: not left never awaited
        raise TypeError(
            f"while_serving {name} must be an async generator: an async def with one"
            " yield"
        )
    try:
        await anext(gen)
    except StopAsyncIteration:
        raise RuntimeError(f"while_serving {name} ended without a yield") from None
    return gen


async def shutdown(app: Microframework) -> None:
    """Finish background tasks, run ``after_serving``, finish ``while_serving``; a
    failure is reported (logged, ``got_serving_exception``) and raised."""
    try:
        await _stop(app)
    except _FAILURES as exc:
        await _report(app, "shutdown", exc)
        raise


async def _stop(app: Microframework) -> None:
    errors: list[Exception] = []
    app.shutdown_event.set()
    grace = app.config["SHUTDOWN_GRACE_PERIOD"]
    app.drain.start(grace)  # for servers that ask first
    app.drain.uninstall()
    await app.drain.teardowns(grace)  # after_serving comes after every teardown
    await finish_background_tasks(app)
    ctx = app.app_context()
    await ctx.push()
    try:
        for func in app.after_serving_funcs:
            try:
                await app.ensure_async(func)()
            except Exception as exc:
                errors.append(exc)
        while app.serving_generators:
            gen = app.serving_generators.pop()
            try:
                await anext(gen)
            except StopAsyncIteration:
                continue
            except Exception as exc:
                errors.append(exc)
                continue
            errors.append(
                RuntimeError("a while_serving generator yielded more than once")
            )
    finally:  # teardown_appcontext gets the first error, as at startup
        await (ctx.pop(errors[0]) if errors else ctx.pop())
    await finish_background_tasks(app)  # what after_serving started: none left running
    if _freezes_gc(app):
        gc.unfreeze()
    app.drain.end()
    _release_state(app)
    if errors:
        for extra in errors[1:]:
            app.logger.error("Another shutdown error", exc_info=extra)
        raise errors[0]


def _freezes_gc(app: Microframework) -> bool:
    # Not under test: a test process starts many apps and checks what gets collected.
    return bool(app.config["GC_FREEZE_ON_STARTUP"]) and not app.testing


async def handle_lifespan(
    app: Microframework, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer ``lifespan.startup`` and ``lifespan.shutdown`` until shutdown is done."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            step, run = "startup", app.startup(scope.get("state"))
        elif kind == "lifespan.shutdown":
            step, run = "shutdown", app.shutdown()
        else:
            continue
        try:
            await run
        except _FAILURES as exc:  # reported by startup() or shutdown()
            reason = f"{type(exc).__name__}: {exc}"
            await send({"type": f"lifespan.{step}.failed", "message": reason})
            return
        await send({"type": f"lifespan.{step}.complete"})
        if step == "shutdown":
            return
