"""The test client's cookie jar on Set-Cookie values at the edges (session 38, muts51)."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from datetime import UTC

import pytest

from microframework import Microframework
from microframework.wrappers.response import Response


def _app_setting(*headers: str) -> Microframework:
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> Response:
        response = Response("x")
        for header in headers:
            response.headers.add("Set-Cookie", header)
        return response

    return app


@pytest.mark.parametrize("sign", ["", "-"])
async def test_a_max_age_of_thousands_of_digits_is_capped_not_a_value_error(
    sign: str,
) -> None:
    # cookies.parse_set_cookie: int() of more than 4300 digits raises ValueError
    # (Python's int_max_str_digits), which failed the request the app answered.
    app = _app_setting(f"a=1; Max-Age={sign}{'9' * 5000}")
    client = app.test_client()
    response = await client.get("/")
    assert response.status_code == 200
    cookie = client.get_cookie("a")
    if sign:
        assert cookie is None  # a negative Max-Age deletes it
    else:
        assert cookie is not None and cookie.expires is not None
        assert cookie.expires - datetime.now(UTC) <= timedelta(days=400)


async def test_an_expires_that_does_not_parse_is_ignored_not_a_reset() -> None:
    # cookies.parse_set_cookie: RFC 6265 5.2.1, an Expires whose value fails to parse
    # is ignored; it reset the expiry set by an earlier valid Expires (as Quart's
    # client and browsers keep it).
    app = _app_setting(
        "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Expires=garbage",
        "b=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=garbage",
    )
    client = app.test_client()
    await client.get("/")
    cookie = client.get_cookie("a")
    assert cookie is not None
    assert cookie.expires == datetime(2037, 10, 21, 7, 28, tzinfo=UTC)
    assert client.get_cookie("b") is None  # the past date deletes it


async def test_a_zero_padded_max_age_is_its_value_not_a_value_error() -> None:
    # cookies.parse_set_cookie: int() counts leading zeros against its 4300 digits.
    client = _app_setting(f"a=1; Max-Age={'0' * 5000}60").test_client()
    assert (await client.get("/")).status_code == 200
    cookie = client.get_cookie("a")
    assert cookie is not None and cookie.max_age == 60
