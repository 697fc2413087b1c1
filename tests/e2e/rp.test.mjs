// End-to-end: "Sign in with Civitas" from the example relying party
// (examples/relying_party.rs), in a real Chromium with a virtual authenticator.
//
// run.sh registers the example app ("Example app", scopes asked: openid
// profile age) with `civitas client create`, starts it and passes its URL as
// CIVITAS_RP_URL. Against servers you started yourself:
//   CIVITAS_URL=http://localhost:PORT CIVITAS_RP_URL=http://localhost:RP_PORT node --test tests/e2e/
// Without CIVITAS_RP_URL this test is skipped.
//
// Both apps are on the host `localhost` (different ports). Cookies are per
// host, not per port, so the app's `rp_state` and Civitas's
// `civitas_session` share one jar: "signing out of Civitas" below clears
// `civitas_session` only.
//
// As in passkeys.test.mjs, the virtual authenticator's presence simulation
// is off whenever Civitas's /login loads (its passkey autofill would
// otherwise sign in by itself) and on again just before a click that should
// use the passkey.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  BASE_URL,
  NAVIGATION_TIMEOUT_MS,
  RP_URL,
  credentials,
  launch,
  screenshot,
  setPresence,
  stepper,
} from './lib.mjs';

const CIVITAS = new URL(BASE_URL).origin;
const RP = RP_URL && new URL(RP_URL).origin;

const ACR_LEVEL_1 = 'urn:civitas:loa:1';
const CONSENT_ITEMS = [
  /signed in with Civitas/i, // openid
  /name and date of birth/i, // profile
  /over 18 and whether you are over 21/i, // age
];

function randomLetters(n) {
  return Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
}

/** Waits until the page has committed `origin` + `pathname` (query ignored). */
async function waitForPage(page, origin, pathname, timeout = NAVIGATION_TIMEOUT_MS) {
  await page.waitForURL((url) => url.origin === origin && url.pathname === pathname, { timeout });
}

/** A claims table of the app's callback page as { claim: text }. */
function readTable(page, id) {
  return page.locator(`table#${id}`).evaluate((table) =>
    Object.fromEntries(
      [...table.querySelectorAll('tr')]
        .filter((tr) => tr.querySelector('th[scope="row"]') && tr.querySelector('td'))
        .map((tr) => [tr.querySelector('th').textContent.trim(), tr.querySelector('td').textContent.trim()]),
    ),
  );
}

/**
 * On the app's /callback: the #claims section, or the app's error page
 * (#error) turned into an exception. Returns { idToken, userinfo }.
 */
async function readClaims(page) {
  await waitForPage(page, RP, '/callback');
  await page.locator('#claims, #error').first().waitFor();
  const error = page.locator('#error');
  if (await error.count()) {
    const title = (await page.locator('h1').first().textContent())?.trim();
    throw new Error(`the app's callback failed: ${title}\n${(await error.textContent()).trim()}`);
  }
  return {
    idToken: await readTable(page, 'id-token-claims'),
    userinfo: await readTable(page, 'userinfo-claims'),
  };
}

