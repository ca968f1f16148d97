// The integration center: webhooks, custom actions, alert sources, e-mail.

import { ALERT_EVENTS, app, eventLabel, INCIDENT_EVENTS, ME, params, ROLE } from './common.js';
import { badge, checkbox, field, fmtTime, h, input, notice, replace, secretBox, select, table } from './dom.js';
import { all, api, channelNames, onSubmit, opt } from './api.js';
import { guardrailControls, readGuardrails } from './action_settings.js';
import { templateEditor } from './template_editor.js';
import { authControls, readAuth } from './auth_settings.js';
import { sourceActions } from './sources.js';
import { emailPanel } from './email.js';

const TABS = [
  ['incident', 'Incident webhooks'], ['alert', 'Alert webhooks'],
  ['action', 'Custom actions'], ['source', 'Alert sources'], ['email', 'E-mail'],
];

export async function integrationsPage() {
  const tab = TABS.some(([t]) => t === params.get('tab')) ? params.get('tab') : 'incident';
  const [channels, teams] = await Promise.all([channelNames(), all('/team/list', {})]);
  const ctx = { tab, channels, teams };
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Integration kinds' }, TABS.map(([t, label]) =>
    h('a', { href: `/console/integrations?tab=${t}`, 'aria-current': t === tab ? 'page' : false }, label)));
  const top = h('div', { id: 'integration-top' });
  const list = h('div', { id: 'integration-list' });
  ctx.top = top;
  ctx.reload = async () => { replace(list, await integrationTable(ctx)); };
  const newButton = h('button', { type: 'button', class: 'primary', onclick: () => openForm(ctx, null) },
    tab === 'source' ? 'New alert source' : tab === 'action' ? 'New custom action' : 'New webhook');
  const creates = ROLE !== 'viewer' && tab !== 'email';
  replace(app, tabs, creates ? h('div', { class: 'toolbar' }, newButton) : null, top, list);
  await ctx.reload();
}

