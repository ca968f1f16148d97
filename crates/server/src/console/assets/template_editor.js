// A webhook's body template: start from a chat preset, edit it, and see what
// it sends for a sample event before saving.

import { INCIDENT_EVENTS, ALERT_EVENTS } from './common.js';
import { field, h, replace, select, textarea } from './dom.js';
import { api } from './api.js';

export function templateEditor(kind, value) {
  const area = textarea('body_template', { value: value || '', class: 'mono', rows: 8 });
  const shown = h('pre', { class: 'preview mono', 'aria-live': 'polite', hidden: true });
  const events = kind === 'alert' ? ALERT_EVENTS : INCIDENT_EVENTS;
  const eventType = select('preview_event', events.map((e) => [e, e]), events[0], { 'aria-label': 'Event to preview' });
  const preview = async () => {
    shown.hidden = false;
    try {
      const r = await api('/integration/webhook/preview', { body_template: area.value, event_type: eventType.value });
      replace(shown, JSON.stringify(r.body, null, 2));
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
