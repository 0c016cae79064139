// Loads the dashboard's "Funnel and paths" view in headless Chromium
// (Debian's /usr/bin/chromium through playwright-core) and checks it
// against GET /v1/funnel and GET /v1/paths asked with the same range: every
// cell of the stage, switching and path tables, the bottleneck sentence,
// the in-progress count, and the numbers the charts draw as SVG text.
//
//   node tests/browser/funnels_check.mjs --url http://127.0.0.1:8080 \
//     --key polku_… --journey shop --screenshot /tmp/funnel.png
//     [--expect_bottleneck compare:buy] [--chromium /usr/bin/chromium]
//
// Exits 0 when everything matches; otherwise prints each mismatch, exits 1.
import { startCheck } from './check_util.mjs';

const { args, base, problem, log, api, inChromium, openPage, finish } = startCheck('funnels_check', {
  options: { expect_bottleneck: { type: 'string', default: '' } },
});

// How the view must show each number: written out here on purpose,
// independently of gateway/dashboard/funnels.js.
const int = (value) => (value === undefined ? 0 : Number(value));
const pct = (x) => `${Math.round((x ?? 0) * 100)} %`;
const pctRange = (i) => `${Math.round((i?.low ?? 0) * 100)}\u2013${Math.round((i?.high ?? 0) * 100)} %`;
const dur = (s) => ((s ?? 0) >= 172800 ? `${((s ?? 0) / 86400).toFixed(1)} d` : `${((s ?? 0) / 3600).toFixed(1)} h`);

function expectedStageRows(funnel) {
  return (funnel.stages ?? []).map((s) => ({
    stage: s.name || s.stage,
    reached: String(int(s.reached)),
    from_previous: s.fromPrevious
      ? `${pct(s.fromPrevious.rate)} (${pctRange(s.fromPrevious.ci95)})${s.fromPrevious.estimated ? ' est.' : ''}`
      : '',
    from_first: s.fromFirst ? pct(s.fromFirst.rate) : '',
    dropped: String(int(s.dropped)),
    in_progress: String(int(s.inProgress)),
    median: s.timeToNext
      ? `${dur(s.timeToNext.medianSeconds)} (${dur(s.timeToNext.medianCi95Seconds?.low)}\u2013${dur(s.timeToNext.medianCi95Seconds?.high)})`
      : '',
    p90: s.timeToNext ? dur(s.timeToNext.p90Seconds) : '',
    response_rate: int(s.reached) > 0 ? pct(s.responseRate) : '',
  }));
}

async function tableRows(page, name) {
  return page.$$eval(`[data-table="${name}"] tr`, (rows) => rows
    .map((row) => Object.fromEntries([...row.querySelectorAll('td')]
      .map((td) => [td.dataset.field, td.textContent])))
    .filter((row) => Object.keys(row).length > 0));
}

function compareRows(what, shown, expected) {
  if (shown.length !== expected.length) {
    problem(`${what}: ${shown.length} rows shown, the API has ${expected.length}`);
  }
  expected.forEach((row, i) => {
    for (const [field, text] of Object.entries(row)) {
      if (shown[i]?.[field] !== text) {
        problem(`${what} row ${i + 1} ${field}: shown "${shown[i]?.[field]}", the API says "${text}"`);
      }
    }
  });
}

