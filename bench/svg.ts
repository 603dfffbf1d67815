// Hand-written SVG charts, so the bench draws its own figures with no
// dependency: a labelled scatter with a log-scale x axis (ratio against
// decode speed) and a line chart (throughput against threads).

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = { left: 70, right: 30, top: 44, bottom: 56 };
const PLOT = { x0: MARGIN.left, x1: WIDTH - MARGIN.right, y0: HEIGHT - MARGIN.bottom, y1: MARGIN.top };
const FONT = 'font-family="system-ui, sans-serif"';
const LABEL_SIZE = 11;
/** Rough advance of one character at LABEL_SIZE, to keep labels from overlapping. */
const CHAR_WIDTH = 6.2;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

export interface ChartPoint {
  label: string;
  x: number;
  y: number;
  /** Drawn in a contrasting colour (the codec under test). */
  highlight?: boolean;
}

export interface ScatterChart {
  title: string;
  xLabel: string;
  yLabel: string;
  points: ChartPoint[];
  /** A dashed horizontal reference line, such as an ideal bound. */
  guide?: { y: number; label: string };
}

export interface LineSeries {
  label: string;
  points: { x: number; y: number }[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));

/** A round step giving about `count` intervals over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw)!;
  return unit * magnitude;
}

interface Axis {
  toPixel(v: number): number;
  ticks: number[];
}

function linearAxis(min: number, max: number, p0: number, p1: number, count = 6): Axis {
  const span = max > min ? max - min : Math.abs(max) || 1;
  const step = niceStep(span, count);
  const lo = Math.floor(min / step) * step;
  const hi = Math.max(Math.ceil(max / step) * step, lo + step);
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { toPixel: (v) => p0 + ((v - lo) / (hi - lo)) * (p1 - p0), ticks };
}

/** Log axis over the data plus a margin, ticked at 1, 2, 5 per decade (only 1 when the data spans many decades). */
function logAxis(min: number, max: number, p0: number, p1: number): Axis {
  const span = Math.max(Math.log10(max) - Math.log10(min), 0.5);
  const lo = Math.log10(min) - span * 0.06;
  const hi = Math.log10(max) + span * 0.06;
  const steps = span <= 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of steps) {
      const t = m * 10 ** e;
      if (Math.log10(t) >= lo && Math.log10(t) <= hi) ticks.push(t);
    }
  }
  return { toPixel: (v) => p0 + ((Math.log10(v) - lo) / (hi - lo)) * (p1 - p0), ticks };
}

