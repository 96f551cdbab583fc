"""The ``posts`` blueprint: the index, and writing, editing and deleting one's own posts.

Rule: anyone may read; writing needs a login (:func:`~blog.auth.login_required`), and
changing a post needs to be its author: a missing post is 404, someone else's is 403.
Editing is a :class:`~microframework.views.MethodView`, one class for the form's GET
and its POST.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from microframework import abort
from microframework import Blueprint
from microframework import current_app
from microframework import flash
from microframework import g
from microframework import redirect
from microframework import render_template
from microframework import request
from microframework import ResponseReturnValue
from microframework import url_for
from microframework.views import MethodView

from .auth import get_store
from .auth import login_required
from .auth import MAX_FIELD
from .store import Post

bp = Blueprint("posts", __name__)


@bp.app_context_processor
def blog_context() -> dict[str, Any]:
    """Give every template the blog's title and the number of posts."""
    return {
        "blog_title": current_app.config["BLOG_TITLE"],
        "post_count": len(get_store().posts()),
    }


@bp.app_template_filter("date")
def format_date(value: datetime) -> str:
    """``{{ post.created|date }}``: the day a post was written, as ``2024-05-01``."""
    return value.strftime("%Y-%m-%d")


def get_post(post_id: int, *, check_author: bool = True) -> Post:
    """The post *post_id*: 404 if there is none, 403 if it is not the user's."""
    post = get_store().post(post_id)
    if post is None:
        abort(404, description=f"Post {post_id} doesn't exist.")
    if check_author and (g.user is None or post.author_id != g.user.id):
        abort(403, description="Only the author may change a post.")
    return post


def _validate(form: dict[str, str]) -> tuple[str, str, str | None]:
    title = form.get("title", "").strip()
    body = form.get("body", "")
    error = None
    if not title:
        error = "Title is required."
    elif len(title) > MAX_FIELD:
        error = f"The title is limited to {MAX_FIELD} characters."
    return title, body, error


@bp.get("/")
async def index() -> str:
    """Every post, newest first, with its author's name."""
    store = get_store()
    entries = []
    for post in store.posts():
        author = store.user(post.author_id)
        entries.append((post, author.username if author is not None else "?"))
    return await render_template("posts/index.html", entries=entries)


@bp.route("/create", methods=["GET", "POST"])
@login_required
async def create() -> ResponseReturnValue:
    """Show the new-post form; on POST save the post and go to the index."""
    if request.method == "POST":
        title, body, error = _validate((await request.form).to_dict())
        if error is None:
            get_store().add_post(g.user, title, body)
            await flash(f"Published “{title}”.", "success")
            return redirect(url_for(".index"))
        await flash(error, "error")
        return await render_template("posts/create.html", title=title, body=body), 400
    return await render_template("posts/create.html")


class PostEditor(MethodView):
    """``/<id>/update``: GET shows the filled-in form, POST saves it."""

    decorators = [login_required]

    async def get(self, post_id: int) -> str:
        return await render_template("posts/update.html", post=get_post(post_id))

    async def post(self, post_id: int) -> ResponseReturnValue:
        post = get_post(post_id)
        title, body, error = _validate((await request.form).to_dict())
        if error is not None:
            await flash(error, "error")
            return await render_template("posts/update.html", post=post), 400
        post.title, post.body = title, body
        await flash(f"Saved “{title}”.", "success")
        return redirect(url_for(".index"))


bp.add_url_rule("/<int:post_id>/update", view_func=PostEditor.as_view("update"))


@bp.post("/<int:post_id>/delete")
@login_required
async def delete(post_id: int) -> ResponseReturnValue:
    """Delete the user's own post."""
    post = get_post(post_id)
    get_store().delete_post(post.id)
    await flash(f"Deleted “{post.title}”.", "info")
    return redirect(url_for(".index"))
