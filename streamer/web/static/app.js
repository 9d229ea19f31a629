// The dashboard: reads the JSON API, draws with charts.js. "/" lists models, "/?model=M" shows one.
"use strict";
const REFRESH_MS = 10000;
const params = new URLSearchParams(location.search);
const state = {feature: null, openAlerts: new Set(), capabilities: null, filter: params.get("q") || ""};
const $ = id => document.getElementById(id);

class AuthNeeded extends Error {}

async function api(path, optional = false) {
  const token = sessionStorage.getItem("streamer.token");
  if (document.documentElement.dataset.auth === "required" && !token) throw new AuthNeeded();
  const response = await fetch(path, {headers: token ? {Authorization: `Bearer ${token}`} : {}});
  if (response.status === 401) { sessionStorage.removeItem("streamer.token"); throw new AuthNeeded(); }
  if (!response.ok) {
    if (optional) return null;
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error || `${path}: HTTP ${response.status}`);
  }
  return response.json();
}

function askToken() {
  const form = $("login");
  form.hidden = false;
  $("token").focus();
  form.onsubmit = event => {
    event.preventDefault();
    sessionStorage.setItem("streamer.token", $("token").value.trim());
    form.hidden = true;
    refresh();
  };
}

// Which optional endpoints this worker has, read once from its OpenAPI description (no 404s in the console).
async function capabilities() {
  if (!state.capabilities) {
    const spec = await api("/api/v1/openapi.json", true);
    state.capabilities = new Set(Object.keys((spec && spec.paths) || {}));
  }
  return state.capabilities;
}

const STATUS_RANK = {critical: 0, warning: 1, no_data: 2, baseline: 3, ok: 4};
const badge = s => `<span class="badge ${esc(s)}">${esc(s ?? "?")}</span>`;
const ts = s => (s ? String(s).replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "–");
const modelHref = (m, v) => `/?model=${encodeURIComponent(m)}${v ? `&version=${encodeURIComponent(v)}` : ""}`;

// ---------- front page ----------
async function frontPage() {
  const body = await api("/api/v1/models");
  const models = (body.models || []).slice().sort((a, b) =>
    (STATUS_RANK[a.status] ?? 5) - (STATUS_RANK[b.status] ?? 5) || (b.open_alerts || 0) - (a.open_alerts || 0) ||
    String(a.model).localeCompare(String(b.model)) || String(a.version).localeCompare(String(b.version)));
  const count = s => models.filter(m => m.status === s).length;
  $("crumbs").textContent = "models";
  const focused = document.activeElement && document.activeElement.id === "filter";
  $("main").innerHTML = `<h1>Models</h1>
    <div class="tiles"><div class="tile">monitored<b>${models.length}</b></div>
    <div class="tile critical">critical<b>${count("critical")}</b></div><div class="tile warning">warning<b>${count("warning")}</b></div>
    <div class="tile">open alerts<b>${models.reduce((n, m) => n + (m.open_alerts || 0), 0)}</b></div>
    <div class="tile muted">baseline / no data<b>${count("baseline") + count("no_data")}</b></div></div>
    <label>Filter <input id="filter" type="search" placeholder="model, version, status or alert kind" value="${esc(state.filter)}"></label>
    <span id="shown" class="muted"></span>
    <table class="models" id="models"><thead><tr><th>model</th><th>version</th><th>status</th><th>events per window</th>
    <th class="num">events</th><th>drifted features</th><th class="num">open alerts</th><th>last alert</th><th>last window end</th><th>reference</th></tr></thead>
    <tbody>${models.map(m => {
      const last = m.last_alert;
      const text = [m.model, m.version, m.status, last && last.kind, ...(m.drifted_features || [])].join(" ").toLowerCase();
      return `<tr data-model="${esc(m.model)}" data-version="${esc(m.version)}" data-status="${esc(m.status)}" data-text="${esc(text)}">
        <td><a href="${modelHref(m.model, m.version)}">${esc(m.model)}</a></td><td>${esc(m.version)}</td><td>${badge(m.status)}</td>
        <td>${sparkline(m.recent_events)}</td><td class="num">${esc(m.events_total ?? 0)}</td>
        <td class="drifted ${(m.drifted_features || []).length ? "critical" : "muted"}">${(m.drifted_features || []).length ? esc(m.drifted_features.join(", ")) : "none"}</td>
        <td class="num ${m.open_alerts ? "critical" : ""}">${esc(m.open_alerts ?? 0)}</td>
        <td class="last" title="${esc(last ? last.message : "")}">${last ? `<span class="${last.severity === "critical" ? "critical" : "warning"}">${esc(last.kind)}</span> ${esc(last.message)} <span class="muted">${ts(last.created_at)}</span>` : '<span class="muted">none</span>'}</td>
        <td>${ts(m.last_window_end)}</td><td>${esc(m.reference)}</td></tr>`;
    }).join("")}</tbody></table>${models.length ? "" : "<p>No model has sent events yet.</p>"}`;
  const input = $("filter");
  input.oninput = () => { state.filter = input.value; applyFilter(); };
  if (focused) { input.focus(); input.setSelectionRange(input.value.length, input.value.length); }
  applyFilter();
}