await inChromium(async (browser) => {
  const page = await openPage(browser, { width: 1440, height: 900 });

  const funnelResponse = page.waitForResponse((r) => r.url().includes('/v1/funnel?'));
  const pathsResponse = page.waitForResponse((r) => r.url().includes('/v1/paths?'));
  await page.goto(`${base}/?journey=${encodeURIComponent(args.journey)}&view=funnel#key=${encodeURIComponent(args.key)}`);
  const funnelUrl = new URL((await funnelResponse).url());
  const pathsUrl = new URL((await pathsResponse).url());
  await page.waitForSelector('#view-funnel[data-state="ready"]');
  // The same questions the page asked, answered to this script.
  const funnel = await api(funnelUrl.pathname + funnelUrl.search);
  const paths = await api(pathsUrl.pathname + pathsUrl.search);
  log(`${funnelUrl.pathname}${funnelUrl.search}: ${int(funnel.customers)} customers, ${int(funnel.inProgress)} in progress`);

  compareRows('stages', await tableRows(page, 'stages'), expectedStageRows(funnel));
  compareRows('optional stages', await tableRows(page, 'optional'),
    (funnel.optionalStages ?? []).map((s) => ({
      stage: s.name || s.stage, customers: String(int(s.customers)), take_up: pct(s.takeUp) })));
  compareRows('switching', await tableRows(page, 'switching'),
    (paths.switching ?? []).map((c) => ({
      from: c.from, to: c.to, customers: String(int(c.customers)), of: String(int(c.of)),
      share: `${pct(c.share)} (${pctRange(c.shareCi95)})` })));
  compareRows('paths', await tableRows(page, 'paths'),
    (paths.channelPaths ?? []).map((p) => ({
      path: (p.steps ?? []).join(' \u2192 '), customers: String(int(p.customers)), share: pct(p.share) })));

  const summary = await page.textContent('#view-funnel [data-summary]');
  if (!summary.includes(`${int(funnel.customers)} customers entered; ${int(funnel.inProgress)} still in progress`)) {
    problem(`summary "${summary}" does not give ${int(funnel.customers)} customers and ${int(funnel.inProgress)} in progress`);
  }
  const b = funnel.bottleneck;
  const bottleneckText = await page.textContent('#view-funnel [data-field="bottleneck"]');
  if (b) {
    const word = b.significant ? 'Bottleneck:' : 'Largest drop:';
    if (!bottleneckText.startsWith(word) || !bottleneckText.includes(`${pct(b.drop)} drop`)) {
      problem(`bottleneck shown as "${bottleneckText}", the API says ${JSON.stringify(b)}`);
    }
  }
  if (args.expect_bottleneck) {
    const [from, to] = args.expect_bottleneck.split(':');
    if (b?.fromStage !== from || b?.toStage !== to || !b?.significant) {
      problem(`the API's bottleneck is ${JSON.stringify(b)}, expected ${from} → ${to}, significant`);
    }
  }
  if (int(funnel.inProgress) === 0) problem('no customer in progress: the test data should have some');

  // The charts draw these numbers as SVG text: each stage's in-progress and
  // dropped counts (when non-zero) in the funnel, each cell's share in the
  // heat map.
  const svgText = await page.$$eval('#view-funnel svg text', (texts) => texts.map((t) => t.textContent));
  const charts = await page.$$eval('#view-funnel .echart svg', (svgs) => svgs.length);
  if (charts !== 3) problem(`${charts} charts drawn, expected 3 (funnel, switching, paths)`);
  for (const s of funnel.stages ?? []) {
    const name = s.name || s.stage;
    if (!svgText.includes(name)) problem(`the funnel chart does not name stage ${name}`);
  }
  for (const c of paths.switching ?? []) {
    if (!svgText.includes(pct(c.share))) problem(`the heat map lacks ${pct(c.share)} (${c.from} → ${c.to})`);
  }
  const firstPath = paths.channelPaths?.[0]?.steps ?? [];
  if (firstPath.length > 0 && !svgText.includes(`1. ${firstPath[0]}`)) {
    problem(`the Sankey diagram lacks node "1. ${firstPath[0]}"`);
  }

  if (!(funnel.stages ?? []).some((s) => s.timeToNext)) {
    problem('no stage has a time to the next one: some windows should have passed');
  }
  if (!funnelUrl.searchParams.get('conversion_window_seconds')) {
    problem(`the view did not ask for a conversion window: ${funnelUrl.search}`);
  }

  // Another conversion window: asked anew, and shown as answered.
  const again = page.waitForResponse((r) => r.url().includes('/v1/funnel?') &&
    r.url().includes('conversion_window_seconds=1209600'));
  await page.selectOption('#view-funnel [data-control="window"]', '14');
  const againUrl = new URL((await again).url());
  await page.waitForSelector('#view-funnel[data-state="ready"] [data-table="stages"]');
  const wider = await api(againUrl.pathname + againUrl.search);
  compareRows('stages (14-day window)', await tableRows(page, 'stages'), expectedStageRows(wider));
  log(`14-day window: ${int(wider.inProgress)} in progress`);

  await page.screenshot({ path: args.screenshot, fullPage: true });
  log(`screenshot: ${args.screenshot}`);
});
finish('every cell and chart label matches the API');
