// Plain SVG charts: no library, no network. Each returns an HTML string.
"use strict";
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const COLORS = ["#0969da", "#cf222e", "#8250df", "#1a7f37", "#bc4c00", "#6e7781", "#bf3989"];

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e6) return String(v);
  if (a !== 0 && (a < 0.001 || a >= 1e6)) return v.toExponential(1);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}
function hhmm(seconds) { return new Date(seconds * 1000).toISOString().slice(11, 19); }

// series: [{name, color, points: [[x_seconds, y]], dashed}]
function lineChart(title, series, opts = {}) {
  const w = opts.width || 420, h = opts.height || 140, l = 44, r = 8, t = 8, b = 20;
  const pts = series.flatMap(s => s.points.filter(p => p[1] !== null && p[1] !== undefined && isFinite(p[1])));
  if (!pts.length) return "";
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const y0 = opts.ymin ?? Math.min(0, ...ys), y1 = opts.ymax ?? Math.max(...ys, y0 + 1e-9);
  const X = x => l + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (w - l - r);
  const Y = y => t + (1 - (Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0 || 1)) * (h - t - b);
  let svg = `<svg width="${w}" height="${h}" role="img" aria-label="${esc(title)}" data-chart="${esc(opts.id || title)}">`;
  svg += `<line x1="${l}" y1="${h - b}" x2="${w - r}" y2="${h - b}" stroke="#d0d7de"/><line x1="${l}" y1="${t}" x2="${l}" y2="${h - b}" stroke="#d0d7de"/>`;
  svg += `<text x="${l - 4}" y="${t + 9}" text-anchor="end">${fmt(y1)}</text><text x="${l - 4}" y="${h - b}" text-anchor="end">${fmt(y0)}</text>`;
  svg += `<text x="${l}" y="${h - 5}">${hhmm(x0)}</text><text x="${w - r}" y="${h - 5}" text-anchor="end">${hhmm(x1)}</text>`;
  for (const line of opts.hlines || []) {
    svg += `<line x1="${l}" x2="${w - r}" y1="${Y(line.y)}" y2="${Y(line.y)}" stroke="${line.color || "#999"}" stroke-dasharray="4 3"><title>${esc(line.name)} ${fmt(line.y)}</title></line>`;
  }
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    const good = s.points.filter(p => p[1] !== null && p[1] !== undefined && isFinite(p[1]));
    if (!good.length) return;
    const d = good.map((p, j) => `${j ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    svg += `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`;
    for (const p of good) {
      svg += `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="${p[2] ? 3.5 : 1.8}" fill="${p[2] ? "#cf222e" : color}"><title>${esc(s.name)} ${hhmm(p[0])}: ${fmt(p[1])}</title></circle>`;
    }
  });
  svg += "</svg>";
  const legend = series.length > 1 || opts.legend ? `<div class="legend">${series.map((s, i) =>
    `<span><i style="background:${s.color || COLORS[i % COLORS.length]}"></i>${esc(s.name)}</span>`).join("")}</div>` : "";
  return `<figure><figcaption>${esc(title)}</figcaption>${svg}${legend}</figure>`;
}

// Grouped bars of two distributions (shares): labels, a, b.
function barChart(title, labels, a, b, names) {
  const w = 420, h = 160, l = 36, bottom = 34, t = 8;
  const sa = a.reduce((x, y) => x + y, 0) || 1, sb = b.reduce((x, y) => x + y, 0) || 1;
  const pa = a.map(v => v / sa), pb = b.map(v => v / sb);
  const max = Math.max(...pa, ...pb, 1e-9), n = labels.length, bw = (w - l - 4) / Math.max(n, 1);
  let svg = `<svg width="${w}" height="${h}" role="img" aria-label="${esc(title)}" data-chart="distribution">`;
  svg += `<text x="${l - 4}" y="${t + 9}" text-anchor="end">${(max * 100).toFixed(0)}%</text>`;
  labels.forEach((label, i) => {
    const x = l + i * bw, ha = (h - t - bottom) * pa[i] / max, hb = (h - t - bottom) * pb[i] / max;
    svg += `<rect x="${(x + 1).toFixed(1)}" y="${(h - bottom - ha).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${ha.toFixed(1)}" fill="#8c959f"><title>${esc(names[0])} ${esc(label)}: ${(pa[i] * 100).toFixed(1)}%</title></rect>`;
    svg += `<rect x="${(x + bw / 2).toFixed(1)}" y="${(h - bottom - hb).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${hb.toFixed(1)}" fill="#cf222e"><title>${esc(names[1])} ${esc(label)}: ${(pb[i] * 100).toFixed(1)}%</title></rect>`;
    if (n <= 14 || i % Math.ceil(n / 8) === 0) {
      svg += `<text x="${(x + bw / 2).toFixed(1)}" y="${h - bottom + 12}" text-anchor="middle">${esc(String(label).slice(0, 8))}</text>`;
    }
  });
  svg += `<line x1="${l}" y1="${h - bottom}" x2="${w}" y2="${h - bottom}" stroke="#d0d7de"/></svg>`;
  return `<figure><figcaption>${esc(title)}</figcaption>${svg}<div class="legend"><span><i style="background:#8c959f"></i>${esc(names[0])}</span><span><i style="background:#cf222e"></i>${esc(names[1])}</span></div></figure>`;
}

function sparkline(values) {
  const w = 120, h = 24;
  if (!values || values.length < 2) return `<svg width="${w}" height="${h}" data-chart="sparkline"></svg>`;
  const max = Math.max(...values, 1), step = w / (values.length - 1);
  const d = values.map((v, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${(h - 2 - (h - 4) * v / max).toFixed(1)}`).join("");
  return `<svg width="${w}" height="${h}" data-chart="sparkline" role="img" aria-label="events per window"><path d="${d}" fill="none" stroke="#0969da" stroke-width="1.5"/></svg>`;
}

// Effect size to a colour: white (none) to dark red (0.5 or more).
function heat(effect) {
  if (effect === null || effect === undefined || !isFinite(effect)) return "#f6f8fa";
  const stops = [[0, [255, 255, 255]], [0.05, [253, 212, 158]], [0.15, [252, 141, 89]], [0.3, [215, 48, 31]], [0.5, [127, 0, 0]]];
  const e = Math.min(Math.max(effect, 0), 0.5);
  for (let i = 1; i < stops.length; i++) {
    if (e <= stops[i][0]) {
      const [a, ca] = stops[i - 1], [b, cb] = stops[i], f = (e - a) / (b - a);
      return `rgb(${ca.map((c, k) => Math.round(c + f * (cb[k] - c))).join(",")})`;
    }
  }
  return "rgb(127,0,0)";
}
