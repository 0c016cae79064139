// The "Pain points" view (docs/themes.md): what the comments of low-score
// answers say more often than the rest, per touchpoint — GET /v1/themes over
// the journey, the chosen touchpoint and the dashboard's range — each theme
// with its count, share, z-score, emerging flag and a weekly sparkline, and
// the example comments of the chosen theme (GET /v1/themes/{id}/examples,
// paged) with the theme's words highlighted. Opened from a touchpoint on
// the journey map (main.js adds `touchpointAction` to its panel) or from
// the menu. Comments are customers' text: every string goes in as text
// (textContent), never as HTML.
import { explain } from './api.js';
import { drawChart } from './charts.js';
import { element, scoresText } from './dom.js';
import { day, int } from './format.js';
import { buildGrid } from './grid.js';

const MINUS = '\u2212';
// Examples asked per page.
export const EXAMPLES_PAGE = 5;

// Pure formatting (exported for tests/browser/model_test.mjs).
// "4.3 %" for a share in [0, 1].
export function sharePercent(share) {
  return `${((share ?? 0) * 100).toFixed(1)} %`;
}

// "3.82", "−0.41".
export function zText(z) {
  const text = Math.abs(z ?? 0).toFixed(2);
  return (z ?? 0) < 0 && text !== '0.00' ? `${MINUS}${text}` : text;
}

// "p < 0.0001", "p = 0.0031".
export function pText(p) {
  const value = p ?? 1;
  return value < 0.0001 ? 'p < 0.0001' : `p = ${value.toPrecision(2)}`;
}

// The week rows as one line of text: "2026-W45 3/25 (12.0 %); …".
export function trendText(trend) {
  return (trend ?? []).map((w) =>
    `${w.week} ${int(w.count)}/${int(w.comments)} (${sharePercent(w.share)})`).join('; ');
}

// `text` cut into pieces at the byte spans ([begin, end) of its UTF-8
// encoding, as ListThemeExamples gives them): [{text, mark}], the marked
// pieces being the spans. Spans are sorted, clipped to the text and merged
// where they overlap; a span that would cut a character in two (never from
// the service) is widened to whole characters.
export function highlightPieces(text, spans) {
  const bytes = new TextEncoder().encode(text ?? '');
  const isContinuation = (i) => i < bytes.length && (bytes[i] & 0xc0) === 0x80;
  const startOf = (i) => { let b = i; while (b > 0 && isContinuation(b)) --b; return b; };
  const endOf = (i) => { let e = i; while (isContinuation(e)) ++e; return e; };
  const ranges = (spans ?? [])
    .map((s) => [Math.max(0, Math.min(bytes.length, int(s.begin))),
      Math.max(0, Math.min(bytes.length, int(s.end)))])
    .filter(([b, e]) => e > b)
    .map(([b, e]) => [startOf(b), endOf(e)])
    .sort((x, y) => x[0] - y[0]);
  const merged = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([...range]);
  }
  const decoder = new TextDecoder();
  const pieces = [];
  let at = 0;
  for (const [begin, end] of merged) {
    if (begin > at) pieces.push({ text: decoder.decode(bytes.subarray(at, begin)), mark: false });
    pieces.push({ text: decoder.decode(bytes.subarray(begin, end)), mark: true });
    at = end;
  }
  if (at < bytes.length) pieces.push({ text: decoder.decode(bytes.subarray(at)), mark: false });
  return pieces;
}

// The dashboard's scope as GetThemes' query parameters.
function scopeParams(ctx, touchpoint) {
  return {
    'scope.journey': ctx.journey,
    'scope.touchpoint': touchpoint || undefined,
    'scope.range.start': ctx.range?.start,
    'scope.range.end': ctx.range?.end,
  };
}

