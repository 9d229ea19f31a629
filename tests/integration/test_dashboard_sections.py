"""The dashboard's optional sections and its token prompt, in the real browser against the real aiohttp
app over in-memory views: windows carrying what other rules add (performance, estimates, segments,
latency percentiles, data quality), alerts that are open and have deliveries, and a windowless model."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from streamer.alerts.alert import make_alert
from streamer.web.api import Api
from tests.integration.test_dashboard import SCREENSHOTS, browser, open_page  # noqa: F401  (browser is a fixture)
from tests.unit.web.test_api import TOKEN, World, status_doc

pytestmark = pytest.mark.integration
T0 = 1795687200.0


def rich_window(i: int) -> dict[str, Any]:
    start = T0 + 60 * i
    return {
        "model": "rich", "version": "1", "window_start_s": start, "window_end_s": start + 60,
        "window_start": f"2026-11-26T10:{i:02d}:00Z", "window_end": f"2026-11-26T10:{i + 1:02d}:00Z",
        "events": 100 + i, "errors": i, "error_rate": i / 100, "throughput_per_s": 1.7, "status": "ok",
        "latency_ms": {"p50": 5.0 + i, "p90": 9.0, "p95": 12.0 + i, "p99": 20.0, "max": 33.0},
        "features": {"x": {"kind": "numeric", "status": "detected" if i > 3 else "ok", "wasserstein_binned_norm": 0.05 * i,
                           "ks_pvalue": 10.0 ** -i, "distribution": {"edges": [0.0, 1.0, 2.0], "reference": [1, 5, 5, 1],
                                                                      "window": [0, 2, 6, 4]}},
                     "k": {"kind": "categorical", "status": "ok", "tvd": 0.01, "chi2_pvalue": 0.5,
                           "distribution": {"categories": ["a", "b"], "reference": [6, 4], "window": [5, 5], "rest": [0, 1]}}},
        "outputs": {"prediction": {"kind": "numeric", "status": "ok", "wasserstein_binned_norm": 0.01, "ks_pvalue": 0.7}},
        "drift": {"status": "detected" if i > 3 else "ok", "drifted_share": 0.5 if i > 3 else 0.0,
                  "drifted_features": ["x"] if i > 3 else []},
        "performance": {"labelled": 50, "accuracy": 0.9 - i / 100, "roc_auc": 0.8},
        "performance_estimate": {"accuracy": 0.88 - i / 100, "roc_auc": 0.79},
        "segments": [{"feature": "x", "segment": "[1, 2)", "metric": "accuracy", "value": 0.6, "labelled": 20}],
        "data_quality": {"x": {"missing": 0.1, "out_of_range": 0.02}},
    }


@pytest.fixture
def server() -> Iterator[tuple[World, Any]]:
    world = World()
    world.status.handle_record(b"rich", status_doc("rich", "1", 900, T0 + 9, "critical"), T0)
    world.status.handle_record(b"empty", status_doc("empty", "default", 3, T0, "baseline"), T0)
    for i in range(8):
        world.history.handle_record(b"rich", orjson.dumps(rich_window(i)), T0)
    opened = make_alert("latency_high", "warning", model="rich", version="1", window_start="2026-11-26T10:07:00Z",
                        window_end="2026-11-26T10:08:00Z", value=20.0, threshold=15.0, message="p95 latency 20 ms",
                        details={"value_ms": 20.0, "threshold_ms": 15.0}, created_at_s=T0 + 500, subject="p95")
    opened.update(open=True, deliveries=[{"channel": "pager", "status": "delivered", "attempts": 1}])
    world.alerts.handle_record(b"rich", orjson.dumps(opened), T0)
    world.alerts.handle_record(b"rich", orjson.dumps(make_alert(
        "model_performance_degraded", "critical", model="rich", version="1", window_start="2026-11-26T10:06:00Z",
        window_end="2026-11-26T10:07:00Z", value=0.8, threshold=0.85, message="accuracy 0.80 below 0.85",
        details={"source": "realized", "value": 0.8, "reference": 0.9, "labelled": 50}, created_at_s=T0 + 440,
        subject="accuracy")), T0)
    holder: dict[str, Any] = {}
    started = threading.Event()
    loop = asyncio.new_event_loop()

    def serve(api: Api) -> None:
        async def main() -> None:
            app = web.Application()
            api.register(app)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            holder["url"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
            holder["runner"] = runner
            started.set()
        loop.run_until_complete(main())
        loop.run_forever()

    def start(token: str | None) -> str:
        threading.Thread(target=serve, args=(world.api(token),), daemon=True).start()
        assert started.wait(10)
        return holder["url"]

    yield world, start
    if "runner" in holder:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


def test_model_page_shows_every_section_the_api_has(server, browser) -> None:  # noqa: F811
    _, start = server
    url = start(None)
    page, problems = open_page(browser, url + "/?model=rich")
    page.wait_for_selector("#heatmap")
    charts = set(page.eval_on_selector_all("svg[data-chart]", "svgs => svgs.map(s => s.dataset.chart)"))
    assert {"performance_accuracy", "performance_roc_auc", "labelled", "latency", "error_rate", "throughput",
            "distribution", "alerts", "prediction_drift"} <= charts, charts
    assert page.locator("svg[data-chart=latency] path").count() == 5  # p50, p90, p95, p99, max
    assert page.locator("svg[data-chart=performance_accuracy] path").count() == 2  # realized and estimated
    assert "[1, 2)" in page.inner_text("table[data-table=segments]")
    assert "out_of_range" in page.inner_text("table[data-table=data_quality]")
    page.click("details[data-alert] >> text=latency_high")
    assert "pager" in page.inner_text("table[data-table=deliveries]")
    assert page.locator("details[data-alert] .badge.critical", has_text="open").count() == 1
    assert page.inner_text("#drifted") == "x"
    page.screenshot(path=str(SCREENSHOTS / "model-page-all-sections.png"), full_page=True)
    # A model with no closed window yet, and one that does not exist: said plainly, nothing thrown.
    page.goto(url + "/?model=empty")
    page.wait_for_selector("text=No closed window yet")
    assert problems == []


def test_page_asks_for_the_token_once_and_keeps_it_for_the_session(server, browser) -> None:  # noqa: F811
    _, start = server
    url = start(TOKEN)
    page, problems = open_page(browser, url + "/")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#token", TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_selector("#models tbody tr")
    assert page.eval_on_selector_all("#models tbody tr", "rows => rows.map(r => r.dataset.model)") == ["rich", "empty"]
    page.goto(url + "/?model=rich")  # a new page load in the same tab: no second prompt
    page.wait_for_selector("#heatmap")
    assert page.is_hidden("#login")
    assert page.evaluate("sessionStorage.getItem('streamer.token')") == TOKEN
    assert problems == []
