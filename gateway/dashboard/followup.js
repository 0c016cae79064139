// The "Follow-up" view (docs/cases.md, issue 21): polku-cases' queue as a
// team lead works it — the cases of the journey per owner team, each with its
// SLA state (breached, paused while waiting for the customer, no-contact,
// reminder passed, on time), most urgent first (GET /v1/cases, paged); a
// case's event, redacted comment, due times and audit trail (GET
// /v1/cases/{id}, /v1/cases/{id}/auditEntries); and the loop measures of the
// journey over the dashboard's range (GET /v1/cases:measures). The queue
// refreshes itself from GET /v1/cases:watch (NDJSON) while "Live" is on.
//
// A case never carries the customer's reference (the API leaves it out) and
// everything the API says is set as text (textContent), never as HTML.
import { ApiError, explain, url } from './api.js';
import { drawChart } from './charts.js';
import { element, scoresText } from './dom.js';
import { int } from './format.js';

// Cases asked per page of the queue.
export const QUEUE_PAGE = 50;
// The page size in use: ?cases_page_size=n (1–500) in the address the
// dashboard was opened with (the browser test pages through a few cases),
// read when the module loads, before main.js rewrites the address.
const PAGE_SIZE = (() => {
  const n = Number(new URLSearchParams(globalThis.location?.search ?? '').get('cases_page_size'));
  return n >= 1 && n <= 500 ? Math.floor(n) : QUEUE_PAGE;
})();
// Audit entries asked per page, and at most this many pages per case.
const HISTORY_PAGE = 100;
const HISTORY_PAGES = 20;
// Breached cases asked first, before the queue's pages (ListCases' maximum).
const URGENT_PAGE = 500;
export const OPEN_STATES = ['NEW', 'ASSIGNED', 'CONTACTED', 'WAITING_FOR_CUSTOMER', 'REOPENED'];
export const STATE_LABELS = {
  NEW: 'new',
  ASSIGNED: 'assigned',
  CONTACTED: 'contacted',
  WAITING_FOR_CUSTOMER: 'waiting for the customer',
  RESOLVED: 'resolved',
  CLOSED: 'closed',
  REOPENED: 'reopened',
};
export const PRIORITY_LABELS = { LOW: 'low', NORMAL: 'normal', HIGH: 'high', URGENT: 'urgent' };

// SLA states in the order the chart and legend give them, each with a
// symbol, so colour is never the only signal. No contact is not a state but
// a marker beside it (NO_CONTACT): the resolution SLA still applies.
export const SLA_STATES = {
  breached: { label: 'breached', symbol: '\u2717', color: '#b42318' },
  reminder: { label: 'reminder passed', symbol: '\u26a0', color: '#b45309' },
  on_time: { label: 'on time', symbol: '\u2713', color: '#2f7d32' },
  paused: { label: 'paused: waiting for the customer', symbol: '\u2016', color: '#2457c5' },
  met: { label: 'SLA met', symbol: '\u2611', color: '#4b7a4f' },
  no_sla: { label: 'no SLA', symbol: '\u2013', color: '#9aa3b2' },
  done: { label: 'done', symbol: '\u2714', color: '#9aa3b2' },
};
export const NO_CONTACT = { label: 'no contact', symbol: '\u2298',
  title: 'The customer asked not to be contacted: first contact is not owed' };

const ms = (time) => (time ? Date.parse(time) : NaN);
const isDone = (c) => c.state === 'RESOLVED' || c.state === 'CLOSED';
const isWaiting = (c) => c.state === 'WAITING_FOR_CUSTOMER';

// The SLAs the case runs under, from its policy (the API's slaPolicy; a case
// opened by hand has none). First contact is not owed to a customer who asked
// not to be contacted.
export function slaApplies(c) {
  const p = c.slaPolicy ?? {};
  return {
    firstContact: int(p.firstContactSeconds) > 0 && !c.noContact,
    resolution: int(p.resolutionSeconds) > 0,
  };
}

// When first contact was met (RFC 3339) or '': by CONTACTED, or by RESOLVED
// directly (docs/cases.md), whichever came first; a met SLA stays met when
// the case is reopened.
export function firstContactMet(c) {
  const sla = c.sla ?? {};
  const times = [sla.firstContactTime, sla.resolutionTime].filter(Boolean);
  times.sort((a, b) => ms(a) - ms(b));
  return times[0] ?? '';
}

// The breaches that count: a resolution breach; a first-contact breach unless
// first contact is not owed (no contact) or was met by its due time (resolved
// directly: a flag raised regardless is no breach).
export function breaches(c) {
  const sla = c.sla ?? {};
  const out = [];
  if (sla.firstContactBreached && !c.noContact) {
    const met = firstContactMet(c);
    if (!(met && sla.firstContactDue && ms(met) <= ms(sla.firstContactDue))) out.push('first contact');
  }
  if (sla.resolutionBreached) out.push('resolution');
  return out;
}

