"""Benchmark: ``GET /api/byok/stats`` and ``GET /api/byok/keys`` with a million usage records, and the
usage ledger's write path.

One command builds a throw-away database (DATABASE_URL's server, or SQLite under var/), loads
``--size`` usage records straight into the ledger (PostgreSQL: one INSERT … SELECT generate_series;
otherwise bulk_create in batches), rolls them up, then records calls through ``usage_record_call``
from many threads, once all on one shared group key and once each on its own key (those records are
the tail that reads add up). It then starts gunicorn on 127.0.0.1 (a free port in 8600-8699, production
settings, 2 workers x 4 threads) and, in each of ``--rounds`` rounds, times ``/healthz`` (a trivial
JSON view), ``/api/byok/tokens`` (token auth and one small query, for scale), ``/api/byok/stats`` and
``/api/byok/keys``: p50 latency of sequential requests, and throughput from concurrent clients. It
prints the medians over the rounds, with throughput as a ratio to ``/healthz``'s on the same server in
the same run:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/byok .venv/bin/python bench/bench_stats.py
    .venv/bin/python bench/bench_stats.py --size 200 --rounds 1 --requests 5 --load 20 --writers 2

Targets: stats p50 under 20 ms with 1,000,000 records; stats and keys throughput at least 50 % of
/healthz's; the shared key's calls per second about those of separate keys (no lock shared per call).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

# /healthz: a trivial JSON view; /api/byok/tokens: token auth and one small query, for scale.
ENDPOINTS = ("/healthz", "/api/byok/tokens", "/api/byok/stats", "/api/byok/keys")
PORTS = range(8600, 8700)
WORKERS, THREADS = 2, 4


def main() -> None:
    parser = argparse.ArgumentParser(description="Stats and keys with a million usage records; the ledger's writes.")
    parser.add_argument("--size", type=int, default=1_000_000, help="usage records loaded (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=5, help="measuring rounds; medians are printed (default 5)")
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per endpoint and round")
    parser.add_argument("--load", type=int, default=2000, help="concurrent requests per endpoint and round")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client connections (default 4)")
    parser.add_argument("--writers", type=int, default=16, help="threads recording calls (default 16)")
    parser.add_argument("--calls", type=int, default=50, help="calls each writer records per scenario")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    # A database of its own, never the test suite's (which may be running at the same time).
    test_settings = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor == "sqlite":
        test_settings["NAME"] = str(ROOT / "var" / f"bench-{os.getpid()}.sqlite3")
    else:
        test_settings["NAME"] = f"bench_stats_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(args)
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


@dataclass
class World:
    token: str
    me: Any
    own_keys: list[Any]
    group: Any
    group_key: Any
    writers: list[tuple[Any, Any]]  # (member, their own key)


def run(args: argparse.Namespace) -> None:
    from django.db import connection

    world = build_world(args.writers)
    started = time.perf_counter()
    load_records(world, args.size)
    load_s = time.perf_counter() - started

    from gateway.models import UsageRecord
    from gateway.usage import rollup_usage

    started = time.perf_counter()
    rolled = rollup_usage(lag=dt.timedelta(0))
    rollup_s = time.perf_counter() - started
    if connection.vendor == "postgresql":
        # What autovacuum would have done by now; otherwise it does it during the measurements.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE byok_keys_usagerecord, byok_keys_usagetotal, byok_keys_providerkey")
    shared_rate, shared_p50 = record_calls(world, args.calls, shared=True)
    own_rate, own_p50 = record_calls(world, args.calls, shared=False)
    tail = UsageRecord.objects.filter(id__gt=rolled.watermark).count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        version = cursor.fetchone()[0].split()[0]

    print(
        f"usage ledger benchmark, {dt.date.today()}, {platform.node()}: {os.cpu_count()} cores, "
        f"{connection.vendor} {version}, gunicorn {WORKERS} workers x {THREADS} threads (production settings)"
    )
    print(
        f"usage records: {args.size:,} loaded in {load_s:.1f} s, rolled up in {rollup_s:.1f} s "
        f"({rolled.calls:,} calls); {tail:,} more since (the tail reads add up)"
    )
    print(
        f"usage_record_call from {args.writers} threads x {args.calls} calls: one shared group key "
        f"{shared_rate:,.0f} calls/s (p50 {shared_p50:.2f} ms), a key each {own_rate:,.0f} calls/s "
        f"(p50 {own_p50:.2f} ms): shared/separate {shared_rate / own_rate:.0%}"
    )
    with server() as port:
        rounds = [measure_round(port, world.token, args) for _ in range(args.rounds)]
    report(rounds, args)


def build_world(writers: int) -> World:
    from byok_keys.services import KeyOwner, api_token_create, provider_credential_parse, provider_key_store
    from groups.models import User
    from groups.services import group_create, membership_accept, membership_set

    def store(owner: Any, provider: str, raw: str) -> Any:
        credential = provider_credential_parse(provider=provider, raw=raw)
        return provider_key_store(actor=me, owner=owner, provider=provider, credential=credential)[0]

    me = User.objects.create_user(username="bench", password=secrets.token_urlsafe())
    own = [
        store(KeyOwner(user=me), "openai", "sk-proj-" + "b" * 40 + "T3BlbkFJ" + "c" * 40),
        store(KeyOwner(user=me), "anthropic", "sk-ant-api03-" + "a" * 93 + "AA"),
    ]
    group = group_create(actor=me, slug="bench", name="Bench")
    group_key = store(KeyOwner(organization=group), "openai", "sk-proj-" + "g" * 40 + "T3BlbkFJ" + "h" * 40)
    members = []
    for n in range(writers):
        user = User.objects.create_user(username=f"writer{n:02d}", password=secrets.token_urlsafe())
        membership_set(actor=me, org=group, username=user.username, role="member")
        membership_accept(user=user, org=group)
        key = store(KeyOwner(user=user), "openai", "sk-proj-" + f"{n:02d}" * 20 + "T3BlbkFJ" + "w" * 40)
        members.append((user, key))
    _, token = api_token_create(user=me, name="bench")
    return World(token=token, me=me, own_keys=own, group=group, group_key=group_key, writers=members)


def load_records(world: World, size: int) -> None:
    """``size`` records over the last 60 days, in id order: of every 20, the caller's own keys have 10
    (6 OpenAI, 4 Anthropic), the caller on the group key 6, other members on it 3, and 1 failed."""
    from django.db import connection

    from gateway.models import UsageRecord

    step = dt.timedelta(days=60) / max(size, 1)
    other = world.writers[0][0] if world.writers else world.me
    (openai, anthropic), shared = world.own_keys, world.group_key

    def who(g: int) -> tuple[Any, Any, str, str]:  # user, key, source, status
        slot = g % 20
        if slot < 6:
            return world.me, openai, "user", "ok"
        if slot < 10:
            return world.me, anthropic, "user", "ok"
        if slot < 16:
            return world.me, shared, "group", "ok"
        if slot < 19:
            return other, shared, "group", "ok"
        return world.me, openai, "user", "upstream_rate_limited"

    if connection.vendor == "postgresql":
        slots = [who(slot) for slot in range(20)]
        case = "CASE g %% 20 " + " ".join(f"WHEN {slot} THEN %s" for slot in range(20)) + " END"
        columns = [
            [user.pk for user, _, _, _ in slots],
            [key.pk for _, key, _, _ in slots],
            [key.key_id for _, key, _, _ in slots],
            [source for _, _, source, _ in slots],
            [key.organization_id for _, key, _, _ in slots],
            [key.provider for _, key, _, _ in slots],
            [status for _, _, _, status in slots],
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO byok_keys_usagerecord (user_id, provider_key_id, key_label, source, organization_id,"
                " provider, status, model, prompt_tokens, completion_tokens, total_tokens, token_prefix,"
                " latency_ms, created_at)"
                f" SELECT {', '.join([case] * len(columns))}, 'bench-model', 10 + g %% 7, 5 + g %% 3,"
                " 15 + g %% 7 + g %% 3, '', 100 + g %% 50, now() - (%s - g) * %s"
                " FROM generate_series(1, %s) AS g",
                [value for column in columns for value in column] + [size, step, size],
            )
        return
    now = dt.datetime.now(dt.UTC)
    for offset in range(0, size, 5000):
        batch = []
        for g in range(offset + 1, min(size, offset + 5000) + 1):
            user, key, source, status = who(g)
            batch.append(
                UsageRecord(
                    user=user,
                    provider_key=key,
                    key_label=key.key_id,
                    source=source,
                    organization_id=key.organization_id,
                    provider=key.provider,
                    model="bench-model",
                    prompt_tokens=10 + g % 7,
                    completion_tokens=5 + g % 3,
                    total_tokens=15 + g % 7 + g % 3,
                    status=status,
                    latency_ms=100 + g % 50,
                    created_at=now - (size - g) * step,
                )
            )
        UsageRecord.objects.bulk_create(batch)


def record_calls(world: World, calls: int, *, shared: bool) -> tuple[float, float]:
    """Calls per second and p50 ms of ``usage_record_call`` from one thread per writer, on the group's
    key or on each writer's own key."""
    from django.db import connections

    from gateway.usage import usage_record_call
    from providers.chat import Usage

    times: list[float] = []
    barrier = threading.Barrier(len(world.writers) + 1)

    def write(user: Any, own_key: Any) -> None:
        key = world.group_key if shared else own_key
        try:
            barrier.wait()
            for _ in range(calls):
                started = time.perf_counter()
                usage_record_call(
                    user=user,
                    provider="openai",
                    model="bench-model",
                    source="group" if shared else "user",
                    key=key,
                    key_label=key.key_id,
                    organization=world.group if shared else None,
                    usage=Usage(10, 5, 15),
                    status="ok",
                    latency_ms=100,
                )
                times.append((time.perf_counter() - started) * 1000)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=writer) for writer in world.writers]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(times) / elapsed, statistics.median(times)


