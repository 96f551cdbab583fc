"""Type-checked, never run: a blueprint's app-wide decorators keep the function's type."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any
from typing import assert_type

from microframework import Blueprint
from microframework import Response

bp = Blueprint("bp", __name__)


@bp.before_app_request
async def before() -> None:
    return None


@bp.after_app_request
def after(response: Response, /) -> Response:
    return response


@bp.app_template_filter()
def reverse(value: str, /) -> str:
    return value[::-1]


assert_type(before, Callable[[], Coroutine[Any, Any, None]])
assert_type(after, Callable[[Response], Response])
assert_type(reverse, Callable[[str], str])


# A blueprint's own decorators are bounded as the app's (session 21).
@bp.route("/int")  # type: ignore[type-var]
async def returns_int() -> int:
    return 42


@bp.teardown_request  # type: ignore[type-var]
def teardown_without_the_error() -> None:
    return None


@bp.get("/")
async def index() -> tuple[str, int]:
    return "ok", 200


assert_type(index, Callable[[], Coroutine[Any, Any, tuple[str, int]]])
