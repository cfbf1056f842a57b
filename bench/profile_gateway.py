"""Where the gateway's CPU goes under load: py-spy samples the production server's workers.

The setup of bench_gateway.py (nginx's fixed upstream; this service started with ``make serve-prod``,
production settings, PostgreSQL + Redis, two workers, one user, token and OpenAI key), wrk posting chat
completions at ``--concurrency`` for ``--duration`` seconds, and meanwhile py-spy (installed into
``var/tools-venv`` on first use) sampling every worker. Prints the functions with the most samples on
top of the stack (own time) and the most samples anywhere in the stack (inclusive), and writes the
collapsed stacks to ``var/bench-profile/`` (flame-graph input).

    .venv/bin/python bench/profile_gateway.py [--mode plain|stream] [--concurrency 16] [--duration 15]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import (
    DEFAULT_PG_ADMIN,
    DEFAULT_REDIS_URL,
    VAR,
    Service,
    database_url_named,
    free_ports,
    print_machine,
    print_table,
    process_tree,
    running,
    serve_prod_command,
)
from bench.bench_gateway import Nginx, Target, wrk

WORKDIR = VAR / "bench-profile"
TOOLS = VAR / "tools-venv"


def py_spy() -> Path:
    binary = TOOLS / "bin" / "py-spy"
    if not binary.exists():
        print("installing py-spy into var/tools-venv …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run([str(TOOLS / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True)
    return binary


def frame_name(frame: str) -> str:
    """``function (path/to/module.py:line)`` → ``function (module.py)``: lines merged, paths shortened."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3.11/", "/work/h-bench/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["plain", "stream"], default="plain")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--database-url", default=database_url_named(DEFAULT_PG_ADMIN, "h_bench_profile"))
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()
    print_machine()
    spy = py_spy()
    nginx_port, ours_port = free_ports(2)
    nginx = Nginx(nginx_port, WORKDIR)
    ours = Service(port=ours_port, database_url=args.database_url, redis_url=args.redis_url, workdir=WORKDIR)
    print(f"ours: make serve-prod → {serve_prod_command()}", flush=True)
    with running(nginx, ours):
        nginx.start()
        ours.prepare()
        ours.start(upstream=f"{nginx.url}/{args.mode}/v1")
        target = Target("ours", f"{ours.url}/v1/chat/completions", "openai/gpt-4o-mini", ours.token, ours.pid)
        wrk(target, args.mode, args.concurrency, 3)  # warm
        master = next(pid for pid in process_tree(ours.pid) if "gunicorn" in Path(f"/proc/{pid}/cmdline").read_text())
        output = WORKDIR / f"py-spy-{args.mode}-c{args.concurrency}.txt"
        result: dict[str, dict[str, int]] = {}
        load = threading.Thread(
            target=lambda: result.update(run=wrk(target, args.mode, args.concurrency, args.duration + 2))
        )
        load.start()
        subprocess.run(
            [
                str(spy),
                "record",
                "--pid",
                str(master),
                "--subprocesses",
                "--duration",
                str(args.duration),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(output),
                "--nonblocking",
            ],
            check=True,
            capture_output=True,
        )
        load.join()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = [frame_name(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        n = int(count)
        total += n
        if frames:
            own[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
    requests = result.get("run", {}).get("requests", 0)
    print(
        f"\n{total:,} samples over {args.duration} s of wrk at c={args.concurrency} ({args.mode}, "
        f"{requests:,} requests); collapsed stacks in {output.relative_to(VAR.parent)}"
    )
    print_table(
        ["own %", "function"],
        [[100 * n / total, name] for name, n in own.most_common(args.top)],
        title="Most samples on top of the stack (own time)",
    )
    ours_only = [(name, n) for name, n in inclusive.most_common() if ".py)" in name and not name.startswith("<")]
    print_table(
        ["incl. %", "function"],
        [[100 * n / total, name] for name, n in ours_only[: args.top * 2]],
        title="Most samples anywhere in the stack (inclusive)",
    )


if __name__ == "__main__":
    main()
