"""Templates: the app's async jinja environment and loader, ``render_*``, ``stream_*``.

Rule: jinja runs in async mode, so every render is awaited. The functions find the app
through the context once and pass it on; unused context processors and signals cost
nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar

import jinja2
from jinja2 import BaseLoader
from jinja2 import Template
from jinja2 import TemplateNotFound
from jinja2.runtime import Context
from werkzeug.utils import cached_property

from ._utils import call_awaited
from ._utils import remember
from .flashing import get_flashed_messages
from .globals import _cv_app
from .globals import g
from .globals import request
from .globals import session
from .helpers import stream_with_context
from .helpers import url_for
from .scaffold import name_decorator
from .scaffold import Scaffold
from .scaffold import setupmethod
from .signals import before_render_template
from .signals import send_signal
from .signals import state as _signals
from .signals import template_rendered
from .wrappers.body import outlive

if TYPE_CHECKING:
    from jinja2.ext import Extension

    from .config import Config
    from .ctx import AppContext
    from .json.provider import JSONProvider
    from .scaffold import T_template_test
    from .wrappers.response import Response

F = TypeVar("F", bound=Callable[..., Any])
_AUTOESCAPED = (".html", ".htm", ".xml", ".xhtml", ".svg")


class _Template(jinja2.Template):
    """jinja's ``Template`` with a cheaper render context: jinja iterates the globals'
    ``ChainMap`` in Python, twice; merging its dicts in C saves a third of a render."""

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> Context:
        maps = getattr(self.globals, "maps", None)
        if shared or locals or maps is None:
            return super().new_context(vars, shared, locals)
        merged = dict(maps[-1])
        for mapping in maps[-2::-1]:  # the first map wins, as in a ChainMap
            merged.update(mapping)
        parent = merged.copy()
        if vars:
            parent.update(vars)
        return self.environment.context_class(
            self.environment, parent, self.name, self.blocks, globals=merged
        )


class Environment(jinja2.Environment):
    """The app's jinja environment: async, loading from the app and its blueprints."""

    template_class = _Template

    def __init__(self, app: TemplatingMixin, **options: Any) -> None:
        if "loader" not in options:
            options["loader"] = app.create_global_jinja_loader()
        options["enable_async"] = True
        super().__init__(**options)
        self.app = app
        self._from_source: dict[str, Template] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        # A compile-time option (trim_blocks, finalize...) changed: strings compiled
        # under the old value would keep it, where Flask's, compiled per call, don't.
        super().__setattr__(name, value)
        if name != "_from_source" and "_from_source" in self.__dict__:
            self._from_source.clear()

    def overlay(self, **options: Any) -> jinja2.Environment:  # type: ignore[override]
        """jinja's overlay, with a string cache of its own: one made with other options
        (``autoescape=False``) must not hand the app its templates."""
        env = super().overlay(**options)
        vars(env)["_from_source"] = {}
        return env

    def add_extension(self, extension: str | type[Extension]) -> None:
        """Add *extension*; strings compiled without it are compiled again."""
        super().add_extension(extension)
        self._from_source.clear()

    def cached_from_string(self, source: str) -> Template:
        """*source* compiled once (a compile costs about 250 us), for
        ``render_template_string``; ``from_string`` stays jinja's (a new template)."""
        template = self._from_source.get(source)
        if template is None:
            compiled = self.from_string(source)
            template = remember(self._from_source, source, compiled, len(source))
        return template


def _from_string(env: Any, source: str) -> Template:
    # An app's own jinja_environment may be jinja's class, without the cache.
    cached = getattr(env, "cached_from_string", None)
    return env.from_string(source) if cached is None else cached(source)  # type: ignore[no-any-return]


