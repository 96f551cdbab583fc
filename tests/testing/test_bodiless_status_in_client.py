"""A view's body on a 204 or 304 is not sent, so the test client shows none (as
Flask's client and every server); Quart's test client returns it, and a ported test
reading `await response.json` after a 204 fails: porting.md must say so (port5,
session 40: betodealmeida/byodb's `test_delete_database`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from microframework import Microframework


@pytest.mark.parametrize("status", [204, 304])
async def test_a_bodiless_status_reaches_the_client_without_its_body(
    app: Microframework, status: int
) -> None:
    @app.route("/")
    async def index() -> tuple[dict[str, str], int]:
        return {"result": "OK"}, status

    response = await app.test_client().get("/")

    assert response.status_code == status
    assert await response.get_data() == b""


def test_porting_says_the_client_drops_a_204s_body() -> None:
    porting = (Path(__file__).parents[2] / "docs" / "porting.md").read_text()
    paragraph = porting.split("**The test client's HEAD response has no body**")[1]
    paragraph = paragraph.split("\n\n")[0]
    assert "204" in paragraph and "304" in paragraph
