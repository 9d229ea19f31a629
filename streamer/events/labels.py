"""A decoded label event (CONTRACT 4.2): the true outcome of one earlier prediction.

Labels are joined to predictions by ``(model, version, request_id)``; see
:func:`streamer.events.parse.parse_label_message` for decoding.

>>> label = LabelEvent(model="fraud", request_id="r-81731", label=0, timestamp_s=1795687200.0)
>>> label.key, label.label
(('fraud', 'default'), 0)
"""

from __future__ import annotations

from dataclasses import dataclass

#: A label as it comes off the wire: number, string or boolean (never null).
LabelValue = float | int | str | bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelEvent:
    model: str
    version: str = "default"
    request_id: str
    label: LabelValue
    timestamp_s: float

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.version)
