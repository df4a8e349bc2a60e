/**
 * A tiny SVG builder for charts: axes with "nice" ticks, polylines, markers, legends, heat-map
 * cells. Text uses the DejaVu Sans family, which the PNG renderer (render.ts) ships with.
 */
export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Round tick positions covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}B`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(4)}`;
}

export interface Series {
  label: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
  markers?: boolean;
  width?: number;
}

export interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

/** One line-chart panel as SVG elements. */
export function linePanel(p: Panel): string {
  const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const out: string[] = [];
  const L = p.x + 60, R = p.x + p.w - 10, T = p.y + 30, B = p.y + p.h - 45;
  out.push(`<text x="${(L + R) / 2}" y="${p.y + 18}" font-size="15" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<rect x="${L}" y="${T}" width="${R - L}" height="${B - T}" fill="none" stroke="#888"/>`);
  if (!pts.length) {
    out.push(`<text x="${(L + R) / 2}" y="${(T + B) / 2}" font-size="13" text-anchor="middle" fill="#888">no data</text>`);
    return out.join("\n");
  }
  let [x0, x1] = [Math.min(...pts.map((q) => q[0])), Math.max(...pts.map((q) => q[0]))];
  let [y0, y1] = [Math.min(...pts.map((q) => q[1])), Math.max(...pts.map((q) => q[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) (y0 -= 0.5), (y1 += 0.5);
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const sx = (x: number): number => L + ((x - x0) / (x1 - x0)) * (R - L);
  const sy = (y: number): number => B - ((y - y0) / (y1 - y0)) * (B - T);
  for (const t of niceTicks(x0, x1, 6)) {
    out.push(`<line x1="${sx(t)}" y1="${T}" x2="${sx(t)}" y2="${B}" stroke="#eee"/>`);
    out.push(`<text x="${sx(t)}" y="${B + 16}" font-size="11" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  for (const t of niceTicks(y0, y1, 6)) {
    out.push(`<line x1="${L}" y1="${sy(t)}" x2="${R}" y2="${sy(t)}" stroke="#eee"/>`);
    out.push(`<text x="${L - 6}" y="${sy(t) + 4}" font-size="11" text-anchor="end">${fmtTick(t)}</text>`);
  }
  out.push(`<text x="${(L + R) / 2}" y="${B + 36}" font-size="12" text-anchor="middle">${esc(p.xLabel)}</text>`);
  out.push(`<text x="${p.x + 14}" y="${(T + B) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 ${p.x + 14} ${(T + B) / 2})">${esc(p.yLabel)}</text>`);
  for (const s of p.series) {
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (!good.length) continue;
    const d = good.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    if (s.markers) for (const [x, y] of good) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
  }
  // legend (top right inside the frame)
  p.series.forEach((s, i) => {
    const ly = T + 14 + i * 16;
    out.push(`<line x1="${R - 170}" y1="${ly - 4}" x2="${R - 150}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    out.push(`<text x="${R - 145}" y="${ly}" font-size="11">${esc(s.label)}</text>`);
  });
  return out.join("\n");
}

export function svgDocument(width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif">\n<rect width="${width}" height="${height}" fill="white"/>\n${body}\n</svg>\n`;
}

/** Colour for v in [0, 1] on a white→blue→dark ramp. */
export function heatColor(v: number): string {
  const t = Math.max(0, Math.min(1, v));
  const stops: [number, number, number][] = [[255, 255, 255], [107, 174, 214], [8, 48, 107]];
  const seg = t < 0.5 ? 0 : 1;
  const f = t < 0.5 ? t * 2 : (t - 0.5) * 2;
  const [a, b] = [stops[seg]!, stops[seg + 1]!];
  const c = a.map((x, i) => Math.round(x + (b[i]! - x) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
