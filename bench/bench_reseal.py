"""Benchmark: re-sealing every stored secret after a master-key rotation (``manage.py byok_reseal``).

Loads keys sealed under one master key (bulk inserts, real AES-256-GCM), rotates (new
``BYOK_ENCRYPTION_KEY``, the old one in ``BYOK_PREVIOUS_ENCRYPTION_KEYS``) and runs ``byok_reseal``
in process (``call_command``, as ``manage.py`` does), at 10,000 and then at 100,000 secrets:

- **secrets/s**: keys re-sealed ÷ the command's wall time (target ≥ 5,000/s);
- **peak memory**: tracemalloc's peak during a second, identical rotation (tracemalloc slows Python
  down, so it is not on during the timed one), and the process's RSS growth (target: flat, the peak
  at 100k no more than 1.5 x the peak at 10k).

Every re-seal is audited (``key.resealed``), as in production. ``--profile`` prints a cProfile of the
timed rotation at the largest size.

    .venv/bin/python bench/bench_reseal.py                     # 10k and 100k on PostgreSQL
    .venv/bin/python bench/bench_reseal.py --quick             # 200 and 1,000, a few seconds

The database is Django's test database for DATABASE_URL (``test_h_bench_reseal`` on PostgreSQL,
created and dropped; default server 127.0.0.1), or SQLite with ``--database-url sqlite:///…``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import (
    DEFAULT_PG_ADMIN,
    VAR,
    database_url_named,
    median,
    print_machine,
    print_table,
    verdict,
    write_json,
)

PROVIDERS = ["openai", "anthropic"]  # two keys per user
TARGET_PER_S = 5_000
FLAT = 1.5


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated secret counts, ascending")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or database_url_named(DEFAULT_PG_ADMIN, "h_bench_reseal"),
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed rotations per size (the median is reported)")
    parser.add_argument("--profile", action="store_true", help="cProfile a timed rotation at the largest size")
    parser.add_argument("--quick", action="store_true", help="sizes 200 and 1,000")
    parser.add_argument("--json", type=Path, default=VAR / "bench-reseal" / "results.json")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats = "200,1000", 1
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    info = print_machine()
    setup_test_environment()
    if connection.vendor == "postgresql":
        # Never the suite's own test database (test_<name>), whatever DATABASE_URL names.
        name = connection.settings_dict["NAME"]
        connection.settings_dict.setdefault("TEST", {})["NAME"] = (
            f"test_{name if 'bench' in name else 'h_bench_reseal'}"
        )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        results = run(sizes, repeats=args.repeats, profile=args.profile)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(f"database: {connection.vendor} ({args.database_url.split('@')[-1]})")
    write_json(args.json, {"machine": info, "args": vars(args), "results": results})


def load(*, start: int, count: int) -> None:
    """``count`` keys (two per user) sealed under the current primary master key."""
    from byok_keys.models import ProviderKey
    from byok_keys.vault import seal_credential
    from groups.models import User

    users = User.objects.bulk_create(
        [User(username=f"r{start // 2 + i:07d}", password="!") for i in range((count + 1) // 2)], batch_size=5_000
    )
    keys = []
    for index in range(count):
        user, provider = users[index // 2], PROVIDERS[index % 2]
        key = ProviderKey(
            key_id=f"byok_user_{provider}_{user.pk:012x}",
            user=user,
            provider=provider,
            name="bench",
            last4="abcd",
            status="valid",
        )
        seal_credential(key, f"sk-bench-{key.key_id}-{'x' * 40}")
        keys.append(key)
    ProviderKey.objects.bulk_create(keys, batch_size=5_000)


def rotate(ring: list[str], *, profiler: cProfile.Profile | None = None, trace: bool = False) -> dict[str, float]:
    """A new primary master key, the older ones kept for decrypting; run ``byok_reseal``."""
    from django.core.management import call_command
    from django.test.utils import override_settings

    ring.insert(0, secrets.token_hex(32))
    out = io.StringIO()
    with override_settings(BYOK_ENCRYPTION_KEY=ring[0], BYOK_PREVIOUS_ENCRYPTION_KEYS=ring[1:]):
        rss_before = rss_mb()
        if trace:
            tracemalloc.start()
            tracemalloc.reset_peak()
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        call_command("byok_reseal", stdout=out, stderr=out)
        if profiler is not None:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
        if trace:
            tracemalloc.stop()
    if not out.getvalue().startswith("Re-encrypted"):
        raise AssertionError(out.getvalue())
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peak,
        "rss_growth_mb": rss_mb() - rss_before,
        "output": out.getvalue(),
    }


def settings_ring(ring: list[str]) -> Any:
    from django.test.utils import override_settings

    return override_settings(BYOK_ENCRYPTION_KEY=ring[0], BYOK_PREVIOUS_ENCRYPTION_KEYS=ring[1:])


def run(sizes: list[int], *, repeats: int, profile: bool) -> list[dict[str, Any]]:
    from byok_keys.crypto import Keyring
    from byok_keys.models import ProviderKey
    from groups.models import AuditEvent

    ring = [secrets.token_hex(32)]
    rows: list[dict[str, Any]] = []
    loaded = 0
    for size in sizes:
        started = time.perf_counter()
        with settings_ring(ring):
            load(start=loaded, count=size - loaded)
        loaded = size
        print(f"loaded {size:,} sealed keys in {time.perf_counter() - started:.1f} s", flush=True)
        timings = []
        for repeat in range(1, repeats + 1):
            events_before = AuditEvent.objects.count()
            timed = rotate(ring)
            timings.append(timed)
            primary = Keyring.from_hex(ring[0]).primary_id
            stale = ProviderKey.objects.exclude(sealed_secret__startswith=f"byok:v1:{primary}:")
            assert not stale.exists(), "keys left on an old master key"
            print(
                f"{size:,} #{repeat}: {timed['seconds']:.1f} s ({size / timed['seconds']:,.0f}/s, "
                f"{timed['cpu_seconds']:.1f} s CPU in this process); "
                f"{AuditEvent.objects.count() - events_before:,} key.resealed audit events",
                flush=True,
            )
        timed = {k: median(t[k] for t in timings) for k in ("seconds", "cpu_seconds", "rss_growth_mb")}
        traced = rotate(ring, trace=True)
        profiler = cProfile.Profile() if profile and size == sizes[-1] else None
        if profiler is not None:
            rotate(ring, profiler=profiler)  # one more, untimed: cProfile slows it down
        rows.append(
            {
                "secrets": size,
                "seconds": timed["seconds"],
                "cpu_seconds": timed["cpu_seconds"],
                "per_s": median(size / t["seconds"] for t in timings),
                "per_s_runs": [size / t["seconds"] for t in timings],
                "peak_mb": traced["peak_mb"],
                "rss_growth_mb": timed["rss_growth_mb"],
                "traced_seconds": traced["seconds"],
            }
        )
        if profiler is not None:
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime"))
            stats.print_stats(25)
            if os.environ.get("BENCH_PROFILE_CALLERS"):
                stats.print_callers(os.environ["BENCH_PROFILE_CALLERS"])
            print("\ncProfile of one more rotation at this size:\n" + stream.getvalue())
    print_table(
        ["secrets", "seconds", "secrets/s", "CPU s (this process)", "peak MiB (tracemalloc)", "RSS growth MiB"],
        [[r["secrets"], r["seconds"], r["per_s"], r["cpu_seconds"], r["peak_mb"], r["rss_growth_mb"]] for r in rows],
        title="byok_reseal after a master-key rotation (medians over the timed rotations)",
    )
    small, large = rows[0], rows[-1]
    targets = [[f"≥ {TARGET_PER_S:,} secrets/s at {r['secrets']:,}", verdict(r["per_s"] >= TARGET_PER_S)] for r in rows]
    if len(rows) > 1:
        flat = large["peak_mb"] <= FLAT * small["peak_mb"]
        targets.append(
            [
                f"peak memory flat ({large['secrets']:,} ≤ {FLAT} x {small['secrets']:,}: "
                f"{large['peak_mb']:.1f} vs {small['peak_mb']:.1f} MiB)",
                verdict(flat),
            ]
        )
    print_table(["target", "result"], targets, title="Targets")
    return rows


if __name__ == "__main__":
    main()
