// The incident list and the form that creates one.

import { app, params, PROGRESS, RANGES, ROLE, SEVERITIES } from './common.js';
import { badge, field, fmtTime, h, input, notice, replace, select, table, textarea } from './dom.js';
import { api, channelNames, go, nowS, onSubmit, opt, pager } from './api.js';

export async function incidentsPage() {
  const channels = await channelNames();
  const state = {
    progress: params.get('progress') || '',
    severity: params.get('severity') || '',
    channel: params.get('channel') || '',
    range: Number(params.get('range')) || 7 * 86400,
    q: params.get('q') || '',
    p: Number(params.get('p')) || 1,
  };
  const channelOptions = [['', 'All channels'], ...[...channels].map(([id, n]) => [id, n])];
  const filters = h('form', { class: 'filters', method: 'get', action: '/console/incidents', role: 'search' },
    field('Progress', select('progress', [['', 'Any'], ...PROGRESS.map((x) => [x, x])], state.progress)),
    field('Severity', select('severity', [['', 'Any'], ...SEVERITIES.map((x) => [x, x])], state.severity)),
    field('Channel', select('channel', channelOptions, state.channel)),
    field('Created', select('range', RANGES.map(([s, t]) => [s, t]), state.range)),
    field('Text', input('q', { type: 'search', value: state.q, placeholder: 'title, label, id or number' })),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Filter')));

  const create = ROLE !== 'viewer' ? createIncidentForm(channels) : null;
  const listArea = h('div', { id: 'incident-list' });
  const updated = h('p', { class: 'hint', role: 'status' });
  // Outside the list, so what a bulk operation did outlives the reload.
  const done = h('p', { role: 'status', class: 'hint' });
  replace(app, h('div', { class: 'toolbar' }, create), filters, updated, done, listArea);

  const load = async () => {
    const end = nowS() + 60;
    const body = {
      p: state.p, limit: 20, start_time: Math.max(0, end - state.range - 60), end_time: end,
      progress: opt(state.progress), incident_severity: opt(state.severity),
      channel_ids: state.channel ? [Number(state.channel)] : undefined, query: opt(state.q),
    };
    try {
      const [d, awaiting] = await Promise.all([
        api('/incident/list', body),
        api('/incident/action/run/awaiting', {}).then((r) => r.items).catch(() => []),
      ]);
      const waits = new Set(awaiting.map((r) => r.incident_id));
      const operator = ROLE !== 'viewer';
      const rows = d.items.map((i) => h('tr', {},
        operator ? h('td', {}, h('input', {
          type: 'checkbox', name: 'selected', value: i.incident_id, 'aria-label': `Select ${i.num} ${i.title}`,
        })) : null,
        h('td', { class: 'wide-only' }, i.num),
        h('td', {}, h('a', { href: `/console/incident?id=${encodeURIComponent(i.incident_id)}` }, i.title),
          waits.has(i.incident_id) ? [' ', badge('Approval needed', 'approval')] : null),
        h('td', {}, badge(i.incident_severity)),
        h('td', {}, badge(i.progress), i.snoozed_before > nowS() ? [' ', badge('Snoozed')] : null),
        h('td', { class: 'wide-only' }, (i.responders || []).map((r) => r.person_name).join(', ') || '—'),
        h('td', { class: 'wide-only' }, String(i.alert_cnt)),
        h('td', { class: 'wide-only', title: fmtTime(i.created_at) }, age(i.created_at)),
        h('td', { class: 'wide-only' }, i.channel_name || channels.get(i.channel_id) || '—')));
      const headers = [...(operator ? ['Select'] : []), 'Num', 'Title', 'Severity', 'Progress', 'Responders',
        'Alerts', 'Age', 'Channel'];
      const list = table(headers, rows, 'Incidents');
      // A phone shows what to act on: the title, severity and progress.
      const wide = ['Num', 'Responders', 'Alerts', 'Age', 'Channel'];
      list.querySelectorAll('th').forEach((th) => { if (wide.includes(th.textContent)) th.classList.add('wide-only'); });
      replace(listArea, operator ? bulkBar(list, load, done) : null, list,
        h('p', { class: 'hint' }, `${d.total} incident${d.total === 1 ? '' : 's'}`),
        pager(state.p, d.has_next_page, (p) => go('/console/incidents', { ...state, p })));
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every 15 seconds.`;
    } catch (e) {
      replace(listArea, notice(e.message, 'error'));
    }
  };
  await load();
  setInterval(() => { if (document.visibilityState === 'visible') load(); }, 15000);
}

// "3 min", "5 h", "2 d": how long ago an incident started.
function age(createdS) {
  const s = Math.max(0, nowS() - createdS);
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// Acknowledge or resolve the incidents ticked in `list`, in one call each.
function bulkBar(list, reload, out) {
  const run = (label, path) => h('button', {
    type: 'button',
    onclick: async () => {
      const ids = [...list.querySelectorAll('input[name="selected"]:checked')].map((c) => c.value);
      if (!ids.length) { out.textContent = 'Tick the incidents first.'; return; }
      try {
        await api(path, { incident_ids: ids });
        out.textContent = `${label}: ${ids.length} incident${ids.length === 1 ? '' : 's'}.`;
        await reload();
      } catch (e) {
        out.textContent = e.message;
      }
    },
  }, `${label} selected`);
  return h('div', { class: 'toolbar bulk' }, run('Acknowledge', '/incident/ack'), run('Resolve', '/incident/resolve'));
}

function createIncidentForm(channels) {
  const form = h('form', { class: 'card', 'aria-label': 'New incident' },
    field('Title', input('title', { required: true, minlength: 3, maxlength: 512 })),
    field('Severity', select('incident_severity', SEVERITIES.map((x) => [x, x]), 'Warning')),
    field('Channel', select('channel_id', [['', 'No channel'], ...[...channels]], '')),
    field('Description', textarea('description', { maxlength: 6144 })),
    h('button', { type: 'submit' }, 'Create incident'));
  onSubmit(form, async (fd) => {
    const inc = await api('/incident/create', {
      title: fd.get('title'), incident_severity: fd.get('incident_severity'),
      channel_id: fd.get('channel_id') ? Number(fd.get('channel_id')) : undefined,
      description: opt(fd.get('description')),
    });
    go('/console/incident', { id: inc.incident_id });
  });
  return h('details', { class: 'create' }, h('summary', {}, 'New incident'), form);
}
