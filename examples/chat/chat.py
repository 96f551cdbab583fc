"""A broadcast chat with rooms: an HTML page with a tiny JS client, and a websocket.

Run it from the repository root with
``hypercorn --bind 127.0.0.1:8000 examples/chat/chat:app`` and open
http://127.0.0.1:8000/ in two browser windows.

Rule: the broker is an in-memory dict of room -> subscribers, each a *bounded* queue. A
publisher never waits for a reader: a subscriber whose queue is full is dropped (and
told so with close code 1013) instead of slowing the room down or growing memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from markupsafe import escape

from microframework import Microframework
from microframework import url_for
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect

DEFAULT_ROOM = "lobby"
MAX_NAME = 32


class Subscriber:
    """One websocket's place in a room: its pending messages, and whether it was dropped."""

    __slots__ = ("queue", "dropped")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(size)
        self.dropped = False


class Broker:
    """Room -> subscribers. ``publish`` never blocks; slow subscribers are dropped."""

    def __init__(self, queue_size: int = 64) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self.queue_size = queue_size
        self.rooms: dict[str, set[Subscriber]] = {}

    @asynccontextmanager
    async def subscribe(self, room: str) -> AsyncIterator[Subscriber]:
        """Join *room* for the duration of the ``async with`` block."""
        subscriber = Subscriber(self.queue_size)
        self.rooms.setdefault(room, set()).add(subscriber)
        try:
            yield subscriber
        finally:
            self._remove(room, subscriber)

    def publish(self, room: str, message: str) -> None:
        """Queue *message* for every subscriber of *room*."""
        for subscriber in list(self.rooms.get(room, ())):
            try:
                subscriber.queue.put_nowait(message)
            except asyncio.QueueFull:
                # Waiting for this reader would stall everyone in the room.
                subscriber.dropped = True
                self._remove(room, subscriber)

    def _remove(self, room: str, subscriber: Subscriber) -> None:
        subscribers = self.rooms.get(room)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self.rooms[room]  # an empty room costs nothing


def create_app(queue_size: int = 64) -> Microframework:
    """Build the chat app with its own broker (``app.extensions["chat"]``)."""
    app = Microframework(__name__)
    # A chat line has no business being a megabyte.
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 16 * 1024
    broker = Broker(queue_size)
    app.extensions["chat"] = broker

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
        # Subscribe before accepting: once the client sees the socket open, it is in
        # the room and will get every message published after that.
        async with broker.subscribe(room) as subscriber:
            await websocket.accept()
            sender = asyncio.create_task(_forward(subscriber))
            try:
                async for message in websocket:
                    if isinstance(message, str) and message.strip():
                        broker.publish(
                            room, json.dumps({"name": name, "text": message})
                        )
            finally:
                sender.cancel()
                # Nothing of this connection may outlive the handler.
                await asyncio.wait({sender})

    return app


async def _forward(subscriber: Subscriber) -> None:
    """Send the room's messages to this websocket until it leaves or is dropped."""
    try:
        while not (subscriber.dropped and subscriber.queue.empty()):
            await websocket.send(await subscriber.queue.get())
        # RFC 6455 7.4.1: 1013, "try again later".
        await websocket.close(1013, "too slow: messages were dropped")
    except WebsocketDisconnect:
        pass  # the client left; the handler's receive loop ends as well


def _page(room: str) -> str:
    socket_url = url_for("chat_socket", room=room, _external=True)
    return _PAGE.format(room=escape(room), socket_url=escape(socket_url))


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
<body data-socket="{socket_url}">
<h1>Room <em>{room}</em></h1>
<form id="switch">Go to room <input id="room" required> <button>Go</button></form>
<p>Status: <span id="status">connecting</span></p>
<ul id="messages"></ul>
<form id="send">
  <b id="name"></b>
  <input id="text" autocomplete="off" required aria-label="message">
  <button>Send</button>
</form>
<script>
const params = new URLSearchParams(location.search);
const name = params.get("name") || "guest-" + Math.floor(Math.random() * 10000);
document.getElementById("name").textContent = name;
const status = document.getElementById("status");
const messages = document.getElementById("messages");
const url = new URL(document.body.dataset.socket);  // ws:// or wss://, from url_for
url.searchParams.set("name", name);
const socket = new WebSocket(url);
socket.onopen = () => {{ status.textContent = "connected"; }};
socket.onclose = (event) => {{ status.textContent = "closed (" + event.code + ")"; }};
socket.onmessage = (event) => {{
  const data = JSON.parse(event.data);
  const item = document.createElement("li");
  const who = document.createElement("b");
  who.textContent = data.name;
  item.append(who, data.text);
  messages.append(item);
}};
document.getElementById("send").onsubmit = (event) => {{
  event.preventDefault();
  const text = document.getElementById("text");
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
