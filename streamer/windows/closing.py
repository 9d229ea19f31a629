"""Window closes: the summary, its ground-truth and merge sections, the baseline, the alerts.

The pipeline queues each model's due windows (:meth:`WindowCloser.queue`) and :meth:`WindowCloser.flush`
closes everything queued in a micro-batch together: live, every model's epoch-aligned windows close at
the same instant, and one :func:`~streamer.windows.summary.summarize_many` over all of them costs far
less than a summary per model. Closes go in rounds, the first due window of every model, then the
second, so that a window closing right after the one that completed a model's baseline is compared
with that baseline, as it would be one close at a time.

A baseline profile, once formed, is written once to a table of its own (the pipeline writes
``ModelState.baseline_unstored_json`` there with the model's next state write, once the closer holds it
parsed) and read back from it through ``load_baseline`` when the closer no longer holds it (after an
eviction or a restart).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from streamer.alerts.compose import window_alerts
from streamer.alerts.rules import Alert
from streamer.batch import Effects, Outbound, PipelineCounters, state_key
from streamer.config import Settings
from streamer.events.timestamps import format_timestamp
from streamer.labels.stage import GroundTruth
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.merge import MergeStage
from streamer.windows.model_state import ModelState, WindowRules
from streamer.windows.summary import SummaryJob, summarize_many

log = logging.getLogger(__name__)

Emit = Callable[[ModelState, Alert, Effects], None]
LoadBaseline = Callable[[bytes], bytes | None]  # a model's stored baseline profile JSON by state key, or None


class WindowCloser:
    def __init__(self, settings: Settings, registry: ReferenceRegistry, rules: WindowRules, ground_truth: GroundTruth,
                 merges: MergeStage, counters: PipelineCounters, emit: Emit, load_baseline: LoadBaseline) -> None:
        self.settings, self.registry, self.rules = settings, registry, rules
        self.ground_truth, self.merges, self.counters, self.emit = ground_truth, merges, counters, emit
        self.load_baseline = load_baseline
        self._baselines: dict[bytes, ReferenceProfile] = {}  # per model with a formed baseline: its parsed profile
        self._queued: list[tuple[bytes, ModelState, list[WindowAccumulator], Any]] = []

    def forget(self) -> None:
        self._baselines.clear()
        self._queued.clear()

    def drop(self, key: bytes) -> None:
        self._baselines.pop(key, None)

    # -- references ----------------------------------------------------------------------------

    def baseline(self, state: ModelState) -> ReferenceProfile | None:
        """The profile of the baseline the model collected, read and parsed once while the model stays in memory."""
        if not state.baseline_formed:
            return None
        key = state_key(state.model, state.version)
        profile = self._baselines.get(key)
        if profile is None:
            document = state.baseline_unstored_json or self.load_baseline(key)
            if document is None:
                self._lost_baseline(state)
                return None
            profile = self._baselines[key] = ReferenceProfile.from_json(document)
        return profile

    @staticmethod
    def _lost_baseline(state: ModelState) -> None:
        """The state says a baseline formed, but its table has none: after a crash, the state record's write
        reached its changelog and the baseline's did not. The model collects its baseline again."""
        log.warning("model %s version %s: its baseline profile is not stored; collecting a new one",
                    state.model, state.version)
        state.baseline_formed, state.baseline_windows = False, 0

    def reference_for(self, state: ModelState) -> tuple[ReferenceProfile | None, str]:
        registered = self.registry.lookup(state.model, state.version)
        if registered is not None:
            return registered, "registered"
        baseline = self.baseline(state)
        return (baseline, "baseline") if baseline is not None else (None, "collecting")

    def reference_source(self, state: ModelState) -> str:
        """Where the model's reference comes from, as :meth:`reference_for` says, without reading the baseline."""
        if self.registry.lookup(state.model, state.version) is not None:
            return "registered"
        return "baseline" if state.baseline_formed else "collecting"

    # -- closes --------------------------------------------------------------------------------

    def queue(self, key: bytes, state: ModelState, windows: list[WindowAccumulator], context: Any) -> None:
        """Close ``windows`` (oldest first) at the next :meth:`flush`, which hands ``context`` back."""
        self._queued.append((key, state, windows, context))

    def flush(self, now_s: float, effects: Effects) -> list[tuple[bytes, ModelState, Any]]:
        """Close every queued window; the models whose windows closed, for their state write and status."""
        queued, self._queued = self._queued, []
        for round_index in range(max((len(windows) for _, _, windows, _ in queued), default=0)):
            closing = [(key, state, windows[round_index]) for key, state, windows, _ in queued
                       if round_index < len(windows)]
            jobs = [self._job(state, window) for _, state, window in closing]
            for (key, state, window), job, summary in zip(closing, jobs, summarize_many(jobs), strict=True):
                self._finish(key, state, window, job.reference, summary, now_s, effects)
        return [(key, state, context) for key, state, _, context in queued]

    def _job(self, state: ModelState, window: WindowAccumulator) -> SummaryJob:
        reference, source = self.reference_for(state)
        closed_by = "watermark" if window.end_s + self.rules.allowed_lateness_seconds <= state.watermark_s else "idle"
        return SummaryJob(window, reference, self.settings.drift_policy(state.model), state.model, state.version,
                          source, closed_by)

    def _finish(self, key: bytes, state: ModelState, window: WindowAccumulator, reference: ReferenceProfile | None,
                summary: dict[str, Any], now_s: float, effects: Effects) -> None:
        summary.update(self.ground_truth.window_sections(state.model, state.version, window.start_s))
        summary.update(self.merges.section(key, window.start_s))
        collecting = reference is None and window.rows > 0
        if collecting:
            summary["baseline_progress"] = f"{state.baseline_windows + 1}/{self.settings.baseline_windows}"
        full = summary["closed_by"] == "watermark" and state.last_window_end_s == window.start_s
        alerts = window_alerts(state, summary, window, full=full, settings=self.settings, now_s=now_s)
        if collecting:  # last: the baseline takes the window over (no copy), and nothing reads the window after
            self._collect_baseline(state, window)
        state.last_status = summary["status"]
        state.last_window_end_s = window.end_s
        self.counters.windows_closed += 1
        self.counters.features_dropped += window.dropped_features
        effects.messages.append(Outbound(self.settings.topic_windows, key, orjson.dumps(summary)))
        for alert in alerts:
            self.emit(state, alert, effects)

    def _collect_baseline(self, state: ModelState, window: WindowAccumulator) -> None:
        if state.baseline is None:
            state.baseline = window
        else:
            state.baseline.merge(window)
        state.baseline_windows += 1
        if state.baseline_windows >= self.settings.baseline_windows:
            source = (f"baseline: {state.baseline_windows} window(s) from "
                      f"{format_timestamp(state.baseline.start_s)} to {format_timestamp(state.baseline.end_s)}")
            profile = ReferenceProfile.from_window(state.model, state.version, state.baseline, source, consume=True)
            # Compact, and without the KLL sketches unless a rule reads them (drift.sketch_wasserstein). Written
            # once, under its own key, with the model's state write of this batch.
            document = profile.to_json(
                compact=True, quantile_sketches=self.settings.drift_policy(state.model).sketch_wasserstein)
            state.baseline_unstored_json, state.baseline_formed, state.baseline = document, True, None
            # Read from this JSON when next needed, so a model that stays in memory and one read back from the
            # table compare with the same profile.
            self._baselines.pop(state_key(state.model, state.version), None)
            for open_window in state.open_windows.values():
                open_window.adopt_bins(profile.layout())
