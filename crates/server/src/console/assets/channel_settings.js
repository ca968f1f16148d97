// A channel's alert grouping and storm thresholds, and a sentence saying
// what they do.

import { checkbox, field, h, input, notice, replace, select } from './dom.js';
import { api, onSubmit } from './api.js';

const list = (text) => String(text || '').split(',').map((s) => s.trim()).filter(Boolean);

export function groupingSentence(grouping, storms) {
  const g = grouping || { method: 'n' };
  let text;
  if (g.method !== 'p') {
    text = 'Every alert opens its own incident.';
  } else {
    const dims = (g.dimensions || []).length ? g.dimensions.join(', ') : 'title';
    text = `Alerts with the same ${dims} join one open incident`;
    if (g.window_minutes) {
      text += g.window_start === 'merge'
        ? ` while the last one joined less than ${g.window_minutes} minutes ago`
        : ` within ${g.window_minutes} minutes of its creation`;
    }
    text += g.strict ? '; an alert lacking one of them opens its own.' : '.';
  }
  if ((storms || []).length) text += ` A storm is announced at ${storms.join(', ')} alerts.`;
  return text;
}

// `box` holds the form; `top` what saving it did (it outlives the reload).
export function channelSettings(c, box, reload, top) {
  const g = c.grouping || { method: 'n' };
  const sentence = h('p', { class: 'hint', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', 'aria-label': `Alert grouping of ${c.channel_name}` },
    h('h2', {}, `Alert grouping of ${c.channel_name}`),
    field('Method', select('method', [['n', 'Every alert its own incident'], ['p', 'Group alike alerts']], g.method || 'n')),
    field('Alike in', input('dimensions', { value: (g.dimensions || []).join(', '), placeholder: 'title, labels.host' }),
      'Comma-separated: title, description, labels.<name>.'),
    field('Window (minutes)', input('window_minutes', { type: 'number', min: 1, value: g.window_minutes || '' }),
      'Empty: no limit.'),
    field('Window starts', select('window_start', [['incident', 'When the incident is created'],
      ['merge', 'Again at each alert that joins']], g.window_start || 'incident')),
    checkbox('strict', 'An alert lacking a dimension opens its own incident', Boolean(g.strict)),
    field('Storm thresholds', input('storm_thresholds', { value: (c.storm_thresholds || []).join(', '), placeholder: '10, 50' }),
      'Alert counts at which an alert storm is announced.'),
    sentence,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', onclick: () => replace(box) }, 'Cancel')));
  const read = () => {
    const fd = new FormData(form);
    const minutes = Number(fd.get('window_minutes'));
    return {
      grouping: {
        method: fd.get('method'), dimensions: list(fd.get('dimensions')),
        window_minutes: minutes > 0 ? minutes : undefined, window_start: fd.get('window_start'),
        strict: fd.get('strict') === 'on',
      },
      storm_thresholds: list(fd.get('storm_thresholds')).map(Number),
    };
  };
  const explain = () => { const r = read(); sentence.textContent = groupingSentence(r.grouping, r.storm_thresholds); };
  form.addEventListener('input', explain);
  form.addEventListener('change', explain);
  explain();
  onSubmit(form, async () => {
    await api('/channel/update', { channel_id: c.channel_id, ...read() });
    replace(box);
    replace(top, notice(`Saved the grouping of ${c.channel_name}.`));
    await reload();
  });
  replace(box, form);
}
