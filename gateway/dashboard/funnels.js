// The "Funnel and paths" view (docs/funnels.md): the journey's stages as a
// funnel with the bottleneck marked and in-progress customers apart from
// those who dropped, the time between stages, the channel-switching matrix
// as a heat map, and the most common channel paths (a table and a Sankey
// diagram). Numbers come from GET /v1/funnel and GET /v1/paths for the
// chosen journey and range; every figure is also a table, so the numbers
// are text in the page.
import { drawChart } from './charts.js';
import { int } from './format.js';

// "57 %" for a share in [0, 1].
export function percent(share) {
  return `${Math.round(share * 100)} %`;
}

// "52–61 %" for an interval of shares; "" without one.
export function percentRange(interval) {
  if (!interval) return '';
  return `${Math.round((interval.low ?? 0) * 100)}\u2013${Math.round((interval.high ?? 0) * 100)} %`;
}

// A duration in seconds as hours ("13.9 h") or, from two days on, days
// ("3.2 d").
export function duration(seconds) {
  const s = seconds ?? 0;
  if (s >= 48 * 3600) return `${(s / 86400).toFixed(1)} d`;
  return `${(s / 3600).toFixed(1)} h`;
}

function durationRange(interval) {
  if (!interval) return '';
  return `${duration(interval.low)}\u2013${duration(interval.high)}`;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function table(caption, headings, rows, name) {
  const t = element('table', undefined, { class: 'trend-table', 'data-table': name });
  t.append(element('caption', caption));
  const head = element('tr');
  for (const heading of headings) head.append(element('th', heading));
  t.append(head);
  for (const row of rows) {
    const tr = element('tr');
    for (const [key, text] of row) tr.append(element('td', text, { 'data-field': key }));
    t.append(tr);
  }
  return t;
}

function figure(caption) {
  const f = element('figure', undefined, { class: 'chart-figure' });
  f.append(element('figcaption', caption));
  const box = element('div', undefined, { class: 'echart' });
  f.append(box);
  return { f, box };
}

function stageRows(stages) {
  return stages.map((s) => {
    const previous = s.fromPrevious;
    const time = s.timeToNext;
    return [
      ['stage', s.name || s.stage],
      ['reached', String(int(s.reached))],
      ['from_previous', previous ? `${percent(previous.rate ?? 0)} (${percentRange(previous.ci95)})${previous.estimated ? ' est.' : ''}` : ''],
      ['from_first', s.fromFirst ? percent(s.fromFirst.rate ?? 0) : ''],
      ['dropped', String(int(s.dropped))],
      ['in_progress', String(int(s.inProgress))],
      ['median', time ? `${duration(time.medianSeconds)} (${durationRange(time.medianCi95Seconds)})` : ''],
      ['p90', time ? duration(time.p90Seconds) : ''],
      ['response_rate', int(s.reached) > 0 ? percent(s.responseRate ?? 0) : ''],
    ];
  });
}

function describeBottleneck(funnel) {
  const b = funnel.bottleneck;
  if (!b) return 'No bottleneck: fewer than two transitions with customers.';
  const name = (key) => (funnel.stages.find((s) => s.stage === key)?.name || key);
  const what = `${name(b.fromStage)} \u2192 ${name(b.toStage)}: ${percent(b.drop ?? 0)} drop`;
  return b.significant
    ? `Bottleneck: ${what}, significantly larger than the next (${percent(b.runnerUpDrop ?? 0)}).`
    : `Largest drop: ${what}, not significantly larger than the next (${percent(b.runnerUpDrop ?? 0)}).`;
}

async function drawFunnel(box, funnel) {
  const stages = funnel.stages;
  const names = stages.map((s) => s.name || s.stage);
  const bottleneckTo = funnel.bottleneck?.significant ? funnel.bottleneck.toStage : null;
  await drawChart(box, {
    tooltip: { trigger: 'axis' },
    legend: { data: ['went on', 'in progress', 'dropped'] },
    grid: { left: 120, right: 30, top: 40, bottom: 30 },
    yAxis: { type: 'category', data: names, inverse: true },
    xAxis: { type: 'value', name: 'customers' },
    series: [
      {
        name: 'went on',
        type: 'bar',
        stack: 'stage',
        label: { show: true, position: 'insideLeft' },
        data: stages.map((s, i) => ({
          value: int(s.reached) - int(s.dropped) - int(s.inProgress),
          itemStyle: stages[i + 1]?.stage === bottleneckTo ? { color: '#b42318' } : undefined,
        })),
      },
      { name: 'in progress', type: 'bar', stack: 'stage', itemStyle: { color: '#f5b041' },
        data: stages.map((s) => int(s.inProgress)) },
      { name: 'dropped', type: 'bar', stack: 'stage', itemStyle: { color: '#9aa3b2' },
        data: stages.map((s) => int(s.dropped)) },
    ],
  });
}

async function drawSwitching(box, paths) {
  const channels = paths.channels ?? [];
  await drawChart(box, {
    tooltip: {},
    grid: { left: 90, right: 30, top: 30, bottom: 70 },
    xAxis: { type: 'category', data: channels, name: 'next touch' },
    yAxis: { type: 'category', data: channels, name: 'from' },
    visualMap: { min: 0, max: 1, calculable: false, orient: 'horizontal', left: 'center', bottom: 0 },
    series: [{
      type: 'heatmap',
      label: { show: true, formatter: (p) => percent(p.value[2]) },
      data: (paths.switching ?? []).map((c) => [
        channels.indexOf(c.to), channels.indexOf(c.from), c.share ?? 0]),
    }],
  });
}

async function drawSankey(box, paths) {
  // Channels by position in the path, so that the diagram has no cycles.
  const nodes = new Map();
  const links = new Map();
  for (const path of paths.channelPaths ?? []) {
    const steps = path.steps ?? [];
    steps.forEach((channel, i) => nodes.set(`${i + 1}. ${channel}`, true));
    for (let i = 0; i + 1 < steps.length; ++i) {
      const key = `${i + 1}. ${steps[i]}|${i + 2}. ${steps[i + 1]}`;
      links.set(key, (links.get(key) ?? 0) + int(path.customers));
    }
  }
  await drawChart(box, {
    tooltip: {},
    series: [{
      type: 'sankey',
      left: 20,
      right: 90,
      data: [...nodes.keys()].map((name) => ({ name })),
      links: [...links].map(([key, value]) => {
        const [source, target] = key.split('|');
        return { source, target, value };
      }),
    }],
  });
}

// The conversion window the view asks for, in days (the user's choice is
// kept while the page is open).
export const WINDOW_DAYS = [1, 3, 7, 14, 30];
let windowDays = 7;

function windowControl(section, ctx) {
  const label = element('label', 'Conversion window ');
  const select = element('select', undefined, { 'data-control': 'window' });
  for (const days of WINDOW_DAYS) {
    const option = element('option', `${days} ${days === 1 ? 'day' : 'days'}`, { value: String(days) });
    select.append(option);
  }
  select.value = String(windowDays);
  select.addEventListener('change', () => {
    windowDays = Number(select.value);
    section.dataset.state = 'loading';
    view.render(section, ctx).then(
      () => { section.dataset.state = 'ready'; },
      () => { section.dataset.state = 'error'; },
    );
  });
  label.append(select);
  return label;
}

export const view = {
  id: 'funnel',
  title: 'Funnel and paths',
  async render(section, ctx) {
    const scope = { journey: ctx.journey };
    const [funnel, paths] = await Promise.all([
      ctx.get('/v1/funnel', {
        scope, range: ctx.range, conversion_window_seconds: windowDays * 86400,
      }),
      ctx.get('/v1/paths', { scope, range: ctx.range }),
    ]);
    funnel.stages ??= [];
    section.replaceChildren();
    section.append(element('h2', 'Funnel and paths'));
    section.append(windowControl(section, ctx));
    const summary = element('p', undefined, { 'data-summary': '' });
    summary.append(element('span',
      `${int(funnel.customers)} customers entered; ${int(funnel.inProgress)} still in progress ` +
      `(their ${Math.round(int(funnel.conversionWindowSeconds) / 86400)}-day window has not passed). ` +
      'Times between stages count customers whose window has passed. ',
      { 'data-field': 'customers' }));
    summary.append(element('strong', describeBottleneck(funnel), { 'data-field': 'bottleneck' }));
    section.append(summary);

    const stages = figure('Customers per stage: went on, still in progress, dropped');
    section.append(stages.f);
    section.append(table('Stages',
      ['Stage', 'Reached', 'From previous (95 %)', 'From first', 'Dropped', 'In progress',
        'Median time to next (95 %)', '90th percentile', 'Response rate'],
      stageRows(funnel.stages), 'stages'));
    if ((funnel.optionalStages ?? []).length > 0) {
      section.append(table('Optional stages',
        ['Stage', 'Customers', 'Take-up'],
        funnel.optionalStages.map((s) => [
          ['stage', s.name || s.stage], ['customers', String(int(s.customers))],
          ['take_up', percent(s.takeUp ?? 0)]]),
        'optional'));
    }

    const switching = figure(`Channel switching: share of customers with a touch in a channel whose next touch (within ${Math.round(int(paths.switchWithinSeconds) / 86400)} days) was in another`);
    section.append(switching.f);
    section.append(table('Channel switching',
      ['From', 'To', 'Customers', 'Of', 'Share (95 %)'],
      (paths.switching ?? []).map((c) => [
        ['from', c.from], ['to', c.to], ['customers', String(int(c.customers))],
        ['of', String(int(c.of))], ['share', `${percent(c.share ?? 0)} (${percentRange(c.shareCi95)})`]]),
      'switching'));

    const sankey = figure('Most common channel paths');
    section.append(sankey.f);
    section.append(table('Most common channel paths',
      ['Path', 'Customers', 'Share'],
      (paths.channelPaths ?? []).map((p) => [
        ['path', (p.steps ?? []).join(' \u2192 ')], ['customers', String(int(p.customers))],
        ['share', percent(p.share ?? 0)]]),
      'paths'));

    await drawFunnel(stages.box, funnel);
    await drawSwitching(switching.box, paths);
    await drawSankey(sankey.box, paths);
  },
};
