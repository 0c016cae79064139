// The dashboard's pure parts under Node (no browser): the grid built from a
// hand-made GET /v1/journey-map answer, number formatting and the chart's
// geometry. Run: node --test tests/browser/model_test.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chartModel } from '../../gateway/dashboard/chart.js';
import { describeAlert, formatInterval, formatValue } from '../../gateway/dashboard/format.js';
import { buildGrid } from '../../gateway/dashboard/grid.js';
import {
  highlightPieces, sharePercent, trendText, zText,
} from '../../gateway/dashboard/themes.js';
import {
  businessTime, byUrgency, dueText, nextDue, recoveryText, slaState, span, timesText, urgency,
} from '../../gateway/dashboard/followup.js';

// Two stages, two channels, three touchpoints; int64 fields as strings, as
// proto3 JSON writes them.
const MAP = {
  journey: 'shop',
  name: 'Shop',
  journeyVersion: 2,
  stages: [{ key: 'buy', name: 'Buy' }, { key: 'use', name: 'Use' }],
  channels: ['web', 'shop'],
  cells: [
    {
      stage: 'buy', channel: 'web', touchpoints: [{
        key: 'checkout', name: 'Checkout', headlineMetric: 'CSAT_TOP2_BOX', n: '40',
        value: 0.775, ci95: { low: 0.6236, high: 0.8768 }, target: 0.8,
        targetStatus: 'NEAR_TARGET', trend: 'TREND_DOWN', events: '52',
        openAlerts: [{
          id: 'a1', metric: 'CSAT_TOP2_BOX', before: 0.9, after: 0.7, worse: true,
          adjustedPValue: 0.0031, firstSeen: '2026-11-20T00:00:00Z', state: 'OPEN',
        }],
      }],
    },
    {
      stage: 'use', channel: 'shop', touchpoints: [
        { key: 'pickup', name: 'Pickup', headlineMetric: 'NPS', n: '12', value: -8.3333,
          ci95: { low: -61.2, high: 44.5 }, targetStatus: 'NO_TARGET', trend: 'TREND_UP', events: '12' },
        { key: 'return', name: '', headlineMetric: 'CSAT_TOP2_BOX', n: '0', targetStatus: 'INSUFFICIENT_DATA',
          trend: 'TREND_UNKNOWN', events: '0' },
      ],
    },
  ],
};

test('stages become columns and channels rows, in the order given', () => {
  const grid = buildGrid(MAP);
  assert.deepEqual(grid.columns.map((c) => c.key), ['buy', 'use']);
  assert.deepEqual(grid.rows.map((r) => r.channel), ['web', 'shop']);
  assert.deepEqual(grid.rows[0].cells.map((c) => c.touchpoints.map((t) => t.key)), [['checkout'], []]);
  assert.deepEqual(grid.rows[1].cells.map((c) => c.touchpoints.map((t) => t.key)), [[], ['pickup', 'return']]);
});

test('a touchpoint shows its headline number, interval, n, status, trend and alerts', () => {
  const [checkout] = buildGrid(MAP).rows[0].cells[0].touchpoints;
  assert.equal(checkout.valueText, '78 %');
  assert.equal(checkout.intervalText, '62\u201388 %');
  assert.equal(checkout.n, 40);
  assert.equal(checkout.statusCss, 'near');
  assert.equal(checkout.statusText, '\u2248 near target (80 %)');
  assert.equal(checkout.trendSymbol, '\u2193');
  assert.equal(checkout.alerts.length, 1);
  assert.match(checkout.alertTexts[0], /^CSAT top-2-box 90 % \u2192 70 % \(worse\), p = 0\.0031, since 2026-11-20$/);
  const [pickup, empty] = buildGrid(MAP).rows[1].cells[1].touchpoints;
  assert.equal(pickup.valueText, '\u22128');
  assert.equal(pickup.intervalText, '\u221261\u2026+45');
  assert.equal(pickup.statusText, '\u25cb no target');
  assert.equal(empty.name, 'return');
  assert.equal(empty.valueText, '\u2013');
  assert.equal(empty.intervalText, '');
  assert.equal(empty.statusCss, 'no-data');
});

test('cells outside the listed stages and channels still get a place', () => {
  const grid = buildGrid({ ...MAP, stages: [MAP.stages[0]], channels: ['web'] });
  assert.deepEqual(grid.columns.map((c) => c.key), ['buy', 'use']);
  assert.deepEqual(grid.rows.map((r) => r.channel), ['web', 'shop']);
});

