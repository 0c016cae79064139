// The dashboard page: asks for an API key (or takes it from #key=…), lists
// the journeys, draws the chosen journey's map for the chosen range and, on
// a click, a touchpoint's trend and alerts. Everything comes from the public
// HTTP API of the gateway that served the page.
import { ApiError, explain, get } from './api.js';
import { chartModel, renderChart } from './chart.js';
import {
  CHART_METRICS, describeAlert, formatInterval, formatValue, int, metricInfo,
} from './format.js';
import { buildGrid, renderGrid } from './grid.js';
import { VIEWS } from './views.js';

const KEY_STORAGE = 'polku.dashboard.key';
// How often a visible page looks for new numbers.
const REFRESH_MS = 30000;
const $ = (id) => document.getElementById(id);

const state = {
  key: '',
  journeys: [],
  journey: '',
  days: 28,
  range: null,
  map: null,
  selected: null, // touchpoint view
  mapLoad: null, // AbortController of the map being loaded
  detailLoad: null,
  refresh: null, // interval timer
  view: 'map', // 'map' or the id of one of VIEWS
  viewLoad: null, // AbortController of the view being drawn
  viewTouchpoint: '', // of a view with touchpointAction ('' = all)
};

const MAP_VIEW = { id: 'map', title: 'Journey map' };

function showError(error) {
  const message = typeof error === 'string' ? error : explain(error);
  $('error').textContent = message;
  $('error').hidden = false;
  if (error instanceof ApiError && error.status === 401) askForKey();
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function setStatus(text) {
  $('status').textContent = text;
}

// The key from #key=… (then removed from the address bar and history),
// else the one kept for this tab.
function takeKey() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const fromUrl = fragment.get('key');
  if (fromUrl) {
    sessionStorage.setItem(KEY_STORAGE, fromUrl);
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(KEY_STORAGE) ?? '';
}

function askForKey() {
  stopRefresh();
  $('controls').hidden = true;
  $('views').hidden = true;
  $('map-section').hidden = true;
  $('detail').hidden = true;
  for (const view of VIEWS) $(`view-${view.id}`).hidden = true;
  $('key-section').hidden = false;
  $('key-input').focus();
}

// Journey and range live in the query string, so a view can be bookmarked
// (the key never is).
function remember() {
  const query = new URLSearchParams();
  if (state.journey) query.set('journey', state.journey);
  query.set('days', String(state.days));
  if (state.view !== 'map') query.set('view', state.view);
  if (state.viewTouchpoint && VIEWS.find((v) => v.id === state.view)?.touchpointAction) {
    query.set('touchpoint', state.viewTouchpoint);
  }
  history.replaceState(null, '', `${window.location.pathname}?${query}`);
}

// [start, end): whole UTC days, the last `days` of them ending today.
function rangeFor(days, now = new Date()) {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - (days - 1)));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  return { start: start.toISOString().replace('.000Z', 'Z'), end: end.toISOString().replace('.000Z', 'Z') };
}

async function loadJourneys() {
  const journeys = [];
  let pageToken = '';
  do {
    // The basic view (names, versions, no maps) is all this needs, and all
    // the gateway gives an insights:read key anyway.
    const page = await get(
      '/v1/journeys',
      { page_size: 1000, page_token: pageToken, view: 'JOURNEY_VIEW_BASIC' },
      state.key,
    );
    journeys.push(...(page.journeys ?? []));
    pageToken = page.nextPageToken ?? '';
  } while (pageToken);
  // A journey never published has no map yet.
  return journeys.filter((j) => j.state === 'PUBLISHED' || int(j.version) > 0 || j.publishTime);
}

function fillJourneys() {
  const select = $('journey');
  select.replaceChildren();
  for (const journey of state.journeys) {
    const option = document.createElement('option');
    option.value = journey.key;
    option.textContent = journey.name ? `${journey.name} (${journey.key})` : journey.key;
    select.append(option);
  }
  select.value = state.journey;
}

async function start() {
  clearError();
  $('key-section').hidden = true;
  setStatus('Loading journeys\u2026');
  try {
    state.journeys = await loadJourneys();
  } catch (error) {
    setStatus('');
    showError(error);
    return;
  }
  $('controls').hidden = false;
  if (state.journeys.length === 0) {
    setStatus('');
    showError('This tenant has no published journey yet: publish one, send feedback, and reload.');
    return;
  }
  if (!state.journeys.some((j) => j.key === state.journey)) state.journey = state.journeys[0].key;
  fillJourneys();
  $('range').value = String(state.days);
  $('views').hidden = VIEWS.length === 0;
  await show(state.view);
}

