"""Tests for the blog example: accounts and the session, flash messages, posts with
their author checks, the class-based editor and the template context processor."""

from __future__ import annotations

from typing import Any

import pytest
from blog import create_app
from blog.store import Store
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from markupsafe import escape

from microframework import Microframework
from microframework import template_rendered
from microframework.sessions import SecureCookieSessionInterface
from microframework.testing import MicroframeworkClient
from microframework.wrappers import Response

# A cheap hash keeps the tests fast; the app's default is scrypt.
TEST_CONFIG = {"TESTING": True, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


@pytest.fixture
def app() -> Microframework:
    return create_app(TEST_CONFIG)


@pytest.fixture
def client(app: Microframework) -> MicroframeworkClient:
    return app.test_client()


def _store(app: Microframework) -> Store:
    store: Store = app.extensions["blog_store"]
    return store


async def _text(response: Response) -> str:
    data: bytes = await response.get_data()
    return data.decode()


async def _register(
    client: MicroframeworkClient, username: str = "ada", password: str = "secret"
) -> Response:
    return await client.post(
        "/auth/register", form={"username": username, "password": password}
    )


async def _login(
    client: MicroframeworkClient, username: str = "ada", password: str = "secret"
) -> Response:
    return await client.post(
        "/auth/login", form={"username": username, "password": password}
    )


async def _logged_in(
    app: Microframework, username: str = "ada"
) -> MicroframeworkClient:
    client = app.test_client()
    await _register(client, username)
    await _login(client, username)
    return client


def _session_of(app: Microframework, client: MicroframeworkClient) -> dict[str, Any]:
    cookie = client.get_cookie("session")
    if cookie is None:
        return {}
    interface = app.session_interface
    assert isinstance(interface, SecureCookieSessionInterface)
    signer = interface.get_signing_serializer(app)
    assert signer is not None
    data: dict[str, Any] = signer.loads(cookie.decoded_value)
    return data


# -- register / login / logout ----------------------------------------------------


async def test_register_creates_the_user_and_redirects_to_login(
    app: Microframework, client: MicroframeworkClient
) -> None:
    response = await _register(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    user = _store(app).user_named("ada")
    assert user is not None
    assert user.password_hash.startswith("pbkdf2:sha256:1000$")
    assert "secret" not in user.password_hash


async def test_register_refuses_a_taken_name(client: MicroframeworkClient) -> None:
    await _register(client)
    response = await _register(client, password="other")
    assert response.status_code == 400
    assert "User ada is already registered." in await _text(response)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "", "password": "x"}, "Username is required."),
        ({"username": "   ", "password": "x"}, "Username is required."),
        ({"username": "ada", "password": ""}, "Password is required."),
        ({"password": "x"}, "Username is required."),
        ({"username": "a" * 201, "password": "x"}, "limited to 200 characters"),
    ],
)
async def test_register_refuses_incomplete_forms(
    app: Microframework,
    client: MicroframeworkClient,
    form: dict[str, str],
    message: str,
) -> None:
    response = await client.post("/auth/register", form=form)
    assert response.status_code == 400
    assert message in await _text(response)
    assert _store(app).user_named("ada") is None


