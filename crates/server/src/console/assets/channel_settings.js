// A channel's alert grouping, storm thresholds and e-mail notifications,
// and sentences saying what they do.

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

export function notifySentence(n) {
  const parts = ['Responders are mailed when assigned.'];
  if (n && n.team) parts.push('The channel\'s team is mailed when an incident opens or storms.');
  if (n && n.renotify_minutes > 0) {
    const rounds = Math.max(1, n.renotify_rounds || 1);
    parts.push(`While nobody acknowledges, every ${n.renotify_minutes} minutes up to ${rounds} `
      + `reminder${rounds > 1 ? 's go' : ' goes'} out: to the responders, then the team too.`);
  }
  return parts.join(' ');
}

// `box` holds the form; `top` what saving it did (it outlives the reload).
export function channelSettings(c, box, reload, top) {
  const g = c.grouping || { method: 'n' };
  const sentence = h('p', { class: 'hint', 'aria-live': 'polite' });
  const told = h('p', { class: 'hint', 'aria-live': 'polite' });
  const n = c.notify || {};
  const form = h('form', { class: 'card', 'aria-label': `Settings of ${c.channel_name}` },
    h('h2', {}, `Settings of ${c.channel_name}`),
    h('h3', {}, 'Alert grouping'),
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
    h('h3', {}, 'Notifications by e-mail'),
    checkbox('notify_team', 'Mail the channel\'s team when an incident opens or storms', Boolean(n.team)),
    field('Re-notify after (minutes)', input('renotify_minutes', { type: 'number', min: 0, max: 1440, value: n.renotify_minutes || '' }),
      'Empty or 0: no reminders. Acknowledging stops them.'),
    field('Reminders', select('renotify_rounds', [['1', '1'], ['2', '2'], ['3', '3']], String(n.renotify_rounds || 1))),
    told,
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
      notify: {
        team: fd.get('notify_team') === 'on',
        renotify_minutes: Number(fd.get('renotify_minutes')) || 0,
        renotify_rounds: Number(fd.get('renotify_rounds')) || 1,
      },
    };
  };
  const explain = () => {
    const r = read();
    sentence.textContent = groupingSentence(r.grouping, r.storm_thresholds);
    told.textContent = notifySentence(r.notify);
  };
  form.addEventListener('input', explain);
  form.addEventListener('change', explain);
  explain();
  onSubmit(form, async () => {
    await api('/channel/update', { channel_id: c.channel_id, ...read() });
    replace(box);
    replace(top, notice(`Saved the grouping and notifications of ${c.channel_name}.`));
    await reload();
  });
  replace(box, form);
}
