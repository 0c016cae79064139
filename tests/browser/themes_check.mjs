// Drives the dashboard's "Pain points" view in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core) and checks it against the
// API's own answers to the questions the page asked: GET /v1/themes (every
// cell of the themes table, the summary, the emerging flags, one sparkline
// per theme) and GET /v1/themes/{id}/examples (every example comment, as
// text, with exactly the characters its UTF-8 byte spans cover highlighted,
// page after page). The view is opened from the touchpoint on the journey
// map; also checked: the menu entry, choosing all touchpoints, the way back
// to the map, markup in comments shown as text, an empty scope, a scope
// with too few comments, and failed answers shown as sentences.
//
//   node tests/browser/themes_check.mjs --url http://127.0.0.1:8080 \
//     --key polku_… --journey shop --touchpoint shop_counter \
//     --planted toimitus --emerging_touchpoint shop_window \
//     --quiet_journey quiet --screenshot /tmp/pain.png
//
// Exits 0 when everything matches; otherwise prints each mismatch, exits 1.
import { asked, responseOf, startCheck } from './check_util.mjs';

const { args, base, problem, log, api, inChromium, openPage, finish } = startCheck('themes_check', {
  options: {
    touchpoint: { type: 'string' },
    planted: { type: 'string' },
    emerging_touchpoint: { type: 'string' },
    quiet_journey: { type: 'string', default: '' },
  },
  required: ['touchpoint', 'planted', 'emerging_touchpoint'],
});

// How the view must show each number: written out here on purpose,
// independently of gateway/dashboard/themes.js.
const int = (v) => (v === undefined ? 0 : Number(v));
const pct1 = (x) => `${((x ?? 0) * 100).toFixed(1)} %`;
const z2 = (z) => {
  const t = Math.abs(z ?? 0).toFixed(2);
  return (z ?? 0) < 0 && t !== '0.00' ? `\u2212${t}` : t;
};
const p2 = (p) => ((p ?? 1) < 0.0001 ? 'p < 0.0001' : `p = ${(p ?? 1).toPrecision(2)}`);

function expectedRows(answer) {
  return (answer.themes ?? []).map((t, i) => ({
    rank: String(i + 1),
    term: t.term,
    count: String(int(t.count)),
    share: pct1(t.share),
    low_count: String(int(t.lowCount)),
    low_share: pct1(t.lowShare),
    z: z2(t.z),
    emerging: t.emerging ? `\u25b2 emerging (${p2(t.emergingPAdjusted)})` : '\u2013',
    trend: (t.trend ?? []).map((w) => `${w.week} ${int(w.count)}/${int(w.comments)} (${pct1(w.share)})`).join('; '),
  }));
}

async function shownRows(page) {
  return page.$$eval('#view-themes [data-table="themes"] tbody tr', (rows) => rows.map((row) =>
    Object.fromEntries([...row.querySelectorAll('[data-field]')].map((n) => [n.dataset.field, n.textContent]))));
}

function compareRows(what, shown, expected) {
  if (shown.length !== expected.length) {
    problem(`${what}: ${shown.length} themes shown, the API has ${expected.length}`);
  }
  expected.forEach((row, i) => {
    for (const [field, text] of Object.entries(row)) {
      if (shown[i]?.[field] !== text) {
        problem(`${what} row ${i + 1} ${field}: shown "${shown[i]?.[field]}", the API says "${text}"`);
      }
    }
  });
}

// The highlighted text of an example, cut from its UTF-8 bytes with Node's
// Buffer (spans merged where they overlap).
function expectedMarks(example) {
  const bytes = Buffer.from(example.comment ?? '', 'utf8');
  const spans = (example.spans ?? []).map((s) => [int(s.begin), Math.min(int(s.end), bytes.length)])
    .filter(([b, e]) => e > b).sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]); else merged.push(s);
  }
  return merged.map(([b, e]) => bytes.subarray(b, e).toString('utf8'));
}