async def test_login_stores_only_the_user_id_in_a_signed_cookie(
    app: Microframework, client: MicroframeworkClient
) -> None:
    await _register(client)
    response = await _login(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith("session=")
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie
    assert "Cookie" in response.headers["Vary"]
    session = _session_of(app, client)
    user = _store(app).user_named("ada")
    assert user is not None
    assert session["user_id"] == user.id
    assert "secret" not in str(session)


async def test_logged_in_user_is_shown_in_the_nav(app: Microframework) -> None:
    client = await _logged_in(app)
    page = await _text(await client.get("/"))
    assert "<span>ada</span>" in page
    assert 'action="/auth/logout"' in page
    assert 'href="/auth/login"' not in page


@pytest.mark.parametrize(
    ("username", "password"), [("ada", "wrong"), ("nobody", "secret")]
)
async def test_login_with_bad_credentials_says_the_same_thing(
    app: Microframework, client: MicroframeworkClient, username: str, password: str
) -> None:
    await _register(client)
    response = await _login(client, username, password)
    assert response.status_code == 400
    assert "Incorrect username or password." in await _text(response)
    assert "user_id" not in _session_of(app, client)


async def test_logout_forgets_the_user_and_deletes_the_cookie(
    app: Microframework,
) -> None:
    client = await _logged_in(app)
    response = await client.post("/auth/logout")
    assert response.status_code == 302
    assert "user_id" not in _session_of(app, client)
    page = await _text(await client.get("/"))
    assert 'href="/auth/login"' in page
    assert "<span>ada</span>" not in page


async def test_logout_by_get_is_not_allowed(app: Microframework) -> None:
    client = await _logged_in(app)
    response = await client.get("/auth/logout")
    assert response.status_code == 405
    assert "user_id" in _session_of(app, client)


async def test_tampered_session_cookie_means_logged_out(app: Microframework) -> None:
    client = await _logged_in(app)
    cookie = client.get_cookie("session")
    assert cookie is not None
    payload, _, signature = cookie.decoded_value.rpartition(".")
    forged = f"{payload}.{'A' * len(signature)}"
    client.set_cookie("session", forged)
    response = await client.get("/create")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"


async def test_cookie_signed_by_another_secret_means_logged_out(
    app: Microframework,
) -> None:
    client = await _logged_in(app)
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = create_app({**TEST_CONFIG, "SECRET_KEY": "another key"})
    await _register(other.test_client())  # user 1 exists there too
    other_client = other.test_client()
    other_client.set_cookie("session", cookie.decoded_value)
    page = await _text(await other_client.get("/"))
    assert "<span>ada</span>" not in page


async def test_rotated_secret_key_keeps_the_user_logged_in(
    app: Microframework,
) -> None:
    client = await _logged_in(app)
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "the new key"
    response = await client.get("/")
    assert "<span>ada</span>" in await _text(response)


async def test_session_from_a_restarted_blog_names_nobody() -> None:
    # Same secret key, new (empty) store: as after a restart, or on another worker.
    config = {**TEST_CONFIG, "SECRET_KEY": "kept across restarts"}
    old = await _logged_in(create_app(config), "mallory")
    cookie = old.get_cookie("session")
    assert cookie is not None
    app = create_app(config)
    await _logged_in(app, "ada")
    client = app.test_client()
    client.set_cookie("session", cookie.decoded_value)
    page = await _text(await client.get("/"))
    assert "<span>ada</span>" not in page
    assert 'href="/auth/login"' in page


# -- flash messages -----------------------------------------------------------------


async def test_flash_after_register_is_shown_on_the_next_page_once(
    client: MicroframeworkClient,
) -> None:
    await _register(client)
    first = await _text(await client.get("/auth/login"))
    assert '<div class="flash success" role="status">Welcome, ada.' in first
    second = await _text(await client.get("/auth/login"))
    assert "Welcome, ada." not in second


async def test_flash_follows_the_redirect_after_login(
    client: MicroframeworkClient,
) -> None:
    await _register(client)
    await client.get("/auth/login")  # take the welcome message
    response = await client.post(
        "/auth/login",
        form={"username": "ada", "password": "secret"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Logged in as ada." in await _text(response)


async def test_flashed_messages_are_escaped(client: MicroframeworkClient) -> None:
    response = await _register(client, username="<b>x</b>")
    await client.get("/auth/login")
    response = await _register(client, username="<b>x</b>")
    page = await _text(response)
    assert "User &lt;b&gt;x&lt;/b&gt; is already registered." in page
    assert "<b>x</b>" not in page


# -- posts ----------------------------------------------------------------------------


async def test_index_is_empty_for_a_new_blog(client: MicroframeworkClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "No posts yet." in await _text(response)


async def test_create_needs_a_login(client: MicroframeworkClient) -> None:
    response = await client.get("/create", follow_redirects=True)
    page = await _text(response)
    assert response.status_code == 200
    assert "<h2>Log in</h2>" in page
    assert "Log in first." in page


async def test_create_publishes_a_post_on_the_index(app: Microframework) -> None:
    client = await _logged_in(app)
    response = await client.post(
        "/create", form={"title": "Hello", "body": "First post"}, follow_redirects=True
    )
    page = await _text(response)
    assert "<h3>Hello</h3>" in page
    assert "<p>First post</p>" in page
    assert "by ada on " in page
    assert "Published “Hello”." in page
    assert 'href="/1/update"' in page


async def test_create_refuses_an_empty_title(app: Microframework) -> None:
    client = await _logged_in(app)
    response = await client.post("/create", form={"title": " ", "body": "text"})
    assert response.status_code == 400
    page = await _text(response)
    assert "Title is required." in page
    assert ">text</textarea>" in page  # the body is kept for another try
    assert _store(app).posts() == []


async def test_index_escapes_post_content(app: Microframework) -> None:
    client = await _logged_in(app)
    await client.post("/create", form={"title": "<script>x</script>", "body": "a&b"})
    page = await _text(await client.get("/"))
    assert "<h3>&lt;script&gt;x&lt;/script&gt;</h3>" in page
    assert "<p>a&amp;b</p>" in page


async def _post_by(
    app: Microframework, username: str
) -> tuple[MicroframeworkClient, int]:
    client = await _logged_in(app, username)
    await client.post("/create", form={"title": f"by {username}", "body": "text"})
    return client, _store(app).posts()[0].id


async def test_author_sees_the_edit_form(app: Microframework) -> None:
    client, post_id = await _post_by(app, "ada")
    response = await client.get(f"/{post_id}/update")
    assert response.status_code == 200
    page = await _text(response)
    assert 'value="by ada"' in page
    assert f'action="/{post_id}/delete"' in page


async def test_author_can_update_a_post(app: Microframework) -> None:
    client, post_id = await _post_by(app, "ada")
    response = await client.post(
        f"/{post_id}/update", form={"title": "Edited", "body": "new"}
    )
    assert response.status_code == 302
    post = _store(app).post(post_id)
    assert post is not None
    assert (post.title, post.body) == ("Edited", "new")


async def test_update_refuses_an_empty_title(app: Microframework) -> None:
    client, post_id = await _post_by(app, "ada")
    response = await client.post(f"/{post_id}/update", form={"title": ""})
    assert response.status_code == 400
    assert "Title is required." in await _text(response)
    post = _store(app).post(post_id)
    assert post is not None
    assert post.title == "by ada"


async def test_author_can_delete_a_post(app: Microframework) -> None:
    client, post_id = await _post_by(app, "ada")
    response = await client.post(f"/{post_id}/delete", follow_redirects=True)
    assert response.status_code == 200
    assert "Deleted “by ada”." in await _text(response)
    assert _store(app).post(post_id) is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/{}/update"), ("POST", "/{}/update"), ("POST", "/{}/delete")],
)
async def test_another_user_gets_403(
    app: Microframework, method: str, path: str
) -> None:
    _, post_id = await _post_by(app, "ada")
    intruder = await _logged_in(app, "eve")
    response = await intruder.open(
        path.format(post_id), method=method, form={"title": "pwned", "body": ""}
    )
    assert response.status_code == 403
    post = _store(app).post(post_id)
    assert post is not None
    assert post.title == "by ada"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/99/update"), ("POST", "/99/update"), ("POST", "/99/delete")],
)
async def test_a_missing_post_is_404(
    app: Microframework, method: str, path: str
) -> None:
    client = await _logged_in(app)
    response = await client.open(path, method=method, form={"title": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/1/update"), ("POST", "/1/delete")]
)
async def test_anonymous_changes_redirect_to_login(
    app: Microframework, method: str, path: str
) -> None:
    await _post_by(app, "ada")
    response = await app.test_client().open(path, method=method)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert _store(app).post(1) is not None


async def test_the_method_view_answers_only_get_and_post(app: Microframework) -> None:
    client, post_id = await _post_by(app, "ada")
    response = await client.put(f"/{post_id}/update", form={"title": "x"})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "PUT" not in response.headers["Allow"]


# -- templates --------------------------------------------------------------------------


async def test_context_processor_gives_every_template_the_title_and_count(
    app: Microframework,
) -> None:
    client = await _logged_in(app)
    await client.post("/create", form={"title": "one", "body": ""})
    await client.post("/create", form={"title": "two", "body": ""})
    contexts: list[dict[str, Any]] = []

    def record(sender: Microframework, template: Any, context: dict[str, Any]) -> None:
        contexts.append(context)

    with template_rendered.connected_to(record, app):
        page = await _text(await client.get("/"))
        await client.get("/auth/login")
    assert "<title>Posts · Microblog</title>" in page
    assert "<h2>Posts (2)</h2>" in page
    assert [(c["blog_title"], c["post_count"]) for c in contexts] == [
        ("Microblog", 2),
        ("Microblog", 2),
    ]


async def test_blog_title_comes_from_config() -> None:
    app = create_app({**TEST_CONFIG, "BLOG_TITLE": "Notes & <Things>"})
    page = await _text(await app.test_client().get("/auth/register"))
    assert "<title>Register · Notes &amp; &lt;Things&gt;</title>" in page


async def test_date_filter_formats_the_creation_day(app: Microframework) -> None:
    client, post_id = await _post_by(app, "ada")
    post = _store(app).post(post_id)
    assert post is not None
    page = await _text(await client.get("/"))
    assert f"by ada on {post.created:%Y-%m-%d}" in page


@settings(max_examples=25, deadline=None)
@given(
    title=st.text(min_size=1, max_size=40).filter(lambda t: t.strip() == t and t),
    body=st.text(max_size=80),
)
async def test_any_title_and_body_round_trip_escaped(title: str, body: str) -> None:
    app = create_app(TEST_CONFIG)
    client = await _logged_in(app)
    response = await client.post("/create", form={"title": title, "body": body})
    assert response.status_code == 302
    post = _store(app).posts()[0]
    assert post.title == title
    page = await _text(await client.get("/"))
    assert f"<h3>{escape(title)}</h3>" in page


def test_create_app_without_test_config_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MICROFRAMEWORK_SECRET_KEY", "from-env")
    monkeypatch.setenv("MICROFRAMEWORK_BLOG_TITLE", "Env blog")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["BLOG_TITLE"] == "Env blog"


def test_each_app_has_its_own_store() -> None:
    assert _store(create_app(TEST_CONFIG)) is not _store(create_app(TEST_CONFIG))