function touchpointControl(touchpoints, chosen, ctx) {
  const label = element('label', {}, 'Touchpoint ');
  const select = element('select', { 'data-control': 'touchpoint' });
  select.append(element('option', { value: '' }, 'All touchpoints of the journey'));
  for (const t of touchpoints) {
    select.append(element('option', { value: t.key }, `${t.name} (${t.stage} / ${t.channel})`));
  }
  if (chosen && !touchpoints.some((t) => t.key === chosen)) {
    select.append(element('option', { value: chosen }, `${chosen} (not on the current map)`));
  }
  select.value = chosen;
  select.addEventListener('change', () => ctx.chooseTouchpoint(select.value));
  label.append(select);
  return label;
}

function summary(answer, ctx) {
  const comments = int(answer.comments);
  const low = int(answer.lowComments);
  return element('p', { 'data-summary': '', class: 'themes-summary' },
    `${comments} comment${comments === 1 ? '' : 's'} in scope, ${low} of them with a low score ` +
    '(NPS 0\u20136, CSAT 1\u20132 or CES 1\u20133) \u00b7 ' +
    `${day(ctx.range?.start)} \u2013 ${day(ctx.range?.end)} (UTC, end exclusive) \u00b7 ` +
    `counted up to feed sequence ${int(answer.asOfSequence)}`);
}

// Why the table is empty or needs a caveat, in words; '' when it does not.
function emptyText(answer) {
  const comments = int(answer.comments);
  if (comments === 0) {
    return 'No comments in this scope: no feedback with a comment at this touchpoint in the range. ' +
      'Choose another touchpoint or a longer range.';
  }
  if ((answer.themes ?? []).length === 0) {
    return `Too few comments to rank themes: no word or word pair occurs in at least 5 of the ${comments} comments.`;
  }
  if (int(answer.lowComments) === 0) {
    return `None of the ${comments} comments comes with a low score, so no theme stands out as a complaint; ` +
      'the words below are ranked against nothing and all lean positive.';
  }
  return '';
}

function themesTable(answer, onChoose) {
  const t = element('table', { class: 'trend-table themes-table', 'data-table': 'themes' });
  t.append(element('caption', {},
    'Themes: lemmas and word pairs the low-score comments use more than the rest, by z-score'));
  const head = element('tr');
  for (const title of ['#', 'Theme', 'Comments', 'Share', 'Low-score comments', 'Share of low',
    'z', 'Emerging', 'Weekly share']) {
    const text = ['Theme', 'Emerging', 'Weekly share'].includes(title);
    head.append(element('th', { scope: 'col', class: text ? 'text' : undefined }, title));
  }
  t.appendChild(element('thead')).append(head);
  const body = t.appendChild(element('tbody'));
  const sparks = [];
  (answer.themes ?? []).forEach((theme, i) => {
    const row = element('tr', { 'data-theme': theme.id, class: theme.emerging ? 'emerging' : undefined });
    row.append(element('td', { 'data-field': 'rank' }, String(i + 1)));
    const name = element('td', { 'data-field': 'term' });
    const button = element('button', { type: 'button', class: 'link', 'data-theme': theme.id,
      'aria-pressed': 'false' }, theme.term);
    button.addEventListener('click', () => onChoose(theme));
    name.append(button);
    row.append(name);
    row.append(element('td', { 'data-field': 'count' }, String(int(theme.count))));
    row.append(element('td', { 'data-field': 'share' }, sharePercent(theme.share)));
    row.append(element('td', { 'data-field': 'low_count' }, String(int(theme.lowCount))));
    row.append(element('td', { 'data-field': 'low_share' }, sharePercent(theme.lowShare)));
    row.append(element('td', { 'data-field': 'z' }, zText(theme.z)));
    row.append(element('td', {
      'data-field': 'emerging',
      title: `latest week against the earlier ones: ${pText(theme.emergingPValue)}, ` +
        `Holm-adjusted ${pText(theme.emergingPAdjusted)}`,
    }, theme.emerging ? `\u25b2 emerging (${pText(theme.emergingPAdjusted)})` : '\u2013'));
    const trend = element('td', { 'data-field': 'trend_cell', class: 'spark-cell' });
    const spark = element('div', { class: 'sparkline', 'aria-hidden': 'true' });
    trend.append(spark, element('span', { class: 'visually-hidden', 'data-field': 'trend' },
      trendText(theme.trend)));
    row.append(trend);
    body.append(row);
    sparks.push([spark, theme]);
  });
  return { table: t, sparks };
}

