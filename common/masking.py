"""Masks credentials in text and log records.

Defends against a key reaching a log line through an exception message, a request dump or a
third-party library's debug output (urllib3 logs URLs; botocore logs headers at DEBUG).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Header names whose values are credentials.
_HEADER_RE = re.compile(
    r"(?i)(authorization|x-api-key|api-key|x-goog-api-key|x-auth-key|proxy-authorization|x-amz-security-token)"
    r"(['\"]?\s*[:=]\s*['\"]?)(bearer\s+|token\s+|basic\s+|aws4-hmac-sha256\s+)?([^\s'\",}]+)"
)
# A token after "Bearer" or "token" (one with a digit, so prose like "bearer tokens" is left alone).
_BEARER_RE = re.compile(r"(?i)\b(bearer|token)(\s+)(?!\*\*\*)(?=[A-Za-z0-9_\-.~+/=]*\d)[A-Za-z0-9_\-.~+/=]{16,}")
# Our own API tokens.
_API_TOKEN_RE = re.compile(r"\bbyokt_[A-Za-z0-9]+\.[A-Za-z0-9_-]+")
# Credentials in a query string (providers take keys in headers, but a URL may still carry one).
_QUERY_RE = re.compile(r"([?&](key|api_key|apikey|token|access_token)=)[^&\s]+", re.IGNORECASE)
# What follows a registered key prefix: the key's characters (8 or more).
_KEY_BODY = r"[A-Za-z0-9_\-.+/=]{8,}"

# Key prefixes of the providers' keys ("sk-ant-", "gsk_", ...): a key starting with one is masked wherever
# it appears. The apps that know them register them at start-up (``register_key_prefixes``): common
# imports no app, and ``providers`` registers every registered provider's.
_key_prefixes: set[str] = set()
_prefixed_key_re: re.Pattern[str] | None = None


def register_key_prefixes(prefixes: Iterable[str]) -> None:
    """Mask keys starting with any of ``prefixes`` from now on (added to those registered before)."""
    global _prefixed_key_re
    new = set(prefixes)
    if any(not prefix or not prefix.isprintable() or any(c.isspace() for c in prefix) for prefix in new):
        raise ValueError("A key prefix is a non-empty run of printable characters without spaces.")
    _key_prefixes.update(new)
    # Longest first: "sk-ant-" is tried before "sk-", so the masked text keeps the more telling prefix.
    ordered = sorted(_key_prefixes, key=lambda prefix: (-len(prefix), prefix))
    _prefixed_key_re = re.compile(r"\b(" + "|".join(re.escape(prefix) for prefix in ordered) + ")" + _KEY_BODY)


def registered_key_prefixes() -> frozenset[str]:
    return frozenset(_key_prefixes)


# Query strings in logged URLs and request lines ("GET /path?apiKey=... HTTP/1.1"): a client may put a
# key in one (keys belong in headers), so no log ever shows a query string's values.
_QUERY_STRING_RE = re.compile(r"(\?)([^\s\"'#]+)")


def _mask_query(match: re.Match[str]) -> str:
    names = [part.split("=", 1)[0] for part in match.group(2).split("&")]
    return "?" + "&".join(f"{name}=***" if name else "***" for name in names)


def mask_secrets(text: str) -> str:
    text = _QUERY_STRING_RE.sub(_mask_query, text) if "?" in text and "=" in text else text
    text = _HEADER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}***", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _API_TOKEN_RE.sub("byokt_***", text)
    if _prefixed_key_re is not None:
        text = _prefixed_key_re.sub(lambda m: f"{m.group(1)}***", text)
    text = _QUERY_RE.sub(lambda m: f"{m.group(1)}***", text)
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
    ``secrets`` — the whole key, or a prefix/suffix a provider echoes — with ``***``. Compared without
    regard to case: a provider may echo a key upper-cased."""
    candidates = [s.lower() for s in secrets if len(s) >= _PIECE]
    if not candidates or not text:
        return text
    pieces = {secret[i : i + _PIECE] for secret in candidates for i in range(len(secret) - _PIECE + 1)}

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        lowered = token.lower()
        core = lowered.strip(".:=_-~")
        if len(core) >= _PIECE and any(core in secret for secret in candidates):
            return "***"
        if any(lowered[i : i + _PIECE] in pieces for i in range(len(lowered) - _PIECE + 1)):
            return "***"
        return token

    return _TOKEN_RUN.sub(replace, text)
