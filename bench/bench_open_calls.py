"""Benchmark: many open calls. 512 callers at once against an upstream that takes its time.

The upstream (``bench/slow_upstream.py``, plain asyncio) answers after 1 s, or streams 20 chunks over 2 s
when the body asks for a stream. Each caller posts a chat completion, waits for the whole answer and
posts the next one, on a kept-alive connection, for ``--duration`` seconds after a ``--ramp``, ``--repeats``
times per target and mode (medians reported, errors summed).

The load generator is this script: one asyncio loop, raw HTTP/1.1 on asyncio streams (no client library
in the way: Content-Length and chunked answers, a fresh connection after an error or a close), each
call bounded by ``--timeout``. Targets:

- **direct**: the slow upstream itself (shows the load generator reaches the ideal);
- **ours**: this service, started with ``make serve-prod`` (production settings, PostgreSQL + Redis,
  two workers, rate limits off, ``BYOK_OPENAI_BASE_URL`` at the slow upstream);
- **litellm**: LiteLLM's proxy (two workers, no database; see bench_gateway.py), unless --no-litellm.

Reported per target and mode: throughput (calls answered completely and correctly per second inside the
window) against the ideal, concurrency ÷ upstream latency (target ≥ 90 %); errors (target 0: answers
other than 200 with the whole body, timeouts, refused or broken connections); latency p50/p99; and
memory per open call: the RSS of the server's processes during the plateau (median of samples every
0.5 s) minus its RSS when idle, ÷ the calls open at the time.

    .venv/bin/python bench/bench_open_calls.py                 # 512 callers, 3 x 15 s per target and mode
    .venv/bin/python bench/bench_open_calls.py --quick --no-litellm
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import (
    DEFAULT_PG_ADMIN,
    DEFAULT_REDIS_URL,
    LITELLM_VERSION,
    VAR,
    VENV_PYTHON,
    LiteLLM,
    Service,
    database_url_named,
    free_ports,
    litellm_install,
    median,
    percentile,
    print_machine,
    print_table,
    process_tree,
    raise_open_files_limit,
    redis_reachable,
    rss_bytes,
    running,
    serve_prod_command,
    stop_group,
    verdict,
    wait_until_up,
    write_json,
)

WORKDIR = VAR / "bench-open-calls"
MODES = ("plain", "stream")


@dataclass
class SlowUpstream:
    port: int
    delay: float
    chunks: int
    stream_seconds: float
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "slow-upstream.log"
        self.process = subprocess.Popen(
            [
                str(VENV_PYTHON),
                str(Path(__file__).with_name("slow_upstream.py")),
                "--port",
                str(self.port),
                "--delay",
                str(self.delay),
                "--chunks",
                str(self.chunks),
                "--stream-seconds",
                str(self.stream_seconds),
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_up(f"{self.url}/v1/models", process=self.process, log=log)

    def stop(self) -> None:
        stop_group(self.process, grace=5)
        self.process = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


@dataclass
class Target:
    name: str
    port: int
    path: str
    model: str
    token: str
    pid: int

    def request(self, mode: str) -> bytes:
        body: dict[str, object] = {
            "model": self.model,
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 16,
        }
        if mode == "stream":
            body["stream"] = True
        raw = json.dumps(body).encode()
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
            f"{auth}Content-Length: {len(raw)}\r\n\r\n"
        ).encode() + raw


# ---- the load generator ------------------------------------------------------------------------


class BadAnswer(Exception):
    pass


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 answer: (status, body, keep the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip().lower() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    keep = headers.get("connection") != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body, keep = await reader.read(), False
    return status, body, keep


@dataclass
class Load:
    started: float = 0.0
    window: tuple[float, float] = (0.0, 0.0)
    inflight: int = 0
    completions: list[tuple[float, float]] = field(default_factory=list)  # (end time, latency)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (time, rss, inflight)


async def caller(target: Target, mode: str, load: Load, deadline: float, timeout: float) -> None:
    request = target.request(mode)
    expected = b"[DONE]" if mode == "stream" else b'"choices"'
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.monotonic() < deadline:
        started = time.monotonic()
        load.inflight += 1
        try:
            async with asyncio.timeout(timeout):
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", target.port, limit=2**20)
                conn[1].write(request)
                status, body, keep = await read_answer(conn[0])
            if status != 200:
                raise BadAnswer(f"http_{status}")
            if expected not in body:
                raise BadAnswer("incomplete_body")
            load.completions.append((time.monotonic(), time.monotonic() - started))
            if not keep:
                conn[1].close()
                conn = None
        except (
            TimeoutError,
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
            BadAnswer,
        ) as exc:
            # A call that began before the deadline and timed out after it is an error all the same.
            load.errors[str(exc) if isinstance(exc, BadAnswer) else type(exc).__name__] += 1
            if conn is not None:
                conn[1].close()
                conn = None
            await asyncio.sleep(0.05)  # no tight loop against a refusing server
        finally:
            load.inflight -= 1
    if conn is not None:
        conn[1].close()


async def sampler(pid: int, load: Load, until: float) -> None:
    while time.monotonic() < until:
        load.samples.append((time.monotonic(), rss_bytes(process_tree(pid)), load.inflight))
        await asyncio.sleep(0.5)


async def drive(target: Target, mode: str, *, concurrency: int, ramp: float, duration: float, timeout: float) -> Load:
    load = Load(started=time.monotonic())
    deadline = load.started + ramp + duration
    load.window = (load.started + ramp, deadline)
    callers = [caller(target, mode, load, deadline, timeout) for _ in range(concurrency)]
    await asyncio.gather(sampler(target.pid, load, deadline), *callers)
    return load


@dataclass
class Result:
    mode: str
    target: str
    concurrency: int
    ideal_per_s: float
    calls_per_s: float
    efficiency: float
    errors: int
    error_kinds: dict[str, int]
    p50_s: float
    p99_s: float
    idle_rss_mb: float
    plateau_rss_mb: float
    open_calls: float
    kb_per_open_call: float


def measure(target: Target, mode: str, args: argparse.Namespace, upstream_latency: float) -> Result:
    pids = process_tree(target.pid)
    idle = rss_bytes(pids)
    load = asyncio.run(
        drive(target, mode, concurrency=args.concurrency, ramp=args.ramp, duration=args.duration, timeout=args.timeout)
    )
    start, end = load.window
    inside = [latency for t, latency in load.completions if start <= t <= end]
    plateau = [(rss, inflight) for t, rss, inflight in load.samples if start <= t <= end]
    plateau_rss = median(r for r, _ in plateau) if plateau else float("nan")
    open_calls = median(i for _, i in plateau) if plateau else float("nan")
    ideal = args.concurrency / upstream_latency
    rate = len(inside) / (end - start)
    return Result(
        mode=mode,
        target=target.name,
        concurrency=args.concurrency,
        ideal_per_s=ideal,
        calls_per_s=rate,
        efficiency=rate / ideal,
        errors=sum(load.errors.values()),
        error_kinds=dict(load.errors),
        p50_s=percentile(inside, 50),
        p99_s=percentile(inside, 99),
        idle_rss_mb=idle / 2**20,
        plateau_rss_mb=plateau_rss / 2**20,
        open_calls=open_calls,
        kb_per_open_call=(plateau_rss - idle) / 1024 / open_calls if open_calls else float("nan"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=512, help="callers at once (default 512)")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per run (default 15)")
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds of load before the window opens")
    parser.add_argument("--repeats", type=int, default=3, help="runs per target and mode (medians; errors summed)")
    parser.add_argument("--timeout", type=float, default=30.0, help="a caller's limit for one call (seconds)")
    parser.add_argument("--delay", type=float, default=1.0, help="upstream seconds before a plain answer")
    parser.add_argument("--chunks", type=int, default=20, help="chunks in a streamed answer")
    parser.add_argument("--stream-seconds", type=float, default=2.0, help="upstream seconds a stream lasts")
    parser.add_argument("--modes", default="plain,stream")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of quiet between targets")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--litellm-version", default=LITELLM_VERSION)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=database_url_named(DEFAULT_PG_ADMIN, "h_bench_open_calls"))
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="'' for none (local memory cache)")
    parser.add_argument("--quick", action="store_true", help="tiny run: 16 callers, 0.2 s upstream, 2 s window")
    parser.add_argument("--json", type=Path, default=WORKDIR / "results.json")
    args = parser.parse_args()
    if args.quick:
        args.concurrency, args.duration, args.ramp, args.timeout, args.settle = 16, 1.5, 0.5, 10.0, 0.2
        args.repeats = 1
        args.delay, args.stream_seconds, args.chunks = 0.2, 0.4, 4
    modes = [m for m in args.modes.split(",") if m in MODES]
    if args.redis_url and not redis_reachable(args.redis_url):
        sys.exit(f"Redis is not reachable at {args.redis_url} (pass --redis-url '' to run without it).")
    raise_open_files_limit()
    info = print_machine()
    litellm_version = "" if args.no_litellm else litellm_install(args.litellm_version)
    upstream_port, litellm_port, ours_port = free_ports(3)
    upstream = SlowUpstream(upstream_port, args.delay, args.chunks, args.stream_seconds, WORKDIR)
    litellm = LiteLLM(litellm_port, {"bench-slow": f"{upstream.url}/v1"}, WORKDIR, workers=args.workers)
    ours = Service(
        port=ours_port, database_url=args.database_url, redis_url=args.redis_url, workdir=WORKDIR, workers=args.workers
    )
    print(f"ours: make serve-prod → {serve_prod_command()} ({args.workers} workers)")
    print(f"litellm: {litellm_version or 'skipped (--no-litellm)'}")
    print(
        f"{args.concurrency} callers, window {args.duration:.0f} s after {args.ramp:.0f} s, upstream {args.delay} s "
        f"(plain) / {args.chunks} chunks over {args.stream_seconds} s (stream), call timeout {args.timeout:.0f} s",
        flush=True,
    )
    results: list[Result] = []
    all_runs: list[Result] = []
    with running(upstream, litellm, ours):
        upstream.start()
        ours.prepare()
        ours.start(upstream=f"{upstream.url}/v1")
        if not args.no_litellm:
            litellm.start()
        targets = [
            Target("direct", upstream.port, "/v1/chat/completions", "gpt-4o-mini", "", upstream.pid),
            Target("ours", ours.port, "/v1/chat/completions", "openai/gpt-4o-mini", ours.token, ours.pid),
        ]
        if not args.no_litellm:
            targets.append(
                Target("litellm", litellm.port, "/v1/chat/completions", "bench-slow", litellm.master_key, litellm.pid)
            )
        for mode in modes:
            latency = args.delay if mode == "plain" else args.stream_seconds
            for target in targets:
                warm = asyncio.run(drive(target, mode, concurrency=2, ramp=0, duration=0.01, timeout=args.timeout))
                if warm.errors:
                    sys.exit(f"{target.name} ({mode}) fails a single call: {dict(warm.errors)}")
                runs = []
                for repeat in range(1, args.repeats + 1):
                    time.sleep(args.settle)  # let closed connections settle before the next run
                    result = measure(target, mode, args, latency)
                    runs.append(result)
                    print(
                        f"{mode:6} {target.name:8} #{repeat}: {result.calls_per_s:7.1f} calls/s of "
                        f"{result.ideal_per_s:.0f} ideal ({result.efficiency:6.1%}), errors {result.errors} "
                        f"{result.error_kinds or ''}, p50 {result.p50_s:.2f} s, p99 {result.p99_s:.2f} s, "
                        f"{result.kb_per_open_call:.0f} KiB/open call",
                        flush=True,
                    )
                results.append(combine(runs))
                all_runs.extend(runs)
    report(results)
    write_json(
        args.json,
        {
            "machine": info,
            "litellm": litellm_version,
            "serve_prod": serve_prod_command(),
            "args": vars(args),
            "results": [asdict(r) for r in results],
            "runs": [asdict(r) for r in all_runs],
        },
    )


def combine(runs: list[Result]) -> Result:
    """Medians over the repeats; errors (and their kinds) summed."""
    first = runs[0]
    kinds: Counter[str] = Counter()
    for run in runs:
        kinds.update(run.error_kinds)
    numeric = {
        name: median(getattr(run, name) for run in runs)
        for name in (
            "calls_per_s",
            "efficiency",
            "p50_s",
            "p99_s",
            "idle_rss_mb",
            "plateau_rss_mb",
            "open_calls",
            "kb_per_open_call",
        )
    }
    return Result(
        mode=first.mode,
        target=first.target,
        concurrency=first.concurrency,
        ideal_per_s=first.ideal_per_s,
        errors=sum(run.errors for run in runs),
        error_kinds=dict(kinds),
        **numeric,
    )


def report(results: list[Result]) -> None:
    print_table(
        [
            "mode",
            "target",
            "callers",
            "calls/s",
            "ideal/s",
            "of ideal",
            "errors",
            "p50 s",
            "p99 s",
            "idle MiB",
            "plateau MiB",
            "open calls",
            "KiB/open call",
        ],
        [
            [
                r.mode,
                r.target,
                r.concurrency,
                r.calls_per_s,
                r.ideal_per_s,
                f"{r.efficiency:.1%}",
                r.errors,
                r.p50_s,
                r.p99_s,
                r.idle_rss_mb,
                r.plateau_rss_mb,
                r.open_calls,
                r.kb_per_open_call,
            ]
            for r in results
        ],
        title="Open calls: medians over the runs, errors summed (throughput and latency inside the window; "
        "memory = plateau RSS - idle RSS)",
    )
    rows = []
    for r in results:
        if r.target == "direct":
            continue
        rows.append([r.mode, r.target, "throughput ≥ 90 % of ideal", verdict(r.efficiency >= 0.9)])
        rows.append([r.mode, r.target, "no errors", verdict(r.errors == 0)])
    print_table(["mode", "target", "target", "result"], rows, title="Targets")
    by = {(r.mode, r.target): r for r in results}

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    ratios = [
        [
            mode,
            ratio(by[(mode, "ours")].calls_per_s, by[(mode, "litellm")].calls_per_s),
            ratio(by[(mode, "ours")].kb_per_open_call, by[(mode, "litellm")].kb_per_open_call),
        ]
        for mode in MODES
        if (mode, "ours") in by and (mode, "litellm") in by
    ]
    if ratios:
        print_table(["mode", "calls/s ours/litellm", "memory/open call ours/litellm"], ratios, title="Ratios")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"\ntotal {time.monotonic() - started:.0f} s")
