// How numbers of each metric are shown. Pure functions: no DOM, so that
// tests/browser/model_test.mjs can check them under Node.

// Metric enum name (proto3 JSON) → how it is labelled and shown.
//   kind "share": 0–1 shown as a whole percentage
//   kind "nps":   −100–100 shown signed, whole
//   kind "mean":  shown with two decimals
//   kind "count": a whole number
export const METRICS = {
  CSAT_TOP2_BOX: { label: 'CSAT top-2-box', short: 'CSAT', kind: 'share', min: 0, max: 1 },
  CSAT_MEAN: { label: 'CSAT mean (1–5)', short: 'CSAT mean', kind: 'mean', min: 1, max: 5 },
  NPS: { label: 'NPS', short: 'NPS', kind: 'nps', min: -100, max: 100 },
  NPS_PROMOTER_SHARE: { label: 'NPS promoters', short: 'Promoters', kind: 'share', min: 0, max: 1 },
  NPS_DETRACTOR_SHARE: { label: 'NPS detractors', short: 'Detractors', kind: 'share', min: 0, max: 1, lowerIsBetter: true },
  CES_MEAN: { label: 'CES mean (1–7)', short: 'CES', kind: 'mean', min: 1, max: 7 },
  CES_SHARE_5_TO_7: { label: 'CES share 5–7', short: 'CES 5–7', kind: 'share', min: 0, max: 1 },
  MEASURE_MEAN: { label: 'Measure mean', short: 'Mean', kind: 'mean', min: null, max: null },
  EVENT_COUNT: { label: 'Events', short: 'Events', kind: 'count', min: 0, max: null },
};

// The metrics a touchpoint's trend chart offers.
export const CHART_METRICS = [
  'CSAT_TOP2_BOX', 'CSAT_MEAN', 'NPS', 'CES_MEAN', 'CES_SHARE_5_TO_7', 'EVENT_COUNT',
];

export function metricInfo(metric) {
  return METRICS[metric] ?? { label: String(metric), short: String(metric), kind: 'mean', min: null, max: null };
}

const MINUS = '\u2212';

function signed(number) {
  const rounded = Math.round(number);
  if (rounded > 0) return `+${rounded}`;
  if (rounded < 0) return `${MINUS}${-rounded}`;
  return '0';
}

// A value of `metric` as text without a unit suffix for shares' intervals.
function bare(metric, value) {
  switch (metricInfo(metric).kind) {
    case 'share': return String(Math.round(value * 100));
    case 'nps': return signed(value);
    case 'count': return String(Math.round(value));
    default: return value.toFixed(2);
  }
}

// "78 %", "+12", "4.25", "130"; "–" for no value.
export function formatValue(metric, value) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  const text = bare(metric, value);
  return metricInfo(metric).kind === 'share' ? `${text} %` : text;
}

// "70–85 %", "−3…+25" (NPS uses an ellipsis: its bounds carry signs);
// "" without an interval.
export function formatInterval(metric, interval) {
  if (!interval || interval.low === undefined || interval.high === undefined) return '';
  const kind = metricInfo(metric).kind;
  const low = bare(metric, interval.low);
  const high = bare(metric, interval.high);
  if (kind === 'nps') return `${low}\u2026${high}`;
  return kind === 'share' ? `${low}\u2013${high} %` : `${low}\u2013${high}`;
}

// proto3 JSON writes int64 as a string.
export function int(value) {
  if (value === undefined || value === null || value === '') return 0;
  return Number(value);
}

// Target status enum name → CSS class, legend text and a symbol, so that
// colour is never the only signal.
export const STATUSES = {
  MEETS_TARGET: { css: 'meets', label: 'meets target', symbol: '\u2713' },
  NEAR_TARGET: { css: 'near', label: 'near target', symbol: '\u2248' },
  BELOW_TARGET: { css: 'below', label: 'below target', symbol: '\u2717' },
  NO_TARGET: { css: 'no-target', label: 'no target', symbol: '\u25cb' },
  INSUFFICIENT_DATA: { css: 'no-data', label: 'no data', symbol: '\u2205' },
};

export function statusInfo(status) {
  return STATUSES[status] ?? STATUSES.INSUFFICIENT_DATA;
}

export const TRENDS = {
  TREND_UP: { symbol: '\u2191', label: 'trending up' },
  TREND_DOWN: { symbol: '\u2193', label: 'trending down' },
  TREND_FLAT: { symbol: '\u2192', label: 'flat' },
  TREND_UNKNOWN: { symbol: '\u00b7', label: 'trend unknown (too few answers)' },
};

export function trendInfo(trend) {
  return TRENDS[trend] ?? TRENDS.TREND_UNKNOWN;
}

// "2026-11-22" from an RFC 3339 time.
export function day(time) {
  return String(time ?? '').slice(0, 10);
}

// One line describing an alert, e.g.
// "CSAT top-2-box 82 % → 61 % (worse), p = 0.0004, since 2026-11-20".
export function describeAlert(alert) {
  const metric = alert.metric === 'MEASURE_MEAN' && alert.measure
    ? `${alert.measure} mean` : metricInfo(alert.metric).label;
  const direction = alert.worse ? 'worse' : 'better';
  const p = Number(alert.adjustedPValue ?? alert.pValue ?? 0);
  const pText = p < 0.0001 ? 'p < 0.0001' : `p = ${p.toPrecision(2)}`;
  const state = alert.state === 'CLEARED' ? `, cleared ${day(alert.clearedAt)}` : '';
  return `${metric} ${formatValue(alert.metric, alert.before)} \u2192 ` +
    `${formatValue(alert.metric, alert.after)} (${direction}), ${pText}, ` +
    `since ${day(alert.firstSeen)}${state}`;
}