let multibyteBeforeMark = 0;
let markupComments = 0;
async function compareExamples(page, what, examples) {
  const shown = await page.$$eval('#view-themes [data-list="examples"] > li', (items) => items.map((li) => ({
    comment: li.querySelector('blockquote')?.textContent,
    marks: [...li.querySelectorAll('blockquote mark')].map((m) => m.textContent),
    others: [...li.querySelectorAll('blockquote *')].filter((n) => n.tagName !== 'MARK').length,
    meta: li.querySelector('[data-field="meta"]')?.textContent,
  })));
  if (shown.length !== examples.length) {
    problem(`${what}: ${shown.length} examples shown, the API has ${examples.length}`);
  }
  examples.forEach((example, i) => {
    const s = shown[i] ?? {};
    if (s.comment !== example.comment) problem(`${what} #${i + 1}: shown "${s.comment}", the API says "${example.comment}"`);
    const marks = expectedMarks(example);
    if (JSON.stringify(s.marks) !== JSON.stringify(marks)) {
      problem(`${what} #${i + 1}: highlighted ${JSON.stringify(s.marks)}, the spans cover ${JSON.stringify(marks)}`);
    }
    if (s.others !== 0) problem(`${what} #${i + 1}: the comment became ${s.others} element(s) besides <mark>`);
    const day = String(example.occurredAt ?? '').slice(0, 10);
    if (!s.meta?.startsWith(day) || !s.meta.includes(example.touchpoint) ||
        s.meta.includes('low score') !== Boolean(example.low)) {
      problem(`${what} #${i + 1}: meta "${s.meta}" does not match ${day}, ${example.touchpoint}, low ${example.low}`);
    }
    const first = int(example.spans?.[0]?.begin);
    if (Buffer.from(example.comment ?? '').subarray(0, first).some((b) => b >= 0x80)) ++multibyteBeforeMark;
    if (example.comment.includes('<')) ++markupComments;
  });
}

// Opens the examples of `theme` (a click on its name) and checks every page.
async function checkExamplesOf(page, theme, what) {
  const first = responseOf(page, (r) => r.url().includes(`/v1/themes/${theme.id}/examples`));
  await page.click(`#view-themes [data-table="themes"] button[data-theme="${theme.id}"]`);
  return checkExamplePages(page, asked(await first), what, theme);
}

async function checkExamplePages(page, firstUrl, what, theme) {
  await page.waitForSelector(`#view-themes .themes-examples[data-theme="${theme.id}"][data-state="ready"]`);
  let answer = await api(firstUrl);
  const all = [...(answer.examples ?? [])];
  await compareExamples(page, `${what} page 1`, all);
  if ((answer.examples ?? []).length === 0) problem(`${what}: the API has no example of "${theme.term}"`);
  for (let pageNo = 2; answer.nextPageToken && pageNo <= 3; ++pageNo) {
    const next = responseOf(page, (r) => r.url().includes(`page_token=${answer.nextPageToken}`));
    await page.click('#view-themes [data-control="more-examples"]');
    const nextUrl = asked(await next);
    answer = await api(nextUrl);
    all.push(...(answer.examples ?? []));
    await page.waitForFunction((n) => document.querySelectorAll('#view-themes [data-list="examples"] > li').length === n
      && document.querySelector('#view-themes .themes-examples').dataset.state === 'ready', all.length);
    await compareExamples(page, `${what} pages 1–${pageNo}`, all);
  }
  return all;
}

