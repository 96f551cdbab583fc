"""``static.py``: the ``static`` endpoints of apps and blueprints, and their cache lifetime.

Rule: a static route is an ordinary route whose view calls ``send_from_directory``. Never
imports ``app`` or ``blueprints`` at run time, so ``blueprints.py`` imports it at the top.
"""

from __future__ import annotations

import weakref
from datetime import timedelta
from typing import Any
from typing import TYPE_CHECKING

from werkzeug.exceptions import NotFound

from .files import send_from_directory
from .globals import _cv_app

if TYPE_CHECKING:
    from .app import Microframework
    from .blueprints import Blueprint
    from .blueprints import BlueprintSetupState
    from .wrappers.response import Response


def get_send_file_max_age(filename: str | None = None) -> int | None:
    """The current app's ``SEND_FILE_MAX_AGE_DEFAULT`` in seconds (``None``: no-cache)."""
    ctx = _cv_app.get(None)
    if ctx is None:
        return None
    value = ctx.app.config.get("SEND_FILE_MAX_AGE_DEFAULT")
    if value is None:
        return None
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return int(value)


async def send_static_file(
    owner: Microframework | Blueprint, filename: str
) -> Response:
    """What ``app.send_static_file`` and ``blueprint.send_static_file`` do."""
    folder = owner.static_folder
    if folder is None:
        raise RuntimeError("'static_folder' must be set to serve static files")
    max_age = owner.get_send_file_max_age(filename)
    return await send_from_directory(folder, filename, max_age=max_age)


class _StaticView:
    """The ``static`` endpoint's view: the owner's ``send_static_file``, looked up per
    request (overridable). Other attributes are that method's, as Quart's view *is*
    the method: quart-schema marks it hidden from the OpenAPI document."""

    __slots__ = ("_ref",)

    def __init__(self, owner: Microframework | Blueprint) -> None:
        self._ref = weakref.ref(owner)  # weak: the view must not keep the app alive

    async def __call__(self, filename: str) -> Response:
        target = self._ref()
        if target is None:
            raise NotFound()
        return await target.send_static_file(filename)

    def __getattr__(self, name: str) -> Any:
        if name == "_ref":  # not set yet: a copy being made (it recursed for ever)
            raise AttributeError(name)
        target = self._ref()
        if target is None:
            raise AttributeError(name)
        return getattr(type(target).send_static_file, name)


def add_static_route(app: Microframework) -> None:
    """Register the app's ``static`` endpoint, as Flask does, when it has a static folder."""
    if not app.has_static_folder:
        return
    if bool(app.static_host) != app.url_map.host_matching:
        raise ValueError(
            "static_host is required with host_matching=True and only allowed with it"
        )
    app.add_url_rule(
        f"{app.static_url_path}/<path:filename>",
        endpoint="static",
        host=app.static_host,
        view_func=_StaticView(app),
        # "/static//etc/passwd" must not be redirected to a merged path: it is a 404.
        merge_slashes=False,
    )


def add_blueprint_static_route(state: BlueprintSetupState) -> None:
    """Register ``<blueprint>.static`` when the blueprint has a static folder."""
    blueprint = state.blueprint
    if blueprint.has_static_folder:
        state.add_url_rule(
            f"{blueprint.static_url_path}/<path:filename>",
            endpoint="static",
            view_func=_StaticView(blueprint),
            merge_slashes=False,
        )
