// Loads the Polku dashboard in headless Chromium (Debian's /usr/bin/chromium
// through playwright-core), checks every cell of the journey-map grid
// against GET /v1/journey-map from the same gateway, clicks a touchpoint and
// checks its chart against GET /v1/trend, checks that a wrong key is
// refused plainly, and saves a screenshot.
//
//   node tests/browser/dashboard_check.mjs --url http://127.0.0.1:8080 \
//     --key polku_… --journey home-renovation --screenshot /tmp/dashboard.png
//     [--touchpoint KEY [--expect_alert]] [--chromium /usr/bin/chromium]
//     [--timeout_ms 30000]
//
// --touchpoint names the touchpoint to click (default: the one with the most
// answers); --expect_alert requires it to have an open alert.
//
// Exits 0 when everything matches; otherwise prints each mismatch and exits 1.
import { startCheck } from './check_util.mjs';

const { args, base, timeout, problem, log, api, inChromium, openPage, finish } = startCheck('dashboard_check', {
  options: {
    touchpoint: { type: 'string', default: '' },
    expect_alert: { type: 'boolean', default: false },
  },
});

// How the page must show each kind of number: written out here on purpose,
// independently of gateway/dashboard/format.js.
const SHARES = ['CSAT_TOP2_BOX', 'NPS_PROMOTER_SHARE', 'NPS_DETRACTOR_SHARE', 'CES_SHARE_5_TO_7'];
function shown(metric, value) {
  if (value === undefined) return '\u2013';
  if (SHARES.includes(metric)) return `${Math.round(value * 100)} %`;
  if (metric === 'NPS') {
    const r = Math.round(value);
    return r > 0 ? `+${r}` : r < 0 ? `\u2212${-r}` : '0';
  }
  if (metric === 'EVENT_COUNT') return String(Math.round(value));
  return value.toFixed(2);
}
const STATUS_TEXT = {
  MEETS_TARGET: 'meets target', NEAR_TARGET: 'near target', BELOW_TARGET: 'below target',
  NO_TARGET: 'no target', INSUFFICIENT_DATA: 'no data',
};

// A number attribute as the page wrote it ("" when absent).
const num = (text) => (text === undefined || text === null || text === '' ? undefined : Number(text));
const int = (value) => (value === undefined ? 0 : Number(value));
const same = (a, b) => (a === undefined && b === undefined) ||
  (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)));