function overlaps(a, b) {
  return a && b && a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

let expectConsoleErrors = false;
await inChromium(async (browser) => {
  const page = await openPage(browser, { width: 1440, height: 1000 }, { consoleErrorsExpected: () => expectConsoleErrors });

  // The menu has the view; the map's touchpoint panel opens it.
  await page.goto(`${base}/?journey=${encodeURIComponent(args.journey)}#key=${encodeURIComponent(args.key)}`);
  await page.waitForSelector('#map[data-state="ready"]');
  const menu = await page.textContent('#views button[data-view="themes"]').catch(() => null);
  if (menu !== 'Pain points') problem(`the menu's entry is "${menu}", expected "Pain points"`);
  await page.click(`#map button.tp[data-touchpoint="${args.touchpoint}"]`);
  const openButton = '#detail button[data-open-view="themes"]';
  await page.waitForSelector(openButton, { state: 'visible' });
  const mapShot = args.screenshot.replace(/(\.png)?$/, '-map.png');
  await page.screenshot({ path: mapShot, fullPage: true });
  log(`screenshot: ${mapShot}`);
  const themesResponse = responseOf(page, (r) => r.url().includes('/v1/themes?'));
  const examplesResponse = responseOf(page, (r) => r.url().includes('/examples?'));
  await page.click(openButton);
  const themesUrl = asked(await themesResponse);
  await page.waitForSelector(`#view-themes[data-state="ready"][data-touchpoint="${args.touchpoint}"]`);
  if (!page.url().includes('view=themes') || !page.url().includes(`touchpoint=${args.touchpoint}`)) {
    problem(`the address does not keep the view and touchpoint: ${page.url()}`);
  }
  if (!new URL(base + themesUrl).searchParams.get('scope.touchpoint')) problem(`the page asked ${themesUrl} without its touchpoint`);
  const answer = await api(themesUrl);
  const themes = answer.themes ?? [];
  log(`${themesUrl}: ${int(answer.comments)} comments, ${int(answer.lowComments)} low, ${themes.length} themes: ` +
    themes.slice(0, 5).map((t) => `${t.term} z=${t.z?.toFixed(2)}${t.emerging ? ' emerging' : ''}`).join(', '));
  compareRows(args.touchpoint, await shownRows(page), expectedRows(answer));
  const summary = await page.textContent('#view-themes [data-summary]');
  if (!summary.startsWith(`${int(answer.comments)} comments in scope, ${int(answer.lowComments)} of them with a low score`) ||
      !summary.includes(`feed sequence ${int(answer.asOfSequence)}`)) {
    problem(`summary "${summary}" does not give the API's ${int(answer.comments)} comments, ${int(answer.lowComments)} low, sequence ${int(answer.asOfSequence)}`);
  }
  const sparks = await page.$$eval('#view-themes .sparkline svg', (s) => s.length);
  if (sparks !== themes.length) problem(`${sparks} sparklines drawn for ${themes.length} themes`);

  // The planted theme is at the top, as the API says it is.
  const planted = themes.findIndex((t) => t.term === args.planted);
  if (planted < 0 || planted > 2 || !(themes[planted].z > 3)) {
    problem(`the API does not rank the planted "${args.planted}" in the top 3 with z > 3: position ${planted + 1}`);
  }
  // The first theme's examples are shown at once, then page by page.
  await checkExamplePages(page, asked(await examplesResponse), `examples of "${themes[0]?.term}"`, themes[0]);
  if (planted >= 0) {
    const all = await checkExamplesOf(page, themes[planted], `examples of "${args.planted}"`);
    const stem = args.planted.slice(0, 6);
    for (const [i, example] of all.entries()) {
      if (!expectedMarks(example).some((m) => m.toLowerCase().includes(stem))) {
        problem(`example ${i + 1} of "${args.planted}" highlights no word with "${stem}": ${JSON.stringify(expectedMarks(example))} in "${example.comment}"`);
      }
    }
  }
  const box = await page.locator('#view-themes .themes-table-box').boundingBox();
  const panel = await page.locator('#view-themes .themes-examples').boundingBox();
  if (overlaps(box, panel)) problem(`the examples panel ${JSON.stringify(panel)} overlaps the table ${JSON.stringify(box)}`);
  await page.screenshot({ path: args.screenshot, fullPage: true });
  log(`screenshot: ${args.screenshot}`);

  // Another touchpoint, chosen in the view, with a new complaint of this
  // week (emerging) whose comments carry markup: shown as text.
  const otherResponse = responseOf(page, (r) => r.url().includes('/v1/themes?') &&
    r.url().includes(`scope.touchpoint=${args.emerging_touchpoint}`));
  await page.selectOption('#view-themes [data-control="touchpoint"]', args.emerging_touchpoint);
  const other = await api(asked(await otherResponse));
  await page.waitForSelector(`#view-themes[data-state="ready"][data-touchpoint="${args.emerging_touchpoint}"] .themes-examples[data-state="ready"]`);
  compareRows(args.emerging_touchpoint, await shownRows(page), expectedRows(other));
  const emerging = (other.themes ?? []).filter((t) => t.emerging);
  log(`${args.emerging_touchpoint}: ${int(other.comments)} comments, ${emerging.length} emerging themes: ` +
    emerging.slice(0, 5).map((t) => t.term).join(', '));
  if (emerging.length === 0) problem(`the API flags no emerging theme at ${args.emerging_touchpoint}: the test data plants one`);
  for (const theme of emerging.slice(0, 2)) await checkExamplesOf(page, theme, `examples of emerging "${theme.term}"`);
  const emergingShot = args.screenshot.replace(/(\.png)?$/, '-emerging.png');
  await page.screenshot({ path: emergingShot, fullPage: true });
  log(`screenshot: ${emergingShot}`);
  if (markupComments === 0) problem('no example shown had markup in it: the test data plants some');
  if (multibyteBeforeMark === 0) problem('no example had ä/ö/å before its highlight: the byte offsets were not exercised');
  const images = await page.$$eval('#view-themes img', (n) => n.length);
  const injected = await page.evaluate(() => window.__polkuXss);
  if (images !== 0 || injected !== undefined) problem(`comment markup ran: ${images} <img>, __polkuXss=${injected}`);
  log(`examples: ${markupComments} with markup shown as text, ${multibyteBeforeMark} with ä/ö/å before the highlight`);

  // All touchpoints of the journey.
  const allResponse = responseOf(page, (r) => r.url().includes('/v1/themes?') && !r.url().includes('scope.touchpoint'));
  await page.selectOption('#view-themes [data-control="touchpoint"]', '');
  const allUrl = asked(await allResponse);
  await page.waitForSelector('#view-themes[data-state="ready"][data-touchpoint=""]');
  const journeyWide = await api(allUrl);
  compareRows('all touchpoints', await shownRows(page), expectedRows(journeyWide));
  if (int(journeyWide.comments) <= int(answer.comments)) problem('the journey has no more comments than one of its touchpoints');

  // Back to the touchpoint, then to its trend on the map.
  await page.selectOption('#view-themes [data-control="touchpoint"]', args.touchpoint);
  await page.waitForSelector(`#view-themes[data-state="ready"][data-touchpoint="${args.touchpoint}"]`);
  await page.click('#view-themes [data-control="open-map"]');
  await page.waitForSelector(`#detail[data-state="ready"][data-touchpoint="${args.touchpoint}"]`);

  // A touchpoint without comments (bookmarked, no longer on the map).
  const emptyResponse = responseOf(page, (r) => r.url().includes('/v1/themes?'));
  await page.goto(`${base}/?journey=${encodeURIComponent(args.journey)}&view=themes&touchpoint=no_such_touchpoint`);
  const empty = await api(asked(await emptyResponse));
  await page.waitForSelector('#view-themes[data-state="ready"] [data-empty]');
  const emptyText = await page.textContent('#view-themes [data-empty]');
  if (int(empty.comments) !== 0 || !emptyText.startsWith('No comments in this scope')) {
    problem(`empty scope (API: ${int(empty.comments)} comments) shown as "${emptyText}"`);
  }
  if (await page.$('#view-themes [data-table="themes"]')) problem('an empty scope still shows a themes table');

  // A journey with too few comments for any theme.
  if (args.quiet_journey) {
    const quietResponse = responseOf(page, (r) => r.url().includes('/v1/themes?') &&
      r.url().includes(`scope.journey=${args.quiet_journey}`));
    await page.selectOption('#journey', args.quiet_journey);
    const quiet = await api(asked(await quietResponse));
    await page.waitForSelector('#view-themes[data-state="ready"] [data-empty]');
    const quietText = await page.textContent('#view-themes [data-empty]');
    if (int(quiet.comments) === 0 || (quiet.themes ?? []).length !== 0 ||
        !quietText.startsWith('Too few comments to rank themes') || !quietText.includes(`of the ${int(quiet.comments)} comments`)) {
      problem(`too few comments (API: ${int(quiet.comments)} comments, ${(quiet.themes ?? []).length} themes) shown as "${quietText}"`);
    }
  }

  // Failed answers, as sentences: the themes, then only the examples.
  expectConsoleErrors = true;
  const failure = JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'polku-insight: connection refused' } });
  const fail = (route) => route.fulfill({ status: 503, contentType: 'application/json', body: failure });
  const themesCall = (u) => u.pathname === '/v1/themes';
  const examplesCall = (u) => u.pathname.startsWith('/v1/themes/') && u.pathname.endsWith('/examples');
  await page.route(themesCall, fail);
  await page.goto(`${base}/?journey=${encodeURIComponent(args.journey)}&view=themes&touchpoint=${args.touchpoint}`);
  await page.waitForSelector('#view-themes[data-state="error"]', { state: 'attached' });
  const errorText = await page.textContent('#error');
  if (errorText !== 'A Polku service did not answer: polku-insight: connection refused') problem(`a failed GetThemes shown as "${errorText}"`);
  await page.unroute(themesCall, fail);
  await page.route(examplesCall, fail);
  await page.goto(`${base}/?journey=${encodeURIComponent(args.journey)}&view=themes&touchpoint=${args.touchpoint}`);
  await page.waitForSelector('#view-themes .themes-examples[data-state="error"]', { state: 'attached' });
  const note = await page.textContent('#view-themes .examples-note');
  if (note !== 'The examples could not be loaded: A Polku service did not answer: polku-insight: connection refused') {
    problem(`failed examples shown as "${note}"`);
  }
});
finish('every theme, example and highlight matches the API');