// The menu of views: the journey map, then each of VIEWS.
function buildMenu() {
  const nav = $('views');
  for (const view of [MAP_VIEW, ...VIEWS]) {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.view = view.id;
    button.textContent = view.title;
    button.addEventListener('click', () => show(view.id));
    nav.append(button);
    if (view === MAP_VIEW) continue;
    const section = document.createElement('section');
    section.id = `view-${view.id}`;
    section.className = 'view';
    section.hidden = true;
    section.setAttribute('aria-label', view.title);
    $('map-section').before(section);
    if (view.touchpointAction) {
      // The map's touchpoint panel opens this view for its touchpoint.
      const open = document.createElement('button');
      open.type = 'button';
      open.dataset.openView = view.id;
      open.textContent = view.touchpointAction;
      open.addEventListener('click', () => {
        state.viewTouchpoint = state.selected?.key ?? '';
        show(view.id);
      });
      $('close-detail').before(open);
    }
  }
}

// Shows one view (the map, or one of VIEWS) and loads what it shows.
async function show(id) {
  const view = VIEWS.find((v) => v.id === id);
  state.view = view ? id : 'map';
  for (const button of $('views').querySelectorAll('button')) {
    button.setAttribute('aria-current', String(button.dataset.view === state.view));
  }
  for (const other of VIEWS) $(`view-${other.id}`).hidden = other !== view;
  if (!view) {
    state.viewLoad?.abort();
    await loadMap();
    return;
  }
  stopRefresh();
  state.mapLoad?.abort();
  $('map-section').hidden = true;
  closeDetail();
  await loadView(view);
}

async function loadView(view) {
  state.viewLoad?.abort();
  const controller = new AbortController();
  state.viewLoad = controller;
  state.range = rangeFor(state.days);
  remember();
  const section = $(`view-${view.id}`);
  section.dataset.state = 'loading';
  setStatus(`Loading ${view.title.toLowerCase()}\u2026`);
  try {
    await view.render(section, {
      key: state.key,
      journey: state.journey,
      range: state.range,
      signal: controller.signal,
      get: (path, params) => get(path, params, state.key, controller.signal),
      // Back to the map with `touchpoint` chosen (its trend and alerts).
      openTouchpoint: (touchpoint) => {
        state.pendingTouchpoint = touchpoint;
        show('map');
      },
      touchpoint: state.viewTouchpoint,
      chooseTouchpoint: (touchpoint) => {
        state.viewTouchpoint = touchpoint;
        loadView(view);
      },
    });
    if (controller.signal.aborted) return;
    section.dataset.state = 'ready';
    section.dataset.journey = state.journey;
    section.hidden = false;
    clearError();
  } catch (error) {
    if (controller.signal.aborted) return;
    section.dataset.state = 'error';
    showError(error);
  }
  setStatus('');
}

// Reloads whatever view is shown (after the journey or range changed).
function reload() {
  const view = VIEWS.find((v) => v.id === state.view);
  if (view) loadView(view); else loadMap();
}

function stopRefresh() {
  clearInterval(state.refresh);
  state.refresh = null;
}

// While the page is visible, it asks for the map again every REFRESH_MS and
// redraws it when anything on it changed. (Polling rather than
// holding a WatchScorecard stream open: an open tab then costs the gateway
// nothing between requests.)
function startRefresh() {
  stopRefresh();
  state.refresh = setInterval(() => {
    if (document.visibilityState === 'visible' && state.map) loadMap({ quiet: true });
  }, REFRESH_MS);
}

