// The journey map as a grid: stages as columns (journey order), channels as
// rows (first-use order), each touchpoint in its cell. buildGrid is pure (it
// turns GET /v1/journey-map JSON into what the table shows); renderGrid
// draws it.
import {
  describeAlert, formatInterval, formatValue, int, metricInfo, statusInfo,
  trendInfo,
} from './format.js';

// One touchpoint as the grid shows it.
export function touchpointView(touchpoint, stage, channel) {
  const metric = touchpoint.headlineMetric ?? 'METRIC_UNSPECIFIED';
  const interval = touchpoint.ci95;
  const status = statusInfo(touchpoint.targetStatus);
  const hasTarget = touchpoint.target !== undefined && touchpoint.target !== null;
  const alerts = touchpoint.openAlerts ?? [];
  return {
    key: touchpoint.key,
    name: touchpoint.name || touchpoint.key,
    stage,
    channel,
    metric,
    metricLabel: metricInfo(metric).short,
    value: touchpoint.value,
    low: interval?.low,
    high: interval?.high,
    n: int(touchpoint.n),
    events: int(touchpoint.events),
    target: hasTarget ? touchpoint.target : undefined,
    status: touchpoint.targetStatus ?? 'INSUFFICIENT_DATA',
    statusCss: status.css,
    statusText: hasTarget
      ? `${status.symbol} ${status.label} (${formatValue(metric, touchpoint.target)})`
      : `${status.symbol} ${status.label}`,
    trend: touchpoint.trend ?? 'TREND_UNKNOWN',
    trendSymbol: trendInfo(touchpoint.trend).symbol,
    trendLabel: trendInfo(touchpoint.trend).label,
    valueText: formatValue(metric, touchpoint.value),
    intervalText: formatInterval(metric, interval),
    alerts,
    alertTexts: alerts.map(describeAlert),
  };
}

// {columns: [{key, name}], rows: [{channel, cells: [{stage, channel,
// touchpoints: [view…]}]}]}; cells of stages or channels the lists lack are
// given a column or row of their own at the end, so nothing is dropped.
export function buildGrid(map) {
  const columns = (map.stages ?? []).map((s) => ({ key: s.key, name: s.name || s.key }));
  const channels = [...(map.channels ?? [])];
  const byCell = new Map();
  for (const cell of map.cells ?? []) {
    if (!columns.some((c) => c.key === cell.stage)) {
      columns.push({ key: cell.stage, name: cell.stage });
    }
    if (!channels.includes(cell.channel)) channels.push(cell.channel);
    byCell.set(`${cell.stage}\u0000${cell.channel}`, cell);
  }
  const rows = channels.map((channel) => ({
    channel,
    cells: columns.map((column) => {
      const cell = byCell.get(`${column.key}\u0000${channel}`);
      return {
        stage: column.key,
        channel,
        touchpoints: (cell?.touchpoints ?? []).map(
          (t) => touchpointView(t, column.key, channel)),
      };
    }),
  }));
  return { columns, rows };
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child);
  }
  return node;
}

function touchpointButton(view, onSelect) {
  const alertCount = view.alerts.length;
  const button = el('button', {
    type: 'button',
    class: `tp status-${view.statusCss}`,
    'data-touchpoint': view.key,
    'data-stage': view.stage,
    'data-channel': view.channel,
    'data-metric': view.metric,
    'data-value': view.value,
    'data-low': view.low,
    'data-high': view.high,
    'data-n': view.n,
    'data-status': view.status,
    'data-trend': view.trend,
    'data-alerts': alertCount,
    'aria-pressed': 'false',
  },
  el('span', { class: 'tp-name' }, view.name),
  el('span', { class: 'tp-headline' },
    el('span', { class: 'tp-metric' }, view.metricLabel), ' ',
    el('span', { class: 'tp-value' }, view.valueText), ' ',
    el('span', { class: 'tp-trend', title: view.trendLabel },
      view.trendSymbol, el('span', { class: 'visually-hidden' }, ` ${view.trendLabel}`))),
  view.intervalText
    ? el('span', { class: 'tp-interval' }, `95 % CI ${view.intervalText}`)
    : null,
  el('span', { class: 'tp-n' }, `n = ${view.n}`),
  el('span', { class: 'tp-status' }, view.statusText),
  alertCount > 0
    ? el('span', { class: 'tp-alerts', title: view.alertTexts.join('\n') },
      `\u26a0 ${alertCount}`,
      el('span', { class: 'visually-hidden' },
        ` open alert${alertCount === 1 ? '' : 's'}: ${view.alertTexts.join('; ')}`))
    : null);
  button.addEventListener('click', () => onSelect(view));
  return button;
}

// Replaces `table`'s content with the grid; onSelect(view) on a click.
export function renderGrid(table, grid, caption, onSelect) {
  table.replaceChildren();
  table.append(el('caption', {}, caption));
  const head = el('tr', {}, el('td', { class: 'corner' }));
  for (const column of grid.columns) {
    head.append(el('th', { scope: 'col', 'data-stage': column.key }, column.name));
  }
  table.append(el('thead', {}, head));
  const body = el('tbody');
  for (const row of grid.rows) {
    const tr = el('tr', {}, el('th', { scope: 'row', 'data-channel': row.channel }, row.channel));
    for (const cell of row.cells) {
      const td = el('td', { 'data-stage': cell.stage, 'data-channel': cell.channel });
      if (cell.touchpoints.length > 0) {
        const list = el('ul', { class: 'tp-list' });
        for (const view of cell.touchpoints) {
          list.append(el('li', {}, touchpointButton(view, onSelect)));
        }
        td.append(list);
      }
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
}
