// Helpers for the real-browser end-to-end tests: Debian's Chromium driven by
// playwright-core, with a CTAP2 virtual authenticator attached over CDP.
//
// Nothing here downloads a browser: playwright-core only drives the
// executable named by CHROMIUM_PATH (default /usr/bin/chromium).

import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import path from 'node:path';

import { chromium } from 'playwright-core';

/** Base URL of the server under test. Must use the host `localhost` (the RP id). */
export const BASE_URL = (process.env.CIVITAS_URL ?? 'http://localhost:8080').replace(/\/+$/, '');

/**
 * Base URL of the example relying party (examples/relying_party.rs), started
 * by run.sh; null when CIVITAS_RP_URL is unset (its tests are then skipped).
 */
export const RP_URL = process.env.CIVITAS_RP_URL ? process.env.CIVITAS_RP_URL.replace(/\/+$/, '') : null;

/**
 * How to run the `civitas` command line on the server's own database, set by
 * run.sh: { bin, databaseUrl, dir }; null when CIVITAS_BIN or
 * CIVITAS_E2E_DATABASE_URL is unset (tests that need it are then skipped).
 */
export const CLI =
  process.env.CIVITAS_BIN && process.env.CIVITAS_E2E_DATABASE_URL
    ? {
        bin: process.env.CIVITAS_BIN,
        databaseUrl: process.env.CIVITAS_E2E_DATABASE_URL,
        dir: process.env.CIVITAS_E2E_DIR ?? process.cwd(),
      }
    : null;

/** Screenshots and logs go here (gitignored). */
export const OUTPUT_DIR = fileURLToPath(new URL('./output/', import.meta.url));

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox', // we run as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const NAVIGATION_TIMEOUT_MS = 15_000;
export const ACTION_TIMEOUT_MS = 10_000;

/** Options of the platform authenticator that `launch()` attaches. */
export const AUTHENTICATOR_OPTIONS = {
  protocol: 'ctap2',
  transport: 'internal',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

/**
 * Starts Chromium with one page and a virtual platform authenticator.
 *
 * Returns { browser, context, page, cdp, authenticatorId, logs }. `logs`
 * collects the page's console messages, page errors and failed requests, and
 * is printed by `step()` when a step fails. Close with `browser.close()`.
 */
export async function launch({ baseURL = BASE_URL } = {}) {
  const browser = await launchBrowser();
  try {
    return { browser, ...(await openSession(browser, { baseURL })) };
  } catch (err) {
    await browser.close().catch(() => {});
    throw err;
  }
}

/** Starts Chromium with no page. Close with `browser.close()`. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
}

/**
 * One person on their own device: a new browser context (its own cookies)
 * with one page and its own virtual platform authenticator. Several can
 * share one browser.
 *
 * Returns { context, page, cdp, authenticatorId, logs } (`logs` as in
 * `launch()`). Closed with the browser, or with `context.close()`.
 */
export async function openSession(browser, { baseURL = BASE_URL } = {}) {
  if (new URL(baseURL).hostname !== 'localhost') {
    throw new Error(`CIVITAS_URL must use host "localhost" (the WebAuthn RP id), got ${baseURL}`);
  }
  const context = await browser.newContext({
    baseURL,
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
  });
  try {
    context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    const page = await context.newPage();

    const logs = [];
    page.on('console', (m) => {
      const where = m.location()?.url;
      logs.push(`console.${m.type()}: ${m.text()}${where ? ` (${where})` : ''}`);
    });
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) =>
      logs.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`),
    );
    page.on('response', (r) => {
      if (r.status() >= 400) logs.push(`http ${r.status()}: ${r.request().method()} ${r.url()}`);
    });

    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: AUTHENTICATOR_OPTIONS,
    });
    return { context, page, cdp, authenticatorId, logs };
  } catch (err) {
    await context.close().catch(() => {});
    throw err;
  }
}

/**
 * The entries of a session's `logs` worth failing a test for: page errors,
 * console errors, HTTP errors and failed requests, less the browser's own
 * /favicon.ico request (Civitas has none) and requests aborted by a
 * navigation (a page reloading itself after a fetch).
 */
export function pageProblems(logs) {
  return logs.filter(
    (l) =>
      /^(pageerror|console\.error|http \d+|requestfailed):/.test(l) &&
      !/\/favicon\.ico\b/.test(l) &&
      !/^requestfailed: .* net::ERR_ABORTED$/.test(l),
  );
}

/** A file-name-safe form of a test or step name. */
export function slug(name) {
  return (
    String(name)
      .toLowerCase()
      .replace(/\.png$/, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'screenshot'
  );
}

/** Writes a full-page PNG to tests/e2e/output/<name>.png and returns its path. */
export async function screenshot(page, name) {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, `${slug(name)}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: ACTION_TIMEOUT_MS });
  return file;
}

/**
 * Runs `fn`; if it throws, saves a screenshot named after the test (and the
 * step), plus the page's logs, then rethrows with their paths appended.
 *
 *   const step = stepper(t, session);
 *   await step('enroll', async () => { ... });
 */
export function stepper(t, { page, logs = [] }) {
  const testName = typeof t === 'string' ? t : t.name;
  return async function step(label, fn) {
    try {
      return await fn();
    } catch (err) {
      await recordFailure(page, `${testName}--${label}--failed`, logs, err);
      throw err;
    }
  };
}

