// A webhook's body template: start from a chat preset, edit it, and see what
// it sends for a sample event before saving.

import { ALERT_EVENTS, eventLabel, INCIDENT_EVENTS } from './common.js';
import { field, h, replace, select, textarea } from './dom.js';
import { api } from './api.js';

// `integrationId`: a saved webhook, whose latest pushed event the preview
// may use instead of a sample.
export function templateEditor(kind, value, integrationId) {
  const area = textarea('body_template', { value: value || '', class: 'mono', rows: 8 });
  const shown = h('pre', { class: 'preview mono', 'aria-live': 'polite', hidden: true });
  const events = kind === 'alert' ? ALERT_EVENTS : INCIDENT_EVENTS;
  const choices = events.map((e) => [e, `A sample: ${eventLabel(e)}`]);
  if (integrationId) choices.unshift(['latest', 'The latest event it pushed']);
  const eventType = select('preview_event', choices, choices[0][0], { 'aria-label': 'Event to preview' });
  const preview = async () => {
    shown.hidden = false;
    try {
      const which = eventType.value === 'latest'
        ? { event_id: await latestEvent(integrationId) } : { event_type: eventType.value };
      const r = await api('/integration/webhook/preview', { body_template: area.value, kind, ...which });
      replace(shown, pretty(r.body));
    } catch (e) {
      replace(shown, e.message);
    }
  };
  const parts = [
    field('Body template', area,
      'Optional JSON with {{path}} variables, e.g. {"text": "{{text.headline}}"}; empty sends the event as it is.'),
  ];
  if (kind !== 'alert') {
    const presets = select('preset', [['', 'Start from a chat preset…']], '', { 'aria-label': 'Chat preset' });
    let templates = new Map();
    api('/integration/webhook/presets', {}).then((r) => {
      templates = new Map(r.items.map((p) => [p.preset, p.body_template]));
      presets.append(...r.items.map((p) => h('option', { value: p.preset }, p.service)));
    }).catch(() => { presets.disabled = true; });
    presets.addEventListener('change', () => {
      if (!templates.has(presets.value)) return;
      area.value = templates.get(presets.value);
      preview();
    });
    parts.unshift(h('div', { class: 'field' }, presets));
  }
  parts.push(h('div', { class: 'buttons' }, eventType,
    h('button', { type: 'button', onclick: preview }, 'Preview')), shown);
  return h('fieldset', { class: 'template' }, h('legend', {}, 'What is sent'), parts);
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

async function latestEvent(integrationId) {
  const now = Math.floor(Date.now() / 1000);
  const r = await api('/integration/history/list', {
    integration_id: integrationId, start_time: now - 7 * 86400, end_time: now + 60, limit: 100,
  });
  // Test pushes carry sample events, which are not kept.
  const real = r.items.find((a) => !a.test);
  if (!real) throw new Error('Nothing was pushed to it in the last 7 days: preview a sample instead.');
  return real.event_id;
}
