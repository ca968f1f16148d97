// Custom actions with inputs, a confirmation and an approval, driven in a
// real headless Chromium by two people in two browser contexts. Started by
// the Rust test `console_guardrails`, which made the actions and the
// incident, and checks what reached the endpoints afterwards.
//
// Environment: BASE, EMAIL / PASSWORD (the requester), EMAIL2 / PASSWORD2
// (the approver), INCIDENT (its id), TITLE (its title), SHOTS, CHROMIUM.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('BASE');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];

async function personPage(email, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  await page.goto(`${BASE}/console/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/console\/incidents$/);
  return page;
}

let stepName = '';
async function step(name, fn) {
  stepName = name;
  process.stdout.write(`step: ${name}\n`);
  await fn();
}

const incidentUrl = `${BASE}/console/incident?id=${env('INCIDENT')}`;
let ada;
let bea;

try {
  ada = await personPage(env('EMAIL'), env('PASSWORD'));
  bea = await personPage(env('EMAIL2'), env('PASSWORD2'));

  await step('the integration center shows and edits the guardrails', async () => {
    await ada.goto(`${BASE}/console/integrations?tab=action`);
    await ada.getByRole('row').filter({ hasText: 'Restart host' }).getByRole('button', { name: 'Edit' }).click();
    const form = ada.getByRole('form', { name: 'Edit "Restart host"' });
    assert.ok(await form.getByLabel('Ask before running, naming the action and the incident').isChecked());
    assert.match(await form.getByLabel('Inputs (JSON)').inputValue(), /incident\.labels\.host/);
    await form.getByLabel('Cooldown per incident (s)').fill('5');
    await form.getByRole('button', { name: 'Save' }).click();
    await ada.getByText('Saved "Restart host".').waitFor();
  });

  await step('an action with inputs opens a prefilled form that asks first', async () => {
    await ada.goto(incidentUrl);
    await ada.getByText('More actions').click();
    await ada.getByRole('button', { name: 'Restart host' }).click();
    const dialog = ada.getByRole('dialog');
    await dialog.getByText(`Run "Restart host" on incident`).waitFor();
    await dialog.getByText(env('TITLE')).waitFor();
    assert.equal(await dialog.getByLabel('Host (required)').inputValue(), 'web-1', 'the default rendered from the labels');
    await ada.screenshot({ path: `${env('SHOTS')}/action-form.png` });
  });

  await step('cancelling the form runs nothing', async () => {
    await ada.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await ada.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal(await ada.locator('#runs tr[data-run-id]').count(), 0);
  });

  await step('fill the form and run', async () => {
    await ada.getByText('More actions').click();
    await ada.getByRole('button', { name: 'Restart host' }).click();
    const dialog = ada.getByRole('dialog');
    await dialog.getByLabel('Host (required)').fill('web-2');
    await dialog.getByLabel('Mode').selectOption('hard');
    await dialog.getByRole('button', { name: 'Run' }).click();
    await ada.locator('#action-result').getByText('"Restart host" succeeded').waitFor();
    await ada.locator('#runs').getByText('inputs: host = web-2, mode = hard').waitFor();
  });

  await step('run again prefills the run\'s inputs', async () => {
    await ada.getByRole('button', { name: 'Run Restart host again' }).click();
    const dialog = ada.getByRole('dialog');
    assert.equal(await dialog.getByLabel('Host (required)').inputValue(), 'web-2');
    assert.equal(await dialog.getByLabel('Mode').inputValue(), 'hard');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  await step('an action that needs approval waits', async () => {
    await ada.getByText('More actions').click();
    await ada.getByRole('button', { name: 'Fail over' }).click();
    await ada.locator('#action-result').getByText('waits for another person to approve it').waitFor();
    await ada.getByRole('button', { name: 'Withdraw Fail over' }).waitFor();
    assert.equal(await ada.getByRole('button', { name: 'Approve Fail over' }).count(), 0, 'never one\'s own');
  });

  await step('a second person sees it in the list and approves it', async () => {
    await bea.goto(`${BASE}/console/incidents`);
    await bea.getByRole('row').filter({ hasText: env('TITLE') }).getByText('Approval needed').waitFor();
    await bea.goto(incidentUrl);
    await bea.getByRole('button', { name: 'Approve Fail over' }).click();
    await bea.locator('#action-result').getByText('Approved.').waitFor();
    await bea.locator('#runs tr').filter({ hasText: 'Fail over' }).getByText('Succeeded').waitFor();
    await bea.locator('#runs').getByText(/approved by Bea/).waitFor();
    await bea.screenshot({ path: `${env('SHOTS')}/approved.png`, fullPage: true });
  });

  await step('the requester sees the run end without reloading', async () => {
    await ada.locator('#runs tr').filter({ hasText: 'Fail over' }).getByText('Succeeded').waitFor();
  });

  const errors = problems.filter((p) => !/status of 4\d\d|status of 500/.test(p));
  assert.deepEqual(errors, [], 'no script errors');
  process.stdout.write('guardrails e2e: all steps passed\n');
} catch (e) {
  process.stdout.write(`FAILED at step "${stepName}": ${e.stack || e}\n`);
  for (const p of problems) process.stdout.write(`${p}\n`);
  for (const [who, page] of [['ada', ada], ['bea', bea]]) {
    try {
      if (!page) continue;
      await page.screenshot({ path: `${env('SHOTS')}/failure-${who}.png`, fullPage: true });
      process.stdout.write(`${who}: ${page.url()}\n${(await page.locator('body').innerText()).slice(0, 2000)}\n`);
    } catch { /* the page is gone */ }
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
