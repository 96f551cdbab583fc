"""A broadcast chat with rooms: an HTML page with a tiny JS client, a websocket, and SSE.

Run it from the repository root with
``hypercorn --bind 127.0.0.1:8000 examples/chat/chat:app`` and open
http://127.0.0.1:8000/ in two browser windows. With several workers, share one Redis:
``BROADCAST_URL=redis://127.0.0.1:6379/0 hypercorn --workers 4 examples/chat/chat:app``.

Rule: every message goes through ``microframework.broadcast``, so clients held by
different workers (or machines) share a room, and a client that reconnects with the last
id it saw gets what it missed. A reader that falls a full queue behind is dropped (close
code 1013) instead of slowing the room down or growing memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from markupsafe import escape

from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import url_for
from microframework import websocket
from microframework.broadcast import Broadcast
from microframework.broadcast import BroadcastError
from microframework.broadcast import parse_event_id
from microframework.broadcast import Subscriber
from microframework.broadcast import SubscriberTooSlow
from microframework.exceptions import WebsocketDisconnect
from microframework.sse import event_stream
from microframework.sse import last_event_id
from microframework.sse import ServerSentEvent

DEFAULT_ROOM = "lobby"
MAX_NAME = 32


def create_app(
    broadcast_url: str | None = None, queue_size: int = 64
) -> Microframework:
    """Build the chat app; its broadcast is ``app.extensions["broadcast"]``.

    The broadcast URL is *broadcast_url*, else ``$BROADCAST_URL``, else ``memory://``.
    """
    app = Microframework(__name__)
    # A chat line has no business being a megabyte.
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 16 * 1024
    app.config["BROADCAST_URL"] = broadcast_url or os.environ.get(
        "BROADCAST_URL", "memory://"
    )
    broadcast = Broadcast(app=app, queue_size=queue_size)

    @app.errorhandler(BroadcastError)
    async def broadcast_unavailable(error: BroadcastError) -> Any:
        # Redis unreachable while a websocket joins (subscribing comes before the
        # accept): refuse the handshake with a 503, not a 500 and a traceback for
        # every reconnect of every page. The page retries by itself.
        app.logger.warning("broadcast unavailable: %s", error)
        body = {"error": "the chat is unavailable; try again shortly"}
        return body, 503, {"Retry-After": "5"}

    @app.after_request
    async def tag_worker(response: Response) -> Response:
        # Which worker process answered: handy when running several.
        response.headers["X-Worker"] = str(os.getpid())
        return response

    @app.get("/")
    async def lobby() -> str:
        """The chat page for the default room."""
        return _page(DEFAULT_ROOM)

    @app.get("/<room>")
    async def room_page(room: str) -> str:
        """The chat page for *room*."""
        return _page(room)

    @app.websocket("/ws/<room>")
    async def chat_socket(room: str) -> None:
        """Relay every text message to everyone in *room*, the sender included."""
        name = websocket.args.get("name", "").strip()[:MAX_NAME] or "anonymous"
        after = _valid_id(websocket.args.get("after"))
        # Subscribe before accepting: once the client sees the socket open, it is in
        # the room and will get every message published after that.
        async with broadcast.subscribe(room, last_event_id=after) as subscriber:
            await websocket.accept(headers={"X-Worker": str(os.getpid())})
            sender = asyncio.create_task(_forward(subscriber))
            try:
                async for message in websocket:
                    if isinstance(message, str) and message.strip():
                        try:
                            await broadcast.publish_json(
                                room, {"name": name, "text": message}
                            )
                        except BroadcastError:
                            # Redis unreachable, even for a moment: the message did
                            # not go out. Say so with a close (the page reconnects),
                            # not with a traceback in the log for every message.
                            await websocket.close(1011, "the broadcast is unavailable")
                            return
            finally:
                sender.cancel()
                # Nothing of this connection may outlive the handler.
                await asyncio.wait({sender})

    @app.get("/events/<room>")
    async def room_events(room: str) -> Any:
        """The room as server-sent events, resuming after ``Last-Event-ID``."""
        after = last_event_id() or request.args.get("after")
        if after is not None and _valid_id(after) is None:
            return {"error": "the event id must look like 1700000000000-0"}, 400

        async def source() -> AsyncIterator[ServerSentEvent]:
            try:
                async with broadcast.subscribe(room, last_event_id=after) as sub:
                    async for event in sub:
                        yield ServerSentEvent(
                            _message(event.id, event.json()), id=event.id
                        )
            except BroadcastError:
                # Too slow, or Redis gone past reconnect_timeout: end the stream, as
                # the websocket closes. EventSource reconnects with Last-Event-ID;
                # raising would log a traceback for every open stream at once.
                return

        return event_stream(source())

    return app


async def _forward(subscriber: Subscriber) -> None:
    """Send the room's messages to this websocket until it leaves or is dropped."""
    try:
        async for event in subscriber:
            await websocket.send(json.dumps(_message(event.id, event.json())))
        await websocket.close(1001, "the server is shutting down")
    except SubscriberTooSlow:
        # RFC 6455 7.4.1: 1013, "try again later".
        await websocket.close(1013, "too slow: messages were dropped")
    except BroadcastError:
        # Redis was gone longer than reconnect_timeout: this subscriber has ended.
        # Close, so that the page reconnects (with ?after) instead of staying open
        # and hearing nothing ever again.
        await websocket.close(1011, "the broadcast is unavailable")
    except WebsocketDisconnect:
        pass  # the client left; the handler's receive loop ends as well


