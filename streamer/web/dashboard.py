"""The dashboard page: one static HTML document that reads the JSON API from the browser."""

DASHBOARD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streamer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}
 table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:left}
 .ok{color:#1a7f37}.warning{color:#b58100}.critical{color:#c62828}.baseline,.no_data{color:#666}
 tr.model{cursor:pointer}tr.model:hover{background:#f4f6f8}
 svg{background:#fafafa;border:1px solid #eee}
 #alerts li{margin:.2rem 0}
</style></head><body>
<h1>streamer</h1>
<p id="summary">loading&hellip;</p>
<table id="models"><thead><tr><th>model</th><th>version</th><th>status</th><th>events</th>
<th>last window end</th><th>reference</th></tr></thead><tbody></tbody></table>
<h2 id="detail-title"></h2>
<div id="charts"></div>
<h2>Recent alerts</h2><ul id="alerts"></ul>
<script>
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
let selected = null;
function chart(title, points, color) {
  const w = 520, h = 120, pad = 24;
  if (!points.length) return "";
  const max = Math.max(...points.map(p => p[1]), 1e-9);
  const step = (w - 2 * pad) / Math.max(points.length - 1, 1);
  const path = points.map((p, i) => `${i ? "L" : "M"}${pad + i * step},${h - pad - (h - 2 * pad) * p[1] / max}`).join("");
  return `<figure><figcaption>${esc(title)} (max ${max.toPrecision(3)})</figcaption>
   <svg width="${w}" height="${h}"><path d="${path}" fill="none" stroke="${color}" stroke-width="2"/></svg></figure>`;
}
async function detail(model) {
  selected = model;
  const r = await fetch(`/api/v1/models/${encodeURIComponent(model)}/windows?limit=60`);
  const windows = (await r.json()).windows || [];
  windows.reverse();
  document.getElementById("detail-title").textContent = `${model}: last ${windows.length} windows`;
  const share = w => (w.drift && w.drift.drifted_share) || 0;
  document.getElementById("charts").innerHTML =
    chart("events per window", windows.map(w => [w.window_start, w.events]), "#1565c0") +
    chart("drifted share of features", windows.map(w => [w.window_start, share(w)]), "#c62828") +
    chart("latency p95 (ms)", windows.map(w => [w.window_start, (w.latency_ms || {}).p95 || 0]), "#6a1b9a") +
    chart("error rate", windows.map(w => [w.window_start, w.error_rate || 0]), "#ef6c00") +
    chart("accuracy from joined labels", windows.filter(w => w.performance && w.performance.accuracy != null)
      .map(w => [w.window_start, w.performance.accuracy]), "#2e7d32") +
    chart("accuracy estimated before labels", windows.filter(w => w.performance_estimate)
      .map(w => [w.window_start, w.performance_estimate.accuracy]), "#0277bd");
}
async function refresh() {
  const models = (await (await fetch("/api/v1/models")).json()).models || [];
  document.getElementById("summary").textContent = `${models.length} model version(s) monitored`;
  document.querySelector("#models tbody").innerHTML = models.map(m => `<tr class="model" data-model="${esc(m.model)}">
    <td>${esc(m.model)}</td><td>${esc(m.version)}</td><td class="${esc(m.status)}">${esc(m.status)}</td>
    <td>${esc(m.events_total)}</td><td>${esc(m.last_window_end)}</td><td>${esc(m.reference)}</td></tr>`).join("");
  document.querySelectorAll("tr.model").forEach(tr => tr.onclick = () => detail(tr.dataset.model));
  const alerts = (await (await fetch("/api/v1/alerts?limit=20")).json()).alerts || [];
  document.getElementById("alerts").innerHTML = alerts.map(a =>
    `<li class="${a.severity === "critical" ? "critical" : "warning"}">${esc(a.created_at)} <b>${esc(a.kind)}</b>
     ${esc(a.model)}: ${esc(a.message)}</li>`).join("") || "<li>none</li>";
  if (selected) detail(selected);
}
refresh(); setInterval(refresh, 5000);
</script></body></html>
"""
