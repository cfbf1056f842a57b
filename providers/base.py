"""What every provider adapter declares, and the credential format checks they share.

An adapter class carries its provider's facts as a frozen ``ProviderSpec`` (class attribute), key shapes
included. An adapter *instance* is made for one call with the decrypted credential and is thrown away
after it: no shared object ever holds a key (the legacy Node.js system swapped keys on a shared loader
and leaked them between concurrent requests).

An adapter overrides the hooks where its provider differs: ``check_key_kind`` (kinds of key that cannot
chat), ``validation_request``, ``read_answer`` (its rows of the one verdict, ``providers.verdict``),
``chat`` and ``stream_chat``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import requests

from common.masking import redact_values
from providers import chat, http
from providers.chat import ChatChunk, ChatRequest, ChatResult, UpstreamBadRequest
from providers.http import OutboundRequest, ProviderHTTPError
from providers.settings import base_url_env_var, effective_base_url
from providers.verdict import Verdict, cross_provider_verdict


class ProviderCallFailed(Exception):
    """An unexpected error inside a provider call, its text scrubbed of the call's secrets."""


# A credential is the provider's key as a string, or for providers with config fields a dict of
# field name -> string value.
Credential = str | dict[str, str]

LOOSE_KEY_PATTERN = r"^\S{16,512}$"


class FieldKind(StrEnum):
    SECRET = "secret"
    URL = "url"
    TEXT = "text"
    REGION = "region"


class ProviderStatus(StrEnum):
    ACTIVE = "active"
    LEGACY = "legacy"
    DISCONTINUED = "discontinued"


class AuthStyle(StrEnum):
    BEARER = "bearer"
    X_API_KEY = "x-api-key"
    API_KEY_HEADER = "api-key"
    GOOGLE = "x-goog-api-key"
    AWS = "aws-sigv4-or-bearer"
    NONE = "none"


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    kind: FieldKind
    required: bool = True
    pattern: str | None = None
    hint: str = ""


@dataclass(frozen=True)
class KeySignature:
    """A key shape that unmistakably belongs to one provider: such a key given for another provider is
    refused naming its own (``wrong_key_kind``).

    Prefix routing is ambiguous (several providers use ``sk-``, several use no prefix at all), so the
    provider the user chose always wins and a signature only names a key when its shape is unmistakable.
    Signatures of different providers never match the same key (tests/providers/test_key_shapes.py), so
    the order they are tried in does not matter.
    """

    # Completes "This looks like ...".
    description: str
    # Matched at the start of the key.
    pattern: re.Pattern[str]
    # Completes "choose ... as the provider" where the spec's name is not the best words for it.
    provider_name: str = ""


@dataclass(frozen=True)
class ProviderSpec:
    id: str
    name: str
    base_url: str
    auth_style: AuthStyle
    docs_url: str
    # Lenient regex for the key (for config providers: for the field named by ``secret_field``).
    key_pattern: str | None
    # A sentence a person can act on: "Anthropic keys start with sk-ant-api03-".
    key_hint: str
    # Environment variable holding the operator's system key (for config providers: the secret).
    env_var: str | None
    # Key shapes only this provider issues (the wrong-kind check of every other provider refuses them).
    key_signatures: tuple[KeySignature, ...] = ()
    # Literal prefixes of this provider's secrets: log masking hides a key starting with one wherever it
    # appears (``providers.apps`` registers them with ``common.masking``). A provider whose keys have no
    # prefix relies on masking by header name and on ``ProviderAdapter.redact``.
    mask_prefixes: tuple[str, ...] = ()
    config_fields: tuple[ConfigField, ...] = ()
    # Config providers: which field is the secret whose last four characters are shown.
    secret_field: str | None = None
    # Config providers: field name -> environment variable for the system credential.
    env_config: tuple[tuple[str, str], ...] = ()
    status: ProviderStatus = ProviderStatus.ACTIVE
    status_date: str | None = None
    status_note: str = ""
    # Only a billed call can check the key (Perplexity, Inflection).
    validation_billed: bool = False
    example_models: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requires_config(self) -> bool:
        return bool(self.config_fields)

    @property
    def env_base_url_var(self) -> str:
        return base_url_env_var(self.id)