// The due times still to be met: [{what, due}].
export function openDues(c) {
  const sla = c.sla ?? {};
  const dues = [];
  if (sla.firstContactDue && !c.noContact && !firstContactMet(c)) {
    dues.push({ what: 'first contact', due: sla.firstContactDue });
  }
  if (sla.resolutionDue && !sla.resolutionTime) dues.push({ what: 'resolution', due: sla.resolutionDue });
  return dues;
}

// The earliest due time still to be met (RFC 3339), or ''.
export function nextDue(c) {
  const dues = openDues(c).sort((a, b) => ms(a.due) - ms(b.due));
  return dues[0]?.due ?? '';
}

// A due time still owed has passed (not while waiting, not once done).
function overdue(c, now) {
  return !isDone(c) && !isWaiting(c) && openDues(c).some((d) => ms(d.due) <= now);
}

// One of SLA_STATES' keys for case `c` at `now` (ms): breached when a breach
// counts (breaches()) or a due time still owed has passed (the SLA timer
// raises it within a minute); else paused while waiting for the customer;
// done (resolved or closed); no SLA (no policy, or only a first-contact SLA
// the customer refused); reminder passed (for an SLA not met); on time
// (something still owed); met (every SLA met).
export function slaState(c, now = Date.now()) {
  const sla = c.sla ?? {};
  if (breaches(c).length > 0 || overdue(c, now)) return 'breached';
  if (isWaiting(c)) return 'paused';
  if (isDone(c)) return 'done';
  const applies = slaApplies(c);
  if (!applies.firstContact && !applies.resolution) return 'no_sla';
  if ((sla.firstContactReminded && !c.noContact && !firstContactMet(c)) ||
      (sla.resolutionReminded && !sla.resolutionTime)) return 'reminder';
  return openDues(c).length > 0 ? 'on_time' : 'met';
}

// The queue's urgency class (lower first): 0 a due time owed has passed;
// 1 something owed, not yet due; 2 a breach on record, nothing overdue now
// (met late, or paused); 3 other open cases (paused, met, no SLA); 4 done.
export function urgency(c, now = Date.now()) {
  if (isDone(c)) return 4;
  if (overdue(c, now)) return 0;
  if (!isWaiting(c) && openDues(c).length > 0) return 1;
  if (breaches(c).length > 0) return 2;
  return 3;
}

// The queue's order: by urgency(), then the nearest due time owed, then
// oldest first, then by id (stable across pages).
export function byUrgency(a, b, now = Date.now()) {
  const due = (c) => {
    const d = isWaiting(c) ? NaN : ms(nextDue(c));
    return Number.isNaN(d) ? Infinity : d;
  };
  const ua = urgency(a, now);
  const ub = urgency(b, now);
  if (ua !== ub) return ua - ub;
  const dd = due(a) - due(b);
  if (dd < 0 || dd > 0) return dd; // Infinity − Infinity is NaN: a tie
  return ms(a.createTime) - ms(b.createTime) || String(a.caseId).localeCompare(String(b.caseId));
}

