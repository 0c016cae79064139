// The dashboard's "Critical touchpoints" view in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core): every row of its table against
// GET /v1/drivers from the same gateway (rank, importance and its interval,
// rank interval, raters, status, quadrant), the quadrant chart's four named
// quadrants and points, the opportunity bars' labels; then a click on the
// top touchpoint opens its trend on the journey map, which marks the
// critical touchpoints.
//
//   node tests/browser/drivers_check.mjs --url http://127.0.0.1:8080 \
//     --key polku_… --journey drivers --screenshot /tmp/drivers.png
//
// Exits 0 when everything matches; otherwise prints each mismatch and exits 1.
import { startCheck } from './check_util.mjs';

const { args, base, problem, log, api, inChromium, openPage, finish } = startCheck('drivers_check');

// How the page must show each number: written out here on purpose,
// independently of gateway/dashboard/drivers.js.
const pct1 = (v) => `${v.toFixed(1)} %`;
const QUADRANT_TEXT = {
  CONCENTRATE_HERE: 'Concentrate here',
  KEEP_UP_THE_GOOD_WORK: 'Keep up the good work',
  LOW_PRIORITY: 'Low priority',
  POSSIBLE_OVERKILL: 'Possible overkill',
};
const signed2 = (v) => {
  const t = Math.abs(v).toFixed(2);
  if (t === '0.00') return '0.00';
  return v < 0 ? `\u2212${t}` : `+${t}`;
};

