// The public HTTP API, as the dashboard uses it: GET with the API key in the
// Authorization header (never in a URL), JSON answers, and errors turned
// into sentences a user can act on.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// What to tell the user about a failed call.
export function explain(error) {
  if (!(error instanceof ApiError)) {
    return `Cannot reach the Polku gateway: ${error.message ?? error}`;
  }
  switch (error.status) {
    case 401:
      return 'Key not accepted: the gateway does not know this API key, or it was revoked. Enter another key.';
    case 403:
      return 'This key may not read insights: it lacks the insights:read scope.';
    case 429:
      return 'Too many requests: the key\u2019s rate limit is reached. Try again in a moment.';
    case 501:
      return `Not available on this server yet: ${error.message}`;
    case 503:
    case 504:
      return `A Polku service did not answer: ${error.message}`;
    default:
      return error.message || `The gateway answered HTTP ${error.status}.`;
  }
}

// "/v1/trend?journey=…" from a path and parameters (undefined and "" are
// left out; an array value becomes one name=value entry per element, an
// object value name.key=value entries).
export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) {
      // A repeated field: one parameter per value (states=NEW&states=…).
      for (const entry of value) query.append(name, String(entry));
    } else if (typeof value === 'object') {
      for (const [key, entry] of Object.entries(value)) query.append(`${name}.${key}`, entry);
    } else {
      query.append(name, String(value));
    }
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function failure(response) {
  let code = '';
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    code = body?.error?.code ?? '';
    message = body?.error?.message ?? message;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

// The parsed JSON answer of GET `path`; throws ApiError or a network error.
export async function get(path, params, key, signal) {
  const response = await fetch(url(path, params), {
    headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
    signal,
    cache: 'no-store',
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}
