"""Each benchmark in bench/ runs end to end at a tiny size and prints its table, so that none rots
between the runs that measure (no timing is asserted: targets live in the benchmarks, not in tests).

bench_gateway runs with --no-litellm: installing LiteLLM's proxy takes minutes, too slow for the suite.
It needs nginx and wrk: without them it is skipped with how to install them, except under CI=true,
where it fails (.ci/run installs both with apt). The database is this run's PostgreSQL server when
DATABASE_URL names one (in databases of the benchmarks' own, never the suite's), else SQLite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_tools(*names: str) -> None:
    missing = [n for n in names if not (shutil.which(n) or Path(f"/usr/sbin/{n}").exists())]
    if missing:
        message = f"{', '.join(missing)} not installed: `apt-get install {' '.join(missing)}` to run this test."
        if under_ci():
            pytest.fail(message + " CI=true: .ci/run installs them.")
        pytest.skip(message)


def database_url(name: str, tmp_path: Path) -> str:
    """A database of the benchmark's own on this run's PostgreSQL server, or an SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        scheme, _, rest = url.partition("://")
        server = rest.split("/", 1)[0]
        return f"{scheme}://{server}/{name}"
    return f"sqlite:///{tmp_path / (name + '.sqlite3')}"


def run_bench(script: str, *args: str, timeout: float = 180) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_bench_gateway_runs_at_a_tiny_size_without_errors(tmp_path: Path) -> None:
    require_tools("nginx", "wrk")
    results = tmp_path / "gateway.json"
    out = run_bench(
        "bench_gateway.py",
        "--quick",
        "--no-litellm",
        "--concurrency",
        "1,2",
        "--database-url",
        database_url("h_bench_smoke_gateway", tmp_path),
        "--redis-url",
        "",
        "--json",
        str(results),
    )
    assert "added p50 ms" in out
    summary = json.loads(results.read_text())["summary"]
    for mode in ("plain", "stream"):
        for c in (1, 2):
            assert summary[f"{mode}/c{c}/ours"]["errors"] == 0
            assert summary[f"{mode}/c{c}/ours"]["rps"] > 0


def test_bench_open_calls_runs_at_a_tiny_size_without_errors(tmp_path: Path) -> None:
    results = tmp_path / "open_calls.json"
    out = run_bench(
        "bench_open_calls.py",
        "--quick",
        "--no-litellm",
        "--database-url",
        database_url("h_bench_smoke_open_calls", tmp_path),
        "--redis-url",
        "",
        "--json",
        str(results),
    )
    assert "KiB/open call" in out
    rows = json.loads(results.read_text())["results"]
    assert {(r["mode"], r["target"]) for r in rows} == {(m, t) for m in ("plain", "stream") for t in ("direct", "ours")}
    assert all(r["errors"] == 0 and r["calls_per_s"] > 0 for r in rows)


def test_bench_resolution_runs_at_a_tiny_size(tmp_path: Path) -> None:
    results = tmp_path / "resolution.json"
    out = run_bench(
        "bench_resolution.py",
        "--quick",
        "--database-url",
        database_url("h_bench_smoke_resolution", tmp_path),
        "--cache-url",
        "",
        "--json",
        str(results),
    )
    assert "warm p50 ms" in out
    sizes = json.loads(results.read_text())["results"]["sizes"]
    assert [s["size"] for s in sizes] == ["a tenth", "full"]
    assert sizes[1]["users"] == 200 and sizes[1]["keys"] == 200 * 2 + 20 * 10


def test_bench_reseal_runs_at_a_tiny_size(tmp_path: Path) -> None:
    results = tmp_path / "reseal.json"
    out = run_bench(
        "bench_reseal.py",
        "--quick",
        "--database-url",
        database_url("h_bench_smoke_reseal", tmp_path),
        "--json",
        str(results),
    )
    assert "secrets/s" in out
    rows = json.loads(results.read_text())["results"]
    assert [r["secrets"] for r in rows] == [200, 1000]


def test_bench_stats_smoke() -> None:
    size = 200
    tiny = ["--size", str(size), "--rounds", "1", "--requests", "3", "--load", "8", "--clients", "2"]
    result = subprocess.run(
        [sys.executable, "bench/bench_stats.py", *tiny, "--writers", "2", "--calls", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # One record in 20 failed: the roll-up counts the rest; 2 writers x 3 calls x 2 scenarios since.
    assert f"usage records: {size} loaded in" in out and f"({size * 19 // 20} calls); 12 more since" in out
    for path in ("/healthz", "/api/byok/tokens", "/api/byok/stats", "/api/byok/keys"):
        assert f"  {path} " in out
    assert "targets: stats p50 < 20 ms:" in out
