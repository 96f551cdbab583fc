"""``Config``, a ``dict`` with Flask's loaders, and ``ConfigAttribute`` (``app.debug``).

Rule: imports nothing from the package; loads only UPPERCASE keys (but from the
environment, as Flask's). A bad file raises
``OSError``, unless it is missing and ``silent``: then the loader returns ``False``."""

from __future__ import annotations

import errno
import json
import numbers
import os
import types
import warnings
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import MutableMapping
from datetime import timedelta
from decimal import Decimal
from typing import Any
from typing import Generic
from typing import IO
from typing import overload
from typing import Protocol
from typing import Self
from typing import TypeVar

from werkzeug.datastructures import ImmutableDict
from werkzeug.utils import import_string

from ._utils import flag

T = TypeVar("T")

#: The app's ``default_config``: each key, with Flask's and Quart's defaults. Read
#: only, as theirs: a change would reach every app (each copies it).
DEFAULT_CONFIG: Mapping[str, Any] = ImmutableDict(
    {
        "APPLICATION_ROOT": "/",
        "BACKGROUND_TASK_SHUTDOWN_TIMEOUT": 5,
        "BODY_SPOOL_SIZE": 1024 * 1024,
        "BODY_TIMEOUT": 60,
        "DEBUG": None,
        "ENV": None,  # Quart's, only read (as there)
        "EXPLAIN_TEMPLATE_LOADING": False,
        "GC_FREEZE_ON_STARTUP": True,
        "JSON_SORT_KEYS": None,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "MAX_COOKIE_SIZE": 4093,
        "MAX_FORM_MEMORY_SIZE": 500_000,
        "MAX_FORM_PARTS": 1_000,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
        "PREFER_SECURE_URLS": False,
        "PRESERVE_CONTEXT_ON_EXCEPTION": None,  # Quart's, only read
        "PREFERRED_URL_SCHEME": "http",
        "PROPAGATE_EXCEPTIONS": None,
        "PROVIDE_AUTOMATIC_OPTIONS": True,
        "RESPONSE_TIMEOUT": 60,
        "SECRET_KEY": None,
        "SECRET_KEY_FALLBACKS": None,
        "SEND_FILE_MAX_AGE_DEFAULT": None,
        "SERVER_NAME": None,
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_NAME": "session",
        "SESSION_COOKIE_PARTITIONED": False,
        "SESSION_COOKIE_PATH": None,
        "SESSION_COOKIE_SAMESITE": None,
        "SESSION_COOKIE_SECURE": False,
        "SESSION_REFRESH_EACH_REQUEST": True,
        "SHUTDOWN_GRACE_PERIOD": 2,
        "TEMPLATES_AUTO_RELOAD": None,
        "TESTING": False,
        "TRAP_BAD_REQUEST_ERRORS": None,
        "TRAP_HTTP_EXCEPTIONS": False,
        "TRUSTED_HOSTS": None,
        "USE_X_SENDFILE": False,  # Quart's, only read
        "WEBSOCKET_MAX_MESSAGE_SIZE": 1024 * 1024,
        "WEBSOCKET_QUEUE_SIZE": 16,
        "WEBSOCKET_SEND_TIMEOUT": 60,
    }
)

# Only "no file here" is hidden by ``silent``; a permission error is always reported.
_MISSING_FILE_ERRNOS = frozenset({errno.ENOENT, errno.EISDIR, errno.ENOTDIR})


#: Yes/no keys whose default is None (unset), not a bool: read as flags all the same.
_YES_NO = frozenset(
    (
        "DEBUG",
        "PROPAGATE_EXCEPTIONS",
        "TRAP_BAD_REQUEST_ERRORS",
        "TEMPLATES_AUTO_RELOAD",
    )
)
#: Keys read as numbers (bytes, items, seconds) or None: checked as the app is frozen.
_NUMBERS = (
    "BACKGROUND_TASK_SHUTDOWN_TIMEOUT", "BODY_SPOOL_SIZE", "BODY_TIMEOUT",
    "MAX_CONTENT_LENGTH", "MAX_FORM_MEMORY_SIZE", "MAX_FORM_PARTS", "RESPONSE_TIMEOUT",
    "SHUTDOWN_GRACE_PERIOD", "WEBSOCKET_MAX_MESSAGE_SIZE", "WEBSOCKET_QUEUE_SIZE",
    "WEBSOCKET_SEND_TIMEOUT",
)  # fmt: skip


def check_numbers(config: Mapping[str, Any]) -> None:
    """Raise ``TypeError`` for a numeric key holding anything else (a str from the
    environment): an error at startup, not a 500 on the routes that read it."""
    for key in _NUMBERS:
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not _number(key, value)):
            # A negative limit is a number: say what is wrong with it.
            wanted = "a number"
            if not isinstance(value, bool) and _number("", value):
                wanted = "0 or more"
            raise TypeError(
                f"app.config[{key!r}] must be {wanted} or None, not"
                f" {type(value).__name__} ({value!r})"
            )


def _number(key: str, value: Any) -> bool:
    # A Decimal or a numpy int compares as the limits do; NaN compares with nothing. A
    # negative form limit was a 500 per request, a negative MAX_CONTENT_LENGTH a 413
    # even for an empty body, a negative WEBSOCKET_MAX_MESSAGE_SIZE a 1009 for every
    # message (a negative timeout means none).
    if not isinstance(value, numbers.Real | Decimal) or value != value:
        return False
    return "MAX_" not in key or bool(value >= 0)  # type: ignore[operator]


class _HasConfig(Protocol):
    @property
    def config(self) -> Config: ...