/** Same as a single step of `stepper`: screenshot named `name` on failure, then rethrow. */
export async function screenshotOnFailure(page, name, fn, logs = []) {
  try {
    return await fn();
  } catch (err) {
    await recordFailure(page, `${name}--failed`, logs, err);
    throw err;
  }
}

async function recordFailure(page, name, logs, err) {
  const notes = [];
  try {
    notes.push(`screenshot: ${await screenshot(page, name)}`);
  } catch (shotErr) {
    notes.push(`(no screenshot: ${shotErr.message.split('\n')[0]})`);
  }
  try {
    notes.push(`url: ${page.url()}`);
    const message = await page
      .locator('#message')
      .first()
      .textContent({ timeout: 1_000 })
      .catch(() => null);
    if (message && message.trim()) notes.push(`#message: ${message.trim()}`);
  } catch {
    // the page may be gone
  }
  if (logs.length) {
    const file = path.join(OUTPUT_DIR, `${slug(name)}.log`);
    await writeFile(file, logs.join('\n') + '\n').catch(() => {});
    notes.push(`page log: ${file}`);
    notes.push(...logs.slice(-15).map((l) => `  ${l}`));
  }
  if (err && typeof err === 'object' && typeof err.message === 'string') {
    try {
      err.message += `\n${notes.join('\n')}`;
    } catch {
      // read-only message: fall through to stderr
    }
  }
  console.error(notes.join('\n'));
}

/**
 * Attaches another virtual authenticator and returns its id. Chromium allows
 * only one `internal` (platform) authenticator, so the default is a roaming
 * security key (`usb`) with resident keys and user verification.
 */
export async function addAuthenticator(cdp, overrides = {}) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { ...AUTHENTICATOR_OPTIONS, transport: 'usb', ...overrides },
  });
  return authenticatorId;
}

/** Turns a virtual authenticator's automatic user-presence answers on or off. */
export async function setPresence(cdp, authenticatorId, enabled) {
  await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
}

/** Credentials held by the virtual authenticator (WebAuthn.getCredentials). */
export async function credentials(cdp, authenticatorId) {
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  return credentials;
}

/** Deletes one credential (id as returned by `credentials`) from the virtual authenticator. */
export async function removeCredential(cdp, authenticatorId, credentialId) {
  await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId });
}

/** Standard base64 (as CDP reports credential ids) to base64url without padding. */
export function base64ToBase64url(b64) {
  return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Waits until the page is on `pathname` (query string ignored). */
export async function waitForPath(page, pathname, timeout = NAVIGATION_TIMEOUT_MS) {
  await page.waitForURL((url) => url.pathname === pathname, { timeout });
}

/**
 * Calls `fn` every 100 ms until it returns a truthy value, which is returned.
 * Throws `message` (plus the last value or error seen) after `timeout` ms.
 */
export async function poll(fn, { timeout = ACTION_TIMEOUT_MS, message = 'condition not met' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? last.message.split('\n')[0] : JSON.stringify(last);
      throw new Error(`${message} within ${timeout} ms (last: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the trimmed text of `locator` matches `re`; returns that text. */
export async function waitForText(locator, re, { timeout = ACTION_TIMEOUT_MS } = {}) {
  let text;
  await poll(
    async () => {
      text = ((await locator.textContent({ timeout: 1_000 })) ?? '').trim();
      return re.test(text);
    },
    { timeout, message: `${locator} text never matched ${re}` },
  ).catch((err) => {
    err.message += ` [text was ${JSON.stringify(text)}]`;
    throw err;
  });
  return text;
}

/** `n` random lowercase letters, to keep names of people unique between runs. */
export function randomLetters(n) {
  return Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
}

/**
 * Runs `civitas [--config <dir>/civitas.toml] ...args` in CLI.dir (as run.sh
 * starts the server: no configuration file applies) and returns its stdout.
 * Throws with its stderr when it fails.
 */
export async function civitas(args, { timeout = 30_000 } = {}) {
  if (!CLI) throw new Error('CIVITAS_BIN and CIVITAS_E2E_DATABASE_URL are not set (tests/e2e/run.sh sets them)');
  try {
    const { stdout } = await promisify(execFile)(
      CLI.bin,
      ['--config', path.join(CLI.dir, 'civitas.toml'), ...args],
      { cwd: CLI.dir, timeout, env: { ...process.env, NO_COLOR: '1' } },
    );
    return stdout;
  } catch (err) {
    err.message += `\n$ civitas ${args.join(' ')}\n${err.stderr ?? ''}`;
    throw err;
  }
}

/**
 * A one-time staff invitation link from `civitas admin invite` (registrars:
 * for `regions`), for the server under test.
 */
export async function staffInvitation({ role, regions = [] }) {
  const stdout = await civitas([
    'admin',
    'invite',
    '--database-url',
    CLI?.databaseUrl,
    '--issuer',
    BASE_URL,
    '--role',
    role,
    ...regions.flatMap((r) => ['--region', r]),
  ]);
  const link = stdout.trim();
  const url = new URL(link);
  if (url.origin !== new URL(BASE_URL).origin || url.pathname !== '/staff/invitation' || url.hash.length < 2) {
    throw new Error(`civitas admin invite printed ${JSON.stringify(stdout)}, not ${BASE_URL}/staff/invitation#TOKEN`);
  }
  return link;
}
