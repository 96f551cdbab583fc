"""Pins from mutation testing of config.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from microframework import Microframework
from microframework.config import Config


def test_max_cookie_size_default_is_flasks() -> None:
    # config.DEFAULT_CONFIG["MAX_COOKIE_SIZE"] = 4093, Flask's (and Quart's) default.
    assert Microframework(__name__).config["MAX_COOKIE_SIZE"] == 4093


def test_flask_run_variables_are_not_named_by_from_prefixed_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # config._warn_of_other_prefixes: `not key.startswith("RUN_")`: FLASK_RUN_PORT is
    # `flask run`'s option, not config, so no warning names it.
    for name in [n for n in os.environ if n.startswith(("FLASK_", "QUART_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FLASK_RUN_PORT", "8000")
    monkeypatch.setenv("QUART_RUN_HOST", "0.0.0.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Config(tmp_path).from_prefixed_env()


def test_permanent_session_lifetime_default_is_31_days() -> None:
    # config.DEFAULT_CONFIG["PERMANENT_SESSION_LIFETIME"] = timedelta(days=31), Flask's.
    app = Microframework(__name__)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=31)
    assert app.permanent_session_lifetime == timedelta(days=31)
