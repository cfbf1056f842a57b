"""Masks credentials in text and log records.

Defends against a key reaching a log line through an exception message, a request dump or a
third-party library's debug output (urllib3 logs URLs; botocore logs headers at DEBUG).
"""

from __future__ import annotations

import logging
import re

# Header names whose values are credentials.
_HEADER_RE = re.compile(
    r"(?i)(authorization|x-api-key|api-key|x-goog-api-key|x-auth-key|proxy-authorization|x-amz-security-token)"
    r"(['\"]?\s*[:=]\s*['\"]?)(bearer\s+|token\s+|basic\s+|aws4-hmac-sha256\s+)?([^\s'\",}]+)"
)
# Key-shaped strings: provider prefixes, our own API tokens, AWS ids, and long opaque tokens.
_KEY_RES = [
    re.compile(r"\bbyokt_[A-Za-z0-9]+\.[A-Za-z0-9_-]+"),
    re.compile(
        r"\b(sk-ant-|sk-or-v1-|sk-proj-|sk-svcacct-|sk-admin-|sk-|sk_|xai-|gsk_|pplx-|r8_|tgp_v1_|fw_|"
        r"dapi|cfut_|cfat_|esecret_|AIza|AQ\.|ABSK|bedrock-api-key-)[A-Za-z0-9_\-.+/=]{8,}"
    ),
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"([?&](key|api_key|apikey|token|access_token)=)[^&\s]+", re.IGNORECASE),
]


_BEARER_RE = re.compile(r"(?i)\b(bearer|token)(\s+)(?!\*\*\*)(?=[A-Za-z0-9_\-.~+/=]*\d)[A-Za-z0-9_\-.~+/=]{16,}")


def mask_secrets(text: str) -> str:
    text = _HEADER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}***", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _KEY_RES[0].sub("byokt_***", text)
    text = _KEY_RES[1].sub(lambda m: f"{m.group(1)}***", text)
    text = _KEY_RES[2].sub(lambda m: f"{m.group(1)}***", text)
    text = _KEY_RES[3].sub(lambda m: f"{m.group(1)}***", text)
    return text


class SecretMaskingFilter(logging.Filter):
    """Rewrites each record's message with credentials masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        masked = mask_secrets(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, masked, so handlers never see the raw exception text.
            formatter = logging.Formatter()
            record.exc_text = mask_secrets(formatter.formatException(record.exc_info))
            record.exc_info = None
        record.msg = masked
        record.args = None
        return True


def install_filter(logger_names: tuple[str, ...] = ("", "gunicorn.error", "gunicorn.access")) -> None:
    """Attach the filter to every handler of these loggers, including handlers configured outside
    Django's LOGGING (gunicorn's own). Called once at app start-up."""
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, SecretMaskingFilter) for f in handler.filters):
                handler.addFilter(SecretMaskingFilter())


_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=.:~]{6,}")
_PIECE = 8  # an echoed piece this long (or longer) of a secret is masked


def redact_values(text: str, secrets: list[str]) -> str:
    """Replace every run of key characters that contains a piece (8+ characters) of one of
    ``secrets`` — the whole key, or a prefix/suffix a provider echoes — with ``***``."""
    candidates = [s for s in secrets if len(s) >= _PIECE]
    if not candidates or not text:
        return text
    pieces = {secret[i : i + _PIECE] for secret in candidates for i in range(len(secret) - _PIECE + 1)}

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        core = token.strip(".:=_-~")
        if len(core) >= _PIECE and any(core in secret for secret in candidates):
            return "***"
        if any(token[i : i + _PIECE] in pieces for i in range(len(token) - _PIECE + 1)):
            return "***"
        return token

    return _TOKEN_RUN.sub(replace, text)
