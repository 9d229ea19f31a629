"""RFC 3339 timestamps to and from epoch seconds, the one time unit used inside streamer.

Formatting writes UTC with milliseconds and ``Z``:

>>> format_timestamp(1795687200.123)
'2026-11-26T10:00:00.123Z'
>>> format_timestamp(0)
'1970-01-01T00:00:00.000Z'

Parsing takes RFC 3339 text (``Z`` or an offset, any number of fractional digits, ``T``, ``t`` or a
space between date and time) or epoch seconds, and accepts years 1970 to 2200 only:

>>> parse_timestamp("2026-11-26T10:00:00.123Z")
1795687200.123
>>> parse_timestamp("2026-11-26T11:00:00.123+01:00")
1795687200.123
>>> parse_timestamp(1795687200)
1795687200.0
>>> parse_timestamp("yesterday")
Traceback (most recent call last):
...
ValueError: is not an RFC 3339 date-time: 'yesterday'
>>> parse_timestamp(1795687200123)
Traceback (most recent call last):
...
ValueError: is outside the years 1970 to 2200: 1795687200123 (epoch milliseconds? seconds are expected)

Text without an offset, such as MLRun's ``when`` from older versions, is read as UTC. A leap second
(``:60``) is read as the second before it.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

#: Accepted event times: from 1970-01-01T00:00:00Z up to, not including, 2201-01-01T00:00:00Z.
MIN_SECONDS = 0.0
MAX_SECONDS = 7289654400.0


def format_timestamp(seconds: float) -> str:
    """``seconds`` since the epoch as RFC 3339 UTC text with milliseconds and ``Z``."""
    millis = round(seconds * 1000)
    whole, fraction = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{fraction:03d}Z"


def parse_timestamp(value: object) -> float:
    """Epoch seconds from RFC 3339 text or a number; :class:`ValueError` says what is wrong.

    Booleans are not numbers here, even though Python counts them as ``int``.
    """
    kind = type(value)
    if kind is float or kind is int:
        seconds = float(value)  # type: ignore[arg-type]
    elif kind is str:
        seconds = _parse_text(value)  # type: ignore[arg-type]
    else:
        raise ValueError(f"must be RFC 3339 text or epoch seconds, got {_json_kind(value)}")
    if not MIN_SECONDS <= seconds < MAX_SECONDS:
        hint = ""
        if math.isfinite(seconds) and MIN_SECONDS <= seconds / 1000 < MAX_SECONDS:
            hint = " (epoch milliseconds? seconds are expected)"
        raise ValueError(f"is outside the years 1970 to 2200: {str(value)[:60]}{hint}")
    return seconds


def _parse_text(text: str) -> float:
    # The shape check keeps out what fromisoformat accepts beyond RFC 3339 (week dates, basic format).
    if len(text) < 19 or text[4] != "-" or text[7] != "-" or text[10] not in "Tt " or text[13] != ":" \
            or text[16] != ":":
        raise ValueError(f"is not an RFC 3339 date-time: {text[:60]!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = _parse_unusual(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_unusual(text: str) -> datetime:
    """Lower-case ``t``/``z`` and leap seconds, which fromisoformat refuses."""
    fixed = text.upper()
    if fixed[17:19] == "60":
        fixed = fixed[:17] + "59" + fixed[19:]
    try:
        return datetime.fromisoformat(fixed)
    except ValueError:
        raise ValueError(f"is not an RFC 3339 date-time: {text[:60]!r}") from None


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
