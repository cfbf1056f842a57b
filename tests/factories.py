"""Shared example keys, provider URLs and factory helpers for the tests.

Test modules import from here, never from each other or from ``conftest`` (which holds fixtures only).
Provider-specific fakes for ``tests/providers`` live in that directory.
"""

from __future__ import annotations

import os
from html.parser import HTMLParser
from typing import Any

import pytest
import redis
from django.test import Client
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from byok_keys.services import KeyOwner, api_token_create, provider_key_set
from byok_keys.usage import with_usage
from groups.models import Membership, Organization, User
from groups.services import membership_accept, membership_set

# ---- Example keys: real-shaped and distinctive, never valid anywhere -------------------------------
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2 + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0" * 2
ANTHROPIC_KEY = "sk-ant-api03-" + ("Zq9" * 31) + "AA"
GROQ_KEY = "gsk_" + "Q" * 20 + "w" * 20 + "1" * 12
MISTRAL_KEY = "Zx9" * 11  # no prefix: the generic log filter cannot recognise it
# Azure OpenAI: a config provider, so one input per field in the admin; only ``api_key`` is secret.
AZURE_ENDPOINT_URL = "https://acme-vault.openai.azure.com"
AZURE_CONFIG = {
    "endpoint_url": AZURE_ENDPOINT_URL,
    "api_key": "0f1e2d3c4b5a6978" + "8796a5b4c3d2e1f0",
    "deployment_id": "gpt-4o-mini",
    "api_version": "2024-10-21",
}
# An OpenAI key served from the environment (OPENAI_API_KEY) when system keys are allowed.
SYSTEM_OPENAI_KEY = "sk-proj-" + "SystemKey000" * 4 + "T3BlbkFJ" + "x" * 20

# ---- Provider endpoints the mocked calls go to -------------------------------------------------
OPENAI_MODELS_URL = "https://api.openai.com/v1/models"
OPENAI_CHAT_URL = "https://api.openai.com/v1/chat/completions"
GROQ_MODELS_URL = "https://api.groq.com/openai/v1/models"
MISTRAL_MODELS_URL = "https://api.mistral.ai/v1/models"
MISTRAL_CHAT_URL = "https://api.mistral.ai/v1/chat/completions"
AZURE_MODELS_URL = f"{AZURE_ENDPOINT_URL}/openai/models?api-version=2024-10-21"

# ---- DNS without a network (used by the ``fake_dns`` fixture) -----------------------------------
# Host names the tests resolve without a network; anything else resolves to a public address.
FAKE_DNS: dict[str, str] = {"internal.example.com": "10.1.2.3", "metadata.example.com": "169.254.169.254"}
PUBLIC_TEST_ADDRESS = "52.1.2.3"


# ---- Factories --------------------------------------------------------------------------------
def create_user(username: str, **extra: Any) -> User:
    """A user whose password is ``pw-<username>``."""
    return User.objects.create_user(username=username, password="pw-" + username, **extra)


def make_client(user: User) -> APIClient:
    """An API client authenticated with a fresh API token of ``user`` (kept as ``client.token``)."""
    _, token = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.token = token  # type: ignore[attr-defined]
    return client


def join_group(*, owner: User, group: Organization, user: User, role: str = Membership.Role.MEMBER) -> User:
    """``owner`` adds ``user`` to ``group`` and ``user`` accepts; returns the user fresh from the database."""
    membership_set(actor=owner, org=group, username=user.username, role=role)
    membership_accept(user=user, org=group)
    return User.objects.get(pk=user.pk)


def store_user_key(user: User, provider: str = "openai", raw: Any = OPENAI_KEY, **extra: Any) -> ProviderKey:
    """``user`` stores their own key through the service (validation goes through the provider mock)."""
    return provider_key_set(actor=user, owner=KeyOwner(user=user), provider=provider, raw=raw, **extra).key


def shown_key(**lookup: Any) -> ProviderKey:
    """A key as the API shows it: with ``current_usage_count`` and ``current_last_used_at`` (what was
    rolled up onto it plus the usage ledger's tail)."""
    return with_usage([ProviderKey.objects.get(**lookup)])[0]


