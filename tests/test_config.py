from __future__ import annotations

import decimal
import errno
import fractions
import importlib.util
import json
import logging
import os
import sys
import tomllib
import types
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from typing import assert_type

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.utils import ImportStringError

from microframework import Blueprint
from microframework import Microframework
from microframework import request
from microframework.config import Config
from microframework.config import ConfigAttribute
from microframework.testing import LifespanError

PREFIX = "MFTEST"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    # Other variables with our prefix would leak into from_prefixed_env results.
    for name in list(os.environ):
        if name.startswith(f"{PREFIX}_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"mf_settings_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "SECRET = 'module'\nlower = 'ignored'\n"
        "class Production:\n    SECRET = 'prod'\n    DEBUG = False\n    debug = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


# -- construction ---------------------------------------------------------------


def test_config_is_a_dict_seeded_with_defaults(tmp_path: Path) -> None:
    config = Config(tmp_path, {"DEBUG": True})
    assert isinstance(config, dict)
    assert config == {"DEBUG": True}
    assert config.root_path == tmp_path


def test_defaults_are_copied_not_shared(tmp_path: Path) -> None:
    defaults = {"DEBUG": True}
    config = Config(tmp_path, defaults)
    config["DEBUG"] = False
    assert defaults == {"DEBUG": True}


def test_repr_names_the_class_and_contents(tmp_path: Path) -> None:
    class MyConfig(Config):
        pass

    assert repr(Config(tmp_path, {"A": 1})) == "<Config {'A': 1}>"
    assert repr(MyConfig(tmp_path)) == "<MyConfig {}>"


# -- from_mapping -----------------------------------------------------------------


def test_from_mapping_loads_only_uppercase_keys(tmp_path: Path) -> None:
    config = Config(tmp_path)
    assert config.from_mapping({"SECRET_KEY": "s", "lower": 1, "Mixed": 2}) is True
    assert config == {"SECRET_KEY": "s"}


def test_from_mapping_keywords_override_the_mapping(tmp_path: Path) -> None:
    config = Config(tmp_path)
    config.from_mapping({"A": 1, "B": 2}, B=3, c=4)
    assert config == {"A": 1, "B": 3}


def test_from_mapping_with_nothing_changes_nothing(tmp_path: Path) -> None:
    config = Config(tmp_path, {"A": 1})
    assert config.from_mapping() is True
    assert config == {"A": 1}


def test_from_mapping_skips_non_string_keys(tmp_path: Path) -> None:
    config = Config(tmp_path)
    mapping: dict[Any, Any] = {1: "one", "ONE": 1}
    config.from_mapping(mapping)
    assert config == {"ONE": 1}


# -- from_object ----------------------------------------------------------------


def test_from_object_loads_uppercase_attributes_of_a_class(tmp_path: Path) -> None:
    class Settings:
        DEBUG = True
        SECRET_KEY = "k"
        lower = "no"
        _Private = "no"

    config = Config(tmp_path)
    config.from_object(Settings)
    assert config == {"DEBUG": True, "SECRET_KEY": "k"}


def test_from_object_reads_instance_attributes_and_properties(tmp_path: Path) -> None:
    class Settings:
        def __init__(self) -> None:
            self.HOST = "example.org"

        @property
        def URL(self) -> str:
            return f"https://{self.HOST}/"

    config = Config(tmp_path)
    config.from_object(Settings())
    assert config == {"HOST": "example.org", "URL": "https://example.org/"}


def test_from_object_imports_a_dotted_string(
    tmp_path: Path, settings_module: str
) -> None:
    config = Config(tmp_path)
    config.from_object(settings_module)
    assert config == {"SECRET": "module"}


def test_from_object_imports_an_attribute_after_a_colon(
    tmp_path: Path, settings_module: str
) -> None:
    config = Config(tmp_path)
    config.from_object(f"{settings_module}:Production")
    assert config == {"SECRET": "prod", "DEBUG": False}


def test_from_object_with_an_unknown_import_string_raises(tmp_path: Path) -> None:
    config = Config(tmp_path)
    with pytest.raises(ImportStringError):
        config.from_object("mf_no_such_module_anywhere.Settings")


# -- from_pyfile ----------------------------------------------------------------


def test_from_pyfile_resolves_relative_names_against_root_path(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text("DEBUG = True\nhelper = 1\nX = 2 * 21\n")
    config = Config(tmp_path)
    assert config.from_pyfile("settings.py") is True
    assert config == {"DEBUG": True, "X": 42}


def test_from_pyfile_accepts_an_absolute_path_like(tmp_path: Path) -> None:
    path = tmp_path / "settings.py"
    path.write_text("A = 1\n")
    config = Config("/nonexistent-root")
    assert config.from_pyfile(path) is True
    assert config == {"A": 1}


def test_from_pyfile_gives_the_file_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "settings.py"
    path.write_text("HERE = __file__\nNAME = __name__\n")
    config = Config(tmp_path)
    config.from_pyfile("settings.py")
    assert config == {"HERE": str(path), "NAME": "config"}


def test_from_pyfile_missing_file_raises_amended_oserror(tmp_path: Path) -> None:
    config = Config(tmp_path)
    with pytest.raises(OSError) as info:
        config.from_pyfile("missing.py")
    assert info.value.errno == errno.ENOENT
    assert info.value.strerror is not None
    assert info.value.strerror.startswith("Unable to load configuration file (")
    assert info.value.filename == str(tmp_path / "missing.py")


@pytest.mark.parametrize("name", ["missing.py", ".", "file.txt/inside.py"])
def test_from_pyfile_silent_returns_false_when_there_is_no_file(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / "file.txt").write_text("")
    config = Config(tmp_path)
    assert config.from_pyfile(name, silent=True) is False
    assert config == {}


def test_from_pyfile_silent_still_reports_other_os_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Running as root makes chmod useless, so the open call itself is refused.
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", args[0])

    monkeypatch.setattr("microframework.config.open", refuse, raising=False)
    config = Config(tmp_path)
    with pytest.raises(PermissionError) as info:
        config.from_pyfile("settings.py", silent=True)
    message = "Unable to load configuration file (Permission denied)"
    assert info.value.strerror == message


def test_from_pyfile_errors_in_the_file_propagate_even_when_silent(
    tmp_path: Path,
) -> None:
    (tmp_path / "broken.py").write_text("A = (\n")
    (tmp_path / "raises.py").write_text("A = 1 / 0\n")
    config = Config(tmp_path)
    with pytest.raises(SyntaxError):
        config.from_pyfile("broken.py", silent=True)
    with pytest.raises(ZeroDivisionError):
        config.from_pyfile("raises.py", silent=True)


# -- from_envvar ----------------------------------------------------------------


def test_from_envvar_loads_the_file_the_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "settings.py").write_text("A = 1\n")
    monkeypatch.setenv("MF_TEST_SETTINGS", str(tmp_path / "settings.py"))
    config = Config("/nonexistent-root")
    assert config.from_envvar("MF_TEST_SETTINGS") is True
    assert config == {"A": 1}


@pytest.mark.parametrize("value", [None, ""])
def test_from_envvar_unset_variable_raises_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("MF_TEST_SETTINGS", raising=False)
    else:
        monkeypatch.setenv("MF_TEST_SETTINGS", value)
    config = Config(tmp_path)
    with pytest.raises(RuntimeError, match="'MF_TEST_SETTINGS' is not set"):
        config.from_envvar("MF_TEST_SETTINGS")
    assert config.from_envvar("MF_TEST_SETTINGS", silent=True) is False


def test_from_envvar_pointing_at_a_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MF_TEST_SETTINGS", str(tmp_path / "missing.py"))
    config = Config(tmp_path)
    assert config.from_envvar("MF_TEST_SETTINGS", silent=True) is False
    with pytest.raises(OSError, match="Unable to load configuration file"):
        config.from_envvar("MF_TEST_SETTINGS")


# -- from_prefixed_env ------------------------------------------------------------


def test_from_prefixed_env_parses_values_as_json(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(f"{PREFIX}_PORT", "8000")
    clean_env.setenv(f"{PREFIX}_DEBUG", "true")
    clean_env.setenv(f"{PREFIX}_HOSTS", '["a", "b"]')
    clean_env.setenv(f"{PREFIX}_NAME", "plain text")
    clean_env.setenv(f"{PREFIX}_QUOTED", '"1"')
    config = Config(tmp_path)
    assert config.from_prefixed_env(PREFIX) is True
    assert config == {
        "PORT": 8000,
        "DEBUG": True,
        "HOSTS": ["a", "b"],
        "NAME": "plain text",
        "QUOTED": "1",
    }


def test_from_prefixed_env_ignores_other_variables(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(f"{PREFIX}X_A", "1")
    clean_env.setenv(f"OTHER_{PREFIX}_A", "1")
    config = Config(tmp_path)
    config.from_prefixed_env(PREFIX)
    assert config == {}


def test_from_prefixed_env_default_prefix_is_microframework(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MICROFRAMEWORK_MF_TEST_KEY", "42")
    config = Config(tmp_path)
    config.from_prefixed_env()
    assert config["MF_TEST_KEY"] == 42


def test_from_prefixed_env_uses_the_given_loads(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(f"{PREFIX}_A", "abc")
    clean_env.setenv(f"{PREFIX}_B", "fail")

    def loads(value: str) -> Any:
        if value == "fail":
            raise ValueError(value)
        return value.upper()

    config = Config(tmp_path)
    config.from_prefixed_env(PREFIX, loads=loads)
    assert config == {"A": "ABC", "B": "fail"}


def test_from_prefixed_env_double_underscore_nests(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(f"{PREFIX}_DB__HOST", "localhost")
    clean_env.setenv(f"{PREFIX}_DB__PORT", "5432")
    clean_env.setenv(f"{PREFIX}_DB__OPTS__SSL", "false")
    clean_env.setenv(f"{PREFIX}_EXISTING__NEW", "1")
    config = Config(tmp_path, {"EXISTING": {"OLD": 0}})
    config.from_prefixed_env(PREFIX)
    assert config == {
        "DB": {"HOST": "localhost", "PORT": 5432, "OPTS": {"SSL": False}},
        "EXISTING": {"OLD": 0, "NEW": 1},
    }


def test_from_prefixed_env_applies_in_sorted_order(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    # "DB" sorts before "DB__HOST", so the nested key lands in the JSON dict.
    clean_env.setenv(f"{PREFIX}_DB__HOST", '"h"')
    clean_env.setenv(f"{PREFIX}_DB", '{"PORT": 1}')
    config = Config(tmp_path)
    config.from_prefixed_env(PREFIX)
    assert config == {"DB": {"PORT": 1, "HOST": "h"}}


def test_from_prefixed_env_nesting_into_a_non_dict_raises(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(f"{PREFIX}_PORT__X", "1")
    config = Config(tmp_path, {"PORT": 8000})
    with pytest.raises(TypeError, match=f"{PREFIX}_PORT__X.*'PORT'.*int"):
        config.from_prefixed_env(PREFIX)


# Characters the environment can hold: no NUL, no lone surrogates.
env_text = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=30,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | env_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(env_text, inner, max_size=4)
    ),
    max_leaves=10,
)


@given(value=json_values)
def test_from_prefixed_env_round_trips_json_values(value: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"{PREFIX}_HYPO_VALUE", json.dumps(value))
        config = Config(".")
        config.from_prefixed_env(PREFIX)
    assert config["HYPO_VALUE"] == value


@given(raw=env_text)
def test_from_prefixed_env_value_is_parsed_or_kept_raw(raw: str) -> None:
    try:
        expected = json.loads(raw)
    except ValueError:
        expected = raw
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"{PREFIX}_HYPO_RAW", raw)
        config = Config(".")
        config.from_prefixed_env(PREFIX)
    # Compared as JSON text because "NaN" parses to a float that is not equal to itself.
    assert json.dumps(config["HYPO_RAW"]) == json.dumps(expected)


# -- from_file ------------------------------------------------------------------


def test_from_file_loads_json_in_text_mode(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"DEBUG": true, "lower": 1}')
    config = Config(tmp_path)
    assert config.from_file("config.json", load=json.load) is True
    assert config == {"DEBUG": True}


def test_from_file_loads_toml_in_binary_mode(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('SECRET_KEY = "s"\nPORT = 1\n')
    config = Config(tmp_path)
    assert config.from_file("config.toml", load=tomllib.load, text=False) is True
    assert config == {"SECRET_KEY": "s", "PORT": 1}


def test_from_file_missing_file(tmp_path: Path) -> None:
    config = Config(tmp_path)
    assert config.from_file("missing.json", load=json.load, silent=True) is False
    with pytest.raises(FileNotFoundError) as info:
        config.from_file("missing.json", load=json.load)
    assert info.value.strerror is not None
    assert info.value.strerror.startswith("Unable to load configuration file (")


def test_from_file_parse_errors_propagate(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{")
    config = Config(tmp_path)
    with pytest.raises(json.JSONDecodeError):
        config.from_file("bad.json", load=json.load, silent=True)


# -- get_namespace ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lowercase", "trim", "expected"),
    [
        (True, True, {"path": "/img", "url": "u"}),
        (False, True, {"PATH": "/img", "URL": "u"}),
        (True, False, {"image_store_path": "/img", "image_store_url": "u"}),
        (False, False, {"IMAGE_STORE_PATH": "/img", "IMAGE_STORE_URL": "u"}),
    ],
)
def test_get_namespace_selects_keys_by_prefix(
    tmp_path: Path, lowercase: bool, trim: bool, expected: dict[str, Any]
) -> None:
    config = Config(
        tmp_path,
        {"IMAGE_STORE_PATH": "/img", "IMAGE_STORE_URL": "u", "IMAGE_OTHER": 1},
    )
    namespace = config.get_namespace(
        "IMAGE_STORE_", lowercase=lowercase, trim_namespace=trim
    )
    assert namespace == expected


# -- ConfigAttribute --------------------------------------------------------------


class App:
    debug = ConfigAttribute[bool]("DEBUG")
    port = ConfigAttribute("PORT", get_converter=int)

    def __init__(self, config: Config) -> None:
        self.config = config


def test_config_attribute_reads_and_writes_the_config(tmp_path: Path) -> None:
    app = App(Config(tmp_path, {"DEBUG": False}))
    assert app.debug is False
    app.debug = True
    assert app.config["DEBUG"] is True
    assert app.debug is True


def test_config_attribute_converts_on_read_only(tmp_path: Path) -> None:
    app = App(Config(tmp_path, {"PORT": "8000"}))
    assert app.port == 8000
    app.port = "9000"
    assert app.config["PORT"] == "9000"
    assert app.port == 9000


def test_config_attribute_missing_key_raises_key_error(tmp_path: Path) -> None:
    app = App(Config(tmp_path))
    with pytest.raises(KeyError, match="DEBUG"):
        app.debug  # noqa: B018 (the read is the behaviour under test)


def test_config_attribute_on_the_class_is_the_descriptor() -> None:
    descriptor = App.debug
    assert isinstance(descriptor, ConfigAttribute)
    assert descriptor.__name__ == "DEBUG"
    assert repr(descriptor) == "<ConfigAttribute 'DEBUG'>"


def test_config_attribute_rejects_a_non_string_name() -> None:
    with pytest.raises(TypeError, match="ConfigAttribute name must be a str, not int"):
        ConfigAttribute(1)  # type: ignore[arg-type]


def test_config_attribute_types_follow_the_declaration(tmp_path: Path) -> None:
    app = App(Config(tmp_path, {"DEBUG": True, "PORT": 1}))
    # assert_type is checked by mypy; at runtime it only returns its argument.
    assert assert_type(app.debug, bool) is True
    assert assert_type(app.port, int) == 1
    assert_type(App.debug, ConfigAttribute[bool])


# -- the instance folder and resources (Flask's and Quart's app API) -------------------


def _import_fresh(
    monkeypatch: pytest.MonkeyPatch, folder: Path, name: str
) -> Microframework:
    monkeypatch.syspath_prepend(os.fspath(folder))
    monkeypatch.delitem(sys.modules, name, raising=False)
    module = __import__(name)
    app: Microframework = module.app
    return app


@pytest.mark.parametrize("kind", ["package", "module"])
def test_the_instance_folder_is_beside_the_package_or_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # Flask's tutorial keeps instance/ beside the flaskr package, not inside it.
    name = f"beside_{kind}_{uuid.uuid4().hex[:8]}"
    source = (
        "from microframework import Microframework\napp = Microframework(__name__)\n"
    )
    if kind == "package":
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(source)
    else:
        (tmp_path / f"{name}.py").write_text(source)
    app = _import_fresh(monkeypatch, tmp_path, name)
    assert app.instance_path == os.fspath(tmp_path / "instance")


def test_an_installed_app_keeps_its_instance_folder_under_the_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"installed_{uuid.uuid4().hex[:8]}"
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text(
        "from microframework import Microframework\napp = Microframework(__name__)\n"
    )
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path))
    app = _import_fresh(monkeypatch, site, name)
    assert app.instance_path == os.fspath(tmp_path / "var" / f"{name}-instance")


def test_an_app_run_with_dash_m_has_its_instance_folder_beside_its_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "python -m pkg.mod" from elsewhere: Flask and Quart find pkg/instance through
    # __main__.__spec__; it was the cwd's instance folder here.
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("")
    main = types.ModuleType("__main__")
    main.__file__ = os.fspath(tmp_path / "pkg" / "mod.py")
    main.__spec__ = importlib.util.spec_from_file_location("pkg.mod", main.__file__)
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.chdir(tmp_path.parent)
    app = Microframework("__main__")
    assert app.instance_path == os.fspath(tmp_path / "pkg" / "instance")
    main.__spec__ = None  # a script: the cwd's, as in Flask
    assert Microframework("__main__").instance_path == os.fspath(
        tmp_path.parent / "instance"
    )


def test_an_unknown_import_name_puts_the_instance_folder_in_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = Microframework("no_such_module_anywhere")
    assert app.instance_path == os.fspath(tmp_path / "instance")


async def test_open_resource_reads_under_the_root_path_as_quart_does(
    tmp_path: Path,
) -> None:
    (tmp_path / "schema.sql").write_bytes("CREATE TABLE é;".encode())
    app = Microframework(__name__, root_path=os.fspath(tmp_path))
    bp = Blueprint("bp", __name__, root_path=os.fspath(tmp_path))

    async with await app.open_resource("schema.sql") as file:
        assert await file.read() == "CREATE TABLE é;".encode()
    async with await bp.open_resource("schema.sql", "r", encoding="utf-8") as file:
        assert await file.read() == "CREATE TABLE é;"
    for mode in ("w", "wb", "a", "r+"):
        with pytest.raises(ValueError, match="reading"):
            await app.open_resource("schema.sql", mode)


async def test_open_resource_takes_a_path_object_or_quarts_path_keyword(
    tmp_path: Path,
) -> None:
    (tmp_path / "schema.sql").write_bytes(b"CREATE")
    app = Microframework(
        __name__, root_path=os.fspath(tmp_path), instance_path=os.fspath(tmp_path)
    )

    async with await app.open_resource(tmp_path / "schema.sql") as file:
        assert await file.read() == b"CREATE"
    async with await app.open_resource(path="schema.sql", mode="r") as file:
        assert await file.read() == "CREATE"
    async with await app.open_instance_resource(path=Path("schema.sql")) as file:
        assert await file.read() == b"CREATE"
    with pytest.raises(TypeError, match="'path'"):
        await app.open_resource("schema.sql", path="schema.sql")
    with pytest.raises(TypeError, match="'resource'"):
        await app.open_instance_resource()


async def test_open_instance_resource_opens_in_any_mode(tmp_path: Path) -> None:
    app = Microframework(__name__, instance_path=os.fspath(tmp_path))

    async with await app.open_instance_resource("app.cfg", "w") as file:
        await file.write("X = 1\n")
    async with await app.open_instance_resource("app.cfg") as file:
        assert await file.read() == b"X = 1\n"


def test_from_prefixed_env_names_the_quart_and_flask_variables_it_does_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ported as is, a deployment's QUART_SECRET_KEY left SECRET_KEY unset, silently.
    monkeypatch.setenv("QUART_SECRET_KEY", "s3")
    monkeypatch.setenv("FLASK_DB_URL", "x")
    monkeypatch.setenv("FLASK_APP", "hello")  # the command line's, not config
    monkeypatch.setenv("FLASK_TIMEOUT", "1")
    monkeypatch.setenv("MICROFRAMEWORK_TIMEOUT", "2")  # renamed already
    config = Config(tmp_path)
    with pytest.warns(
        UserWarning, match="not read: FLASK_DB_URL, QUART_SECRET_KEY \\("
    ):
        config.from_prefixed_env()
    assert "SECRET_KEY" not in config


def _without_our_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MICROFRAMEWORK_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("value", ["no", "No", "False", "0", "false", ""])
async def test_a_debug_variable_saying_no_leaves_debug_off_through_from_prefixed_env(
    monkeypatch: pytest.MonkeyPatch, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    # "no" and "False" aren't JSON: they loaded as truthy strings, and every error
    # in production answered with the debug page (its source lines included).
    _without_our_variables(monkeypatch)
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", value)
    app = Microframework(__name__)
    app.config.from_prefixed_env()
    assert app.debug is False

    @app.get("/")
    async def boom() -> str:
        raise RuntimeError("database password wrong")

    caplog.set_level(logging.CRITICAL)
    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "password" not in await response.get_data(as_text=True)


@pytest.mark.parametrize(("value", "read"), [("yes", True), ("1", True), ("off", True)])
def test_a_variable_for_a_yes_no_key_reads_as_the_debug_flag_does(
    monkeypatch: pytest.MonkeyPatch, value: str, read: bool
) -> None:
    _without_our_variables(monkeypatch)
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", value)
    monkeypatch.setenv("MICROFRAMEWORK_SESSION_COOKIE_SECURE", "No")
    monkeypatch.setenv("MICROFRAMEWORK_GREETING", "no")  # not a yes/no key: as is
    app = Microframework(__name__)
    app.config.from_prefixed_env()
    assert app.debug is read
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["GREETING"] == "no"


@pytest.mark.parametrize("key", ["MAX_FORM_MEMORY_SIZE", "MAX_FORM_PARTS"])
async def test_a_form_limit_computed_as_a_float_is_taken(key: str) -> None:
    # Flask's and Quart's do; every form request was a 500 here.
    app = Microframework(__name__)
    app.config[key] = 2.5 * 1024 * 1024

    @app.post("/")
    async def index() -> dict[str, str]:
        return dict(await request.form)

    response = await app.test_client().post("/", form={"a": "b"})
    assert (response.status_code, await response.get_json()) == (200, {"a": "b"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MAX_CONTENT_LENGTH", "1048576"),
        ("BODY_TIMEOUT", "60"),
        ("RESPONSE_TIMEOUT", timedelta(seconds=60)),
        ("WEBSOCKET_SEND_TIMEOUT", "60"),
        ("MAX_FORM_PARTS", True),
    ],
)
async def test_a_numeric_key_holding_something_else_fails_at_startup(
    key: str, value: Any
) -> None:
    # It failed per request, on the routes that read it; the websocket timeout and
    # MAX_CONTENT_LENGTH escaped the app's error handling.
    app = Microframework(__name__)
    app.config[key] = value
    with pytest.raises(LifespanError) as failed:
        async with app.test_app():
            pass
    assert f"app.config[{key!r}] must be a number or None" in str(failed.value)


async def test_a_max_content_length_made_a_str_later_is_the_apps_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Microframework(__name__)
    caplog.set_level(logging.CRITICAL)

    @app.errorhandler(500)
    async def failed(error: Exception) -> tuple[str, int]:
        return "the app's page", 500

    @app.post("/")
    async def index() -> str:
        return str(len(await request.get_data()))

    client = app.test_client()
    assert (await client.post("/", data=b"x")).status_code == 200  # frozen
    app.config["MAX_CONTENT_LENGTH"] = "1048576"
    response = await client.post("/", data=b"x" * 20)
    assert (response.status_code, await response.get_data()) == (500, b"the app's page")


def test_the_yes_no_keys_unset_by_default_read_as_flags_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PROPAGATE_EXCEPTIONS=no loaded "no", and errors skipped the app's 500 page.
    _without_our_variables(monkeypatch)
    monkeypatch.setenv("MICROFRAMEWORK_PROPAGATE_EXCEPTIONS", "no")
    monkeypatch.setenv("MICROFRAMEWORK_TRAP_BAD_REQUEST_ERRORS", "False")
    monkeypatch.setenv("MICROFRAMEWORK_TEMPLATES_AUTO_RELOAD", "null")  # unset
    app = Microframework(__name__)
    app.config.from_prefixed_env()
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
    assert app.config["TRAP_BAD_REQUEST_ERRORS"] is False
    assert app.config["TEMPLATES_AUTO_RELOAD"] is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MAX_CONTENT_LENGTH", decimal.Decimal(4)),
        ("MAX_CONTENT_LENGTH", fractions.Fraction(9, 2)),
        ("MAX_FORM_MEMORY_SIZE", decimal.Decimal(4)),
        ("MAX_FORM_PARTS", float("inf")),
    ],
)
async def test_numbers_of_any_kind_are_taken_as_limits(key: str, value: Any) -> None:
    # A Decimal worked before the check at freeze (and in Flask); inf is no limit.
    app = Microframework(__name__)
    app.config[key] = value

    @app.post("/")
    async def index() -> dict[str, str]:
        return dict(await request.form)

    client = app.test_client()
    small = await client.post("/", form={"a": "b"})
    assert (small.status_code, await small.get_json()) == (200, {"a": "b"})
    if key != "MAX_FORM_PARTS":
        assert (await client.post("/", form={"a": "bbbbbbbbbb"})).status_code == 413


@pytest.mark.parametrize(
    "key", ["MAX_FORM_PARTS", "MAX_CONTENT_LENGTH", "WEBSOCKET_MAX_MESSAGE_SIZE"]
)
@pytest.mark.parametrize("value", [float("nan"), -1])
async def test_a_limit_that_is_nan_or_negative_fails_at_startup(
    key: str, value: float
) -> None:
    # Both passed the check: a form limit of -1 was a 500 on every form request, a
    # MAX_CONTENT_LENGTH of -1 a 413 for every request with a body, even an empty one,
    # a WEBSOCKET_MAX_MESSAGE_SIZE of -1 a 1009 close for every message.
    app = Microframework(__name__)
    app.config[key] = value
    with pytest.raises(LifespanError, match=key):
        async with app.test_app():
            pass


@pytest.mark.parametrize("key", ["BODY_TIMEOUT", "WEBSOCKET_SEND_TIMEOUT"])
async def test_a_negative_timeout_still_means_none(key: str) -> None:
    app = Microframework(__name__)
    app.config[key] = -1
    async with app.test_app():
        pass


@pytest.mark.parametrize("key", ["MAX_CONTENT_LENGTH", "MAX_FORM_PARTS"])
async def test_a_negative_limit_is_refused_as_negative_not_as_a_non_number(
    key: str,
) -> None:
    # It said "must be a number or None, not int (-1)": -1 is a number.
    app = Microframework(__name__)
    app.config[key] = -1
    with pytest.raises(LifespanError) as failed:
        async with app.test_app():
            pass
    cause = failed.value.__cause__ or failed.value.__context__
    text = f"{failed.value} {cause}"
    assert f"app.config[{key!r}] must be 0 or more or None, not int (-1)" in text