test('formatting per metric kind', () => {
  assert.equal(formatValue('CES_MEAN', 5.234), '5.23');
  assert.equal(formatValue('EVENT_COUNT', 12), '12');
  assert.equal(formatValue('NPS', 0.4), '0');
  assert.equal(formatInterval('CSAT_MEAN', { low: 3.1, high: 4.25 }), '3.10\u20134.25');
  assert.equal(describeAlert({ metric: 'CES_MEAN', before: 5, after: 5.5, worse: false,
    pValue: 0.00001, firstSeen: '2026-11-01T00:00:00Z', state: 'CLEARED',
    clearedAt: '2026-11-09T10:00:00Z' }),
  'CES mean (1\u20137) 5.00 \u2192 5.50 (better), p < 0.0001, since 2026-11-01, cleared 2026-11-09');
});

test('the chart places one point per bucket with a value, intervals inside the plot', () => {
  const trend = {
    metric: 'CSAT_TOP2_BOX',
    points: [
      { bucket: { start: '2026-11-01T00:00:00Z' }, n: '10', value: 0.5, ci95: { low: 0.2, high: 0.8 } },
      { bucket: { start: '2026-11-02T00:00:00Z' }, n: '0' },
      { bucket: { start: '2026-11-03T00:00:00Z' }, n: '20', value: 1, ci95: { low: 0.83, high: 1 } },
      { bucket: { start: '2026-11-04T00:00:00Z' }, n: '30', value: 0.9, ci95: { low: 0.74, high: 0.97 } },
    ],
  };
  const model = chartModel(trend, 0.8);
  const withValues = model.buckets.filter((b) => b.value !== undefined);
  assert.equal(withValues.length, 3);
  assert.deepEqual(withValues.map((b) => b.n), [10, 20, 30]);
  // Higher values are higher up (smaller y); the interval brackets the point.
  assert.ok(withValues[1].y < withValues[0].y);
  for (const b of withValues) {
    assert.ok(b.yHigh <= b.y && b.y <= b.yLow);
    assert.ok(b.yHigh >= model.plot.top && b.yLow <= model.plot.bottom);
  }
  // The empty bucket splits the line and the band: one run of two points.
  assert.equal(model.lines.length, 1);
  assert.equal(model.bands.length, 1);
  assert.ok(model.target && model.target.y > withValues[1].y);
});

test('counts get a round scale above the largest value', () => {
  const model = chartModel({ metric: 'EVENT_COUNT', points: [{ n: '7', value: 7 }, { n: '43', value: 43 }] });
  assert.deepEqual([model.min, model.max], [0, 50]);
});

// Byte offsets into UTF-8, as ListThemeExamples gives them: ä, ö and å take
// two bytes each, so character offsets would be off by one per letter.
test('a theme span given in UTF-8 bytes marks the right characters', () => {
  const text = 'Äiti sanoi: toimituksen myöhästyminen ärsytti, åh!';
  const bytes = Buffer.from(text, 'utf8');
  const begin = bytes.indexOf(Buffer.from('toimituksen'));
  const end = bytes.indexOf(Buffer.from('myöhästyminen')) + Buffer.byteLength('myöhästyminen');
  assert.equal(begin, 13); // "Äiti sanoi: " is 12 characters, 13 bytes
  const pieces = highlightPieces(text, [{ begin, end }]);
  assert.deepEqual(pieces, [
    { text: 'Äiti sanoi: ', mark: false },
    { text: 'toimituksen myöhästyminen', mark: true },
    { text: ' ärsytti, åh!', mark: false },
  ]);
  assert.equal(pieces.map((p) => p.text).join(''), text);
});

test('spans out of order, overlapping or past the end are merged and clipped', () => {
  const text = 'Leveransen försenades, leveransförseningen igen';
  const at = (word) => Buffer.from(text).indexOf(Buffer.from(word));
  const spans = [
    { begin: at('leveransförseningen'), end: Buffer.byteLength(text) + 40 },
    { begin: 0, end: 10 }, { begin: 5, end: 10 },
  ];
  assert.deepEqual(highlightPieces(text, spans).map((p) => [p.text, p.mark]), [
    ['Leveransen', true], [' försenades, ', false], ['leveransförseningen igen', true]]);
  // A span cutting "ö" in two is widened to the whole letter, never garbled.
  const cut = highlightPieces('för', [{ begin: 0, end: 2 }]);
  assert.deepEqual(cut, [{ text: 'fö', mark: true }, { text: 'r', mark: false }]);
  assert.deepEqual(highlightPieces('<b>x</b>', []), [{ text: '<b>x</b>', mark: false }]);
});

