"""``_utils.resume``: finishing a coroutine that was stepped once by hand.

The dispatcher and the websocket step a server's ``receive()`` once to learn whether
it waits; ``resume`` must then behave exactly as if the coroutine had been awaited.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Generator
from typing import Any

import pytest

from microframework._utils import resume


@types.coroutine
def _yield(value: Any) -> Generator[Any, Any, Any]:
    return (yield value)


async def _waits_twice(log: list[Any]) -> str:
    log.append(await _yield("first"))
    log.append(await _yield("second"))
    return "done"


def _stepped(coro: Any) -> Any:
    return coro.send(None)


def test_resume_passes_every_later_step_through_and_returns_the_result() -> None:
    log: list[Any] = []
    coro = _waits_twice(log)
    outer = resume(coro, _stepped(coro))
    assert outer.send(None) == "first"  # handed to the task as it was
    assert outer.send(None) == "second"
    with pytest.raises(StopIteration) as done:
        outer.send(None)
    assert done.value.value == "done"
    assert log == [None, None]


def test_resume_passes_a_value_other_than_none_to_the_coroutine() -> None:
    log: list[Any] = []
    coro = _waits_twice(log)
    outer = resume(coro, _stepped(coro))
    outer.send(None)
    assert outer.send("a") == "second"
    with pytest.raises(StopIteration):
        outer.send("b")
    assert log == ["a", "b"]


def test_resume_throws_into_the_coroutine_at_either_step() -> None:
    async def catches() -> str:
        try:
            await _yield("wait")
        except KeyError:
            await _yield("caught")
            return "recovered"
        return "not thrown"

    coro = catches()
    outer = resume(coro, _stepped(coro))
    outer.send(None)
    assert outer.throw(KeyError("x")) == "caught"
    with pytest.raises(StopIteration) as done:
        outer.send(None)
    assert done.value.value == "recovered"

    coro = _waits_twice([])
    outer = resume(coro, _stepped(coro))
    outer.send(None)  # now past the first step: a throw reaches the second
    with pytest.raises(ValueError):
        outer.throw(ValueError("late"))
    assert coro.cr_frame is None  # finished by the exception


@pytest.mark.parametrize("steps", [0, 1])
def test_closing_resume_closes_the_coroutine_at_either_step(steps: int) -> None:
    cleaned: list[str] = []

    async def cleans_up() -> None:
        try:
            await _yield("a")
            await _yield("b")
        finally:
            cleaned.append("closed")

    coro = cleans_up()
    outer = resume(coro, _stepped(coro))
    for _ in range(steps + 1):
        outer.send(None)
    outer.close()
    assert cleaned == ["closed"]
    assert coro.cr_frame is None


async def test_resume_waits_on_real_futures_and_is_cancelled_through_them() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    async def server_receive() -> str:
        return await future

    async def consumer() -> str:
        coro = server_receive()
        return await resume(coro, coro.send(None))

    task = asyncio.create_task(consumer())
    await asyncio.sleep(0)
    future.set_result("message")
    assert await task == "message"

    blocked: asyncio.Future[str] = loop.create_future()
    future = blocked
    task = asyncio.create_task(consumer())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert blocked.cancelled()  # the cancellation reached the server's future


def test_many_throws_the_coroutine_survives_do_not_nest() -> None:
    # A coroutine that keeps catching what is thrown in (a cancel it shrugs off)
    # must not make each throw one level deeper.
    async def shrugs(times: int) -> int:
        caught = 0
        while caught < times:
            try:
                await _yield("wait")
            except KeyError:
                caught += 1
        return caught

    coro = shrugs(5000)
    outer = resume(coro, _stepped(coro))
    outer.send(None)
    for _ in range(4999):
        assert outer.throw(KeyError()) == "wait"
    depth, inner = 0, outer.gi_yieldfrom
    while inner is not None and hasattr(inner, "gi_yieldfrom"):
        depth, inner = depth + 1, inner.gi_yieldfrom
    assert depth == 0  # still resume's own loop: no generator per throw
    with pytest.raises(StopIteration) as done:
        outer.throw(KeyError())
    assert done.value.value == 5000
