"""Pins from mutation testing of views.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins. Flask 3.1.3 behaves the same (see cmp_views.py).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from microframework import Microframework
from microframework.views import MethodView
from microframework.views import View


class Plain(View):
    async def dispatch_request(self) -> str:
        return "plain"


async def test_a_view_outside_a_request_raises_runtime_error() -> None:
    # views._ensure_async: `if ctx is None: raise RuntimeError` (Flask, Quart: RuntimeError
    # from current_app, not an AttributeError).
    with pytest.raises(RuntimeError):
        await Plain.as_view("plain")()


async def test_decorators_see_the_endpoint_name_and_the_class_module() -> None:
    # views.View.as_view: view.__name__ and view.__module__ set before the decorators
    # run, as Flask does, so a decorator that records them sees the endpoint.
    seen: list[tuple[str, str]] = []

    def record(func: Any) -> Any:
        seen.append((func.__name__, func.__module__))

        @functools.wraps(func)
        async def wrapper(**kwargs: Any) -> Any:
            return await func(**kwargs)

        return wrapper

    class Decorated(View):
        decorators = [record]

        async def dispatch_request(self) -> str:
            return "ok"

    Decorated.as_view("decorated")
    assert seen == [("decorated", __name__)]


def test_the_view_function_has_the_class_module() -> None:
    # views.View.as_view: func.__module__ = cls.__module__ (no decorators).
    assert Plain.as_view("plain").__module__ == __name__


def test_methods_of_a_base_with_explicit_methods_are_inherited() -> None:
    # views.MethodView.__init_subclass__: methods.update(base.methods), as Flask: a
    # method with no http_method_funcs name (PROPFIND) is kept by subclasses.
    class Base(MethodView):
        methods = ["GET", "PROPFIND"]

        async def get(self) -> str:
            return "get"

        async def propfind(self) -> str:
            return "propfind"

    class Child(Base):
        async def post(self) -> str:
            return "post"

    assert set(Child.methods or ()) == {"GET", "POST", "PROPFIND"}


def test_a_method_view_without_handlers_leaves_methods_none() -> None:
    # views.MethodView.__init_subclass__: `if methods:` (Flask: methods stays None).
    class Empty(MethodView):
        pass

    assert Empty.methods is None


async def test_method_view_dispatch_needs_a_request_not_just_an_app_context() -> None:
    # views.MethodView.dispatch_request: `ctx.request is None` -> RuntimeError.
    class Get(MethodView):
        async def get(self) -> str:
            return "get"

    app = Microframework(__name__)
    async with app.app_context():
        with pytest.raises(RuntimeError):
            await Get().dispatch_request()


async def test_head_uses_its_own_handler_when_defined() -> None:
    # views.MethodView.dispatch_request: get() stands in for HEAD only when there is
    # no head() (`handler is None and method == "head"`).
    class Both(MethodView):
        async def get(self) -> tuple[str, dict[str, str]]:
            return "get", {"X-Handler": "get"}

        async def head(self) -> tuple[str, dict[str, str]]:
            return "", {"X-Handler": "head"}

    app = Microframework(__name__)
    app.add_url_rule("/", view_func=Both.as_view("both"))
    response = await app.test_client().head("/")
    assert response.headers["X-Handler"] == "head"


async def test_a_listed_method_without_handler_is_a_runtime_error() -> None:
    # views.MethodView.dispatch_request: `if handler is None: raise RuntimeError` (Flask
    # raises AssertionError; both are a 500).
    class OnlyGet(MethodView):
        methods = ["GET", "POST"]

        async def get(self) -> str:
            return "get"

    app = Microframework(__name__)
    async with app.test_request_context("/", method="POST"):
        with pytest.raises(RuntimeError, match="no 'post' method"):
            await OnlyGet().dispatch_request()
