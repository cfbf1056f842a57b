"""The core of the no-leak proof, run by ``test_no_leak.test_canary_under_real_settings`` in a process of
its own under real settings (``DJANGO_SETTINGS_MODULE``): the logging configured there writes to
stderr; this prints every answer and every table to stdout. The canaries come in ``CANARY_OPENAI`` and
``CANARY_AZURE`` (a JSON object of Azure's fields). No network: provider calls are answered by
``responses`` and names resolve to a public test address."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from typing import Any

import django


def main() -> None:
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host) in ("localhost", "127.0.0.1", "testserver"):
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("52.1.2.3", port or 443))]

    socket.getaddrinfo = fake_getaddrinfo  # type: ignore[assignment]
    django.setup()

    import responses
    from django.apps import apps
    from django.core.management import call_command
    from django.test import Client

    from byok_keys.services import api_token_create
    from groups.services import group_create
    from providers.base import ProviderAdapter
    from tests.factories import create_user, join_group

    openai_key = os.environ["CANARY_OPENAI"]
    azure = json.loads(os.environ["CANARY_AZURE"])
    azure_any = re.compile(re.escape(azure["endpoint_url"]) + r"/.*")
    openai_models, openai_chat = "https://api.openai.com/v1/models", "https://api.openai.com/v1/chat/completions"

    call_command("migrate", verbosity=0, interactive=False)
    owner, member = create_user("olivia"), create_user("mia")
    group = group_create(actor=owner, slug="acme", name="Acme")
    join_group(owner=owner, group=group, user=member)
    clients = {}
    for user in (owner, member):
        _, token = api_token_create(user=user, name="canary")
        clients[user.username] = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def show(label: str, response: Any) -> None:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        headers = "; ".join(f"{k}: {v}" for k, v in response.items())
        print(f"== {label}: {response.status_code}\n{headers}\n{content.decode(errors='replace')}")

    def post(who: str, path: str, body: dict[str, Any]) -> Any:
        return clients[who].post(path, json.dumps(body), content_type="application/json")

    def echo(secret: str) -> str:
        half = len(secret) // 2
        return json.dumps(
            {"error": {"message": f"bad key {secret} / {secret[:half]} {secret[half:]} / {secret.upper()}"}}
        )

    chat = {"messages": [{"role": "user", "content": "hi"}]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        # Refused live checks that echo the key, then the keys stored.
        mock.add(responses.GET, openai_models, body=echo(openai_key), status=401, content_type="application/json")
        mock.add(responses.GET, azure_any, body=echo(azure["api_key"]), status=401, content_type="application/json")
        show("refused own key", post("olivia", "/api/byok/keys/openai", {"apiKey": openai_key}))
        show("refused group key", post("olivia", "/api/byok/groups/acme/keys/azure", {"apiKey": azure}))
        mock.reset()
        mock.add(responses.GET, openai_models, json={"data": []})
        mock.add(responses.GET, azure_any, json={"data": []})
        show("own key", post("olivia", "/api/byok/keys/openai", {"apiKey": openai_key}))
        show("group key", post("olivia", "/api/byok/groups/acme/keys/azure", {"apiKey": azure}))
        # Chat answers that echo the key, plain and streamed.
        for status in (400, 401, 500):
            mock.reset()
            mock.add(responses.POST, openai_chat, body=echo(openai_key), status=status)
            mock.add(responses.POST, azure_any, body=echo(azure["api_key"]), status=status)
            for who, provider in (("olivia", "openai"), ("mia", "azure")):
                inference = {"provider": provider, "model": "m", "prompt": "x"}
                show(f"{status} inference", post(who, "/api/inference", inference))
                for stream in (False, True):
                    body = {**chat, "model": f"{provider}/m", "stream": stream}
                    show(f"{status} chat stream={stream}", post(who, "/v1/chat/completions", body))
            from byok_keys.models import ProviderKey

            ProviderKey.objects.update(status="valid", invalid_checks=0)
        # An exception raised inside the provider call, carrying the key.
        original = ProviderAdapter.send_chat

        def broken(self: ProviderAdapter, outbound: Any, *, stream: bool = False) -> Any:
            raise RuntimeError(f"connection reset while sending {self.secret()} ({outbound.headers})")

        ProviderAdapter.send_chat = broken  # type: ignore[method-assign]
        for who, provider in (("olivia", "openai"), ("mia", "azure")):
            show("exception", post(who, "/api/inference", {"provider": provider, "model": "m", "prompt": "x"}))
        ProviderAdapter.send_chat = original  # type: ignore[method-assign]
    for path in ("/api/byok/keys", "/api/byok/groups/acme", "/api/byok/stats"):
        show(path, clients["olivia"].get(path))
    print("== tables")
    for model in apps.get_models(include_auto_created=True):
        for row in model._default_manager.all().values():
            print(model._meta.label, repr(row))
    print("CANARY RUN COMPLETE")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
