"""The ``responses`` mock under the async client: the gateway sends with ``httpx``, the suite's provider
mocks are ``responses`` (for ``requests``). This transport hands each httpx request to ``requests``, so
one registered mock answers the blocking and the async client alike. Only the socket is replaced: the
gateway's request building, status handling, streaming and failover run as in production. Tests marked
``real_http`` use the real transport against live fake providers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import requests


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: requests.Response) -> None:
        self.response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for piece in self.response.iter_content(chunk_size=None):
                yield piece
        except requests.RequestException as exc:  # a mock whose body raises mid-stream
            raise httpx.ReadError(str(exc)) from None

    async def aclose(self) -> None:
        self.response.close()


class RequestsBridgeTransport(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        try:
            answer = requests.request(
                request.method,
                str(request.url),
                headers=dict(request.headers),
                data=body or None,
                stream=True,
                allow_redirects=False,
                timeout=5,
            )
        except requests.Timeout as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from None
        except requests.RequestException as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in ("content-encoding", "content-length")]
        return httpx.Response(answer.status_code, headers=headers, stream=_Body(answer), request=request)


def bridge_factory(*, guarded: bool, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    return RequestsBridgeTransport()
