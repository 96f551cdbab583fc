"""The blinker signals the framework sends, and :func:`send_signal`, which sends them.

Rule: a signal nobody listens to costs one attribute read; hot paths check
``signal.receivers`` before creating the coroutine. See ``docs/flash-and-signals.md``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from blinker import ANY
from blinker import NamedSignal
from blinker import Namespace
from blinker import Signal


class _State:
    def __init__(self) -> None:
        # Any receiver yet? One flag for the request path (instance attrs read faster).
        self.listening = False


state = _State()
#: Quart's flag: blinker is a dependency, so signals always work.
signals_available = True


class _Signal(NamedSignal):
    def connect(self, receiver: Any, sender: Any = ANY, weak: bool = True) -> Any:
        state.listening = True
        return super().connect(receiver, sender, weak)


class _Namespace(Namespace):
    def signal(self, name: str, doc: str | None = None) -> NamedSignal:
        if name not in self:
            self[name] = _Signal(name, doc)
        return self[name]


_signals = _Namespace()

request_started = _signals.signal("request-started")
request_finished = _signals.signal("request-finished")
request_tearing_down = _signals.signal("request-tearing-down")
got_request_exception = _signals.signal("got-request-exception")
websocket_started = _signals.signal("websocket-started")
websocket_finished = _signals.signal("websocket-finished")
websocket_tearing_down = _signals.signal("websocket-tearing-down")
got_websocket_exception = _signals.signal("got-websocket-exception")
appcontext_pushed = _signals.signal("appcontext-pushed")
appcontext_popped = _signals.signal("appcontext-popped")
appcontext_tearing_down = _signals.signal("appcontext-tearing-down")
template_rendered = _signals.signal("template-rendered")
before_render_template = _signals.signal("before-render-template")
message_flashed = _signals.signal("message-flashed")
websocket_received = _signals.signal("websocket-received")
websocket_sent = _signals.signal("websocket-sent")
got_background_exception = _signals.signal("got-background-exception")
got_serving_exception = _signals.signal("got-serving-exception")


async def send_signal(
    signal: Signal, sender: Any, **kwargs: Any
) -> list[tuple[Callable[..., Any], Any]]:
    """Call every receiver of *signal* for *sender*, awaiting the async ones.

    Returns ``[(receiver, return value), ...]`` like blinker's ``send``.
    """
    if not signal.receivers or signal.is_muted:
        return []
    results: list[tuple[Callable[..., Any], Any]] = []
    for receiver in signal.receivers_for(sender):
        value = receiver(sender, **kwargs)
        # Checking the result covers partials and objects with an async __call__.
        if inspect.isawaitable(value):
            value = await value
        results.append((receiver, value))
    return results


def heard_after_responses() -> bool:
    """Receivers of the signals sent once a response went (teardown, context pop)."""
    return bool(
        state.listening
        and (
            request_tearing_down.receivers
            or appcontext_tearing_down.receivers
            or appcontext_popped.receivers
        )
    )
