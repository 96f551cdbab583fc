"""The configuration mapping and the descriptor that mirrors config keys onto the app.

``Config`` is a ``dict`` that can fill itself from Python files, data files, objects,
mappings and environment variables, with Flask's documented semantics.
``ConfigAttribute`` exposes one key as an attribute (``app.debug`` reads
``app.config["DEBUG"]``).

Rule: this module imports nothing from the package. Only UPPERCASE keys are ever loaded
from files, objects and mappings, so helper names in a config module never leak into the
config. A missing or unreadable file raises ``OSError`` with its ``strerror`` amended to
say which step failed, unless the caller asked for ``silent``; then the loader returns
``False``.
"""

from __future__ import annotations

import errno
import json
import os
import types
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import MutableMapping
from typing import Any
from typing import cast
from typing import Generic
from typing import IO
from typing import overload
from typing import Protocol
from typing import Self
from typing import TypeVar

from werkzeug.utils import import_string

T = TypeVar("T")

# errno values that mean "there is no file here"; only these are hidden by ``silent``.
# A permission error or a syntax error in the file is always reported.
_MISSING_FILE_ERRNOS = frozenset({errno.ENOENT, errno.EISDIR, errno.ENOTDIR})


class _HasConfig(Protocol):
    @property
    def config(self) -> Config: ...


class ConfigAttribute(Generic[T]):
    """Forward an attribute to ``obj.config[name]``, converting on read if asked.

    Declare it on a class with a ``config`` attribute, giving the value type:
    ``debug = ConfigAttribute[bool]("DEBUG")``.
    """

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
        value = obj.config[self.__name__]
        if self.get_converter is not None:
            return self.get_converter(value)
        # Without a converter the stored value is trusted to be a T, as in Flask.
        return cast("T", value)

    def __set__(self, obj: _HasConfig, value: Any) -> None:
        obj.config[self.__name__] = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__!r}>"


class Config(dict[str, Any]):
    """A ``dict`` of settings with loaders for files, objects and the environment.

    Relative file names are resolved against ``root_path`` (the app's root path when the
    app creates the config).
    """

    def __init__(
        self,
        root_path: str | os.PathLike[str],
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(defaults or {})
        self.root_path = root_path

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python config file named by the environment variable.

        An unset or empty variable raises ``RuntimeError`` unless *silent*, in which
        case ``False`` is returned.
        """
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
        """Load every environment variable named ``{prefix}_{KEY}`` into ``self[KEY]``.

        Values go through *loads* (JSON by default, so ``"1"`` becomes ``1`` and
        ``"true"`` becomes ``True``); a value *loads* rejects is kept as the raw string.
        A double underscore nests: ``{prefix}_DB__HOST`` sets ``self["DB"]["HOST"]``,
        creating the intermediate dicts. Variables are applied in sorted order.
        """
        start = f"{prefix}_"
        for name in sorted(os.environ):
            if not name.startswith(start):
                continue
            raw = os.environ[name]
            try:
                value = loads(raw)
            except Exception:
                # Any failure means "this is not encoded data", not an error: an
                # arbitrary string such as a password must load as itself.
                value = raw
            key = name[len(start) :]
            *parents, leaf = key.split("__")
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
        return True

    def from_pyfile(
        self, filename: str | os.PathLike[str], silent: bool = False
    ) -> bool:
        """Execute a Python file and load its UPPERCASE globals.

        Returns ``True`` when loaded, ``False`` when *silent* and the file is missing.
        """
        path = os.path.join(self.root_path, filename)
        module = types.ModuleType("config")
        module.__file__ = path
        try:
            with open(path, "rb") as f:
                source = f.read()
        except OSError as e:
            if silent and e.errno in _MISSING_FILE_ERRNOS:
                return False
            _amend_strerror(e)
            raise
        exec(compile(source, path, "exec"), module.__dict__)
        self.from_object(module)
        return True

    def from_object(self, obj: object | str) -> None:
        """Load the UPPERCASE attributes of *obj*, importing it first if it is a string.

        A string is an import path such as ``"myapp.settings"`` or
        ``"myapp.settings:Production"``.
        """
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
        """Load a data file with *load* (``json.load``, ``tomllib.load``, ...).

        The file is opened in text mode unless *text* is false (``tomllib`` needs
        binary). The loaded mapping goes through :meth:`from_mapping`.
        """
        path = os.path.join(self.root_path, filename)
        try:
            with open(path, "r" if text else "rb") as f:
                data = load(f)
        except OSError as e:
            if silent and e.errno in _MISSING_FILE_ERRNOS:
                return False
            _amend_strerror(e)
            raise
        return self.from_mapping(data)

    def from_mapping(
        self, mapping: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> bool:
        """Load the UPPERCASE keys of *mapping* and of the keyword arguments."""
        merged: dict[str, Any] = {}
        if mapping is not None:
            merged.update(mapping)
        merged.update(kwargs)
        for key, value in merged.items():
            if isinstance(key, str) and key.isupper():
                self[key] = value
        return True

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, Any]:
        """Return the settings whose keys start with *namespace* (``"IMAGE_STORE_"``).

        By default the prefix is removed and the remaining key is lowercased, ready
        to be passed as keyword arguments.
        """
        found: dict[str, Any] = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            found[name.lower() if lowercase else name] = value
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


def _amend_strerror(error: OSError) -> None:
    error.strerror = f"Unable to load configuration file ({error.strerror})"
