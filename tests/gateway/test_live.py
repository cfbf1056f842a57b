"""End to end through a live server: the official ``openai`` package as the client, a local fake
provider behind the service, and 20 concurrent callers with different keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests
from pytest_django.fixtures import Settings as SettingsWrapper

from byok_keys.services import KeyOwner, api_token_create, provider_key_set
from groups.models import User
from tests.factories import join_group, shown_key
from tests.fake_provider import FakeProvider

pytestmark = [pytest.mark.real_http, pytest.mark.django_db(transaction=True)]


def openai_key(tag: str) -> str:
    return "sk-proj-" + f"{tag:0>6}" * 4 + "T3BlbkFJ" + f"{tag:0>6}" * 4


@pytest.fixture
def fake(settings: SettingsWrapper) -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        settings.BYOK_BASE_URL_OVERRIDES = {"openai": f"{provider.url}/v1"}
        yield provider


def user_with_key(username: str, key: str) -> tuple[User, str]:
    user = User.objects.create_user(username=username, password="x")
    result = provider_key_set(actor=user, owner=KeyOwner(user=user), provider="openai", raw=key)
    assert result.key.status == "valid"  # validated against the fake's /v1/models
    _, token = api_token_create(user=user, name="live")
    return user, token


def test_openai_sdk_plain_completion(live_server: Any, fake: FakeProvider) -> None:
    key = openai_key("alice1")
    _, token = user_with_key("alice", key)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=token, max_retries=0)
    completion = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}], max_tokens=16
    )
    assert completion.choices[0].message.content == f"echo[{key[-6:]}]: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "openai/gpt-4o-mini"
    assert completion.usage is not None and completion.usage.total_tokens == 18
    upstream = [r for r in fake.requests if r["path"].endswith("/chat/completions")]
    assert upstream[-1]["authorization"] == f"Bearer {key}"
    assert upstream[-1]["body"]["model"] == "gpt-4o-mini"
    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
    )
    assert raw.headers["x-byok-key-source"] == "user"


def test_openai_sdk_streaming(live_server: Any, fake: FakeProvider) -> None:
    key = openai_key("bob222")
    user, token = user_with_key("bob", key)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=token, max_retries=0)
    stream = client.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"echo[{key[-6:]}]: Stream this please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # really streamed
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 18
    upstream = [r for r in fake.requests if r["path"].endswith("/chat/completions")]
    assert upstream[-1]["body"]["stream"] is True
    assert shown_key(user=user).current_usage_count == 1


def test_openai_sdk_errors_and_models(live_server: Any, fake: FakeProvider) -> None:
    _, token = user_with_key("carol", openai_key("carol3"))
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=token, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "no_key_for_provider"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    bad = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="byokt_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    ids = [m.id for m in client.models.list()]
    assert "openai/gpt-4o-mini" in ids
    assert not any(i.startswith("anthropic/") for i in ids)


def test_twenty_concurrent_callers_each_use_their_own_key(live_server: Any, fake: FakeProvider) -> None:
    callers = []
    for i in range(20):
        key = openai_key(f"u{i:02d}key")
        user, token = user_with_key(f"user{i:02d}", key)
        callers.append((user, token, key))
    fake.delay = 0.02  # keep requests in flight together
    calls_each = 3
    errors: list[str] = []
    barrier = threading.Barrier(len(callers))

    def run(user: User, token: str) -> None:
        session = requests.Session()
        barrier.wait()
        for n in range(calls_each):
            response = session.post(
                f"{live_server.url}/api/inference",
                json={"provider": "openai", "model": "gpt-4o-mini", "prompt": f"{user.username}#{n}"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            if response.status_code != 200:
                errors.append(f"{user.username}: {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=run, args=(u, t)) for u, t, _ in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    chats = [r for r in fake.requests if r["path"].endswith("/chat/completions")]
    assert len(chats) == 20 * calls_each
    key_of = {user.username: key for user, _, key in callers}
    for request in chats:
        username = request["body"]["messages"][-1]["content"].split("#")[0]
        assert request["authorization"] == f"Bearer {key_of[username]}", "a caller's request carried another key"
    for user, _, _ in callers:
        assert shown_key(user=user).current_usage_count == calls_each


def test_concurrent_calls_on_one_shared_group_key_lose_no_usage_update(live_server: Any, fake: FakeProvider) -> None:
    from gateway.usage import group_usage
    from groups.services import group_create

    owner = User.objects.create_user(username="boss", password="x")
    org = group_create(actor=owner, slug="shared", name="Shared")
    group_key = provider_key_set(
        actor=owner, owner=KeyOwner(organization=org), provider="openai", raw=openai_key("shared")
    ).key
    tokens = []
    for i in range(20):
        user = User.objects.create_user(username=f"member{i:02d}", password="x")
        join_group(owner=owner, group=org, user=user)
        tokens.append(api_token_create(user=user, name="live")[1])
    barrier = threading.Barrier(len(tokens))
    statuses: list[int] = []

    def run(token: str) -> None:
        session = requests.Session()
        barrier.wait()
        for _ in range(3):
            response = session.post(
                f"{live_server.url}/api/inference",
                json={"provider": "openai", "model": "gpt-4o-mini", "prompt": "hi"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=run, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 60
    assert shown_key(pk=group_key.pk).current_usage_count == 60
    usage = group_usage(organization=org)
    assert (usage.total_calls, usage.total_tokens) == (60, 60 * 18)


def _stream(live_server: Any, token: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{live_server.url}/v1/chat/completions",
        json={
            "model": "openai/gpt-4o-mini",
            "messages": [{"role": "user", "content": "0123456789abcdefghij"}],
            "stream": True,
        },
        headers={"Authorization": f"Bearer {token}", **headers},
        stream=True,
        timeout=30,
    )


def test_a_stream_reaches_the_caller_as_it_arrives_not_after_a_pause(live_server: Any, fake: FakeProvider) -> None:
    import time

    _, token = user_with_key("pauser", openai_key("pause1"))
    fake.pause_after, fake.pause = 2, 2.0  # two pieces, then two seconds of silence, then the rest
    started = time.monotonic()
    response = _stream(live_server, token, Accept="text/event-stream")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    first_content = None
    for line in response.iter_lines(chunk_size=1):
        if b'"content":"' in line and b'"content":""' not in line:
            first_content = time.monotonic() - started
            break
    response.close()
    assert first_content is not None and first_content < 1.5, first_content
    _wait_for_record("pauser")


def _wait_for_record(username: str, status: str | None = None) -> None:
    """The server finishes (and records) a stream after the client has gone: wait for it, so nothing
    writes after the test's database is emptied."""
    import time

    from gateway.models import UsageRecord

    records = UsageRecord.objects.filter(user__username=username)
    if status:
        records = records.filter(status=status)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not records.exists():
        time.sleep(0.1)