test('theme numbers are shown with one decimal of percent and two of z', () => {
  assert.equal(sharePercent(0.04321), '4.3 %');
  assert.equal(zText(3.8249), '3.82');
  assert.equal(zText(-0.414), '\u22120.41');
  assert.equal(zText(-0.001), '0.00');
  assert.equal(trendText([{ week: '2026-W45', comments: '25', count: '3', share: 0.12 },
    { week: '2026-W46', comments: '0', count: '0' }]),
  '2026-W45 3/25 (12.0 %); 2026-W46 0/0 (0.0 %)');
});

// Follow-up (followup.js): the SLA state of a case and the queue's order.
// Cases as the API gives them: a rule's case has its slaPolicy.
const NOW = Date.parse('2026-12-07T12:00:00Z');
const HOUR = 3600e3;
const at = (h) => new Date(NOW + h * HOUR).toISOString();
const POLICY = { firstContactSeconds: '36000', resolutionSeconds: '72000' };
const kase = (id, fields) => ({
  caseId: id, state: 'NEW', createTime: '2026-12-07T08:00:00Z', slaPolicy: POLICY, ...fields,
});

test('the SLA state of a case: breach first, then pause, done, no SLA, reminder, on time, met', () => {
  assert.equal(slaState(kase('a', { sla: { firstContactDue: at(2) } }), NOW), 'on_time');
  assert.equal(slaState(kase('a', { sla: { firstContactDue: at(2), firstContactReminded: true } }), NOW), 'reminder');
  // Due passed before the SLA timer raised the breach.
  assert.equal(slaState(kase('a', { sla: { firstContactDue: at(-1) } }), NOW), 'breached');
  assert.equal(slaState(kase('a', { sla: { resolutionBreached: true }, state: 'RESOLVED' }), NOW), 'breached');
  assert.equal(slaState(kase('a', { state: 'WAITING_FOR_CUSTOMER', sla: {} }), NOW), 'paused');
  assert.equal(slaState(kase('a', { state: 'CLOSED', sla: { firstContactDue: at(-1), firstContactTime: at(-2) } }), NOW),
    'done');
  // No SLA comes from the policy: a case opened by hand has none.
  assert.equal(slaState(kase('a', { slaPolicy: undefined }), NOW), 'no_sla');
  // Every SLA met, case still open (reopened): met, not "no SLA".
  assert.equal(slaState(kase('a', { state: 'REOPENED', sla: {
    firstContactDue: at(-5), firstContactTime: at(-6), resolutionDue: at(-3), resolutionTime: at(-4) } }), NOW), 'met');
});

test('first contact is met by resolving directly, also after reopening', () => {
  // Resolved directly (never CONTACTED): nothing owed, not breached.
  const resolved = kase('r', { state: 'RESOLVED', sla: {
    firstContactDue: at(-1), resolutionDue: at(10), resolutionTime: at(-2) } });
  assert.equal(slaState(resolved, NOW), 'done');
  assert.equal(nextDue(resolved), '');
  // Reopened afterwards, its first-contact due long past: the resolution
  // met it, so the case is not breached and owes nothing ...
  const reopened = { ...resolved, state: 'REOPENED' };
  assert.equal(slaState(reopened, NOW), 'met');
  assert.equal(dueText(reopened, NOW), '');
  assert.equal(urgency(reopened, NOW), 3);
  // ... even when the SLA timer raised a reminder and breach for it after
  // the resolution (met before the due time: no breach).
  const flagged = { ...reopened, sla: { ...reopened.sla, firstContactReminded: true, firstContactBreached: true } };
  assert.equal(slaState(flagged, NOW), 'met');
  // A breach raised before the resolution stays a breach.
  const late = kase('l', { state: 'REOPENED', sla: {
    firstContactDue: at(-5), firstContactBreached: true, resolutionDue: at(10), resolutionTime: at(-2) } });
  assert.equal(slaState(late, NOW), 'breached');
  assert.equal(urgency(late, NOW), 2);
});