// "45 s", "12 min", "3 h 5 min", "2 d 4 h" for a span of `seconds`; "–"
// for no number.
export function span(seconds) {
  if (!Number.isFinite(Number(seconds))) return '\u2013';
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

// Business time: "4.2 s", "12.5 min", "6.3 h" (hours inside business hours),
// rounded to a tenth first, so 59.96 s is "1.0 min", never "60.0 s".
export function businessTime(seconds) {
  const s = Number(seconds ?? 0);
  if (!Number.isFinite(s)) return '\u2013';
  const tenths = (x) => (Math.round(x * 10) / 10).toFixed(1);
  if (Math.round(s * 10) < 600) return `${tenths(s)} s`;
  if (Math.round(s / 6) < 600) return `${tenths(s / 60)} min`;
  return `${tenths(s / 3600)} h`;
}

// "62.5 %" for a rate in [0, 1].
export function percent(rate) {
  return `${(Number(rate ?? 0) * 100).toFixed(1)} %`;
}

// "+1.25", "−0.40".
export function signed(value) {
  const v = Number(value ?? 0);
  const text = Math.abs(v).toFixed(2);
  if (text === '0.00') return text;
  return v < 0 ? `\u2212${text}` : `+${text}`;
}

// "2026-12-07 09:15 UTC".
export function when(time) {
  if (!time) return '\u2013';
  return `${String(time).slice(0, 16).replace('T', ' ')} UTC`;
}

// "due in 3 h 5 min", "overdue by 12 min", "" (nothing due).
export function dueText(c, now = Date.now()) {
  const due = nextDue(c);
  if (!due || isWaiting(c) || isDone(c)) return '';
  const left = (ms(due) - now) / 1000;
  return left >= 0 ? `due in ${span(left)}` : `overdue by ${span(-left)}`;
}

// The measures' times in words. The API gives no n for them (a time of
// none is 0): first contact has none when nobody was contacted within the
// SLA and both numbers are 0 (a contact after the due time takes business
// time); close has none when both are 0.
export function timesText(m) {
  const firstNone = int(m.contactedWithinSla) === 0 && !Number(m.firstContactMedianSeconds ?? 0) &&
    !Number(m.firstContactP90Seconds ?? 0);
  const closeNone = !Number(m.closeMedianSeconds ?? 0) && !Number(m.closeP90Seconds ?? 0);
  return {
    firstContact: firstNone ? '\u2013 (n = 0: no case contacted)'
      : `median ${businessTime(m.firstContactMedianSeconds)}, 90th percentile ${businessTime(m.firstContactP90Seconds)}`,
    close: closeNone ? '\u2013 (n = 0: no case resolved)'
      : `median ${businessTime(m.closeMedianSeconds)}, 90th percentile ${businessTime(m.closeP90Seconds)}`,
  };
}

// What to tell the user about a failed call of the view: a 403 names the
// scope cases' paths need (api.js's explain() speaks of insights).
export function sayError(error) {
  if (error instanceof ApiError && error.status === 403) {
    return 'This key may not read cases: it lacks the cases:read scope.';
  }
  return explain(error);
}

// What the recovery measure says, in words: {headline, detail, small}.
// The interval is there only when both groups have at least two later
// answers (and some variation): otherwise n is too small to say anything.
export function recoveryText(m) {
  const score = (m.recoveryScore || 'nps').toUpperCase();
  const nResolved = int(m.recoveryNResolved);
  const nOther = int(m.recoveryNNotContacted);
  const ns = `n = ${nResolved} resolved, ${nOther} not contacted`;
  if (nResolved === 0 && nOther === 0) {
    return {
      headline: 'No later answers yet',
      detail: `None of these customers has answered again (${score}) since: recovery cannot be measured yet (${ns}).`,
      small: true,
    };
  }
  const means = `mean later ${score} ${Number(m.recoveryMeanResolved ?? 0).toFixed(2)} (resolved) against ` +
    `${Number(m.recoveryMeanNotContacted ?? 0).toFixed(2)} (not contacted)`;
  if (!m.recoveryInterval) {
    return {
      headline: 'Too few answers to say',
      detail: `n is too small: ${ns}. An interval needs at least 2 later answers in each group (and some ` +
        `variation)${nResolved > 0 && nOther > 0 ? `; so far ${means}` : ''}.`,
      small: true,
    };
  }
  const interval = `95 % interval ${signed(m.recoveryInterval.low)} to ${signed(m.recoveryInterval.high)}`;
  const small = nResolved < 10 || nOther < 10;
  return {
    headline: `${signed(m.recovery)} ${score} points`,
    detail: `${interval}; ${ns}; ${means}.${small ? ' Small groups (under 10): read with care.' : ''}`,
    small,
  };
}

function slaBadge(key) {
  const info = SLA_STATES[key];
  return element('span', { class: `sla sla-${key.replace('_', '-')}`, 'data-sla': key },
    `${info.symbol} ${info.label}`);
}

// The SLA state, with "no contact" beside it for a customer who refused it.
function slaCell(cell, c, key) {
  cell.append(slaBadge(key));
  if (c.noContact) {
    cell.append(document.createTextNode(' '));
    cell.append(element('span', { class: 'sla-marker', 'data-marker': 'no_contact', title: NO_CONTACT.title },
      `${NO_CONTACT.symbol} ${NO_CONTACT.label}`));
  }
}

// What the view keeps between redraws (journey or range changed).
const ui = {
  journey: '', // the journey the teams below were seen in
  team: '', // '' = all teams, grouped
  states: 'open', // 'open', 'all' or one CaseState
  breachedOnly: false,
  live: false,
  selected: '', // case id shown in the detail panel
  teams: new Set(), // every owner team seen
};

function queueParams(ctx) {
  const states = ui.states === 'open' ? OPEN_STATES : ui.states === 'all' ? undefined : [ui.states];
  return {
    journey: ctx.journey,
    owner_team: ui.team,
    states,
    breached_only: ui.breachedOnly ? 'true' : undefined,
  };
}

function controls(section, ctx, redraw) {
  const box = element('div', { class: 'controls followup-controls' });
  const team = element('select', { 'data-control': 'team' });
  team.append(element('option', { value: '' }, 'All teams (grouped)'));
  for (const name of [...ui.teams].sort()) team.append(element('option', { value: name }, name));
  if (ui.team && !ui.teams.has(ui.team)) team.append(element('option', { value: ui.team }, ui.team));
  team.value = ui.team;
  team.addEventListener('change', () => { ui.team = team.value; redraw(); });
  const label = (text, control) => { const l = element('label', {}, `${text} `); l.append(control); return l; };
  box.append(label('Team', team));

  const states = element('select', { 'data-control': 'states' });
  states.append(element('option', { value: 'open' }, 'Open cases'));
  states.append(element('option', { value: 'all' }, 'All states'));
  for (const [value, text] of Object.entries(STATE_LABELS)) states.append(element('option', { value }, text));
  states.value = ui.states;
  states.addEventListener('change', () => { ui.states = states.value; redraw(); });
  box.append(label('State', states));

  const breached = element('input', { type: 'checkbox', 'data-control': 'breached' });
  breached.checked = ui.breachedOnly;
  breached.addEventListener('change', () => { ui.breachedOnly = breached.checked; redraw(); });
  const breachedLabel = element('label');
  breachedLabel.append(breached, document.createTextNode(' Breached only'));
  box.append(breachedLabel);

  const refresh = element('button', { type: 'button', 'data-control': 'refresh' }, 'Refresh');
  refresh.addEventListener('click', () => redraw());
  box.append(refresh);

  const live = element('input', { type: 'checkbox', 'data-control': 'live' });
  live.checked = ui.live;
  live.addEventListener('change', () => { ui.live = live.checked; redraw(); });
  const liveLabel = element('label', { title: 'Redraw the queue when a case changes (GET /v1/cases:watch)' });
  liveLabel.append(live, document.createTextNode(' Live'));
  box.append(liveLabel);
  return box;
}

function queueTable(cases, now, onOpen) {
  const table = element('table', { class: 'trend-table followup-queue', 'data-table': 'queue' });
  const head = element('tr');
  for (const title of ['Case', 'SLA', 'Next due', 'State', 'Priority', 'Touchpoint', 'Age', 'Assignee']) {
    head.append(element('th', { scope: 'col' }, title));
  }
  table.appendChild(element('thead')).append(head);
  const body = table.appendChild(element('tbody'));
  for (const c of cases) {
    const key = slaState(c, now);
    const row = element('tr', { 'data-case': c.caseId, 'data-sla': key,
      'aria-selected': String(c.caseId === ui.selected) });
    const id = element('td', { 'data-field': 'case' });
    const open = element('button', { type: 'button', class: 'link', 'data-case': c.caseId },
      String(c.caseId).slice(0, 12));
    open.title = c.caseId;
    open.addEventListener('click', () => onOpen(c.caseId));
    id.append(open);
    row.append(id);
    const sla = element('td', { 'data-field': 'sla' });
    slaCell(sla, c, key);
    row.append(sla);
    const due = nextDue(c);
    row.append(element('td', { 'data-field': 'due', title: due ? when(due) : undefined }, dueText(c, now)));
    row.append(element('td', { 'data-field': 'state' }, STATE_LABELS[c.state] ?? String(c.state ?? '')));
    row.append(element('td', { 'data-field': 'priority' }, PRIORITY_LABELS[c.priority] ?? ''));
    const e = c.event ?? {};
    row.append(element('td', { 'data-field': 'touchpoint', title: `${e.stage ?? ''} / ${e.channel ?? ''}` },
      e.touchpoint ?? ''));
    row.append(element('td', { 'data-field': 'age', title: when(c.createTime) },
      span((now - ms(c.createTime)) / 1000)));
    row.append(element('td', { 'data-field': 'assignee' }, c.assignee || '\u2013'));
    body.append(row);
  }
  return table;
}

// The queue: grouped by owner team (all teams) or one team's, each group
// most urgent first.
function drawQueue(box, cases, now, onOpen) {
  box.replaceChildren();
  if (cases.length === 0) {
    box.append(element('p', { class: 'followup-empty', 'data-empty': '' },
      'No case matches: nothing in this queue with these filters.'));
    return;
  }
  const groups = new Map();
  for (const c of [...cases].sort((a, b) => byUrgency(a, b, now))) {
    const team = c.ownerTeam || '(no team)';
    if (!groups.has(team)) groups.set(team, []);
    groups.get(team).push(c);
  }
  for (const team of [...groups.keys()].sort()) {
    const rows = groups.get(team);
    const breached = rows.filter((c) => slaState(c, now) === 'breached').length;
    const group = element('section', { class: 'followup-team', 'data-team': team });
    group.append(element('h3', {},
      `${team} \u00b7 ${rows.length} case${rows.length === 1 ? '' : 's'}` +
      `${breached ? `, ${breached} breached` : ''}`));
    group.append(queueTable(rows, now, onOpen));
    box.append(group);
  }
}

async function drawSlaChart(box, cases, now) {
  const keys = Object.keys(SLA_STATES);
  const counts = keys.map((k) => cases.filter((c) => slaState(c, now) === k).length);
  box.dataset.counts = JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, counts[i]])));
  return drawChart(box, {
    grid: { left: 210, right: 40, top: 8, bottom: 24 },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', inverse: true, data: keys.map((k) => `${SLA_STATES[k].symbol} ${SLA_STATES[k].label}`) },
    tooltip: { trigger: 'axis', confine: true },
    series: [{
      type: 'bar',
      data: counts.map((n, i) => ({ value: n, itemStyle: { color: SLA_STATES[keys[i]].color } })),
      label: { show: true, position: 'right' },
    }],
  });
}