async function sparkline(box, theme) {
  const weeks = theme.trend ?? [];
  const max = Math.max(0.01, ...weeks.map((w) => w.share ?? 0));
  return drawChart(box, {
    grid: { left: 2, right: 2, top: 3, bottom: 3 },
    tooltip: {
      trigger: 'axis',
      confine: true,
      formatter: (points) => {
        const w = weeks[points[0]?.dataIndex ?? 0];
        return w ? `${w.week}: ${int(w.count)} of ${int(w.comments)} (${sharePercent(w.share)})` : '';
      },
    },
    xAxis: { type: 'category', show: false, data: weeks.map((w) => w.week), boundaryGap: false },
    yAxis: { type: 'value', show: false, min: 0, max },
    series: [{
      type: 'line',
      data: weeks.map((w) => w.share ?? 0),
      symbol: weeks.length === 1 ? 'circle' : 'none',
      lineStyle: { width: 1.5, color: theme.emerging ? '#b42318' : '#2457c5' },
      areaStyle: { opacity: 0.15, color: theme.emerging ? '#b42318' : '#2457c5' },
    }],
  });
}

function exampleItem(example) {
  const item = element('li', { class: example.low ? 'example low' : 'example' });
  const quote = element('blockquote', { 'data-field': 'comment' });
  for (const piece of highlightPieces(example.comment, example.spans)) {
    quote.append(piece.mark ? element('mark', {}, piece.text) : document.createTextNode(piece.text));
  }
  item.append(quote);
  item.append(element('p', { class: 'example-meta', 'data-field': 'meta' },
    `${day(example.occurredAt)} \u00b7 ${example.touchpoint} (${example.stage} / ${example.channel}) \u00b7 ` +
    `${scoresText(example)}${example.low ? ' \u00b7 low score' : ''}`));
  return item;
}

// The examples panel of one theme: the first page, then more on request.
// A later call (another theme, or the same chosen again) makes the pages
// still loading for an earlier one land nowhere.
let panelGeneration = 0;
function examplesPanel(panel, ctx, touchpoint, theme) {
  const generation = ++panelGeneration;
  const stale = () => ctx.signal.aborted || generation !== panelGeneration;
  panel.replaceChildren();
  panel.dataset.theme = theme.id;
  panel.append(element('h3', {}, `Example comments: \u201c${theme.term}\u201d`));
  panel.append(element('p', { class: 'meta' },
    'Low-score comments first, then the newest; the words of the theme are highlighted. ' +
    'Comments are shown as stored, redacted when they were received.'));
  const list = element('ol', { class: 'examples', 'data-list': 'examples' });
  const more = element('button', { type: 'button', 'data-control': 'more-examples', hidden: '' },
    `More examples`);
  const note = element('p', { class: 'examples-note', role: 'status' });
  panel.append(list, note, more);

  let token = '';
  const load = async () => {
    panel.dataset.state = 'loading';
    more.disabled = true;
    note.textContent = 'Loading examples\u2026';
    let page;
    try {
      page = await ctx.get(`/v1/themes/${encodeURIComponent(theme.id)}/examples`, {
        ...scopeParams(ctx, touchpoint), page_size: EXAMPLES_PAGE, page_token: token,
      });
    } catch (error) {
      if (stale()) return;
      panel.dataset.state = 'error';
      note.textContent = `The examples could not be loaded: ${explain(error)}`;
      note.className = 'examples-note error';
      more.disabled = false;
      return;
    }
    if (stale()) return;
    for (const example of page.examples ?? []) list.append(exampleItem(example));
    token = page.nextPageToken ?? '';
    more.hidden = !token;
    more.disabled = false;
    note.className = 'examples-note';
    note.textContent = list.children.length === 0
      ? 'No comment in this scope contains this theme any more (the data changed since the list was drawn).'
      : `${list.children.length} of ${int(theme.count)} comment${int(theme.count) === 1 ? '' : 's'} shown.`;
    panel.dataset.state = 'ready';
  };
  more.addEventListener('click', load);
  return load();
}

