// The "Critical touchpoints" view: GET /v1/drivers drawn as an
// importance–performance quadrant chart (cross-hairs at the means, the four
// quadrants named), the ranked table with intervals, raters and status, and
// the opportunity bars (what reaching each target is worth). A click on a
// touchpoint opens its trend on the journey map. docs/drivers.md explains
// the numbers.
import { drawChart } from './charts.js';
import { int } from './format.js';

const QUADRANTS = {
  CONCENTRATE_HERE: 'Concentrate here',
  KEEP_UP_THE_GOOD_WORK: 'Keep up the good work',
  LOW_PRIORITY: 'Low priority',
  POSSIBLE_OVERKILL: 'Possible overkill',
};

const MINUS = '\u2212';

// Pure formatting (exported for tests/browser/model_test.mjs).
export function percent1(value) {
  return value === undefined ? '\u2013' : `${value.toFixed(1)} %`;
}
export function share(value) {
  return value === undefined ? '\u2013' : `${Math.round(value * 100)} %`;
}
export function signed2(value) {
  if (value === undefined) return '\u2013';
  const text = Math.abs(value).toFixed(2);
  if (text === '0.00') return '0.00';
  return value < 0 ? `${MINUS}${text}` : `+${text}`;
}
export function range(interval, format) {
  if (!interval || interval.low === undefined || interval.high === undefined) return '';
  return `${format(interval.low)} \u2026 ${format(interval.high)}`;
}
export function quadrantName(quadrant) {
  return QUADRANTS[quadrant] ?? '';
}

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) node.setAttribute(name, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function cell(row, text, attributes = {}) {
  row.append(element('td', attributes, text));
}

function summary(answer) {
  const model = answer.model ?? {};
  const p = element('p', { class: 'drivers-summary', 'data-customers': int(model.customers) });
  const adjusted = model.adjustedRSquared === undefined
    ? '' : `, adjusted ${model.adjustedRSquared.toFixed(3)}`;
  p.textContent = `${answer.outcomeScale ?? ''} at ${answer.outcomeTouchpoint ?? ''} · ` +
    `${int(model.customers)} customers · R² ${(model.rSquared ?? 0).toFixed(3)}${adjusted} · ` +
    `${int(model.groups)} drivers in the model (at least ${model.minRaters ?? 0} raters each)`;
  const method = element('p', { class: 'drivers-method' }, model.method ?? '');
  const nodes = [p, method];
  if ((model.warnings ?? []).length > 0) {
    const list = element('ul', { class: 'drivers-warnings' });
    for (const warning of model.warnings) list.append(element('li', {}, warning));
    nodes.push(list);
  }
  return nodes;
}

// The axis end at or above `x` a reader expects: 10, 20, 25, 50, 60, 80 or 100
// (and their multiples of ten), not an odd 58.
function niceCeiling(x) {
  if (!(x > 0)) return 0;
  const magnitude = 10 ** Math.floor(Math.log10(x));
  const step = [1, 2, 2.5, 5, 6, 8, 10].find((m) => m * magnitude >= x - 1e-9);
  return step * magnitude;
}

// The quadrant's points. A name written to the right of its point would run
// over a point just right of it at about the same performance, so such a
// point's name goes above it instead.
function quadrantPoints(drivers, xMax) {
  const points = drivers.map((d) => ({
    name: d.name || d.key,
    value: [d.importancePercent ?? 0, (d.top2Box ?? 0) * 100],
  }));
  for (const p of points) {
    const crowded = points.some((q) => q !== p && q.value[0] >= p.value[0] &&
      q.value[0] - p.value[0] < xMax * 0.1 && Math.abs(q.value[1] - p.value[1]) < 5 &&
      (q.value[0] > p.value[0] || q.name > p.name));
    if (crowded) p.label = { position: 'top' };
  }
  return points;
}

async function quadrantChart(container, answer) {
  const model = answer.model ?? {};
  const inModel = (answer.drivers ?? []).filter((d) => d.status === 'DRIVER_OK');
  const xMid = model.importanceCrosshair ?? 0;
  const yMid = (model.performanceCrosshair ?? 0) * 100;
  const xMax = Math.min(100, niceCeiling(Math.max(xMid * 2, ...inModel.map((d) => d.importancePercentCi95?.high ?? d.importancePercent ?? 0)) * 1.05)) || 100;
  const area = (name, x0, x1, y0, y1, position) => [
    { name, xAxis: x0, yAxis: y0, label: { show: true, position, color: '#4b5563', fontSize: 12 } },
    { xAxis: x1, yAxis: y1 },
  ];
  return drawChart(container, {
    grid: { left: 60, right: 30, top: 30, bottom: 50 },
    xAxis: { type: 'value', name: 'Importance (% of explained)', nameLocation: 'middle', nameGap: 30, min: 0, max: xMax },
    yAxis: { type: 'value', name: 'Performance (top-2-box %)', nameLocation: 'middle', nameGap: 40, min: 0, max: 100 },
    series: [{
      type: 'scatter',
      symbolSize: 12,
      data: quadrantPoints(inModel, xMax),
      label: { show: true, position: 'right', formatter: (p) => p.name, fontSize: 11 },
      // Nearby touchpoints' names are moved apart rather than drawn over
      // each other, with a line to their point once moved.
      labelLayout: { moveOverlap: 'shiftY' },
      labelLine: { show: true, length2: 4, lineStyle: { color: '#9ca3af' } },
      markLine: {
        silent: true,
        symbol: 'none',
        lineStyle: { type: 'dashed', color: '#6b7280' },
        label: { show: false },
        data: [{ xAxis: xMid }, { yAxis: yMid }],
      },
      markArea: {
        silent: true,
        itemStyle: { color: 'rgba(0,0,0,0)' },
        data: [
          area(QUADRANTS.CONCENTRATE_HERE, xMid, xMax, 0, yMid, 'insideBottomRight'),
          area(QUADRANTS.KEEP_UP_THE_GOOD_WORK, xMid, xMax, yMid, 100, 'insideTopRight'),
          area(QUADRANTS.LOW_PRIORITY, 0, xMid, 0, yMid, 'insideBottomLeft'),
          area(QUADRANTS.POSSIBLE_OVERKILL, 0, xMid, yMid, 100, 'insideTopLeft'),
        ],
      },
    }],
  });
}

function table(answer, ctx) {
  const t = element('table', { class: 'trend-table drivers-table' });
  const head = element('tr');
  for (const title of ['Rank', 'Touchpoint', 'Importance', '95 % interval', 'Rank interval',
    'Relative weight', 'Effect per point', 'Performance', 'Raters', 'Status', 'Quadrant']) {
    head.append(element('th', { scope: 'col' }, title));
  }
  const thead = element('thead');
  thead.append(head);
  t.append(thead);
  const body = t.appendChild(element('tbody'));
  for (const d of answer.drivers ?? []) {
    const ok = d.status === 'DRIVER_OK';
    const row = element('tr', { 'data-key': d.key, 'data-status': d.status, class: d.critical ? 'critical' : '' });
    cell(row, ok ? String(d.rank) : '\u2013', { 'data-field': 'rank' });
    const name = element('td', { 'data-field': 'name' });
    const button = element('button', { type: 'button', class: 'link', 'data-touchpoint': d.key },
      d.name || d.key);
    if (d.stage) button.addEventListener('click', () => ctx.openTouchpoint(d.key));
    else button.disabled = true;
    name.append(button);
    if (d.critical) name.append(element('span', { class: 'critical-mark', title: 'critical touchpoint' }, ' \u2605'));
    row.append(name);
    cell(row, ok ? percent1(d.importancePercent) : '\u2013', { 'data-field': 'importance' });
    cell(row, ok ? range(d.importancePercentCi95, percent1) : '', { 'data-field': 'importance-ci' });
    cell(row, ok ? `${d.rankLow}\u2013${d.rankHigh}` : '', { 'data-field': 'rank-interval' });
    cell(row, ok && d.relativeWeight !== undefined && answer.model.rSquared > 0
      ? percent1(100 * d.relativeWeight / answer.model.rSquared) : '\u2013', { 'data-field': 'relative-weight' });
    cell(row, ok && d.effect !== undefined
      ? `${signed2(d.effect)} (${range(d.effectCi95, signed2)})` : '\u2013', { 'data-field': 'effect' });
    cell(row, d.top2Box === undefined ? '\u2013'
      : `${share(d.top2Box)} (${range(d.top2BoxCi95, share)})`, { 'data-field': 'performance' });
    cell(row, String(int(d.raters)), { 'data-field': 'raters' });
    cell(row, ok ? 'OK' : (d.note || 'INSUFFICIENT'), { 'data-field': 'status' });
    cell(row, quadrantName(d.quadrant), { 'data-field': 'quadrant' });
    body.append(row);
  }
  return t;
}

async function opportunities(container, answer) {
  const rows = (answer.drivers ?? []).filter((d) => d.opportunity);
  rows.sort((a, b) => (b.opportunity.outcomeChange ?? 0) - (a.opportunity.outcomeChange ?? 0));
  if (rows.length === 0) {
    container.replaceWith(element('p', { class: 'drivers-no-opportunity' },
      'No touchpoint in the model has a target on its rating scale.'));
    return null;
  }
  const names = rows.map((d) => d.name || d.key);
  container.style.minHeight = '0';
  container.style.height = `${80 + 36 * rows.length}px`;
  return drawChart(container, {
    grid: { left: 160, right: 80, top: 20, bottom: 40 },
    xAxis: { type: 'value', name: `Outcome change (${answer.outcomeScale ?? ''} points)`, nameLocation: 'middle', nameGap: 28 },
    yAxis: { type: 'category', data: names, inverse: true },
    series: [{
      type: 'bar',
      data: rows.map((d) => d.opportunity.outcomeChange ?? 0),
      label: {
        show: true,
        position: 'right',
        formatter: (p) => {
          const o = rows[p.dataIndex].opportunity;
          return o.targetMet ? 'target met' : `${signed2(o.outcomeChange ?? 0)} (${range(o.outcomeChangeCi95, signed2)})`;
        },
      },
    }],
  });
}

export const view = {
  id: 'drivers',
  title: 'Critical touchpoints',
  async render(section, ctx) {
    const answer = await ctx.get('/v1/drivers', {
      journey: ctx.journey, start: ctx.range?.start, end: ctx.range?.end,
    });
    if (ctx.signal.aborted) return;
    section.replaceChildren();
    section.append(element('h2', {}, 'Critical touchpoints'));
    section.dataset.asOf = String(int(answer.asOfSequence));
    for (const node of summary(answer)) section.append(node);

    const quadrant = element('figure', { class: 'chart-figure' });
    quadrant.append(element('figcaption', {},
      'Importance (share of the explained variance of the outcome) against performance; cross-hairs at the means'));
    const quadrantBox = element('div', { class: 'echart', id: 'drivers-quadrant' });
    quadrant.append(quadrantBox);
    section.append(quadrant);
    section.append(table(answer, ctx));

    const opportunity = element('figure', { class: 'chart-figure' });
    opportunity.append(element('figcaption', {},
      'Opportunity: the predicted change of the outcome if the touchpoint reached its target, with 95 % intervals'));
    const opportunityBox = element('div', { class: 'echart', id: 'drivers-opportunity' });
    opportunity.append(opportunityBox);
    section.append(opportunity);
    await quadrantChart(quadrantBox, answer);
    await opportunities(opportunityBox, answer);
  },
};