class server:
    """gunicorn serving this checkout on a free port in 8600-8699, against the benchmark's database."""

    def __enter__(self) -> int:
        from django.conf import settings
        from django.db import connection

        db = connection.settings_dict
        if connection.vendor == "sqlite":
            url = f"sqlite:///{db['NAME']}"
        else:
            password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
            url = f"postgres://{quote(db['USER'], safe='')}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        self.port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DATABASE_URL": url,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "BYOK_ENCRYPTION_KEY": settings.BYOK_ENCRYPTION_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(WORKERS),
            "GUNICORN_THREADS": str(THREADS),
            "PYTHONWARNINGS": "ignore",  # production settings on SQLite warn (a smoke run)
        }
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"gunicorn exited: {self.log.read().decode()[-2000:]}")
            try:
                if get(http.client.HTTPConnection("127.0.0.1", self.port, timeout=5), "/healthz", "") == 200:
                    return self.port
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not answer /healthz within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise SystemExit("no free port in 8600-8699")


def get(conn: http.client.HTTPConnection, path: str, token: str) -> int:
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    response = conn.getresponse()
    response.read()
    return response.status


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    per_second: float


def measure_round(port: int, token: str, args: argparse.Namespace) -> dict[str, Figures]:
    figures = {}
    for path in ENDPOINTS:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(5):  # warm: connections, caches
            check(get(conn, path, token), path)
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            check(get(conn, path, token), path)
            times.append((time.perf_counter() - started) * 1000)
        conn.close()
        figures[path] = Figures(statistics.median(times), throughput(port, path, token, args.load, args.clients))
    return figures