class DispatchingJinjaLoader(BaseLoader):
    """Looks in the app's folder, then each blueprint's in order; the first hit wins."""

    def __init__(self, app: TemplatingMixin) -> None:
        self.app = app

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if self.app.config.get("EXPLAIN_TEMPLATE_LOADING"):
            return self._explain(environment, template)
        for loader in self._loaders():
            try:
                return loader.get_source(environment, template)
            except TemplateNotFound:
                continue
        raise TemplateNotFound(template)

    def _explain(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        # Flask's EXPLAIN_TEMPLATE_LOADING: every folder is tried, and the log says
        # which one answered (a blueprint's template hidden by another's, say).
        found: tuple[str, str | None, Callable[[], bool] | None] | None = None
        lines = [f"Locating template {template!r}:"]
        for scaffold in (self.app, *self.app.blueprints.values()):
            where = (
                "the app" if scaffold is self.app else f"blueprint {scaffold.name!r}"
            )
            if (loader := scaffold.jinja_loader) is None:
                lines.append(f"  {where}: no template folder")
                continue
            try:
                source = loader.get_source(environment, template)
            except TemplateNotFound:
                # Where it looked: a wrong template_folder is what this is turned on for.
                paths = getattr(loader, "searchpath", None) or type(loader).__name__
                lines.append(f"  {where}: not found in {paths}")
                continue
            used = " (used)" if found is None else ""
            lines.append(f"  {where}: found at {source[1]!r}{used}")
            found = found or source
        if found is None:
            lines.append("The template was not found.")
        self.app.logger.info("\n".join(lines))
        if found is None:
            raise TemplateNotFound(template)
        return found

    def _loaders(self) -> Iterator[BaseLoader]:
        for scaffold in (self.app, *self.app.blueprints.values()):
            if (loader := scaffold.jinja_loader) is not None:
                yield loader

    def list_templates(self) -> list[str]:
        names: set[str] = set()
        for loader in self._loaders():
            names.update(loader.list_templates())
        return sorted(names)


class TemplatingMixin(Scaffold):
    """The app's templating API; ``Microframework`` inherits it."""

    jinja_environment: type[Environment] = Environment
    #: Extra keyword arguments for the environment.
    jinja_options: dict[str, Any] = {}
    # Provided by the app.
    config: Config
    logger: logging.Logger
    blueprints: dict[str, Any]
    json: JSONProvider
    response_class: type[Response]

    @cached_property
    def jinja_env(self) -> Environment:
        """The environment templates are loaded and rendered with, made on first use."""
        return self.create_jinja_environment()

    def create_jinja_environment(self) -> Environment:
        """Build :attr:`jinja_env`; override to change how."""
        options = dict(self.jinja_options)
        options.setdefault("autoescape", self.select_jinja_autoescape)
        options.setdefault("auto_reload", self.templates_auto_reload)
        env = self.jinja_environment(self, **options)
        env.globals.update(url_for=url_for, get_flashed_messages=get_flashed_messages)
        # Proxies for renders outside a request; inside, the context has the objects.
        env.globals.update(config=self.config, request=request, session=session, g=g)
        env.policies["json.dumps_function"] = self.json.dumps
        return env

    def create_global_jinja_loader(self) -> BaseLoader:
        """The environment's loader: app folder first, then blueprint folders."""
        return DispatchingJinjaLoader(self)

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Autoescape strings and ``.html``, ``.htm``, ``.xml``, ``.xhtml``, ``.svg``."""
        return True if filename is None else filename.endswith(_AUTOESCAPED)

    @property
    def debug(self) -> bool:
        """``DEBUG``; setting it sets template auto-reload too (unless
        ``TEMPLATES_AUTO_RELOAD`` says otherwise), as in Flask."""
        return self.config["DEBUG"]  # type: ignore[no-any-return]

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value
        if "jinja_env" in self.__dict__:
            self.jinja_env.auto_reload = self.templates_auto_reload

    @property
    def templates_auto_reload(self) -> bool:
        """Reload changed templates: ``TEMPLATES_AUTO_RELOAD``, defaulting to debug."""
        value = self.config["TEMPLATES_AUTO_RELOAD"]
        return bool(self.config["DEBUG"]) if value is None else bool(value)

    @templates_auto_reload.setter
    def templates_auto_reload(self, value: bool | None) -> None:
        self.config["TEMPLATES_AUTO_RELOAD"] = value
        if "jinja_env" in self.__dict__:  # None: back to following DEBUG
            self.jinja_env.auto_reload = self.templates_auto_reload

    async def update_template_context(self, context: dict[str, Any]) -> None:
        """Add ``g``, ``request``, ``session`` and the context processors' values
        (values passed to the render call win)."""
        await _fill_context(self, _cv_app.get(None), context)

    @setupmethod
    def template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Register a jinja filter: ``@app.template_filter()`` or ``("name")``."""
        return name_decorator(self.add_template_filter, name)

    @setupmethod
    def add_template_filter(
        self, f: Callable[..., Any], name: str | None = None
    ) -> None:
        """Register *f* as a jinja filter named *name* (default: its own name)."""
        self.jinja_env.filters[name or f.__name__] = f

    @setupmethod
    def template_test(
        self, name: str | None = None
    ) -> Callable[[T_template_test], T_template_test]:
        """Register a jinja test: ``@app.template_test()`` or ``("name")``."""
        return name_decorator(self.add_template_test, name)

    @setupmethod
    def add_template_test(
        self, f: Callable[..., bool], name: str | None = None
    ) -> None:
        """Register *f* as a jinja test named *name* (default: its own name)."""
        self.jinja_env.tests[name or f.__name__] = f

    @setupmethod
    def template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Register a jinja global: ``@app.template_global()`` or ``("name")``."""
        return name_decorator(self.add_template_global, name)

    @setupmethod
    def add_template_global(
        self, f: Callable[..., Any], name: str | None = None
    ) -> None:
        """Make *f* a global in every template, named *name* (default: its name)."""
        self.jinja_env.globals[name or f.__name__] = f


async def _fill_context(
    app: TemplatingMixin, ctx: AppContext | None, context: dict[str, Any]
) -> None:
    passed = context.copy()
    names: tuple[str | None, ...] = (None,)  # outside any context: the app's, as Flask
    if ctx is not None:
        context["g"] = ctx.g
        connection = ctx.request if ctx.request is not None else ctx.websocket
        if ctx.request is not None:
            context["request"] = ctx.request
        if ctx.websocket is not None:
            context["websocket"] = ctx.websocket
        if connection is not None:
            context["session"] = session  # the proxy, as Flask: opened only if used
            names = (None, *reversed(connection.blueprints))
    ensure_async = app.ensure_async  # type: ignore[attr-defined] # the app's
    for name in names:
        for processor in app.template_context_processors.get(name, ()):
            # A sync one runs in a worker thread, as a sync hook does: it may block.
            context.update(await call_awaited(ensure_async, processor))
    context.update(passed)


def _app(what: str) -> TemplatingMixin:
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(f"{what} needs an application context")
    return ctx.app


async def _render(app: TemplatingMixin, template: Template, context: Any) -> str:
    await app.update_template_context(context)
    if _signals.listening:
        await send_signal(
            before_render_template, app, template=template, context=context
        )
    rv = await template.render_async(context)
    if _signals.listening:
        await send_signal(template_rendered, app, template=template, context=context)
    return rv


async def render_template(
    template_name_or_list: str | Template | list[str | Template], **context: Any
) -> str:
    """Render the named template (the first that exists, given a list)."""
    app = _app("render_template")
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return await _render(app, template, context)


async def render_template_string(source: str, **context: Any) -> str:
    """Render a template given as a string (autoescaped)."""
    app = _app("render_template_string")
    return await _render(app, _from_string(app.jinja_env, source), context)


async def _stream(app: TemplatingMixin, template: Template, context: Any) -> Response:
    await app.update_template_context(context)
    await send_signal(before_render_template, app, template=template, context=context)

    body: AsyncIterator[str] = _streamed(app, template, context)
    ctx = _cv_app.get(None)
    if ctx is not None and (ctx.request is not None or ctx.websocket is not None):
        # The body is sent after the view returns; keep request, g and session.
        body = stream_with_context(body)
    return app.response_class(body)


# jinja makes a chunk of every piece of text and every ``{{ }}``: a send apiece cost a
# loop turn every 16 over HTTP/2 (see _guard's NO_WAIT), hypercorn a frame each. So the
# template renders in a task of its own, and the body sends what it has made whenever
# it gets a turn: chunks made without waiting go out joined, text made before the
# template waits goes out while it waits, and its own cancels (an ``asyncio.timeout``,
# a TaskGroup) land in its task, never in a send.
_TURN = 16384  # characters the template makes between turns of the loop, ...
_TURN_CHUNKS = 1024  # ... or chunks (empty ones too)
_HELD = 65536  # characters made and not yet sent (a slow client): then it waits


class _Held:
    __slots__ = ("parts", "size", "reader", "writer", "closed")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.reader: asyncio.Future[None] | None = None  # the body waits for text
        self.writer: asyncio.Future[None] | None = None  # the template, for room
        self.closed = False

    def wake(self) -> None:
        if (reader := self.reader) is not None and not reader.done():
            reader.set_result(None)


async def _streamed(
    app: TemplatingMixin, template: Template, context: Any
) -> AsyncIterator[str]:
    held = _Held()
    loop = asyncio.get_running_loop()
    made = loop.create_task(_render_into(held, template.generate_async(context)))
    try:
        while True:
            if held.parts:
                chunk = "".join(held.parts)
                held.parts.clear()
                held.size = 0
                if (writer := held.writer) is not None:
                    held.writer = None
                    writer.set_result(None)
                yield chunk
            elif made.done():
                made.result()  # its error, if it failed
                break
            else:
                held.reader = loop.create_future()
                try:
                    await held.reader
                finally:
                    held.reader = None
                if not held.parts and not made.done():
                    yield ""  # empty chunks made: not idle (see _guard.stream_body)
    except BaseException:  # its traceback keeps this frame: rows in context end now
        context = None  # (not at a garbage collection, long after the response)
        raise
    finally:
        held.closed = True  # (a template that swallows the cancel stops at a turn)
        if not made.done():  # closed early: its client left, a timeout, an error
            made.cancel()
            await outlive(made, asyncio.CancelledError)
        elif not made.cancelled():
            made.exception()  # seen: an error no chunk was asked for after is not logged
    await send_signal(template_rendered, app, template=template, context=context)


async def _render_into(held: _Held, chunks: AsyncIterator[str]) -> None:
    made = count = 0
    try:
        async for chunk in chunks:
            if chunk:
                held.parts.append(chunk)
                held.size += len(chunk)
                made += len(chunk)
                if held.reader is not None:
                    held.wake()
            count += 1
            if made >= _TURN or count >= _TURN_CHUNKS:
                made = count = 0
                if held.closed:
                    break
                held.wake()
                if held.size < _HELD:
                    await asyncio.sleep(0)  # the body sends what is made, others run
                else:  # the body's send waits for its client
                    held.writer = asyncio.get_running_loop().create_future()
                    await held.writer
    finally:
        try:
            await chunks.aclose()  # type: ignore[attr-defined]
        finally:
            held.wake()


async def stream_template(
    template_name_or_list: str | Template | list[str | Template], **context: Any
) -> Response:
    """A response that renders the named template chunk by chunk as it is sent."""
    app = _app("stream_template")
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return await _stream(app, template, context)


async def stream_template_string(source: str, **context: Any) -> Response:
    """A response that renders a template string chunk by chunk as it is sent."""
    app = _app("stream_template_string")
    return await _stream(app, _from_string(app.jinja_env, source), context)
