"""Benchmark: the gateway (POST /v1/chat/completions) against LiteLLM's proxy, over a fixed fake upstream.

Three targets get the same load from ``wrk`` (a Lua script posts the chat body):

- **direct**: nginx itself, serving a fixed OpenAI chat completion at ``/plain/v1/chat/completions`` and
  a fixed server-sent-event stream at ``/stream/v1/chat/completions`` — the baseline;
- **litellm**: LiteLLM's proxy (``litellm[proxy]``, pinned, installed into ``var/litellm-venv``), two
  workers, no database, one model per nginx path;
- **ours**: this service on PostgreSQL + Redis, two workers, started with ``make serve-prod`` and the
  production settings, rate limits off, ``BYOK_OPENAI_BASE_URL`` pointing at nginx (``/plain/v1`` or
  ``/stream/v1``: the service is restarted between the two modes), one user with a stored OpenAI key.

For each mode (plain, stream), concurrency and repeat it prints p50, p99, requests/s, errors and the
server processes' CPU per request, then medians over the repeats, the added p50 (gateway p50 - direct
p50, the same run) and the ratios ours/LiteLLM, and the targets (pass/miss): at c=1 our added p50 ≤ ¼ of
LiteLLM's; at c=16 ≥ 4x LiteLLM's throughput; no errors at c=64.

    .venv/bin/python bench/bench_gateway.py                       # full: c=1,16,64, 3 x 10 s each
    .venv/bin/python bench/bench_gateway.py --quick --no-litellm  # a few seconds

Needs nginx and wrk (apt-get install nginx-light wrk), PostgreSQL (--database-url; the database is
dropped and created) and Redis (--redis-url, DB 7 by default; '' for none).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import (
    DEFAULT_PG_ADMIN,
    DEFAULT_REDIS_URL,
    LITELLM_VERSION,
    VAR,
    CpuMeter,
    LiteLLM,
    Service,
    database_url_named,
    free_ports,
    http,
    litellm_install,
    median,
    print_machine,
    print_table,
    raise_open_files_limit,
    redis_reachable,
    require_tool,
    running,
    serve_prod_command,
    stop_group,
    verdict,
    wait_until_up,
    write_json,
)

WORKDIR = VAR / "bench-gateway"
MODES = ("plain", "stream")
ANSWER = "Hello from the fixed upstream."
MESSAGES = [{"role": "user", "content": "Say hello."}]


# ---- the fixed upstream (nginx) ----------------------------------------------------------------


def completion_json() -> str:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        },
        separators=(",", ":"),
    )


def stream_body() -> str:
    """Eight content chunks, a final chunk, a usage chunk and [DONE], as OpenAI streams them."""

    def chunk(delta: dict[str, str], finish: str | None = None, usage: dict[str, int] | None = None) -> str:
        body: dict[str, object] = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "gpt-4o-mini",
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage:
            body["usage"] = usage
        return "data: " + json.dumps(body, separators=(",", ":")) + "\n\n"

    words = ANSWER.split(" ")
    pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    pieces = (pieces * 2)[:8]
    events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": p}) for p in pieces]
    events.append(chunk({}, finish="stop"))
    events.append(chunk({}, usage={"prompt_tokens": 11, "completion_tokens": 8, "total_tokens": 19}))
    return "".join(events) + "data: [DONE]\n\n"


def nginx_string(text: str) -> str:
    """A double-quoted nginx string (nginx turns \\n back into a newline; no $ may appear)."""
    assert "$" not in text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class Nginx:
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "tmp").mkdir(exist_ok=True)
        models = '{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"}]}'
        conf = f"""