def _message(event_id: str, data: dict[str, Any]) -> dict[str, Any]:
    # The id lets a client resume: ?after=<id> (websocket) or Last-Event-ID (SSE).
    return {"id": event_id, "name": data["name"], "text": data["text"]}


def _valid_id(value: str | None) -> str | None:
    """*value* if it is an event id, else ``None``."""
    if value is not None:
        try:
            parse_event_id(value)
        except ValueError:
            return None
    return value


def _page(room: str) -> str:
    socket_url = url_for("chat_socket", room=room, _external=True)
    # Where the page resumes before it has a message of its own: when it was served,
    # a second early (ids come from Redis's clock, which may lag ours a little).
    since = f"{time.time_ns() // 1_000_000 - 1000}-0"
    return _PAGE.format(room=escape(room), socket_url=escape(socket_url), since=since)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Chat: {room}</title>
<style>
  body {{ font-family: sans-serif; max-width: 40rem; margin: 2rem auto; }}
  #messages {{ list-style: none; padding: 0; min-height: 10rem; }}
  #messages b {{ margin-right: .5em; }}
</style>
</head>
<body data-socket="{socket_url}" data-since="{since}">
<h1>Room <em>{room}</em></h1>
<form id="switch">Go to room <input id="room" required> <button>Go</button></form>
<p>Status: <span id="status">connecting</span></p>
<ul id="messages"></ul>
<form id="send">
  <b id="name"></b>
  <input id="text" autocomplete="off" required aria-label="message">
  <button disabled>Send</button>
</form>
<script>
const params = new URLSearchParams(location.search);
const name = params.get("name") || "guest-" + Math.floor(Math.random() * 10000);
document.getElementById("name").textContent = name;
const status = document.getElementById("status");
const messages = document.getElementById("messages");
// Only an open socket sends: while it reconnects, what you typed stays in the box.
const sendButton = document.querySelector("#send button");
let socket = null;
// Where a (re)connect resumes: the last message's id, or the page's time until the
// first message, so that one that drops before anybody spoke misses nothing either.
let lastId = document.body.dataset.since;
function connect() {{
  const url = new URL(document.body.dataset.socket);  // ws:// or wss://, from url_for
  url.searchParams.set("name", name);
  url.searchParams.set("after", lastId);
  socket = new WebSocket(url);
  socket.onopen = () => {{
    status.textContent = "connected";
    sendButton.disabled = false;
  }};
  socket.onclose = (event) => {{
    sendButton.disabled = true;
    status.textContent = "closed (" + event.code + "), reconnecting";
    setTimeout(connect, 2000);
  }};
  socket.onmessage = (event) => {{
    const data = JSON.parse(event.data);
    lastId = data.id;
    const item = document.createElement("li");
    const who = document.createElement("b");
    who.textContent = data.name;
    item.append(who, data.text);
    messages.append(item);
  }};
}}
connect();
document.getElementById("send").onsubmit = (event) => {{
  event.preventDefault();
  const text = document.getElementById("text");
  if (socket.readyState !== WebSocket.OPEN) return;  // keep the text for later
  socket.send(text.value);
  text.value = "";
}};
document.getElementById("switch").onsubmit = (event) => {{
  event.preventDefault();
  const room = encodeURIComponent(document.getElementById("room").value);
  location = "/" + room + "?name=" + encodeURIComponent(name);
}};
</script>
</body>
</html>
"""

app = create_app()
