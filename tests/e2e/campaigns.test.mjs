// End-to-end: the enrollment dashboard and campaign pages on the demo
// country, in a real Chromium with a virtual authenticator.
//
// The shared server of run.sh gets citizens from the other tests, and the
// demo country loads only into an empty database, so this test starts its
// own Civitas: `civitas serve --demo` on a fresh SQLite database in a
// temporary directory, on a free port. It reads the first administrator's
// one-time invitation link from that server's console, then one person:
//
//   enrolls with a passkey and accepts the invitation (becomes admin);
//   reads the dashboard (/admin): the two demo campaigns, their status;
//   opens the national campaign: chart, figures, regions furthest behind
//     first; drills into the Northern Province and back up; sorts by name;
//   opens the "not yet enrolled" list, with a next page;
//   creates a campaign on /admin/campaigns and lands on its page.
//
// Needs CIVITAS_BIN (set by tests/e2e/run.sh); without it it is skipped.
// Screenshots go to tests/e2e/output/ (campaign-dashboard, campaign-page,
// ...); with CIVITAS_E2E_UPDATE_DOCS=1 the dashboard's and the national
// campaign page's also replace docs/dashboard.png and docs/campaign.png. The demo server's console is in
// tests/e2e/output/demo-server.log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  OUTPUT_DIR,
  credentials,
  launchBrowser,
  openSession,
  pageProblems,
  poll,
  randomLetters,
  screenshot,
  stepper,
  waitForPath,
} from './lib.mjs';

const BIN = process.env.CIVITAS_BIN;
const UPDATE_DOCS = process.env.CIVITAS_E2E_UPDATE_DOCS === '1';
const DOCS_DASHBOARD = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
const DOCS_CAMPAIGN = fileURLToPath(new URL('../../docs/campaign.png', import.meta.url));

const NATIONAL = 'National enrollment 2026';
const VOTERS = "Voters' roll: adults of the North and East";
const TOP_REGIONS = ['CAP', 'EST', 'NTH', 'STH', 'WST'];
const STATUS_LABEL = /^(on track|at risk|behind|met|missed|not started|starting|no target)$/i;

/** Demo loading and start-up of a debug build, on a busy machine. */
const READY_TIMEOUT_MS = 120_000;

const digits = (s) => String(s ?? '').replace(/\D/g, '');

/** A TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `civitas serve --demo` as run.sh starts its server (a temporary
 * working directory, a configuration path that does not exist), waits for
 * /readyz and for the invitation link on its console. Returns
 * { url, invitation, stop }; `stop()` TERMs it (KILL after 5 s) and removes
 * the directory.
 */
