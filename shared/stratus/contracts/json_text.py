"""Strict JSON for what comes from outside: webhook bodies and messages on the topics.

json.loads is lenient where a trading system must not be. Here:
- the text is UTF-8 (json.loads also guesses UTF-16 and UTF-32 from bytes);
- nesting is at most MAX_DEPTH deep (json.loads recurses until RecursionError);
- a key appears once per object (json.loads keeps the last one silently);
- NaN and Infinity are refused (they are not JSON, but json.loads reads them);
- numbers keep their text: integers are exact ints, any other number is a JsonNumber, a
  float that remembers its text, which the amount grammar reads instead of the float.
Every refusal is an InvalidMessage: malformed_json, too_deep or duplicate_key.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from stratus.domain.amounts import JsonNumber
from stratus.domain.errors import InvalidMessage

# Signals are flat and TradingView alerts nest a level or two; nothing we read needs more.
MAX_DEPTH = 32

# Brackets outside strings: a JSON string is skipped whole (escapes included).
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def loads(data: bytes | str) -> Any:
    """The value of a JSON text, or InvalidMessage saying why it is refused."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise InvalidMessage("malformed_json", f"not UTF-8: {error.reason}") from None
    _check_depth(text)
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_float=JsonNumber,
            parse_constant=_not_a_number,
        )
    except ValueError as error:  # JSONDecodeError, or an int longer than Python reads
        raise InvalidMessage("malformed_json", str(error)) from None


def _check_depth(text: str) -> None:
    depth = 0
    for token in _STRUCTURE.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidMessage("too_deep", f"JSON nested more than {MAX_DEPTH} levels deep")
        elif bracket in ("]", "}"):
            depth -= 1


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        repeated = sorted(key for key, count in Counter(k for k, _ in pairs).items() if count > 1)
        shown = ", ".join(repr(key[:40]) for key in repeated[:5])
        raise InvalidMessage("duplicate_key", f"keys given more than once: {shown}")
    return record


def _not_a_number(constant: str) -> Any:
    raise InvalidMessage("malformed_json", f"{constant} is not a JSON number")
