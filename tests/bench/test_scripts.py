"""Every benchmark script starts as the README runs it (`python bench/NAME.py`), and says what it takes."""

import subprocess
import sys

import pytest

from market.core.config import PROJECT_ROOT

SCRIPTS = sorted(p.name for p in (PROJECT_ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


def test_the_issue_benchmarks_exist():
    assert {"api.py", "search.py", "match_quality.py", "stats.py", "subsidies.py", "calls.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_runs_as_a_script(script):
    r = subprocess.run(
        [sys.executable, f"bench/{script}", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "usage" in r.stdout.lower()


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_sees_the_real_search_package(script):
    # As a script, bench/ is sys.path[0]: bench/search.py must not shadow the `search` package.
    check = (
        "import runpy, sys; sys.path[0] = 'bench'; runpy.run_path(sys.argv[1], run_name='bench_check'); "
        "import search.documents, market.matching.match; print(search.__file__)"
    )
    r = subprocess.run(
        [sys.executable, "-c", check, f"bench/{script}"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith("search/__init__.py")