worker_processes 1;
daemon off;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {self.workdir}/tmp/body;
    proxy_temp_path {self.workdir}/tmp/proxy;
    fastcgi_temp_path {self.workdir}/tmp/fastcgi;
    uwsgi_temp_path {self.workdir}/tmp/uwsgi;
    scgi_temp_path {self.workdir}/tmp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{self.port} backlog=4096;
        location = /plain/v1/chat/completions {{
            default_type application/json;
            return 200 {nginx_string(completion_json())};
        }}
        location = /stream/v1/chat/completions {{
            default_type text/event-stream;
            return 200 {nginx_string(stream_body())};
        }}
        location ~ ^/(plain|stream)/v1/models$ {{
            default_type application/json;
            return 200 {nginx_string(models)};
        }}
    }}
}}
"""
        path = self.workdir / "nginx.conf"
        path.write_text(conf)
        log = self.workdir / "nginx-error.log"
        self.process = subprocess.Popen(
            [
                require_tool("nginx", hint="apt-get install nginx-light"),
                "-p",
                str(self.workdir),
                "-c",
                str(path),
                "-e",
                str(log),
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_up(f"{self.url}/plain/v1/models", process=self.process, log=log)

    def stop(self) -> None:
        stop_group(self.process, grace=5)
        self.process = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


# ---- load: wrk with a Lua script -----------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str  # the chat completions URL
    model: str
    token: str
    pid: int

    def body(self, mode: str) -> dict[str, object]:
        body: dict[str, object] = {"model": self.model, "messages": MESSAGES, "max_tokens": 16}
        if mode == "stream":
            body["stream"] = True
        return body


@dataclass
class Run:
    mode: str
    concurrency: int
    target: str
    repeat: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    rps: float
    errors: int
    cpu_ms_per_request: float


RESULT = re.compile(r"^WRK_RESULT (.*)$", re.M)


def lua_script(target: Target, mode: str) -> Path:
    path = WORKDIR / f"wrk-{target.name}-{mode}.lua"
    headers = {"Content-Type": "application/json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(target.body(mode)))}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    lines.append(
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("WRK_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d '
        'read=%d write=%d status=%d timeout=%d\\n", summary.requests, summary.duration, '
        "latency:percentile(50), latency:percentile(99), summary.errors.connect, summary.errors.read, "
        "summary.errors.write, summary.errors.status, summary.errors.timeout))\n"
        "end"
    )
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk(target: Target, mode: str, concurrency: int, seconds: float) -> dict[str, int]:
    threads = min(2, concurrency)
    out = subprocess.run(
        [
            require_tool("wrk", hint="apt-get install wrk"),
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(lua_script(target, mode)),
            target.url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    match = RESULT.search(out.stdout)
    if match is None:
        sys.exit(f"wrk gave no result for {target.name} ({mode}, c={concurrency}):\n{out.stdout}\n{out.stderr}")
    return {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}


def measure(target: Target, mode: str, concurrency: int, seconds: float, repeat: int) -> Run:
    meter = CpuMeter(target.pid)
    meter.start()
    result = wrk(target, mode, concurrency, seconds)
    cpu = meter.stop()
    requests = result["requests"]
    elapsed = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Run(
        mode=mode,
        concurrency=concurrency,
        target=target.name,
        repeat=repeat,
        requests=requests,
        seconds=elapsed,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        rps=requests / elapsed if elapsed else 0.0,
        errors=errors,
        cpu_ms_per_request=cpu * 1000 / requests if requests else float("nan"),
    )


def check_answer(target: Target, mode: str) -> None:
    """One call through each target before measuring: it must answer 200 with the fixed text."""
    headers = {"Content-Type": "application/json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    status, body = http("POST", target.url, body=json.dumps(target.body(mode)).encode(), headers=headers, timeout=60)
    text = body.decode(errors="replace")
    expected = "Hello" if mode == "stream" else ANSWER
    if status != 200 or expected not in text or (mode == "stream" and "data:" not in text):
        sys.exit(f"{target.name} ({mode}) answered {status}: {text[:500]}")


# ---- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per target and concurrency (median)")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated connection counts")
    parser.add_argument("--modes", default="plain,stream", help="plain, stream or both")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each series")
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM (no install, no comparison)")
    parser.add_argument("--litellm-version", default=LITELLM_VERSION)
    parser.add_argument("--workers", type=int, default=2, help="worker processes of each gateway")
    parser.add_argument(
        "--database-url",
        default=database_url_named(DEFAULT_PG_ADMIN, "h_bench_gateway"),
        help="this service's database (dropped and created; its name must contain 'bench')",
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="'' for none (local memory cache)")
    parser.add_argument("--quick", action="store_true", help="tiny run: c=1,4, one 1-second repeat")
    parser.add_argument("--json", type=Path, default=WORKDIR / "results.json")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeats, args.warmup = min(args.duration, 1.0), 1, 0.0
        if args.concurrency == "1,16,64":
            args.concurrency = "1,4"
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    modes = [m for m in args.modes.split(",") if m in MODES]
    require_tool("nginx", hint="apt-get install nginx-light (or nginx)")
    require_tool("wrk", hint="apt-get install wrk")
    if args.redis_url and not redis_reachable(args.redis_url):
        sys.exit(f"Redis is not reachable at {args.redis_url} (pass --redis-url '' to run without it).")
    raise_open_files_limit()
    info = print_machine()
    WORKDIR.mkdir(parents=True, exist_ok=True)

    litellm_version = "" if args.no_litellm else litellm_install(args.litellm_version)
    nginx_port, litellm_port, ours_port = free_ports(3)
    nginx = Nginx(nginx_port, WORKDIR)
    litellm = LiteLLM(
        litellm_port,
        {f"bench-{mode}": f"{nginx.url}/{mode}/v1" for mode in MODES},
        WORKDIR,
        workers=args.workers,
    )
    ours = Service(
        port=ours_port,
        database_url=args.database_url,
        redis_url=args.redis_url,
        workdir=WORKDIR,
        workers=args.workers,
    )
    print(
        f"nginx {subprocess.run(['nginx', '-v'], capture_output=True, text=True).stderr.strip()}; "
        f"{subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.splitlines()[0]}"
    )
    print(f"ours: make serve-prod → {serve_prod_command()} ({args.workers} workers)")
    print(f"ours: database {args.database_url.split('@')[-1]}, cache {args.redis_url or 'local memory'}")
    print(f"litellm: {litellm_version or 'skipped (--no-litellm)'}")
    runs: list[Run] = []
    with running(nginx, litellm, ours):
        nginx.start()
        ours.prepare()
        if not args.no_litellm:
            litellm.start()
        for mode in modes:
            ours.start(upstream=f"{nginx.url}/{mode}/v1")
            targets = [Target("direct", f"{nginx.url}/{mode}/v1/chat/completions", "gpt-4o-mini", "", nginx.pid)]
            if not args.no_litellm:
                targets.append(
                    Target(
                        "litellm",
                        f"{litellm.url}/v1/chat/completions",
                        f"bench-{mode}",
                        litellm.master_key,
                        litellm.pid,
                    )
                )
            targets.append(
                Target("ours", f"{ours.url}/v1/chat/completions", "openai/gpt-4o-mini", ours.token, ours.pid)
            )
            for target in targets:
                check_answer(target, mode)
            for concurrency in concurrencies:
                if args.warmup:
                    for target in targets:
                        wrk(target, mode, concurrency, args.warmup)
                for repeat in range(1, args.repeats + 1):
                    for target in targets:
                        run = measure(target, mode, concurrency, args.duration, repeat)
                        runs.append(run)
                        print(
                            f"{mode:6} c={concurrency:<3} {target.name:8} #{repeat}: p50 {run.p50_ms:8.2f} ms  "
                            f"p99 {run.p99_ms:8.2f} ms  {run.rps:9.1f} req/s  errors {run.errors}  "
                            f"cpu {run.cpu_ms_per_request:6.2f} ms/req",
                            flush=True,
                        )
            ours.stop()
    summary = report(runs, modes, concurrencies, with_litellm=not args.no_litellm)
    write_json(
        args.json,
        {
            "machine": info,
            "litellm": litellm_version,
            "serve_prod": serve_prod_command(),
            "args": vars(args),
            "runs": [asdict(r) for r in runs],
            "summary": summary,
        },
    )


def report(runs: list[Run], modes: list[str], concurrencies: list[int], *, with_litellm: bool) -> dict[str, object]:
    def med(mode: str, c: int, target: str, attr: str) -> float:
        return median(getattr(r, attr) for r in runs if (r.mode, r.concurrency, r.target) == (mode, c, target))

    def errors(mode: str, c: int, target: str) -> int:
        return sum(r.errors for r in runs if (r.mode, r.concurrency, r.target) == (mode, c, target))

    names = ["direct", *(["litellm"] if with_litellm else []), "ours"]
    rows, ratio_rows, summary = [], [], {}
    for mode in modes:
        for c in concurrencies:
            direct_p50 = med(mode, c, "direct", "p50_ms")
            added = {}
            for name in names:
                p50 = med(mode, c, name, "p50_ms")
                added[name] = p50 - direct_p50 if name != "direct" else float("nan")
                rows.append(
                    [
                        mode,
                        str(c),
                        name,
                        p50,
                        med(mode, c, name, "p99_ms"),
                        med(mode, c, name, "rps"),
                        str(errors(mode, c, name)),
                        med(mode, c, name, "cpu_ms_per_request"),
                        "-" if name == "direct" else added[name],
                    ]
                )
                summary[f"{mode}/c{c}/{name}"] = {
                    "p50_ms": p50,
                    "p99_ms": med(mode, c, name, "p99_ms"),
                    "rps": med(mode, c, name, "rps"),
                    "errors": errors(mode, c, name),
                    "cpu_ms_per_request": med(mode, c, name, "cpu_ms_per_request"),
                    "added_p50_ms": added[name],
                }
            if with_litellm:
                ratio_rows.append(
                    [
                        mode,
                        str(c),
                        added["ours"] / added["litellm"] if added["litellm"] else float("nan"),
                        med(mode, c, "ours", "rps") / med(mode, c, "litellm", "rps"),
                        med(mode, c, "ours", "cpu_ms_per_request") / med(mode, c, "litellm", "cpu_ms_per_request"),
                    ]
                )
    print_table(
        ["mode", "c", "target", "p50 ms", "p99 ms", "req/s", "errors", "cpu ms/req", "added p50 ms"],
        rows,
        title="Medians over the repeats (errors: the sum); added p50 = gateway p50 - direct p50, same run",
    )
    if ratio_rows:
        print_table(
            ["mode", "c", "added p50 ours/litellm", "req/s ours/litellm", "cpu/req ours/litellm"],
            ratio_rows,
            title="Ratios (same run)",
        )
    targets = []
    for mode in modes:
        if 1 in concurrencies:
            ok = None
            if with_litellm:
                ok = summary[f"{mode}/c1/ours"]["added_p50_ms"] <= summary[f"{mode}/c1/litellm"]["added_p50_ms"] / 4
            targets.append([mode, "c=1: our added p50 ≤ ¼ of LiteLLM's", verdict(ok)])
            summary[f"target/{mode}/c1_added_p50"] = verdict(ok)
        if 16 in concurrencies:
            ok = None
            if with_litellm:
                ok = summary[f"{mode}/c16/ours"]["rps"] >= 4 * summary[f"{mode}/c16/litellm"]["rps"]
            targets.append([mode, "c=16: our req/s ≥ 4x LiteLLM's", verdict(ok)])
            summary[f"target/{mode}/c16_throughput"] = verdict(ok)
        if 64 in concurrencies:
            ok = summary[f"{mode}/c64/ours"]["errors"] == 0
            targets.append([mode, "c=64: no errors (ours)", verdict(ok)])
            summary[f"target/{mode}/c64_errors"] = verdict(ok)
    if targets:
        print_table(["mode", "target", "result"], targets, title="Targets")
    return summary


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"\ntotal {time.monotonic() - started:.0f} s")
