"""Pins from mutation testing of conditional.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins.
"""

from __future__ import annotations

from microframework import Microframework
from microframework import request
from microframework import Response

BODY = b"0123456789abcdef"


def _app(headers: dict[str, str], *, drop_type: bool = False) -> Microframework:
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        response = Response(BODY, headers=headers)
        if drop_type:
            del response.headers["Content-Type"]
        return await response.make_conditional(request, accept_ranges=True)

    return app


async def test_if_unmodified_since_without_last_modified_is_ignored() -> None:
    # conditional.precondition_status: `stamp is not None and stamp > since`. A response
    # without Last-Modified can't fail If-Unmodified-Since (Flask and Quart: 200 too).
    app = _app({"ETag": '"a"'})
    response = await app.test_client().get(
        "/", headers={"If-Unmodified-Since": "Tue, 01 Jan 2019 00:00:00 GMT"}
    )
    assert response.status_code == 200
    assert await response.get_data() == BODY


async def test_if_none_match_star_is_304_even_without_an_etag() -> None:
    # conditional.precondition_status: `tags.star_tag or ...` for If-None-Match. RFC 9110
    # 13.1.2: "*" matches any current representation. Flask and Quart answer 200 when the
    # response has no ETag (werkzeug compares "*" with the missing tag).
    app = _app({})
    response = await app.test_client().get("/", headers={"If-None-Match": "*"})
    assert response.status_code == 304


async def test_a_304_drops_content_encoding() -> None:
    # conditional.drop_for_not_modified: "Content-Encoding" among the headers removed
    # (Flask drops it too; RFC 9110 15.4.5).
    app = _app({"ETag": '"a"', "Content-Encoding": "gzip"})
    response = await app.test_client().get("/", headers={"If-None-Match": '"a"'})
    assert response.status_code == 304
    assert "Content-Encoding" not in response.headers


async def test_a_multipart_part_without_content_type_has_no_content_type_line() -> None:
    # conditional.PartialContent: `kind = "" if content_type is None`.
    app = _app({}, drop_type=True)
    response = await app.test_client().get("/", headers={"Range": "bytes=0-1,4-5"})
    assert response.status_code == 206
    body = await response.get_data()
    assert b"Content-Range: bytes 0-1/16" in body
    assert b"Content-Type" not in body


async def test_a_tab_only_range_element_is_an_empty_list_element() -> None:
    # conditional.parse_byte_ranges: `raw.strip(" \t")`: OWS around a list element is
    # dropped, so "0-4,<TAB>" is one range (werkzeug ignores the whole header: 200).
    app = _app({})
    response = await app.test_client().get("/", headers={"Range": "bytes=0-4,\t"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 0-4/16"
