"""The shape every sequential change detector shares, and the detector that detects nothing.

A detector reads one value at a time (``update(x)``: a prediction's error, 0/1 for a classifier or
the absolute error for a regressor) and says through two read-only properties whether the stream
changed (``drift_detected``, true for the one update at which the change is confirmed; the detector
then starts afresh) or may be changing (``warning_detected``). At a detection, :attr:`change` says where
the change began (a row index counted from the detector's creation) and the mean error before and
after it. State is stored with ``to_bytes`` / ``from_bytes`` (versioned JSON, not pickle).

>>> detector = NoDrift()
>>> detector.update(1.0)
>>> detector.drift_detected, detector.warning_detected, detector.rows
(False, False, 1)
>>> NoDrift.from_bytes(detector.to_bytes()).rows
1
"""

from __future__ import annotations

from typing import Any, NamedTuple

from streamer.sketches.codec import pack, unpack


class Change(NamedTuple):
    """Where a detected change began (row index since the detector's creation) and the mean error
    of the rows before and after that point (within the detector's memory)."""

    at_row: int
    before: float
    after: float


class Detector:
    """Base class: counts rows and holds the flags; subclasses implement :meth:`_step`."""

    name = "base"
    kind = "detector"

    def __init__(self) -> None:
        self.rows = 0
        self._drift = False
        self._warning = False
        self._change: Change | None = None

    @property
    def drift_detected(self) -> bool:
        return self._drift

    @property
    def warning_detected(self) -> bool:
        return self._warning

    @property
    def warning_change(self) -> Change | None:
        """While a warning lasts, where it began and the mean error before and since; ``None`` for a
        detector without a warning level (ADWIN and Page-Hinkley only detect)."""
        return None

    @property
    def change(self) -> Change | None:
        """Set at the update that detected a change; ``None`` before the first detection."""
        return self._change

    def update(self, x: float) -> None:
        self._step(float(x))
        self.rows += 1

    def _step(self, x: float) -> None:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {}

    def _state(self) -> dict[str, Any]:
        return {}

    def _load(self, state: dict[str, Any]) -> None:
        pass

    def to_bytes(self) -> bytes:
        header = {"params": self.params(), "rows": self.rows, "drift": self._drift, "warning": self._warning,
                  "change": list(self._change) if self._change else None, "state": self._state()}
        return pack(self.kind, 1, header)

    @classmethod
    def from_bytes(cls, data: bytes) -> Any:
        header, _ = unpack(data, cls.kind, 1)
        detector = cls(**header["params"])
        detector.rows, detector._drift, detector._warning = header["rows"], header["drift"], header["warning"]
        change = header["change"]
        detector._change = Change(int(change[0]), float(change[1]), float(change[2])) if change else None
        detector._load(header["state"])
        return detector

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({params})"


class NoDrift(Detector):
    """Detects nothing: the detector for a model whose concept-drift detection is switched off."""

    name = "none"
    kind = "no_drift"

    def _step(self, x: float) -> None:
        pass
