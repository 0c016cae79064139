// What the dashboard's check scripts (*_check.mjs) share: their common
// arguments, how they report, how they ask the gateway, and Debian's
// headless Chromium driven through playwright-core. Each script keeps its
// own checks; a mismatch is reported and counted rather than thrown, so that
// one run lists every mismatch it finds.
//
//   const { args, problem, log, api, inChromium, openPage, finish } =
//     startCheck('funnels_check', { options: { … }, required: [ … ] });
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

// Every script is given these; the C++ tests pass --chromium from kChromium
// (browser_util.h).
const COMMON_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  journey: { type: 'string' },
  screenshot: { type: 'string' },
  chromium: { type: 'string', default: '/usr/bin/chromium' },
  timeout_ms: { type: 'string', default: '30000' },
};
const COMMON_REQUIRED = ['url', 'key', 'journey', 'screenshot'];

// Parses the command line (COMMON_OPTIONS and the script's `options`) and
// exits 2 when a required argument is missing. `name` prefixes the
// script's messages.
export function startCheck(name, { options = {}, required = [] } = {}) {
  const { values: args } = parseArgs({ options: { ...COMMON_OPTIONS, ...options } });
  for (const option of [...COMMON_REQUIRED, ...required]) {
    if (!args[option]) {
      console.error(`${name}: --${option} is required`);
      process.exit(2);
    }
  }
  const base = args.url.replace(/\/$/, '');
  // Each wait's bound, for the browser's start and for every page.
  const timeout = Number(args.timeout_ms);
  const problems = [];
  const problem = (text) => { problems.push(text); console.error(`MISMATCH: ${text}`); };
  const log = (text) => console.log(`${name}: ${text}`);

  // The gateway's JSON answer to `pathAndQuery`, asked with `key`; any
  // answer but 2xx throws, naming the call.
  async function api(pathAndQuery, key = args.key, init = {}) {
    const headers = { Authorization: `Bearer ${key}` };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(base + pathAndQuery, { ...init, headers });
    const body = await response.text();
    if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${pathAndQuery}: HTTP ${response.status} ${body}`);
    return JSON.parse(body);
  }

  // Runs `body` with a headless Chromium, closed afterwards. An exception
  // is one more problem, after which `onFailure` may report what the
  // browser showed instead.
  async function inChromium(body, { onFailure } = {}) {
    const browser = await chromium.launch({
      executablePath: args.chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
      timeout,
    });
    try {
      await body(browser);
    } catch (error) {
      problem(`failed: ${error?.stack ?? error}`);
      if (onFailure) await onFailure(browser);
    } finally {
      await browser.close();
    }
  }

  // A page in a context of its own with `viewport`. Its script errors are
  // problems, and so are console errors unless `consoleErrorsExpected()`
  // (a refused call the check provokes is logged by Chromium).
  async function openPage(browser, viewport, { consoleErrorsExpected = () => false } = {}) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.setDefaultTimeout(timeout);
    page.on('pageerror', (error) => problem(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !consoleErrorsExpected()) problem(`console error: ${message.text()}`);
    });
    return page;
  }

  // Exits 1 when anything was a problem; else says `passed`.
  function finish(passed) {
    if (problems.length > 0) {
      console.error(`${name}: ${problems.length} problem(s)`);
      process.exit(1);
    }
    log(passed);
  }

  return { args, base, timeout, problems, problem, log, api, inChromium, openPage, finish };
}

// A response to wait for after an action; never an unhandled rejection
// when the action fails first.
export function responseOf(page, predicate) {
  const waiting = page.waitForResponse(predicate);
  waiting.catch(() => {});
  return waiting;
}

// The path and query a response answered, to ask the API the same.
export const asked = (response) => {
  const u = new URL(response.url());
  return u.pathname + u.search;
};
