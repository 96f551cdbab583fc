"""url_for in a request whose method is not GET builds the rule for that method first,
as Flask's and Quart's adapters, bound to the request, do (perf4, session 39)."""

from __future__ import annotations

from microframework import Microframework
from microframework import url_for


def _one_endpoint_two_rules(app: Microframework) -> None:
    async def items() -> str:
        return url_for("items")

    app.add_url_rule("/items/list", "items", items, methods=["GET"])
    app.add_url_rule("/items/create", "items", items, methods=["POST", "PUT"])


async def test_url_for_in_a_post_request_prefers_the_rule_for_post() -> None:
    # The redirect(url_for(request.endpoint)) after a POST of Flask's form patterns.
    app = Microframework(__name__)
    _one_endpoint_two_rules(app)
    client = app.test_client()
    for method, path in (("get", "/items/list"), ("post", "/items/create")) * 2 + (
        ("put", "/items/create"),
    ):
        response = await getattr(client, method)(path)
        assert await response.get_data(as_text=True) == path


async def test_url_for_in_a_post_request_falls_back_to_other_rules() -> None:
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        return "index"

    @app.post("/save")
    async def save() -> str:
        return url_for("index")  # no POST rule for it: the GET one, as before

    response = await app.test_client().post("/save")
    assert await response.get_data(as_text=True) == "/"


async def test_url_for_with_a_method_still_picks_that_methods_rule() -> None:
    app = Microframework(__name__)

    async def both() -> str:
        return f"{url_for('both', _method='GET')} {url_for('both', _method='POST')}"

    app.add_url_rule("/b/get", "both", both, methods=["GET"])
    app.add_url_rule("/b/post", "both", both, methods=["POST"])
    response = await app.test_client().post("/b/post")
    assert await response.get_data(as_text=True) == "/b/get /b/post"
