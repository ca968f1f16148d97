// The console used by a whole team, in a real headless Chromium: an admin
// hands out sign-in links; a member sets a password, acknowledges, assigns,
// merges and reads the timeline; a viewer sees no operation at all. Started
// by the Rust test `console_team::a_team_in_a_real_browser`, which made the
// people (without passwords) and the incidents.
//
// Environment: BASE, EMAIL and PASSWORD (the admin), MEMBER and VIEWER
// (their emails), SHOTS (where a failure's screenshot goes), CHROMIUM.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('BASE');
const TARGET = 'Checkout p99 latency above 2 s';
const SOURCE = 'Payment gateway answers 502';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
// One browser context per person: their own cookies, as on their own laptop.
async function person() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  return page;
}
const admin = await person();
let current = admin;

let stepName = '';
async function step(name, fn) {
  stepName = name;
  process.stdout.write(`step: ${name}\n`);
  await fn();
}

async function open(page, path) {
  current = page;
  await page.goto(`${BASE}${path}`);
  await page.locator('#app').filter({ hasNotText: 'Loading…' }).waitFor();
  await page.waitForLoadState('networkidle');
}

async function incidentPage(page, title) {
  await open(page, '/console/incidents');
  await page.getByRole('link', { name: title }).click();
  await page.getByRole('heading', { name: title }).waitFor();
}

// The admin makes a person's sign-in link; answers its path (the server's
// public URL is not this test's address).
async function signInLink(email) {
  await open(admin, '/console/directory?tab=people');
  await admin.getByRole('row', { name: new RegExp(email) }).getByRole('button', { name: 'Sign-in link' }).click();
  const link = await admin.locator('output.secret').textContent();
  const url = new URL(link);
  assert.equal(url.pathname, '/console/invite');
  return `${url.pathname}${url.search}`;
}

// Opens a sign-in link in a fresh browser and sets a password there.
async function accept(link, name, password) {
  const page = await person();
  current = page;
  await page.goto(`${BASE}${link}`);
  await page.getByRole('heading', { name: `Welcome, ${name}` }).waitFor();
  await page.getByLabel('New password').fill(password);
  await page.getByLabel('The same again').fill(password);
  await page.getByRole('button', { name: 'Set password and sign in' }).click();
  await page.waitForURL(/\/console\/incidents$/);
  return page;
}

