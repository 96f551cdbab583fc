"""The ``auth`` blueprint: register, log in, log out, and ``g.user`` for every request.

Rule: the session holds only ``user_id``; :func:`load_logged_in_user` turns it into
``g.user`` before every request of the app, and ``g.user`` is the one thing views and
templates ask. Password hashing is CPU work, so it runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from collections.abc import Callable
from typing import ParamSpec
from typing import TypeVar

from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from microframework import Blueprint
from microframework import current_app
from microframework import flash
from microframework import g
from microframework import redirect
from microframework import render_template
from microframework import request
from microframework import ResponseReturnValue
from microframework import session
from microframework import url_for

from .store import Store

bp = Blueprint("auth", __name__, url_prefix="/auth")

P = ParamSpec("P")
R = TypeVar("R")

#: Form fields longer than this are refused rather than stored or hashed.
MAX_FIELD = 200


def get_store() -> Store:
    """The store of the current app (``create_app`` puts one in ``app.extensions``)."""
    store: Store = current_app.extensions["blog_store"]
    return store


def login_required(
    view: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R | ResponseReturnValue]]:
    """Send anonymous visitors to the login page instead of running *view*."""

    @functools.wraps(view)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        if g.user is None:
            await flash("Log in first.", "error")
            return redirect(url_for("auth.login"))
        return await view(*args, **kwargs)

    return wrapped


@bp.before_app_request
async def load_logged_in_user() -> None:
    """Set ``g.user`` from the session's ``user_id`` (``None`` when logged out)."""
    user_id = session.get("user_id")
    g.user = get_store().user(user_id) if isinstance(user_id, int) else None


def _credentials(form: dict[str, str]) -> tuple[str, str, str | None]:
    username = form.get("username", "").strip()
    password = form.get("password", "")
    error = None
    if not username:
        error = "Username is required."
    elif not password:
        error = "Password is required."
    elif len(username) > MAX_FIELD or len(password) > MAX_FIELD:
        error = f"Username and password are limited to {MAX_FIELD} characters."
    return username, password, error


@bp.route("/register", methods=["GET", "POST"])
async def register() -> ResponseReturnValue:
    """Show the sign-up form; on POST create the user and go to the login page."""
    if request.method == "POST":
        username, password, error = _credentials((await request.form).to_dict())
        if error is None:
            method = current_app.config["PASSWORD_HASH_METHOD"]
            hashed = await asyncio.to_thread(generate_password_hash, password, method)
            if get_store().add_user(username, hashed) is None:
                error = f"User {username} is already registered."
            else:
                await flash(f"Welcome, {username}. Log in to start writing.", "success")
                return redirect(url_for("auth.login"))
        await flash(error, "error")
        return await render_template("auth/register.html", username=username), 400
    return await render_template("auth/register.html")


@bp.route("/login", methods=["GET", "POST"])
async def login() -> ResponseReturnValue:
    """Show the login form; on POST check the password and remember the user."""
    if request.method == "POST":
        username, password, error = _credentials((await request.form).to_dict())
        if error is None:
            user = get_store().user_named(username)
            matches = user is not None and await asyncio.to_thread(
                check_password_hash, user.password_hash, password
            )
            if user is not None and matches:
                # A fresh session on login: nothing from before it carries over.
                session.clear()
                session["user_id"] = user.id
                await flash(f"Logged in as {user.username}.", "success")
                return redirect(url_for("posts.index"))
            # One message for both cases, so the form does not reveal who exists.
            error = "Incorrect username or password."
        await flash(error, "error")
        return await render_template("auth/login.html", username=username), 400
    return await render_template("auth/login.html")


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    """Forget the user and go back to the index (POST, so a link cannot log you out)."""
    session.clear()
    await flash("Logged out.", "info")
    return redirect(url_for("posts.index"))
