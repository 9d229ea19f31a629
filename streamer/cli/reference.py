"""`streamer reference build`: profile a data file into a reference profile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from tqdm import tqdm

from streamer.cli.files import ColumnRoles, column_values, read_table
from streamer.cli.producer import publish_messages
from streamer.config import load_settings
from streamer.errors import InputFileError
from streamer.performance.reference import ground_truth_section
from streamer.reference.profile import ReferenceProfile


def build_profile(path: str, model: str, version: str | None, roles: ColumnRoles) -> ReferenceProfile:
    table = read_table(path)
    roles.check(table, path)
    features, outputs = {}, {}
    for name in tqdm(roles.features(table), desc="profiling features", unit="column", leave=False):
        features[name] = column_values(table, name)
    if roles.prediction:
        outputs["prediction"] = column_values(table, roles.prediction)
    if roles.proba:
        outputs["prediction_proba"] = column_values(table, roles.proba)
    profile = ReferenceProfile.from_columns(model, version, features, outputs, source=Path(path).name)
    if roles.label:
        kinds = {n: spec.kind for n, spec in profile.layout().features.items()}
        try:
            profile.ground_truth = ground_truth_section(
                column_values(table, roles.label), outputs.get("prediction"), outputs.get("prediction_proba"),
                features, kinds)
        except ValueError as exc:
            raise InputFileError(f"{path}: {exc}") from exc
    return profile


@click.group("reference")
def reference_group() -> None:
    """Reference profiles: what a model's data looked like when it was good."""


@reference_group.command("build")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", required=True, help="Model name.")
@click.option("--version", default=None, help="Model version; without it the profile serves every version.")
@click.option("--prediction", default=None, help="Column holding the model's prediction.")
@click.option("--proba", default=None, help="Column holding the positive-class score.")
@click.option("--label", default=None, help="Label column (not profiled as a feature).")
@click.option("--id", "id_", default=None, help="Request id column (not a feature).")
@click.option("--timestamp", default=None, help="Timestamp column (not a feature).")
@click.option("--exclude", multiple=True, help="Column that is not a feature (repeatable).")
@click.option("--out", default=None, help="Write the profile to this JSON file (default MODEL.reference.json).")
@click.option("--publish", is_flag=True, help="Send the profile to the references topic.")
def build(data: str, model: str, version: str | None, prediction: str | None, proba: str | None,
          label: str | None, id_: str | None, timestamp: str | None, exclude: tuple[str, ...],
          out: str | None, publish: bool) -> None:
    """Profile DATA (CSV, Parquet or JSON lines) into a reference profile."""
    roles = ColumnRoles(prediction, proba, label, id_, timestamp, None, exclude)
    profile = build_profile(data, model, version, roles)
    target = Path(out or f"{model}.reference.json")
    target.write_bytes(profile.to_json())
    click.echo(f"profiled {profile.rows} rows, {len(profile.features)} features, "
               f"{len(profile.outputs)} outputs -> {target}")
    if publish:
        settings = load_settings()
        asyncio.run(publish_messages(settings, settings.topic_references, [(profile.key.encode(), profile.to_json())]))
        click.echo(f"published to {settings.topic_references} as {profile.key!r}")