function term(list, name, value, field) {
  list.append(element('dt', {}, name));
  list.append(element('dd', { 'data-field': field }, value));
}

function dueLine(due, met, breached, reminded, paused, how = '') {
  if (met) return `met ${when(met)}${how}${breached ? ' (after the breach)' : ''}`;
  if (paused) return 'paused while waiting for the customer';
  if (!due) return breached ? 'breached' : 'none';
  return `due ${when(due)}${breached ? ' \u00b7 breached' : reminded ? ' \u00b7 reminder passed' : ''}`;
}

// A case's panel: what happened to whom (never who: no customer), its SLA
// and its history.
async function drawCase(panel, ctx, caseId, generation) {
  panel.replaceChildren(element('p', { class: 'meta' }, 'Loading the case\u2026'));
  panel.dataset.case = caseId;
  panel.dataset.state = 'loading';
  let c;
  const entries = [];
  let cut = false;
  try {
    const path = `/v1/cases/${encodeURIComponent(caseId)}`;
    c = await ctx.get(path);
    let token = '';
    for (let page = 0; page < HISTORY_PAGES; ++page) {
      const answer = await ctx.get(`${path}/auditEntries`, { page_size: HISTORY_PAGE, page_token: token });
      entries.push(...(answer.entries ?? []));
      token = answer.nextPageToken ?? '';
      if (!token) break;
    }
    cut = token !== '';
  } catch (error) {
    if (generation()) return;
    panel.replaceChildren(element('p', { class: 'error' }, `The case could not be loaded: ${sayError(error)}`));
    panel.dataset.state = 'error';
    return;
  }
  if (generation()) return;
  panel.replaceChildren();
  const key = slaState(c);
  panel.append(element('h3', {}, `Case ${c.caseId}`));
  const badge = element('p');
  slaCell(badge, c, key);
  panel.append(badge);
  const facts = element('dl', { class: 'followup-facts' });
  term(facts, 'State', STATE_LABELS[c.state] ?? String(c.state ?? ''), 'state');
  term(facts, 'Priority', PRIORITY_LABELS[c.priority] ?? '', 'priority');
  term(facts, 'Team', c.ownerTeam || '\u2013', 'team');
  term(facts, 'Assignee', c.assignee || '\u2013', 'assignee');
  term(facts, 'Contact', c.noContact ? 'no contact: the customer asked not to be contacted' : 'allowed', 'contact');
  term(facts, 'Opened', when(c.createTime), 'opened');
  const sla = c.sla ?? {};
  const waiting = c.state === 'WAITING_FOR_CUSTOMER';
  const met = firstContactMet(c);
  term(facts, 'First contact', c.noContact && !met ? 'not owed (no contact)'
    : dueLine(sla.firstContactDue, met, breaches(c).includes('first contact'), sla.firstContactReminded,
      waiting && !met, met && !sla.firstContactTime ? ' (resolved without contact)' : ''), 'first_contact');
  term(facts, 'Resolution', dueLine(sla.resolutionDue, sla.resolutionTime, sla.resolutionBreached,
    sla.resolutionReminded, waiting && !sla.resolutionTime), 'resolution');
  term(facts, 'Waiting for the customer', `${businessTime(int(sla.pausedSeconds))} of business time` +
    ` in ${(sla.pauses ?? []).length} pause${(sla.pauses ?? []).length === 1 ? '' : 's'}`, 'paused');
  panel.append(facts);

  const e = c.event ?? {};
  panel.append(element('h4', {}, 'The feedback that opened it'));
  panel.append(element('p', { class: 'example-meta', 'data-field': 'event' },
    `${when(e.occurredAt)} \u00b7 ${e.touchpoint ?? ''} (${e.stage ?? ''} / ${e.channel ?? ''}) \u00b7 ` +
    `${scoresText(e)}${e.language ? ` \u00b7 ${e.language}` : ''}`));
  panel.append(element('blockquote', { class: 'followup-comment', 'data-field': 'comment' },
    e.comment ? e.comment : '(no comment)'));
  const attributes = Object.entries(e.attributes ?? {});
  if (attributes.length > 0) {
    panel.append(element('p', { class: 'example-meta', 'data-field': 'attributes' },
      attributes.map(([k, v]) => `${k} = ${v}`).join(' \u00b7 ')));
  }
  if ((c.comments ?? []).length > 0) {
    panel.append(element('h4', {}, 'Notes of the team'));
    const notes = element('ul', { class: 'followup-notes', 'data-list': 'notes' });
    for (const note of c.comments) {
      const item = element('li');
      item.append(element('span', { class: 'example-meta' }, `${when(note.createTime)} \u00b7 ${note.author ?? ''}: `));
      item.append(document.createTextNode(note.text ?? ''));
      notes.append(item);
    }
    panel.append(notes);
  }

  panel.append(element('h4', {}, 'History'));
  const table = element('table', { class: 'trend-table followup-history', 'data-table': 'history' });
  const head = element('tr');
  for (const title of ['When', 'Who', 'What', 'From', 'To']) head.append(element('th', { scope: 'col' }, title));
  table.appendChild(element('thead')).append(head);
  const body = table.appendChild(element('tbody'));
  for (const entry of entries) {
    const row = element('tr');
    row.append(element('td', { 'data-field': 'time', title: entry.time ?? '' }, when(entry.time)));
    row.append(element('td', { 'data-field': 'actor' }, entry.actor ?? ''));
    row.append(element('td', { 'data-field': 'field' }, entry.field ?? ''));
    row.append(element('td', { 'data-field': 'old' }, entry.oldValue ?? ''));
    row.append(element('td', { 'data-field': 'new' }, entry.newValue ?? ''));
    body.append(row);
  }
  panel.append(table);
  if (cut) {
    panel.append(element('p', { class: 'meta', 'data-field': 'history_cut' },
      `Only the first ${entries.length} entries are shown (${HISTORY_PAGES} pages of ${HISTORY_PAGE}).`));
  }
  panel.dataset.entries = String(entries.length);
  panel.dataset.state = 'ready';
}

