// Drives the dutyhook console in a real headless Chromium. Started by the
// Rust test `console::browser` with a running dutyhook and receivers; that
// test checks what reached the receivers afterwards.
//
// Environment: BASE (dutyhook), EMAIL, PASSWORD, ACTION_OK and ACTION_FAIL
// (receivers for custom actions), HOOK (receiver for the webhook), SHOTS
// (where screenshots go), CHROMIUM (executable, default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('BASE');
const SECRET_HEADER = 's3cr3t-relay-token';
const XSS_TITLE = '<script>window.__xss = 1</script> Checkout <b>down</b>';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

let stepName = '';
async function step(name, fn) {
  stepName = name;
  process.stdout.write(`step: ${name}\n`);
  await fn();
}

async function open(path) {
  await page.goto(`${BASE}${path}`);
  await page.locator('#app').filter({ hasNotText: 'Loading…' }).waitFor();
}

// Every control a person can reach has a name a screen reader can say.
async function checkLabels(where) {
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, summary, a')]
    .filter((el) => el.offsetParent !== null)
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
    .map((el) => el.outerHTML.slice(0, 100)));
  assert.deepEqual(unnamed, [], `controls without a label on ${where}`);
}

// Creates an incident from the list page's form; ends on its page.
async function newIncident(title) {
  await open('/console/incidents');
  await page.getByText('New incident').click();
  const form = page.getByRole('form', { name: 'New incident' });
  await form.getByLabel('Title').fill(title);
  await form.getByRole('button', { name: 'Create incident' }).click();
  await page.waitForURL(/\/console\/incident\?id=/);
}

