"""Where a gateway call's CPU goes: cProfile of ``POST /v1/chat/completions`` in process.

The same setup as bench_gateway.py (nginx's fixed upstream, the production settings on PostgreSQL +
Redis, one user, token and OpenAI key), but the calls go through Django's test client inside this
process under cProfile, so the profile shows the application's own work per call (the HTTP server's
share is what bench_gateway's CPU per request adds on top).

    .venv/bin/python bench/profile_gateway.py [--calls 300] [--mode plain|stream] [--sort tottime]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
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
    running,
)
from bench.bench_gateway import Nginx

WORKDIR = VAR / "bench-profile"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--mode", choices=["plain", "stream"], default="plain")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative, …)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--database-url", default=database_url_named(DEFAULT_PG_ADMIN, "h_bench_profile"))
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()
    print_machine()
    nginx_port, ours_port = free_ports(2)
    nginx = Nginx(nginx_port, WORKDIR)
    ours = Service(port=ours_port, database_url=args.database_url, redis_url=args.redis_url, workdir=WORKDIR)
    with running(nginx):
        nginx.start()
        token = ours.prepare()
        os.environ.update(ours.env(upstream=f"{nginx.url}/{args.mode}/v1"))
        import django

        django.setup()
        from django.test import Client

        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
        body: dict[str, object] = {
            "model": "openai/gpt-4o-mini",
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 16,
        }
        if args.mode == "stream":
            body["stream"] = True
        payload = json.dumps(body)

        def call() -> None:
            response = client.post("/v1/chat/completions", payload, content_type="application/json")
            content = b"".join(response.streaming_content) if response.streaming else response.content
            assert response.status_code == 200, content[:300]

        for _ in range(20):  # warm: imports, connections, pools
            call()
        profiler = cProfile.Profile()
        started = time.process_time()
        profiler.enable()
        for _ in range(args.calls):
            call()
        profiler.disable()
        cpu = time.process_time() - started
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(args.sort).print_stats(args.top)
        print(stream.getvalue())
        print(
            f"{args.calls} calls ({args.mode}) in process: {cpu * 1000 / args.calls:.2f} ms CPU per call "
            "(under cProfile, which inflates it)"
        )


if __name__ == "__main__":
    main()
