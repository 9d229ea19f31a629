"""The `streamer` command line (CONTRACT 2)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import click

from streamer.cli.alerts import alerts
from streamer.cli.config_check import config_group
from streamer.cli.demo import demo
from streamer.cli.reference import reference_group
from streamer.cli.send import send
from streamer.cli.status import status
from streamer.errors import StreamerError


class StreamerGroup(click.Group):
    """Expected failures print one line and exit 1, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.invoked_subcommand != "worker":
            # aiokafka logs every failed connection attempt; the command says what went wrong once.
            logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        try:
            return super().invoke(ctx)
        except StreamerError as exc:
            click.echo(f"streamer: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)


@click.group(cls=StreamerGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """streamer: real-time model monitoring over Kafka."""


@cli.command()
@click.option("--web-port", type=click.IntRange(1, 65535), default=None, help="HTTP port (default STREAMER_WEB_PORT).")
@click.option("--data-dir", default=None, help="Table state directory (default STREAMER_DATA_DIR).")
@click.option("--loglevel", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def worker(web_port: int | None, data_dir: str | None, loglevel: str) -> None:
    """Run one worker replica."""
    if web_port is not None:
        os.environ["STREAMER_WEB_PORT"] = str(web_port)
    if data_dir is not None:
        os.environ["STREAMER_DATA_DIR"] = data_dir
    from streamer.cli.watchdog import StoppableWorker
    from streamer.config import load_settings
    from streamer.kafka.topics import ensure_topics
    from streamer.topology import create_app

    settings = load_settings()
    asyncio.run(ensure_topics(settings))
    os.makedirs(settings.data_dir, exist_ok=True)
    app = create_app(settings)
    StoppableWorker(app, timeout_s=settings.shutdown_timeout_seconds, loglevel=loglevel,
                    quiet=True).execute_from_commandline()


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=9092, help="Port on 127.0.0.1.")
def broker(port: int) -> None:
    """Run the embedded development broker (memory-only) in the foreground."""
    from streamer.broker import broker_command

    command = broker_command(port)
    click.echo(f"streamer: embedded broker (memory-only, for development) on 127.0.0.1:{port}", err=True)
    os.execv(command[0], command)


cli.add_command(reference_group)
cli.add_command(send)
cli.add_command(alerts)
cli.add_command(status)
cli.add_command(demo)
cli.add_command(config_group)


def main() -> None:
    cli(prog_name="streamer")


if __name__ == "__main__":
    main()