await inChromium(async (browser) => {
  const page = await openPage(browser, { width: 1440, height: 1400 });

  const driversResponse = page.waitForResponse((r) => r.url().includes('/v1/drivers'));
  await page.goto(`${base}/?journey=${encodeURIComponent(args.journey)}&view=drivers#key=${encodeURIComponent(args.key)}`);
  const driversUrl = new URL((await driversResponse).url());
  await page.waitForSelector('#view-drivers[data-state="ready"]');
  // The same question, asked again: the answer is deterministic (seeded
  // bootstrap) while no new events arrive.
  const answer = await api(driversUrl.pathname + driversUrl.search);
  const drivers = answer.drivers ?? [];
  log(`${drivers.length} drivers, R² ${answer.model.rSquared}, as of sequence ${answer.asOfSequence}`);
  if (drivers.length === 0) problem('the API answered no drivers');

  const rows = await page.evaluate(() => [...document.querySelectorAll('#view-drivers table.drivers-table tbody tr')]
    .map((tr) => {
      const fields = {};
      for (const td of tr.querySelectorAll('td')) fields[td.dataset.field] = td.innerText.trim();
      return { key: tr.dataset.key, status: tr.dataset.status, critical: tr.className.includes('critical'), fields };
    }));
  if (rows.length !== drivers.length) problem(`the table has ${rows.length} rows, the API ${drivers.length} drivers`);
  drivers.forEach((d, i) => {
    const row = rows[i];
    if (!row) return;
    const where = `row ${i + 1} (${d.key})`;
    if (row.key !== d.key) problem(`${where}: the page shows ${row.key}`);
    if (row.status !== d.status) problem(`${where}: status ${row.status}, API ${d.status}`);
    if (row.fields.raters !== String(Number(d.raters ?? 0))) problem(`${where}: raters ${row.fields.raters}, API ${d.raters}`);
    if (Boolean(d.critical) !== row.critical) problem(`${where}: critical mark ${row.critical}, API ${Boolean(d.critical)}`);
    if (d.status === 'DRIVER_OK') {
      if (row.fields.rank !== String(d.rank)) problem(`${where}: rank ${row.fields.rank}, API ${d.rank}`);
      if (row.fields.importance !== pct1(d.importancePercent)) {
        problem(`${where}: importance "${row.fields.importance}", API ${d.importancePercent}`);
      }
      const ci = `${pct1(d.importancePercentCi95.low)} \u2026 ${pct1(d.importancePercentCi95.high)}`;
      if (row.fields['importance-ci'] !== ci) problem(`${where}: interval "${row.fields['importance-ci']}", API ${ci}`);
      if (row.fields['rank-interval'] !== `${d.rankLow}\u2013${d.rankHigh}`) {
        problem(`${where}: rank interval "${row.fields['rank-interval']}", API ${d.rankLow}–${d.rankHigh}`);
      }
      if (d.effect !== undefined && !row.fields.effect.startsWith(signed2(d.effect))) {
        problem(`${where}: effect "${row.fields.effect}", API ${d.effect}`);
      }
      if (row.fields.quadrant !== QUADRANT_TEXT[d.quadrant]) problem(`${where}: quadrant "${row.fields.quadrant}", API ${d.quadrant}`);
    } else {
      if (row.fields.importance !== '\u2013') problem(`${where}: an insufficient driver shows importance "${row.fields.importance}"`);
      if (!row.fields.status.includes('INSUFFICIENT')) problem(`${where}: status text "${row.fields.status}"`);
    }
  });

  // The quadrant chart: the four names and every driver of the model.
  const quadrantText = await page.evaluate(() => [...document.querySelectorAll('#drivers-quadrant svg text')].map((t) => t.textContent));
  for (const name of Object.values(QUADRANT_TEXT)) {
    if (!quadrantText.includes(name)) problem(`the quadrant chart lacks "${name}"`);
  }
  for (const d of drivers.filter((x) => x.status === 'DRIVER_OK')) {
    if (!quadrantText.includes(d.name || d.key)) problem(`the quadrant chart lacks the point ${d.name || d.key}`);
  }
  // The opportunity bars: one label per touchpoint with an opportunity.
  const opportunityText = await page.evaluate(() => [...document.querySelectorAll('#drivers-opportunity svg text')].map((t) => t.textContent));
  for (const d of drivers.filter((x) => x.opportunity)) {
    const o = d.opportunity;
    const label = o.targetMet ? 'target met' : signed2(o.outcomeChange ?? 0);
    if (!opportunityText.some((t) => t.startsWith(label))) problem(`the opportunity bars lack "${label}" for ${d.key}: ${opportunityText}`);
  }
  await page.screenshot({ path: args.screenshot, fullPage: true });

  // A click on the top touchpoint opens its trend on the map.
  const top = drivers.find((d) => d.status === 'DRIVER_OK');
  if (top) {
    await page.click(`#view-drivers button[data-touchpoint="${top.key}"]`);
    await page.waitForSelector(`#detail[data-touchpoint="${top.key}"]`);
    log(`clicking ${top.key} opened its trend`);
    // The map marks the critical touchpoints, as the API names them.
    await page.waitForSelector('#map[data-critical-marked]');
    const marked = await page.evaluate(() => [...document.querySelectorAll('#map button.tp[data-critical="true"]')]
      .map((b) => b.dataset.touchpoint).sort());
    const expected = drivers.filter((d) => d.critical).map((d) => d.key).sort();
    if (JSON.stringify(marked) !== JSON.stringify(expected)) {
      problem(`the map marks ${marked} as critical, the API ${expected}`);
    } else {
      log(`the map marks ${marked.join(', ')} as critical`);
    }
  }
}, {
  // What the page showed instead.
  onFailure: async (browser) => {
    try {
      const pages = browser.contexts().flatMap((c) => c.pages());
      for (const p of pages) {
        const state = await p.evaluate(() => ({
          view: document.querySelector('#view-drivers')?.dataset.state,
          error: document.querySelector('[role="alert"], #error')?.innerText,
          body: document.body.innerText.slice(0, 2000),
        }));
        problem(`page state: ${JSON.stringify(state)}`);
        await p.screenshot({ path: args.screenshot, fullPage: true });
      }
    } catch (inner) {
      problem(`(no page state: ${inner})`);
    }
  },
});
finish('the view matches the API');
