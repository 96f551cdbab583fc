"""test_app()'s lifespan phases wait 60 s here, 6 s in Quart: Quart's name for the
default exists (a ported conftest reads ``quart.testing.app.DEFAULT_TIMEOUT``: port5,
session 40) and porting.md says how to change it."""

from __future__ import annotations

from pathlib import Path

from microframework import Microframework
from microframework.testing import app as testing_app
from microframework.testing import TestApp


def test_test_apps_default_timeout_has_quarts_name(app: Microframework) -> None:
    assert testing_app.DEFAULT_TIMEOUT == 60
    test_app = app.test_app()
    assert (test_app.startup_timeout, test_app.shutdown_timeout) == (60, 60)
    test_app = TestApp(app, startup_timeout=15, shutdown_timeout=5)
    assert (test_app.startup_timeout, test_app.shutdown_timeout) == (15, 5)


def test_porting_names_quarts_test_app_timeout() -> None:
    porting = (Path(__file__).parents[2] / "docs" / "porting.md").read_text()
    assert "DEFAULT_TIMEOUT" in porting
    paragraph = porting.split("DEFAULT_TIMEOUT")[0].rsplit("\n\n", 1)[1]
    assert "60" in paragraph and "6" in paragraph
