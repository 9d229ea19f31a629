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

from streamer.alerts.missing import check_return, check_silence
from streamer.alerts.rules import Alert
from streamer.batch import Effects, Inbound, Outbound, PipelineCounters, Plan, StateWrite, state_key
from streamer.config import Settings
from streamer.errors import InvalidEventError
from streamer.events.dead_letters import dead_letter, dead_letter_reason
from streamer.events.parse import parse_prediction_message
from streamer.events.rows import PredictionRows
from streamer.events.single import decode_singles
from streamer.events.timestamps import format_timestamp
from streamer.kafka.topics import partition_for_key
from streamer.labels.stage import GroundTruth
from streamer.reference.registry import ReferenceRegistry
from streamer.windows import shards
from streamer.windows.catch_up import CatchUp, idle_for_s
from streamer.windows.closing import WindowCloser
from streamer.windows.fold import unapplied_rows
from streamer.windows.merge import MergeStage
from streamer.windows.model_state import EMPTY_LAYOUT, ModelState, WindowRules
from streamer.windows.open_summaries import OpenWindowSummaries
from streamer.windows.positions import LogPositions
from streamer.windows.resident import evictable, next_tick_s
from streamer.windows.status import model_status
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
# and only while they took less than OPEN_WINDOW_TIME_SHARE of the last second, so that a worker with
# thousands of models does not spend its time on them; counts in the status are always current.
OPEN_WINDOW_REFRESH_SECONDS = 5.0
OPEN_WINDOW_TIME_SHARE = 0.05
TABLE_MODELS = "model_state"
#: A collected baseline's profile JSON is kept in TABLE_MODELS under this prefix + the model's state key:
#: written once, when it forms, instead of with every state write (README, "A collected baseline is written
#: once"). The same table, so the same changelog partition: the profile's record precedes the state record
#: that says it formed, and a recovery that restores the flag restores the profile. No model name starts
#: with a NUL byte (streamer.events.fields.MODEL_NAME).
BASELINE_KEY_PREFIX = b"\x00baseline\x1f"


