"""No secret escapes: distinctive canary keys go through every way in (API add for a user and a group,
the admin's add form, a live check the provider refuses while echoing the key, inference and streaming
where the provider echoes the key whole, split, JSON-quoted, escaped or upper-cased, an exception
raised inside the provider call, the legacy import) and none of them, in any of its forms (whole,
upper/lower case, either half), appears in a response body or header, the service's log output at
DEBUG, an audit row, an admin page, or any row of any table.

Each test runs with DEBUG off and on; ``test_canary_under_real_settings`` runs the core of it in a
subprocess under the local (DEBUG) and production settings, reading what their log handlers write.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from common.masking import SecretMaskingFilter
from groups.models import AuditEvent, Organization, User
from providers.base import ProviderAdapter
from tests.factories import make_client, rendered_form

ROOT = Path(__file__).resolve().parent.parent.parent

# Shaped like the real thing (OpenAI's project keys carry T3BlbkFJ), and found nowhere else.
OPENAI_CANARY = "sk-proj-CANARY" + "Zq7Xw3Vb9Np2" * 3 + "T3BlbkFJ" + "Hm4Kt8Ry6Ld1" * 3
# A config provider's secret: no prefix, so only its value (not its shape) can give it away.
AZURE_CANARY = "CanaryAzureApiKey" + "Q9w8E7r6T5y4" * 3
AZURE_ENDPOINT = "https://canary-vault.openai.azure.com"
AZURE_CANARY_CONFIG = {
    "endpoint_url": AZURE_ENDPOINT,
    "api_key": AZURE_CANARY,
    "deployment_id": "gpt-4o-mini",
    "api_version": "2024-10-21",
}
CANARIES = (OPENAI_CANARY, AZURE_CANARY)

OPENAI_MODELS = "https://api.openai.com/v1/models"
OPENAI_CHAT = "https://api.openai.com/v1/chat/completions"
AZURE_ANY = re.compile(re.escape(AZURE_ENDPOINT) + r"/.*")


def secret_forms(secret: str) -> set[str]:
    """The forms a leak could take: whole, either half, each upper- and lower-cased (12+ characters)."""
    half = len(secret) // 2
    parts = (secret, secret[:half], secret[half:])
    return {form for part in parts for form in (part, part.upper(), part.lower()) if len(form) >= 12}


def find_leaks(text: str, secrets: tuple[str, ...] = CANARIES) -> list[str]:
    return sorted(form for secret in secrets for form in secret_forms(secret) if form in text)


# ---- What the provider answers: the key echoed in every shape ---------------------------------


def echo_bodies(secret: str) -> dict[str, tuple[str, str]]:
    """name -> (body text, content type) of an error answer that echoes ``secret``."""
    half = len(secret) // 2
    escaped = "".join(f"\\u{ord(char):04x}" for char in secret)
    return {
        "whole": (json.dumps({"error": {"message": f"Incorrect API key provided: {secret}."}}), "application/json"),
        "split": (
            json.dumps({"error": {"message": f"Key starts {secret[:half]} ... and ends {secret[half:]}"}}),
            "application/json",
        ),
        "json_quoted": (
            json.dumps({"error": {"message": "Rejected " + json.dumps({"api_key": secret, "ok": False})}}),
            "application/json",
        ),
        "json_escaped": ('{"error": {"message": "Bad key ' + escaped + '"}}', "application/json"),
        "upper_cased": (json.dumps({"error": {"message": f"INVALID KEY {secret.upper()}"}}), "application/json"),
        "plain_text": (f"Unauthorized: {secret} is not a valid key", "text/plain"),
    }


ECHOES = sorted(echo_bodies("x"))
ECHO_STATUSES = (400, 401, 403, 404, 429, 500)


# ---- The sinks ---------------------------------------------------------------------------------


class Watch:
    """Everything a person or an operator could see: answers as they come, then the log, the audit
    rows, the admin pages and every table."""

    def __init__(self, log: io.StringIO) -> None:
        self.log = log
        self.seen: list[str] = []

    def record(self, response: Any) -> Any:
        if getattr(response, "streaming", False):
            content = b"".join(response.streaming_content)
        else:
            content = response.content
        headers = "\n".join(f"{name}: {value}" for name, value in response.items())
        cookies = "\n".join(str(morsel) for morsel in response.cookies.values())
        self.seen.append(f"{response.status_code}\n{headers}\n{cookies}\n{content.decode(errors='replace')}")
        response.recorded_text = self.seen[-1]
        return response

    def call(self, client: Any, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        if body is None:
            return self.record(getattr(client, method)(path, **extra))
        return self.record(getattr(client, method)(path, body, format="json", **extra))

    def assert_clean(self, *, secrets: tuple[str, ...] = CANARIES) -> None:
        leaking = [text for text in self.seen if find_leaks(text, secrets)]
        assert leaking == [], "a response carried a secret"
        assert find_leaks(self.log.getvalue(), secrets) == [], "the log carried a secret"
        audit = "\n".join(repr(row) for row in AuditEvent.objects.values())
        assert find_leaks(audit, secrets) == [], "an audit row carried a secret"
        assert find_leaks(admin_pages(), secrets) == [], "an admin page carried a secret"
        dump = database_dump()
        assert "byok:v1:" in dump  # the dump does cover the sealed keys
        assert find_leaks(dump, secrets) == [], "a table carried a secret"


def database_dump() -> str:
    """Every row of every table (join tables included), every field as text."""
    return "\n".join(
        repr(row)
        for model in apps.get_models(include_auto_created=True)
        for row in model._default_manager.all().values()
    )


def admin_pages() -> str:
    """The changelist of every model in the admin, and the change pages of its latest rows (those the
    path under test wrote; every row of every table is in ``database_dump``)."""
    superuser = User.objects.filter(username="root").first() or User.objects.create_superuser(
        username="root", password="pw-root", email="root@example.com"
    )
    client = Client()
    client.force_login(superuser)
    pages = []
    for model, _ in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        changelist = client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert changelist.status_code == 200, info
        pages.append(changelist.content.decode())
        for pk in model._default_manager.order_by("-pk").values_list("pk", flat=True)[:5]:
            try:
                url = reverse("admin:{}_{}_change".format(*info), args=[pk])
            except NoReverseMatch:
                continue
            page = client.get(url)
            assert page.status_code == 200, (info, pk)
            pages.append(page.content.decode())
    return "\n".join(pages)


@pytest.fixture(params=[False, True], ids=["debug_off", "debug_on"])
def debug(request: pytest.FixtureRequest, settings: Any) -> bool:
    settings.DEBUG = request.param
    return bool(request.param)


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """What the service's log handler writes at DEBUG: a handler configured like ``console`` in
    ``config/settings/base.py`` (the masking filter, the same format) on the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.addFilter(SecretMaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def watch(debug: bool, service_log: io.StringIO, provider_mock: responses.RequestsMock) -> Watch:
    provider_mock.assert_all_requests_are_fired = False
    return Watch(service_log)


def answer_ok(mock: responses.RequestsMock) -> None:
    """Live checks succeed (models lists answer 200)."""
    mock.add(responses.GET, OPENAI_MODELS, json={"data": []})
    mock.add(responses.GET, AZURE_ANY, json={"data": []})


def completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-c",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.fixture
def stored(owner: User, member: User, group: Organization, watch: Watch, provider_mock: responses.RequestsMock) -> Any:
    """The canaries stored through the API: the owner's own OpenAI key, the group's Azure key."""
    answer_ok(provider_mock)
    api = make_client(owner)
    own = watch.call(api, "post", "/api/byok/keys/openai", {"apiKey": OPENAI_CANARY, "name": "canary"})
    assert own.status_code == 201, own.recorded_text
    shared = watch.call(api, "post", "/api/byok/groups/acme/keys/azure", {"apiKey": AZURE_CANARY_CONFIG})
    assert shared.status_code == 201, shared.recorded_text
    provider_mock.reset()
    return {"owner": api, "member": make_client(member)}


def read_everything(watch: Watch, api: APIClient) -> None:
    """Every read a member can make of the keys, their group and their use."""
    for path in (
        "/api/byok/keys",
        "/api/byok/groups",
        "/api/byok/groups/acme",
        "/api/byok/groups/acme/usage",
        "/api/byok/stats",
        "/api/byok/tokens",
        "/api/byok/resolve?provider=openai",
        "/api/byok/resolve?provider=azure",
        "/v1/models",
        "/api/byok/providers",
    ):
        watch.call(api, "get", path)


def reset_statuses() -> None:
    """An echoed 401 marks a key invalid (and then it is skipped): make both usable again."""
    ProviderKey.objects.update(status=ProviderKey.Status.VALID, invalid_checks=0)


# ---- The ways in -------------------------------------------------------------------------------


def test_keys_added_through_the_api_leak_nowhere(stored: Any, watch: Watch) -> None:
    read_everything(watch, stored["owner"])
    read_everything(watch, stored["member"])
    # The page a person uses is the same template for everyone: nothing of a key is rendered into it.
    page = Client()
    page.force_login(User.objects.get(username="olivia"))
    watch.record(page.get("/byok-interface.html"))
    watch.assert_clean()


def test_keys_added_through_the_admin_form_leak_nowhere(
    member: User, outsider: User, superuser: User, watch: Watch, provider_mock: responses.RequestsMock
) -> None:
    answer_ok(provider_mock)
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    add = reverse("admin:byok_keys_providerkey_add")
    form = rendered_form(client, add)
    form["provider"] = "openai"
    form["owner_user"] = outsider.username
    form["secret"] = OPENAI_CANARY
    watch.record(response := form.submit(client, "_save", follow=True))
    assert ProviderKey.objects.filter(user=outsider, provider="openai").exists(), response.recorded_text[:2000]
    form = rendered_form(client, add)
    form["provider"] = "azure"
    form["owner_user"] = member.username
    for name, value in AZURE_CANARY_CONFIG.items():
        form[f"azure__{name}"] = value
    watch.record(form.submit(client, "_save", follow=True))
    assert ProviderKey.objects.filter(user=member, provider="azure").exists()
    # A refused submission (the key's owner left out) renders the form again: without the secret.
    form = rendered_form(client, add)
    form["provider"] = "openai"
    form["secret"] = OPENAI_CANARY
    watch.record(refused := form.submit(client, "_save"))
    assert refused.status_code == 200
    watch.assert_clean()


def test_a_live_check_that_echoes_the_key_leaks_nowhere(
    owner: User, group: Organization, watch: Watch, provider_mock: responses.RequestsMock
) -> None:
    api = make_client(owner)
    for echo, status in itertools.product(ECHOES, (401, 403, 400)):
        provider_mock.reset()
        body, content_type = echo_bodies(OPENAI_CANARY)[echo]
        provider_mock.add(responses.GET, OPENAI_MODELS, body=body, status=status, content_type=content_type)
        body, content_type = echo_bodies(AZURE_CANARY)[echo]
        provider_mock.add(responses.GET, AZURE_ANY, body=body, status=status, content_type=content_type)
        watch.call(api, "post", "/api/byok/keys/openai", {"apiKey": OPENAI_CANARY})
        watch.call(api, "post", "/api/byok/keys/openai/test", {"apiKey": OPENAI_CANARY})
        watch.call(api, "post", "/api/byok/groups/acme/keys/azure", {"apiKey": AZURE_CANARY_CONFIG})
        watch.call(api, "post", "/api/byok/keys/azure/test", {"apiKey": AZURE_CANARY_CONFIG})
        assert len(provider_mock.calls) == 4
    ProviderKey.objects.all().delete()  # whatever was stored, the dump must still hold a sealed key
    answer_ok(provider_mock)
    assert watch.call(api, "post", "/api/byok/keys/openai", {"apiKey": OPENAI_CANARY}).status_code == 201
    watch.assert_clean()


def chat_calls(watch: Watch, stored: Any) -> None:
    """The owner's own OpenAI key and the member's use of the group's Azure key, through every gateway
    endpoint, streamed and not."""
    messages = [{"role": "user", "content": "hi"}]
    for client, provider in ((stored["owner"], "openai"), (stored["member"], "azure")):
        watch.call(client, "post", "/api/inference", {"provider": provider, "model": "gpt-4o-mini", "prompt": "hi"})
        reset_statuses()
        for stream in (False, True):
            body = {"model": f"{provider}/gpt-4o-mini", "messages": messages, "stream": stream}
            watch.call(client, "post", "/v1/chat/completions", body)
            reset_statuses()


def test_a_provider_error_that_echoes_the_key_leaks_nowhere(
    stored: Any, watch: Watch, provider_mock: responses.RequestsMock
) -> None:
    for echo, status in itertools.product(ECHOES, ECHO_STATUSES):
        provider_mock.reset()
        body, content_type = echo_bodies(OPENAI_CANARY)[echo]
        provider_mock.add(responses.POST, OPENAI_CHAT, body=body, status=status, content_type=content_type)
        body, content_type = echo_bodies(AZURE_CANARY)[echo]
        provider_mock.add(responses.POST, AZURE_ANY, body=body, status=status, content_type=content_type)
        chat_calls(watch, stored)
        assert len(provider_mock.calls) == 6
    assert all(text.startswith((*(str(s) for s in ECHO_STATUSES), "502", "504")) for text in watch.seen[2:])
    read_everything(watch, stored["owner"])
    watch.assert_clean()


def test_a_stream_that_echoes_the_key_in_an_error_event_leaks_nowhere(
    stored: Any, watch: Watch, provider_mock: responses.RequestsMock
) -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    for echo, (secret, url, client, model) in itertools.product(
        ECHOES,
        (
            (OPENAI_CANARY, OPENAI_CHAT, stored["owner"], "openai/gpt-4o-mini"),
            (AZURE_CANARY, AZURE_ANY, stored["member"], "azure/gpt-4o-mini"),
        ),
    ):
        message = json.loads(echo_bodies(secret)["whole"][0])["error"]["message"]
        if echo != "whole":
            body, _ = echo_bodies(secret)[echo]
            message = body  # the raw echo, whatever its shape, as the event's message
        event = {"error": {"message": message, "type": "server_error"}}
        provider_mock.reset()
        provider_mock.add(
            responses.POST,
            url,
            body=f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(event)}\n\ndata: [DONE]\n\n",
            content_type="text/event-stream",
        )
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
        streamed = watch.call(client, "post", "/v1/chat/completions", body)
        assert streamed.status_code == 200 and '"content":"Hel"' in streamed.recorded_text
        assert '"error"' in streamed.recorded_text
    watch.assert_clean()


