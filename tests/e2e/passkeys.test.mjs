// End-to-end: enrolment, passkey sign-in, adding and removing passkeys, in a
// real Chromium with virtual authenticators.
//
// Run with tests/e2e/run.sh (builds and starts the server), or against a
// running server: CIVITAS_URL=http://localhost:PORT node --test tests/e2e/
//
// What Chromium's virtual authenticators do (checked on Chromium 156), and
// how this test copes:
// - With automatic presence simulation on, a *conditional* (autofill) request
//   is answered at once, so a /login page that starts passkey autofill on
//   load would sign in by itself. To test the button, presence is switched
//   off before /login loads (its conditional request then stays pending) and
//   back on just before the click. The page must abort its conditional
//   request before calling navigator.credentials.get() again, or Chromium
//   rejects the second call ("A request is already pending").
// - One authenticator keeps one discoverable credential per (RP, user
//   handle): registering a second passkey for the same account on it
//   replaces the first, and excludeCredentials makes it refuse outright
//   (InvalidStateError). Only one `internal` authenticator is allowed. So
//   the second passkey goes on a second virtual authenticator, a roaming
//   security key (`usb`), while the platform one is kept from answering.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  addAuthenticator,
  credentials,
  launch,
  poll,
  removeCredential,
  screenshot,
  setPresence,
  stepper,
  waitForPath,
  waitForText,
} from './lib.mjs';

const MASKED_ID = /^XXXX XXXX \d{4}$/;
const FULL_ID = /^\d{4} \d{4} \d{4}$/;

function randomLetters(n) {
  return Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
}