def store_group_key(
    actor: User, group: Organization, provider: str = "openai", raw: Any = OPENAI_KEY, **extra: Any
) -> ProviderKey:
    """``actor`` stores a key for ``group`` through the service."""
    return provider_key_set(actor=actor, owner=KeyOwner(organization=group), provider=provider, raw=raw, **extra).key


def put_group_key(client: APIClient, body: dict[str, Any], provider: str = "openai", group: str = "acme") -> Any:
    """Store a group key through the API (``POST /api/byok/groups/<group>/keys/<provider>``)."""
    return client.post(f"/api/byok/groups/{group}/keys/{provider}", body, format="json")


# ---- Forms as the browser submits them ------------------------------------------------------
# Admin and sign-in tests GET a page, let the test change a few values, and POST back what a browser
# would send: every successful control with the value the page rendered. Hand-built POST data hides
# bugs where the rendered value does not round-trip (a user id shown where a username is expected).
_TEXT_INPUTS = {"", "text", "hidden", "password", "email", "url", "number", "search", "tel", "date", "time"}


class RenderedForm:
    """One ``<form>`` of a page: its controls in document order, as a browser would submit them."""

    def __init__(self, *, url: str, action: str, method: str, form_id: str) -> None:
        self.url = url
        self.action = action or url
        self.method = method or "get"
        self.id = form_id
        # name -> values a submission sends now (several for a multiple select or repeated names).
        self.values: dict[str, list[str]] = {}
        # Names whose control is a <select>: name -> the option values it offers.
        self.options: dict[str, list[str]] = {}
        # Checkboxes and radios: name -> the values they would send when checked.
        self.checkables: dict[str, list[str]] = {}
        # Submit buttons: name -> value (only the one clicked is sent).
        self.buttons: dict[str, str] = {}
        # Controls a browser would not send (disabled): kept to tell them apart from missing names.
        self.disabled: set[str] = set()
        # What each text control shows as rendered, disabled ones included: name -> its value attribute.
        self.shown: dict[str, str] = {}

    def names(self) -> list[str]:
        return list(self.values)

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self.checkables

    def __getitem__(self, name: str) -> str:
        """The one value ``name`` sends (a KeyError when the page has no such enabled control)."""
        values = self.values[name]
        return values[0] if values else ""

    def __setitem__(self, name: str, value: str) -> None:
        """Type ``value`` into a text control or choose it in a select (which must offer it)."""
        if name in self.disabled:
            raise AssertionError(f"{name} is disabled on the page: a browser cannot change or send it")
        if name not in self.values:
            raise AssertionError(f"the form has no control named {name!r}; it has: {', '.join(self.values)}")
        if name in self.options and value not in self.options[name]:
            raise AssertionError(f"{name} offers no option {value!r}; it offers {self.options[name]}")
        self.values[name] = [value]

    def check(self, name: str, checked: bool = True, *, value: str | None = None) -> None:
        """Tick (or untick) the checkbox ``name`` (the one with ``value`` where several share the name)."""
        offered = self.checkables.get(name)
        if not offered:
            raise AssertionError(f"the form has no checkbox named {name!r}")
        value = offered[0] if value is None else value
        if value not in offered:
            raise AssertionError(f"no checkbox {name!r} has the value {value!r}; they have {offered}")
        sent = [v for v in self.values.get(name, []) if v != value] + ([value] if checked else [])
        if sent:
            self.values[name] = sent
        else:
            self.values.pop(name, None)

    def data(self, button: str | None = None) -> dict[str, list[str]]:
        data = {name: list(values) for name, values in self.values.items()}
        if button is not None:
            if button not in self.buttons:
                raise AssertionError(f"the form has no submit button named {button!r}")
            data[button] = [self.buttons[button]]
        return data

    def submit(self, client: Client, button: str | None = None, **extra: Any) -> Any:
        """Send the form with ``client`` (to its action, by its method), clicking ``button`` if named."""
        if self.method.lower() == "post":
            return client.post(self.action, self.data(button), **extra)
        return client.get(self.action, self.data(button), **extra)