// The measures box; `m` is null while loading, an Error when the call
// failed (the queue does not wait for it).
function measuresBox(box, m, ctx) {
  box.replaceChildren(element('h3', {}, 'Closing the loop'));
  box.append(element('p', { class: 'meta' },
    `Cases of ${ctx.journey} opened ${String(ctx.range?.start ?? '').slice(0, 10)} \u2013 ` +
    `${String(ctx.range?.end ?? '').slice(0, 10)} (UTC, end exclusive); times in business hours of each case's calendar, ` +
    'time waiting for the customer not counted.'));
  if (m === null) {
    box.dataset.measures = 'loading';
    box.append(element('p', { class: 'meta' }, 'Loading the measures\u2026'));
    return;
  }
  if (m instanceof Error) {
    box.dataset.measures = 'error';
    box.append(element('p', { class: 'error' }, `The measures could not be loaded: ${sayError(m)}`));
    return;
  }
  const eligible = int(m.eligible);
  const within = int(m.contactedWithinSla);
  const times = timesText(m);
  const list = element('dl', { class: 'followup-facts' });
  term(list, 'Close-the-loop rate', eligible === 0 ? '\u2013 (no eligible case)' : percent(m.closeTheLoopRate), 'rate');
  term(list, 'Contacted within SLA / eligible', `${within} of ${eligible}`, 'eligible');
  term(list, 'Time to first contact', times.firstContact, 'first_contact_time');
  term(list, 'Time to close', times.close, 'close_time');
  const recovery = recoveryText(m);
  term(list, 'Recovery', recovery.headline, 'recovery');
  list.append(element('dd', { 'data-field': 'recovery_detail', class: recovery.small ? 'followup-small' : undefined },
    recovery.detail));
  box.append(list);
  box.append(element('p', { class: 'meta' },
    'Eligible: cases with a first-contact SLA whose customer may be contacted. Recovery compares the later ' +
    'score of customers whose case was resolved with that of eligible customers never contacted; it describes, ' +
    'it does not prove that contacting helped (who is contacted is not random).'));
  box.dataset.measures = 'ready';
}

