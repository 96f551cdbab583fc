"""``client.session_transaction()``, as in Flask and Quart."""

from __future__ import annotations

import pytest

from microframework import has_request_context
from microframework import Microframework
from microframework import request
from microframework import session


def _app() -> Microframework:
    app = Microframework(__name__)
    app.secret_key = "test secret"

    @app.route("/")
    async def index() -> str:
        return str(session.get("user", "anonymous"))

    @app.route("/login")
    async def login() -> str:
        session["user"] = "ann"
        return "ok"

    return app


async def test_session_set_in_a_transaction_reaches_the_app() -> None:
    client = _app().test_client()
    async with client.session_transaction() as sess:
        sess["user"] = "bob"
    response = await client.get("/")
    assert await response.get_data(as_text=True) == "bob"


async def test_transaction_sees_what_the_app_stored() -> None:
    client = _app().test_client()
    await client.get("/login")
    async with client.session_transaction() as sess:
        assert sess["user"] == "ann"
        del sess["user"]
    response = await client.get("/")
    assert await response.get_data(as_text=True) == "anonymous"


async def test_transaction_without_secret_key_is_a_clear_error() -> None:
    app = _app()
    app.secret_key = None
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        async with app.test_client().session_transaction():
            pass


async def test_the_block_runs_in_the_callers_context() -> None:
    # Flask's test_session_transactions_keep_context: the made-up request is not
    # current inside the block.
    app = _app()
    client = app.test_client()
    async with client.session_transaction() as sess:
        assert not has_request_context()
        sess["user"] = "cy"
    async with app.test_request_context("/outer"):
        async with client.session_transaction() as sess:
            assert request.path == "/outer"
    assert await (await client.get("/")).get_data(as_text=True) == "cy"