function frame(title: string, xLabel: string, yLabel: string, x: Axis, y: Axis): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${FONT} font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
  ];
  for (const t of x.ticks) {
    const px = x.toPixel(t).toFixed(1);
    out.push(`<line x1="${px}" y1="${PLOT.y1}" x2="${px}" y2="${PLOT.y0}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${px}" y="${PLOT.y0 + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of y.ticks) {
    const py = y.toPixel(t).toFixed(1);
    out.push(`<line x1="${PLOT.x0}" y1="${py}" x2="${PLOT.x1}" y2="${py}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${PLOT.x0 - 8}" y="${py}" dy="4" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${PLOT.x0}" y="${PLOT.y1}" width="${PLOT.x1 - PLOT.x0}" height="${PLOT.y0 - PLOT.y1}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${(PLOT.x0 + PLOT.x1) / 2}" y="${HEIGHT - 14}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  const midY = (PLOT.y0 + PLOT.y1) / 2;
  out.push(`<text x="18" y="${midY}" text-anchor="middle" transform="rotate(-90 18 ${midY})">${escapeXml(yLabel)}</text>`);
  return out;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function overlap(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Places each label beside its point where it overlaps the fewest labels, markers and plot edges. */
function placeLabels(points: { px: number; py: number; label: string }[]): { x: number; y: number; anchor: string }[] {
  const taken: Box[] = points.map(({ px, py }) => ({ x0: px - 4, y0: py - 4, x1: px + 4, y1: py + 4 }));
  return points.map(({ px, py, label }) => {
    const w = label.length * CHAR_WIDTH;
    const h = LABEL_SIZE + 2;
    // [dx, dy of the text baseline, anchor, left edge of the box relative to px]
    const candidates: [number, number, string, number][] = [
      [8, 4, "start", 8],
      [-8, 4, "end", -8 - w],
      [0, -9, "middle", -w / 2],
      [0, 17, "middle", -w / 2],
      [8, -7, "start", 8],
      [8, 15, "start", 8],
      [-8, -7, "end", -8 - w],
      [-8, 15, "end", -8 - w],
    ];
    let best = candidates[0]!;
    let bestCost = Infinity;
    for (const c of candidates) {
      const box = { x0: px + c[3], y0: py + c[1] - LABEL_SIZE, x1: px + c[3] + w, y1: py + c[1] - LABEL_SIZE + h };
      const outside = (box.x0 < PLOT.x0 || box.x1 > PLOT.x1 || box.y0 < PLOT.y1 || box.y1 > PLOT.y0 ? 1 : 0) * w * h;
      const cost = taken.reduce((sum, t) => sum + overlap(box, t), outside);
      if (cost < bestCost) [best, bestCost] = [c, cost];
    }
    taken.push({ x0: px + best[3], y0: py + best[1] - LABEL_SIZE, x1: px + best[3] + w, y1: py + best[1] - LABEL_SIZE + h });
    return { x: px + best[0], y: py + best[1], anchor: best[2] };
  });
}

/** Scatter with a log-scale x axis; every point carries its label. */
export function scatterChart({ title, xLabel, yLabel, points, guide }: ScatterChart): string {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y).concat(guide ? [guide.y] : []);
  const x = logAxis(Math.min(...xs), Math.max(...xs), PLOT.x0, PLOT.x1);
  const yPad = (Math.max(...ys) - Math.min(...ys)) * 0.04;
  const y = linearAxis(Math.min(...ys) - yPad, Math.max(...ys) + yPad, PLOT.y0, PLOT.y1);
  const out = frame(title, xLabel, yLabel, x, y);
  if (guide) {
    const gy = y.toPixel(guide.y).toFixed(1);
    out.push(`<line x1="${PLOT.x0}" y1="${gy}" x2="${PLOT.x1}" y2="${gy}" stroke="#777" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${PLOT.x1 - 6}" y="${gy}" dy="-5" text-anchor="end" fill="#555">${escapeXml(guide.label)}</text>`);
  }
  const placed = points.map((p) => ({ px: x.toPixel(p.x), py: y.toPixel(p.y), label: p.label }));
  const labels = placeLabels(placed);
  points.forEach((p, i) => {
    const { px, py } = placed[i]!;
    const colour = p.highlight ? PALETTE[1] : PALETTE[0];
    out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="4" fill="${colour}"><title>${escapeXml(`${p.label}: ${fmt(p.x)}, ${fmt(p.y)}`)}</title></circle>`);
    const l = labels[i]!;
    out.push(`<text x="${l.x.toFixed(1)}" y="${l.y.toFixed(1)}" text-anchor="${l.anchor}" font-size="${LABEL_SIZE}" fill="${colour}">${escapeXml(p.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** Lines over a linear x axis with integer ticks (thread counts), y from zero, with a legend. */
export function lineChart({ title, xLabel, yLabel, series }: LineChart): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs, xMin + 1);
  const x: Axis = {
    toPixel: (v) => PLOT.x0 + 20 + ((v - xMin) / (xMax - xMin)) * (PLOT.x1 - PLOT.x0 - 40),
    ticks: Array.from({ length: xMax - xMin + 1 }, (_, i) => xMin + i),
  };
  const y = linearAxis(0, Math.max(...ys), PLOT.y0, PLOT.y1);
  const out = frame(title, xLabel, yLabel, x, y);
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const path = s.points.map((p) => `${x.toPixel(p.x).toFixed(1)},${y.toPixel(p.y).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${path}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const p of s.points) {
      out.push(`<circle cx="${x.toPixel(p.x).toFixed(1)}" cy="${y.toPixel(p.y).toFixed(1)}" r="3.5" fill="${colour}"><title>${escapeXml(`${s.label}: ${fmt(p.x)}, ${fmt(p.y)}`)}</title></circle>`);
    }
    const ly = PLOT.y1 + 18 + i * 18;
    out.push(`<line x1="${PLOT.x0 + 12}" y1="${ly - 4}" x2="${PLOT.x0 + 32}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${PLOT.x0 + 38}" y="${ly}">${escapeXml(s.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
