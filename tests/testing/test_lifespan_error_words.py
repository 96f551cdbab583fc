"""test_app()'s LifespanError is worded as Quart's, so ported `match=` patterns hold.

azure-search-openai-demo's tests/test_app.py expects
``pytest.raises(quart.testing.app.LifespanError, match="Error during startup 'AZURE_STORAGE_ACCOUNT'")``
when its ``before_app_serving`` reads a missing environment variable (port4, session 39).
"""

from __future__ import annotations

import os

import pytest

from microframework import Blueprint
from microframework import Microframework
from microframework.testing.app import LifespanError


async def test_a_startup_failure_reads_as_quarts() -> None:
    bp = Blueprint("routes", __name__)

    @bp.before_app_serving
    async def setup_clients() -> None:
        os.environ["MF_TEST_UNSET_AZURE_STORAGE_ACCOUNT"]

    app = Microframework(__name__)
    app.register_blueprint(bp)
    match = "Error during startup 'MF_TEST_UNSET_AZURE_STORAGE_ACCOUNT'"
    with pytest.raises(LifespanError, match=match) as failed:
        async with app.test_app() as test_app:
            test_app.test_client()
    assert isinstance(failed.value.__cause__, KeyError)


async def test_a_shutdown_failure_reads_as_quarts() -> None:
    app = Microframework(__name__)

    @app.after_serving
    async def close() -> None:
        raise RuntimeError("closing failed")

    with pytest.raises(LifespanError) as failed:
        async with app.test_app():
            pass
    assert str(failed.value) == "Error during shutdown closing failed"
    assert isinstance(failed.value.__cause__, RuntimeError)


async def test_an_error_without_words_is_named() -> None:
    app = Microframework(__name__)

    @app.before_serving
    async def connect() -> None:
        raise ConnectionError

    with pytest.raises(LifespanError) as failed:
        async with app.test_app():
            pass
    assert str(failed.value) == "Error during startup ConnectionError()"