test('no contact: first contact is neither owed nor breached, resolution still applies', () => {
  const base = { noContact: true, slaPolicy: POLICY };
  // Past its first-contact due (the timer may even have flagged it): on time
  // while resolution is not yet due.
  const past = kase('n', { ...base, sla: { firstContactDue: at(-1), firstContactBreached: true, resolutionDue: at(5) } });
  assert.equal(slaState(past, NOW), 'on_time');
  assert.equal(nextDue(past), at(5));
  assert.equal(dueText(past, NOW), 'due in 5 h');
  // A passed resolution reminder or due is still shown.
  assert.equal(slaState(kase('n', { ...base, sla: { firstContactDue: at(-1), resolutionDue: at(5),
    resolutionReminded: true } }), NOW), 'reminder');
  assert.equal(slaState(kase('n', { ...base, sla: { firstContactDue: at(-3), resolutionDue: at(-1) } }), NOW),
    'breached');
  assert.equal(slaState(kase('n', { ...base, sla: { resolutionBreached: true, resolutionDue: at(-1) } }), NOW),
    'breached');
  // A first-contact reminder is not owed either.
  assert.equal(slaState(kase('n', { ...base, sla: { firstContactDue: at(1), firstContactReminded: true,
    resolutionDue: at(5) } }), NOW), 'on_time');
  // Only a first-contact SLA, which the customer refused: no SLA applies.
  assert.equal(slaState(kase('n', { ...base, slaPolicy: { firstContactSeconds: '3600' },
    sla: { firstContactDue: at(-1) } }), NOW), 'no_sla');
});

test('the queue: overdue first, then the nearest due owed, old breaches, the rest, done last', () => {
  const cases = [
    kase('done', { state: 'RESOLVED', createTime: '2026-12-01T00:00:00Z',
      sla: { firstContactTime: at(-90), resolutionTime: at(-80) } }),
    kase('late', { sla: { resolutionDue: at(30) } }),
    kase('hand', { slaPolicy: undefined }),
    kase('old-breach', { state: 'CONTACTED', sla: { firstContactBreached: true, firstContactDue: at(-9),
      firstContactTime: at(-8) } }),
    kase('soon', { sla: { firstContactDue: at(1), resolutionDue: at(30) } }),
    kase('overdue-2h', { sla: { firstContactDue: at(-2), resolutionDue: at(40) } }),
    kase('overdue-1h', { sla: { firstContactDue: at(-1), firstContactBreached: true, resolutionDue: at(40) } }),
    kase('paused', { state: 'WAITING_FOR_CUSTOMER', createTime: '2026-12-07T07:00:00Z', sla: {} }),
  ];
  assert.deepEqual(cases.sort((a, b) => byUrgency(a, b, NOW)).map((c) => c.caseId),
    ['overdue-2h', 'overdue-1h', 'soon', 'late', 'old-breach', 'paused', 'hand', 'done']);
  assert.equal(span(59), '59 s');
  assert.equal(span(3 * 3600 + 5 * 60), '3 h 5 min');
  assert.equal(span(2 * 86400 + 4 * 3600), '2 d 4 h');
  assert.equal(span(NaN), '\u2013');
});

test('business times round once: never "60.0 s"; empty measures say n = 0', () => {
  assert.equal(businessTime(59.94), '59.9 s');
  assert.equal(businessTime(59.96), '1.0 min');
  assert.equal(businessTime(3599), '1.0 h');
  assert.equal(businessTime(90), '1.5 min');
  const none = timesText({ eligible: '3' });
  assert.equal(none.firstContact, '\u2013 (n = 0: no case contacted)');
  assert.equal(none.close, '\u2013 (n = 0: no case resolved)');
  const some = timesText({ contactedWithinSla: '1', firstContactMedianSeconds: 12.25, firstContactP90Seconds: 30,
    closeMedianSeconds: 7200 });
  assert.equal(some.firstContact, 'median 12.3 s, 90th percentile 30.0 s');
  assert.equal(some.close, 'median 2.0 h, 90th percentile 0.0 s');
});

test('recovery says plainly when n is too small for an interval', () => {
  assert.equal(recoveryText({}).headline, 'No later answers yet');
  const few = recoveryText({ recoveryNResolved: '1', recoveryNNotContacted: '3', recoveryMeanResolved: 9, recoveryMeanNotContacted: 6 });
  assert.equal(few.headline, 'Too few answers to say');
  assert.match(few.detail, /n = 1 resolved, 3 not contacted/);
  const some = recoveryText({
    recovery: 1.5, recoveryInterval: { low: -0.25, high: 3.25 }, recoveryNResolved: '12',
    recoveryNNotContacted: '8', recoveryScore: 'nps', recoveryMeanResolved: 8, recoveryMeanNotContacted: 6.5,
  });
  assert.equal(some.headline, '+1.50 NPS points');
  assert.match(some.detail, /95 % interval \u22120\.25 to \+3\.25; n = 12 resolved, 8 not contacted/);
  assert.match(some.detail, /Small groups/);
});
