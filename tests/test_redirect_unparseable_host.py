"""A redirect to a client-chosen target whose host Python can't parse is no 500."""

from __future__ import annotations

import pytest

from microframework import Microframework
from microframework import redirect
from microframework import request
from microframework import Response


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("http://[::1", "http://[::1"),  # urlsplit: "Invalid IPv6 URL"
        ("//[::1", "//[::1"),
        ("http://a]b/", "http://a]b/"),
        ("http://[zz]/", "http://[zz]/"),  # not an IP literal
        ("http://a:99999/", "http://a:99999/"),  # port out of range
        ("http://a:b/", "http://a:b/"),
        ("http://a..b/x", "http://a..b/x"),  # IDNA: an empty label
        ("http://" + "a" * 64 + ".example/", "http://" + "a" * 64 + ".example/"),
        ("http://\u2100.example/", "http://%E2%84%80.example/"),  # NFKC: "a/c"
        ("http://[::1/caf\u00e9", "http://[::1/caf%C3%A9"),
    ],
)
async def test_a_redirect_to_an_unparseable_host_is_sent_quoted(
    target: str, location: str
) -> None:
    # A login view's redirect(request.args["next"]) was a 500 (ValueError from
    # urlsplit, or UnicodeError from IDNA) for ?next=http://a:99999/ and the like;
    # Quart sends the target as given. Non-ASCII stays percent-encoded, so a browser
    # can't turn a fullwidth character into "\" or "/" inside the authority.
    assert redirect(target).headers["Location"] == location
    app = Microframework(__name__)

    @app.get("/login")
    async def login() -> Response:
        return redirect(request.args["next"])

    @app.get("/set")
    async def set_location() -> tuple[str, int, dict[str, str]]:
        return "", 302, {"Location": request.args["next"]}

    # Sent, "[" and "]" are encoded too, as for every Location (see porting.md).
    sent = location.replace("[", "%5B").replace("]", "%5D")
    client = app.test_client()
    for view in ("/login", "/set"):
        response = await client.get(view, query_string={"next": target})
        assert response.status_code == 302
        assert response.headers["Location"] == sent


def test_a_host_idna_maps_to_a_backslash_is_still_refused() -> None:
    # The fallback is only for hosts that fail to parse: this one parses.
    with pytest.raises(ValueError, match="invalid host"):
        redirect("https://evil.com\uff3c.example.com/x")
