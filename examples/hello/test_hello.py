"""Tests for the hello demo, through the app's own test client."""

from __future__ import annotations

import pytest
from hello import app

from microframework import Microframework


@pytest.fixture
def hello_app() -> Microframework:
    app.testing = True
    return app


async def test_index_says_hello(hello_app: Microframework) -> None:
    response = await hello_app.test_client().get("/")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "Hello, World!"


async def test_json_view_returns_json(hello_app: Microframework) -> None:
    response = await hello_app.test_client().get("/json")
    assert response.mimetype == "application/json"
    assert await response.get_json() == {"message": "Hello, World!"}


async def test_hello_greets_the_name_in_the_url(hello_app: Microframework) -> None:
    response = await hello_app.test_client().get("/hello/Ada")
    assert await response.get_data(as_text=True) == "Hello, Ada!"


async def test_hello_escapes_the_name(hello_app: Microframework) -> None:
    response = await hello_app.test_client().get("/hello/<img src=x onerror=alert(1)>")
    assert response.mimetype == "text/html"
    assert (
        await response.get_data(as_text=True)
        == "Hello, &lt;img src=x onerror=alert(1)&gt;!"
    )


async def test_echo_returns_the_posted_json(hello_app: Microframework) -> None:
    response = await hello_app.test_client().post("/echo", json={"n": 1, "s": "x"})
    assert response.status_code == 200
    assert await response.get_json() == {"echo": {"n": 1, "s": "x"}}


async def test_echo_rejects_a_body_that_is_not_a_json_object(
    hello_app: Microframework,
) -> None:
    response = await hello_app.test_client().post("/echo", json=[1, 2])
    assert response.status_code == 400


async def test_echo_rejects_a_request_that_is_not_json(
    hello_app: Microframework,
) -> None:
    response = await hello_app.test_client().post("/echo", data="plain text")
    assert response.status_code == 400


async def test_echo_answers_get_with_405_and_allow(hello_app: Microframework) -> None:
    response = await hello_app.test_client().get("/echo")
    assert response.status_code == 405
    assert set(response.allow) == {"POST", "OPTIONS"}
