"""Class-based views: :class:`View` and :class:`MethodView`.

Rule: ``as_view`` makes an ordinary async view function; sync or async methods go
through the app's ``ensure_async`` when the view runs, so an override is obeyed."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Coroutine
from typing import Any
from typing import ClassVar
from typing import TYPE_CHECKING

from ._utils import awaiting
from ._utils import is_async_callable
from .globals import _cv_app

if TYPE_CHECKING:
    from .typing import ResponseReturnValue

http_method_funcs = frozenset(  # Flask's and Quart's name
    {"get", "post", "head", "options", "delete", "put", "trace", "patch"}
)


def _ensure_async(func: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError("a class-based view can only run inside a request")
    return ctx.app.ensure_async(func)


async def _call(func: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    # A plain method may return a coroutine: super().dispatch_request()'s, or a plain
    # decorator's around an async method. Awaited, as the app awaits a plain view's
    # (porting.md); an async method returning one is still the app's error.
    view = _ensure_async(func)
    sync = view is not func and not is_async_callable(func)
    return await (awaiting(view) if sync else view)(**kwargs)


def _not_implemented(self: View, **kwargs: Any) -> Any:
    raise NotImplementedError(f"{type(self).__name__} must define dispatch_request()")


class View:
    """Subclass this and implement :meth:`dispatch_request`; register ``as_view(name)``.

    With ``init_every_request = False`` one instance serves every request."""

    methods: ClassVar[Collection[str] | None] = None
    provide_automatic_options: ClassVar[bool | None] = None
    decorators: ClassVar[list[Callable[..., Any]]] = []
    init_every_request: ClassVar[bool] = True
    #: Handles the request, given the URL arguments; a callable so that subclasses
    #: may declare exactly the arguments their rule has.
    dispatch_request: Callable[..., Any] = _not_implemented

    @classmethod
    def as_view(
        cls, name: str, *class_args: Any, **class_kwargs: Any
    ) -> Callable[..., Awaitable[ResponseReturnValue]]:
        """A view function for this class; *class_args* go to its constructor."""
        if not isinstance(name, str):
            raise TypeError(f"as_view() takes the endpoint name, not {name!r}")
        shared = None if cls.init_every_request else cls(*class_args, **class_kwargs)

        async def view(**kwargs: Any) -> Any:
            if shared is None:  # read now, as Flask does: a test may patch view_class
                make = func.view_class  # type: ignore[attr-defined]
                instance = make(*class_args, **class_kwargs)
            else:
                instance = shared
            return await _call(instance.dispatch_request, kwargs)

        func: Callable[..., Awaitable[Any]] = view
        if cls.decorators:
            view.__name__ = name
            view.__module__ = cls.__module__
            for decorator in cls.decorators:
                func = decorator(func)
        func.__dict__.update(
            view_class=cls,
            methods=cls.methods,
            provide_automatic_options=cls.provide_automatic_options,
        )
        func.__name__ = name
        func.__doc__ = cls.__doc__
        func.__module__ = cls.__module__
        return func


class MethodView(View):
    """Dispatches each request to the method named after the HTTP method (``get``, ...).

    ``methods`` comes from the methods defined; ``HEAD`` falls back to ``get``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:
            return
        methods: set[str] = set()
        for base in cls.__bases__:
            methods.update(getattr(base, "methods", None) or ())
        methods.update(name.upper() for name in http_method_funcs if hasattr(cls, name))
        if methods:
            cls.methods = methods

    async def dispatch_request(self, **kwargs: Any) -> ResponseReturnValue:
        ctx = _cv_app.get(None)
        if ctx is None or ctx.request is None:
            raise RuntimeError("a MethodView can only handle a request")
        method = ctx.request.method.lower()
        handler = getattr(self, method, None)
        if handler is None and method == "head":
            handler = getattr(self, "get", None)
        if handler is None:
            raise RuntimeError(
                f"{type(self).__name__} lists {method.upper()!r} in 'methods' but has"
                f" no {method!r} method"
            )
        result: ResponseReturnValue = await _call(handler, kwargs)
        return result
