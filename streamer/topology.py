"""The Faust app and its agents, wired together; read top to bottom.

    predictions ─┐                          ┌─> <app>-windows   (closed-window summaries)
                 ├─> monitor agent ─────────┼─> alerts
    <app>-ticks ─┘   (Pipeline per batch)   ├─> <app>-model-status
        ^                                   ├─> dead-letters
        └── tick timer (0.5 s, per owned      └─> predictions (records re-keyed to their model's partition)
            partition: idle windows close)
    references, alerts, <app>-windows, <app>-model-status, <app>-notifications ──> TopicMirror ──> web API
    alerts ──> notify agent ──> channels (streamer/notify/wiring.py; only with channels or policies configured)

Faust's windowed tables are not used: their windows expire by wall clock, fire for one partition
only and never fire after recovery. Each model's windows live in one ``model_state`` table entry,
written once per micro-batch under one of that model's events (which picks the changelog partition);
a baseline the model collects goes once to the same table, under its own key and the same event.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from pathlib import Path
from typing import Any

import faust
from faust.streams import _current_event  # internal: pinned faust-streaming version, covered by tests
from faust.web.base import BlueprintManager

from streamer.batch import Effects, Inbound
from streamer.config import Settings
from streamer.gc_tuning import settle_heap
from streamer.kafka import bulk_stream
from streamer.kafka.connection import faust_credentials
from streamer.kafka.log_ends import LogEnds, with_true_ends
from streamer.kafka.mirror import TopicMirror
from streamer.kafka.record_reader import RecordReader
from streamer.labels.stage import TABLE_GROUND_TRUTH
from streamer.notify.log import NotificationLog
from streamer.notify.wiring import add_notifier
from streamer.pipeline import TABLE_INDEX, TABLE_MODELS, Pipeline
from streamer.reference.registry import ReferenceRegistry
from streamer.web.api import Api
from streamer.web.cluster_view import AlertLog, StatusBoard, WindowHistory
from streamer.web.metrics import FamiliesCollector, metrics_registry, render
from streamer.web.runtime_metrics import AlertCounts, BatchStats, ConsumerPositions, RuntimeCollector
from streamer.windows.merge import TABLE_PARTIALS
from streamer.windows.shards import origin_of

TICK_INTERVAL_SECONDS = 0.5
APP_VERSION = 1  # Faust keeps the tables of this version under <data dir>/v<version>
# aiokafka keeps one batch per partition in flight, and Faust's default batch is 16 KiB: about one
# window summary or one state record. A burst of closes then waited on hundreds of round trips.
PRODUCER_BATCH_BYTES = 1024 * 1024


def state_dir(settings: Settings) -> Path:
    """Where the worker's RocksDB tables live."""
    return Path(settings.data_dir) / f"v{APP_VERSION}"


class StreamerApp(faust.App):
    """A Faust app that serves streamer's own HTTP API instead of Faust's built-in pages."""

    api: Api | None = None
    chunked_fetch = False  # the fetcher delivers messages a chunk at a time (streamer.kafka.bulk_stream)
    log_ends: LogEnds | None = None  # table recovery reads changelogs to their true end (streamer.kafka.log_ends)

    def _new_web(self) -> Any:
        web = super()._new_web()
        web.blueprints = BlueprintManager([])
        return web

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        if self.log_ends is not None:
            consumer.highwaters = with_true_ends(consumer.highwaters, self.log_ends)  # type: ignore[method-assign,assignment]
        return bulk_stream.deliver_in_chunks(consumer) if self.chunked_fetch else consumer

    def on_init_dependencies(self) -> Any:
        dependencies = super().on_init_dependencies()
        # Faust's Monitor sensor books every message and event in Python; streamer keeps its own
        # counters, and the monitor stays reachable as ``app.monitor`` for Faust's direct calls.
        self.sensors.remove(self.monitor)
        return dependencies

    def on_webserver_init(self, web: Any) -> None:
        if self.api is not None:
            self.api.register(web.web_app)


