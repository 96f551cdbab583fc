"""Type-checked, never run: decorators keep the types of sync and async functions."""

from __future__ import annotations

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
