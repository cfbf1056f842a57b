"""A local fake LLM provider (OpenAI-compatible) for end-to-end tests: the service is pointed at it
through BYOK_OPENAI_BASE_URL. It records the Authorization header of every request."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeProvider:
    def __init__(self, *, delay: float = 0.0, port: int = 0) -> None:
        self.delay = delay
        # Secrets the fake answers 401 for, as a provider does for a revoked key.
        self.rejected: set[str] = set()
        # Streams: after this many pieces, pause ``pause`` seconds before sending the rest.
        self.pause_after: int | None = None
        self.pause = 0.0
        # GET requests (key validation): path and the secret sent.
        self.gets: list[dict[str, str]] = []
        # Streams the caller (the service) closed before the end: the fake's writes failed.
        self.streams_cut = 0
        # Chat requests being answered now, and the most at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        ThreadingHTTPServer.request_queue_size = 1024  # hundreds of callers connect at once
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Headers and body go out as separate writes: without TCP_NODELAY each answer would wait
            # for the caller's delayed ACK (~40 ms).
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _secret(self) -> str:
                auth = self.headers.get("Authorization", "")
                return auth.removeprefix("Bearer ").strip() or self.headers.get("api-key", "")

            def do_GET(self) -> None:
                with fake._lock:
                    fake.gets.append({"path": self.path, "secret": self._secret()})
                if self._secret() in fake.rejected:
                    self._json(401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}})
                elif self.path.split("?")[0].endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                auth = self.headers.get("Authorization", "")
                with fake._lock:
                    fake.requests.append({"path": self.path, "authorization": auth, "body": body})
                with fake._lock:
                    fake.in_flight += 1
                    fake.peak_in_flight = max(fake.peak_in_flight, fake.in_flight)
                if fake.delay:
                    time.sleep(fake.delay)
                with fake._lock:
                    fake.in_flight -= 1
                if not self.path.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                prompt = body["messages"][-1]["content"]
                text = f"echo[{auth[-6:]}]: {prompt}"
                usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
                if not body.get("stream"):
                    self._json(
                        200,
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion",
                            "model": body["model"],
                            "choices": [
                                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                            ],
                            "usage": usage,
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    self._stream(body, text, usage)
                except (BrokenPipeError, ConnectionResetError):
                    with fake._lock:
                        fake.streams_cut += 1
                self.close_connection = True

            def _stream(self, body: dict[str, Any], text: str, usage: dict[str, int]) -> None:
                pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
                for index, piece in enumerate(pieces):
                    if fake.pause_after is not None and index == fake.pause_after:
                        time.sleep(fake.pause)
                    chunk = {
                        "id": "c",
                        "object": "chat.completion.chunk",
                        "model": body["model"],
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                final = {
                    "id": "c",
                    "object": "chat.completion.chunk",
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
                self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
                self.wfile.write(f"data: {json.dumps({'id': 'c', 'choices': [], 'usage': usage})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler


def main() -> None:
    """Run the fake on its own for a manual end-to-end try: ``python -m tests.fake_provider --port 9100``,
    then start the service with ``BYOK_OPENAI_BASE_URL=http://127.0.0.1:9100/v1``."""
    import argparse

    parser = argparse.ArgumentParser(description="A local OpenAI-compatible fake provider.")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    with FakeProvider(port=args.port, delay=args.delay) as fake:
        print(f"Fake provider on {fake.url}/v1 (Ctrl-C to stop)", flush=True)
        try:
            fake.thread.join()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
