// A touchpoint's trend as an inline SVG: one point per bucket with its 95 %
// interval (a bar, and a band across neighbouring buckets), the sample size
// under each bucket (bars; numbers where they fit) and the target as a
// dashed line. chartModel is pure geometry; renderChart draws it.
import { day, formatInterval, formatValue, int, metricInfo } from './format.js';

export const SIZE = { width: 720, height: 300, left: 56, right: 16, top: 20, bottom: 70 };
// The strip of sample-size bars under the dates.
const N_BAR = { base: 42, height: 16 };

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

// The y range: the metric's own scale where it has one, else 0 to a round
// number above every value and interval bound.
export function domain(metric, points) {
  const info = metricInfo(metric);
  if (info.min !== null && info.max !== null) return [info.min, info.max];
  let high = 0;
  let low = 0;
  for (const p of points) {
    for (const v of [p.value, p.ci95?.high, p.ci95?.low]) {
      if (typeof v === 'number') {
        high = Math.max(high, v);
        low = Math.min(low, v);
      }
    }
  }
  return [low < 0 ? -niceMax(-low) : 0, niceMax(high)];
}

// Everything the chart draws, in SVG coordinates.
export function chartModel(trend, target) {
  const { width, height, left, right, top, bottom } = SIZE;
  const metric = trend.metric;
  const points = trend.points ?? [];
  const [min, max] = domain(metric, points);
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const step = points.length > 0 ? plotWidth / points.length : plotWidth;
  const y = (v) => top + plotHeight * (1 - (Math.min(max, Math.max(min, v)) - min) / (max - min));
  const largestN = Math.max(1, ...points.map((p) => int(p.n)));
  const buckets = points.map((p, i) => {
    const hasValue = typeof p.value === 'number';
    const ci = p.ci95;
    const hasInterval = hasValue && ci && typeof ci.low === 'number' && typeof ci.high === 'number';
    return {
      index: i,
      start: p.bucket?.start,
      end: p.bucket?.end,
      label: day(p.bucket?.start),
      n: int(p.n),
      value: hasValue ? p.value : undefined,
      low: hasInterval ? ci.low : undefined,
      high: hasInterval ? ci.high : undefined,
      x: left + step * (i + 0.5),
      y: hasValue ? y(p.value) : undefined,
      yLow: hasInterval ? y(ci.low) : undefined,
      yHigh: hasInterval ? y(ci.high) : undefined,
      nHeight: (N_BAR.height * int(p.n)) / largestN,
    };
  });
  // Runs of neighbouring buckets with values: a line and a band each.
  const runs = [];
  let run = [];
  for (const b of buckets) {
    if (b.value === undefined) {
      if (run.length) runs.push(run);
      run = [];
    } else {
      run.push(b);
    }
  }
  if (run.length) runs.push(run);
  const lines = runs.filter((r) => r.length > 1).map(
    (r) => r.map((b, i) => `${i ? 'L' : 'M'}${b.x.toFixed(1)},${b.y.toFixed(1)}`).join(' '));
  const bands = runs.map((r) => r.filter((b) => b.low !== undefined))
    .filter((r) => r.length > 1)
    .map((r) => [...r.map((b) => `${b.x.toFixed(1)},${b.yHigh.toFixed(1)}`),
      ...[...r].reverse().map((b) => `${b.x.toFixed(1)},${b.yLow.toFixed(1)}`)].join(' '));
  const ticks = [];
  for (let i = 0; i <= 4; ++i) {
    const v = min + ((max - min) * i) / 4;
    ticks.push({ value: v, y: y(v), text: formatValue(metric, v) });
  }
  // At most about eight date labels.
  const every = Math.max(1, Math.ceil(buckets.length / 8));
  const hasTarget = typeof target === 'number' && target >= min && target <= max;
  return {
    metric, min, max, buckets, lines, bands, ticks, every,
    barWidth: Math.max(1, Math.min(16, step * 0.6)),
    target: hasTarget ? { value: target, y: y(target) } : null,
    plot: { left, top, right: width - right, bottom: top + plotHeight },
  };
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

// Draws `model` into a new <svg> labelled by `title`.
export function renderChart(model, title) {
  const { width, height } = SIZE;
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': title, 'data-points': model.buckets.filter((b) => b.value !== undefined).length,
  });
  root.append(svg('title', {}, title));
  const { plot } = model;
  for (const tick of model.ticks) {
    root.append(svg('line', { class: 'grid', x1: plot.left, x2: plot.right, y1: tick.y, y2: tick.y }));
    root.append(svg('text', { class: 'tick', x: plot.left - 6, y: tick.y + 4, 'text-anchor': 'end' }, tick.text));
  }
  for (const band of model.bands) root.append(svg('polygon', { class: 'band', points: band }));
  for (const line of model.lines) root.append(svg('path', { class: 'line', d: line }));
  if (model.target) {
    root.append(svg('line', { class: 'target', x1: plot.left, x2: plot.right, y1: model.target.y, y2: model.target.y }));
    root.append(svg('text', { class: 'target-label', x: plot.left + 4, y: model.target.y - 4, 'text-anchor': 'start' },
      `target ${formatValue(model.metric, model.target.value)}`));
  }
  const base = plot.bottom + N_BAR.base;
  root.append(svg('text', { class: 'n-label', x: plot.left - 6, y: base, 'text-anchor': 'end' }, 'n'));
  for (const b of model.buckets) {
    if (b.index % model.every === 0) {
      root.append(svg('text', { class: 'date', x: b.x, y: plot.bottom + 14, 'text-anchor': 'middle' }, b.label.slice(5)));
      root.append(svg('text', { class: 'n', x: b.x, y: base + 14, 'text-anchor': 'middle' }, String(b.n)));
    }
    if (b.n > 0) {
      const bar = svg('rect', {
        class: 'n-bar', x: b.x - model.barWidth / 2, y: base - b.nHeight, width: model.barWidth, height: b.nHeight,
      });
      bar.append(svg('title', {}, `${b.label}: n = ${b.n}`));
      root.append(bar);
    }
    if (b.value === undefined) continue;
    const description = `${b.label}: ${formatValue(model.metric, b.value)}` +
      (b.low !== undefined ? ` (95 % CI ${formatInterval(model.metric, { low: b.low, high: b.high })})` : '') +
      `, n = ${b.n}`;
    const group = svg('g', { class: 'bucket' });
    if (b.low !== undefined) {
      group.append(svg('line', { class: 'interval', x1: b.x, x2: b.x, y1: b.yLow, y2: b.yHigh }));
      group.append(svg('line', { class: 'interval', x1: b.x - 4, x2: b.x + 4, y1: b.yLow, y2: b.yLow }));
      group.append(svg('line', { class: 'interval', x1: b.x - 4, x2: b.x + 4, y1: b.yHigh, y2: b.yHigh }));
    }
    const point = svg('circle', {
      class: 'point', cx: b.x, cy: b.y, r: 4,
      'data-start': b.start, 'data-value': b.value, 'data-n': b.n,
      'data-low': b.low, 'data-high': b.high,
    });
    point.append(svg('title', {}, description));
    group.append(point);
    root.append(group);
  }
  root.append(svg('line', { class: 'axis', x1: plot.left, x2: plot.left, y1: plot.top, y2: plot.bottom }));
  root.append(svg('line', { class: 'axis', x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom }));
  return root;
}