// Live: how often a broken watch is retried, and how long between tries
// (doubling from the first, capped).
const WATCH_RETRIES = 6;
const WATCH_BACKOFF_MS = 1000;
const WATCH_BACKOFF_CAP_MS = 30000;
// A stream that stayed up this long was working: its retries start afresh.
const WATCH_HEALTHY_MS = 30000;
// Live reloads: half a second after the last change, but at most this long
// after the first one waiting, so a steady stream still reloads.
const LIVE_DEBOUNCE_MS = 500;
const LIVE_MAX_WAIT_MS = 2000;

// One watch at a time: the live queue's NDJSON stream, kept open across
// the redraws it causes (same filter).
let watching = null; // { controller, address }
function stopWatch() {
  watching?.controller.abort();
  watching = null;
}

function sleep(millis, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, millis);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// Reads GET /v1/cases:watch line by line; each change (not the existing
// cases sent first) calls `changed`. A stream that ends, breaks or is
// refused is said (`status`) and tried again after a growing wait, at most
// WATCH_RETRIES times in a row; after a reconnection `changed` is called, as
// changes may have been missed meanwhile.
async function watch(ctx, params, changed, status) {
  const filter = {};
  for (const [name, value] of Object.entries(params)) filter[`filter.${name}`] = value;
  const address = url('/v1/cases:watch', filter);
  if (watching && !watching.controller.signal.aborted && watching.address === address) return;
  stopWatch();
  const controller = new AbortController();
  const mine = { controller, address };
  watching = mine;
  if (ctx.signal.aborted) controller.abort();
  ctx.signal.addEventListener('abort', () => controller.abort(), { once: true });
  let failures = 0;
  try {
    while (!controller.signal.aborted) {
      const started = Date.now();
      let why = '';
      try {
        const response = await fetch(address, {
          headers: { Authorization: `Bearer ${ctx.key}`, Accept: 'application/x-ndjson' },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (!response.ok || !response.body) {
          why = `HTTP ${response.status}`;
        } else {
          status('connected', 'Live: connected');
          if (failures > 0) changed();
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end;
            while ((end = buffer.indexOf('\n')) >= 0) {
              const line = buffer.slice(0, end).trim();
              buffer = buffer.slice(end + 1);
              if (!line) continue;
              let message;
              try {
                message = JSON.parse(line);
              } catch {
                continue;
              }
              if (message.change) changed();
              if (message.error) why = message.error.message ?? 'the stream reported an error';
            }
          }
          why ||= 'the stream ended';
        }
      } catch (error) {
        why = error?.message ?? String(error);
      }
      if (controller.signal.aborted) break;
      failures = Date.now() - started >= WATCH_HEALTHY_MS ? 1 : failures + 1;
      if (failures > WATCH_RETRIES) {
        status('failed', `Live: disconnected (${why}); gave up after ${WATCH_RETRIES} tries \u2014 ` +
          'Refresh, or turn Live off and on');
        break;
      }
      const wait = Math.min(WATCH_BACKOFF_CAP_MS, WATCH_BACKOFF_MS * 2 ** (failures - 1));
      status('reconnecting', `Live: disconnected (${why}) \u2014 reconnecting in ${Math.round(wait / 1000)} s`);
      await sleep(wait, controller.signal);
    }
  } finally {
    // Whatever ended it, a later load may start a new watch.
    if (watching === mine) watching = null;
  }
}

export const view = {
  id: 'followup',
  title: 'Follow-up',
  async render(section, ctx) {
    stopWatch();
    if (ui.journey !== ctx.journey) {
      // Teams belong to a journey: another journey starts with all teams.
      ui.journey = ctx.journey;
      ui.teams = new Set();
      ui.team = '';
      ui.selected = '';
    }
    // The rules first (small; a key without cases:read is found here); the
    // measures load beside the queue and never hold it up.
    let rules = null;
    let rulesError = null;
    try {
      rules = await ctx.get('/v1/caseRules', { journey: ctx.journey });
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        if (ctx.signal.aborted) return;
        section.replaceChildren(element('h2', {}, 'Follow-up'),
          element('p', { class: 'followup-empty', 'data-empty': 'scope' },
            'This key may not read cases: the Follow-up view needs a key with the cases:read scope.'));
        return;
      }
      rulesError = error;
    }
    if (ctx.signal.aborted) return;
    const measuresCall = ctx.get('/v1/cases:measures',
      { journey: ctx.journey, 'range.start': ctx.range?.start, 'range.end': ctx.range?.end });
    for (const rule of rules?.rules ?? []) if (rule.fallbackQueue) ui.teams.add(rule.fallbackQueue);

    section.replaceChildren();
    section.dataset.journey = ctx.journey;
    section.append(element('h2', {}, `Follow-up \u00b7 ${ctx.journey}`));
    const nRules = (rules?.rules ?? []).length;
    section.append(element('p', { class: 'meta' },
      `${rulesError ? `The case rules could not be loaded: ${sayError(rulesError)} ` :
        `${nRules} case rule${nRules === 1 ? '' : 's'} on this journey. `}` +
      'The queue holds every case of the journey whatever its age (the range applies to the measures); ' +
      'most urgent first: a due time passed, then the nearest due time owed, then breaches met since, then the ' +
      'rest, resolved and closed last. Breached cases are loaded first. Choose a case for its feedback and ' +
      'history. No case shows who the customer is.'));
    const controlBox = element('div');
    const liveStatus = element('p', { class: 'meta followup-live', 'data-live': 'off', 'aria-live': 'polite' });
    liveStatus.hidden = true;
    const summary = element('p', { class: 'themes-summary', 'data-summary': '' });
    const chart = element('div', { class: 'followup-chart', 'aria-hidden': 'true' });
    const queueBox = element('div', { class: 'followup-groups' });
    const more = element('button', { type: 'button', 'data-control': 'more-cases', hidden: '' }, 'More cases');
    const panel = element('section', { class: 'followup-case themes-examples', 'aria-label': 'Case', hidden: '' });
    const layout = element('div', { class: 'themes-layout' });
    const left = element('div', { class: 'followup-left' });
    const measures = element('section', { class: 'followup-measures', 'aria-label': 'Loop measures', 'data-measures': 'loading' });
    left.append(summary, chart, queueBox, more);
    layout.append(left, panel);
    section.append(controlBox, liveStatus, layout, measures);
    measuresBox(measures, null, ctx);
    const measuresDone = measuresCall.then(
      (m) => { if (!ctx.signal.aborted) measuresBox(measures, m, ctx); },
      (error) => { if (!ctx.signal.aborted) measuresBox(measures, error, ctx); });
    const setLive = (stateName, text) => {
      liveStatus.hidden = false;
      liveStatus.dataset.live = stateName;
      liveStatus.textContent = text;
    };

    let caseGeneration = 0;
    const openCase = (caseId) => {
      ui.selected = caseId;
      for (const row of queueBox.querySelectorAll('tr[data-case]')) {
        row.setAttribute('aria-selected', String(row.dataset.case === caseId));
      }
      panel.hidden = false;
      const mine = ++caseGeneration;
      return drawCase(panel, ctx, caseId, () => ctx.signal.aborted || mine !== caseGeneration);
    };

    // Loads the queue: every breached case first (one request of up to
    // URGENT_PAGE, so that they are on the first screen however old), then
    // the queue from its first page; `more` adds the next ones.
    let queueGeneration = 0;
    let liveTimer = null;
    let liveFirst = 0;
    let cases = [];
    let seen = new Set();
    let token = '';
    let urgentMore = false;
    const add = (list) => {
      for (const c of list ?? []) {
        if (seen.has(c.caseId)) continue;
        seen.add(c.caseId);
        cases.push(c);
      }
    };
    const drawAll = async () => {
      const now = Date.now();
      for (const c of cases) if (c.ownerTeam) ui.teams.add(c.ownerTeam);
      controlBox.replaceChildren(controls(section, ctx, () => loadQueue()));
      drawQueue(queueBox, cases, now, openCase);
      const breached = cases.filter((c) => slaState(c, now) === 'breached').length;
      summary.textContent = `${cases.length} case${cases.length === 1 ? '' : 's'} shown, ${breached} breached` +
        `${ui.team ? ` \u00b7 team ${ui.team}` : ' \u00b7 all teams'}` +
        ` \u00b7 ${ui.states === 'open' ? 'open cases' : ui.states === 'all' ? 'all states' : STATE_LABELS[ui.states]}` +
        `${ui.breachedOnly ? ' \u00b7 breached only' : ''}` +
        `${token ? ` \u00b7 sorted over the ${cases.length} loaded of more: older cases are on the next pages` +
          `${ui.breachedOnly ? '' : ' (every breached case is loaded)'}` : ''}` +
        `${urgentMore ? ` \u00b7 more than ${URGENT_PAGE} breached cases: only the newest ${URGENT_PAGE} loaded first` : ''}`;
      more.hidden = !token;
      chart.hidden = cases.length === 0;
      if (cases.length > 0) await drawSlaChart(chart, cases, now);
    };
    const loadPage = async (mine) => {
      const page = await ctx.get('/v1/cases', { ...queueParams(ctx), page_size: PAGE_SIZE, page_token: token });
      if (mine !== queueGeneration || ctx.signal.aborted) return false;
      add(page.cases);
      token = page.nextPageToken ?? '';
      return true;
    };
    const scheduleReload = () => {
      const now = Date.now();
      if (liveTimer === null) liveFirst = now;
      clearTimeout(liveTimer);
      const wait = Math.max(0, Math.min(LIVE_DEBOUNCE_MS, liveFirst + LIVE_MAX_WAIT_MS - now));
      liveTimer = setTimeout(() => { liveTimer = null; if (!ctx.signal.aborted) loadQueue(); }, wait);
    };
    const loadQueue = async () => {
      const mine = ++queueGeneration;
      section.dataset.queue = 'loading';
      cases = [];
      seen = new Set();
      token = '';
      urgentMore = false;
      try {
        const urgent = ui.breachedOnly ? null
          : ctx.get('/v1/cases', { ...queueParams(ctx), breached_only: 'true', page_size: URGENT_PAGE });
        const [breachedFirst, loaded] = await Promise.all([urgent, loadPage(mine)]);
        if (!loaded || mine !== queueGeneration || ctx.signal.aborted) return;
        if (breachedFirst) {
          const pageCases = cases;
          cases = [];
          seen = new Set();
          add(breachedFirst.cases);
          add(pageCases);
          urgentMore = Boolean(breachedFirst.nextPageToken);
        }
      } catch (error) {
        if (mine !== queueGeneration || ctx.signal.aborted) return;
        queueBox.replaceChildren(element('p', { class: 'error' }, `The queue could not be loaded: ${sayError(error)}`));
        more.hidden = true;
        section.dataset.queue = 'error';
        return;
      }
      await drawAll();
      if (mine !== queueGeneration) return;
      section.dataset.queue = 'ready';
      section.dataset.queueParams = url('', queueParams(ctx));
      if (ui.live) {
        watch(ctx, queueParams(ctx), scheduleReload, setLive);
      } else {
        stopWatch();
        liveStatus.hidden = true;
        liveStatus.dataset.live = 'off';
      }
    };
    more.addEventListener('click', async () => {
      const mine = queueGeneration;
      more.disabled = true;
      section.dataset.queue = 'loading';
      try {
        if (await loadPage(mine)) await drawAll();
      } catch (error) {
        if (mine === queueGeneration && !ctx.signal.aborted) {
          queueBox.append(element('p', { class: 'error' }, `More cases could not be loaded: ${sayError(error)}`));
        }
      }
      more.disabled = false;
      // A newer load owns the queue's state.
      if (mine === queueGeneration) section.dataset.queue = 'ready';
    });
    await loadQueue();
    if (ui.selected && cases.some((c) => c.caseId === ui.selected)) await openCase(ui.selected);
    await measuresDone;
  },
};
