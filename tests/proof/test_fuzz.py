"""The API against its own OpenAPI schema (``/api/schema/``), fuzzed with schemathesis: for generated
valid and invalid input, no answer is a 5xx, every answer is documented (status, content type, body
shape), and input the schema allows is accepted wherever acceptance depends on the input alone.

(Input the schema rules out is not asserted to be refused: DRF's ``CharField`` takes a number for a
string, e.g. ``{"name": 0}``, and that coercion is harmless.)

Bounded for CI: ``FUZZ_EXAMPLES`` examples per operation and generation mode (derandomized, so a run is
reproducible); set the environment variable ``FUZZ_EXAMPLES`` to search harder locally.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import responses
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.factories import OPENAI_CHAT_URL, OPENAI_KEY, create_user, join_group, make_client, store_group_key
from tests.factories import store_user_key as store_key

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# No NUL characters in generated strings: the server refuses one anywhere in a request (400; PostgreSQL
# cannot store them), a rule JSON Schema cannot state for every string of a body.
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], allow_x00=False)

# Operations where a request the schema allows may still rightly be refused with a 400, for a reason the
# schema cannot state: a key's format is each provider's own (checked against the registry's patterns,
# then live), and whether a key resolves for the caller depends on the stored keys and memberships.
INPUT_ALONE_DOES_NOT_DECIDE = {
    ("POST", "/api/byok/keys/{provider}"): "each provider's own key format",
    ("POST", "/api/byok/keys/{provider}/test"): "each provider's own key format",
    ("POST", "/api/byok/groups/{group_id}/keys/{provider}"): "key format; allowedUsers must be members",
    ("PATCH", "/api/byok/groups/{group_id}/keys/{provider}"): "allowedUsers must be accepted members",
    ("POST", "/api/byok/groups/{group_id}/keys/{provider}/test"): "each provider's own key format",
    ("POST", "/api/byok/tokens"): "expiresAt must be in the future",
    ("GET", "/api/byok/resolve"): "whether the caller has a key for the provider",
    ("POST", "/api/inference"): "whether the caller has a key; messages' roles and content",
    ("POST", "/v1/chat/completions"): "whether the caller has a key; messages' roles and content",
}

# What the fuzzing user owns, so generated paths also reach real objects (filled by the fixture).
REAL: dict[str, str] = {"provider": "openai", "group_id": "acme", "user_id": "mia", "token_id": ""}


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Half the time, the generated path names the caller's real group, member, key or token."""
    if not path_parameters:
        return st.just(path_parameters)
    real = {name: REAL[name] for name in path_parameters if REAL.get(name)}
    return st.sampled_from([path_parameters, {**path_parameters, **real}])


@pytest.fixture
def caller(db: Any, settings: Any, provider_mock: responses.RequestsMock) -> Iterator[str]:
    """A token of a user who owns group acme (with a member and a key) and a key of their own. The
    schema is fuzzed through the WSGI app in this thread, so Django must not close the test's
    database connection when each request finishes (the test client does the same)."""
    settings.BYOK_RATE_LIMIT_USER = "off"
    settings.BYOK_RATE_LIMIT_KEY = "off"
    provider_mock.assert_all_requests_are_fired = False
    provider_mock.add(
        responses.POST,
        OPENAI_CHAT_URL,
        json={
            "id": "chatcmpl-f",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
    )
    from groups.services import group_create

    owner = create_user("fuzzer")
    group = group_create(actor=owner, slug="acme", name="Acme")
    join_group(owner=owner, group=group, user=create_user("mia"))
    store_key(owner, raw=OPENAI_KEY)
    store_group_key(owner, group, raw=OPENAI_KEY)
    client = make_client(owner)
    spare = make_client(owner)  # a token the fuzzer may revoke without losing its own
    REAL["token_id"] = spare.token.split(".")[0]
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield client.token
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_matches_its_schema(case: Any, caller: str) -> None:
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    if (case.method.upper(), case.path) not in INPUT_ALONE_DOES_NOT_DECIDE:
        checks.append(positive_data_acceptance)
    case.call_and_validate(headers={"Authorization": f"Bearer {caller}"}, checks=checks)
