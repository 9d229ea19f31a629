"""The Faust internals topology.py relies on are still there (faust-streaming is pinned for them)."""

from __future__ import annotations

import contextvars

import faust.streams
from faust.web.base import BlueprintManager

from streamer.config import Settings
from streamer.topology import create_app


def test_faust_current_event_is_a_context_variable() -> None:
    # Table writes from a take_events() batch set this variable to pick the changelog partition.
    assert isinstance(faust.streams._current_event, contextvars.ContextVar)
    assert faust.streams.current_event() is None


def test_the_app_declares_its_tables_agent_and_api(tmp_path) -> None:
    app = create_app(Settings(data_dir=str(tmp_path), partitions=4))
    assert {"model_state", "partition_models"} <= set(app.tables)
    assert all(table.partitions == 4 for table in app.tables.values())
    assert app.api is not None
    assert isinstance(BlueprintManager([]), BlueprintManager)


def test_membership_settings_reach_the_consumer(tmp_path) -> None:
    settings = Settings(data_dir=str(tmp_path), instance_id="streamer-2", standby_replicas=1,
                        session_timeout_seconds=20.0, heartbeat_interval_seconds=2.0)
    conf = create_app(settings).conf
    assert conf.consumer_group_instance_id == "streamer-2"
    assert conf.table_standby_replicas == 1
    assert (conf.broker_session_timeout, conf.broker_heartbeat_interval) == (20.0, 2.0)