// Loads and draws the map; `quiet` (a refresh) neither says it is loading
// nor redraws a map whose numbers did not change.
async function loadMap({ quiet = false } = {}) {
  if (quiet && state.mapLoad) return;
  state.mapLoad?.abort();
  const controller = new AbortController();
  state.mapLoad = controller;
  state.range = rangeFor(state.days);
  remember();
  if (!quiet) {
    $('map').dataset.state = 'loading';
    setStatus('Loading the journey map\u2026');
  }
  let map;
  try {
    map = await get('/v1/journey-map',
      { journey: state.journey, start: state.range.start, end: state.range.end },
      state.key, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return;
    state.mapLoad = null;
    setStatus('');
    if (!quiet) $('map-section').hidden = true;
    showError(error);
    return;
  }
  state.mapLoad = null;
  clearError();
  // Alerts may open after the events are counted: compare everything.
  if (quiet && JSON.stringify(map) === JSON.stringify(state.map)) return;
  state.map = map;
  const grid = buildGrid(map);
  const range = map.range ?? state.range;
  $('map-title').textContent = `${map.name || map.journey} \u00b7 version ${map.journeyVersion}`;
  $('map-meta').textContent =
    `${range.start?.slice(0, 10)} \u2013 ${range.end?.slice(0, 10)} (UTC, end exclusive) \u00b7 ` +
    `${grid.columns.length} stages \u00d7 ${grid.rows.length} channels \u00b7 ` +
    `counted up to feed sequence ${int(map.asOfSequence)}`;
  renderGrid($('map'), grid,
    'Stages in journey order as columns, channels as rows; each touchpoint shows its headline metric, 95 % interval, answers (n), target status, trend and open alerts. Choose a touchpoint for its trend.',
    selectTouchpoint);
  $('map').dataset.state = 'ready';
  $('map').dataset.journey = map.journey;
  markCritical(map, controller.signal);
  $('map-section').hidden = false;
  setStatus('');
  if (!quiet) startRefresh();
  // A view asked for this touchpoint (openTouchpoint), or one was open.
  if (state.pendingTouchpoint) state.selected = null;
  const wanted = state.pendingTouchpoint ?? state.selected?.key;
  state.pendingTouchpoint = null;
  if (wanted) {
    const again = grid.rows.flatMap((r) => r.cells).flatMap((c) => c.touchpoints)
      .find((t) => t.key === wanted);
    if (again) selectTouchpoint(again); else closeDetail();
  }
}

function fillMetrics(headline) {
  const select = $('metric');
  const metrics = CHART_METRICS.includes(headline) || !headline ? CHART_METRICS : [headline, ...CHART_METRICS];
  select.replaceChildren();
  for (const metric of metrics) {
    const option = document.createElement('option');
    option.value = metric;
    option.textContent = metricInfo(metric).label;
    select.append(option);
  }
  select.value = headline && metrics.includes(headline) ? headline : metrics[0];
}

function selectTouchpoint(view) {
  const changed = state.selected?.key !== view.key;
  state.selected = view;
  for (const button of document.querySelectorAll('#map button.tp')) {
    button.setAttribute('aria-pressed', String(button.dataset.touchpoint === view.key));
  }
  if (changed) {
    fillMetrics(view.metric);
    $('bucket').value = state.days > 28 ? 'WEEK' : 'DAY';
  }
  $('detail').hidden = false;
  $('detail-title').textContent = `${view.name} \u00b7 ${view.stage} / ${view.channel}`;
  loadDetail();
}

function closeDetail() {
  state.detailLoad?.abort();
  state.selected = null;
  $('detail').hidden = true;
  for (const button of document.querySelectorAll('#map button.tp')) {
    button.setAttribute('aria-pressed', 'false');
  }
}

function renderTrendTable(trend) {
  const table = $('trend-table');
  table.replaceChildren();
  const head = document.createElement('tr');
  for (const title of ['Bucket start', 'Value', '95 % interval', 'n']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = title;
    head.append(th);
  }
  const thead = document.createElement('thead');
  thead.append(head);
  const tbody = document.createElement('tbody');
  for (const point of trend.points ?? []) {
    const tr = document.createElement('tr');
    for (const text of [
      String(point.bucket?.start ?? '').slice(0, 10),
      formatValue(trend.metric, point.value),
      formatInterval(trend.metric, point.ci95),
      String(int(point.n)),
    ]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    tbody.append(tr);
  }
  table.append(thead, tbody);
}

function renderAlerts(alerts) {
  const list = $('alerts');
  list.replaceChildren();
  if (alerts.length === 0) {
    const item = document.createElement('li');
    item.textContent = 'No alerts for this touchpoint.';
    list.append(item);
    return;
  }
  for (const alert of alerts) {
    const item = document.createElement('li');
    item.className = alert.state === 'CLEARED' ? 'alert-cleared' : 'alert-open';
    item.dataset.alert = alert.id;
    item.textContent = `${alert.state === 'CLEARED' ? 'Cleared' : '\u26a0 Open'}: ${describeAlert(alert)}`;
    list.append(item);
  }
}

async function loadDetail() {
  const view = state.selected;
  if (!view) return;
  state.detailLoad?.abort();
  const controller = new AbortController();
  state.detailLoad = controller;
  const metric = $('metric').value;
  const bucket = $('bucket').value;
  $('detail').dataset.state = 'loading';
  try {
    const [trend, alerts] = await Promise.all([
      get('/v1/trend', {
        journey: state.journey, touchpoint: view.key, metric, bucket,
        start: state.range.start, end: state.range.end,
      }, state.key, controller.signal),
      get('/v1/alerts', { journey: state.journey, include_cleared: true, page_size: 1000 },
        state.key, controller.signal),
    ]);
    const target = metric === view.metric ? view.target : undefined;
    const title = `${metricInfo(metric).label} of ${view.name} per ${bucket.toLowerCase()}, with 95 % intervals`;
    const figure = $('chart');
    figure.querySelector('svg')?.remove();
    figure.append(renderChart(chartModel(trend, target), title));
    $('chart-caption').textContent =
      `${title}; the bars under the dates are the answers per ${bucket.toLowerCase()} (n).`;
    renderTrendTable(trend);
    renderAlerts((alerts.alerts ?? []).filter(
      (a) => a.scope === 'GROUP_BY_TOUCHPOINT' && a.key === view.key));
    $('detail').dataset.state = 'ready';
    $('detail').dataset.touchpoint = view.key;
  } catch (error) {
    if (controller.signal.aborted) return;
    $('detail').dataset.state = 'error';
    showError(error);
  }
}

function init() {
  const query = new URLSearchParams(window.location.search);
  state.journey = query.get('journey') ?? '';
  state.view = query.get('view') ?? 'map';
  state.viewTouchpoint = query.get('touchpoint') ?? '';
  buildMenu();
  const days = Number(query.get('days'));
  if ([7, 28, 90].includes(days)) state.days = days;
  state.key = takeKey();

  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    state.key = key;
    $('key-input').value = '';
    start();
  });
  $('forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORAGE);
    state.key = '';
    clearError();
    askForKey();
  });
  $('journey').addEventListener('change', () => {
    state.journey = $('journey').value;
    state.viewTouchpoint = '';
    closeDetail();
    reload();
  });
  $('range').addEventListener('change', () => {
    state.days = Number($('range').value);
    reload();
  });
  $('metric').addEventListener('change', loadDetail);
  $('bucket').addEventListener('change', loadDetail);
  $('close-detail').addEventListener('click', closeDetail);

  if (state.key) start(); else askForKey();
}