def test_an_exception_inside_the_provider_call_leaks_nowhere(
    stored: Any, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_send(self: ProviderAdapter, outbound: Any, *, stream: bool = False) -> Any:
        raise RuntimeError(f"socket closed while sending {self.secret()} (headers: {outbound.headers})")

    monkeypatch.setattr(ProviderAdapter, "send_chat", broken_send)
    chat_calls(watch, stored)
    assert all(text.startswith("500") or '"error"' in text for text in watch.seen[2:])
    watch.assert_clean()


def test_an_exception_inside_a_live_check_leaks_nowhere(
    owner: User, group: Organization, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    from providers import http

    def broken_send(request: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"TLS failure for {request.url} with {request.headers}")

    monkeypatch.setattr(http, "send", broken_send)
    api = make_client(owner)
    watch.call(api, "post", "/api/byok/keys/openai", {"apiKey": OPENAI_CANARY})
    watch.call(api, "post", "/api/byok/keys/azure/test", {"apiKey": AZURE_CANARY_CONFIG})
    watch.call(api, "post", "/api/byok/groups/acme/keys/azure", {"apiKey": AZURE_CANARY_CONFIG})
    monkeypatch.undo()
    ProviderKey.objects.all().delete()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        answer_ok(mock)
        assert watch.call(api, "post", "/api/byok/keys/openai", {"apiKey": OPENAI_CANARY}).status_code == 201
    watch.assert_clean()


# ---- The legacy import ------------------------------------------------------------------------

LEGACY_KEY = "7e" * 8 + "0a1b2c3d4e5f60718293a4b5c6d7e8f9" + "fedcba9876543210" * 2


def legacy_encrypt(plaintext: str) -> str:
    """The Node service's ``encrypt``: AES-256-CBC, PKCS#7, ``<iv hex>:<ciphertext hex>``."""
    key, iv = bytes.fromhex(LEGACY_KEY)[:32], os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv.hex() + ":" + (encryptor.update(data) + encryptor.finalize()).hex()


def legacy_store(path: Path) -> Path:
    """A store as the Node service wrote it: lena's OpenAI key, the group ``canaries``' Azure key."""
    added = "2024-01-02T03:04:05.000Z"
    user_key_id, group_key_id = "byok_lena_openai_1704164645000", "byok_group_canaries_azure_1704164646000"
    data = {
        "userKeys": {
            "lena": {
                "openai": {
                    "keyId": user_key_id,
                    "encryptedKey": legacy_encrypt(OPENAI_CANARY),
                    "addedAt": added,
                    "lastUsed": None,
                    "usageCount": 3,
                }
            }
        },
        "groupKeys": {
            "canaries": {
                "azure": {
                    "keyId": group_key_id,
                    "encryptedKey": legacy_encrypt(json.dumps(AZURE_CANARY_CONFIG, separators=(",", ":"))),
                    "addedAt": added,
                    "lastUsed": None,
                    "usageCount": 1,
                    "sharedBy": "lena",
                }
            }
        },
        "keyMetadata": {
            user_key_id: {"userId": "lena", "provider": "openai", "type": "user", "name": "Lena", "addedAt": added},
            group_key_id: {
                "groupId": "canaries",
                "provider": "azure",
                "type": "group",
                "name": "Shared",
                "sharedBy": "lena",
                "addedAt": added,
                "allowedUsers": "all",
            },
        },
        "accessControl": {"canaries": ["lena"]},
        "lastUpdated": added,
    }
    path.write_text(json.dumps(data, indent=2))
    return path


def test_the_legacy_import_leaks_nowhere(tmp_path: Path, watch: Watch, db: Any) -> None:
    store = legacy_store(tmp_path / "byok-keys.json")
    outputs = []
    for extra in (["--dry-run"], []):
        out, err = io.StringIO(), io.StringIO()
        call_command("byok_import_legacy", str(store), "--legacy-key", LEGACY_KEY, *extra, stdout=out, stderr=err)
        outputs.append(out.getvalue() + err.getvalue())
    assert ProviderKey.objects.count() == 2, outputs
    # A wrong legacy key stops it naming the record, and says nothing of either key.
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(Exception) as failed:
        call_command("byok_import_legacy", str(store), "--legacy-key", "11" * 32, stdout=out, stderr=err)
    outputs.append(out.getvalue() + err.getvalue() + str(failed.value))
    watch.seen.extend(outputs)
    read_everything(watch, make_client(User.objects.get(username="lena")))
    watch.assert_clean(secrets=(*CANARIES, LEGACY_KEY[:64]))


# ---- Under the real settings, in a process of their own --------------------------------------


@pytest.mark.parametrize("settings_module", ["config.settings.production", "config.settings.local"])
def test_canary_under_real_settings(settings_module: str, tmp_path: Path) -> None:
    """Migrate, store both canaries through the API, let the provider echo them on a live check and
    on chat (streamed too), and raise one inside the provider call; then the answers, every table and
    what the configured log handlers wrote (stderr, at DEBUG) hold no canary."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BYOK_", "DJANGO_", "DATABASE_", "REDIS_"))}
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_SECRET_KEY": "canary-run-" + "s" * 50,
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "BYOK_ENCRYPTION_KEY": "ab" * 32,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",
        "CANARY_OPENAI": OPENAI_CANARY,
        "CANARY_AZURE": json.dumps(AZURE_CANARY_CONFIG),
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.proof.canary_run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "CANARY RUN COMPLETE" in result.stdout
    assert "byok.providers.http" in result.stderr and "ERROR" in result.stderr  # the handlers did write
    assert find_leaks(result.stdout) == [], "an answer or a table carried a secret"
    assert find_leaks(result.stderr) == [], "the log carried a secret"
