"""`streamer config check FILE`: validate a configuration file without starting anything."""

from __future__ import annotations

import os

import click

from streamer.config import load_settings


@click.group("config")
def config_group() -> None:
    """Configuration files."""


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    """Validate FILE as STREAMER_CONFIG; list every mistake with its path in the file (exit 1)."""
    settings = load_settings({**os.environ, "STREAMER_CONFIG": file})
    notify = settings.notify
    channels = len(notify.channels) + sum(len(c) for c in notify.model_channels.values())
    retrain = "on" if notify.alerting.retrain and notify.alerting.retrain.enabled else "off"
    click.echo(f"{file}: ok ({channels} channel(s), {len(notify.alerting.routes)} global route(s), "
               f"retrain {retrain}, {len(notify.model_alerting)} model override(s))")
