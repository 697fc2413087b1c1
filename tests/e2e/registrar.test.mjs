// End-to-end: the staff roles at work, in a real Chromium with three people,
// each in their own browser context with their own virtual authenticator:
//
//   A gets an admin invitation from `civitas admin invite`, enrolls and
//     accepts it (the first administrator's invitation may be accepted at
//     level 1); on /admin/staff A invites a registrar for one region.
//   B's row is imported into the population register, and B gets a letter.
//   B opens the invitation before having an identity: the page keeps the
//     token out of every URL the server sees (it stays in the fragment, then
//     in the tab's session storage), B enrolls with the letter's code through
//     the page's "Enroll" link (a registrar must be verified, level 2) and
//     accepts it.
//   C enrolls in B's region (level 1, self-asserted) and asks to be verified.
//   B finds C in the registrar desk's queue, records the identity document
//     seen, and C's account then shows level 2.
//
// Run with tests/e2e/run.sh, which also tells the test how to run the
// command line on the server's database (CIVITAS_BIN,
// CIVITAS_E2E_DATABASE_URL, CIVITAS_E2E_DIR); without them it is skipped.
//
// Sensitive staff actions (inviting, verifying) need a passkey sign-in within
// 15 minutes: each person's enrolment is that sign-in. The pages' own fetch
// calls carry the Origin header the server checks on state changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import {
  CLI,
  civitas,
  credentials,
  launchBrowser,
  openSession,
  pageProblems,
  poll,
  randomLetters,
  screenshot,
  staffInvitation,
  stepper,
  waitForPath,
  waitForText,
} from './lib.mjs';

// A region of data/regions.csv (the sample regions) that the other browser
// tests do not enroll in, so the registrar's queue holds only this test's
// citizens; C enrolls in it.
const REGION = 'NTH-LK';

const digits = (s) => String(s ?? '').replace(/\D/g, '');

/** A person with their own browser context and authenticator; `step` screenshots their page. */
async function newPerson(browser, who, given) {
  const session = await openSession(browser);
  return {
    ...session,
    who,
    given,
    family: `${who[0].toUpperCase()}${who.slice(1)}${randomLetters(6)}`,
    step: stepper(`registrar--${who}`, session),
  };
}

/**
 * Fills in and submits the self-service form on the /enroll page the person
 * is on, then waits until the page has gone to `then`.
 */
async function enroll(person, { region, then = '/account' }) {
  const { page, cdp, authenticatorId } = person;
  await page.locator('#enroll-form').waitFor();
  await page.fill('#given_name', person.given);
  await page.fill('#family_name', person.family);
  await page.fill('#birth_date', '1990-05-17');
  await page.selectOption('#region', region);
  await page.click('#create-passkey');
  await waitForPath(page, then);
  assert.equal((await credentials(cdp, authenticatorId)).length, 1, `${person.who}: one passkey after enrolment`);
}

/**
 * Enrolls on the /enroll page the person is on with a register letter's
 * activation code, then waits until the page has gone to `then`.
 */
async function enrollWithLetter(person, { code, birthDate, then }) {
  const { page, cdp, authenticatorId } = person;
  await page.locator('#activation-form').waitFor();
  await page.fill('#activation_code', code);
  await page.fill('#activation_birth_date', birthDate);
  await page.click('#check-activation-code');
  await page.locator('#register-record').waitFor({ state: 'visible' });
  await page.click('#confirm-record');
  await waitForPath(page, then);
  assert.equal((await credentials(cdp, authenticatorId)).length, 1, `${person.who}: one passkey after enrolment`);
}

/**
 * Imports one register row for `person` with `civitas register import` and
 * returns the activation code from the letters it prints.
 */
async function letterFor(person, { region, birthDate }) {
  const reference = `E2E-${person.family}`;
  const file = path.join(CLI.dir, `${reference}.csv`);
  await writeFile(
    file,
    `register_ref,given_name,family_name,birth_date,region\n${reference},${person.given},${person.family},${birthDate},${region}\n`,
  );
  const letters = await civitas(['register', 'import', file, '--database-url', CLI.databaseUrl]);
  const line = letters.split('\n').find((l) => l.startsWith(`${reference},`));
  assert.ok(line, `the letters name ${reference}: ${letters}`);
  return line.split(',')[5];
}