await inChromium(async (browser) => {
  const page = await openPage(browser, { width: 1440, height: 900 });

  // 1. The map, with the key in the fragment.
  const mapResponse = page.waitForResponse((r) => r.url().includes('/v1/journey-map'));
  await page.goto(`${base}/?journey=${encodeURIComponent(args.journey)}#key=${encodeURIComponent(args.key)}`);
  const mapUrl = new URL((await mapResponse).url());
  await page.waitForSelector('#map[data-state="ready"]');
  if (page.url().includes('key=')) problem(`the key is still in the address: ${page.url()}`);

  // The analytic views' charting library (ECharts, bundled at build time)
  // loads under the page's Content-Security-Policy and draws its labels as
  // SVG text; a CSP refusal would show as a console error above.
  const chartText = await page.evaluate(async () => {
    const { drawChart } = await import('/dashboard/charts.js');
    const figure = document.createElement('div');
    figure.style.width = '400px';
    figure.style.height = '300px';
    document.body.append(figure);
    await drawChart(figure, {
      xAxis: { type: 'category', data: ['alpha', 'beta'] },
      yAxis: { type: 'value' },
      series: [{ type: 'bar', data: [3, 7], label: { show: true } }],
    });
    const text = [...figure.querySelectorAll('svg text')].map((t) => t.textContent);
    figure.remove();
    return text;
  });
  for (const label of ['alpha', 'beta', '3', '7']) {
    if (!chartText.includes(label)) problem(`the chart library did not draw "${label}": ${chartText}`);
  }
  const map = await api(mapUrl.pathname + mapUrl.search);
  log(`map of ${map.journey}: ${map.stages.length} stages, ${map.channels.length} channels, ` +
      `${map.cells.length} cells, as of sequence ${map.asOfSequence}`);

  const dom = await page.evaluate(() => {
    const table = document.querySelector('#map');
    const columns = [...table.querySelectorAll('thead th')].map((th) => th.dataset.stage);
    const rows = [...table.querySelectorAll('tbody tr')].map((tr) => tr.querySelector('th').dataset.channel);
    const buttons = [...table.querySelectorAll('button.tp')].map((b) => {
      const td = b.closest('td');
      const tr = td.closest('tr');
      return {
        ...b.dataset,
        column: [...tr.children].indexOf(td) - 1,
        row: [...tr.parentElement.children].indexOf(tr),
        cellStage: td.dataset.stage,
        cellChannel: td.dataset.channel,
        text: b.innerText.replace(/\s+/g, ' '),
        className: b.className,
      };
    });
    return { columns, rows, buttons };
  });

  const stageKeys = map.stages.map((s) => s.key);
  if (JSON.stringify(dom.columns) !== JSON.stringify(stageKeys)) {
    problem(`columns ${JSON.stringify(dom.columns)} != stages ${JSON.stringify(stageKeys)}`);
  }
  if (JSON.stringify(dom.rows) !== JSON.stringify(map.channels)) {
    problem(`rows ${JSON.stringify(dom.rows)} != channels ${JSON.stringify(map.channels)}`);
  }
  let expectedButtons = 0;
  for (const cell of map.cells) {
    for (const t of cell.touchpoints) {
      ++expectedButtons;
      const b = dom.buttons.find((x) => x.touchpoint === t.key);
      const where = `touchpoint ${t.key}`;
      if (!b) { problem(`${where}: not in the grid`); continue; }
      if (b.cellStage !== cell.stage || b.cellChannel !== cell.channel) {
        problem(`${where}: in cell ${b.cellStage}/${b.cellChannel}, API says ${cell.stage}/${cell.channel}`);
      }
      if (b.column !== stageKeys.indexOf(cell.stage) || b.row !== map.channels.indexOf(cell.channel)) {
        problem(`${where}: at column ${b.column} row ${b.row}`);
      }
      const checks = [
        ['metric', b.metric, t.headlineMetric],
        ['n', int(b.n), int(t.n)],
        ['status', b.status, t.targetStatus],
        ['trend', b.trend, t.trend],
        ['open alerts', int(b.alerts), (t.openAlerts ?? []).length],
      ];
      for (const [name, got, want] of checks) {
        if (got !== want) problem(`${where}: ${name} ${got} != ${want}`);
      }
      for (const [name, got, want] of [
        ['value', num(b.value), t.value], ['ci95.low', num(b.low), t.ci95?.low],
        ['ci95.high', num(b.high), t.ci95?.high]]) {
        if (!same(got, want)) problem(`${where}: ${name} ${got} != ${want}`);
      }
      const visible = [shown(t.headlineMetric, t.value), `n = ${int(t.n)}`, STATUS_TEXT[t.targetStatus]];
      if ((t.openAlerts ?? []).length > 0) visible.push(`\u26a0 ${t.openAlerts.length}`);
      for (const text of visible) {
        if (!b.text.includes(text)) problem(`${where}: shows "${b.text}", lacks "${text}"`);
      }
    }
  }
  if (dom.buttons.length !== expectedButtons) {
    problem(`${dom.buttons.length} touchpoints in the grid, the API has ${expectedButtons}`);
  }
  log(`grid: ${dom.buttons.length} touchpoints checked`);

  // 2. A touchpoint's trend chart.
  const all = map.cells.flatMap((c) => c.touchpoints);
  const chosen = args.touchpoint
    ? all.find((t) => t.key === args.touchpoint)
    : [...all].sort((a, b) => int(b.n) - int(a.n))[0];
  if (!chosen) throw new Error(`no touchpoint ${args.touchpoint || ''} to click`);
  if (args.expect_alert && (chosen.openAlerts ?? []).length === 0) {
    problem(`touchpoint ${chosen.key} has no open alert in the API's map`);
  }
  const trendResponse = page.waitForResponse((r) => r.url().includes('/v1/trend'));
  await page.click(`button.tp[data-touchpoint="${chosen.key}"]`);
  const trendUrl = new URL((await trendResponse).url());
  await page.waitForSelector(`#detail[data-state="ready"][data-touchpoint="${chosen.key}"]`);
  const trend = await api(trendUrl.pathname + trendUrl.search);
  const drawn = await page.evaluate(() => ({
    points: [...document.querySelectorAll('#chart svg circle.point')].map((c) => ({ ...c.dataset })),
    intervals: document.querySelectorAll('#chart svg line.interval').length,
    tableRows: document.querySelectorAll('#trend-table tbody tr').length,
    pressed: document.querySelector('button.tp[aria-pressed="true"]')?.dataset.touchpoint,
    alerts: [...document.querySelectorAll('#alerts li[data-alert]')].map((li) => li.dataset.alert),
  }));
  const withValues = trend.points.filter((p) => typeof p.value === 'number');
  log(`trend of ${chosen.key} (${trendUrl.search}): ${trend.points.length} buckets, ` +
      `${withValues.length} with values, ${drawn.points.length} points drawn`);
  if (withValues.length === 0) problem(`the trend of ${chosen.key} has no values to draw`);
  if (drawn.points.length !== withValues.length) {
    problem(`chart: ${drawn.points.length} points, the API has ${withValues.length}`);
  }
  withValues.forEach((p, i) => {
    const d = drawn.points[i];
    if (!d) return;
    if (d.start !== p.bucket.start) problem(`chart point ${i}: bucket ${d.start} != ${p.bucket.start}`);
    if (!same(num(d.value), p.value)) problem(`chart point ${i}: value ${d.value} != ${p.value}`);
    if (int(d.n) !== int(p.n)) problem(`chart point ${i}: n ${d.n} != ${p.n}`);
    if (!same(num(d.low), p.ci95?.low) || !same(num(d.high), p.ci95?.high)) {
      problem(`chart point ${i}: interval ${d.low}..${d.high} != ${p.ci95?.low}..${p.ci95?.high}`);
    }
  });
  const withIntervals = withValues.filter((p) => p.ci95 && typeof p.ci95.low === 'number').length;
  if (drawn.intervals !== 3 * withIntervals) {
    problem(`chart: ${drawn.intervals / 3} interval bars, the API has ${withIntervals} intervals`);
  }
  if (drawn.tableRows !== trend.points.length) {
    problem(`trend table: ${drawn.tableRows} rows for ${trend.points.length} buckets`);
  }
  if (drawn.pressed !== chosen.key) problem(`the pressed touchpoint is ${drawn.pressed}`);
  const listed = (await api(`/v1/alerts?journey=${encodeURIComponent(map.journey)}&include_cleared=true&page_size=1000`))
    .alerts.filter((a) => a.scope === 'GROUP_BY_TOUCHPOINT' && a.key === chosen.key).map((a) => a.id);
  if (JSON.stringify(drawn.alerts) !== JSON.stringify(listed)) {
    problem(`alerts of ${chosen.key}: page lists ${JSON.stringify(drawn.alerts)}, API ${JSON.stringify(listed)}`);
  }
  log(`alerts of ${chosen.key}: ${listed.length}`);

  await page.screenshot({ path: args.screenshot, fullPage: true });
  log(`screenshot: ${args.screenshot}`);

  // 3. A key the gateway does not know is refused in plain words.
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  other.setDefaultTimeout(timeout);
  await other.goto(`${base}/#key=polku_not_a_key`);
  await other.waitForSelector('#error:not([hidden])');
  const error = await other.textContent('#error');
  if (!/key not accepted/i.test(error)) problem(`a wrong key shows "${error}"`);
  if (!(await other.isVisible('#key-input'))) problem('a wrong key does not ask for another key');
  await stranger.close();
});
finish('every cell and the chart match the API');