init();

// Marks the critical touchpoints (GET /v1/drivers: importance at or above the
// mean) on the map; a journey without an outcome simply has none. The
// point estimates decide, so one bootstrap replicate is enough here. The
// analysis reads every rating of the range, so the map's refreshes reuse an
// answer for up to five minutes rather than asking again each time.
const CRITICAL_REUSE_MS = 5 * 60 * 1000;
let criticalCache = null; // {query, at, keys}
async function markCritical(map, signal) {
  const query = `${map.journey}|${state.range.start}|${state.range.end}`;
  let keys;
  if (criticalCache?.query === query && Date.now() - criticalCache.at < CRITICAL_REUSE_MS) {
    keys = criticalCache.keys;
  } else {
    let answer;
    try {
      answer = await get('/v1/drivers', {
        journey: map.journey, start: state.range.start, end: state.range.end,
        bootstrap_replicates: 1,
      }, state.key, signal);
    } catch {
      return;
    }
    keys = (answer.drivers ?? []).filter((d) => d.critical).map((d) => d.key);
    criticalCache = { query, at: Date.now(), keys };
  }
  if (signal.aborted || state.map !== map) return;
  const critical = new Set(keys);
  for (const button of document.querySelectorAll('#map button.tp')) {
    const is = critical.has(button.dataset.touchpoint);
    button.dataset.critical = String(is);
    if (is) button.title = 'critical touchpoint (Critical touchpoints view)';
  }
  $('map').dataset.criticalMarked = String(critical.size);
}
