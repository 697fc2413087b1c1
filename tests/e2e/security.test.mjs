// End-to-end: what the browser enforces for Civitas's pages, in a real
// Chromium.
//
// - Framing (clickjacking): an attacker's page on another origin (a second
//   local HTTP server, http://127.0.0.1:PORT, another site than
//   http://localhost) frames Civitas's pages; the browser must not render
//   them. The attacker's page also frames one of its own pages, which must
//   render: it shows the check can see a rendered frame.
// - The Content Security Policy allows no inline script or style: every
//   page must load without a single violation (a violation would be a
//   blocked script or style, i.e. a broken page). The passkey journeys in
//   the other files run under the same policy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { BASE_URL, launch, screenshot, stepper } from './lib.mjs';

/** The attacker's server: `/frame?target=URL` frames URL and `/inner`. */
async function startAttacker() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/inner') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><p id="inner">the attacker\'s own page</p>');
      return;
    }
    if (url.pathname === '/frame') {
      const target = url.searchParams.get('target') ?? '';
      const attr = target.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        '<!doctype html><title>Win a prize</title>' +
          `<iframe name="victim" src="${attr}" width="900" height="700"></iframe>` +
          '<iframe name="control" src="/inner" width="300" height="100"></iframe>',
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** The text a frame shows, or '' when it shows nothing readable. */
async function frameText(frame) {
  if (!frame) return '';
  return frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
}

test('a Civitas page framed by another site is not shown', { timeout: 120_000 }, async (t) => {
  const attacker = await startAttacker();
  t.after(() => attacker.close());
  const session = await launch();
  const { browser, page } = session;
  t.after(() => browser.close());
  const step = stepper(t, session);

  for (const path of ['/login', '/enroll', '/']) {
    await step(`frame ${path}`, async () => {
      const target = `${BASE_URL}${path}`;
      await page.goto(`${attacker.origin}/frame?target=${encodeURIComponent(target)}`, {
        waitUntil: 'load',
      });
      // The control frame renders: a rendered frame would be seen.
      const control = await frameText(page.frame({ name: 'control' }));
      assert.match(control, /attacker's own page/, 'the attacker can frame its own page');
      const victim = page.frame({ name: 'victim' });
      const shown = await frameText(victim);
      await screenshot(page, `framed ${path}`);
      assert.doesNotMatch(
        shown,
        /Civitas/,
        `${path} rendered inside ${attacker.origin} (frame at ${victim?.url()}): ${shown.slice(0, 200)}`,
      );
    });
  }
});

test('no page breaks its own Content Security Policy', { timeout: 120_000 }, async (t) => {
  const session = await launch();
  const { browser, page, context } = session;
  t.after(() => browser.close());
  const step = stepper(t, session);
  // Runs before each page's own scripts, outside the page's policy.
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });

  for (const path of ['/', '/login', '/enroll', '/account', '/admin', '/no/such/page']) {
    await step(`load ${path}`, async () => {
      await page.goto(path, { waitUntil: 'load' });
      // The deferred script has run: it wires the page up on load.
      await page.waitForTimeout(300);
      const policy = await page.evaluate(() => window.__violations);
      assert.deepEqual(policy, [], `${path} (now ${page.url()}) breaks its policy`);
    });
  }
});
