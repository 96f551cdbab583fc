"""Type-checked, never run: decorators keep the types of sync and async functions."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any
from typing import assert_type

from werkzeug.exceptions import NotFound

from microframework import Microframework
from microframework import Response

app = Microframework(__name__)


@app.route("/")
async def index() -> str:
    return "hello"


@app.get("/sync")
def sync_view() -> dict[str, int]:
    return {"a": 1}


@app.before_request
async def before() -> None:
    return None


@app.after_request
def after(response: Response) -> Response:
    return response


@app.errorhandler(NotFound)
async def not_found(error: NotFound) -> tuple[str, int]:
    return "missing", 404


@app.teardown_request
async def teardown(error: BaseException | None) -> None:
    return None


assert_type(index, Callable[[], Coroutine[Any, Any, str]])
assert_type(sync_view, Callable[[], dict[str, int]])
assert_type(app.debug, bool)


# Session 21: each decorator bounds its function by its alias (typing.py), as Flask
# and Quart do, so a view or hook that returns what is no response is a type error.
@app.route("/int")  # type: ignore[type-var]
async def returns_int() -> int:
    return 42


@app.get("/none")  # type: ignore[type-var]
async def forgets_its_return() -> None:
    pass


@app.post("/float")  # type: ignore[type-var]
def sync_float() -> float:
    return 1.5


@app.errorhandler(404)  # type: ignore[type-var]
async def handler_returns_int(error: Exception) -> int:
    return 404


@app.before_request  # type: ignore[type-var]
async def before_returns_int() -> int:
    return 1


@app.after_request  # type: ignore[type-var]
async def after_returns_str(response: Response) -> str:
    return "x"


@app.websocket("/ws-int")  # type: ignore[type-var]
async def ws_returns_int() -> int:
    return 1


@app.before_serving  # type: ignore[type-var]
async def serving_takes_an_argument(x: int) -> None:
    return None


@app.template_test()  # type: ignore[type-var]
def test_returns_str(value: str) -> str:
    return value


@app.websocket("/ws")
async def ws() -> None:
    return None


@app.websocket("/ws-sync")
def ws_sync() -> tuple[str, int]:
    return "no", 401


@app.before_websocket
def before_ws() -> tuple[str, int] | None:
    return None


@app.after_websocket
async def after_ws(response: Response | None) -> Response | None:
    return response


@app.teardown_appcontext
def teardown_ctx(error: BaseException | None, /) -> None:
    return None


@app.context_processor
async def extra() -> dict[str, Any]:
    return {}


@app.url_defaults
def add_lang(endpoint: str, values: dict[str, Any]) -> None:
    return None


@app.url_value_preprocessor
def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
    return None


@app.before_serving
async def startup() -> None:
    return None


@app.while_serving
async def lifespan() -> AsyncGenerator[None, None]:
    yield


@app.shell_context_processor
def shell() -> dict[str, Any]:
    return {}


@app.template_test()
def is_short(value: str, /) -> bool:
    return len(value) < 3


@app.template_filter("shout")
def shout(value: str, /) -> str:
    return value.upper()


assert_type(ws, Callable[[], Coroutine[Any, Any, None]])
assert_type(ws_sync, Callable[[], tuple[str, int]])
assert_type(before, Callable[[], Coroutine[Any, Any, None]])
assert_type(teardown_ctx, Callable[[BaseException | None], None])
assert_type(lifespan, Callable[[], AsyncGenerator[None, None]])
assert_type(shell, Callable[[], dict[str, Any]])
assert_type(is_short, Callable[[str], bool])
assert_type(shout, Callable[[str], str])