def create_app(settings: Settings) -> StreamerApp:
    mb = 1024 * 1024
    app = StreamerApp(
        settings.app_id,
        version=APP_VERSION,
        broker=list(settings.broker_urls),
        broker_credentials=faust_credentials(settings),
        store="rocksdb://",
        datadir=settings.data_dir,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        # The log end offset some brokers report can trail the real end; don't stop on it.
        recovery_consistency_check=False,
        producer_max_request_size=settings.max_message_bytes + 1024 * 1024,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        consumer_max_fetch_size=settings.max_message_bytes + 1024 * 1024,
        broker_max_poll_records=settings.max_poll_records,
        stream_buffer_maxsize=settings.stream_buffer_maxsize,
        consumer_group_instance_id=settings.instance_id,
        table_standby_replicas=settings.standby_replicas,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=settings.heartbeat_interval_seconds,
        broker_rebalance_timeout=settings.rebalance_timeout_seconds,
        web_router_enabled=False,
        web_tables_enabled=False,
    )
    app.chunked_fetch = settings.stream_drain == "bulk"
    app.log_ends = LogEnds(settings)
    rocksdb = {"block_cache_size": settings.rocksdb_block_cache_mb * mb,
               "write_buffer_size": settings.rocksdb_write_buffer_mb * mb, "max_write_buffer_number": 2}
    states = app.Table(TABLE_MODELS, default=None, partitions=settings.partitions,
                       key_type=bytes, value_type=bytes, options=rocksdb)
    index = app.Table(TABLE_INDEX, default=None, partitions=settings.partitions,
                      key_type=bytes, value_type=bytes, options=rocksdb)
    ground_truth = app.Table(TABLE_GROUND_TRUTH, default=None, partitions=settings.partitions,
                             key_type=bytes, value_type=bytes, options=rocksdb)
    tables = {TABLE_MODELS: states, TABLE_INDEX: index, TABLE_GROUND_TRUTH: ground_truth}
    hot = (settings.topic_partials,) if settings.hot_models else ()  # hot models' shard partials (windows/merge.py)
    if hot:
        tables[TABLE_PARTIALS] = app.Table(TABLE_PARTIALS, default=None, partitions=settings.partitions,
                                           key_type=bytes, value_type=bytes, options=rocksdb)
    source = app.topic(settings.topic_predictions, settings.topic_ticks, settings.topic_labels, *hot,
                       key_serializer="raw", value_serializer="raw")

    registry = ReferenceRegistry()
    status, history = StatusBoard(), WindowHistory(settings.history_windows)
    alerts, notifications = AlertLog(settings.history_alerts), NotificationLog(settings.history_alerts)
    mirror = TopicMirror(settings, {
        settings.topic_references: registry.handle_record,
        settings.topic_status: status.handle_record,
        settings.topic_windows: history.handle_record,
        settings.topic_alerts: alerts.handle_record,
        settings.topic_notifications: notifications.handle_record,
    })
    # Alert policies and notifications (streamer/notify): only when the config file asks for them.
    notify = add_notifier(app, settings, rocksdb) if settings.notify.active else None

    def load(table: str, key: bytes) -> bytes | None:
        # Faust reads a key from the database of the current event's partition, and a micro-batch's
        # current event may be a record of another partition (a tick): read by key instead.
        token = _current_event.set(None)
        try:
            return tables[table].get(key)  # type: ignore[no-any-return]
        finally:
            _current_event.reset(token)

    pipeline = Pipeline(settings, registry, load=load, clock=time.time)
    reader = RecordReader(settings)
    assigned = asyncio.Event()
    batches, alert_counts, positions = BatchStats(), AlertCounts(), ConsumerPositions()

    async def send(effects: Effects) -> None:
        for write in effects.writes:
            token = _current_event.set(weakref.ref(write.handle))
            try:
                tables[write.table][write.key] = write.value
            finally:
                _current_event.reset(token)
        pending = [await app.producer.send(m.topic, m.key, m.value, m.partition, None, m.headers)
                   for m in effects.messages]
        for m in effects.messages:
            if m.topic == settings.topic_alerts:
                alert_counts.count(m.value)
        if pending:
            await asyncio.gather(*pending)

    @app.agent(source)
    async def monitor(stream: Any) -> None:
        await mirror.loaded.wait()  # references first, or models would start baselines they don't need
        settle_heap()  # the same thresholds each time the agent starts (streamer/gc_tuning.py)
        size, within_s = settings.batch_max_events, settings.batch_within_seconds
        # bulk_stream drains Faust's queue a batch at a time (Faust's take_events costs more per event than the pipeline)
        batches_in = bulk_stream.drain(stream, size, within_s) if settings.stream_drain == "bulk" else \
            stream.take_events(size, within_s)
        async for events in batches_in:
            batch = [Inbound(e.message.topic, e.message.partition, e.message.offset, e.message.key,
                             e.message.value, e.message.timestamp, e, origin_of(e.message.headers)) for e in events]
            started = time.perf_counter()
            plan = pipeline.plan(batch)
            planned = time.perf_counter()
            lookups = pipeline.positions.lookups(plan)  # redelivered, or is the log a new one?
            pipeline.positions.settle(plan, await reader.marks(settings.topic_predictions, lookups) if lookups else {})
            settled = time.perf_counter()
            effects = pipeline.apply(plan)
            applied = time.perf_counter()
            await send(effects)
            batches.update({"plan": planned - started, "settle": settled - planned, "apply": applied - settled,
                            "send": time.perf_counter() - applied}, len(batch))
            for record in batch:
                if record.topic == settings.topic_predictions:
                    positions.processed(record.partition, record.offset)
            observe_catch_up()

    @app.timer(interval=TICK_INTERVAL_SECONDS)
    async def tick() -> None:
        owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.topic_predictions}
        for partition in sorted(owned):
            await app.producer.send(settings.topic_ticks, None, b"{}", partition, None, None)

    def observe_catch_up() -> None:
        """Tell the pipeline how far the agent is behind the log end of each owned partition (idle close, silence)."""
        now_s = time.time()
        if app.rebalancing or app.in_recovery:
            pipeline.catch_up.recovering(now_s)
        for partition, end in highwaters().items():
            pipeline.catch_up.observe(partition, positions.next_offset.get(partition),
                                      positions.consumer_offset.get(partition), end, now_s)

    @app.timer(interval=1.0)
    async def read_positions() -> None:
        """The consumer's position of owned predictions partitions the agent has not processed yet (for the lag)."""
        for tp in app.assignor.assigned_actives():
            if tp.topic == settings.topic_predictions and tp.partition not in positions.next_offset:
                try:
                    offset = await app.consumer.position(tp)
                except Exception:  # noqa: BLE001  during a rebalance the partition can be gone: no figure this time
                    continue
                if offset is not None:
                    positions.consumer_at(tp.partition, offset)
        observe_catch_up()

    @app.task
    async def start_mirror() -> None:
        await mirror.start()

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def stop_mirror(sender: Any, **kwargs: Any) -> None:
        await mirror.stop()
        await reader.stop()
        if app.log_ends is not None:
            await app.log_ends.stop()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        pipeline.forget()
        positions.forget()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned_tps: Any = None, **kwargs: Any) -> None:
        pipeline.forget()
        pipeline.catch_up.assigned({tp.partition for tp in assigned_tps or () if tp.topic == settings.topic_predictions},
                                   time.time())
        assigned.set()

    def readiness(scope: str) -> list[str]:
        """Why this replica is not ready: for ``web`` (answering the API), or as a ``worker`` (the default)."""
        reasons = []
        if not mirror.loaded.is_set():
            reasons.append("reading references, status and history topics")
        if scope == "web":
            return reasons  # through a rebalance the API keeps answering from the mirrors
        if not assigned.is_set():
            reasons.append("joining the consumer group")
        recovery: Any = app.tables.recovery  # type: ignore[attr-defined]
        if app.rebalancing or app.in_recovery or not recovery.completed.is_set():
            reasons.append("recovering tables")
        return reasons

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        await app.producer.send_and_wait(topic, key, value, None, None, None)

    def highwaters() -> dict[int, int | None]:
        """The log end the consumer last heard of, per owned predictions partition (None: not yet known)."""
        found: dict[int, int | None] = {}
        for tp in app.assignor.assigned_actives():
            if tp.topic == settings.topic_predictions:
                try:
                    found[tp.partition] = app.consumer.highwater(tp)
                except Exception:  # noqa: BLE001  a scrape during a rebalance (not assigned, not started) has no figure
                    found[tp.partition] = None
        return found

    exposition = metrics_registry(lambda: pipeline.counters, status, lambda: pipeline.ground_truth.counters, history,
                                RuntimeCollector(batches, alert_counts, positions, highwaters),
                                *([FamiliesCollector(notify.metric_families)] if notify else []))

    def metrics() -> str:
        return render(exposition)

    app.api = Api(settings.api_token, settings.topic_references, status, history, alerts, registry,
                  readiness, metrics, publish, lambda: mirror.fetched_at_s,
                  notifications=notifications if notify else None,
                  worker=lambda: pipeline.worker_report())
    return app
