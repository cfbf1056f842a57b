"""The benchmarks run, at a tiny size, on the database the suite uses, so they do not rot between the
runs that measure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