def baseline_key(key: bytes) -> bytes:
    """Where the formed baseline profile of the model with state key ``key`` is kept in TABLE_MODELS."""
    return BASELINE_KEY_PREFIX + key

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
        # Models dropped from memory once their windows closed: when a tick next has work for them.
        self._tick_due_s: dict[bytes, float] = {}
        self._touched: set[bytes] = set()  # models of this batch, dropped from memory at its end if idle
        self._indexes: dict[int, list[bytes]] = {}  # write-through cache of partition_models
        self._status_sent: dict[bytes, tuple[float, int, int]] = {}  # time, events_total, late_events
        self._open_summaries = OpenWindowSummaries(OPEN_WINDOW_REFRESH_SECONDS, OPEN_WINDOW_TIME_SHARE)
        self.positions = LogPositions(settings.topic_predictions, self._state, self.counters)
        self.ground_truth = GroundTruth(settings, registry, load)  # labels, performance, concept drift
        self.hot = shards.HotModels(shards.parse_hot_models(settings.hot_models), settings.partitions)  # README "Hot models"
        self.merges = MergeStage(self.hot, settings.hot_model_wait_seconds, load)
        self.catch_up = CatchUp()  # no idle close nor silence while reading a backlog; fed by the topology
        self.closer = WindowCloser(settings, registry, self.rules, self.ground_truth, self.merges, self.counters,
                                   self._emit, lambda key: load(TABLE_MODELS, baseline_key(key)))  # a batch's closes, together

    def worker_report(self) -> dict[str, Any]:
        """Counters and cardinality limits of this replica, for the API."""
        return {"counters": asdict(self.counters),
                "limits": {"max_models": self.settings.max_models, "max_features": self.settings.max_features,
                           "max_categories": self.settings.max_categories},
                "models_with_state": sum(len(index) for index in self._indexes.values()),
                "models_cached": len(self._states)}

    def forget(self) -> None:
        """Drop cached state: after a rebalance the tables are the truth."""
        self.ground_truth.forget()
        self.positions.forget()
        self.merges.forget()
        self._states.clear()
        self._tick_due_s.clear()
        self._status_sent.clear()
        self.closer.forget()
        self._indexes.clear()
        self._open_summaries.clear()

    # -- state access --------------------------------------------------------------------------

    def _state(self, key: bytes, model: str, version: str) -> ModelState:
        state = self._states.get(key)
        if state is None:
            stored = self.load(TABLE_MODELS, key)
            state = ModelState.from_bytes(stored) if stored else ModelState(model, version)
            self._states[key] = state
            self._tick_due_s.pop(key, None)
            self._touched.add(key)  # dropped again at the end of the batch if it has nothing open
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
        owners: dict[str, int] = {}  # model -> the partition that owns its state
        topic, settings = self.settings.topic_predictions, self.settings  # plain single events decoded at once:
        singles = decode_singles(batch, lambda r: r.topic == topic and self.hot.spread(r) is None, latest_s=plan.now_s
                                 + MAX_FUTURE_SECONDS, max_bytes=settings.max_message_bytes, max_features=settings.max_features)
        for index, record in enumerate(batch):
            if record.topic == self.settings.topic_ticks:
                plan.ticks[record.partition] = record
                continue
            if record.topic == self.settings.topic_labels:
                plan.labels.append(record)
                continue
            if record.topic == self.settings.topic_partials:
                plan.partials.append(record)
                continue
            self.counters.messages += 1
            spread_to = self.hot.spread(record)
            if spread_to is not None:  # a hot model's record, on to its shard undecoded
                plan.effects.messages.append(Outbound(record.topic, record.key, record.value, spread_to,
                                                      shards.origin_headers(record)))
                self.counters.forwarded += 1
                continue
            rows = singles.pop(index, None)
            rows = self._decode(record, plan.now_s, plan.effects) if rows is None else rows
            if rows is None:
                continue
            shard = self.hot.shard_at(rows.model, record.partition)
            key = self.hot.state_key(rows.model, rows.version, shard)
            owner = owners.get(rows.model)
            if owner is None:
                owner = owners[rows.model] = partition_for_key(rows.model.encode(), self.settings.partitions)
            if shard is None and owner != record.partition:
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
        self._finish_closes(now_s, effects)
        self.ground_truth.on_labels(plan.labels, now_s, effects, self._open_starts)
        self.merges.on_partials(plan.partials, self, now_s, effects)
        for partition, tick in plan.ticks.items():
            for key in list(self._index(partition)):
                if key not in self._states and self._tick_due_s.get(key, -math.inf) > now_s:
                    continue  # in the table only, and nothing for a tick to do yet
                self._touched.add(key)
                model, version, shard = shards.split_key(key)
                state = self._state(key, model, version)
                # Silence counts from when this worker read the partition's backlog, like the idle close.
                origin_s = self.catch_up.idle_origin_s(partition, now_s)
                silent = shard is None and \
                    idle_for_s(state.last_seen_wall_s, origin_s, now_s) >= self.settings.missing_after_seconds
                silence = check_silence(state, now_s, self.settings.missing_after_seconds) if silent else None
                if silence is not None:
                    self._emit(state, silence, effects)
                self._close_due(partition, key, state, tick, now_s, effects, write=silence is not None)
            for model in {key.split(b"\x1f", 1)[0].decode() for key in self._index(partition)}:
                self.ground_truth.sweep(model, tick.handle, effects)  # pending rows no row touches still expire
        self._finish_closes(now_s, effects)
        self.ground_truth.flush(effects)  # each touched join block written once per micro-batch
        self._evict_idle()
        return effects

    def _evict_idle(self) -> None:
        """Drop the models of this batch whose windows are all closed: their state is in this batch's writes."""
        for key in self._touched:
            state = self._states.get(key)
            # A hot model's home waits for its shards' partials (windows/merge.py): it stays.
            if state is not None and evictable(state) and self.hot.count(state.model) == 1:
                del self._states[key]
                self._status_sent.pop(key, None)
                self.closer.drop(key)
                self._open_summaries.drop(key)
                self._tick_due_s[key] = next_tick_s(state, idle_close_seconds=self.rules.idle_close_seconds,
                                                    missing_after_seconds=self.settings.missing_after_seconds)
        self._touched.clear()

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

    def _emit(self, state: ModelState, alert: Alert, effects: Effects) -> None:
        self.counters.alerts += 1
        effects.messages.append(Outbound(self.settings.topic_alerts, state.model.encode(), orjson.dumps(alert)))

    def _feature_names(self, model: str, version: str) -> list[str] | None:
        profile = self.registry.lookup(model, version)
        return list(profile.features) if profile else None

    def _apply(self, partition: int, key: bytes, items: list[tuple[Inbound, PredictionRows]], now_s: float,
               effects: Effects) -> None:
        first_rows = items[0][1]
        state = self._state(key, first_rows.model, first_rows.version)
        self._touched.add(key)
        self.remember(partition, key, items[-1][0].handle, effects)
        fresh, duplicates = unapplied_rows(state, partition, items)
        self.counters.rows_duplicate += duplicates
        if len(fresh):
            returned = check_return(state, now_s)
            if returned is not None:
                self._emit(state, returned, effects)
            reference = self.registry.lookup(fresh.model, fresh.version) or self.closer.baseline(state)
            late = state.ingest(fresh, reference.layout() if reference else EMPTY_LAYOUT, self.rules, now_s)
            self.counters.rows_accepted += len(fresh) - late
            self.counters.rows_late += late
        # Redelivered records too: the ground-truth records keep their own fences (streamer.labels.fences).
        self.ground_truth.on_predictions(items, now_s, effects, self._open_starts)
        self._close_due(partition, key, state, items[-1][0], now_s, effects, write=True)

    def remember(self, partition: int, key: bytes, handle: Any, effects: Effects) -> None:
        """List a state key in its partition's index (the tick visits the keys listed there)."""
        if key not in self._index(partition):
            self._index(partition).append(key)
            index_value = orjson.dumps([k.decode() for k in self._index(partition)])
            effects.writes.append(StateWrite(TABLE_INDEX, str(partition).encode(), index_value, handle))

    def state_of(self, key: bytes, model: str, version: str) -> ModelState:
        return self._state(key, model, version)

    def close_due(self, partition: int, key: bytes, state: ModelState, event: Inbound, now_s: float,
                  effects: Effects) -> None:
        # At once: the merge stage's next partial of this model must see this close (windows/merge.py).
        self._close_due(partition, key, state, event, now_s, effects, write=True)
        self._finish_closes(now_s, effects)

    def _close_due(self, partition: int, key: bytes, state: ModelState, event: Inbound, now_s: float,
                   effects: Effects, write: bool) -> None:
        closed = state.due_windows(self.rules, now_s, self.catch_up.idle_origin_s(partition, now_s))
        if shards.is_shard_key(key):  # a hot model's shard: its windows go to the merge stage, its status is the model's
            effects.messages += shards.partial_messages(self.hot, self.settings.topic_partials, key, state, closed)
            if closed or write:
                self._write_state(key, state, event.handle, effects)
            return
        if self.hot.count(state.model) > 1:
            reference = self.closer.reference_for(state)[0]
            closed += self.merges.ready(key, state, reference.layout() if reference else None, now_s, effects,
                                        event.handle)
        if closed:  # closed with the batch's other closes, then written and reported (_finish_closes)
            self.closer.queue(key, state, closed, event.handle)
        else:
            self._after_closes(key, state, event.handle, now_s, effects, closed=False, write=write)

    def _finish_closes(self, now_s: float, effects: Effects) -> None:
        for key, state, handle in self.closer.flush(now_s, effects):
            self._after_closes(key, state, handle, now_s, effects, closed=True, write=True)

    def _after_closes(self, key: bytes, state: ModelState, handle: Any, now_s: float, effects: Effects, *,
                      closed: bool, write: bool) -> None:
        """The model's state write and, when due, its status."""
        if closed or write:
            self._write_state(key, state, handle, effects)
        sent_s, events_total, late_events = self._status_sent.get(key, (-math.inf, -1, -1))
        changed = (events_total, late_events) != (state.events_total, state.late_events)
        if closed or (changed and now_s - sent_s >= STATUS_INTERVAL_SECONDS) or now_s - sent_s >= STATUS_HEARTBEAT_SECONDS:
            self._status_sent[key] = (now_s, state.events_total, state.late_events)
            status = model_status(state, self.closer.reference_source(state), now_s,
                                  self._open_window_summaries(key, state, now_s))
            effects.messages.append(Outbound(self.settings.topic_status, key, orjson.dumps(status)))

    def _write_state(self, key: bytes, state: ModelState, handle: Any, effects: Effects) -> None:
        """The model's state record, preceded by its baseline profile the one time that is new to its table."""
        if state.baseline_unstored_json is not None:
            # Parsed and kept first: the table has the profile only once this batch's writes are carried out,
            # and the rest of the batch may read it (closes of other rounds, open-window drift in the status).
            self.closer.baseline(state)
            effects.writes.append(StateWrite(TABLE_MODELS, baseline_key(key), state.baseline_unstored_json, handle))
            state.baseline_unstored_json = None
        effects.writes.append(StateWrite(TABLE_MODELS, key, state.to_bytes(), handle))

    def _open_starts(self, model: str, version: str) -> set[float]:
        return set(self._state(state_key(model, version), model, version).open_windows)

    # -- status --------------------------------------------------------------------------------

    def _open_window_summaries(self, key: bytes, state: ModelState, now_s: float) -> list[dict[str, Any]]:
        """Summaries of the open windows, full ones within the refresh budget (streamer.windows.open_summaries)."""
        def full(start: float) -> dict[str, Any]:
            reference, source = self.closer.reference_for(state)
            return {**summarize(state.open_windows[start], reference, self.settings.drift_policy(state.model),
                                model=state.model, version=state.version, reference_source=source, closed_by=None),
                    **self.ground_truth.window_sections(state.model, state.version, start),
                    "computed_at": format_timestamp(now_s)}
        return self._open_summaries.summaries(key, state.model, state.version, state.open_windows, now_s, full)
