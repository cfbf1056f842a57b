"""AWS Bedrock: IAM credentials (SigV4) or a Bedrock API key (Bearer), plus a region."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from common.masking import mask_secrets
from providers import http
from providers.base import (
    AuthStyle,
    ConfigField,
    Credential,
    CredentialFormatError,
    FieldKind,
    KeySignature,
    ProviderAdapter,
    ProviderSpec,
)
from providers.chat import (
    ChatRequest,
    ChatResult,
    UpstreamBadRequest,
    UpstreamError,
    Usage,
)
from providers.http import OutboundRequest
from providers.settings import effective_base_url
from providers.verdict import ChatErrorCode, KeyStatus, Verdict, rate_limited, refused

# Error types (x-amzn-ErrorType header or __type in the body) that mean the credentials are bad.
INVALID_CREDENTIAL_ERRORS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidTokenException",
    }
)

# Error types that mean the request (model id, parameters, a model not enabled) is wrong, not the key.
BAD_REQUEST_ERRORS = frozenset({"ValidationException", "ResourceNotFoundException"})
# Over the account's request or token quota: another key (another account) may still get through.
RATE_LIMIT_ERRORS = frozenset({"ThrottlingException", "ServiceQuotaExceededException"})


class _DropSigningDumps(logging.Filter):
    """Drops botocore's SigV4 DEBUG records.

    The signer logs the canonical request, the string to sign and the signature at DEBUG. The
    canonical request carries the X-Amz-Security-Token value (a credential the masking filter does
    not recognise), and a signature with its headers can be replayed for minutes. With LOG_LEVEL=DEBUG
    they would reach the logs, so they are dropped at the source.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_botocore_auth_logger = logging.getLogger("botocore.auth")
if not any(isinstance(f, _DropSigningDumps) for f in _botocore_auth_logger.filters):
    _botocore_auth_logger.addFilter(_DropSigningDumps())

# Long-term keys ABSK… (base64); short-term keys bedrock-api-key-… (an encoded presigned URL, ≤12 h).
BEDROCK_API_KEY_PATTERN = r"^(?:ABSK[A-Za-z0-9+/]{100,}={0,2}|bedrock-api-key-\S{20,})$"
# AKIA long-term, ASIA temporary (needs a session token); other documented prefixes kept for scanners'
# sake. Access key IDs are documented as up to 128 characters, so no exact length.
ACCESS_KEY_ID_PATTERN = r"^(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16,124}$"


class BedrockAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="bedrock",
        name="AWS Bedrock",
        base_url="https://bedrock-runtime.{region}.amazonaws.com",
        auth_style=AuthStyle.AWS,
        docs_url="https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html",
        # Two possible secrets, each with its own field pattern.
        key_pattern=None,
        key_hint="Give either an access key (access_key_id AKIA…/ASIA… + secret_access_key, and "
        "session_token for ASIA… keys) or a Bedrock API key (ABSK… or bedrock-api-key-…), plus a region.",
        # The Bedrock-specific variable: AWS_ACCESS_KEY_ID is often set for unrelated AWS use.
        env_var="AWS_BEARER_TOKEN_BEDROCK",
        key_signatures=(
            KeySignature(
                "an AWS access key ID (AKIA…/ASIA…)",
                re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}$"),
                "AWS Bedrock (with its secret access key)",
            ),
            KeySignature(
                "an Amazon Bedrock API key (ABSK…/bedrock-api-key-…)",
                re.compile(r"ABSK[A-Za-z0-9+/]{100,}|bedrock-api-key-"),
            ),
        ),
        mask_prefixes=("ABSK", "bedrock-api-key-", "AKIA", "ASIA"),
        config_fields=(
            ConfigField(
                name="access_key_id",
                label="Access key ID",
                kind=FieldKind.TEXT,
                required=False,
                pattern=ACCESS_KEY_ID_PATTERN,
                hint="An IAM access key ID such as AKIA… (long-term) or ASIA… (temporary).",
            ),
            ConfigField(
                name="secret_access_key",
                label="Secret access key",
                kind=FieldKind.SECRET,
                required=False,
                pattern=r"^[A-Za-z0-9+/]{40}$",
                hint="The 40-character secret access key that belongs to the access key ID.",
            ),
            ConfigField(
                name="session_token",
                label="Session token",
                kind=FieldKind.SECRET,
                required=False,
                pattern=r"^[A-Za-z0-9+/=]{16,}$",
                hint="Only for temporary credentials (access key IDs starting with ASIA).",
            ),
            ConfigField(
                name="bedrock_api_key",
                label="Bedrock API key",
                kind=FieldKind.SECRET,
                required=False,
                pattern=BEDROCK_API_KEY_PATTERN,
                hint="A Bedrock API key: long-term ABSK… or short-term bedrock-api-key-….",
            ),
            ConfigField(
                name="region",
                label="Region",
                kind=FieldKind.REGION,
                pattern=r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$",
                hint="An AWS region code such as us-east-1 or eu-central-1.",
            ),
        ),
        secret_field=None,  # see last4()
        env_config=(
            ("access_key_id", "AWS_ACCESS_KEY_ID"),
            ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            ("session_token", "AWS_SESSION_TOKEN"),
            ("bedrock_api_key", "AWS_BEARER_TOKEN_BEDROCK"),
            ("region", "AWS_REGION"),
        ),
        extra={"signing_service": "bedrock"},
        example_models=(
            "amazon.nova-micro-v1:0",
            "amazon.nova-lite-v1:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
    )

    @classmethod
    def parse_config(cls, raw: dict[str, object]) -> dict[str, str]:
        """Exactly one credential form: IAM (key id + secret [+ session token]) or a Bedrock API key."""
        out = super().parse_config(raw)
        key_id = out.get("access_key_id")
        secret = out.get("secret_access_key")
        token = out.get("session_token")
        api_key = out.get("bedrock_api_key")
        iam_given = bool(key_id or secret or token)

        if api_key and iam_given:
            raise CredentialFormatError(
                "AWS Bedrock takes either a Bedrock API key (bedrock_api_key) or IAM credentials "
                "(access_key_id + secret_access_key), not both. Remove one of them.",
                code="invalid_config",
                field="bedrock_api_key",
            )
        if api_key:
            return out
        if not iam_given:
            raise CredentialFormatError(
                "AWS Bedrock needs credentials: either access_key_id and secret_access_key (IAM), "
                "or bedrock_api_key (a Bedrock API key).",
                code="missing_config_field",
                field="bedrock_api_key",
            )
        if not key_id:
            raise CredentialFormatError(
                "AWS Bedrock needs the field 'access_key_id' (Access key ID) to go with "
                + ("secret_access_key." if secret else "session_token; a session token alone is not enough."),
                code="missing_config_field",
                field="access_key_id",
            )
        if not secret:
            raise CredentialFormatError(
                "AWS Bedrock needs the field 'secret_access_key' (Secret access key) to go with access_key_id.",
                code="missing_config_field",
                field="secret_access_key",
            )
        if key_id.startswith("ASIA") and not token:
            raise CredentialFormatError(
                "AWS Bedrock needs the field 'session_token': access key IDs starting with ASIA are "
                "temporary credentials and only work together with their session token.",
                code="missing_config_field",
                field="session_token",
            )
        if key_id.startswith("AKIA") and token:
            raise CredentialFormatError(
                "A session_token only goes with temporary credentials (access key IDs starting with ASIA); "
                "this AKIA… key is a long-term key. Remove session_token, or give the matching ASIA… key.",
                code="invalid_config",
                field="session_token",
            )
        return out

    @classmethod
    def last4(cls, credential: Credential) -> str:
        if isinstance(credential, str):
            return super().last4(credential)
        secret = credential.get("secret_access_key") or credential.get("bedrock_api_key") or ""
        return secret[-4:] if len(secret) >= 8 else ""

    # ---- calling Bedrock: SigV4 (botocore's signer) or a Bedrock API key as a Bearer token ------
    def _config(self) -> dict[str, str]:
        assert isinstance(self.credential, dict)
        return self.credential

    def _region(self) -> str:
        return self._config()["region"]

    def base_url(self) -> str:
        return effective_base_url(self.spec).format(region=self._region()).rstrip("/")

    def control_plane_url(self) -> str:
        """``bedrock.{region}`` (model listing); an operator's BYOK_BEDROCK_BASE_URL serves both planes."""
        override = effective_base_url(self.spec)
        if override != self.spec.base_url:
            return override.format(region=self._region()).rstrip("/")
        return f"https://bedrock.{self._region()}.amazonaws.com"

    def signed_request(self, method: str, url: str, body: Any = None) -> OutboundRequest:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        config = self._config()
        if config.get("bedrock_api_key"):
            headers["Authorization"] = f"Bearer {config['bedrock_api_key']}"
        else:
            aws_request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
            credentials = Credentials(config["access_key_id"], config["secret_access_key"], config.get("session_token"))
            SigV4Auth(credentials, self.spec.extra["signing_service"], self._region()).add_auth(aws_request)
            headers = {k: str(val) for k, val in aws_request.headers.items()}
            headers.setdefault("Host", urlsplit(url).netloc)
        return OutboundRequest(method=method, url=url, headers=headers, data=data)

    def build_request(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None, url: str | None = None
    ) -> OutboundRequest:
        return self.signed_request(method, url or f"{self.base_url()}{path}", json)

    def validation_request(self) -> OutboundRequest | None:
        # ListFoundationModels: free, and the Bedrock API key's managed policy allows bedrock:List*.
        return self.signed_request("GET", f"{self.control_plane_url()}/foundation-models")

    @staticmethod
    def error_type(response: requests.Response) -> str:
        value = response.headers.get("x-amzn-ErrorType", "")
        if not value:
            data = http.json_or_empty(response)
            value = str(data.get("__type", "") or data.get("Code", "")) if isinstance(data, dict) else ""
        # "UnrecognizedClientException:http://internal.amazon.com/..." or "com.amazon...#AccessDeniedException"
        return value.split(":")[0].split("#")[-1]

    def read_answer(self, response: requests.Response) -> Verdict:
        """The status code alone is ambiguous on AWS (403 is both a bad key and a missing permission), so
        the error type decides; an answer without a known type is read by the cross-provider rule."""
        code = response.status_code
        error = self.error_type(response)
        if error in INVALID_CREDENTIAL_ERRORS:
            # Reported to chat as 401 whatever AWS sent.
            return refused(
                KeyStatus.INVALID,
                f"AWS rejected the credentials ({error}).",
                message=f"AWS rejected the credentials ({error}: {self.aws_error_message(response)}).",
                http_status=code,
                reported_status=401,
            )
        if error == "AccessDeniedException":
            # Valid credentials without bedrock:InvokeModel (or the model's access): restricted, not invalid.
            return refused(
                KeyStatus.RESTRICTED,
                "The credentials are valid but lack Bedrock permissions (AccessDeniedException); attach a "
                "policy allowing bedrock:InvokeModel.",
                message="The AWS credentials are not allowed to call this model "
                f"(AccessDeniedException: {self.aws_error_message(response)}).",
                http_status=code,
                reported_status=403,
            )
        if error in RATE_LIMIT_ERRORS:
            # Over the account's request or token quota: another key (another account) may get through.
            return rate_limited(
                f"AWS is throttling requests ({error}); try again later.",
                message=f"AWS is throttling these credentials ({error}: {self.aws_error_message(response)}).",
                http_status=code,
                retry_after=http.retry_after_seconds(response),
            )
        verdict = super().read_answer(response)
        if error in BAD_REQUEST_ERRORS:
            # The model id, its parameters or its access are wrong, not the key. (IncompleteSignature, a
            # signing problem on our side, and a 403 without a type prove nothing either: the rule reads them.)
            return replace(
                verdict,
                key_status=None,
                error=ChatErrorCode.BAD_REQUEST,
                message=f"{self.spec.name}: {self.aws_error_message(response)}",
            )
        return verdict

    # ---- chat: Converse --------------------------------------------------------------------
    # ConverseStream answers with a binary AWS event stream, so streaming is one chunk (the default).

    def converse_request(self, request: ChatRequest) -> OutboundRequest:
        if request.model in ("", ".", ".."):
            raise UpstreamBadRequest(f"'{request.model}' is not a Bedrock model id.")
        body: dict[str, Any] = {
            "messages": [{"role": m.role, "content": [{"text": m.content}]} for m in request.conversation]
        }
        system = request.system_text
        if system is not None:
            body["system"] = [{"text": system}]
        inference: dict[str, Any] = {}
        if request.max_tokens is not None:
            inference["maxTokens"] = request.max_tokens
        if request.temperature is not None:
            inference["temperature"] = request.temperature
        if inference:
            body["inferenceConfig"] = inference
        # Model and inference-profile ids contain ':' (and ARNs '/'): one encoded path segment.
        url = f"{self.base_url()}/model/{quote(request.model, safe='')}/converse"
        return self.signed_request("POST", url, body)

    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        return self.converse_request(request)

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        data = http.json_or_empty(response)
        output = data.get("output") if isinstance(data, dict) else None
        message = output.get("message") if isinstance(output, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            raise UpstreamError(f"{self.spec.name} returned an answer without output.message.content.")
        usage = data.get("usage")
        return ChatResult(
            text="".join(str(block.get("text", "")) for block in content if isinstance(block, dict)),
            usage=Usage.of(usage.get("inputTokens"), usage.get("outputTokens"), usage.get("totalTokens"))
            if isinstance(usage, dict)
            else None,
            finish_reason=data.get("stopReason"),
            model=request.model,
        )

    @staticmethod
    def aws_error_message(response: requests.Response) -> str:
        """AWS's own message ("message" in JSON protocols, "Message" in some), masked."""
        data = http.json_or_empty(response)
        message = (data.get("message") or data.get("Message")) if isinstance(data, dict) else None
        if not message:
            return http.error_message(response)
        return mask_secrets(" ".join(str(message).split()))[:300]
