// Takes the console screenshots in docs/ over realistic data: what a
// payments team's bad evening looks like, made through the Open API, then
// photographed at desktop and phone width. Run by scripts/screenshots,
// which starts dutyhook and two `dutyhook listen` receivers.
//
// Environment: BASE, EMAIL, PASSWORD and KEY (the admin), ACTION (the
// restart endpoint), HOOK (the chat relay), OUT (where the images go),
// CHROMIUM.
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('BASE');

async function api(path, body, key = env('KEY')) {
  const resp = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const v = await resp.json();
  if (v.error) throw new Error(`${path}: ${v.error.message}`);
  return v.data;
}

async function alert(integrationKey, body) {
  const resp = await fetch(`${BASE}/event/push/alert/standard?integration_key=${integrationKey}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!resp.ok) throw new Error(`alert: HTTP ${resp.status} ${await resp.text()}`);
}

const pause = (ms) => new Promise((r) => { setTimeout(r, ms); });

// The team, its channels, integrations and incidents.
const payments = (await api('/channel/create', { channel_name: 'Payments', description: 'Checkout, payment gateway, ledger' })).channel_id;
const platform = (await api('/channel/create', { channel_name: 'Platform', description: 'Databases, Kubernetes, networking' })).channel_id;
const people = {};
for (const [name, email, role] of [['Jonas Weber', 'jonas@example.com', 'member'],
  ['Priya Nair', 'priya@example.com', 'member'], ['Tom Alvarez', 'tom@example.com', 'viewer']]) {
  const id = (await api('/person/create', { person_name: name, email, role })).person_id;
  const key = (await api('/app-key/create', { name: 'laptop', person_id: id })).app_key;
  people[name.split(' ')[0]] = { id, key };
}
await api('/team/create', { team_name: 'Payments on-call', person_ids: [people.Jonas.id, people.Priya.id] });
await api('/integration/webhook/create', {
  kind: 'incident', name: 'Payments channel in Slack', endpoint: env('HOOK'), preset: 'slack', channel_ids: [payments],
});
await api('/integration/custom-action/create', {
  name: 'Restart pod', channel_ids: [payments], endpoint: env('ACTION'), write_back: ['labels', 'links'],
  description: 'Rolling restart of the service in the incident\'s labels',
});
await api('/integration/custom-action/create', {
  name: 'Roll back deploy', channel_ids: [payments], endpoint: env('ACTION'),
});
const prometheus = (await api('/integration/alert-source/create', {
  name: 'Prometheus (prod)', source_type: 'standard', channel_id: platform,
})).integration_key;

await alert(prometheus, {
  event_status: 'Warning', title_rule: 'Disk 91% full on db-payments-2', alert_key: 'disk-db-payments-2',
  description: '/var/lib/postgresql: 91% used, 38 GiB free', labels: { host: 'db-payments-2', env: 'prod', mount: '/var/lib/postgresql' },
});
await alert(prometheus, {
  event_status: 'Critical', title_rule: 'Node ip-10-4-7-21 not ready', alert_key: 'node-ip-10-4-7-21',
  labels: { node: 'ip-10-4-7-21', cluster: 'prod-eu-west-1', env: 'prod' },
});

const ledger = await api('/incident/create', {
  title: 'Nightly ledger export failed', incident_severity: 'Info', channel_id: payments,
  description: 'The 02:00 export to the accounting bucket stopped after 41 of 64 partitions.',
});
await api('/incident/ack', { incident_ids: [ledger.incident_id] }, people.Priya.key);
await api('/incident/resolve', {
  incident_ids: [ledger.incident_id], root_cause: 'Bucket credentials rotated without updating the job',
  resolution: 'Job secret updated; export re-run and complete',
}, people.Priya.key);

const gateway = await api('/incident/create', {
  title: 'Payment gateway answers 502 for 3 % of card payments', incident_severity: 'Warning', channel_id: payments,
}, people.Priya.key);
await api('/incident/ack', { incident_ids: [gateway.incident_id] }, people.Priya.key);

const checkout = await api('/incident/create', {
  title: 'Checkout error rate above 5 %', incident_severity: 'Critical', channel_id: payments,
  description: 'HTTP 5xx on POST /api/checkout rose from 0.2 % to 6.8 % at 19:42, right after deploy v2026.11.30-2.',
  impact: 'About 1 in 15 customers cannot complete an order.',
});
await api('/incident/ack', { incident_ids: [checkout.incident_id] }, people.Jonas.key);
await api('/incident/responder/add', { incident_id: checkout.incident_id, person_ids: [people.Priya.id] }, people.Jonas.key);
await api('/incident/labels/update', {
  incident_id: checkout.incident_id, labels: { service: 'checkout-api', env: 'prod', region: 'eu-west-1' },
}, people.Jonas.key);
await api('/incident/comment', {
  incident_ids: [checkout.incident_id],
  comment: 'Error logs point at the new connection pool settings in v2026.11.30-2. Restarting first, rollback ready.',
}, people.Jonas.key);
await pause(1500);

// The pictures, taken as the admin would see them.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const OUT = env('OUT');
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${BASE}/console/login`);
  await page.getByLabel('Email').fill(env('EMAIL'));
  await page.getByLabel('Password').fill(env('PASSWORD'));
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/console\/incidents$/);
  const settle = async () => {
    await page.locator('#app').filter({ hasNotText: 'Loading…' }).waitFor();
    await page.waitForLoadState('networkidle');
  };
  const shot = (name) => page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });

  await page.goto(`${BASE}/console/incident?id=${checkout.incident_id}`);
  await settle();
  await page.getByText('More actions').click();
  await page.getByRole('button', { name: 'Restart pod' }).click();
  await page.locator('#action-result').getByText('"Restart pod" succeeded').waitFor();
  await page.locator('ul.links a').first().waitFor();
  await shot('console-incident');

  await page.goto(`${BASE}/console/incidents`);
  await settle();
  await shot('console-incidents');

  await page.goto(`${BASE}/console/integrations?tab=incident`);
  await settle();
  await page.getByRole('link', { name: 'History' }).first().click();
  await settle();
  await page.getByRole('button', { name: 'View' }).first().click();
  await page.locator('#invocation').getByRole('heading', { name: /Invocation / }).waitFor();
  await shot('console-history');

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${BASE}/console/incidents`);
  await settle();
  await shot('console-incidents-phone');
  await page.goto(`${BASE}/console/incident?id=${checkout.incident_id}`);
  await settle();
  await page.screenshot({ path: `${OUT}/console-incident-phone.png` });
  process.stdout.write(`screenshots written to ${OUT}\n`);
} finally {
  await browser.close();
}
