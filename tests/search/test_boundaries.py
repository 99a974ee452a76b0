"""search/ talks to Meilisearch only: of `market` it may import market.core (vocabularies, errors, settings), never a
domain (accounts, listings, matching, calls …) nor the composition (embedded, stack). Read with `ast`, so an import
inside a function or under TYPE_CHECKING counts as much as one at the top; the market side owns the drain."""

from __future__ import annotations

import ast
from pathlib import Path

SEARCH = Path(__file__).resolve().parents[2] / "search"


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
            "import_module",
            "__import__",
        ):
            found.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return found


def outside_core(module: str) -> bool:
    return (module == "market" or module.startswith("market.")) and not (
        module == "market.core" or module.startswith("market.core.")
    )


def test_search_imports_nothing_of_market_but_core():
    bad = {
        str(path.relative_to(SEARCH.parent)): sorted(m for m in imported(path) if outside_core(m))
        for path in sorted(SEARCH.rglob("*.py"))
    }
    assert {path: mods for path, mods in bad.items() if mods} == {}


def test_the_check_sees_imports_hidden_in_functions(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "import importlib\nfrom market.core import outbox\n"
        "def f():\n    from market.listings.models import Achievement\n    importlib.import_module('market.stack')\n"
    )
    assert {m for m in imported(source) if outside_core(m)} == {
        "market.listings.models",
        "market.listings.models.Achievement",
        "market.stack",
    }