// The theme whose examples are shown, kept while the same scope is redrawn.
let chosen = { scope: '', theme: '' };

export const view = {
  id: 'themes',
  title: 'Pain points',
  // main.js puts a button with this text in a map touchpoint's panel.
  touchpointAction: 'Pain points (comment themes)',
  async render(section, ctx) {
    const touchpoint = ctx.touchpoint ?? '';
    const [map, answer] = await Promise.all([
      ctx.get('/v1/journey-map', { journey: ctx.journey, start: ctx.range?.start, end: ctx.range?.end }),
      ctx.get('/v1/themes', scopeParams(ctx, touchpoint)),
    ]);
    if (ctx.signal.aborted) return;
    // Stage by stage, in journey order, then channel by channel.
    const grid = buildGrid(map);
    const touchpoints = grid.columns.flatMap((column, c) => grid.rows
      .flatMap((row) => row.cells[c].touchpoints));
    const current = touchpoints.find((t) => t.key === touchpoint);

    section.replaceChildren();
    section.dataset.touchpoint = touchpoint;
    section.dataset.asOf = String(int(answer.asOfSequence));
    section.append(element('h2', {}, touchpoint
      ? `Pain points \u00b7 ${current ? `${current.name} (${current.stage} / ${current.channel})` : touchpoint}`
      : 'Pain points \u00b7 all touchpoints'));
    const controls = element('div', { class: 'controls themes-controls' });
    controls.append(touchpointControl(touchpoints, touchpoint, ctx));
    if (current) {
      const back = element('button', { type: 'button', 'data-control': 'open-map' },
        'Its trend on the journey map');
      back.addEventListener('click', () => ctx.openTouchpoint(touchpoint));
      controls.append(back);
    }
    section.append(controls);
    section.append(summary(answer, ctx));
    section.append(element('p', { class: 'meta' },
      'A theme is a word (as its base form: toimitus stands for toimituksen, toimitusaika, \u2026) or a ' +
      'pair of words. Share: of all comments in scope; z: how much more the low-score comments use it ' +
      'than the others (weighted log-odds, z above 2 stands out); \u25b2 emerging: its share in the latest ' +
      'week rose significantly against the earlier weeks. Choose a theme for its comments.'));
    const caveat = emptyText(answer);
    if (caveat) section.append(element('p', { class: 'themes-empty', 'data-empty': '' }, caveat));
    const themes = answer.themes ?? [];
    if (themes.length === 0) return;

    const layout = element('div', { class: 'themes-layout' });
    const panel = element('section', { class: 'themes-examples', 'aria-label': 'Example comments' });
    const scopeKey = `${ctx.journey}|${touchpoint}|${ctx.range?.start}|${ctx.range?.end}`;
    const choose = (theme) => {
      chosen = { scope: scopeKey, theme: theme.id };
      for (const b of section.querySelectorAll('.themes-table button[data-theme]')) {
        b.setAttribute('aria-pressed', String(b.dataset.theme === theme.id));
      }
      return examplesPanel(panel, ctx, touchpoint, theme);
    };
    const { table, sparks } = themesTable(answer, choose);
    const tableBox = element('div', { class: 'themes-table-box' });
    tableBox.append(table);
    layout.append(tableBox, panel);
    section.append(layout);
    for (const [box, theme] of sparks) await sparkline(box, theme);
    if (ctx.signal.aborted) return;
    const first = (chosen.scope === scopeKey && themes.find((t) => t.id === chosen.theme)) || themes[0];
    await choose(first);
  },
};
