"""Checks for text that people read (names, descriptions, ids): no control characters, and no
bidirectional overrides that make a name display as something else ("Trojan Source")."""

from __future__ import annotations

import unicodedata

from common.errors import InvalidInput

# Bidi embeddings/overrides/isolates: they reorder how the rest of a string is displayed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


# The same rule as JSON Schema patterns, for the OpenAPI schema of the fields checked here: no control
# character (category Cc: U+0000-001F, U+007F-009F; tab and line breaks allowed where newlines are),
# no bidirectional control.
_BIDI_CLASS = "".join(f"\\u{ord(c):04x}" for c in sorted(BIDI_CONTROLS))
DISPLAY_TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f" + _BIDI_CLASS + "]*$"
MULTILINE_TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f" + _BIDI_CLASS + "]*$"


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
