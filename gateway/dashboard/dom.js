// Small DOM helpers shared by the views. Everything from the API is set as
// text (textContent), never as HTML.

// A `tag` element with `attributes` (undefined, null and false left out)
// and `text`.
export function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

// "NPS 3, CSAT 2" for an event's or example's scores; "no score".
export function scoresText(scores) {
  const parts = [];
  if (scores.nps !== undefined) parts.push(`NPS ${scores.nps}`);
  if (scores.csat !== undefined) parts.push(`CSAT ${scores.csat}`);
  if (scores.ces !== undefined) parts.push(`CES ${scores.ces}`);
  return parts.length > 0 ? parts.join(', ') : 'no score';
}
