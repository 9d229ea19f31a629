"""`streamer status`: the models' current state as a table, read from the web view."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import click

from streamer.errors import StreamerError


@click.command("status")
@click.option("--url", default=None, help="Web view URL (default http://127.0.0.1:STREAMER_WEB_PORT).")
def status(url: str | None) -> None:
    """Show every model's status."""
    base = url or f"http://127.0.0.1:{os.environ.get('STREAMER_WEB_PORT', '6066')}"
    request = urllib.request.Request(f"{base.rstrip('/')}/api/v1/models")
    token = os.environ.get("STREAMER_API_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            models = json.load(response)["models"]
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise StreamerError(f"cannot read {base}/api/v1/models: {exc}") from exc
    header = ("MODEL", "VERSION", "STATUS", "EVENTS", "LAST WINDOW END", "REFERENCE")
    table = [header] + [(m["model"], m["version"], m["status"], str(m["events_total"]),
                         m.get("last_window_end") or "-", m.get("reference") or "-") for m in models]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())
    if not models:
        click.echo("(no model has sent events yet)")
