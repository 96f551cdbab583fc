"""The import graph: what ``import microframework`` loads, and each layer on its own."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return set(out.stdout.split())


def test_import_does_not_load_server_cli_or_file_libraries() -> None:
    loaded = _imported_after("import microframework")
    for heavy in ("hypercorn", "click", "aiofiles", "h11", "h2", "redis"):
        assert heavy not in loaded, f"import microframework loaded {heavy}"


# Lower layers must import without the layers above them (STYLE.md, section 1).
LAYERS = [
    (
        "microframework.typing",
        {"microframework.app", "microframework.wrappers.request"},
    ),
    ("microframework._utils", {"microframework.app"}),
    (
        "microframework.exceptions",
        {"microframework.app", "microframework.wrappers.request"},
    ),
    ("microframework.config", {"microframework.app"}),
    (
        "microframework.formparser",
        {"microframework.app", "microframework.wrappers.request"},
    ),
    ("microframework.json.provider", {"microframework.app"}),
    ("microframework.wrappers.response", {"microframework.app", "microframework.ctx"}),
    ("microframework.routing", {"microframework.app", "microframework.ctx"}),
    ("microframework.scaffold", {"microframework.app", "microframework.ctx"}),
    (
        "microframework.signals",
        {"microframework.app", "microframework.wrappers.request"},
    ),
    ("microframework.sessions", {"microframework.app", "microframework.ctx"}),
    ("microframework.json.tag", {"microframework.app", "microframework.ctx"}),
    ("microframework.blueprints", {"microframework.app", "microframework.ctx"}),
    # Redis is loaded only for a redis:// URL, when the broadcast connects.
    (
        "microframework.broadcast",
        {"microframework.app", "microframework._broadcast_redis", "redis"},
    ),
]


@pytest.mark.parametrize(("module", "forbidden"), LAYERS)
def test_layer_imports_without_upper_layers(module: str, forbidden: set[str]) -> None:
    # Importing a subpackage runs microframework/__init__ first, which loads
    # everything; block that to see what the module itself needs.
    statement = (
        "import importlib.util, sys, types; "
        "spec = importlib.util.find_spec('microframework'); "
        "pkg = types.ModuleType('microframework'); pkg.__path__ = spec.submodule_search_locations; "
        "sys.modules['microframework'] = pkg; "
        f"importlib.import_module({module!r})"
    )
    loaded = _imported_after(statement)
    assert not (loaded & forbidden), f"{module} pulled in {sorted(loaded & forbidden)}"