test('enrol, sign in, add a passkey, remove the first, sign in with the second', { timeout: 240_000 }, async (t) => {
  const session = await launch();
  const { browser, page, cdp } = session;
  t.after(() => browser.close());
  const step = stepper(t, session);
  const platform = session.authenticatorId; // holds the enrolment passkey
  let securityKey; // added later for the second passkey
  const authenticators = () => [platform, securityKey].filter(Boolean);
  const allCredentials = async () =>
    (await Promise.all(authenticators().map((a) => credentials(cdp, a)))).flat();
  const presence = async (enabled) => {
    for (const a of authenticators()) await setPresence(cdp, a, enabled);
  };

  // window.prompt (rename) gets `promptAnswer`; confirm/alert are accepted.
  let promptAnswer = 'Passkey';
  const dialogs = [];
  page.on('dialog', async (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    if (dialog.type() === 'prompt') await dialog.accept(promptAnswer);
    else await dialog.accept();
  });

  const nationalId = page.locator('#national-id');
  const rows = page.locator('#passkeys tr[data-passkey-id]');
  const rowIds = () => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-passkey-id')));

  /** On /account: the masked number, then the full one after #reveal-national-id. */
  async function readNationalId() {
    const masked = await waitForText(nationalId, MASKED_ID);
    await page.click('#reveal-national-id');
    const full = await waitForText(nationalId, FULL_ID);
    assert.equal(full.slice(-4), masked.slice(-4), 'masked and full national ID end alike');
    return full;
  }

  /** From /account to /login, with no authenticator answering on its own. */
  async function signOut() {
    // Off before /login loads, so its passkey autofill cannot sign in by itself.
    await presence(false);
    await page.click('#sign-out');
    await waitForPath(page, '/login');
    await page.waitForLoadState('load');
  }

  /** On /login: sign in with the button only (no typing). */
  async function signInWithButton() {
    const username = page.locator('#username');
    await username.waitFor({ state: 'attached' });
    const autocomplete = ((await username.getAttribute('autocomplete')) ?? '').split(/\s+/);
    assert.ok(
      autocomplete.includes('username') && autocomplete.includes('webauthn'),
      `#username autocomplete="username webauthn", got ${JSON.stringify(autocomplete.join(' '))}`,
    );
    const button = page.locator('#passkey-sign-in');
    assert.match((await button.textContent()).trim(), /Sign in with a passkey/i);
    assert.equal(new URL(page.url()).pathname, '/login', 'still on /login before the click');
    await presence(true);
    await button.click();
  }

  let firstRowId;
  let firstCredential;
  let secondCredential;
  let fullId;

  await step('enrol', async () => {
    await page.goto('/enroll');
    await page.locator('#enroll-form').waitFor();
    for (const id of ['given_name', 'family_name', 'birth_date', 'region']) {
      const labelled = await page
        .locator(`#${id}`)
        .evaluate((el) => (el.labels?.length ?? 0) > 0 || el.hasAttribute('aria-label') || el.hasAttribute('aria-labelledby'));
      assert.ok(labelled, `#${id} has a label`);
    }
    assert.equal(await page.locator('#birth_date').getAttribute('type'), 'date');

    await page.fill('#given_name', 'Ada');
    await page.fill('#family_name', `Lovelace${randomLetters(4)}`);
    await page.fill('#birth_date', '2000-01-31');
    await page.selectOption('#region', 'CAP-C');
    const submit = page.locator('#create-passkey');
    assert.match((await submit.textContent()).trim(), /Create your passkey/i);
    await submit.click();
    await waitForPath(page, '/account');

    const creds = await credentials(cdp, platform);
    assert.equal(creds.length, 1, 'the authenticator holds one credential after enrolment');
    assert.equal(creds[0].rpId, 'localhost');
    assert.equal(creds[0].isResidentCredential, true, 'enrolment asks for a discoverable credential');
    firstCredential = creds[0];
  });

  await step('account after enrolment', async () => {
    assert.equal(await page.locator('#message').getAttribute('role'), 'alert', '#message has role=alert');
    fullId = await readNationalId();
    await poll(async () => (await rows.count()) === 1, { message: 'the passkeys table shows one row' });
    [firstRowId] = await rowIds();
    assert.ok(firstRowId, 'the row has a data-passkey-id');
    const row = rows.first();
    assert.match((await row.locator('button.remove-passkey').textContent()).trim(), /Remove/i);
    assert.match((await row.locator('button.rename-passkey').textContent()).trim(), /Rename/i);
    await screenshot(page, 'account-after-enroll');

    // The reveal button toggles back to the masked form.
    await page.click('#reveal-national-id');
    await waitForText(nationalId, MASKED_ID);
  });

  await step('sign out and sign in with the passkey', async () => {
    await signOut();
    await signInWithButton();
    await waitForPath(page, '/account');
    assert.equal(await readNationalId(), fullId, 'same national ID after sign-in');
    await screenshot(page, 'account-after-sign-in');
  });

  await step('add a second passkey', async () => {
    securityKey = await addAuthenticator(cdp);
    // Only the security key may answer: the platform authenticator already
    // holds this account's passkey (see the note at the top).
    await setPresence(cdp, platform, false);
    const add = page.locator('#add-passkey');
    assert.match((await add.textContent()).trim(), /Add a passkey/i);
    await add.click();
    [secondCredential] = await poll(
      async () => {
        const c = await credentials(cdp, securityKey);
        return c.length === 1 && c;
      },
      { message: 'the security key holds the new credential' },
    );
    await setPresence(cdp, platform, true);
    assert.equal((await allCredentials()).length, 2, 'two credentials in the browser');
    assert.equal(secondCredential.rpId, 'localhost');
    assert.equal(secondCredential.isResidentCredential, true, 'the new passkey is discoverable');
    assert.equal(secondCredential.userHandle, firstCredential.userHandle, 'both passkeys belong to the same user handle');

    await poll(async () => (await rows.count()) === 2, { message: 'the passkeys table shows two rows' });
    const ids = await rowIds();
    assert.ok(ids.includes(firstRowId), 'the enrolment passkey is still listed');
    assert.equal(new Set(ids).size, 2, 'the rows have distinct data-passkey-id');
  });

  await step('rename the second passkey', async () => {
    const secondRowId = (await rowIds()).find((id) => id !== firstRowId);
    const row = page.locator(`#passkeys tr[data-passkey-id="${secondRowId}"]`);
    promptAnswer = `Backup key ${randomLetters(4)}`;
    await row.locator('button.rename-passkey').click();
    await poll(async () => ((await row.textContent()) ?? '').includes(promptAnswer), {
      message: `the row shows the new name ${JSON.stringify(promptAnswer)}`,
    });
    assert.ok(dialogs.some((d) => d.startsWith('prompt')), 'rename asked with window.prompt');
  });

  await step('remove the first passkey', async () => {
    // The row that was alone after enrolment is the enrolment passkey.
    const row = page.locator(`#passkeys tr[data-passkey-id="${firstRowId}"]`);
    await row.locator('button.remove-passkey').click();
    await poll(async () => (await rows.count()) === 1 && !(await rowIds()).includes(firstRowId), {
      message: 'the enrolment passkey disappears from the table',
    });
    // And from the browser, so only the second passkey can be used.
    await removeCredential(cdp, platform, firstCredential.credentialId);
    assert.deepEqual(
      (await allCredentials()).map((c) => c.credentialId),
      [secondCredential.credentialId],
    );
  });

  await step('sign in with the second passkey', async () => {
    const before = (await credentials(cdp, securityKey))[0].signCount;
    await signOut();
    await signInWithButton();
    await waitForPath(page, '/account');
    assert.equal(await readNationalId(), fullId, 'same national ID after sign-in with the second passkey');
    const after = (await credentials(cdp, securityKey))[0].signCount;
    assert.ok(after > before, `the second passkey signed (signCount ${before} -> ${after})`);
    assert.equal(await rows.count(), 1, 'one passkey left');
    await screenshot(page, 'account-after-second-sign-in');
  });

  await step('a removed passkey no longer signs in', async () => {
    // Put the removed credential (private key and all) back into the browser
    // and unplug the security key: the server must refuse the old passkey.
    // (A security key left plugged in with no credential would answer first,
    // and Chromium would fail the request before the server is asked.)
    await signOut();
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: securityKey });
    securityKey = undefined;
    const { largeBlob, ...credential } = firstCredential;
    await cdp.send('WebAuthn.addCredential', { authenticatorId: platform, credential });
    await signInWithButton();
    await waitForText(page.locator('#message'), /\S/, { timeout: 15_000 });
    const [{ signCount }] = await credentials(cdp, platform);
    assert.ok(signCount > firstCredential.signCount, 'the browser did sign with the removed passkey');
    assert.equal(new URL(page.url()).pathname, '/login', 'still on /login');
    await screenshot(page, 'login-with-removed-passkey');
  });
});