def test_a_caller_that_disconnects_mid_stream_is_recorded_as_such(live_server: Any, fake: FakeProvider) -> None:

    from gateway.models import UsageRecord

    _, token = user_with_key("leaver", openai_key("leave1"))
    fake.pause_after, fake.pause = 1, 1.0
    response = _stream(live_server, token)
    for line in response.iter_lines(chunk_size=1):
        if b'"content":"' in line and b'"content":""' not in line:
            break
    response.close()  # the caller goes away mid-answer
    _wait_for_record("leaver", "client_disconnected")
    assert UsageRecord.objects.filter(user__username="leaver", status="client_disconnected").count() == 1
    # The upstream call was cancelled too: the provider's next writes found the connection closed.
    deadline = time.monotonic() + 5
    while fake.streams_cut == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.streams_cut == 1


def test_two_hundred_concurrent_one_second_calls_are_all_open_at_once(settings: SettingsWrapper) -> None:
    """Open calls hold no thread: 200 callers whose provider answers after 1 s are all at the provider
    at the same time (a thread per call, as before, capped them at workers x threads), all answered and
    all recorded. The service runs as ``make serve-prod`` runs it, in its own processes. How fast is for
    the benchmarks (bench/bench_open_calls.py), not for a test."""
    import asyncio

    import httpx

    from gateway.models import UsageRecord
    from tests.live_servers import service_process

    with FakeProvider(delay=1.0) as fake:
        upstream = f"{fake.url}/v1"
        settings.BYOK_BASE_URL_OVERRIDES = {"openai": upstream}
        _, token = user_with_key("crowd", openai_key("crowd1"))
        environment = {"BYOK_OPENAI_BASE_URL": upstream, "BYOK_RATE_LIMIT_USER": "off", "BYOK_RATE_LIMIT_KEY": "off"}
        with service_process(environment) as service:

            async def crowd() -> list[int]:
                limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
                async with httpx.AsyncClient(base_url=service, limits=limits, timeout=60) as client:

                    async def call(index: int) -> int:
                        answer = await client.post(
                            "/v1/chat/completions",
                            json={
                                "model": "openai/gpt-4o-mini",
                                "messages": [{"role": "user", "content": f"n{index}"}],
                            },
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        return answer.status_code

                    return list(await asyncio.gather(*(call(index) for index in range(200))))

            statuses = asyncio.run(crowd())
    assert statuses == [200] * 200
    assert fake.peak_in_flight >= 150, fake.peak_in_flight
    assert UsageRecord.objects.filter(user__username="crowd", status="ok").count() == 200


def test_an_upstream_that_stops_sending_is_cut_at_the_idle_timeout(
    live_server: Any, fake: FakeProvider, settings: SettingsWrapper
) -> None:
    settings.BYOK_UPSTREAM_IDLE_TIMEOUT = 0.5
    _, token = user_with_key("idler", openai_key("idle01"))
    fake.pause_after, fake.pause = 1, 3.0
    started = time.monotonic()
    body = _stream(live_server, token).text
    assert time.monotonic() - started < 2.5
    assert '"content":"' in body and '"code":"upstream_timeout"' in body and "within 0.5 s" in body
    assert body.rstrip().endswith("data: [DONE]")
    _wait_for_record("idler", "upstream_timeout")


def test_a_provider_that_does_not_answer_in_time_is_a_504(
    live_server: Any, fake: FakeProvider, settings: SettingsWrapper
) -> None:
    settings.BYOK_UPSTREAM_FIRST_BYTE_TIMEOUT = 0.5
    _, token = user_with_key("waiter", openai_key("wait01"))
    fake.delay = 3.0
    started = time.monotonic()
    response = requests.post(
        f"{live_server.url}/v1/chat/completions",
        json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert time.monotonic() - started < 2.5
    assert response.status_code == 504 and response.json()["error"]["code"] == "upstream_timeout"