class ConfigAttribute(Generic[T]):
    """Forward an attribute to ``obj.config[name]``, converting on read if asked."""

    def __init__(
        self, name: str, get_converter: Callable[[Any], T] | None = None
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(
                f"ConfigAttribute name must be a str, not {type(name).__name__}"
            )
        self.__name__ = name
        self.get_converter = get_converter

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, obj: _HasConfig, owner: type[Any] | None = None) -> T: ...

    def __get__(
        self, obj: _HasConfig | None, owner: type[Any] | None = None
    ) -> T | Self:
        if obj is None:
            return self
        # Annotated, not cast: a cast is a call on every ``app.debug``.
        value: T = obj.config[self.__name__]
        if self.get_converter is not None:
            return self.get_converter(value)
        return value

    def __set__(self, obj: _HasConfig, value: Any) -> None:
        obj.config[self.__name__] = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__!r}>"


class Config(dict[str, Any]):
    """A ``dict`` of settings; relative file names are resolved from ``root_path``."""

    def __init__(
        self,
        root_path: str | os.PathLike[str],
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(defaults or {})
        self.root_path = root_path

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """:meth:`from_pyfile` on the file the environment variable names.

        An unset or empty variable raises ``RuntimeError`` (``False`` if *silent*)."""
        filename = os.environ.get(variable_name)
        if not filename:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set, so no"
                " configuration could be loaded from it. Set it to the path of a"
                " configuration file."
            )
        return self.from_pyfile(filename, silent=silent)

    def from_prefixed_env(
        self,
        prefix: str = "MICROFRAMEWORK",
        *,
        loads: Callable[[str], Any] = json.loads,
    ) -> bool:
        """Load each environment variable ``{prefix}_{KEY}`` into ``self[KEY]``.

        Values go through *loads*, falling back to the raw string; a double underscore
        nests (``{prefix}_DB__HOST`` sets ``self["DB"]["HOST"]``). Sorted order."""
        start = f"{prefix}_"
        for name in sorted(os.environ):
            if not name.startswith(start):
                continue
            raw = os.environ[name]
            try:
                value = loads(raw)
            except Exception:
                # Not encoded data: a string such as a password loads as itself.
                value = raw
            *parents, leaf = name[len(start) :].split("__")
            if not parents and (isinstance(self.get(leaf), bool) or leaf in _YES_NO):
                # DEBUG=no or False must not turn it on; null: unset, for tri-states.
                value = None if value is None else flag(raw)
            target: MutableMapping[str, Any] = self
            for part in parents:
                child = target.setdefault(part, {})
                if not isinstance(child, MutableMapping):
                    raise TypeError(
                        f"environment variable {name!r} nests into {part!r}, which"
                        f" holds a {type(child).__name__}, not a dict"
                    )
                target = child
            target[leaf] = value
        if prefix == "MICROFRAMEWORK":
            _warn_of_other_prefixes(start)
        return True

    def from_pyfile(
        self, filename: str | os.PathLike[str], silent: bool = False
    ) -> bool:
        """Execute a Python file and load its UPPERCASE globals."""
        path = os.path.join(self.root_path, filename)
        source = _read(path, lambda f: f.read(), "rb", silent)
        if source is _MISSING:
            return False
        module = types.ModuleType("config")
        module.__file__ = path
        exec(compile(source, path, "exec"), module.__dict__)
        self.from_object(module)
        return True

    def from_object(self, obj: object | str) -> None:
        """Load the UPPERCASE attributes of *obj* (imported first if a string)."""
        if isinstance(obj, str):
            obj = import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[IO[Any]], Mapping[str, Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load a data file with *load*; ``text=False`` opens it in binary."""
        path = os.path.join(self.root_path, filename)
        data = _read(path, load, "r" if text else "rb", silent)
        return False if data is _MISSING else self.from_mapping(data)

    def from_mapping(
        self, mapping: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> bool:
        """Load the UPPERCASE keys of *mapping* and of the keyword arguments."""
        for key, value in dict(mapping or (), **kwargs).items():
            if isinstance(key, str) and key.isupper():
                self[key] = value
        return True

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, Any]:
        """The settings whose keys start with *namespace*, as keyword arguments."""
        found: dict[str, Any] = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            found[name.lower() if lowercase else name] = value
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


_MISSING: Any = object()


def _read(path: str, read: Callable[[IO[Any]], Any], mode: str, silent: bool) -> Any:
    """``read(file)``, or ``_MISSING`` if *silent* and there is no file."""
    try:
        with open(path, mode) as f:
            return read(f)
    except OSError as e:
        if silent and e.errno in _MISSING_FILE_ERRNOS:
            return _MISSING
        e.strerror = f"Unable to load configuration file ({e.strerror})"
        raise


# The command line's own variables, not config: FLASK_APP and the like.
_CLI_NAMES = frozenset({"APP", "DEBUG", "ENV", "SKIP_DOTENV", "RUN_FROM_CLI"})


def _warn_of_other_prefixes(start: str) -> None:
    # A deployment's QUART_SECRET_KEY, ported as is, would leave SECRET_KEY unset.
    missed = sorted(
        name
        for name in os.environ
        if name.startswith(("QUART_", "FLASK_"))
        and (key := name.partition("_")[2]) not in _CLI_NAMES
        and not key.startswith("RUN_")
        and f"{start}{key}" not in os.environ
    )
    if missed:
        warnings.warn(
            f"from_prefixed_env() reads MICROFRAMEWORK_* variables; these are not read:"
            f" {', '.join(missed)} (rename them, or pass prefix=)",
            stacklevel=3,
        )
