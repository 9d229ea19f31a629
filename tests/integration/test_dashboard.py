"""The dashboard in a real headless browser (Debian's chromium driven by Playwright) against a real
worker that processed a drifting replay: the models, the drawn charts, the drifted features read off
the heatmap, no console errors. Screenshots are saved under docs/screenshots/."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.conftest import Broker, Deployment, get_json, new_deployment, wait_until
from tests.integration.test_pipeline import WINDOWS, replay, rows, write_csv

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def drifting(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, str]]:
    tmp = tmp_path_factory.mktemp("dashboard")
    dep = new_deployment(broker, tmp)
    url = dep.start_worker()
    rng = np.random.default_rng(7)
    write_csv(tmp / "reference.csv", rows(rng, 5000))
    for model in ("steady", "shifty"):
        result = dep.cli("reference", "build", str(tmp / "reference.csv"), "--model", model, "--prediction",
                         "prediction", "--publish")
        assert result.returncode == 0, result.stderr
        wait_until(lambda m=model: get_json(f"{url}/api/v1/models/{m}/reference")[0] == 200, 30, "reference")
    messages = []
    for model, shift_from in (("steady", None), ("shifty", 2)):
        for r in replay(rng, shift_from, {"a": 1.0, "c": 1.0}):
            messages.append((model.encode(), json.dumps({
                "model": model, "timestamp": r.pop("ts"), "prediction": r.pop("prediction"), "features": r,
                "latency_ms": float(rng.gamma(2.0, 10.0))}).encode()))
    dep.produce("STREAMER_TOPIC_PREDICTIONS", messages)
    for model in ("steady", "shifty"):
        wait_until(lambda m=model: len(get_json(f"{url}/api/v1/models/{m}/windows?limit=100")[1].get("windows", []))
                   == WINDOWS, 120, f"{WINDOWS} closed windows of {model}")
    wait_until(lambda: get_json(f"{url}/api/v1/alerts?model=shifty")[1]["alerts"], 30, "a drift alert")
    yield dep, url
    dep.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("no chromium browser at /usr/bin/chromium: install Debian's package "
                    "(apt-get install -y chromium; .ci/run does this) to run the dashboard's browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(url)
    return page, problems


def test_front_page_lists_models_with_sparklines_attention_first(drifting, browser) -> None:
    _, url = drifting
    page, problems = open_page(browser, url + "/")
    page.wait_for_selector("#models tbody tr")
    models = page.eval_on_selector_all("#models tbody tr", "rows => rows.map(r => [r.dataset.model, r.dataset.status])")
    assert [m for m, _ in models] == ["shifty", "steady"], models  # the drifted model first
    assert models[0][1] == "critical"
    assert page.locator("#models svg[data-chart=sparkline] path").count() == 2
    assert page.inner_text("#models tbody tr:first-child td.drifted") == "a, c"
    assert "drift_detected" in page.inner_text("#models tbody tr:first-child td.last")
    page.fill("#filter", "steady")
    assert page.eval_on_selector_all("#models tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.model)") == ["steady"]
    page.fill("#filter", "")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "front-page.png"), full_page=True)
    assert problems == []


def test_model_page_shows_the_drifted_features_on_the_heatmap_and_draws_charts(drifting, browser) -> None:
    _, url = drifting
    page, problems = open_page(browser, url + "/?model=shifty")
    page.wait_for_selector("#heatmap")
    detected = page.eval_on_selector_all("#heatmap tr[data-latest=detected]", "rows => rows.map(r => r.dataset.feature)")
    assert sorted(detected) == ["a", "c"]
    # Drifting since the third window: the first two windows' cells of "a" are not flagged.
    cells = page.eval_on_selector_all("#heatmap tr[data-feature=a] td.cell", "cells => cells.map(c => c.dataset.status)")
    assert cells[:2] == ["ok", "ok"] and set(cells[2:]) == {"detected"}, cells
    charts = set(page.eval_on_selector_all("svg[data-chart]", "svgs => svgs.map(s => s.dataset.chart)"))
    assert {"distribution", "effect", "pvalue", "drifted_share", "events", "latency", "alerts"} <= charts, charts
    assert page.locator("svg[data-chart=latency] path").count() >= 3  # p50, p95, p99
    assert page.locator("details[data-alert]").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "model-page.png"), full_page=True)
    # Keyboard: tab to the feature "c" and choose it with Enter.
    page.focus("#heatmap button[data-feature=c]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#heatmap tr.selected[data-feature=c]")
    assert page.inner_text("#feature-title") == "Feature c"
    page.screenshot(path=str(SCREENSHOTS / "model-page-feature-c.png"), full_page=False)
    assert problems == []


def test_schemathesis_finds_no_server_error_and_no_schema_violation(drifting, tmp_path: Path) -> None:
    """Property-based requests from the served OpenAPI description against the live worker, every check but
    one: ``positive_data_acceptance`` wants every schema-valid body accepted, but a reference profile must
    also be consistent in ways JSON Schema cannot say (its model equals the path's, a numeric column has one
    more count than edges, edges increase), so a schema-valid random profile is rightly a 400."""
    _, url = drifting
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(schemathesis), "run", f"{url}/api/v1/openapi.json", "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "25",
         "--generation-deterministic", "--request-timeout", "10", "--no-color"],
        capture_output=True, text=True, timeout=280)
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_a_live_workers_answers_match_their_models(drifting) -> None:
    """Real answers of a worker that processed drifting traffic (windows with features, drift, latency, a
    published reference profile, alerts) read through the answer models the OpenAPI description is made of."""
    from streamer.web import answers

    _, url = drifting
    for path, model in (("/api/v1/models", answers.ModelList), ("/api/v1/models/shifty", answers.ModelDetail),
                        ("/api/v1/models/shifty/windows?limit=100", answers.WindowList),
                        ("/api/v1/alerts?limit=1000", answers.AlertList),
                        ("/api/v1/models/shifty/reference", answers.Profile), ("/api/v1/worker", answers.WorkerReport),
                        ("/api/v1/notifications", answers.Notifications), ("/ready", answers.Readiness),
                        ("/health", answers.Health), ("/api/v1/models/nobody", answers.Error)):
        status, body = get_json(url + path)
        assert status in (200, 404), (path, status)
        model.model_validate(body, strict=True)
    windows = get_json(f"{url}/api/v1/models/shifty/windows?limit=100")[1]["windows"]
    assert any(answers.Window.model_validate(w).drift for w in windows)
