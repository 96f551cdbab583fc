"""Pins from mutation testing of static.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins. Flask 3.1.3 and Quart 0.22 send the same headers (cmp_static.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from microframework import Microframework


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_text("hi")
    return tmp_path


async def test_a_timedelta_max_age_counts_its_days(root: Path) -> None:
    # static.get_send_file_max_age: int(value.total_seconds()), not value.seconds.
    app = Microframework(__name__, root_path=str(root))
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(days=1, hours=1)
    response = await app.test_client().get("/static/a.txt")
    assert response.headers["Cache-Control"] == "public, max-age=90000"


async def test_a_float_max_age_is_whole_seconds(root: Path) -> None:
    # static.get_send_file_max_age: `return int(value)`.
    app = Microframework(__name__, root_path=str(root))
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 60.5
    response = await app.test_client().get("/static/a.txt")
    assert response.headers["Cache-Control"] == "public, max-age=60"
    async with app.app_context():
        assert app.get_send_file_max_age("a.txt") == 60


async def test_the_static_view_of_a_collected_app_is_a_404(root: Path) -> None:
    # static._StaticView.__call__: `if target is None: raise NotFound()` (the view holds
    # its app weakly).
    import gc

    from werkzeug.exceptions import NotFound

    app = Microframework(__name__, root_path=str(root))
    view = app.view_functions["static"]
    del app
    gc.collect()
    with pytest.raises(NotFound):
        await view("a.txt")


async def test_a_blueprint_static_url_with_a_doubled_slash_is_a_404(root: Path) -> None:
    # static.add_blueprint_static_route: merge_slashes=False, as for the app's route
    # (porting.md: a 404, not Flask's redirect to the merged path).
    from microframework import Blueprint

    app = Microframework(__name__, root_path=str(root))
    app.register_blueprint(
        Blueprint("bp", __name__, url_prefix="/bp", static_folder=str(root / "static"))
    )
    client = app.test_client()
    assert (await client.get("/bp/static/a.txt")).status_code == 200
    assert (await client.get("/bp/static//a.txt")).status_code == 404


async def test_an_overridden_send_static_file_serves_the_static_route(
    root: Path,
) -> None:
    # static._StaticView.__call__: target.send_static_file(filename), looked up on the
    # app, so a subclass's override is used (as Flask's and Quart's static view).
    class App(Microframework):
        async def send_static_file(self, filename: str):  # type: ignore[no-untyped-def,override]
            response = await super().send_static_file(filename)
            response.headers["X-Overridden"] = "yes"
            return response

    app = App(__name__, root_path=str(root))
    response = await app.test_client().get("/static/a.txt")
    assert response.status_code == 200
    assert response.headers["X-Overridden"] == "yes"
