"""The API's JSON parser: DRF's, plus the refusals that keep bad bodies from ever reaching the
database or an error page as a 500.

- JSON nested deeper than ``MAX_DEPTH`` (Python's parser would hit its recursion limit: a 500);
- a NUL character anywhere in the body (PostgreSQL cannot store one in a text column: a 500).
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64


def _depth_exceeded(raw: bytes) -> bool:
    """Whether brackets nest deeper than ``MAX_DEPTH`` (strings skipped), found without recursion."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        if _depth_exceeded(raw):
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep is not accepted.")
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if _has_nul(data):
            raise ParseError("The body contains a NUL character (\\u0000); remove it.")
        return data