class CredentialFormatError(ValueError):
    """A credential that is refused before any network call. ``code`` is stable for API clients."""

    def __init__(self, message: str, *, code: str = "invalid_key_format", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


# No provider issues a secret (or config value) this long; longer values are not stored or forwarded
# as a header (an AWS session token, the longest credential here, stays well under it).
MAX_CREDENTIAL_FIELD_CHARS = 4096


def clean_key_string(value: object, *, what: str) -> str:
    """Trim surrounding whitespace (pasted keys often end in a newline) and refuse inner whitespace."""
    if not isinstance(value, str):
        raise CredentialFormatError(f"{what} must be a string.", code="invalid_key_format")
    if len(value) > MAX_CREDENTIAL_FIELD_CHARS + 64:  # trailing whitespace aside
        raise CredentialFormatError(
            f"{what} is {len(value)} characters long; no provider issues keys longer than "
            f"{MAX_CREDENTIAL_FIELD_CHARS}. Check what was pasted.",
            code="key_too_long",
        )
    cleaned = value.strip()
    if len(cleaned) > MAX_CREDENTIAL_FIELD_CHARS:
        raise CredentialFormatError(
            f"{what} is {len(cleaned)} characters long; no provider issues keys longer than "
            f"{MAX_CREDENTIAL_FIELD_CHARS}. Check what was pasted.",
            code="key_too_long",
        )
    if not cleaned:
        raise CredentialFormatError(f"{what} is empty.", code="missing_api_key")
    if re.search(r"\s", cleaned):
        raise CredentialFormatError(
            f"{what} contains whitespace inside it; paste the key again without spaces or line breaks.",
            code="invalid_key_format",
        )
    return cleaned


def check_ascii_secret(value: str, *, what: str) -> str:
    """Keys are plain ASCII; a typographic dash or quote from a document would fail in the HTTP header
    later (and a masked "…" value is not a key)."""
    if not (value.isascii() and value.isprintable()):
        raise CredentialFormatError(
            f"{what} looks like a masked value; send the full key."
            if looks_masked(value)
            else f"{what} contains characters that are not plain ASCII (e.g. a typographic dash or quote); "
            "copy the key again from the provider's console.",
            code="invalid_key_format",
        )
    return value


def looks_masked(value: str) -> bool:
    """A masked value sent back by a client ("sk-...abcd", "••••1234") is never stored as a key."""
    return "…" in value or "..." in value or "•" in value or "****" in value


WRONG_KEY_KIND = "wrong_key_kind"

# Every registered provider's key signatures, filled by ``providers.registry`` when it is imported: the
# registry sits above the adapters, so the wrong-kind check cannot import it.
_registered_signatures: list[tuple[ProviderSpec, KeySignature]] = []


def register_key_signatures(specs: Iterable[ProviderSpec]) -> None:
    """Make ``specs``' key signatures the ones the wrong-kind check knows."""
    _registered_signatures[:] = [(spec, signature) for spec in specs for signature in spec.key_signatures]


def foreign_signature(key: str, *, provider_id: str) -> tuple[ProviderSpec, KeySignature] | None:
    """The provider (and signature) other than ``provider_id`` that ``key`` unmistakably belongs to."""
    for spec, signature in _registered_signatures:
        if signature.pattern.match(key):
            return None if spec.id == provider_id else (spec, signature)
    return None


class ProviderAdapter:
    """Base adapter. Subclasses set ``spec`` and override hooks where their provider differs."""

    spec: ClassVar[ProviderSpec]

    def __init__(self, credential: Credential) -> None:
        self.credential = credential

    def __repr__(self) -> str:  # never show the credential
        return f"<{type(self).__name__} provider={self.spec.id}>"

    # ---- format checks -------------------------------------------------------------------
    @classmethod
    def parse_credential(cls, raw: object) -> Credential:
        """Normalise and check what a client sent as ``apiKey``. Raises ``CredentialFormatError``."""
        spec = cls.spec
        if spec.status is ProviderStatus.DISCONTINUED:
            raise CredentialFormatError(
                f"{spec.name} was discontinued on {spec.status_date}: {spec.status_note} "
                "New keys for it are not accepted.",
                code="provider_discontinued",
            )
        if spec.requires_config:
            return cls.parse_config(cls.coerce_config(raw))
        return cls.check_key(check_ascii_secret(clean_key_string(raw, what="apiKey"), what="apiKey"))

    @classmethod
    def check_key(cls, key: str) -> str:
        """Check a string key: not another provider's (``wrong_key_kind``), then the provider's pattern."""
        if looks_masked(key):
            raise CredentialFormatError(
                "apiKey looks like a masked value (it contains '...', '…' or '•'); send the full key.",
                code="invalid_key_format",
            )
        cls.check_key_kind(key)
        pattern = cls.spec.key_pattern or LOOSE_KEY_PATTERN
        if not re.fullmatch(pattern, key):
            raise CredentialFormatError(
                f"This does not look like a key for {cls.spec.name}. {cls.spec.key_hint}".strip(),
                code="invalid_key_format",
            )
        return key

    @classmethod
    def coerce_config(cls, raw: object) -> dict[str, object]:
        """A config provider takes an object, or that object as a JSON string."""
        names = ", ".join(f.name for f in cls.spec.config_fields)
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise CredentialFormatError(
                    f"{cls.spec.name} needs an object with the fields {names} "
                    "(as a JSON object, or that object as a JSON string).",
                    code="invalid_config",
                ) from None
        if not isinstance(raw, dict):
            raise CredentialFormatError(
                f"{cls.spec.name} needs an object with the fields {names}.", code="invalid_config"
            )
        return raw

    @classmethod
    def parse_config(cls, raw: dict[str, object]) -> dict[str, str]:
        """Check every declared field; unknown fields are refused so typos are noticed."""
        known = {f.name for f in cls.spec.config_fields}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise CredentialFormatError(
                f"Unknown field(s) for {cls.spec.name}: {', '.join(unknown)}. Expected: {', '.join(sorted(known))}.",
                code="invalid_config",
                field=unknown[0],
            )
        out: dict[str, str] = {}
        for spec_field in cls.spec.config_fields:
            value = raw.get(spec_field.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if spec_field.required:
                    raise CredentialFormatError(
                        f"{cls.spec.name} needs the field '{spec_field.name}' ({spec_field.label}).",
                        code="missing_config_field",
                        field=spec_field.name,
                    )
                continue
            out[spec_field.name] = cls.check_field(spec_field, value)
        return out

    @classmethod
    def check_field(cls, spec_field: ConfigField, value: object) -> str:
        try:
            return cls._check_field(spec_field, value)
        except CredentialFormatError as error:
            # clean_key_string() does not know the field; the API reports errors per field.
            if error.field is None:
                error.field = spec_field.name
            raise

    @classmethod
    def _check_field(cls, spec_field: ConfigField, value: object) -> str:
        cleaned = clean_key_string(value, what=f"'{spec_field.name}'")
        if spec_field.kind is FieldKind.SECRET:
            if not looks_masked(cleaned):
                cls.check_key_kind(cleaned, field=spec_field.name)
            check_ascii_secret(cleaned, what=f"'{spec_field.name}'")
            if looks_masked(cleaned):
                raise CredentialFormatError(
                    f"'{spec_field.name}' looks like a masked value; send the full secret.",
                    code="invalid_key_format",
                    field=spec_field.name,
                )
        if spec_field.kind is FieldKind.URL:
            cleaned = check_url_shape(cleaned, field_name=spec_field.name)
        if spec_field.pattern and not re.fullmatch(spec_field.pattern, cleaned):
            raise CredentialFormatError(
                f"'{spec_field.name}' is not well-formed. {spec_field.hint}".strip(),
                code="invalid_config",
                field=spec_field.name,
            )
        return cleaned

    @classmethod
    def check_key_kind(cls, key: str, *, field: str | None = None) -> None:
        """Refuse a credential that is the wrong kind: another provider's key (its signature), or a kind
        of this provider's that cannot chat (adapters check their own kinds first)."""
        found = foreign_signature(key, provider_id=cls.spec.id)
        if found is None:
            return
        owner, signature = found
        raise CredentialFormatError(
            f"This looks like {signature.description}, not a key for {cls.spec.name}. "
            f"If it is, choose {signature.provider_name or owner.name} as the provider; otherwise paste your "
            f"{cls.spec.name} key. {cls.spec.key_hint}".strip(),
            code=WRONG_KEY_KIND,
            field=field,
        )

    # ---- calling the provider -------------------------------------------------------------
    @property
    def url_from_user(self) -> bool:
        """The base URL comes from the credential (Azure, Databricks, Lepton, Ollama)."""
        return bool(self.spec.extra.get("base_url_field"))

    def base_url(self) -> str:
        field_name = self.spec.extra.get("base_url_field")
        if field_name and isinstance(self.credential, dict) and self.credential.get(field_name):
            return self.credential[field_name].rstrip("/")
        return effective_base_url(self.spec).rstrip("/")

    def secret(self) -> str:
        if isinstance(self.credential, str):
            return self.credential
        return self.credential.get(self.spec.secret_field or "", "")

    def secret_values(self) -> list[str]:
        """Every secret this adapter holds (the key, or each secret config field)."""
        if isinstance(self.credential, str):
            return [self.credential]
        names = {f.name for f in self.spec.config_fields if f.kind is FieldKind.SECRET}
        return [value for name, value in self.credential.items() if name in names and value]

    def redact(self, text: str) -> str:
        """Remove this adapter's own secrets from provider-supplied text (error bodies sometimes echo
        a key, and not every key has a prefix the log filter would recognise)."""
        return redact_values(text, self.secret_values())

    @contextmanager
    def scrubbed_errors(self) -> Iterator[None]:
        """Around a call that holds this adapter's secrets: an unexpected exception (a library's, or a
        bug's) leaves as ``ProviderCallFailed`` with the secrets removed from its text, since its
        message may quote the key or a request's headers and would reach the operator's log (the log
        filter only recognises keys by their prefix). The errors designed here pass unchanged."""
        try:
            yield
        except (chat.UpstreamError, ProviderHTTPError, requests.RequestException):
            raise
        except Exception as exc:
            message = self.redact(f"{type(exc).__name__}: {exc}")
            raise ProviderCallFailed(message).with_traceback(exc.__traceback__) from None

    def auth_headers(self) -> dict[str, str]:
        secret = self.secret()
        if not secret:
            return {}
        style = self.spec.auth_style
        if style is AuthStyle.X_API_KEY:
            return {"x-api-key": secret}
        if style is AuthStyle.API_KEY_HEADER:
            return {"api-key": secret}
        if style is AuthStyle.GOOGLE:
            return {"x-goog-api-key": secret}
        if style is AuthStyle.NONE:
            return {}
        return {"Authorization": f"Bearer {secret}"}

    def build_request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        url: str | None = None,
    ) -> OutboundRequest:
        return OutboundRequest(
            method=method,
            url=url or f"{self.base_url()}{path}",
            headers={"Accept": "application/json", **self.auth_headers(), **(headers or {})},
            json=json,
            user_supplied_url=self.url_from_user,
            allow_http=bool(self.spec.extra.get("allow_http")),
        )

    def validation_request(self) -> OutboundRequest | None:
        """The cheapest authenticated request that proves the key, or None if there is none."""
        return None

    # ---- reading an answer: one verdict for validation, chat and the gateway ----------------------
    def read_answer(self, response: requests.Response) -> Verdict:
        """The one reading of this provider's answers (status, body, headers), whichever request they
        answer. Adapters add their provider's rows and return ``super().read_answer(response)`` for the
        rest; a row that only holds for one endpoint says so (``http.answers_path``)."""
        return cross_provider_verdict(response, provider_name=self.spec.name)

    def verdict(self, response: requests.Response) -> Verdict:
        """``read_answer`` with this adapter's own secrets removed from its texts."""
        return self.read_answer(response).redacted(self.redact)

    # ---- chat ---------------------------------------------------------------------------
    # Whether ``stream_chat`` streams from the provider (otherwise the answer is one chunk).
    streams: ClassVar[bool] = False

    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        """The provider's chat request (``stream``: ask for a streamed answer; only when ``streams``)."""
        raise UpstreamBadRequest(f"{self.spec.name} does not support chat through this service.")

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        """The answer of a successful non-streamed chat request."""
        raise NotImplementedError

    def stream_decoder(self) -> chat.StreamDecoder:
        """Reads a streamed answer line by line (adapters whose ``streams`` is true)."""
        raise NotImplementedError

    # Two clients, one request and one reading: ``chat``/``stream_chat`` block (``requests``; for
    # callers outside the event loop), ``achat``/``astream_chat`` are the gateway's (``httpx``, async).
    def send_chat(self, outbound: OutboundRequest, *, stream: bool = False) -> requests.Response:
        return chat.send_chat(outbound, provider_name=self.spec.name, stream=stream, read_answer=self.verdict)

    def chat(self, request: ChatRequest) -> ChatResult:
        """One chat completion. Raises ``providers.chat.UpstreamError`` subclasses."""
        with self.send_chat(self.chat_http_request(request, stream=False)) as response:
            return self.parse_chat(response, request)

    def stream_chat(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Chat as chunks. The provider call happens before this returns, so errors (and failover)
        come before the first chunk."""
        if not self.streams:
            return chat.single_chunk_stream(self.chat(request))
        response = self.send_chat(self.chat_http_request(request, stream=True), stream=True)
        return chat.iter_decoded(response, self.stream_decoder())

    async def _asend_chat(self, request: ChatRequest, *, stream: bool, deadline: float) -> httpx.Response:
        return await chat.asend_chat(
            self.chat_http_request(request, stream=stream),
            provider_name=self.spec.name,
            read_answer=self.verdict,
            timeouts=http.UpstreamTimeouts.from_settings(),
            deadline=deadline,
        )

    async def achat(self, request: ChatRequest, *, deadline: float) -> ChatResult:
        """``chat`` on the event loop; ``deadline`` is the loop time by which the call must be over."""
        response = await self._asend_chat(request, stream=False, deadline=deadline)
        answer = await chat.aread_answer(response, timeouts=http.UpstreamTimeouts.from_settings(), deadline=deadline)
        return self.parse_chat(answer, request)

    async def astream_chat(self, request: ChatRequest, *, deadline: float) -> AsyncIterator[ChatChunk]:
        """``stream_chat`` on the event loop: the provider has answered (or failed) when this returns."""
        if not self.streams:
            return chat.aiter_once(await self.achat(request, deadline=deadline))
        response = await self._asend_chat(request, stream=True, deadline=deadline)
        return chat.aiter_decoded(
            response, self.stream_decoder(), timeouts=http.UpstreamTimeouts.from_settings(), deadline=deadline
        )

    # ---- display ------------------------------------------------------------------------
    @classmethod
    def last4(cls, credential: Credential) -> str:
        if isinstance(credential, str):
            secret = credential
        else:
            secret = credential.get(cls.spec.secret_field or "", "")
        return secret[-4:] if len(secret) >= 8 else ""


def check_url_shape(value: str, *, field_name: str) -> str:
    """Parse a URL field (shape only; the SSRF policy is applied before any request)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise CredentialFormatError(
            f"'{field_name}' is not a valid URL.", code="invalid_config", field=field_name
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialFormatError(
            f"'{field_name}' must be an http(s) URL such as https://example.com.",
            code="invalid_config",
            field=field_name,
        )
    if parts.username or parts.password:
        raise CredentialFormatError(
            f"'{field_name}' must not contain a user name or password.",
            code="invalid_config",
            field=field_name,
        )
    return value.rstrip("/")
