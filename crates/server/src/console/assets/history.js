// The invocation history and one invocation's request and response.

import { ALERT_EVENTS, app, eventLabel, INCIDENT_EVENTS, params, ROLE } from './common.js';
import { append, badge, dl, field, fmtMs, h, input, notice, replace, select, table } from './dom.js';
import { api, go, nowS, opt, pager } from './api.js';
import { replayPanel } from './replay.js';

// Presets up to the history's retention, and the whole retention.
const RETENTION_S = Number(document.body.dataset.retentionS) || 7 * 86400;
const HISTORY_RANGES = [[3600, 'Last hour'], [86400, 'Last 24 hours'], [7 * 86400, 'Last 7 days']]
  .filter(([s]) => s < RETENTION_S)
  .concat([[RETENTION_S, `All kept (${RETENTION_S >= 86400 ? `${+(RETENTION_S / 86400).toFixed(1)} days` : `${Math.round(RETENTION_S / 3600)} hours`})`]]);

export async function historyPage() {
  const integrationId = Number(params.get('integration_id'));
  if (!integrationId) {
    replace(app, notice('Open the history from an integration in the Integration center.'),
      h('p', {}, h('a', { href: '/console/integrations' }, 'Integration center')));
    return;
  }
  const integ = await api('/integration/webhook/info', { integration_id: integrationId })
    .catch(() => api('/integration/custom-action/info', { integration_id: integrationId }))
    .catch(() => api('/integration/email/info', {}).then((m) => (m.integration_id === integrationId ? { name: 'E-mail' } : null)))
    .catch(() => null);
  if (integ) document.getElementById('page-title').textContent = `Invocation history: ${integ.name}`;
  const state = {
    range: Math.min(Number(params.get('range')) || 86400, RETENTION_S), incident_id: params.get('incident_id') || '',
    alert_id: params.get('alert_id') || '', event_type: params.get('event_type') || '',
    status: params.get('status') || '', p: Number(params.get('p')) || 1,
  };
  const events = [...INCIDENT_EVENTS, ...ALERT_EVENTS, 'a_close'];
  const filters = h('form', { class: 'filters', method: 'get', action: '/console/history', role: 'search' },
    h('input', { type: 'hidden', name: 'integration_id', value: integrationId }),
    field('Time', select('range', HISTORY_RANGES, state.range)),
    field('Incident id', input('incident_id', { value: state.incident_id })),
    field('Alert id', input('alert_id', { value: state.alert_id })),
    field('Event type', select('event_type', [['', 'Any'], ...events.map((e) => [e, eventLabel(e)])], state.event_type)),
    field('Status', select('status', [['', 'Any'], ['success', 'Success'], ['failure', 'Failure']], state.status)),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Filter')));
  const detail = h('div', { id: 'invocation' });
  const listArea = h('div');
  // Webhooks only (a custom action calls when someone presses it); not for viewers.
  const replay = integ && integ.kind && ROLE !== 'viewer' ? replayPanel(integ, HISTORY_RANGES) : null;
  replace(app, h('p', {}, h('a', { href: '/console/integrations' }, '← Integration center')), replay, filters, detail, listArea);
  const end = nowS() + 60;
  try {
    const d = await api('/integration/history/list', {
      integration_id: integrationId, start_time: end - state.range - 60, end_time: end,
      incident_id: opt(state.incident_id), alert_id: opt(state.alert_id), event_type: opt(state.event_type),
      status: opt(state.status), p: state.p, limit: 20,
    });
    const rows = d.items.map((r) => h('tr', {},
      h('td', {}, fmtMs(r.started_at)),
      h('td', {}, eventLabel(r.event_type), r.test ? [' ', badge('test', 'plain')] : null),
      h('td', {}, r.incident_id ? h('a', { href: `/console/incident?id=${r.incident_id}` }, r.incident_id.slice(-6).toUpperCase()) : (r.alert_id || '—')),
      h('td', { class: 'mono' }, r.event_id),
      h('td', {}, badge(r.status === 'success' ? 'Success' : 'Failure'), ' ', r.http_status ? `HTTP ${r.http_status}` : r.error_class),
      h('td', {}, `${r.duration_ms} ms`),
      h('td', {}, String(r.attempt)),
      h('td', {}, h('button', { type: 'button', onclick: () => showInvocation(detail, r.invocation_id) }, 'View'))));
    append(listArea, [table(['Time', 'Event', 'Incident', 'Event id', 'Status', 'Duration', 'Attempt', ''], rows, 'Invocations'),
      pager(state.p, d.has_next_page, (p) => go('/console/history', { integration_id: integrationId, ...state, p }))]);
  } catch (e) {
    append(listArea, notice(e.message, 'error'));
  }
}

async function showInvocation(detail, invocationId) {
  let r;
  try {
    r = await api('/integration/history/info', { invocation_id: invocationId });
  } catch (e) {
    replace(detail, notice(e.message, 'error'));
    return;
  }
  const out = h('div', { role: 'status' });
  const s = r.summary || r;
  // An HTTP message as people read it: first line, headers, blank line, body.
  const httpText = (m) => {
    if (!m || typeof m !== 'object') return String(m ?? '—');
    const lines = [];
    if (m.url) lines.push(`${m.method || 'POST'} ${m.url}`);
    if (m.status) lines.push(`HTTP ${m.status}`);
    for (const x of m.headers || []) lines.push(`${x.key}: ${x.value}`);
    let body = m.body ?? '';
    try { body = JSON.stringify(JSON.parse(body), null, 2); } catch { /* not JSON: as sent */ }
    if (typeof body !== 'string') body = JSON.stringify(body, null, 2);
    lines.push('', body);
    if (m.truncated) lines.push('… (cut at 64 KiB)');
    return lines.join('\n');
  };
  replace(detail, h('section', { class: 'card', 'aria-labelledby': 'inv-h' },
    h('h2', { id: 'inv-h', tabindex: '-1' }, `Invocation ${s.invocation_id}`),
    dl([
      ['Event', `${eventLabel(s.event_type)}, event ${s.event_id}`],
      ['Started', fmtMs(s.started_at)],
      ['Status', `${s.status}${s.http_status ? `, HTTP ${s.http_status}` : ''}`],
      s.error_class && ['Failure class', s.error_class],
      s.error && ['Error', s.error],
      ['Duration', `${s.duration_ms} ms`],
      ['Attempt', String(s.attempt)],
      ['Delivery', `${r.delivery_state || '—'} after ${r.delivery_attempts ?? '—'} attempts`],
    ]),
    h('h3', {}, 'Request'), h('pre', { class: 'response', 'data-part': 'request' }, httpText(r.request)),
    h('h3', {}, 'Response'), h('pre', { class: 'response', 'data-part': 'response' }, httpText(r.response)),
    h('div', { class: 'buttons' },
      ROLE !== 'viewer' && h('button', {
        type: 'button', class: 'primary',
        onclick: async () => {
          try {
            const x = await api('/integration/history/resend', { invocation_id: invocationId });
            replace(out, notice(`Resent: delivery #${x.delivery_id} queued with event ${x.event_id}.`));
          } catch (e) {
            replace(out, notice(e.message, 'error'));
          }
        },
      }, 'Resend'),
      h('button', { type: 'button', onclick: () => replace(detail) }, 'Close')),
    out));
  detail.querySelector('h2').focus();
}
