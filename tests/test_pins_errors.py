"""How unhandled errors are turned into responses: the hooks that still run on a 500."""

from __future__ import annotations

from typing import Any

from microframework import Microframework
from microframework.blueprints import Blueprint
from microframework.wrappers.response import Response


async def test_super_handle_exception_runs_the_blueprints_after_request() -> None:
    # Pins: super().handle_exception() finalizes the 500 with the view's blueprint chain.
    bp = Blueprint("bp", __name__)
    seen: list[str] = []

    class Logged(Microframework):
        async def handle_exception(self, error: Exception) -> Response:
            seen.append(type(error).__name__)
            return await super().handle_exception(error)

    app = Logged(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @bp.route("/boom")
    async def boom() -> Any:
        raise RuntimeError("boom")

    @bp.after_request
    async def mark(response: Response) -> Response:
        response.headers["X-Bp"] = "after"
        return response

    app.register_blueprint(bp)
    response = await app.test_client().get("/boom")
    assert response.status_code == 500
    assert seen == ["RuntimeError"]
    assert response.headers.get("X-Bp") == "after"