try {
  await step('the admin logs in', async () => {
    await admin.goto(`${BASE}/console/login`);
    await admin.getByLabel('Email').fill(env('EMAIL'));
    await admin.getByLabel('Password').fill(env('PASSWORD'));
    await admin.getByRole('button', { name: 'Log in' }).click();
    await admin.waitForURL(/\/console\/incidents$/);
  });

  await step('people are edited, deactivated and reactivated', async () => {
    await open(admin, '/console/directory?tab=people');
    await admin.getByText('New person').click();
    await admin.getByLabel('Name').fill('Grace Hopper');
    await admin.getByLabel('Email').fill('grace@example.com');
    await admin.getByRole('button', { name: 'Add person' }).click();
    const row = () => admin.getByRole('row', { name: /grace@example\.com/ });
    await row().getByRole('button', { name: 'Edit' }).click();
    const form = admin.getByRole('form', { name: 'Edit Grace Hopper' });
    await form.getByLabel('Name').fill('Grace B. Hopper');
    await form.getByLabel('Role').selectOption('viewer');
    await form.getByRole('button', { name: 'Save' }).click();
    await admin.getByText('Saved Grace B. Hopper.').waitFor();
    await row().getByText('viewer', { exact: true }).waitFor();
    admin.once('dialog', (d) => d.accept());
    await row().getByRole('button', { name: 'Deactivate' }).click();
    await row().getByText('Deactivated').waitFor();
    assert.equal(await row().getByRole('button', { name: 'Sign-in link' }).count(), 0, 'no link for the deactivated');
    await row().getByRole('button', { name: 'Reactivate' }).click();
    await row().getByText('Active', { exact: true }).waitFor();
  });

  let member;
  await step('an invited member sets a password and is signed in', async () => {
    const link = await signInLink(env('MEMBER'));
    await admin.getByText(/lets them choose a password, once, until/).waitFor();
    member = await accept(link, 'Lin Okafor', 'blue harbour lighthouse');
    await member.goto(`${BASE}${link}`);
    await member.getByRole('heading', { name: 'This link no longer works' }).waitFor();
  });

  await step('the member acknowledges and assigns; the timeline says so', async () => {
    await incidentPage(member, SOURCE);
    await member.getByRole('button', { name: 'Acknowledge' }).click();
    await member.locator('#timeline li[data-type="i_ack"]').getByText('Lin Okafor acknowledged it').waitFor();
    await member.getByText('Assign or add responders').click();
    const people = member.getByRole('form', { name: 'Responders' });
    await people.getByLabel('People').selectOption([
      { label: `Ada Admin (${env('EMAIL')})` }, { label: `Lin Okafor (${env('MEMBER')})` }]);
    await people.getByRole('button', { name: 'Assign (replaces the responders)' }).click();
    await member.locator('#action-result').getByText('Assigned.').waitFor();
    await member.locator('#timeline li[data-type="i_assign"]')
      .getByText('Lin Okafor reassigned it to Ada Admin and Lin Okafor').waitFor();
    for (let i = 0; ; i += 1) {
      await member.reload();
      await member.locator('#timeline li[data-type="i_assign"]').first().waitFor();
      const mailed = member.locator('#timeline li[data-type="i_notify"]').getByText('Mailed Ada Admin and Lin Okafor');
      if (await mailed.count()) break;
      assert.ok(i < 40, 'the assignment mail is on the timeline');
      await member.waitForTimeout(250);
    }
  });

  await step('the member merges it into another incident found by title', async () => {
    await member.getByText('Merge into another incident').click();
    const find = member.getByRole('search', { name: 'Find an incident to merge into' });
    await find.getByLabel('Title or number').fill('Checkout p99');
    await find.getByRole('button', { name: 'Find' }).click();
    member.once('dialog', (d) => d.accept());
    await member.getByRole('button', { name: /^Merge into / }).click();
    await member.getByRole('heading', { name: TARGET }).waitFor();
    await member.locator('#timeline li[data-type="i_merge"]')
      .getByText(`Lin Okafor merged “${SOURCE}” into it`).waitFor();
  });

  await step('the member changes their own password', async () => {
    await open(member, '/console/directory?tab=people');
    const mine = member.getByRole('row', { name: new RegExp(env('MEMBER')) });
    assert.equal(await member.getByRole('button', { name: 'Sign-in link' }).count(), 0, 'admins only');
    assert.equal(await member.getByRole('button', { name: 'Deactivate' }).count(), 0, 'admins only');
    await mine.getByRole('button', { name: 'Change password' }).click();
    const form = member.getByRole('form', { name: 'Change your password' });
    await form.getByLabel('Current password').fill('not my password at all');
    await form.getByLabel('New password').fill('green harbour lighthouse');
    await form.getByLabel('The same again').fill('green harbour lighthouse');
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByText(/current_password: is not your password/).waitFor();
    await form.getByLabel('Current password').fill('blue harbour lighthouse');
    await form.getByRole('button', { name: 'Change password' }).click();
    await member.getByText('Password changed. Your other sessions have ended.').waitFor();
    await open(member, '/console/incidents');
    await member.getByRole('heading', { name: 'Incidents', level: 1 }).waitFor();
  });

  await step('the member turns their notification mails off', async () => {
    await open(member, '/console/directory?tab=people');
    const mine = member.getByRole('row', { name: new RegExp(env('MEMBER')) });
    await mine.getByRole('button', { name: 'Edit' }).click();
    const form = member.getByRole('form', { name: /^Edit / });
    await form.getByLabel('Notification mails: assignments, team mails and reminders').uncheck();
    await form.getByRole('button', { name: 'Save' }).click();
    await member.getByText(/^Saved /).waitFor();
    // The list is read again after the notice: wait for it.
    await mine.getByRole('cell', { name: 'Off', exact: true }).waitFor();
  });

  await step('an admin sets a channel\'s reminders, said in words', async () => {
    await open(admin, '/console/directory?tab=channels');
    await admin.getByRole('row', { name: /Monitoring/ }).getByRole('button', { name: 'Settings' }).click();
    const form = admin.getByRole('form', { name: 'Settings of Monitoring' });
    await form.getByLabel('Mail the channel\'s team when an incident opens or storms').check();
    await form.getByLabel('Re-notify after (minutes)').fill('10');
    await form.getByLabel('Reminders').selectOption('2');
    const said = 'While nobody acknowledges, every 10 minutes up to 2 reminders go out: to the responders, then the team too.';
    await form.getByText(said).waitFor();
    await form.getByRole('button', { name: 'Save' }).click();
    await admin.getByText(/^Saved the grouping and notifications of /).waitFor();
    await admin.getByRole('row', { name: /Monitoring/ }).getByText(said).waitFor();
    await open(admin, '/console/integrations?tab=email');
    const mail = admin.getByRole('region', { name: 'E-mail' });
    await mail.getByText('Healthy').waitFor();
    await mail.getByRole('button', { name: 'Send me a test mail' }).click();
    await mail.getByText(`Sent a test mail to ${env('EMAIL')} (the server answered 250).`).waitFor();
  });

  await step('replay a webhook\'s failed deliveries from its history, with progress', async () => {
    await open(admin, '/console/integrations?tab=incident');
    await admin.getByRole('row', { name: /Ops relay/ }).getByRole('link', { name: 'History' }).click();
    await admin.getByText('Replay failed and skipped deliveries').click();
    const form = admin.getByRole('form', { name: 'Replay' });
    await form.getByLabel('Per second').fill('20');
    await form.getByRole('button', { name: 'Replay' }).click();
    const progress = admin.getByRole('region', { name: 'Replay progress' }).or(admin.locator('[aria-label="Replay progress"]'));
    await progress.getByText(/of \d+ queued at 20\/s: \d+ pushed, \d+ failed/).waitFor();
  });

  await step('a viewer sees what is going on and no operation', async () => {
    const viewer = await accept(await signInLink(env('VIEWER')), 'Sam Reyes', 'quiet reading room');
    await open(viewer, '/console/incidents');
    await viewer.getByRole('link', { name: TARGET }).waitFor();
    const none = async (role, name, where) => assert.equal(
      await viewer.getByRole(role, { name }).count(), 0, `a viewer sees "${name}" on ${where}`);
    await none('checkbox', /Select/, 'the incident list');
    await none('button', /selected/, 'the incident list');
    assert.equal(await viewer.getByText('New incident').count(), 0, 'no New incident');
    await incidentPage(viewer, TARGET);
    await viewer.locator('#timeline li[data-type="i_merge"]').waitFor();
    for (const name of ['Acknowledge', 'Resolve', 'Snooze', 'More actions', 'Add comment', 'Save']) {
      await none('button', name, 'the incident page');
    }
    assert.equal(await viewer.getByRole('group', { name: 'Incident operations' }).count(), 0);
    assert.equal(await viewer.getByText('Assign or add responders').count(), 0);
    assert.equal(await viewer.getByText('Merge into another incident').count(), 0);
    await open(viewer, '/console/alerts');
    await viewer.getByRole('link', { name: 'Disk almost full on db-7' }).first().click();
    await viewer.locator('#alert-detail').getByText('Events (1)').waitFor();
    await none('button', 'Close this alert', 'an alert');
    for (const tab of ['incident', 'source']) {
      await open(viewer, `/console/integrations?tab=${tab}`);
      for (const name of [/^New /, 'Edit', 'Delete', 'Send test', 'Send test event', 'Disable']) {
        await none('button', name, `the ${tab} integrations`);
      }
    }
    await open(viewer, '/console/integrations?tab=incident');
    await viewer.getByRole('link', { name: 'History' }).first().click();
    await viewer.getByRole('table', { name: 'Invocations' }).waitFor();
    assert.equal(await viewer.getByText('Replay failed and skipped deliveries').count(), 0, 'no replay for a viewer');
    await open(viewer, '/console/directory?tab=channels');
    assert.equal(await viewer.getByText('New channel').count(), 0);
    await none('button', 'Settings', 'the channels');
    await open(viewer, '/console/directory?tab=people');
    await viewer.getByRole('row', { name: new RegExp(env('VIEWER')) }).getByRole('button', { name: 'Change password' }).waitFor();
    await none('button', 'Sign-in link', 'the people');
    assert.equal(await viewer.getByRole('button', { name: 'Edit' }).count(), 1, 'only their own row');
  });

  await step('the invitation page fits a phone', async () => {
    const link = await signInLink('grace@example.com');
    const phone = await person();
    current = phone;
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${BASE}${link}`);
    await phone.getByRole('heading', { name: 'Welcome, Grace B. Hopper' }).waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the invitation page scrolls sideways by ${overflow}px`);
  });

  await step('on a phone the incident list shows every column it keeps, uncut', async () => {
    await admin.setViewportSize({ width: 390, height: 844 });
    await open(admin, '/console/incidents');
    for (const name of ['Title', 'Severity', 'Progress']) {
      const box = await admin.getByRole('columnheader', { name }).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${name} is cut off at 390 px: ${JSON.stringify(box)}`);
    }
    await admin.getByRole('table', { name: 'Incidents' }).getByText('Triggered').first().waitFor();
  });

  const errors = problems.filter((p) => !/status of 4\d\d|status of 500/.test(p));
  assert.deepEqual(errors, [], 'no script errors');
  process.stdout.write('team e2e: all steps passed\n');
} catch (e) {
  process.stdout.write(`FAILED at step "${stepName}": ${e.stack || e}\n`);
  for (const p of problems) process.stdout.write(`${p}\n`);
  try {
    await current.screenshot({ path: `${env('SHOTS')}/team-failure.png`, fullPage: true });
    process.stdout.write(`page: ${current.url()}\n${(await current.locator('body').innerText()).slice(0, 3000)}\n`);
  } catch { /* the page is gone */ }
  process.exitCode = 1;
} finally {
  await browser.close();
}
