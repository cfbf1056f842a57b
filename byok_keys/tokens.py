"""API tokens we issue: ``byokt_<lookup id>.<secret>``. Pure: no ORM.

The lookup id finds the row; the SHA-256 digest of the whole token is compared in constant time.
A fast hash is right here: the secret has 256 bits of entropy, so there is nothing to brute-force,
and a password hasher would cost hundreds of milliseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

TOKEN_PREFIX = "byokt_"
_LOOKUP_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN_RE = re.compile(r"^byokt_([a-z0-9]{12})\.([A-Za-z0-9_-]{43})$")


def generate() -> tuple[str, str, str]:
    """Return (plaintext token, lookup id, digest)."""
    lookup_id = "".join(secrets.choice(_LOOKUP_ALPHABET) for _ in range(12))
    token = f"{TOKEN_PREFIX}{lookup_id}.{secrets.token_urlsafe(32)}"
    return token, lookup_id, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_lookup_id(token: str) -> str | None:
    match = _TOKEN_RE.match(token)
    return match.group(1) if match else None


def matches(token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(token), stored_digest)
