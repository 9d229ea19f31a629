"""What every alert rule reads when a window closes, and the shape of a rule.

A rule is a plain function ``rule(RuleInput) -> list[alert]``; the pipeline runs a tuple of them at
each window close (``streamer.alerts.compose.ALERT_RULES``). Rules are pure: the window, its summary, the
model's operational history *before* this window, and the settings in; alerts out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamer.config import Settings
from streamer.stats.history import OpsHistory
from streamer.windows.accumulator import WindowAccumulator

Alert = dict[str, Any]


@dataclass(frozen=True)
class RuleInput:
    summary: dict[str, Any]
    window: WindowAccumulator
    history: OpsHistory  # the model's recent windows, this one not yet included
    full: bool  # closed by the watermark right after the model's previous window
    settings: Settings
    created_at_s: float

    def common(self) -> dict[str, Any]:
        """The make_alert arguments every window alert shares."""
        s = self.summary
        return {"model": s["model"], "version": s["version"], "window_start": s["window_start"],
                "window_end": s["window_end"], "created_at_s": self.created_at_s}


Rule = Callable[[RuleInput], list[Alert]]