async function newAction(name, endpoint, writeBack = [], mode = 'sync') {
  await open('/console/integrations?tab=action');
  await page.getByRole('button', { name: 'New custom action' }).click();
  const form = page.getByRole('form', { name: 'Custom action' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Endpoint').fill(endpoint);
  await form.getByLabel('Payments').check();
  for (const label of writeBack) await form.getByLabel(label, { exact: true }).check();
  await form.getByLabel('Mode').selectOption(mode);
  await form.getByRole('button', { name: 'Create' }).click();
  return form;
}

try {
  await step('a page without a session leads to the login form', async () => {
    await page.goto(`${BASE}/console/incidents`);
    await page.waitForURL(/\/console\/login$/);
  });

  await step('a wrong password is refused', async () => {
    await page.getByLabel('Email').fill(env('EMAIL'));
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong' }).waitFor();
  });

  await step('log in', async () => {
    await page.getByLabel('Email').fill(env('EMAIL'));
    await page.getByLabel('Password').fill(env('PASSWORD'));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/console\/incidents$/);
    await page.getByRole('heading', { name: 'Incidents', level: 1 }).waitFor();
  });

  await step('create a channel', async () => {
    await open('/console/directory?tab=channels');
    await page.getByText('New channel').click();
    await page.getByLabel('Name').fill('Payments');
    await page.getByRole('button', { name: 'Create channel' }).click();
    await page.getByRole('cell', { name: 'Payments' }).waitFor();
  });

  await step('create a custom action that succeeds and one that fails', async () => {
    let form = await newAction('Restart host', env('ACTION_OK'), ['Labels', 'Links']);
    await page.getByText('Signing secret').waitFor();
    assert.match(await page.locator('output.secret').innerText(), /^whsec_/);
    await page.getByRole('cell', { name: 'Restart host' }).waitFor();
    form = await newAction('Roll back', env('ACTION_FAIL'));
    await page.getByRole('cell', { name: 'Roll back' }).waitFor();
    form = await newAction('Deploy canary', env('ACTION_ASYNC'), ['Links'], 'async');
    await page.getByRole('cell', { name: 'Deploy canary' }).waitFor();
  });

  await step('create an incident whose title holds markup', async () => {
    await open('/console/incidents');
    await page.getByText('New incident').click();
    const form = page.getByRole('form', { name: 'New incident' });
    await form.getByLabel('Title').fill(XSS_TITLE);
    await form.getByLabel('Severity').selectOption('Critical');
    await form.getByLabel('Channel').selectOption({ label: 'Payments' });
    await form.getByRole('button', { name: 'Create incident' }).click();
    await page.waitForURL(/\/console\/incident\?id=[0-9a-f]{24}$/);
    const h2 = page.getByRole('heading', { level: 2 }).first();
    await h2.waitFor();
    assert.equal(await h2.innerText(), XSS_TITLE, 'the title shows as text');
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'the title ran as script');
    await page.getByRole('button', { name: 'Acknowledge' }).waitFor();
    await checkLabels('the incident page');
  });

  await step('the incident list shows the title as text', async () => {
    const url = page.url();
    await open('/console/incidents');
    await page.getByRole('link', { name: XSS_TITLE }).waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await page.goto(url);
  });

  await step('press a custom action under More actions', async () => {
    await page.getByText('More actions').click();
    await page.getByRole('button', { name: 'Restart host' }).click();
    const result = page.locator('#action-result');
    await result.getByText('"Restart host" succeeded: HTTP 200').waitFor();
    await result.getByText('wrote back labels, links').waitFor();
    const answer = await result.locator('pre').innerText();
    assert.ok(answer.includes('<script>'), `the endpoint's answer shows as text: ${answer}`);
    assert.equal(await result.locator('script').count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'the answer ran as script');
    await page.locator('#timeline li[data-type="i_custom"]').filter({ hasText: 'Restart host' }).waitFor();
    // What the answer wrote back is where it landed: the link, the label, the timeline.
    const link = page.locator('ul.links a').first();
    await link.waitFor();
    assert.equal(await link.getAttribute('href'), 'https://runbook.example/web-1');
    assert.ok((await link.innerText()).includes('<img'), 'the link title shows as text');
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'the link title ran as script');
    await page.locator('dl.facts dt', { hasText: 'restarted' }).first().waitFor();
    await page.locator('#timeline li[data-type="i_links"]').waitFor();
    await page.getByRole('table', { name: 'Custom action runs' }).getByText('Succeeded').waitFor();
  });

  await step('a failing action shows the failure and writes it on the timeline', async () => {
    await page.getByText('More actions').click();
    await page.getByRole('button', { name: 'Roll back' }).click();
    await page.locator('#action-result').getByText('"Roll back" failed: HTTP 500').waitFor();
    await page.locator('#timeline li[data-type="i_custom"]').filter({ hasText: 'failed' }).waitFor();
    assert.equal(await page.locator('#timeline li[data-type="i_custom"]').count(), 2);
    await page.getByRole('table', { name: 'Custom action runs' }).getByText('Failed').waitFor();
    await page.screenshot({ path: `${env('SHOTS')}/console-incident.png`, fullPage: true });
  });

  await step('a long-running action reports progress and ends, without a reload', async () => {
    await page.evaluate(() => { window.__stay = 1; });
    await page.getByText('More actions').click();
    await page.getByRole('button', { name: 'Deploy canary' }).click();
    await page.locator('#action-result').getByText('"Deploy canary" started').waitFor();
    const runs = page.getByRole('table', { name: 'Custom action runs' });
    const row = runs.locator('tr', { hasText: 'Deploy canary' }).first();
    await row.getByText('Running').waitFor();
    await row.getByText('Succeeded').waitFor({ timeout: 20000 });
    await page.locator('#links a', { hasText: 'Canary report' }).waitFor();
    await page.locator('#timeline li[data-type="i_custom"]').filter({ hasText: 'succeeded' }).first().waitFor();
    assert.equal(await page.evaluate(() => window.__stay), 1, 'the page was not reloaded');
  });

  await step('cancel a running run', async () => {
    await page.getByText('More actions').click();
    await page.getByRole('button', { name: 'Deploy canary' }).click();
    await page.locator('#action-result').getByText('"Deploy canary" started').waitFor();
    await page.getByRole('button', { name: 'Cancel Deploy canary' }).click();
    await page.locator('#action-result').getByText('cancelled; its endpoint was told to stop').waitFor();
    const runs = page.getByRole('table', { name: 'Custom action runs' });
    await runs.getByText('Cancelled', { exact: true }).waitFor();
  });

  let hookName = 'Chat relay';
  await step('a body template error is shown at its field', async () => {
    await open('/console/integrations?tab=incident');
    await page.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'Incident webhook' });
    await form.getByLabel('Name', { exact: true }).fill(hookName);
    await form.getByLabel('Endpoint').fill(env('HOOK'));
    await form.getByLabel('acknowledged (i_ack)', { exact: true }).check();
    await form.getByRole('button', { name: 'Add header' }).click();
    await form.getByLabel('Header name').fill('Authorization');
    await form.getByLabel('Header value').fill(`Bearer ${SECRET_HEADER}`);
    await form.getByLabel('Secret', { exact: true }).check();
    await form.getByLabel('Body template').fill('{"text": "{{incident.title}}"');
    await form.getByRole('button', { name: 'Create' }).click();
    const error = form.locator('[data-field="body_template"] .field-error');
    await error.waitFor();
    assert.match(await error.innerText(), /body_template/);
    assert.equal(await form.getByLabel('Body template').getAttribute('aria-invalid'), 'true');
    await checkLabels('the webhook form');
    await page.screenshot({ path: `${env('SHOTS')}/console-webhook-form.png`, fullPage: true });
  });

  await step('a chat preset fills the template; the preview shows what it sends', async () => {
    const form = page.getByRole('form', { name: 'Incident webhook' });
    await form.getByLabel('Chat preset').selectOption('slack');
    assert.match(await form.getByLabel('Body template').inputValue(), /\{\{text\.headline\}\}/);
    const shown = form.locator('pre.preview');
    await shown.getByText(/opened an incident: Sample incident/).waitFor();
    assert.match(await shown.innerText(), /"blocks"/);
    await form.getByLabel('Event to preview').selectOption('i_ack');
    await form.getByRole('button', { name: 'Preview' }).click();
    await shown.getByText(/acknowledged: Sample incident/).waitFor();
    await checkLabels('the webhook form with a preview');
  });

  await step('create the incident webhook', async () => {
    const form = page.getByRole('form', { name: 'Incident webhook' });
    await form.getByLabel('Body template').fill('');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByText('Signing secret').waitFor();
    await page.getByRole('cell', { name: hookName }).waitFor();
  });

  await step('send a test push and see its result', async () => {
    await page.getByRole('row', { name: hookName }).getByRole('button', { name: 'Send test' }).click();
    const form = page.getByRole('form', { name: `Send a test push to ${hookName}` });
    await form.getByLabel('Event type').selectOption('i_comm');
    await form.getByRole('button', { name: 'Send test' }).click();
    await form.getByText(/Delivered: HTTP 200 in \d+ ms/).waitFor();
  });

  await step('edit the webhook: the secret header stays masked and unchanged', async () => {
    await page.getByRole('row', { name: hookName }).getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: `Edit "${hookName}"` });
    assert.equal(await form.getByLabel('Endpoint').inputValue(), env('HOOK'));
    const value = await form.getByLabel('Header value').inputValue();
    assert.ok(!value.includes(SECRET_HEADER), `the secret is masked when read back: ${value}`);
    assert.equal(await form.getByLabel('acknowledged (i_ack)', { exact: true }).isChecked(), true);
    await form.getByLabel('Description', { exact: true }).fill('Posts acknowledgements to the team chat');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText(`Saved "${hookName}".`).waitFor();
  });

  await step('acknowledge the incident', async () => {
    await open('/console/incidents');
    await page.getByRole('link', { name: XSS_TITLE }).click();
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.locator('#action-result').getByText('Acknowledge: done.').waitFor();
    await page.locator('#timeline li[data-type="i_ack"]').waitFor();
  });

  await step('the timeline tells the story in sentences', async () => {
    await page.getByLabel('Snooze for').selectOption('60');
    await page.getByRole('button', { name: 'Snooze', exact: true }).click();
    await page.locator('#action-result').getByText('Snooze: done.').waitFor();
    await page.getByRole('button', { name: 'Wake' }).click();
    await page.locator('#action-result').getByText('Wake: done.').waitFor();
    const entry = (type) => page.locator(`#timeline li[data-type="${type}"]`).first();
    await entry('i_wake').waitFor();
    assert.match(await entry('i_ack').innerText(), /Ada Admin acknowledged it/);
    assert.match(await entry('i_snooze').innerText(), /Ada Admin snoozed it for 1 hour, until \d\d:\d\d/);
    assert.match(await entry('i_wake').innerText(), /Ada Admin woke it up/);
    assert.match(await entry('i_labels').innerText(), /labels: restarted = yes set/);
    assert.match(await entry('i_new').innerText(), /created it: “.*”, Critical/);
    const all = await page.locator('#timeline').innerText();
    assert.ok(!all.includes('{"') && !/\bi_[a-z_]+\b/.test(all), `no codes or JSON in the timeline: ${all}`);
  });

  await step('the history shows the push; open it and resend it', async () => {
    await open('/console/integrations?tab=incident');
    await page.getByRole('row', { name: hookName }).getByRole('link', { name: 'History' }).click();
    await page.waitForURL(/\/console\/history\?integration_id=\d+$/);
    let row = page.getByRole('row').filter({ hasText: 'i_ack' });
    for (let i = 0; i < 50 && (await row.count()) === 0; i++) {
      await page.waitForTimeout(200);
      await page.reload();
      row = page.getByRole('row').filter({ hasText: 'i_ack' });
    }
    await row.first().getByText('Success').waitFor();
    await row.first().getByRole('button', { name: 'View' }).click();
    const detail = page.locator('#invocation');
    await detail.getByRole('heading', { name: /Invocation / }).waitFor();
    const request = await detail.locator('pre[data-part="request"]').innerText();
    assert.ok(request.includes('"event_type": "i_ack"'), request);
    assert.ok(request.includes('Authorization: '), request);
    assert.ok(!request.includes(SECRET_HEADER), 'the secret header is masked in the history');
    await checkLabels('the history page');
    await page.screenshot({ path: `${env('SHOTS')}/console-history.png`, fullPage: true });
    await detail.getByRole('button', { name: 'Resend' }).click();
    await detail.getByText(/Resent: delivery #\d+/).waitFor();
  });

  await step('editing the webhook previews the latest event it pushed', async () => {
    await open('/console/integrations?tab=incident');
    await page.getByRole('row', { name: hookName }).getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: `Edit "${hookName}"` });
    assert.equal(await form.getByLabel('Event to preview').inputValue(), 'latest');
    await form.getByRole('button', { name: 'Preview' }).click();
    await form.locator('pre.preview').getByText('"event_type": "i_ack"').waitFor();
    await form.getByRole('button', { name: 'Cancel' }).click();
  });

  await step('a webhook with a bearer token: the token is write-only', async () => {
    await open('/console/integrations?tab=incident');
    await page.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'Incident webhook' });
    await form.getByLabel('Name', { exact: true }).fill('Token relay');
    await form.getByLabel('Endpoint').fill(env('HOOK'));
    // Only storms, which this run has none of: HOOK's pushes stay the relay's.
    await form.getByLabel('alert storm (i_storm)', { exact: true }).check();
    await form.getByLabel('Type', { exact: true }).selectOption('bearer');
    assert.equal(await form.getByLabel('Password').isVisible(), false, 'only the type\'s fields show');
    await form.getByLabel('Token', { exact: true }).fill('console-t0ken');
    await checkLabels('the webhook form with authentication');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByText('Signing secret').waitFor();
    await page.getByRole('row', { name: 'Token relay' }).getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: 'Edit "Token relay"' });
    assert.equal(await edit.getByLabel('Type', { exact: true }).inputValue(), 'bearer');
    assert.equal(await edit.getByLabel('Token', { exact: true }).inputValue(), '******');
    assert.ok(!(await page.content()).includes('console-t0ken'), 'the token never comes back');
    await edit.getByRole('button', { name: 'Cancel' }).click();
  });

  await step('the integration lists show how pushes have been going', async () => {
    await open('/console/integrations?tab=action');
    const failing = page.getByRole('row', { name: /Roll back/ });
    await failing.getByText('Failing', { exact: true }).waitFor();
    assert.match(await failing.innerText(), /failed in a row since [^;]+; last success .*http_status: HTTP 500/s);
    await page.getByRole('row', { name: /Restart host/ }).getByText('Healthy', { exact: true }).waitFor();
    await open('/console/integrations?tab=incident');
    await page.getByRole('row', { name: hookName }).getByText('Healthy', { exact: true }).waitFor();
    await page.getByRole('row', { name: 'Token relay' }).getByText('No pushes yet').waitFor();
  });

  await step('the fourth action of a channel shows the limit error', async () => {
    const form = await newAction('Fourth', env('ACTION_OK'));
    const error = form.locator('.field-error').first();
    await error.waitFor();
    const text = await error.innerText();
    assert.match(text, /Payments|channel/i, text);
    assert.match(text, /3/, text);
    await open('/console/integrations?tab=action');
    assert.equal(await page.getByRole('cell', { name: 'Fourth' }).count(), 0, 'nothing saved');
  });

  await step('the incident list acknowledges and resolves several at once', async () => {
    for (const title of ['Bulk disk full', 'Bulk queue stuck']) await newIncident(title);
    await open('/console/incidents');
    const list = page.getByRole('table', { name: 'Incidents' });
    for (const col of ['Responders', 'Alerts', 'Age']) await list.getByRole('columnheader', { name: col }).waitFor();
    for (const title of ['Bulk disk full', 'Bulk queue stuck']) {
      await page.getByRole('checkbox', { name: new RegExp(title) }).check();
    }
    await page.getByRole('button', { name: 'Acknowledge selected' }).click();
    await page.getByText('Acknowledge: 2 incidents.').waitFor();
    for (const title of ['Bulk disk full', 'Bulk queue stuck']) {
      await list.getByRole('row', { name: new RegExp(title) }).getByText('Processing').waitFor();
      await page.getByRole('checkbox', { name: new RegExp(title) }).check();
    }
    await page.getByRole('button', { name: 'Resolve selected' }).click();
    await page.getByText('Resolve: 2 incidents.').waitFor();
    await list.getByRole('row', { name: /Bulk disk full/ }).getByText('Closed').waitFor();
    await checkLabels('the incident list');
  });

  await step('the alerts page filters, shows an alert with its events, and closes it', async () => {
    await open('/console/alerts');
    const list = page.getByRole('table', { name: 'Alerts' });
    await list.getByRole('link', { name: 'Disk almost full on db-7' }).first().waitFor();
    await page.getByLabel('Text').fill('nothing like this');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('0 alerts').waitFor();
    await page.getByLabel('Text').fill('db-7');
    await page.getByLabel('State').selectOption('true');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('link', { name: 'Disk almost full on db-7' }).first().click();
    const card = page.locator('#alert-detail');
    await card.getByRole('heading', { name: 'Disk almost full on db-7' }).waitFor();
    await card.getByText('Events (1)').waitFor();
    await card.getByRole('button', { name: 'Close this alert' }).click();
    await card.locator('.badges').getByText('Closed', { exact: true }).waitFor();
    assert.equal(await card.getByRole('button', { name: 'Close this alert' }).count(), 0);
    await checkLabels('the alerts page');
  });

  await step('an alert source: a test event, its recent events, an edit', async () => {
    await open('/console/integrations?tab=source');
    const row = () => page.getByRole('row', { name: /standard source|Monitoring \(Prometheus\)/ });
    await row().getByRole('button', { name: 'Send test event' }).click();
    await page.getByText(/sent a test alert \(key dutyhook-test\)/).waitFor();
    await row().getByRole('button', { name: 'Recent events' }).click();
    const recent = page.getByRole('region', { name: /Recent events of/ }).or(page.locator('section[aria-label^="Recent events of"]'));
    await recent.getByText(/Test event from the alert source/).waitFor();
    await recent.getByText('Disk almost full on db-7').waitFor();
    await row().getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit "standard source"' });
    await form.getByLabel('Name').fill('Monitoring (Prometheus)');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved "Monitoring (Prometheus)".').waitFor();
    await page.getByRole('cell', { name: 'Monitoring (Prometheus)' }).waitFor();
    await checkLabels('the alert sources');
  });

  await step('a channel\'s alert grouping, said in a sentence', async () => {
    await open('/console/directory?tab=channels');
    await page.getByRole('row', { name: /Payments/ }).getByRole('button', { name: 'Settings' }).click();
    const form = page.getByRole('form', { name: 'Settings of Payments' });
    await form.getByLabel('Method').selectOption('p');
    await form.getByLabel('Alike in').fill('title, labels.host');
    await form.getByLabel('Window (minutes)').fill('30');
    await form.getByLabel('Storm thresholds').fill('10, 50');
    const said = 'Alerts with the same title, labels.host join one open incident within 30 minutes of its creation. '
      + 'A storm is announced at 10, 50 alerts.';
    await form.getByText(said).waitFor();
    await checkLabels('the grouping form');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved the grouping and notifications of Payments.').waitFor();
    await page.getByRole('row', { name: /Payments/ }).getByText(said).waitFor();
  });

  await step('at phone width no page scrolls sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const sideways = async (what) => {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${what} scrolls sideways by ${overflow}px`);
    };
    await open('/console/incidents');
    await page.getByRole('link', { name: XSS_TITLE }).waitFor();
    await sideways('the incident list');
    await page.getByRole('link', { name: XSS_TITLE }).click();
    await page.getByRole('button', { name: 'Resolve' }).waitFor();
    await page.screenshot({ path: `${env('SHOTS')}/console-phone.png`, fullPage: true });
    await sideways('the incident page');
    for (const tab of ['incident', 'alert', 'action', 'source']) {
      await open(`/console/integrations?tab=${tab}`);
      await page.getByRole('navigation', { name: 'Integration kinds' }).waitFor();
      await page.waitForLoadState('networkidle');
      await sideways(`the ${tab} integrations`);
    }
    await open('/console/integrations?tab=action');
    await page.getByRole('button', { name: 'New custom action' }).click();
    await page.getByRole('form').first().waitFor();
    await sideways('the custom action form');
    await open('/console/integrations?tab=incident');
    await page.getByRole('row', { name: hookName }).getByRole('link', { name: 'History' }).click();
    const row = page.getByRole('row').filter({ hasText: 'i_ack' }).first();
    await row.waitFor();
    await sideways('the history');
    await row.getByRole('button', { name: 'View' }).click();
    await page.locator('#invocation').getByRole('heading', { name: /Invocation / }).waitFor();
    await sideways('an opened push');
    await open('/console/directory');
    await page.waitForLoadState('networkidle');
    await sideways('the directory');
    await open('/console/alerts');
    await page.getByRole('table', { name: 'Alerts' }).waitFor();
    await sideways('the alerts page');
  });

  await step('log out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/console\/login$/);
    await page.goto(`${BASE}/console/incidents`);
    await page.waitForURL(/\/console\/login$/);
  });

  const csp = problems.filter((p) => /Content Security Policy/i.test(p));
  assert.deepEqual(csp, [], 'nothing the page uses is blocked by its CSP');
  const errors = problems.filter((p) => !/status of 4\d\d|status of 500/.test(p));
  assert.deepEqual(errors, [], 'no script errors');
  process.stdout.write('console e2e: all steps passed\n');
} catch (e) {
  process.stdout.write(`FAILED at step "${stepName}": ${e.stack || e}\n`);
  for (const p of problems) process.stdout.write(`${p}\n`);
  try {
    await page.screenshot({ path: `${env('SHOTS')}/failure.png`, fullPage: true });
    process.stdout.write(`page: ${page.url()}\n${(await page.locator('body').innerText()).slice(0, 3000)}\n`);
  } catch { /* the page is gone */ }
  process.exitCode = 1;
} finally {
  await browser.close();
}