function applyFilter() {
  const words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const row of document.querySelectorAll("#models tbody tr")) {
    const keep = words.every(w => row.dataset.text.includes(w));
    row.hidden = !keep;
    shown += keep;
  }
  $("shown").textContent = words.length ? `${shown} shown` : "";
}

// ---------- model page ----------
const effectOf = m => (m ? (m.wasserstein_binned_norm ?? m.tvd ?? null) : null);
const pvalueOf = m => (m ? (m.ks_pvalue ?? m.chi2_pvalue ?? null) : null);

function heatmap(windows, names) {
  const cols = windows.slice(-30);
  const rows = names.map(name => {
    let since = null;
    for (const w of cols) {
      const status = ((w.features || {})[name] || {}).status;
      if (status === "detected" || status === "suspected") { since = since ?? w.window_start; } else { since = null; }
    }
    const latest = ((cols[cols.length - 1] || {}).features || {})[name] || {};
    const cells = cols.map(w => {
      const m = (w.features || {})[name];
      const status = m ? m.status || "ok" : "none";
      const mark = status === "detected" ? "●" : status === "suspected" ? "○" : "";
      return `<td class="cell ${esc(status)}" data-status="${esc(status)}" style="background:${heat(effectOf(m))}"
        title="${esc(name)} ${ts(w.window_start)}: ${esc(status)}, effect ${fmt(effectOf(m))}, p ${fmt(pvalueOf(m))}">${mark}</td>`;
    }).join("");
    return `<tr data-feature="${esc(name)}" data-latest="${esc(latest.status || "none")}" class="${name === state.feature ? "selected" : ""}">
      <th class="feature"><button type="button" data-feature="${esc(name)}">${esc(name)}</button></th>${cells}
      <td class="${latest.status === "detected" ? "critical" : latest.status === "suspected" ? "warning" : "muted"}">${esc(latest.status || "–")}</td>
      <td class="num">${fmt(effectOf(latest))}</td><td>${since ? ts(since) : ""}</td></tr>`;
  }).join("");
  return `<table class="heatmap" id="heatmap"><thead><tr><th>feature</th><th colspan="${cols.length}">windows ${ts((cols[0] || {}).window_start)} → ${ts((cols[cols.length - 1] || {}).window_end)}</th>
    <th>latest</th><th class="num">effect</th><th>drifting since</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="muted">Colour: effect size (numeric: Wasserstein distance in reference standard deviations; categorical: TVD) <span class="scale"></span> 0 → 0.5+.
    ● detected, ○ suspected by the decision rule. Select a feature for its distribution and history.</p>`;
}

