"""`streamer demo`: synthetic traffic for several models with scripted incidents.

- ``churn``: stationary, with a registered reference: stays ``ok``.
- ``fraud``: registered reference; after ``drift_after_s`` its ``amount`` grows and its ``country`` mix
  moves: data drift and prediction drift alerts.
- ``pricing``: a regression model whose latency grows tenfold after ``incident_after_s``: ``latency_high``.
- ``payments``: 30% of its requests fail for a minute after ``incident_after_s``: ``error_rate_high``.
- ``search``: its volume drops to a tenth after ``incident_after_s``: ``throughput_anomaly`` (``drop``).
- ``signup``: after ``incident_after_s`` its ``email_domain`` goes missing in 40% of events (5% in the
  reference) and its ``age`` arrives as text: ``data_quality``.
- ``recsys``: goes silent after ``silent_after_s``; its last window is closed by the idle timer, and
  ``data_missing`` follows after ``STREAMER_MISSING_AFTER_SECONDS``.
- ``ranker``: no reference; takes its first window as the baseline.
- ``credit``: a labelled reference (performance, calibration); after ``drift_after_s`` its concept drifts
  (applicants with a moderate debt ratio, whom the model rates safe, default as often as not) and its
  applicants crowd around the decision boundary. Its labels arrive 20 s late: the estimate before labels
  falls at once (the scores are less sure), realized accuracy falls further once the labels come, and
  concept drift and degraded performance are alerted.

The operational rules compare with each model's own recent windows, so their incidents start once
there are a few (``incident_after_s``, default 270 s: four and a half 60 s windows); each is followed
by a ``resolved`` alert once it clears.
- malformed messages every few seconds, which land in dead letters.
Label events follow ``fraud`` and ``churn`` predictions a little later, ``credit``'s 20 s later.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Any

import click
import numpy as np
import orjson

from streamer.cli.producer import producer_for
from streamer.config import Settings, load_settings
from streamer.performance.reference import ground_truth_section
from streamer.reference.profile import ReferenceProfile

COUNTRIES = np.array(["DE", "FR", "US", "GB", "IT"])
BASE_MIX = np.array([0.35, 0.25, 0.2, 0.15, 0.05])
DRIFT_MIX = np.array([0.15, 0.15, 0.5, 0.15, 0.05])


def fraud_rows(rng: np.random.Generator, n: int, drifted: bool) -> list[dict[str, Any]]:
    amount = rng.lognormal(3.0 + (0.6 if drifted else 0.0), 0.8, n)
    country = rng.choice(COUNTRIES, n, p=DRIFT_MIX if drifted else BASE_MIX)
    age = rng.normal(40, 12, n).round()
    proba = 1 / (1 + np.exp(-(amount / 40 - 2.5)))
    rows = []
    for i in range(n):
        rows.append({"features": {"amount": round(float(amount[i]), 2), "country": str(country[i]),
                                  "age": None if rng.random() < 0.02 else float(age[i]),
                                  "is_new": bool(rng.random() < 0.3)},
                     "prediction": int(proba[i] > 0.5), "prediction_proba": round(float(proba[i]), 4),
                     "latency_ms": round(float(rng.gamma(4, 3)), 2)})
    return rows


def churn_rows(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    tenure = rng.exponential(24, n)
    spend = rng.normal(70, 20, n)
    plan = rng.choice(np.array(["basic", "plus", "pro"]), n, p=[0.5, 0.35, 0.15])
    score = 1 / (1 + np.exp(tenure / 12 - 1))
    return [{"features": {"tenure_months": round(float(tenure[i]), 1), "monthly_spend": round(float(spend[i]), 2),
                          "plan": str(plan[i])},
             "prediction": int(score[i] > 0.5), "prediction_proba": round(float(score[i]), 4),
             "latency_ms": round(float(rng.gamma(3, 2)), 2)} for i in range(n)]


def pricing_rows(rng: np.random.Generator, n: int, slow: bool) -> list[dict[str, Any]]:
    size = rng.normal(120, 30, n)
    rooms = rng.integers(1, 6, n)
    return [{"features": {"size_m2": round(float(size[i]), 1), "rooms": int(rooms[i])},
             "prediction": round(float(size[i] * 3000 + rooms[i] * 10000), 0),
             "latency_ms": round(float(rng.gamma(4, 20 if slow else 5)), 2)} for i in range(n)]


def payments_rows(rng: np.random.Generator, n: int, failing: bool) -> list[dict[str, Any]]:
    amount = rng.lognormal(4.0, 1.0, n)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        if rng.random() < (0.3 if failing else 0.005):
            rows.append({"error": "upstream refused the connection", "latency_ms": round(float(rng.gamma(2, 1)), 2)})
            continue
        rows.append({"features": {"amount": round(float(amount[i]), 2), "method": str(rng.choice(["card", "sepa"]))},
                     "prediction": int(amount[i] > 150), "latency_ms": round(float(rng.gamma(3, 4)), 2)})
    return rows


def signup_rows(rng: np.random.Generator, n: int, broken: bool) -> list[dict[str, Any]]:
    domains = np.array(["gmail.com", "outlook.com", "yahoo.com", "corp.example"])
    rows = []
    for _ in range(n):
        domain = None if rng.random() < (0.4 if broken else 0.05) else str(rng.choice(domains))
        age: Any = int(rng.integers(18, 80))
        rows.append({"features": {"email_domain": domain, "age": str(age) if broken else age},
                     "prediction": int(rng.random() < 0.1), "latency_ms": round(float(rng.gamma(2, 2)), 2)})
    return rows


def simple_rows(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    return [{"features": {"clicks": int(c), "dwell_s": round(float(d), 2)}, "prediction": int(c > 3)}
            for c, d in zip(rng.poisson(3, n), rng.exponential(30, n), strict=True)]


CREDIT_LABEL_DELAY_S = 20.0


def credit_rows(rng: np.random.Generator, n: int, drifted: bool = False) -> list[dict[str, Any]]:
    """Applicants; once ``drifted``, their debt ratios crowd around the model's decision boundary (same mean,
    a third of the spread), where it is least sure: the estimate before labels falls with the realized accuracy."""
    income = rng.lognormal(8, 0.4, n)
    debt_ratio = rng.beta(12, 28, n) if drifted else rng.beta(2, 5, n)
    proba = 1 / (1 + np.exp(-(12 * (debt_ratio - 0.3) - (income - 3000) / 2000)))
    return [{"features": {"income": round(float(income[i]), 2), "debt_ratio": round(float(debt_ratio[i]), 4)},
             "prediction": int(proba[i] > 0.5), "prediction_proba": round(float(proba[i]), 4),
             "latency_ms": round(float(rng.gamma(3, 2)), 2)} for i in range(n)]


def credit_label(rng: np.random.Generator, row: dict[str, Any], drifted: bool) -> int:
    """The outcome: as the model says, until the concept drifts: then applicants with a moderate debt ratio,
    whom the model rates safe, default as often as not."""
    p = row["prediction_proba"]
    if drifted and 0.15 < row["features"]["debt_ratio"] < 0.3:
        p = 0.6
    return int(rng.random() < p)


def _columns(rows: list[dict[str, Any]]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    rows = [r for r in rows if "features" in r]
    features = {name: [r["features"].get(name) for r in rows] for name in rows[0]["features"]}
    outputs = {"prediction": [r["prediction"] for r in rows]}
    if "prediction_proba" in rows[0]:
        outputs["prediction_proba"] = [r["prediction_proba"] for r in rows]
    return features, outputs


def reference_profiles(rng: np.random.Generator) -> list[ReferenceProfile]:
    sources = {"fraud": fraud_rows(rng, 5000, False), "churn": churn_rows(rng, 5000),
               "pricing": pricing_rows(rng, 5000, False), "recsys": simple_rows(rng, 5000),
               "payments": payments_rows(rng, 5000, False), "signup": signup_rows(rng, 5000, False),
               "search": simple_rows(rng, 5000)}
    profiles = [ReferenceProfile.from_columns(model, None, *_columns(rows), source="streamer demo")
                for model, rows in sources.items()]
    credit = credit_rows(rng, 5000)
    features, outputs = _columns(credit)
    profile = ReferenceProfile.from_columns("credit", None, features, outputs, source="streamer demo (labelled)")
    profile.ground_truth = ground_truth_section(
        [credit_label(rng, r, False) for r in credit], outputs["prediction"], outputs["prediction_proba"], features,
        {n: spec.kind for n, spec in profile.layout().features.items()})
    return [*profiles, profile]


async def run_demo(settings: Settings, rate: float, duration_s: float | None, drift_after_s: float = 30.0,
                   silent_after_s: float = 90.0, seed: int = 7, incident_after_s: float = 270.0) -> int:
    rng = np.random.default_rng(seed)
    sent = 0
    async with producer_for(settings) as producer:
        for profile in reference_profiles(rng):
            await producer.send_and_wait(settings.topic_references, profile.to_json(), key=profile.key.encode())
        started = time.monotonic()
        tick_s = 0.2
        pending_labels: list[tuple[float, int, bytes, bytes]] = []  # a heap: labels come due in time order
        order = itertools.count()
        for step in itertools.count():
            elapsed = time.monotonic() - started
            if duration_s is not None and elapsed >= duration_s:
                break
            per_model = max(1, int(rng.poisson(rate * tick_s / 8)))
            now = time.time()
            late = elapsed >= drift_after_s
            incident = elapsed >= incident_after_s
            search_n = int(rng.poisson(rate * tick_s / 8 * (0.1 if incident else 1.0)))
            batches = {"fraud": ("3", fraud_rows(rng, per_model, late)), "churn": ("1", churn_rows(rng, per_model)),
                       "pricing": ("2", pricing_rows(rng, per_model, incident)),
                       "ranker": ("1", simple_rows(rng, per_model)),
                       "payments": ("1", payments_rows(rng, per_model, incident_after_s <= elapsed < incident_after_s + 60)),
                       "signup": ("1", signup_rows(rng, per_model, incident)),
                       "credit": ("1", credit_rows(rng, per_model, late))}
            if search_n:
                batches["search"] = ("1", simple_rows(rng, search_n))
            if elapsed < silent_after_s:
                batches["recsys"] = ("1", simple_rows(rng, per_model))
            for model, (version, rows) in batches.items():
                for i, row in enumerate(rows):
                    request_id = f"{model}-{step}-{i}"
                    event = {"model": model, "version": version, "timestamp": now, "request_id": request_id, **row}
                    await producer.send(settings.topic_predictions, orjson.dumps(event), key=model.encode())
                    sent += 1
                    if model in ("fraud", "churn", "credit"):
                        delay_s = CREDIT_LABEL_DELAY_S if model == "credit" else 5.0
                        outcome = (credit_label(rng, row, late) if model == "credit"
                                   else int(rng.random() < row["prediction_proba"]))
                        label = {"model": model, "version": version, "request_id": request_id,
                                 "label": outcome, "timestamp": now + delay_s}
                        heapq.heappush(pending_labels, (now + delay_s, next(order), model.encode(),
                                                        orjson.dumps(label)))
            while pending_labels and pending_labels[0][0] <= now:
                _, _, key, value = heapq.heappop(pending_labels)
                await producer.send(settings.topic_labels, value, key=key)
            if step % 25 == 0:  # every ~5 s: malformed input the worker must survive
                await producer.send(settings.topic_predictions, b'{"model": "fraud", "features": [1, 2', key=b"fraud")
                await producer.send(settings.topic_predictions, b'{"features": {"x": 1}}', key=b"fraud")
            await asyncio.sleep(max(0.0, started + (step + 1) * tick_s - time.monotonic()))
        await producer.flush()
    return sent


@click.command("demo")
@click.option("--rate", type=click.FloatRange(min=1), default=100.0, show_default=True, help="Events per second, all models.")
@click.option("--duration", type=click.FloatRange(min=1), default=None, help="Seconds to run (default: until Ctrl-C).")
@click.option("--drift-after", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds before the fraud model's inputs shift.")
@click.option("--incident-after", type=click.FloatRange(min=0), default=270.0, show_default=True,
              help="Seconds before the latency, error, volume and data-quality incidents start.")
def demo(rate: float, duration: float | None, drift_after: float, incident_after: float) -> None:
    """Send synthetic prediction and label traffic with scripted incidents."""
    settings = load_settings()
    click.echo(f"demo: {rate:g} events/s to {settings.broker}; models fraud (drifts after {drift_after:g} s), "
               f"churn (stable), recsys (goes silent), ranker (baseline), credit (concept drifts after {drift_after:g} s, "
               f"labels {CREDIT_LABEL_DELAY_S:g} s late); after {incident_after:g} s pricing slows down, payments fails, "
               "search drops, signup loses data quality", err=True)
    try:
        sent = asyncio.run(run_demo(settings, rate, duration, drift_after, incident_after_s=incident_after))
        click.echo(f"demo: sent {sent} events", err=True)
    except KeyboardInterrupt:
        pass
