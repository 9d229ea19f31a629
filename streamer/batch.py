"""What one micro-batch carries in and out of the pipeline: records in, state writes and messages out.

Plain data, free of Faust: ``topology.py`` turns Faust events into :class:`Inbound` records and
carries out the :class:`Effects` the pipeline returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamer.events.rows import PredictionRows


@dataclass
class Inbound:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_s: float
    handle: Any = None  # the Faust event; table writes happen under it
    origin: tuple[int, int] | None = None  # (partition, offset) a hot model's record was spread from


@dataclass
class Outbound:
    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None


@dataclass
class StateWrite:
    table: str
    key: bytes
    value: bytes
    handle: Any


@dataclass
class Effects:
    writes: list[StateWrite] = field(default_factory=list)
    messages: list[Outbound] = field(default_factory=list)


@dataclass
class Plan:
    """A decoded micro-batch: prediction records grouped by (partition, model state key), and ticks."""

    batch: list[Inbound]
    now_s: float
    effects: Effects
    groups: dict[tuple[int, bytes], list[tuple[Inbound, PredictionRows]]] = field(default_factory=dict)
    ticks: dict[int, Inbound] = field(default_factory=dict)
    labels: list[Inbound] = field(default_factory=list)  # label records, for the ground-truth stage
    partials: list[Inbound] = field(default_factory=list)  # hot models' shard windows (streamer.windows.merge)


@dataclass
class PipelineCounters:
    messages: int = 0
    rows_accepted: int = 0
    rows_late: int = 0
    rows_duplicate: int = 0
    dead_letters: int = 0
    forwarded: int = 0
    windows_closed: int = 0
    alerts: int = 0
    log_resets: int = 0
    models_refused: int = 0  # messages of new models past STREAMER_MAX_MODELS (also dead letters)
    features_dropped: int = 0  # new feature names past a window's limit, in closed windows
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)  # bounded labels: dead_letter_reason()


def state_key(model: str, version: str) -> bytes:
    return f"{model}\x1f{version}".encode()