function featureDetail(windows, name) {
  const latest = windows[windows.length - 1] || {};
  const m = (latest.features || {})[name];
  if (!m) return `<p class="muted">No data for ${esc(name)} in the latest window.</p>`;
  const dist = m.distribution;
  let html = "";
  if (dist && dist.edges) {
    const e = dist.edges, labels = dist.reference.map((_, i) => i === 0 ? `<${fmt(e[0])}` : i === e.length ? `≥${fmt(e[e.length - 1])}` : fmt(e[i - 1]));
    html += barChart(`${name}: reference vs latest window`, labels, dist.reference, dist.window, ["reference", "latest window"]);
  } else if (dist && dist.categories) {
    const labels = dist.categories.concat(dist.rest && (dist.rest[0] || dist.rest[1]) ? ["(rest)"] : []);
    const extra = labels.length > dist.categories.length;
    html += barChart(`${name}: reference vs latest window`, labels, dist.reference.concat(extra ? [dist.rest[0]] : []),
      dist.window.concat(extra ? [dist.rest[1]] : []), ["reference", "latest window"]);
  }
  const point = (w, f) => { const x = (w.features || {})[name]; return [w.window_start_s, x ? f(x) : null, x && x.status === "detected"]; };
  html += lineChart(`${name}: effect size per window`, [{name: "effect", points: windows.map(w => point(w, effectOf))}], {id: "effect"});
  html += lineChart(`${name}: p-value per window (−log10, red = detected)`,
    [{name: "−log10 p", points: windows.map(w => point(w, x => { const p = pvalueOf(x); return p === null ? null : -Math.log10(Math.max(p, 1e-30)); }))}], {id: "pvalue"});
  const table = Object.entries(m).filter(([k, v]) => typeof v === "number" || typeof v === "string")
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td class="num">${typeof v === "number" ? fmt(v) : esc(v)}</td></tr>`).join("");
  return `<div class="grid">${html}</div><details><summary>all metrics of ${esc(name)} in the latest window</summary><table>${table}</table></details>`;
}

function operations(windows) {
  const at = (w, y) => [w.window_start_s, y];
  const charts = [];
  charts.push(lineChart("drifted share of features", [{name: "drifted share", points: windows.map(w => [w.window_start_s, w.drift ? w.drift.drifted_share : null, w.drift && w.drift.status === "detected"])}], {id: "drifted_share", ymax: 1}));
  const outputs = [...new Set(windows.flatMap(w => Object.keys(w.outputs || {})))];
  const predSeries = outputs.map(name => ({name, points: windows.map(w => { const m = (w.outputs || {})[name]; return [w.window_start_s, effectOf(m), m && m.status === "detected"]; })}));
  if (predSeries.some(s => s.points.some(p => p[1] !== null))) charts.push(lineChart("prediction drift (effect size, red = detected)", predSeries, {id: "prediction_drift", legend: true}));
  charts.push(lineChart("events per window", [{name: "events", points: windows.map(w => at(w, w.events))}], {id: "events"}));
  const keys = ["p50", "p90", "p95", "p99", "max"].filter(k => windows.some(w => w.latency_ms && w.latency_ms[k] !== undefined && w.latency_ms[k] !== null));
  if (keys.length) charts.push(lineChart("latency (ms)", keys.map(k => ({name: k, points: windows.map(w => at(w, (w.latency_ms || {})[k]))})), {id: "latency", legend: true}));
  if (windows.some(w => typeof w.error_rate === "number")) charts.push(lineChart("error rate", [{name: "error rate", points: windows.map(w => at(w, w.error_rate))}], {id: "error_rate", ymax: Math.max(0.01, ...windows.map(w => w.error_rate || 0))}));
  if (windows.some(w => typeof w.throughput_per_s === "number")) charts.push(lineChart("throughput (events/s)", [{name: "events/s", points: windows.map(w => at(w, w.throughput_per_s))}], {id: "throughput"}));
  return charts.join("");
}

const PERF_METRICS = ["accuracy", "roc_auc", "f1", "precision", "recall", "log_loss", "mae", "rmse", "mape", "r2", "bias"];
function performance(windows) {
  const present = PERF_METRICS.filter(k => windows.some(w => (w.performance && typeof w.performance[k] === "number") ||
    (w.performance_estimate && typeof w.performance_estimate[k] === "number")));
  if (!present.length) return "";
  const charts = present.slice(0, 6).map(k => lineChart(k, [
    {name: "realized", points: windows.map(w => [w.window_start_s, w.performance ? w.performance[k] : null])},
    {name: "estimated", dashed: true, color: "#8250df", points: windows.map(w => [w.window_start_s, w.performance_estimate ? w.performance_estimate[k] : null])},
  ], {id: `performance_${k}`, legend: true})).join("");
  const labelled = windows.map(w => [w.window_start_s, w.performance ? w.performance.labelled : null]);
  const withSegments = windows.slice().reverse().find(w => w.segments || (w.performance && w.performance.segments));
  const segments = withSegments ? (withSegments.segments || withSegments.performance.segments) : null;
  return `<h2>Performance</h2><div class="grid">${charts}${lineChart("labelled rows per window", [{name: "labelled", points: labelled}], {id: "labelled"})}</div>
    ${segments ? `<h3>Worst segments (window ending ${ts(withSegments.window_end)})</h3>${table(segments, "segments")}` : ""}`;
}

// A list of objects, or an object of objects, as a table; anything else as JSON.
function table(value, id) {
  const rows = Array.isArray(value) ? value : value && typeof value === "object" ? Object.entries(value).map(([k, v]) => (v && typeof v === "object" && !Array.isArray(v) ? {name: k, ...v} : {name: k, value: v})) : null;
  if (!rows || !rows.length) return `<pre>${esc(JSON.stringify(value, null, 1))}</pre>`;
  const cols = [...new Set(rows.flatMap(r => (r && typeof r === "object" ? Object.keys(r) : ["value"])))].slice(0, 12);
  const cell = v => (typeof v === "number" ? `<td class="num">${fmt(v)}</td>` : `<td>${esc(v && typeof v === "object" ? JSON.stringify(v) : v)}</td>`);
  return `<table data-table="${esc(id)}"><thead><tr>${cols.map(c => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows.slice(0, 50).map(r =>
    `<tr>${cols.map(c => cell(r && typeof r === "object" ? r[c] : r)).join("")}</tr>`).join("")}</tbody></table>`;
}

// Each feature's problems; a rate the worker judged (observed against the reference's) reads as "2.5% (ref 0.4%)".
function qualityTable(section) {
  const rate = v => (v && typeof v === "object" && typeof v.observed === "number"
    ? `${fmt(100 * v.observed)}% (ref ${fmt(100 * (v.reference || 0))}%)` : v);
  const rows = Object.entries(section || {}).map(([name, problems]) => ({name, ...Object.fromEntries(
    Object.entries(problems && typeof problems === "object" ? problems : {value: problems}).map(([k, v]) => [k, rate(v)]))}));
  return table(rows, "data_quality");
}

function alertTimeline(alerts) {
  if (!alerts.length) return "<p class='muted'>No alerts for this model.</p>";
  const times = alerts.map(a => Date.parse(a.created_at) / 1000).filter(isFinite);
  const kinds = [...new Set(alerts.map(a => a.kind))].sort();
  const w = 860, lane = 18, l = 190, h = kinds.length * lane + 24;
  const x0 = Math.min(...times), x1 = Math.max(...times);
  const X = t => l + (x1 > x0 ? (t - x0) / (x1 - x0) : 0.5) * (w - l - 10);
  let svg = `<svg width="${w}" height="${h}" role="img" aria-label="alert timeline" data-chart="alerts">`;
  kinds.forEach((k, i) => { svg += `<text x="${l - 6}" y="${i * lane + 14}" text-anchor="end">${esc(k)}</text><line x1="${l}" x2="${w - 10}" y1="${i * lane + 10}" y2="${i * lane + 10}" stroke="#eaeef2"/>`; });
  for (const a of alerts) {
    const t = Date.parse(a.created_at) / 1000;
    if (!isFinite(t)) continue;
    const color = a.kind === "resolved" ? "#1a7f37" : a.severity === "critical" ? "#cf222e" : "#bf8700";
    svg += `<circle cx="${X(t).toFixed(1)}" cy="${kinds.indexOf(a.kind) * lane + 10}" r="5" fill="${color}"><title>${esc(a.created_at)} ${esc(a.kind)}: ${esc(a.message)}</title></circle>`;
  }
  svg += `<text x="${l}" y="${h - 4}">${esc(new Date(x0 * 1000).toISOString().slice(0, 19))}</text><text x="${w - 10}" y="${h - 4}" text-anchor="end">${esc(new Date(x1 * 1000).toISOString().slice(0, 19))}</text></svg>`;
  const list = alerts.map(a => {
    const d = a.details || {};
    const features = d.features && typeof d.features === "object" ? `<h3>features</h3>${table(d.features, "alert-features")}` : "";
    const rest = Object.fromEntries(Object.entries(d).filter(([k]) => k !== "features"));
    const deliveries = a.deliveries ? `<h3>deliveries</h3>${table(a.deliveries, "deliveries")}` : "";
    return `<details data-alert="${esc(a.id)}"${state.openAlerts.has(a.id) ? " open" : ""}><summary>${ts(a.created_at)}
      <span class="${a.kind === "resolved" ? "ok" : a.severity === "critical" ? "critical" : "warning"}">${esc(a.severity)} ${esc(a.kind)}</span>
      ${a.subject ? `[${esc(a.subject)}]` : ""} ${a.open === true ? '<span class="badge critical">open</span>' : ""} ${esc(a.message)}</summary>
      <div class="kv">window ${ts(a.window_start)} → ${ts(a.window_end)}; value ${fmt(a.value)}, threshold ${fmt(a.threshold)}; id <code>${esc(a.id)}</code>
      ${Object.keys(rest).length ? table(rest, "alert-details") : ""}${features}${deliveries}</div></details>`;
  }).join("");
  return `<figure>${svg}</figure>${list}`;
}

async function modelPage(model) {
  const version = params.get("version");
  const q = version ? `?version=${encodeURIComponent(version)}` : "";
  const caps = await capabilities();
  const [doc, windowsBody, alertsBody, notes] = await Promise.all([
    api(`/api/v1/models/${encodeURIComponent(model)}${q}`),
    api(`/api/v1/models/${encodeURIComponent(model)}/windows${q}${q ? "&" : "?"}limit=60`),
    api(`/api/v1/alerts?model=${encodeURIComponent(model)}&limit=200`),
    caps.has("/api/v1/notifications") ? api(`/api/v1/notifications?model=${encodeURIComponent(model)}`, true) : null,
  ]);
  const windows = (windowsBody.windows || []).slice().reverse();  // oldest first
  const alerts = (alertsBody.alerts || []).filter(a => !doc.version || !a.version || a.version === doc.version);
  const names = [...new Set(windows.flatMap(w => Object.keys(w.features || {})))].sort();
  const latest = windows[windows.length - 1];
  const drifted = latest && latest.drift ? latest.drift.drifted_features || [] : [];
  if (!state.feature || !names.includes(state.feature)) state.feature = drifted[0] || names[0] || null;
  document.querySelectorAll("details[data-alert]").forEach(d => (d.open ? state.openAlerts.add(d.dataset.alert) : state.openAlerts.delete(d.dataset.alert)));
  $("crumbs").innerHTML = `/ <a href="${modelHref(model, doc.version)}">${esc(model)}</a>`;
  const versions = (doc.versions || []).map(v => v === doc.version ? `<b>${esc(v)}</b>` : `<a href="${modelHref(model, v)}">${esc(v)}</a>`).join(" ");
  const quality = windows.some(w => w.data_quality) ? `<h2>Data quality (latest window)</h2>${qualityTable(windows.slice().reverse().find(w => w.data_quality).data_quality)}` : "";
  const deliveries = notes ? notes.notifications || notes.deliveries || [] : [];
  const notifications = !notes || notes.configured === false ? "" :
    `<h2>Notifications</h2>${deliveries.length ? table(deliveries, "notifications") : "<p class='muted'>No deliveries for this model yet.</p>"}`;
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.feature : null;
  $("main").innerHTML = `<h1>${esc(model)} <span class="muted">version</span> ${esc(doc.version)} ${badge(doc.status)}</h1>
    <div class="tiles"><div class="tile">events<b>${esc(doc.events_total ?? 0)}</b></div>
    <div class="tile">closed windows shown<b>${windows.length}</b></div>
    <div class="tile ${drifted.length ? "critical" : ""}">drifted features (latest)<b id="drifted">${drifted.length ? esc(drifted.join(", ")) : "none"}</b></div>
    <div class="tile">open alerts<b>${alerts.filter(a => a.open === true).length || alerts.filter(a => a.kind !== "resolved" && latest && a.window_end === latest.window_end).length}</b></div>
    <div class="tile">reference<b>${esc(doc.reference)}</b></div><div class="tile">versions<b>${versions}</b></div></div>
    ${windows.length ? `<h2>Drift per feature</h2>${names.length ? heatmap(windows, names) : "<p class='muted'>No features compared yet (collecting the baseline?).</p>"}
    ${state.feature ? `<h2 id="feature-title">Feature ${esc(state.feature)}</h2><div id="feature">${featureDetail(windows, state.feature)}</div>` : ""}
    <h2>Predictions and operations</h2><div class="grid">${operations(windows)}</div>
    ${performance(windows)}${quality}` : "<p>No closed window yet.</p>"}
    <h2>Alerts</h2>${alertTimeline(alerts)}${notifications}`;
  document.querySelectorAll("#heatmap button[data-feature]").forEach(b => b.onclick = () => {
    state.feature = b.dataset.feature;
    modelPage(model).then(() => { const again = document.querySelector(`#heatmap button[data-feature="${CSS.escape(state.feature)}"]`); if (again) again.focus(); }).catch(report);
  });
  if (focused) { const again = document.querySelector(`#heatmap button[data-feature="${CSS.escape(focused)}"]`); if (again) again.focus(); }
}

function report(err) {
  if (err instanceof AuthNeeded) { askToken(); return; }
  $("updated").textContent = `error: ${err.message}`;
  $("updated").className = "critical";
}

let running = false;
async function refresh() {
  if (running) return;
  running = true;
  try {
    const model = params.get("model");
    document.title = model ? `${model} · streamer` : "streamer";
    await (model ? modelPage(model) : frontPage());
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    $("updated").className = "";
  } catch (err) {
    report(err);
  } finally {
    running = false;
  }
}
refresh();
setInterval(() => { if ($("auto").checked && !document.hidden && $("login").hidden) refresh(); }, REFRESH_MS);
