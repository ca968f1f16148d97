// Alerts: a filtered list, and one alert with its raw events and a Close.

import { app, params, RANGES, ROLE, SEVERITIES } from './common.js';
import { badge, dl, field, fmtTime, h, input, notice, replace, select, table } from './dom.js';
import { all, api, channelNames, go, nowS, opt, pager } from './api.js';

export async function alertsPage() {
  const [channels, sources] = await Promise.all([
    channelNames(), all('/integration/alert-source/list', {}).catch(() => []),
  ]);
  const state = {
    active: params.get('active') || '',
    severity: params.get('severity') || '',
    channel: params.get('channel') || '',
    source: params.get('source') || '',
    range: Number(params.get('range')) || 7 * 86400,
    q: params.get('q') || '',
    p: Number(params.get('p')) || 1,
  };
  const filters = h('form', { class: 'filters', method: 'get', action: '/console/alerts', role: 'search' },
    field('State', select('active', [['', 'Any'], ['true', 'Open'], ['false', 'Closed']], state.active)),
    field('Severity', select('severity', [['', 'Any'], ...SEVERITIES.map((x) => [x, x])], state.severity)),
    field('Channel', select('channel', [['', 'All channels'], ...channels], state.channel)),
    field('Source', select('source', [['', 'All sources'], ...sources.map((s) => [s.integration_id, s.name])], state.source)),
    field('Started', select('range', RANGES, state.range)),
    field('Text', input('q', { type: 'search', value: state.q, placeholder: 'title, label or key' })),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Filter')));
  const detail = h('div', { id: 'alert-detail' });
  const listArea = h('div', { id: 'alert-list' });
  replace(app, filters, detail, listArea);

  const end = nowS() + 60;
  try {
    const d = await api('/alert/list', {
      p: state.p, limit: 50, start_time: Math.max(0, end - state.range - 60), end_time: end,
      is_active: state.active === '' ? undefined : state.active === 'true',
      alert_severity: opt(state.severity), query: opt(state.q),
      channel_ids: state.channel ? [Number(state.channel)] : undefined,
      integration_ids: state.source ? [Number(state.source)] : undefined,
    });
    const rows = d.items.map((a) => h('tr', {},
      h('td', {}, h('a', { href: `/console/alerts?alert=${encodeURIComponent(a.alert_id)}` }, a.title)),
      h('td', {}, badge(a.alert_severity)), h('td', {}, badge(a.alert_status)),
      h('td', {}, a.integration_name || '—'),
      h('td', {}, a.incident ? h('a', { href: `/console/incident?id=${encodeURIComponent(a.incident.incident_id)}` }, a.incident.title) : '—'),
      h('td', {}, fmtTime(a.last_time))));
    replace(listArea, table(['Title', 'Severity', 'Status', 'Source', 'Incident', 'Last'], rows, 'Alerts'),
      h('p', { class: 'hint' }, `${d.total} alert${d.total === 1 ? '' : 's'}`),
      pager(state.p, d.has_next_page, (p) => go('/console/alerts', { ...state, p })));
  } catch (e) {
    replace(listArea, notice(e.message, 'error'));
  }
  if (params.get('alert')) await showAlert(detail, params.get('alert'));
}

async function showAlert(detail, alertId) {
  try {
    const [a, events] = await Promise.all([
      api('/alert/info', { alert_id: alertId }),
      api('/alert/event/list', { alert_id: alertId }).then((r) => r.items),
    ]);
    const out = h('div', { role: 'status' });
    const open = a.progress !== 'Closed';
    const close = open && ROLE !== 'viewer' ? h('button', {
      type: 'button',
      onclick: async () => {
        try {
          await api('/alert/close', { alert_ids: [alertId] });
          await showAlert(detail, alertId);
        } catch (e) {
          replace(out, notice(e.message, 'error'));
        }
      },
    }, 'Close this alert') : null;
    replace(detail, h('section', { class: 'card', 'aria-labelledby': 'alert-h' },
      h('h2', { id: 'alert-h' }, a.title),
      h('p', { class: 'badges' }, badge(a.alert_severity), ' ', badge(a.alert_status), ' ', badge(a.progress)),
      dl([
        ['Key', a.alert_key],
        ['Source', a.integration_name || '—'],
        ['Channel', a.channel_name || '—'],
        ['Incident', a.incident ? a.incident.title : '—'],
        ['Started', fmtTime(a.start_time)],
        ['Last event', fmtTime(a.last_time)],
        a.close_time > 0 && ['Closed', fmtTime(a.close_time)],
        ['Labels', Object.entries(a.labels || {}).map(([k, v]) => `${k}=${v}`).join(', ') || '—'],
      ]),
      h('div', { class: 'buttons' }, close), out,
      h('h3', {}, `Events (${events.length})`),
      h('ol', { class: 'events-list' }, events.map((e) => h('li', {},
        h('strong', {}, `${fmtTime(e.event_time)} ${e.event_status}`),
        h('pre', { class: 'response' }, JSON.stringify({ title: e.title, description: e.description, labels: e.labels }, null, 2)))))));
  } catch (e) {
    replace(detail, notice(e.message, 'error'));
  }
}
