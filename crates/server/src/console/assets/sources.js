// An alert source's row actions: edit its name and channel, send a test
// event through ingestion, and read its recent events.

import { field, h, input, notice, replace, select, fmtTime } from './dom.js';
import { api, nowS, onSubmit } from './api.js';

export function sourceActions(ctx, s, manages) {
  return [
    manages && h('button', { type: 'button', onclick: () => editSource(ctx, s) }, 'Edit'),
    manages && h('button', { type: 'button', onclick: () => testSource(ctx, s) }, 'Send test event'),
    h('button', { type: 'button', onclick: () => recentEvents(ctx, s) }, 'Recent events'),
  ];
}

function editSource(ctx, s) {
  const form = h('form', { class: 'card', 'aria-label': `Edit "${s.name}"` },
    h('h2', {}, `Edit "${s.name}"`),
    field('Name', input('name', { required: true, value: s.name, maxlength: 100 })),
    field('Channel', select('channel_id', [...ctx.channels], s.channel_id)),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', onclick: () => replace(ctx.top) }, 'Cancel')));
  onSubmit(form, async (fd) => {
    await api('/integration/alert-source/update', {
      integration_id: s.integration_id, name: fd.get('name'), channel_id: Number(fd.get('channel_id')),
    });
    replace(ctx.top, notice(`Saved "${fd.get('name')}".`));
    await ctx.reload();
  });
  replace(ctx.top, form);
}

async function testSource(ctx, s) {
  try {
    await api('/integration/alert-source/test', { integration_id: s.integration_id });
    replace(ctx.top, notice(`"${s.name}" sent a test alert (key dutyhook-test); it groups and notifies like any alert.`),
      h('p', {}, h('a', { href: '/console/alerts?q=dutyhook-test' }, 'See it on the alerts page')));
  } catch (e) {
    replace(ctx.top, notice(e.message, 'error'));
  }
}

async function recentEvents(ctx, s) {
  try {
    const end = nowS() + 60;
    const r = await api('/alert-event/list', {
      integration_ids: [s.integration_id], start_time: end - 7 * 86400, end_time: end, limit: 20,
    });
    replace(ctx.top, h('section', { class: 'card', 'aria-label': `Recent events of "${s.name}"` },
      h('h2', {}, `Recent events of "${s.name}"`),
      r.items.length ? h('ol', { class: 'events-list' }, r.items.map((e) => h('li', {},
        h('strong', {}, `${fmtTime(e.event_time)} ${e.event_status}`), ' ', e.title,
        ' ', h('a', { href: `/console/alerts?alert=${encodeURIComponent(e.alert_id)}` }, 'alert'))))
        : h('p', { class: 'hint' }, 'No events in the last 7 days.'),
      h('button', { type: 'button', onclick: () => replace(ctx.top) }, 'Close')));
  } catch (e) {
    replace(ctx.top, notice(e.message, 'error'));
  }
}
