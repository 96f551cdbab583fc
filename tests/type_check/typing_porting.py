"""Type-checked, never run: typed Quart code keeps checking after the two renames.

Each block is a case where mypy passed on Quart 0.22 and failed here (session 15's
typing probe over Quart's extensions, examples and tozo).
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import assert_type

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from microframework import Microframework
from microframework import Response
from microframework import session
from microframework.routing import MicroframeworkRule
from microframework.sessions import SessionMixin
from microframework.testing import TestApp
from microframework.typing import ResponseReturnValue
from microframework.typing import ResponseValue
from microframework.typing import TestAppProtocol
from microframework.typing import TestClientProtocol
from microframework.wrappers.response import DataBody
from microframework.wrappers.response import IOBody

app = Microframework(__name__)


def the_client_and_test_app_know_their_app(
    client: TestClientProtocol, test_app: TestAppProtocol
) -> str:
    client.app.config["SECRET_KEY"] = "s"
    assert_type(client.app, Microframework)
    assert_type(TestApp(app).app, Microframework)
    return client.app.name + test_app.app.name


def add(a: int, b: int) -> int:
    return a + b


async def wrapped_functions_keep_their_signature() -> int:
    in_thread = app.sync_to_async(add)
    assert_type(await in_thread(1, 2), int)
    return await app.ensure_async(add)(1, 2)


def the_session_is_a_session() -> bool:
    assert_type(session.permanent, bool)
    return session.modified


async def a_session_transaction_yields_the_session(client: TestClientProtocol) -> None:
    async with client.session_transaction() as sess:
        assert_type(sess, SessionMixin)


def a_werkzeug_response_is_a_view_result(code: int) -> ResponseReturnValue:
    if code:
        return WerkzeugResponse("moved", 302), code
    return WerkzeugResponse("plain")


def a_tuple_narrows_to_its_parts(rv: ResponseReturnValue) -> int | None:
    # quart-schema's pattern: a tuple is never a body, so len() narrows it.
    if isinstance(rv, tuple) and len(rv) == 3:
        return rv[1]
    return None


def a_body_value(value: ResponseValue) -> ResponseValue:
    return value


async def bodies_are_bytes_or_text() -> None:
    from microframework import request

    assert_type(await request.get_data(), bytes)
    assert_type(await request.get_data(as_text=True), str)
    assert_type(await request.get_data(False, as_text=True), str)
    response = await app.make_response("hi")
    assert_type(await response.get_data(), bytes)
    assert_type(await response.get_data(as_text=True), str)
    response.set_cookie("sid", "v", max_age=3600, httponly=True, samesite="Lax")
    response.set_cookie("sid", "v", httponly="yes")  # type: ignore[arg-type]


class ErrorHandlingApp(Microframework):
    # Quart's and Flask's annotation: super() returned Any here (no-any-return).
    async def handle_http_exception(
        self, error: HTTPException
    ) -> HTTPException | ResponseReturnValue:
        return await super().handle_http_exception(error)

    async def handle_user_exception(
        self, error: Exception
    ) -> HTTPException | ResponseReturnValue:
        return await super().handle_user_exception(error)


async def resources_open_by_path_objects_and_quarts_keyword() -> bytes:
    async with await app.open_resource(Path("schema.sql")) as file:
        data: bytes = await file.read()
    async with await app.open_instance_resource(path="app.cfg", mode="rb") as file:
        more: bytes = await file.read()
    return data + more


async def a_request_context_takes_the_client_options_only() -> None:
    async with app.test_request_context("/", method="POST", json={"a": 1}):
        pass
    async with app.test_request_context("/", methd="POST"):  # type: ignore[call-arg]
        pass


class PrefixRule(MicroframeworkRule):
    pass


def quarts_bodies_build_responses(stream: BytesIO) -> list[Response]:
    app.url_rule_class = PrefixRule
    body: DataBody | IOBody = DataBody(b"x")
    return [Response(body, status=201), Response(IOBody(stream, buffer_size=10))]