def check(status: int, path: str) -> None:
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}")


def throughput(port: int, path: str, token: str, total: int, clients: int) -> float:
    """Requests per second with ``clients`` keep-alive connections sharing ``total`` requests."""
    left = iter(range(total))
    lock = threading.Lock()
    failures: list[int] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if next(left, None) is None:
                    break
            status = get(conn, path, token)
            if status != 200:
                failures.append(status)
        conn.close()

    elapsed = timed(lambda: run_threads(client, clients))
    if failures:
        raise SystemExit(f"GET {path}: {len(failures)} answers were not 200 (e.g. {failures[0]})")
    return total / elapsed


def run_threads(target: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def report(rounds: list[dict[str, Figures]], args: argparse.Namespace) -> None:
    print(
        f"{len(rounds)} rounds, each: {args.requests} sequential requests per endpoint (p50), "
        f"{args.load} from {args.clients} clients (throughput); medians over the rounds:"
    )
    medians = {
        path: Figures(
            statistics.median(r[path].p50_ms for r in rounds), statistics.median(r[path].per_second for r in rounds)
        )
        for path in ENDPOINTS
    }
    base = medians["/healthz"]
    print(f"  {'endpoint':<18}{'p50 ms':>9}{'req/s':>9}  throughput vs /healthz")
    for path, figures in medians.items():
        print(
            f"  {path:<18}{figures.p50_ms:>9.2f}{figures.per_second:>9.0f}  {figures.per_second / base.per_second:.0%}"
        )
    stats, keys = medians["/api/byok/stats"], medians["/api/byok/keys"]
    verdicts = [
        ("stats p50 < 20 ms", stats.p50_ms < 20),
        ("stats throughput >= 50 % of /healthz", stats.per_second >= base.per_second / 2),
        ("keys throughput >= 50 % of /healthz", keys.per_second >= base.per_second / 2),
    ]
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in verdicts))


if __name__ == "__main__":
    main()
