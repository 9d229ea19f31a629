"""The monitoring pipeline's logic for one micro-batch, free of Faust so it is tested without a broker.

:meth:`Pipeline.process` takes the batch's records and returns what to do: the state entries to
write (once per model and batch) and the messages to send (window summaries, alerts, status,
dead letters, records forwarded to their model's partition). ``topology.py`` carries them out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import orjson

from streamer.alerts.compose import open_alerts, window_alerts, worst_status
from streamer.alerts.missing import check_return, check_silence
from streamer.alerts.rules import Alert
from streamer.batch import Effects, Inbound, Outbound, PipelineCounters, Plan, StateWrite, state_key
from streamer.config import Settings
from streamer.errors import InvalidEventError
from streamer.events.dead_letters import dead_letter, dead_letter_reason
from streamer.events.parse import parse_prediction_message
from streamer.events.rows import PredictionRows
from streamer.events.timestamps import format_timestamp
from streamer.kafka.topics import partition_for_key
from streamer.labels.stage import GroundTruth
from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.catch_up import CatchUp, idle_for_s
from streamer.windows.model_state import EMPTY_LAYOUT, ModelState, RecordMark, WindowRules
from streamer.windows.positions import LogPositions
from streamer.windows.summary import summarize

log = logging.getLogger(__name__)

# Events further ahead of the wall clock than this are rejected: one bad clock must not close
# every open window of its model by pushing the watermark years ahead.
MAX_FUTURE_SECONDS = 24 * 3600.0
# A model's status is published when it changed, at most this often (so the API is current within a
# second), and at least every STATUS_HEARTBEAT_SECONDS.
STATUS_INTERVAL_SECONDS = 0.5
STATUS_HEARTBEAT_SECONDS = 60.0
# Drift metrics of a model's open window are recomputed at most every OPEN_WINDOW_REFRESH_SECONDS,
# and for at most OPEN_WINDOW_REFRESHES_PER_SECOND models a second in all, so that a worker with
# thousands of models does not spend its time on them; counts in the status are always current.
OPEN_WINDOW_REFRESH_SECONDS = 5.0
OPEN_WINDOW_REFRESHES_PER_SECOND = 20
TABLE_MODELS = "model_state"
TABLE_INDEX = "partition_models"


class Pipeline:
    def __init__(
        self, settings: Settings, registry: ReferenceRegistry,
        load: Callable[[str, bytes], bytes | None], clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.load = load  # load(table, key) -> stored bytes or None
        self.clock = clock
        self.rules = WindowRules(settings.window_seconds, settings.allowed_lateness_seconds,
                                 settings.idle_close_seconds, settings.max_categories, settings.max_features)
        self.counters = PipelineCounters()
        self._states: dict[bytes, ModelState] = {}  # write-through cache of the model_state table
        self._indexes: dict[int, list[bytes]] = {}  # write-through cache of partition_models
        self._status_sent: dict[bytes, tuple[float, int, int]] = {}  # time, events_total, late_events
        self._open_summaries: dict[bytes, tuple[float, list[float], list[dict[str, Any]]]] = {}
        self._baselines: dict[bytes, tuple[bytes, ReferenceProfile]] = {}  # per model: JSON, parsed profile
        self._refresh_budget = OPEN_WINDOW_REFRESHES_PER_SECOND
        self._refresh_budget_s = -math.inf
        self.positions = LogPositions(settings.topic_predictions, self._state, self.counters)
        self.ground_truth = GroundTruth(settings, registry, load)  # labels, performance, concept drift
        self.catch_up = CatchUp()  # no idle close nor silence while reading a backlog; fed by the topology

    def worker_report(self) -> dict[str, Any]:
        """Counters and cardinality limits of this replica, for the API."""
        return {"counters": asdict(self.counters),
                "limits": {"max_models": self.settings.max_models, "max_features": self.settings.max_features,
                           "max_categories": self.settings.max_categories},
                "models_with_state": sum(len(index) for index in self._indexes.values())}

    def forget(self) -> None:
        """Drop cached state: after a rebalance the tables are the truth."""
        self.ground_truth.forget()
        self.positions.forget()
        self._states.clear()
        self._indexes.clear()
        self._open_summaries.clear()

    # -- state access --------------------------------------------------------------------------

    def _state(self, key: bytes, model: str, version: str) -> ModelState:
        state = self._states.get(key)
        if state is None:
            stored = self.load(TABLE_MODELS, key)
            state = ModelState.from_bytes(stored) if stored else ModelState(model, version)
            self._states[key] = state
        return state

    def _index(self, partition: int) -> list[bytes]:
        index = self._indexes.get(partition)
        if index is None:
            stored = self.load(TABLE_INDEX, str(partition).encode())
            index = self._indexes[partition] = [k.encode() for k in orjson.loads(stored)] if stored else []
        return index

    # -- the batch -----------------------------------------------------------------------------

    def process(self, batch: list[Inbound]) -> Effects:
        """The whole micro-batch, when no record has to be looked up in the log (``LogPositions.settle``)."""
        plan = self.plan(batch)
        self.positions.settle(plan, {})
        return self.apply(plan)

    def plan(self, batch: list[Inbound]) -> Plan:
        """Decode the batch and group its rows by model; bad records become dead letters."""
        plan = Plan(batch, self.clock(), Effects())
        arriving: dict[int, int] = {}  # new models admitted in this batch, per partition
        for record in batch:
            if record.topic == self.settings.topic_ticks:
                plan.ticks[record.partition] = record
                continue
            if record.topic == self.settings.topic_labels:
                plan.labels.append(record)
                continue
            self.counters.messages += 1
            rows = self._decode(record, plan.now_s, plan.effects)
            if rows is None:
                continue
            key = state_key(rows.model, rows.version)
            if partition_for_key(rows.model.encode(), self.settings.partitions) != record.partition:
                # Not keyed by model: send it on to the partition that owns the model's state.
                plan.effects.messages.append(
                    Outbound(self.settings.topic_predictions, rows.model.encode(), record.value))
                self.counters.forwarded += 1
                continue
            if key not in self._states and not self._room_for(record.partition, key, plan.groups, arriving):
                self.counters.models_refused += 1
                self._reject(record, f"too many models: this worker keeps at most {self.settings.max_models}",
                             plan.now_s, plan.effects)
                continue
            plan.groups.setdefault((record.partition, key), []).append((record, rows))
        return plan

    def _room_for(self, partition: int, key: bytes, groups: dict[tuple[int, bytes], Any],
                  arriving: dict[int, int]) -> bool:
        """Whether a model may have state here: each partition holds its share of STREAMER_MAX_MODELS."""
        index = self._index(partition)
        if (partition, key) in groups or key in index:
            return True
        admitted = len(index) + arriving.get(partition, 0) < max(1, -(-self.settings.max_models // self.settings.partitions))
        arriving[partition] = arriving.get(partition, 0) + admitted
        return admitted

    # -- applying the batch --------------------------------------------------------------------

    def apply(self, plan: Plan) -> Effects:
        """Fold the planned rows into their models' windows and close what is due."""
        now_s, effects = plan.now_s, plan.effects
        for (partition, key), items in plan.groups.items():
            self._apply(partition, key, items, now_s, effects)
        self.ground_truth.on_labels(plan.labels, now_s, effects, self._open_starts)
        for partition, tick in plan.ticks.items():
            for key in list(self._index(partition)):
                model, version = key.decode().split("\x1f", 1)
                state = self._state(key, model, version)
                # Silence counts from when this worker read the partition's backlog, like the idle close.
                origin_s = self.catch_up.idle_origin_s(partition, now_s)
                silence = None if idle_for_s(state.last_seen_wall_s, origin_s, now_s) < self.settings.missing_after_seconds \
                    else check_silence(state, now_s, self.settings.missing_after_seconds)
                if silence is not None:
                    self._emit(state, silence, effects)
                self._close_due(partition, key, state, tick, now_s, effects, write=silence is not None)
        return effects

    def _decode(self, record: Inbound, now_s: float, effects: Effects) -> PredictionRows | None:
        try:
            rows = parse_prediction_message(record.value, record.timestamp_s, max_bytes=self.settings.max_message_bytes,
                                            feature_names=self._feature_names)
            widest = max(map(len, rows.features), default=0)
            if widest > self.settings.max_features:
                raise InvalidEventError(f"an event has {widest} features, more than the limit of "
                                        f"{self.settings.max_features}")
            if len(rows) and max(rows.timestamps_s) > now_s + MAX_FUTURE_SECONDS:
                raise InvalidEventError(f"timestamp {format_timestamp(max(rows.timestamps_s))} is more than a day "
                                        "ahead of the worker's clock")
            return rows
        except InvalidEventError as exc:
            self._reject(record, str(exc), now_s, effects)
            return None

    def _reject(self, record: Inbound, reason: str, now_s: float, effects: Effects) -> None:
        self.counters.dead_letters += 1
        label = dead_letter_reason(reason)
        self.counters.dead_letter_reasons[label] = self.counters.dead_letter_reasons.get(label, 0) + 1
        effects.messages.append(Outbound(self.settings.topic_dead_letters, record.key, dead_letter(
            reason, record.topic, record.partition, record.offset, record.value, now_s)))

    def _feature_names(self, model: str, version: str) -> list[str] | None:
        profile = self.registry.lookup(model, version)
        return list(profile.features) if profile else None

    def _apply(self, partition: int, key: bytes, items: list[tuple[Inbound, PredictionRows]], now_s: float,
               effects: Effects) -> None:
        first_rows = items[0][1]
        state = self._state(key, first_rows.model, first_rows.version)
        if key not in self._index(partition):
            self._index(partition).append(key)
            index_value = orjson.dumps([k.decode() for k in self._index(partition)])
            effects.writes.append(StateWrite(TABLE_INDEX, str(partition).encode(), index_value, items[-1][0].handle))
        fresh = PredictionRows.empty(first_rows.model, first_rows.version)
        for record, rows in items:
            if state.is_applied(partition, record.offset):
                self.counters.rows_duplicate += len(rows)
                continue
            fresh.extend(rows)
            state.mark_applied(partition, record.offset, RecordMark.of(record.value, record.timestamp_s))
        if len(fresh):
            returned = check_return(state, now_s)
            if returned is not None:
                self._emit(state, returned, effects)
            reference = self.registry.lookup(fresh.model, fresh.version) or self._baseline(state)
            late = state.ingest(fresh, reference.layout() if reference else EMPTY_LAYOUT, self.rules, now_s)
            self.counters.rows_accepted += len(fresh) - late
            self.counters.rows_late += late
            self.ground_truth.on_predictions(fresh, items[-1][0].handle, now_s, effects, self._open_starts)
        self._close_due(partition, key, state, items[-1][0], now_s, effects, write=True)

    def _close_due(self, partition: int, key: bytes, state: ModelState, event: Inbound, now_s: float,
                   effects: Effects, write: bool) -> None:
        closed = state.due_windows(self.rules, now_s, self.catch_up.idle_origin_s(partition, now_s))
        for window in closed:
            self._close(key, state, window, now_s, effects)
        if closed or write:
            effects.writes.append(StateWrite(TABLE_MODELS, key, state.to_bytes(), event.handle))
        sent_s, events_total, late_events = self._status_sent.get(key, (-math.inf, -1, -1))
        changed = (events_total, late_events) != (state.events_total, state.late_events)
        if closed or (changed and now_s - sent_s >= STATUS_INTERVAL_SECONDS) or now_s - sent_s >= STATUS_HEARTBEAT_SECONDS:
            self._status_sent[key] = (now_s, state.events_total, state.late_events)
            status = self.status(state, now_s, self._open_window_summaries(key, state, now_s))
            effects.messages.append(Outbound(self.settings.topic_status, key, orjson.dumps(status)))

    def _open_starts(self, model: str, version: str) -> set[float]:
        return set(self._state(state_key(model, version), model, version).open_windows)

    # -- window close --------------------------------------------------------------------------

    def _baseline(self, state: ModelState) -> ReferenceProfile | None:
        document = state.baseline_profile_json
        if document is None:
            return None
        key = state_key(state.model, state.version)
        cached = self._baselines.get(key)
        if cached is None or cached[0] is not document:
            cached = self._baselines[key] = (document, ReferenceProfile.from_json(document))
        return cached[1]

    def _reference_for(self, state: ModelState) -> tuple[ReferenceProfile | None, str]:
        registered = self.registry.lookup(state.model, state.version)
        if registered is not None:
            return registered, "registered"
        baseline = self._baseline(state)
        return (baseline, "baseline") if baseline is not None else (None, "collecting")

    def _close(self, key: bytes, state: ModelState, window: WindowAccumulator, now_s: float,
               effects: Effects) -> None:
        reference, source = self._reference_for(state)
        closed_by = "watermark" if window.end_s + self.rules.allowed_lateness_seconds <= state.watermark_s else "idle"
        summary = summarize(window, reference, self.settings.drift_policy(state.model), model=state.model,
                            version=state.version, reference_source=source, closed_by=closed_by)
        summary.update(self.ground_truth.window_sections(state.model, state.version, window.start_s))
        if reference is None and window.rows:
            self._collect_baseline(state, window, now_s)
            summary["baseline_progress"] = f"{state.baseline_windows}/{self.settings.baseline_windows}"
        full = closed_by == "watermark" and state.last_window_end_s == window.start_s
        alerts = window_alerts(state, summary, window, full=full, settings=self.settings, now_s=now_s)
        state.last_status = summary["status"]
        state.last_window_end_s = window.end_s
        self.counters.windows_closed += 1
        self.counters.features_dropped += window.dropped_features
        effects.messages.append(Outbound(self.settings.topic_windows, key, orjson.dumps(summary)))
        for alert in alerts:
            self._emit(state, alert, effects)

    def _emit(self, state: ModelState, alert: Alert, effects: Effects) -> None:
        self.counters.alerts += 1
        effects.messages.append(Outbound(self.settings.topic_alerts, state.model.encode(), orjson.dumps(alert)))

    def _collect_baseline(self, state: ModelState, window: WindowAccumulator, now_s: float) -> None:
        if state.baseline is None:
            state.baseline = WindowAccumulator.from_bytes(window.to_bytes())
        else:
            state.baseline.merge(window)
        state.baseline_windows += 1
        if state.baseline_windows >= self.settings.baseline_windows:
            source = (f"baseline: {state.baseline_windows} window(s) from "
                      f"{format_timestamp(state.baseline.start_s)} to {format_timestamp(state.baseline.end_s)}")
            profile = ReferenceProfile.from_window(state.model, state.version, state.baseline, source)
            state.baseline_profile_json = profile.to_json()
            state.baseline = None
            for open_window in state.open_windows.values():
                open_window.adopt_bins(profile.layout())

    # -- status --------------------------------------------------------------------------------

    def _open_window_summaries(self, key: bytes, state: ModelState, now_s: float) -> list[dict[str, Any]]:
        """Summaries of the open windows, recomputed at most every OPEN_WINDOW_REFRESH_SECONDS."""
        starts = sorted(state.open_windows)
        cached = self._open_summaries.get(key)
        if cached is not None and cached[1] == starts and (
                now_s - cached[0] < OPEN_WINDOW_REFRESH_SECONDS or not self._take_refresh(now_s)):
            return cached[2]
        reference, source = self._reference_for(state)
        summaries = [
            {**summarize(state.open_windows[start], reference, self.settings.drift_policy(state.model),
                         model=state.model, version=state.version, reference_source=source, closed_by=None),
             **self.ground_truth.window_sections(state.model, state.version, start), "computed_at": format_timestamp(now_s)}
            for start in starts
        ]
        self._open_summaries[key] = (now_s, starts, summaries)
        return summaries

    def _take_refresh(self, now_s: float) -> bool:
        """One token of the open-window refresh budget, if any is left this second."""
        if now_s - self._refresh_budget_s >= 1.0:
            self._refresh_budget_s, self._refresh_budget = now_s, OPEN_WINDOW_REFRESHES_PER_SECOND
        if self._refresh_budget <= 0:
            return False
        self._refresh_budget -= 1
        return True

    def status(self, state: ModelState, now_s: float, open_windows: list[dict[str, Any]]) -> dict[str, Any]:
        _, source = self._reference_for(state)
        status = state.last_status
        if source == "collecting":
            status = "baseline"
        elif status == "baseline":
            status = "ok"  # the baseline is complete; the next window closes with a real status
        status = "no_data" if state.missing_alert_id else worst_status(status, (a["kind"] for a in open_alerts(state)))
        return {
            "model": state.model, "version": state.version, "status": status,
            "events_total": state.events_total, "late_events": state.late_events,
            "last_window_end": format_timestamp(state.last_window_end_s) if state.last_window_end_s else None,
            "last_event_at": format_timestamp(state.watermark_s) if math.isfinite(state.watermark_s) else None,
            "reference": source, "baseline_windows": state.baseline_windows,
            "open_windows": open_windows, "updated_at": format_timestamp(now_s), "updated_at_s": now_s,
            "active_alerts": open_alerts(state),
        }
