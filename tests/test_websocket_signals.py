"""Quart's websocket message signals."""

from __future__ import annotations

from typing import Any

import pytest

from microframework import got_websocket_exception
from microframework import Microframework
from microframework import websocket
from microframework import websocket_finished
from microframework import websocket_received
from microframework import websocket_sent
from microframework.exceptions import WebsocketDisconnect
from microframework.testing import WebsocketResponseError


async def test_received_and_sent_messages_are_signalled(app: Microframework) -> None:
    @app.websocket("/ws")
    async def echo() -> None:
        await websocket.send(await websocket.receive())

    seen: list[tuple[str, Any]] = []

    def on_received(data: Any) -> None:
        seen.append(("received", data))

    async def on_sent(data: Any) -> None:
        seen.append(("sent", data))

    with (
        websocket_received.connected_to(on_received),
        websocket_sent.connected_to(on_sent),
    ):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("hi")
            assert await ws.receive() == "hi"
    assert seen == [("received", "hi"), ("sent", "hi")]


@pytest.mark.parametrize("accepted", [True, False])
async def test_a_failing_websocket_finished_receiver_is_the_handlers_error(
    app: Microframework, accepted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # As Quart's finalize_websocket: logged and signalled as the handler's error; a
    # second failure, on the error's own response, is only logged.
    app.testing = False
    finished: list[Any] = []
    errors: list[BaseException] = []

    def on_finished(sender: Any, response: Any) -> None:
        finished.append(response)
        raise RuntimeError("receiver failed")

    @app.websocket("/ws")
    async def ws() -> Any:
        if accepted:
            await websocket.accept()
            return None
        return "refused", 403

    with (
        websocket_finished.connected_to(on_finished, app),
        got_websocket_exception.connected_to(
            lambda sender, exception: errors.append(exception), app
        ),
    ):
        client = app.test_client()
        if accepted:
            async with client.websocket("/ws") as ws:
                with pytest.raises(WebsocketDisconnect) as closed:
                    await ws.receive()
            assert closed.value.code == 1011
        else:
            with pytest.raises(WebsocketResponseError) as refused:
                async with client.websocket("/ws"):
                    pass
            assert refused.value.response.status_code == 500

    assert [str(error) for error in errors] == ["receiver failed"]
    assert "Exception on websocket /ws" in caplog.text
    assert "Request finalizing failed" in caplog.text
    statuses = [None if r is None else r.status_code for r in finished]
    assert statuses == ([None, 500] if accepted else [403, 500])