/** On /staff/invitation, signed in: accept; returns the #staff-home link. */
async function acceptInvitation(person) {
  const { page } = person;
  const accept = page.locator('#accept-invitation');
  await accept.waitFor({ state: 'visible' });
  assert.ok(await accept.isEnabled(), '#accept-invitation is enabled (the page read the token)');
  await accept.click();
  await page.locator('#accepted').waitFor({ state: 'visible' });
  assert.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar');
  return page.locator('#staff-home');
}

test('registrar: an admin invites a registrar, who verifies a level-1 citizen', {
  timeout: 240_000,
  skip: !CLI && 'CIVITAS_BIN / CIVITAS_E2E_DATABASE_URL are not set (tests/e2e/run.sh sets them)',
}, async (t) => {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const admin = await newPerson(browser, 'admin', 'Ada');
  const registrar = await newPerson(browser, 'registrar', 'Bea');
  const citizen = await newPerson(browser, 'citizen', 'Cy');
  const people = [admin, registrar, citizen];

  let registrarInvitation;
  let citizenId; // C's national ID, digits only

  await admin.step('A enrolls and accepts an admin invitation from the command line', async () => {
    const link = await staffInvitation({ role: 'admin' });
    const { page } = admin;
    await page.goto('/enroll');
    await enroll(admin, { region: 'CAP-C' });
    await page.goto(link);
    const home = await acceptInvitation(admin);
    assert.equal(await home.getAttribute('href'), '/admin', 'an admin continues to /admin');
    await home.click();
    await waitForPath(page, '/admin');
  });

  await admin.step('A invites a registrar for one region on /admin/staff', async () => {
    const { page } = admin;
    await page.goto('/admin/staff');
    await page.locator('#invite-form').waitFor();
    await page.selectOption('#role', 'registrar');
    await page.fill('#regions', REGION);
    await page.click('#create-invitation');
    await page.locator('#invitation').waitFor({ state: 'visible' });
    registrarInvitation = (await page.locator('#invitation-url').textContent()).trim();
    const url = new URL(registrarInvitation);
    assert.equal(url.origin, new URL(page.url()).origin, 'the invitation link is on this server');
    assert.equal(url.pathname, '/staff/invitation');
    assert.ok(url.hash.length > 1, `the link carries its token in the fragment: ${registrarInvitation}`);
    await screenshot(page, 'admin-staff-invitation');
  });

  await registrar.step('B opens the invitation with no identity, enrolls with a letter from it and accepts', async () => {
    const { page } = registrar;
    const birthDate = '1988-07-09';
    const code = await letterFor(registrar, { region: REGION, birthDate });
    await page.goto(registrarInvitation);
    // The token leaves the address bar at once, and no link carries it.
    await poll(async () => new URL(page.url()).hash === '', { message: 'the token is taken out of the address bar' });
    const token = new URL(registrarInvitation).hash.slice(1);
    for (const [id, path] of [['#sign-in-first', '/login'], ['#enroll-first', '/enroll']]) {
      const href = await poll(
        async () => {
          const h = await page.locator(id).getAttribute('href');
          return h && new URL(h, page.url()).searchParams.has('return_to') && h;
        },
        { message: `${id} gets a return_to` },
      );
      const target = new URL(href, page.url());
      assert.equal(target.pathname, path, `${id} goes to ${path}`);
      assert.equal(target.searchParams.get('return_to'), '/staff/invitation', `${id} returns to the invitation`);
      assert.ok(!href.includes(token), `${id} does not carry the token: ${href}`);
    }
    const requested = [];
    page.on('request', (request) => requested.push(request.url()));
    await page.click('#enroll-first');
    await waitForPath(page, '/enroll');
    await enrollWithLetter(registrar, { code, birthDate, then: '/staff/invitation' });
    assert.ok(
      requested.every((u) => !u.includes(token)),
      `no request the server saw carried the token: ${requested.filter((u) => u.includes(token))}`,
    );
    const home = await acceptInvitation(registrar);
    assert.equal(await home.getAttribute('href'), '/registrar', 'a registrar continues to /registrar');
  });

  await admin.step('A sees B among the staff', async () => {
    const { page } = admin;
    await page.goto('/admin/staff');
    const row = page.locator('#staff tbody tr', { hasText: registrar.family });
    await row.waitFor();
    const cells = (await row.locator('td').allTextContents()).map((s) => s.trim());
    assert.ok(cells.includes('registrar'), `B's row names the registrar role: ${JSON.stringify(cells)}`);
    assert.ok(cells.some((c) => c.includes(REGION)), `B's row names ${REGION}: ${JSON.stringify(cells)}`);
  });

  await citizen.step('C enrolls in the region (level 1) and asks to be verified', async () => {
    const { page } = citizen;
    await page.goto('/enroll');
    await enroll(citizen, { region: REGION });
    citizenId = digits(await page.locator('#national-id').getAttribute('data-full'));
    assert.equal(citizenId.length, 12, `C has a 12-digit national ID, got ${JSON.stringify(citizenId)}`);
    await waitForText(page.locator('#assurance-level'), /^1\b.*self-asserted/i);
    await page.click('#request-verification');
    await page.locator('#verification-pending').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#request-verification').count(), 0, 'no second request button');
    await waitForText(page.locator('#assurance-level'), /^1\b/);
  });

  await registrar.step('B verifies C at the registrar desk', async () => {
    const { page } = registrar;
    await page.click('#staff-home');
    await waitForPath(page, '/registrar');
    const queued = await page
      .locator('#verification-queue tr[data-national-id]')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-national-id')));
    const rowId = queued.find((id) => digits(id) === citizenId);
    assert.ok(rowId, `C (${citizenId}) waits in #verification-queue; rows: ${JSON.stringify(queued)}`);
    const row = page.locator(`#verification-queue tr[data-national-id="${rowId}"]`);
    assert.match(await row.textContent(), new RegExp(citizen.family), 'the row names C');

    await row.locator('button.open-citizen').click();
    await page.locator('#citizen').waitFor({ state: 'visible' });
    await waitForText(page.locator('#citizen-name'), new RegExp(`^${citizen.given} ${citizen.family}$`));
    assert.equal(digits(await page.locator('#citizen-national-id').textContent()), citizenId);
    assert.equal((await page.locator('#citizen-level').textContent()).trim(), '1');

    await page.selectOption('#evidence-type', 'passport');
    await page.fill('#issuing-authority', 'Civitas Passport Office');
    await page.fill('#document-number', `P${randomLetters(8).toUpperCase()}`);
    await page.selectOption('#method', 'in_person');
    await page.click('#verify-citizen');
    await waitForText(page.locator('#notice'), /verified/i);
    await waitForText(page.locator('#citizen-level'), /^2$/);
    assert.equal(await page.locator('#message').isVisible(), false, 'no error message');
    await screenshot(page, 'registrar-desk');

    await page.reload();
    await page.locator('#verification-queue').waitFor({ state: 'attached' });
    const left = await page
      .locator('#verification-queue tr[data-national-id]')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-national-id')));
    assert.ok(!left.some((id) => digits(id) === citizenId), `C has left the queue; rows: ${JSON.stringify(left)}`);
  });

  await citizen.step('C sees level 2 on their account', async () => {
    const { page } = citizen;
    await page.reload();
    await waitForText(page.locator('#assurance-level'), /^2\b.*verified/i);
    assert.equal(await page.locator('#verification-pending').count(), 0, 'no pending request any more');
    assert.equal(await page.locator('#request-verification').count(), 0, 'nothing left to ask for');
    await screenshot(page, 'account-verified');
  });

  for (const person of people) {
    await person.step('no errors in the page', async () => {
      assert.deepEqual(pageProblems(person.logs), [], `${person.who}'s pages logged errors or failed requests`);
    });
  }
});
