"""Checks for text that people read (names, descriptions, ids): no control characters, and no
bidirectional overrides that make a name display as something else ("Trojan Source")."""

from __future__ import annotations

import unicodedata

from common.errors import InvalidInput

# Bidi embeddings/overrides/isolates: they reorder how the rest of a string is displayed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def check_display_text(value: str, *, field: str, allow_newlines: bool = False) -> str:
    """Return ``value``, or raise a 400 naming ``field`` if it holds control or bidi characters."""
    for char in value:
        if char in BIDI_CONTROLS:
            raise InvalidInput(
                f"{field} contains a right-to-left or direction override character (U+{ord(char):04X}); remove it.",
                code="invalid_characters",
                extra={"field": field},
            )
        if unicodedata.category(char) == "Cc" and not (allow_newlines and char in "\n\r\t"):
            raise InvalidInput(
                f"{field} contains a control character (U+{ord(char):04X}); remove it.",
                code="invalid_characters",
                extra={"field": field},
            )
    return value