class _FormParser(HTMLParser):
    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.forms: list[RenderedForm] = []
        self._form: RenderedForm | None = None
        self._select: tuple[str, bool, bool] | None = None  # name, multiple, disabled
        self._select_options: list[tuple[str, bool]] = []
        self._option: dict[str, str | None] | None = None
        self._option_text = ""
        self._textarea: tuple[str, bool] | None = None
        self._textarea_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._form = RenderedForm(
                url=self.url, action=a.get("action") or "", method=a.get("method") or "get", form_id=a.get("id") or ""
            )
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = a.get("name")
        disabled = "disabled" in a
        if tag == "input" and name:
            kind = (a.get("type") or "").lower()
            value = a.get("value") or ""
            if kind in _TEXT_INPUTS:
                form.shown.setdefault(name, value)
            if disabled:
                form.disabled.add(name)
            elif kind in ("submit", "button", "image"):
                form.buttons.setdefault(name, value)
            elif kind in ("checkbox", "radio"):
                form.checkables.setdefault(name, []).append(a.get("value") or "on")
                if "checked" in a:
                    form.values.setdefault(name, []).append(a.get("value") or "on")
            elif kind in _TEXT_INPUTS:
                form.values.setdefault(name, []).append(value)
        elif tag == "button" and name and not disabled and (a.get("type") or "submit") == "submit":
            form.buttons.setdefault(name, a.get("value") or "")
        elif tag == "select" and name:
            self._select = (name, "multiple" in a, disabled)
            self._select_options = []
        elif tag == "option" and self._select is not None:
            self._option = a
            self._option_text = ""
        elif tag == "textarea" and name:
            self._textarea = (name, disabled)
            self._textarea_text = ""

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option_text += data
        if self._textarea is not None:
            self._textarea_text += data

    def _close_option(self) -> None:
        if self._option is not None:
            value = self._option.get("value")
            self._select_options.append(
                (self._option_text.strip() if value is None else value, "selected" in self._option)
            )
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if tag == "option":
            self._close_option()
        elif tag == "select" and self._select is not None and form is not None:
            self._close_option()
            name, multiple, disabled = self._select
            options = [value for value, _ in self._select_options]
            chosen = [value for value, selected in self._select_options if selected]
            if not multiple and not chosen and options:
                chosen = options[:1]  # a single select sends its first option when none is selected
            if disabled:
                form.disabled.add(name)
            else:
                form.options[name] = options
                form.values.setdefault(name, []).extend(chosen if multiple else chosen[-1:])
            self._select = None
        elif tag == "textarea" and self._textarea is not None and form is not None:
            name, disabled = self._textarea
            text = self._textarea_text[1:] if self._textarea_text.startswith("\n") else self._textarea_text
            if disabled:
                form.disabled.add(name)
            else:
                form.values.setdefault(name, []).append(text)
            self._textarea = None
        elif tag == "form":
            self._form = None


def rendered_form(client: Client, url: str, *, form_id: str | None = None) -> RenderedForm:
    """GET ``url`` with ``client`` and return its form ``form_id`` (default: the one with most controls),
    ready to be changed and submitted back."""
    response = client.get(url)
    assert response.status_code == 200, f"GET {url} answered {response.status_code}"
    parser = _FormParser(url)
    parser.feed(response.content.decode())
    parser.close()
    forms = parser.forms
    if form_id is not None:
        forms = [form for form in forms if form.id == form_id]
        assert forms, f"{url} has no form with id {form_id!r}"
    assert forms, f"{url} has no form"
    return max(forms, key=lambda form: len(form.values) + len(form.checkables))


def run_admin_action(client: Client, changelist_url: str, action: str, objects: list[Any]) -> Any:
    """On an admin list page, tick ``objects``, choose ``action`` and press "Go", as a person would."""
    form = rendered_form(client, changelist_url, form_id="changelist-form")
    form["action"] = action
    for obj in objects:
        form.check("_selected_action", value=str(obj.pk))
    return form.submit(client, "index")


# ---- Redis ----------------------------------------------------------------------------------------
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)


def require_redis() -> str:
    """TEST_REDIS_URL, once Redis answers there. Skips when it does not, with how to run the test; under
    CI (``CI=true``) fails instead."""
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = (
            f"Redis is not reachable at {TEST_REDIS_URL} ({exc}). To run this test, start Redis at TEST_REDIS_URL "
            f"(default {DEFAULT_REDIS_URL}, e.g. `redis-server --port 6379`)."
        )
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(message + " CI=true: Redis is required.")
        pytest.skip(message)
    return TEST_REDIS_URL