test('sign in with Civitas from the example app: consent, remembered consent, sign-in on the way', {
  timeout: 180_000,
  skip: !RP_URL && 'CIVITAS_RP_URL is not set (tests/e2e/run.sh starts the example app)',
}, async (t) => {
  const session = await launch();
  const { browser, context, page, cdp, authenticatorId } = session;
  t.after(() => browser.close());
  const step = stepper(t, session);
  const presence = (enabled) => setPresence(cdp, authenticatorId, enabled);

  // Every URL the main frame commits (redirects in between are not commits):
  // a consent or sign-in page on the way would show up here.
  let committed = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) committed.push(frame.url());
  });
  const civitasPagesSeen = () => committed.filter((u) => new URL(u).origin === CIVITAS);

  // All cookies of the jar (not context.cookies(url), which filters by path:
  // rp_state has Path=/callback).
  const cookieNames = async () => (await context.cookies()).map((c) => c.name).sort();

  const person = { given: 'Ada', family: `Byron${randomLetters(4)}`, birth: '2000-01-31' };
  let first; // the claims after the first sign-in

  /** On Civitas's /login, reached from the app: it returns to /authorize for the app. */
  async function checkLoginReturnsToAuthorize() {
    await waitForPage(page, CIVITAS, '/login');
    const returnTo = new URL(page.url()).searchParams.get('return_to') ?? '';
    assert.match(returnTo, /^\/authorize\?/, `return_to goes back to /authorize, got ${JSON.stringify(returnTo)}`);
    const request = new URL(returnTo, CIVITAS).searchParams;
    assert.equal(request.get('redirect_uri'), `${RP}/callback`);
    assert.equal(request.get('response_type'), 'code');
    assert.equal(request.get('code_challenge_method'), 'S256');
    assert.deepEqual(new Set((request.get('scope') ?? '').split(' ')), new Set(['openid', 'profile', 'age']));
    assert.equal(
      await page.locator('body').getAttribute('data-return-to'),
      returnTo,
      'the page returns to the same request',
    );
  }

  await step('the app sends a stranger to sign in at Civitas', async () => {
    await presence(false); // /login's passkey autofill must not answer by itself
    await page.goto(`${RP}/`);
    const signIn = page.locator('#sign-in');
    assert.match((await signIn.textContent()).trim(), /Sign in with Civitas/i);
    await signIn.click();
    await checkLoginReturnsToAuthorize();
    assert.ok(
      (await cookieNames()).includes('rp_state'),
      'the app set its rp_state cookie on localhost',
    );
    assert.ok(!(await cookieNames()).includes('civitas_session'), 'not signed in to Civitas yet');
    await screenshot(page, 'rp-login-at-civitas');
  });

  await step('enrol at Civitas (which signs in and goes back to the app request)', async () => {
    await page.click('#enroll-link');
    await waitForPage(page, CIVITAS, '/enroll');
    await page.locator('#enroll-form').waitFor();
    await page.fill('#given_name', person.given);
    await page.fill('#family_name', person.family);
    await page.fill('#birth_date', person.birth);
    await page.selectOption('#region', 'CAP-C');
    await presence(true);
    await page.click('#create-passkey');
    // Enrollment keeps return_to: straight back to the app's request.
    await waitForPage(page, CIVITAS, '/authorize');
    assert.equal((await credentials(cdp, authenticatorId)).length, 1, 'one passkey in the browser');
    assert.ok((await cookieNames()).includes('civitas_session'), 'signed in to Civitas');
  });

  await step('the app asks for consent', async () => {
    await waitForPage(page, CIVITAS, '/authorize');
    assert.equal((await page.locator('#client-name').textContent()).trim(), 'Example app');
    const items = (await page.locator('#consent-items li').allTextContents()).map((s) => s.trim());
    assert.equal(items.length, CONSENT_ITEMS.length, `one item per scope, got ${JSON.stringify(items)}`);
    for (const re of CONSENT_ITEMS) {
      assert.ok(items.some((i) => re.test(i)), `an item matches ${re}; items: ${JSON.stringify(items)}`);
    }
    const allow = page.locator('button[name="decision"][value="allow"]');
    const deny = page.locator('button[name="decision"][value="deny"]');
    assert.match((await allow.textContent()).trim(), /^Allow$/);
    assert.match((await deny.textContent()).trim(), /^Deny$/);
    await screenshot(page, 'rp-consent');
  });

  await step('allow: the app shows the verified claims', async () => {
    await page.click('button[name="decision"][value="allow"]');
    first = await readClaims(page);
    const { idToken, userinfo } = first;
    assert.ok(idToken.sub, 'the ID token has a sub');
    assert.equal(idToken.iss, BASE_URL, 'iss is the Civitas issuer');
    assert.ok(idToken.aud, 'the ID token has an aud');
    assert.equal(idToken.acr, ACR_LEVEL_1, 'self-asserted enrolment: acr level 1');
    assert.equal(userinfo.sub, idToken.sub, 'UserInfo is about the same subject');
    assert.equal(userinfo.given_name, person.given);
    assert.equal(userinfo.family_name, person.family);
    assert.equal(userinfo.name, `${person.given} ${person.family}`);
    assert.equal(userinfo.birthdate, person.birth);
    assert.equal(userinfo.age_over_18, 'true');
    assert.equal(userinfo.age_over_21, 'true');
    assert.ok(!('national_id' in userinfo) && !('address' in userinfo), 'nothing beyond the scopes asked for');
    assert.ok(
      !(await cookieNames()).includes('rp_state'),
      'the app removed its single-use rp_state cookie',
    );
    await screenshot(page, 'rp-claims');
  });

  await step('again: consent is remembered', async () => {
    committed = [];
    await page.goto(`${RP}/login`);
    const again = await readClaims(page);
    assert.deepEqual(civitasPagesSeen(), [], 'no Civitas page (consent or sign-in) on the way');
    assert.equal(again.idToken.sub, first.idToken.sub, 'same sub');
    assert.equal(again.idToken.auth_time, first.idToken.auth_time, 'same Civitas session');
    assert.equal(again.userinfo.given_name, person.given);
    assert.equal(again.userinfo.age_over_18, 'true');
  });

  await step('signed out of Civitas: sign in with the passkey on the way', async () => {
    await context.clearCookies({ name: 'civitas_session' });
    assert.ok(!(await cookieNames()).includes('civitas_session'), 'civitas_session is gone');

    await presence(false); // before /login loads, as above
    await page.goto(`${RP}/`);
    committed = [];
    await page.click('#sign-in');
    await checkLoginReturnsToAuthorize();
    assert.ok((await cookieNames()).includes('rp_state'), 'the app still sets rp_state on localhost');

    const button = page.locator('#passkey-sign-in');
    assert.match((await button.textContent()).trim(), /Sign in with a passkey/i);
    const before = (await credentials(cdp, authenticatorId))[0].signCount;
    await presence(true);
    await button.click();
    const after = await readClaims(page);
    assert.ok((await credentials(cdp, authenticatorId))[0].signCount > before, 'the passkey signed');

    const seen = civitasPagesSeen().map((u) => new URL(u).pathname);
    assert.deepEqual(seen, ['/login'], `only Civitas's sign-in page on the way, no consent; saw ${JSON.stringify(seen)}`);
    assert.equal(after.idToken.sub, first.idToken.sub, 'same sub');
    assert.equal(after.idToken.acr, ACR_LEVEL_1);
    assert.ok(
      Number.parseInt(after.idToken.auth_time, 10) >= Number.parseInt(first.idToken.auth_time, 10),
      `auth_time of the new sign-in (${after.idToken.auth_time}) is not before the first (${first.idToken.auth_time})`,
    );
    assert.equal(after.userinfo.given_name, person.given);
    assert.equal(after.userinfo.age_over_18, 'true');
    assert.ok((await cookieNames()).includes('civitas_session'), 'signed in to Civitas again');
    await screenshot(page, 'rp-claims-after-sign-in');
  });
});
