"""Dependencies run one way: read from the source with `ast`, so an import hidden in a function or behind an
`importlib` string counts as much as one at the top of a module.

- `market` never imports `workers` (the worker imports the market's services, and is started by name);
- `market.core` imports no other part of `market` (no domain, no auth, no composition);
- `search` imports nothing of `market` but `market.core` (vocabularies, errors, settings).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORTERS = {
    "import_module",
    "__import__",
    "find_spec",
}  # importlib.import_module, __import__, importlib.util.find_spec
MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

# Modules whose violation another engineer removes on their branch; the lead empties this when merging.


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def imported_modules(path: Path, root: Path | None = None) -> set[str]:
    """Every module `path` imports: import statements anywhere (resolving relative ones) and importlib strings.

    A string passed to `import_module` / `__import__` / `find_spec` counts; when such a call takes a computed name,
    every string in the module that reads like a dotted module name counts (the names it is computed from).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path, root or ROOT)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    computed = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
        elif isinstance(node, ast.Call) and _called_name(node.func) in IMPORTERS and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
            else:
                computed = True
    if computed:
        found.update(
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.match(node.value)
        )
    return found


def modules_under(folder: str) -> Iterator[Path]:
    yield from sorted((ROOT / folder).rglob("*.py"))


def _is(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(folder: str, forbidden) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in modules_under(folder):
        bad = sorted(m for m in imported_modules(path) if forbidden(m))
        if bad:
            out[str(path.relative_to(ROOT))] = bad
    return out


# -- the checker itself: it sees what it must ---------------------------------------------------------------


def test_the_checker_sees_hidden_and_dynamic_imports(tmp_path):
    source = tmp_path / "pkg" / "mod.py"
    source.parent.mkdir()
    source.write_text(
        "import importlib\n"
        "from . import sibling\n"
        "def f():\n"
        "    from workers.search import drain\n"
        "    importlib.import_module('workers.calls')\n"
        "for name in ('workers.subsidies', 'not a module'):\n"
        "    importlib.import_module(name)\n"
    )
    found = imported_modules(source, root=tmp_path)
    assert {"workers.search", "workers.calls", "workers.subsidies", "pkg.sibling"} <= found
    assert "not a module" not in found


# -- the rules ------------------------------------------------------------------------------------------------


def test_market_never_imports_workers():
    found = violations("market", lambda m: _is(m, "workers"))
    assert found == {}, "market must not import workers: queue work by task name, start the worker by module name"


def test_core_imports_no_domain():
    found = violations("market/core", lambda m: _is(m, "market") and not _is(m, "market.core"))
    assert found == {}, "market.core is below every domain: it may import market.core only"


def test_search_imports_no_market_domain():
    found = violations("search", lambda m: _is(m, "market") and not _is(m, "market.core"))
    assert found == {}, "search talks to Meilisearch only: of market it may import market.core"
