"""A slow OpenAI-compatible fake upstream for ``bench_open_calls.py``: plain asyncio, no dependencies, so
it holds thousands of open connections in one process.

- ``POST …/chat/completions`` answers after ``--delay`` seconds (default 1) with a fixed completion, or,
  when the body has ``"stream": true``, streams ``--chunks`` chunks (default 20) spread over
  ``--stream-seconds`` (default 2), then a final chunk, a usage chunk and ``[DONE]`` (chunked encoding);
- ``GET …/models`` answers at once (key validation);
- connections are kept alive.

    python bench/slow_upstream.py --port 8850 [--delay 1] [--chunks 20] [--stream-seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource

ANSWER = "Hello from the slow upstream."
CREATED = 1700000000


def _chunk(delta: dict[str, str], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, object] = {
        "id": "chatcmpl-slow",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gpt-4o-mini",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    event = ("data: " + json.dumps(body, separators=(",", ":")) + "\n\n").encode()
    return b"%x\r\n%s\r\n" % (len(event), event)


COMPLETION = json.dumps(
    {
        "id": "chatcmpl-slow",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    },
    separators=(",", ":"),
).encode()
MODELS = b'{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"}]}'
DONE = b"data: [DONE]\n\n"


def _response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Upstream:
    def __init__(self, *, delay: float, chunks: int, stream_seconds: float) -> None:
        self.delay = delay
        self.chunks = chunks
        self.stream_seconds = stream_seconds
        self.open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if method == "POST" and path.endswith("/chat/completions"):
                    try:
                        stream = bool(json.loads(body or b"{}").get("stream"))
                    except ValueError:
                        writer.write(_response("400 Bad Request", b'{"error":{"message":"bad json"}}'))
                        continue
                    if stream:
                        await self.stream(writer)
                    else:
                        await asyncio.sleep(self.delay)
                        writer.write(_response("200 OK", COMPLETION))
                elif method == "GET" and path.endswith("/models"):
                    writer.write(_response("200 OK", MODELS))
                else:
                    writer.write(_response("404 Not Found", b'{"error":{"message":"not found"}}'))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.open -= 1
            writer.close()

    async def stream(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        writer.write(_chunk({"role": "assistant", "content": ""}))
        await writer.drain()
        words = (ANSWER + " ") * self.chunks
        pieces = words.split(" ")[: self.chunks]
        for piece in pieces:
            await asyncio.sleep(self.stream_seconds / self.chunks)
            writer.write(_chunk({"content": piece + " "}))
            await writer.drain()
        writer.write(_chunk({}, finish="stop"))
        writer.write(_chunk({}, usage={"prompt_tokens": 11, "completion_tokens": self.chunks, "total_tokens": 31}))
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(DONE), DONE))


async def serve(port: int, upstream: Upstream) -> None:
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", port, backlog=4096)
    print(f"slow upstream on http://127.0.0.1:{port}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--stream-seconds", type=float, default=2.0)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    upstream = Upstream(delay=args.delay, chunks=args.chunks, stream_seconds=args.stream_seconds)
    try:
        asyncio.run(serve(args.port, upstream))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
