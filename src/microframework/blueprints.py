"""Blueprints: a deferred recording of routes and hooks, replayed onto an app.

Rule: a blueprint only *records*. Registering it runs its deferred functions against a
:class:`BlueprintSetupState` and copies its hooks and error handlers into the app's
registries under its dotted name (``"parent.child"``); after that it is frozen."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar

from . import typing as ft
from .scaffold import check_rule
from .scaffold import endpoint_from_view_func
from .scaffold import HOOK_REGISTRIES
from .scaffold import name_decorator
from .scaffold import refuse_async
from .scaffold import registration_method
from .scaffold import Scaffold
from .scaffold import setupmethod
from .static import add_blueprint_static_route
from .static import send_static_file as _send_static_file

if TYPE_CHECKING:
    from .app import Microframework
    from .wrappers.response import Response

F = TypeVar("F", bound=Callable[..., Any])
DeferredSetupFunction = Callable[["BlueprintSetupState"], None]
_sentinel: Any = object()


class BlueprintSetupState:
    """One registration of a blueprint on an app: its name, prefix and defaults."""

    def __init__(
        self,
        blueprint: Blueprint,
        app: Microframework,
        options: dict[str, Any],
        first_registration: bool,
    ) -> None:
        self.app = app
        self.blueprint = blueprint
        self.options = options
        #: True the first time this blueprint object is registered on this app.
        self.first_registration = first_registration
        self.subdomain: str | None = _option(options, "subdomain", blueprint)
        self.url_prefix: str | None = _option(options, "url_prefix", blueprint)
        self.name: str = options.get("name", blueprint.name)
        self.name_prefix: str = options.get("name_prefix", "")
        self.url_defaults: dict[str, Any] = dict(blueprint.url_values_defaults)
        self.url_defaults.update(options.get("url_defaults") or {})

    @property
    def full_name(self) -> str:
        """The dotted name endpoints and registries use, e.g. ``"parent.child"``."""
        return f"{self.name_prefix}.{self.name}".lstrip(".")

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | ft.WebsocketCallable | None = None,
        **options: Any,
    ) -> None:
        """Add a rule to the app with the prefix, subdomain and dotted endpoint applied."""
        if self.url_prefix is not None and rule:
            rule = f"{self.url_prefix.rstrip('/')}/{rule.lstrip('/')}"
        elif self.url_prefix is not None:
            rule = self.url_prefix
        options.setdefault("subdomain", self.subdomain)
        if endpoint is None:
            endpoint = endpoint_from_view_func(view_func)  # type: ignore[arg-type]
        endpoint = f"{self.full_name}.{endpoint}"
        defaults = self.url_defaults
        if "defaults" in options:
            defaults = {**defaults, **options.pop("defaults")}
        self.app.add_url_rule(rule, endpoint, view_func, defaults=defaults, **options)


def _on_app(name: str, app_method: str) -> Callable[[Blueprint, F], F]:
    def add(self: Blueprint, func: F) -> F:
        refuse_async(app_method, func)
        self._call_app(app_method, func)
        return func

    doc = f"Call ``app.{app_method}(func)`` when this blueprint is registered."
    return registration_method(add, name, "Blueprint", doc)


class Blueprint(Scaffold):
    """A group of routes, hooks, templates and static files to register on an app."""

    _got_registered_once = False

    def __init__(
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        subdomain: str | None = None,
        url_defaults: dict[str, Any] | None = None,
        root_path: str | None = None,
        cli_group: str | None = _sentinel,
    ) -> None:
        super().__init__(
            import_name, static_folder, static_url_path, template_folder, root_path
        )
        _check_name(name, "name")
        self.name = name
        self.url_prefix = url_prefix
        self.subdomain = subdomain
        self.deferred_functions: list[DeferredSetupFunction] = []
        # The caller's dict itself, as in Flask: one filled after this still counts.
        self.url_values_defaults: dict[str, Any] = (
            {} if url_defaults is None else url_defaults
        )
        self.cli_group = cli_group
        self._blueprints: list[tuple[Blueprint, dict[str, Any]]] = []

    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_registered_once:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the blueprint"
                f" '{self.name}'. It has already been registered at least once, so the"
                " change would not reach every app. Make all imports, decorators and"
                " calls that set up the blueprint before registering it."
            )

    async def send_static_file(self, filename: str) -> Response:
        """Send *filename* from this blueprint's static folder."""
        return await _send_static_file(self, filename)

    @setupmethod
    def record(self, func: DeferredSetupFunction) -> None:
        """Call ``func(state)`` each time the blueprint is registered."""
        self.deferred_functions.append(func)

    @setupmethod
    def record_once(self, func: DeferredSetupFunction) -> None:
        """Call ``func(state)`` only the first time the blueprint is registered on an app."""

        @functools.wraps(func)
        def once(state: BlueprintSetupState) -> None:
            if state.first_registration:
                func(state)

        self.record(once)

    def make_setup_state(
        self,
        app: Microframework,
        options: dict[str, Any],
        first_registration: bool = False,
    ) -> BlueprintSetupState:
        """The state deferred functions receive; override to pass them more."""
        return BlueprintSetupState(self, app, options, first_registration)

    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Nest *blueprint* in this one; it is registered (prefixed) with this one."""
        if blueprint is self:
            raise ValueError("a blueprint cannot be registered on itself")
        self._blueprints.append((blueprint, options))

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | ft.WebsocketCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Record a rule; it is added to the app, prefixed, when the blueprint is."""
        check_rule(rule, endpoint, view_func)
        if endpoint and "." in endpoint:
            raise ValueError(f"endpoint {endpoint!r} may not contain a dot '.'")
        name = getattr(view_func, "__name__", "")
        if endpoint is None and "." in name:
            raise ValueError(f"view function name {name!r} may not contain a dot '.'")
        auto = provide_automatic_options
        self.record(
            lambda state: state.add_url_rule(
                rule, endpoint, view_func, provide_automatic_options=auto, **options
            )
        )

    @setupmethod
    def endpoint(self, endpoint: str) -> Callable[[F], F]:
        """Register the decorated function as the view for ``"<blueprint>.endpoint"``.

        A dotted *endpoint* is taken whole (``@bp.endpoint("bp.x")``). Flask and Quart
        take every name whole, so their undotted one names an app endpoint."""

        def decorator(func: F) -> F:
            def register(state: BlueprintSetupState) -> None:
                full = endpoint if "." in endpoint else f"{state.full_name}.{endpoint}"
                state.app.view_functions[full] = func

            self.record(register)  # every registration name has its own endpoint
            return func

        return decorator

    def register(self, app: Microframework, options: dict[str, Any]) -> None:
        """Register this blueprint and its nested ones on *app* with these *options*."""
        self_name = options.get("name", self.name)
        _check_name(self_name, "name=")
        name = f"{options.get('name_prefix', '')}.{self_name}".lstrip(".")
        existing = app.blueprints.get(name)
        if existing is not None:
            which = "this" if existing is self else "a different"
            raise ValueError(
                f"The name {name!r} is already registered for {which} blueprint. Use"
                " 'name=' to register it under another name."
            )
        first_registration = not any(bp is self for bp in app.blueprints.values())
        app.blueprints[name] = self
        self._got_registered_once = True
        state = self.make_setup_state(app, options, first_registration)
        # Each name gets its own copy of the hooks, so either name runs them.
        self._merge_registries(app, name)
        if self.has_static_folder:
            add_blueprint_static_route(state)
        for deferred in self.deferred_functions:
            deferred(state)
        for blueprint, child_options in self._blueprints:
            blueprint.register(app, _child_options(state, blueprint, child_options))
        cli = self.__dict__.get("cli")  # only if someone used bp.cli
        if cli is not None and cli.commands:
            group = options.get("cli_group", self.cli_group)
            if group is None:
                app.cli.commands.update(cli.commands)
            else:
                # The dotted name, as Flask: "shop.users" and "admin.users" don't collide.
                cli.name = name if group is _sentinel else group
                app.cli.add_command(cli)

    def _merge_registries(self, app: Microframework, name: str) -> None:
        def key_for(key: str | None) -> str:
            return name if key is None else f"{name}.{key}"

        for attr in HOOK_REGISTRIES.values():
            target = getattr(app, attr)
            for key, funcs in getattr(self, attr).items():
                target[key_for(key)].extend(funcs)
        for key, by_code in self.error_handler_spec.items():
            target_spec = app.error_handler_spec[key_for(key)]
            for code, handlers in by_code.items():
                target_spec[code].update(handlers)
        # As Flask and Quart: views put straight into bp.view_functions (keys taken
        # whole, e.g. "bp.select" for a rule added with only an endpoint) reach the app.
        for endpoint, func in self.view_functions.items():
            app.view_functions[endpoint] = func

    def _call_app(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.record_once(lambda state: getattr(state.app, method)(*args, **kwargs))

    before_app_request = _on_app("before_app_request", "before_request")
    after_app_request = _on_app("after_app_request", "after_request")
    teardown_app_request = _on_app("teardown_app_request", "teardown_request")
    before_app_websocket = _on_app("before_app_websocket", "before_websocket")
    after_app_websocket = _on_app("after_app_websocket", "after_websocket")
    teardown_app_websocket = _on_app("teardown_app_websocket", "teardown_websocket")
    app_context_processor = _on_app("app_context_processor", "context_processor")
    app_url_value_preprocessor = _on_app(
        "app_url_value_preprocessor", "url_value_preprocessor"
    )
    app_url_defaults = _on_app("app_url_defaults", "url_defaults")
    before_app_serving = _on_app("before_app_serving", "before_serving")
    after_app_serving = _on_app("after_app_serving", "after_serving")
    while_app_serving = _on_app("while_app_serving", "while_serving")

    @setupmethod
    def app_errorhandler(self, code: type[BaseException] | int) -> Callable[[F], F]:
        """Like ``errorhandler``, for errors anywhere in the app."""
        # Validate now: a bad code fails at the decorator, not at registration.
        self._get_exc_class_and_code(code)

        def decorator(func: F) -> F:
            self._call_app("register_error_handler", code, func)
            return func

        return decorator

    @setupmethod
    def app_template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Register a jinja filter on the app: ``@bp.app_template_filter()``."""
        return name_decorator(self.add_app_template_filter, name)

    @setupmethod
    def add_app_template_filter(
        self, f: Callable[..., Any], name: str | None = None
    ) -> None:
        """Register *f* as a jinja filter on the app this blueprint is registered on."""
        self._call_app("add_template_filter", f, name=name)

    @setupmethod
    def app_template_test(self, name: str | None = None) -> Callable[[F], F]:
        """Register a jinja test on the app: ``@bp.app_template_test()``."""
        return name_decorator(self.add_app_template_test, name)

    @setupmethod
    def add_app_template_test(
        self, f: Callable[..., bool], name: str | None = None
    ) -> None:
        """Register *f* as a jinja test on the app this blueprint is registered on."""
        self._call_app("add_template_test", f, name=name)

    @setupmethod
    def app_template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Register a jinja global on the app: ``@bp.app_template_global()``."""
        return name_decorator(self.add_app_template_global, name)

    @setupmethod
    def add_app_template_global(
        self, f: Callable[..., Any], name: str | None = None
    ) -> None:
        """Make *f* a global in the app's templates."""
        self._call_app("add_template_global", f, name=name)


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"the blueprint {what} must be a non-empty str, not {name!r}")
    if "." in name:
        raise ValueError(f"the blueprint {what} {name!r} may not contain a dot '.'")


def _option(options: dict[str, Any], key: str, blueprint: Blueprint) -> Any:
    value = options.get(key)
    return getattr(blueprint, key) if value is None else value


def _child_options(
    state: BlueprintSetupState, child: Blueprint, options: dict[str, Any]
) -> dict[str, Any]:
    merged = dict(options, name_prefix=state.full_name)
    prefix = _option(options, "url_prefix", child)
    if prefix is None:
        prefix = state.url_prefix
    elif state.url_prefix is not None:
        prefix = f"{state.url_prefix.rstrip('/')}/{prefix.lstrip('/')}"
    if prefix is not None:
        merged["url_prefix"] = prefix
    subdomain = _option(options, "subdomain", child)
    if subdomain is None:
        subdomain = state.subdomain
    elif state.subdomain is not None:
        subdomain = f"{subdomain}.{state.subdomain}"
    if subdomain is not None:
        merged["subdomain"] = subdomain
    return merged