async function startDemoServer() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'civitas-e2e-demo-'));
  const port = await freePort();
  const url = `http://localhost:${port}`;
  await mkdir(OUTPUT_DIR, { recursive: true });
  const log = createWriteStream(path.join(OUTPUT_DIR, 'demo-server.log'));
  let console_ = '';
  const child = spawn(
    BIN,
    [
      '--config',
      path.join(dir, 'civitas.toml'),
      'serve',
      '--demo',
      '--database-url',
      `sqlite://${dir}/civitas.db`,
      '--listen',
      `127.0.0.1:${port}`,
      '--issuer',
      url,
    ],
    { cwd: dir, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let exited = null;
  let spawnFailure = null;
  child.on('error', (err) => (spawnFailure = err));
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => {
      console_ += chunk;
      log.write(chunk);
    });
  }

  const stop = async () => {
    if (!exited && !spawnFailure) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exit.then(() => false), sleep(5_000).then(() => true)]);
      if (killed && !exited) {
        child.kill('SIGKILL');
        await Promise.race([exit, sleep(5_000)]);
      }
    }
    await new Promise((resolve) => log.end(resolve));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const tail = () => console_.split('\n').slice(-30).join('\n');
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let ready = false;
    while (!ready) {
      if (spawnFailure) throw new Error(`cannot run ${BIN}: ${spawnFailure.message}`);
      if (exited) throw new Error(`civitas serve --demo exited (${JSON.stringify(exited)}) before it was ready:\n${tail()}`);
      if (Date.now() > deadline) {
        throw new Error(`civitas serve --demo did not answer 200 on /readyz within ${READY_TIMEOUT_MS} ms:\n${tail()}`);
      }
      const r = await fetch(`http://127.0.0.1:${port}/readyz`, {
        redirect: 'manual',
        signal: AbortSignal.timeout(2_000),
      }).catch(() => null);
      ready = r?.status === 200;
      if (!ready) await sleep(200);
    }
    // Printed before the server listens, so it is there by now; the pipe
    // may deliver it a moment later.
    const invitation = await poll(
      () => console_.match(/(https?:\/\/\S+\/staff\/invitation#\S+)/)?.[1],
      { timeout: 5_000, message: 'the demo server printed the first administrator invitation' },
    );
    const link = new URL(invitation);
    assert.equal(link.origin, url, `the invitation is for ${url}: ${invitation}`);
    assert.match(console_, /Demo country loaded: \d+ register rows/, 'the demo country was loaded');
    return { url, invitation, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** ISO date (UTC) `days` from today, as the server's dates are. */
function isoDateIn(days) {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/** The region table of the page: [{ code, cells: [text...] }] in page order. */
async function regionRows(page) {
  return page.locator('#regions tbody tr[data-region]').evaluateAll((trs) =>
    trs.map((tr) => ({
      code: tr.getAttribute('data-region'),
      cells: [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()),
    })),
  );
}

/** Index of the region table's column whose header reads `label`. */
async function columnIndex(page, label) {
  const headers = (await page.locator('#regions thead th').allTextContents()).map((s) => s.trim());
  const i = headers.indexOf(label);
  assert.ok(i >= 0, `#regions has a "${label}" column: ${JSON.stringify(headers)}`);
  return i;
}

/** The region name of a first-column cell ("Northern Province NTH"). */
function regionName(cell, code) {
  return cell.endsWith(code) ? cell.slice(0, -code.length).trim() : cell;
}

test('campaigns: the dashboard, a campaign page and a new campaign on the demo country', {
  timeout: 300_000,
  skip: !BIN && 'CIVITAS_BIN is not set (tests/e2e/run.sh sets it)',
}, async (t) => {
  const server = await startDemoServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const session = await openSession(browser, { baseURL: server.url });
  const { page, cdp, authenticatorId, logs } = session;
  const step = stepper('campaigns', session);

  let nationalId; // the national campaign's id
  let defaultOrder; // region codes as the campaign page first lists them

  await step('enroll and accept the first administrator invitation', async () => {
    await page.goto('/enroll');
    await page.locator('#enroll-form').waitFor();
    await page.fill('#given_name', 'Ada');
    await page.fill('#family_name', `Admin${randomLetters(6)}`);
    await page.fill('#birth_date', '1984-03-09');
    await page.selectOption('#region', 'CAP-C');
    await page.click('#create-passkey');
    await waitForPath(page, '/account');
    assert.equal((await credentials(cdp, authenticatorId)).length, 1, 'one passkey after enrolment');

    await page.goto(server.invitation);
    const accept = page.locator('#accept-invitation');
    await accept.waitFor({ state: 'visible' });
    assert.ok(await accept.isEnabled(), '#accept-invitation is enabled (the page read the token)');
    await accept.click();
    await page.locator('#accepted').waitFor({ state: 'visible' });
    const home = page.locator('#staff-home');
    assert.equal(await home.getAttribute('href'), '/admin', 'an admin continues to /admin');
    await home.click();
    await waitForPath(page, '/admin');
  });

  await step('the dashboard lists the two demo campaigns with their status', async () => {
    await page.locator('#campaigns').waitFor();
    const rows = page.locator('#campaigns tbody tr[data-campaign]');
    assert.equal(await rows.count(), 2, 'two campaigns on the dashboard');
    const names = (await rows.locator('td:first-child a').allTextContents()).map((s) => s.trim());
    assert.deepEqual([...names].sort(), [NATIONAL, VOTERS].sort(), 'the demo campaigns');
    for (let i = 0; i < 2; i++) {
      const row = rows.nth(i);
      const id = await row.getAttribute('data-campaign');
      assert.equal(await row.locator('td:first-child a').getAttribute('href'), `/admin/campaigns/${id}`);
      const status = (await row.locator('.status').textContent()).trim();
      assert.match(status, STATUS_LABEL, `${names[i]} has a status badge`);
      const enrolled = (await row.locator('td').nth(1).textContent()).trim();
      assert.match(enrolled, /^[\d,  .]+ \/ [\d,  .]+$/, `${names[i]}: "enrolled / target"`);
      assert.ok(Number(digits(enrolled.split('/')[0])) > 0, `${names[i]} has enrollments: ${enrolled}`);
    }
    const rule = (await page.locator('#status-rule').textContent()).trim();
    assert.match(rule, /How the status is decided/);
    assert.match(rule, /On track/);
    assert.match(rule, /Behind/);
    const national = rows.filter({ has: page.getByRole('link', { name: NATIONAL, exact: true }) });
    nationalId = await national.getAttribute('data-campaign');

    const file = await screenshot(page, 'campaign-dashboard');
    if (UPDATE_DOCS) {
      await mkdir(path.dirname(DOCS_DASHBOARD), { recursive: true });
      await copyFile(file, DOCS_DASHBOARD);
      t.diagnostic(`wrote ${DOCS_DASHBOARD}`);
    }
  });

  await step('the national campaign page: chart, figures, regions furthest behind first', async () => {
    await page.getByRole('link', { name: NATIONAL, exact: true }).click();
    await waitForPath(page, `/admin/campaigns/${nationalId}`);
    assert.equal((await page.locator('h1').textContent()).trim(), NATIONAL);

    assert.ok(Number(digits(await page.locator('#total-enrolled').textContent())) > 0, 'enrolled > 0');
    assert.match((await page.locator('#total-status').textContent()).trim(), STATUS_LABEL);

    const svg = page.locator('figure.chart svg');
    assert.equal(await svg.count(), 1, 'one chart');
    const title = (await svg.locator('title').textContent()).trim();
    const desc = (await svg.locator('desc').textContent()).trim();
    assert.match(title, /\S/, 'the chart has a <title>');
    assert.ok(title.includes(NATIONAL), `the chart's title names the campaign: ${title}`);
    assert.match(desc, /\S/, 'the chart has a <desc>');
    const labelledBy = (await svg.getAttribute('aria-labelledby')) ?? '';
    for (const id of labelledBy.split(/\s+/).filter(Boolean)) {
      assert.equal(await svg.locator(`[id="${id}"]`).count(), 1, `aria-labelledby ${id} is inside the chart`);
    }
    const box = await svg.boundingBox();
    assert.ok(box && box.width > 300 && box.height > 100, `the chart is drawn large enough: ${JSON.stringify(box)}`);
    const caption = (await page.locator('figcaption#chart-text').textContent()).trim();
    assert.ok(caption.length > 20, `the figcaption describes the chart: ${JSON.stringify(caption)}`);

    const rows = await regionRows(page);
    defaultOrder = rows.map((r) => r.code);
    assert.deepEqual([...defaultOrder].sort(), TOP_REGIONS, 'the five top regions');
    const col = await columnIndex(page, 'Projected by deadline');
    assert.equal(
      await page.locator('#regions thead th').nth(col).getAttribute('aria-sort'),
      'ascending',
      'sorted by "Projected by deadline" by default',
    );
    const shares = rows.map((r) => {
      const m = r.cells[col].match(/\((\d+)%\)$/);
      assert.ok(m, `${r.code}: "Projected by deadline" reads "N (P%)": ${JSON.stringify(r.cells[col])}`);
      return Number(m[1]);
    });
    for (let i = 1; i < shares.length; i++) {
      assert.ok(
        shares[i - 1] <= shares[i],
        `furthest behind first: ${defaultOrder.map((c, j) => `${c} ${shares[j]}%`).join(', ')}`,
      );
    }
    // Every top region has sub-regions in the sample file: each is a link.
    for (const code of TOP_REGIONS) {
      const href = await page.locator(`#regions tr[data-region="${code}"] td:first-child a`).getAttribute('href');
      assert.equal(href, `/admin/campaigns/${nationalId}?region=${code}`);
    }
    const pageFile = await screenshot(page, 'campaign-page');
    if (UPDATE_DOCS) {
      await copyFile(pageFile, DOCS_CAMPAIGN);
      t.diagnostic(`wrote ${DOCS_CAMPAIGN}`);
    }
  });

  await step('the region table downloads as CSV', async () => {
    const href = await page.locator('#regions-csv').getAttribute('href');
    const res = await page.context().request.get(href);
    assert.equal(res.status(), 200, `GET ${href}`);
    assert.match(res.headers()['content-type'] ?? '', /^text\/csv/);
    const lines = (await res.text()).trim().split(/\r?\n/);
    assert.equal(lines.length, 1 + TOP_REGIONS.length, `a header and one line a region: ${JSON.stringify(lines)}`);
    for (const code of TOP_REGIONS) {
      assert.ok(lines.slice(1).some((l) => l.split(',').includes(code)), `the CSV has ${code}`);
    }
  });

  await step('drill into the Northern Province and back up', async () => {
    await page.locator('#regions tr[data-region="NTH"] td:first-child a').click();
    await page.waitForURL((u) => u.searchParams.get('region') === 'NTH');
    assert.match((await page.locator('h1').textContent()).trim(), /Northern Province/);
    const codes = (await regionRows(page)).map((r) => r.code);
    assert.deepEqual([...codes].sort(), ['NTH-HL', 'NTH-LK', 'NTH-RV'], 'the sub-regions of NTH');
    assert.equal(
      await page.locator('#regions td:first-child a').count(),
      0,
      'the sub-regions have none of their own: no drill-down links',
    );
    assert.match(await page.locator('#pending-link').getAttribute('href'), /[?&]region=NTH\b/);
    await screenshot(page, 'campaign-page-nth');

    await page.click('#up');
    await page.waitForURL((u) => u.pathname === `/admin/campaigns/${nationalId}` && !u.searchParams.has('region'));
    assert.deepEqual((await regionRows(page)).map((r) => r.code), defaultOrder, 'back to the top regions');
  });

  await step('sort the regions by name', async () => {
    await page.locator('#regions thead th a', { hasText: /^Region$/ }).click();
    await page.waitForURL((u) => u.searchParams.get('sort') === 'name');
    const col = await columnIndex(page, 'Region');
    assert.equal(await page.locator('#regions thead th').nth(col).getAttribute('aria-sort'), 'ascending');
    const behind = await columnIndex(page, 'Projected by deadline');
    assert.equal(await page.locator('#regions thead th').nth(behind).getAttribute('aria-sort'), 'none');
    const rows = await regionRows(page);
    const names = rows.map((r) => regionName(r.cells[col], r.code));
    const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(names, sorted, 'alphabetical by name');
    assert.deepEqual([...rows.map((r) => r.code)].sort(), TOP_REGIONS, 'still the five top regions');
    if (defaultOrder.join() !== [...defaultOrder].sort().join()) {
      assert.notDeepEqual(rows.map((r) => r.code), defaultOrder, 'the order changed');
    }

    // The same header again sorts the other way.
    await page.locator('#regions thead th a', { hasText: /^Region$/ }).click();
    await page.waitForURL((u) => u.searchParams.get('sort') === 'name' && u.searchParams.get('dir') === 'desc');
    assert.equal(await page.locator('#regions thead th').nth(col).getAttribute('aria-sort'), 'descending');
    const reversed = (await regionRows(page)).map((r) => regionName(r.cells[col], r.code));
    assert.deepEqual(reversed, [...sorted].reverse(), 'reverse alphabetical');
  });

  await step('the people not yet enrolled, page by page', async () => {
    await page.click('#pending-link');
    await waitForPath(page, `/admin/campaigns/${nationalId}/pending`);
    const rows = page.locator('#pending tbody tr');
    const first = await rows.allTextContents();
    assert.ok(first.length > 0, 'people not yet enrolled are listed');
    const next = page.locator('#next-page');
    assert.ok(await next.isVisible(), 'there is a next page');
    const csv = await page.locator('#pending-csv').getAttribute('href');
    assert.match(csv, /\/pending\.csv/);
    await screenshot(page, 'campaign-pending');

    await next.click();
    await page.waitForURL((u) => u.pathname.endsWith('/pending') && u.searchParams.has('after_ref'));
    const second = await rows.allTextContents();
    assert.ok(second.length > 0, 'the next page has people too');
    assert.ok(!second.some((r) => first.includes(r)), 'the next page has other people');
  });

  const name = `E2E capital adults ${randomLetters(5)}`;
  await step('create a campaign on /admin/campaigns', async () => {
    await page.goto('/admin/campaigns');
    await page.locator('#campaign-form').waitFor();
    await page.fill('#campaign-name', name);
    await page.check('#campaign-form input[name=regions][value="CAP"]');
    await page.fill('#campaign-min-age', '18');
    assert.match(await page.inputValue('#campaign-starts'), /^\d{4}-\d{2}-\d{2}$/, 'a start date is filled in');
    await page.fill('#campaign-deadline', isoDateIn(90));
    await page.click('#save-campaign');
    await page.waitForURL((u) => /^\/admin\/campaigns\/[^/]+$/.test(u.pathname) && u.pathname !== '/admin/campaigns/');
    assert.equal((await page.locator('h1').textContent()).trim(), name);
    const enrolled = Number(digits(await page.locator('#total-enrolled').textContent()));
    assert.ok(enrolled > 0, `the new campaign counts the enrollments already made: ${enrolled}`);
    // The Capital District, or (a campaign of one region may open on them)
    // its sub-regions.
    const codes = (await regionRows(page)).map((r) => r.code);
    assert.ok(codes.length > 0 && codes.every((c) => /^CAP(-|$)/.test(c)), `regions of CAP only: ${codes}`);
    await screenshot(page, 'campaign-new');

    await page.goto('/admin');
    const names = (await page.locator('#campaigns tbody tr[data-campaign] td:first-child a').allTextContents()).map(
      (s) => s.trim(),
    );
    assert.ok(names.includes(name), `the dashboard lists the new campaign: ${JSON.stringify(names)}`);
  });

  await step('no errors in the pages', async () => {
    assert.deepEqual(pageProblems(logs), [], 'the pages logged errors or failed requests');
  });
});