async function integrationTable(ctx) {
  const { tab, channels } = ctx;
  const names = (ids) => (ids === null || ids === undefined ? 'All channels'
    : ids.map((i) => channels.get(i) || `#${i}`).join(', ') || '—');
  try {
    if (tab === 'email') return await emailPanel(healthCell);
    if (tab === 'source') {
      const items = await all('/integration/alert-source/list', {});
      return table(['Name', 'Type', 'Channel', 'Created', ''], items.map((s) => h('tr', {},
        h('td', {}, s.name), h('td', {}, s.source_type), h('td', {}, names([s.channel_id])),
        h('td', {}, fmtTime(s.created_at)),
        h('td', { class: 'row-actions' }, sourceActions(ctx, s, manages(ctx, s)),
          manages(ctx, s) && deleteButton(ctx, '/integration/alert-source/delete', s)))), 'Alert sources');
    }
    if (tab === 'action') {
      const items = await all('/integration/custom-action/list', {});
      return table(['Name', 'Endpoint', 'Channels', 'State', ''], items.map((a) => h('tr', {},
        h('td', {}, a.name), h('td', { class: 'mono' }, a.endpoint), h('td', {}, names(a.channel_ids)),
        h('td', {}, healthCell(a)),
        h('td', { class: 'row-actions' },
          manages(ctx, a) && h('button', { type: 'button', onclick: () => openForm(ctx, a) }, 'Edit'),
          h('a', { class: 'button', href: `/console/history?integration_id=${a.integration_id}` }, 'History'),
          manages(ctx, a) && deleteButton(ctx, '/integration/custom-action/delete', a)))), 'Custom actions');
    }
    const items = await all('/integration/webhook/list', { kind: tab });
    return table(['Name', 'Endpoint', 'Channels', 'Events', 'State', ''], items.map((w) => h('tr', {},
      h('td', {}, w.name), h('td', { class: 'mono' }, w.endpoint), h('td', {}, names(w.channel_ids)),
      h('td', {}, w.event_types.length ? w.event_types.map(eventLabel).join(', ') : 'All'),
      h('td', {}, healthCell(w)),
      h('td', { class: 'row-actions' }, manages(ctx, w) && [
        h('button', { type: 'button', onclick: () => openForm(ctx, w) }, 'Edit'),
        h('button', { type: 'button', onclick: () => toggle(ctx, w) }, w.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', onclick: () => testForm(ctx, w) }, 'Send test')],
      h('a', { class: 'button', href: `/console/history?integration_id=${w.integration_id}` }, 'History'),
      manages(ctx, w) && deleteButton(ctx, '/integration/webhook/delete', w)))), 'Webhooks');
  } catch (e) {
    return notice(e.message, 'error');
  }
}

// Who may change an integration: admins; members when it has no managing
// team or they are in it; viewers never.
function manages(ctx, item) {
  if (ROLE === 'admin') return true;
  if (ROLE !== 'member') return false;
  const team = item.team_id ? ctx.teams.find((t) => t.team_id === item.team_id) : null;
  return !item.team_id || Boolean(team && team.person_ids.includes(ME));
}

// How an integration's pushes have been going: never a green badge on an
// endpoint that is failing.
function healthCell(item) {
  const hl = item.health || {};
  const when = (ms) => (ms ? fmtTime(Math.floor(ms / 1000)) : 'never');
  const streak = `${hl.failure_streak}${hl.failure_streak_capped ? '+' : ''}`;
  const lines = {
    healthy: [badge('Healthy', 'b-ok'), `last success ${when(hl.last_success_at)}`],
    failing: [badge('Failing', 'b-failure'),
      `${streak} failed in a row since ${when(hl.failing_since)}; last success ${when(hl.last_success_at)}`],
    circuit_open: [badge('Circuit open', 'b-failure'),
      `${streak} failed in a row since ${when(hl.failing_since)}; paused until ${when(hl.circuit_open_until)}`],
    disabled: [badge('Disabled', 'b-failure'), [item.disabled_reason || 'disabled by hand',
      hl.skipped ? `; ${hl.skipped} ${hl.skipped === 1 ? 'delivery' : 'deliveries'} skipped, kept for a replay` : ''].join('')],
    unused: [badge('No pushes yet'), ''],
  }[hl.state] || [badge(hl.state || 'unknown'), ''];
  const error = hl.state === 'failing' || hl.state === 'circuit_open'
    ? h('span', { class: 'hint mono' }, ` ${hl.last_error_class}: ${hl.last_error}`) : null;
  return [lines[0], h('span', { class: 'hint' }, ` ${lines[1]}`), error];
}

function deleteButton(ctx, path, item) {
  return h('button', {
    type: 'button', class: 'danger',
    onclick: async () => {
      if (!confirm(`Delete "${item.name}"?`)) return;
      try {
        await api(path, { integration_id: item.integration_id });
        replace(ctx.top, notice(`Deleted "${item.name}".`));
      } catch (e) {
        replace(ctx.top, notice(e.message, 'error'));
      }
      await ctx.reload();
    },
  }, 'Delete');
}

async function toggle(ctx, w) {
  try {
    await api(`/integration/webhook/${w.enabled ? 'disable' : 'enable'}`, { integration_id: w.integration_id });
    replace(ctx.top, notice(`"${w.name}" is now ${w.enabled ? 'disabled' : 'enabled'}.`));
  } catch (e) {
    replace(ctx.top, notice(e.message, 'error'));
  }
  await ctx.reload();
}

function testForm(ctx, w) {
  const events = w.kind === 'alert' ? [...ALERT_EVENTS, 'a_close'] : INCIDENT_EVENTS;
  const out = h('div', { role: 'status' });
  const form = onSubmit(h('form', { class: 'card', 'aria-label': `Send a test push to ${w.name}` },
    h('h2', {}, `Send a test push to "${w.name}"`),
    field('Event type', select('event_type', events.map((e) => [e, eventLabel(e)]), events[0])),
    w.kind === 'incident' ? field('Incident id (optional)', input('incident_id', { pattern: '[0-9a-f]{24}' }), 'A real incident, or leave empty for a sample.') : null,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Send test'),
      h('button', { type: 'button', onclick: () => replace(ctx.top) }, 'Close')),
    out), async (fd) => {
    const r = await api('/integration/webhook/test', {
      integration_id: w.integration_id, event_type: fd.get('event_type'), incident_id: opt(fd.get('incident_id')),
    });
    replace(out, h('div', { class: `result ${r.success ? 'ok' : 'bad'}` },
      h('p', {}, r.success ? `Delivered: HTTP ${r.status_code} in ${r.duration_ms} ms`
        : `Failed: ${r.status_code ? `HTTP ${r.status_code}` : r.error_class} after ${r.duration_ms} ms`),
      r.error ? h('p', {}, r.error) : null,
      r.response_body ? h('pre', { class: 'response' }, r.response_body) : null));
  });
  replace(ctx.top, form);
  form.querySelector('select').focus();
}

function headersEditor(headers) {
  const rows = h('div', { class: 'headers' });
  const addRow = (hd) => {
    const row = h('div', { class: 'header-row', role: 'group', 'aria-label': 'Header' },
      input('header_key', { value: hd.key || '', 'aria-label': 'Header name', placeholder: 'Name' }),
      input('header_value', { value: hd.value || '', 'aria-label': 'Header value', placeholder: 'Value', type: hd.secret ? 'password' : 'text', autocomplete: 'off' }),
      checkbox('header_secret', 'Secret', hd.secret),
      h('button', { type: 'button', class: 'danger', onclick: () => row.remove() }, 'Remove'));
    const secret = row.querySelector('input[type="checkbox"]');
    secret.addEventListener('change', () => { row.children[1].type = secret.checked ? 'password' : 'text'; });
    rows.append(row);
  };
  (headers || []).forEach(addRow);
  return h('fieldset', { 'data-field': 'headers' }, h('legend', {}, 'Custom headers'),
    h('p', { class: 'hint' }, 'Secret values are masked when read back; leave a masked value as it is to keep it.'),
    rows, h('button', { type: 'button', onclick: () => addRow({}) }, 'Add header'));
}

function readHeaders(form) {
  return [...form.querySelectorAll('.header-row')].map((row) => ({
    key: row.children[0].value, value: row.children[1].value,
    secret: row.querySelector('input[type="checkbox"]').checked,
  })).filter((x) => x.key || x.value);
}

function channelPicker(channels, chosen, allowAll) {
  const all = allowAll ? checkbox('all_channels', 'All channels', chosen === null || chosen === undefined) : null;
  const boxes = [...channels].map(([cid, name]) => checkbox('channel_ids', name, (chosen || []).includes(cid), cid));
  const set = h('fieldset', { 'data-field': 'channel_ids' }, h('legend', {}, 'Channels'), all,
    boxes.length ? boxes : h('p', { class: 'hint' }, 'No channels yet: create one under Directory.'));
  if (all) {
    const sync = () => boxes.forEach((b) => { b.querySelector('input').disabled = all.querySelector('input').checked; });
    all.querySelector('input').addEventListener('change', sync);
    sync();
  }
  return set;
}

function eventPicker(kind, chosen) {
  const list = kind === 'alert' ? ALERT_EVENTS : INCIDENT_EVENTS;
  return h('fieldset', { 'data-field': 'event_types', class: 'events' }, h('legend', {}, 'Event types'),
    h('p', { class: 'hint' }, kind === 'alert'
      ? 'None ticked means all. a_close is always delivered.' : 'None ticked means all.'),
    list.map((e) => checkbox('event_types', eventLabel(e), (chosen || []).includes(e), e)));
}

const WRITE_BACK = [['labels', 'Labels'], ['fields', 'Custom fields'], ['comment', 'A comment'],
  ['links', 'Links'], ['resolve', 'Resolve the incident']];

// What the endpoint's JSON answer may change on the incident.
function writeBackPicker(chosen) {
  return h('fieldset', { class: 'write-back' }, h('legend', {}, 'The answer may write back'),
    WRITE_BACK.map(([key, label]) => checkbox('write_back', label, (chosen || []).includes(key), key)),
    h('p', { class: 'hint' }, 'An answer with Content-Type application/json sets these on the incident, all or nothing.'));
}

function openForm(ctx, item) {
  const { tab, channels, teams } = ctx;
  const editing = Boolean(item);
  const teamOptions = [['', 'No managing team'], ...teams.map((t) => [t.team_id, t.team_name])];
  const out = h('div', { role: 'status' });
  const heading = editing ? `Edit "${item.name}"` : TABS.find(([t]) => t === tab)[1].replace(/s$/, '');
  let controls;
  if (tab === 'source') {
    controls = [
      field('Name', input('name', { required: true })),
      field('Type', select('source_type', [['standard', 'Standard events'], ['alertmanager', 'Prometheus Alertmanager']], 'standard')),
      field('Channel', select('channel_id', [...channels], '')),
    ];
  } else {
    const v = item || {};
    controls = [
      field('Name', input('name', { required: true, value: v.name || '', maxlength: tab === 'action' ? 40 : 200 })),
      field('Description', input('description', { value: v.description || '' })),
      field('Endpoint', input('endpoint', { required: true, type: 'url', value: v.endpoint || '', placeholder: 'https://…' })),
      headersEditor(v.headers),
      authControls(v.auth),
      checkbox('tls_verify', 'Verify TLS certificates', v.tls_verify !== false),
      channelPicker(channels, editing ? v.channel_ids : (tab === 'action' ? [] : null), tab !== 'action'),
      tab !== 'action' ? eventPicker(tab, v.event_types) : null,
      tab !== 'action' ? templateEditor(tab, v.body_template, editing ? item.integration_id : null) : null,
      field('Timeout (ms)', input('timeout_ms', { type: 'number', min: 100, max: tab === 'action' ? 10000 : 30000, value: v.timeout_ms || (tab === 'action' ? 1000 : 2000) })),
      tab === 'action' ? field('Mode', select('mode', [['sync', 'Synchronous: the answer ends the run'],
        ['async', 'Long-running: the endpoint reports through a callback']], v.mode || 'sync')) : null,
      tab === 'action' ? field('Deadline of a long-running run (s)', input('async_deadline_s',
        { type: 'number', min: 10, max: 86400, value: v.async_deadline_s || 900 })) : null,
      tab === 'action' ? writeBackPicker(v.write_back) : null,
      tab === 'action' ? guardrailControls(v, teams) : null,
      tab !== 'action' ? field('Retry policy', select('retry_policy', [['backoff', 'Back off and retry'], ['once', 'Retry once'], ['none', 'Never retry']], v.retry_policy || 'backoff')) : null,
      field('Managing team', select('team_id', teamOptions, v.team_id || '')),
    ];
  }
  const form = h('form', { class: 'card', 'aria-label': heading },
    h('h2', {}, heading), controls,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Create'),
      h('button', { type: 'button', onclick: () => replace(ctx.top) }, 'Cancel')), out);
  onSubmit(form, async (fd) => {
    if (tab === 'source') {
      const r = await api('/integration/alert-source/create', {
        name: fd.get('name'), source_type: fd.get('source_type'), channel_id: Number(fd.get('channel_id')),
      });
      replace(ctx.top, notice(`Created alert source #${r.integration_id}.`),
        secretBox('Integration key', r.integration_key));
      await ctx.reload();
      return;
    }
    const allChannels = fd.get('all_channels') === 'on';
    const body = {
      name: fd.get('name'), description: fd.get('description') || '', endpoint: fd.get('endpoint'),
      headers: readHeaders(form), auth: readAuth(fd), tls_verify: fd.get('tls_verify') === 'on',
      channel_ids: allChannels ? undefined : fd.getAll('channel_ids').map(Number),
      timeout_ms: Number(fd.get('timeout_ms')),
      team_id: fd.get('team_id') ? Number(fd.get('team_id')) : 0,
    };
    if (tab === 'action') {
      Object.assign(body, {
        write_back: fd.getAll('write_back'), mode: fd.get('mode'), async_deadline_s: Number(fd.get('async_deadline_s')),
        ...readGuardrails(fd),
      });
    }
    if (tab !== 'action') {
      Object.assign(body, {
        kind: tab, event_types: fd.getAll('event_types'),
        body_template: fd.get('body_template') || '', retry_policy: fd.get('retry_policy'),
      });
    }
    const base = tab === 'action' ? '/integration/custom-action' : '/integration/webhook';
    if (editing) {
      await api(`${base}/update`, { ...body, integration_id: item.integration_id });
      replace(ctx.top, notice(`Saved "${body.name}".`));
    } else {
      const r = await api(`${base}/create`, body);
      replace(ctx.top, notice(`Created "${body.name}" (#${r.integration_id}).`),
        secretBox('Signing secret', r.signing_secret));
    }
    await ctx.reload();
  });
  replace(ctx.top, form);
  form.querySelector('input[name="name"]').focus();
}
