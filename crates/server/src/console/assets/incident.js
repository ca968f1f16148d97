// One incident: its details, operations, custom fields and timeline.

import { app, ME, params, ROLE, SEVERITIES, SNOOZES } from './common.js';
import { peopleOf, timelineEntry } from './timeline.js';
import { mergePanel, peoplePanel } from './incident_people.js';
import { badge, dl, field, fmtMs, fmtTime, h, input, notice, replace, select, table, textarea } from './dom.js';
import { api, nowS, onSubmit } from './api.js';
import { isOpen, linksList, runsTable, triggerResult } from './runs.js';
import { askBeforeRun } from './action_form.js';

export async function incidentPage() {
  const id = params.get('id') || '';
  const result = h('div', { id: 'action-result', role: 'status', 'aria-live': 'polite' });
  const area = h('div');
  replace(app, result, area);
  const fields = await api('/field/list', {}).then((d) => d.items).catch(() => []);

  // Came from a mail's "Acknowledge it": offered once, pressed by the person.
  let askAck = params.get('acknowledge') === '1';
  const show = (text, kind, extra) => replace(result, h('div', { class: `result ${kind}` }, h('p', {}, text), extra));

  async function op(label, path, body) {
    try {
      await api(path, { incident_ids: [id], ...body });
      show(`${label}: done.`, 'ok');
    } catch (e) {
      show(`${label} failed: ${e.message}`, 'bad');
    }
    await render();
  }

  async function render() {
    let inc;
    try {
      inc = await api('/incident/info', { incident_id: id });
    } catch (e) {
      replace(area, notice(e.message, 'error'), h('p', {}, h('a', { href: '/console/incidents' }, 'Back to the incidents')));
      return;
    }
    document.title = `${inc.title} · dutyhook`;
    document.getElementById('page-title').textContent = `Incident ${inc.num}`;
    const [feed, shown, alerts, runs] = await Promise.all([
      api('/incident/feed', { incident_id: id, limit: 100 }).then((d) => d.items).catch(() => []),
      api('/incident/action/list', { incident_id: id }).then((d) => d.items).catch(() => []),
      api('/alert/list', { incident_id: id, start_time: 0, end_time: nowS() + 60, limit: 100 })
        .then((d) => d.items).catch(() => []),
      api('/incident/action/run/list', { incident_id: id }).then((d) => d.items).catch(() => []),
    ]);
    const names = await peopleOf(feed);
    const closedNow = inc.progress === 'Closed';
    const peopleBox = operates && !closedNow
      ? await peoplePanel(inc, async (message) => { show(message, 'ok'); await render(); }) : null;
    actions = shown;
    current = inc;
    const mine = (inc.responders || []).find((r) => r.person_id === ME);
    const closed = inc.progress === 'Closed';
    const snoozed = inc.snoozed_before > nowS();

    // Viewers read: no control that would only be refused.
    const buttons = operates ? h('div', { class: 'buttons', role: 'group', 'aria-label': 'Incident operations' }) : null;
    if (buttons && !closed) {
      if (mine && mine.acknowledged_at) buttons.append(h('button', { type: 'button', onclick: () => op('Unacknowledge', '/incident/unack') }, 'Unacknowledge'));
      else {
        const ack = h('button', { type: 'button', class: 'primary', onclick: () => op('Acknowledge', '/incident/ack') }, 'Acknowledge');
        buttons.append(ack);
        if (askAck) {
          askAck = false;
          show('You were asked to acknowledge this incident: press Acknowledge to tell the others you are on it.', 'ok');
          setTimeout(() => ack.focus());
        }
      }
      if (snoozed) buttons.append(h('button', { type: 'button', onclick: () => op('Wake', '/incident/wake') }, 'Wake'));
      const snooze = select('minutes', SNOOZES, 60, { 'aria-label': 'Snooze for' });
      buttons.append(h('span', { class: 'inline' }, snooze,
        h('button', { type: 'button', onclick: () => op('Snooze', '/incident/snooze', { minutes: Number(snooze.value) }) }, 'Snooze')));
      buttons.append(h('button', { type: 'button', onclick: () => op('Resolve', '/incident/resolve') }, 'Resolve'));
    }
    if (buttons) buttons.append(moreActions(actions));

    const reopen = closed && operates ? onSubmit(h('form', { class: 'inline-form' },
      field('Reason to reopen', input('reason', { required: true })),
      h('button', { type: 'submit' }, 'Reopen')), async (fd) => {
      await api('/incident/reopen', { incident_ids: [id], reason: fd.get('reason') });
      show('Reopen: done.', 'ok');
      await render();
    }) : null;

    const comment = operates && onSubmit(h('form', { class: 'card' },
      field('Comment', textarea('comment', { required: true, maxlength: 10000 })),
      h('button', { type: 'submit' }, 'Add comment')), async (fd) => {
      await api('/incident/comment', { incident_ids: [id], comment: fd.get('comment') });
      show('Comment added.', 'ok');
      await render();
    });

    replace(area,
      h('section', { class: 'incident-head', 'aria-labelledby': 'inc-title' },
        h('h2', { id: 'inc-title' }, inc.title),
        h('p', { class: 'badges' }, badge(inc.incident_severity), ' ', badge(inc.progress), ' ',
          badge(`Status ${inc.incident_status}`, 'plain'), snoozed ? [' ', badge('Snoozed')] : null)),
      buttons, reopen,
      h('div', { class: 'columns' },
        h('section', { 'aria-labelledby': 'facts-h' },
          h('h3', { id: 'facts-h' }, 'Details'),
          dl([
            ['Channel', inc.channel_name || '—'],
            ['Created', fmtTime(inc.created_at)],
            ['Creator', inc.creator ? inc.creator.person_name : '—'],
            ['Triggered', fmtTime(inc.start_time)],
            inc.last_time > 0 && ['Last alert', fmtTime(inc.last_time)],
            inc.end_time > 0 && ['Recovered', fmtTime(inc.end_time)],
            ['Acknowledged', fmtTime(inc.ack_time)],
            snoozed && ['Snoozed until', fmtTime(inc.snoozed_before)],
            ['Closed', fmtTime(inc.close_time)],
            inc.closer && ['Closed by', inc.closer.person_name],
            ['Alerts', String(inc.alert_cnt || 0)],
            ['Description', inc.description || '—'],
            ['Impact', inc.impact || '—'],
            ['Root cause', inc.root_cause || '—'],
            ['Resolution', inc.resolution || '—'],
          ]),
          h('h3', {}, 'Responders'),
          (inc.responders || []).length
            ? h('ul', {}, inc.responders.map((r) => h('li', {}, r.person_name,
              r.acknowledged_at ? ` — acknowledged ${fmtTime(r.acknowledged_at)}` : '')))
            : h('p', { class: 'hint' }, 'No responders.'),
          peopleBox, operates && !closedNow ? mergePanel(inc) : null,
          h('h3', {}, 'Links'),
          h('div', { id: 'links' }, linksList(inc.links)),
          h('h3', {}, 'Labels'),
          h('div', { id: 'labels' }, labelsView(inc.labels)),
          h('h3', {}, 'Custom fields'),
          Object.keys(inc.fields || {}).length
            ? dl(Object.entries(inc.fields).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
            : h('p', { class: 'hint' }, 'No custom fields set.'),
          operates ? editForm(inc, fields, show, render) : null,
          h('h3', {}, 'Alerts'),
          table(['Title', 'Severity', 'Status', 'Last'], alerts.map((a) => h('tr', {},
            h('td', {}, h('a', { href: `/console/alerts?alert=${encodeURIComponent(a.alert_id)}` }, a.title)),
            h('td', {}, badge(a.alert_severity)), h('td', {}, badge(a.alert_status)),
            h('td', {}, fmtTime(a.last_time)))), 'Alerts'),
          h('h3', {}, 'Custom action runs'),
          h('div', { id: 'runs' }, runsTable(runs, runButtons))),
        h('section', { 'aria-labelledby': 'timeline-h' },
          h('h3', { id: 'timeline-h' }, 'Timeline'),
          comment,
          h('ol', { class: 'timeline', id: 'timeline' }, feed.map((e) => timelineEntry(e, names))))));
    watchRuns(runs);
  }

  // While a run is open its status, progress, links, labels and timeline
  // are read again every 2 s, without redrawing the forms.
  let poll = null;
  function watchRuns(runs) {
    clearTimeout(poll);
    if (runs.some(isOpen)) poll = setTimeout(refreshLive, 2000);
  }

  async function refreshLive() {
    const runsBox = document.getElementById('runs');
    if (!runsBox) return;
    try {
      const [inc, runs, feed] = await Promise.all([
        api('/incident/info', { incident_id: id }),
        api('/incident/action/run/list', { incident_id: id }).then((d) => d.items),
        api('/incident/feed', { incident_id: id, limit: 100 }).then((d) => d.items),
      ]);
      replace(runsBox, runsTable(runs, runButtons));
      replace(document.getElementById('links'), linksList(inc.links));
      replace(document.getElementById('labels'), labelsView(inc.labels));
      const names = await peopleOf(feed);
      replace(document.getElementById('timeline'), feed.map((e) => timelineEntry(e, names)));
      watchRuns(runs);
    } catch {
      poll = setTimeout(refreshLive, 5000);
    }
  }

  // The actions shown here, and the incident they run on.
  let actions = [];
  let current = null;
  // Viewers only read: no button that changes a run.
  const operates = ROLE !== 'viewer';
  const runButtons = {
    me: ME,
    cancel: operates ? (run) => cancel(run) : null,
    approve: operates ? (run) => decide(run, 'approve') : null,
    reject: operates ? (run) => decide(run, 'reject') : null,
    again: (run) => {
      if (!operates) return null;
      const action = actions.find((a) => a.action_id === run.action_id);
      // Only an action with inputs has something to prefill.
      if (!action || !(action.inputs || []).length) return null;
      return () => trigger(action, null, null, run.inputs);
    },
  };

  async function decide(run, how) {
    try {
      if (how === 'approve') {
        const r = await api('/incident/action/run/approve', { run_id: run.run_id });
        const shown = triggerResult(run.name, r);
        show(`Approved. ${shown.headline}`, shown.kind, shown.extra);
      } else {
        await api('/incident/action/run/reject', { run_id: run.run_id });
        show(`"${run.name}" rejected; nothing was called.`, 'ok');
      }
    } catch (e) {
      show(`${how === 'approve' ? 'Approving' : 'Rejecting'} "${run.name}" failed: ${e.message}`, 'bad');
    }
    await render();
  }

  async function cancel(run) {
    try {
      await api('/incident/action/run/cancel', { run_id: run.run_id });
      show(`"${run.name}" cancelled; its endpoint was told to stop.`, 'ok');
    } catch (e) {
      show(`Cancelling "${run.name}" failed: ${e.message}`, 'bad');
    }
    await refreshLive();
  }

  function moreActions(actions) {
    const menu = h('details', {
      class: 'menu',
      onkeydown: (ev) => {
        if (ev.key === 'Escape' && menu.open) {
          menu.open = false;
          menu.querySelector('summary').focus();
        }
      },
    }, h('summary', {}, 'More actions'));
    if (!actions.length) {
      menu.append(h('p', { class: 'hint menu-body' }, 'This incident\'s channel has no custom actions.'));
      return menu;
    }
    menu.append(h('ul', { class: 'menu-body' }, actions.map((a) => h('li', {},
      h('button', { type: 'button', 'data-action-id': a.action_id, onclick: (ev) => trigger(a, ev.currentTarget, menu) }, a.name)))));
    return menu;
  }

  async function trigger(action, button, menu, prefill) {
    if (menu) menu.open = false;
    const inputs = await askBeforeRun(action, current, prefill);
    if (!inputs) return;
    if (button) button.disabled = true;
    show(`Running "${action.name}"…`, 'pending');
    try {
      const r = await api('/incident/action/trigger', {
        incident_id: id, action_id: action.action_id, idempotency_key: crypto.randomUUID(),
        inputs: action.inputs && action.inputs.length ? inputs : undefined,
      });
      const shown = triggerResult(action.name, r);
      show(shown.headline, shown.kind, shown.extra);
    } catch (e) {
      show(`"${action.name}" could not run: ${e.message}`, 'bad');
    }
    if (button) button.disabled = false;
    await render();
  }

  await render();
}

function labelsView(labels) {
  return Object.keys(labels || {}).length ? dl(Object.entries(labels)) : h('p', { class: 'hint' }, 'No labels.');
}

function editForm(inc, fields, show, render) {
  const texts = [['title', 'Title'], ['description', 'Description'], ['impact', 'Impact'],
    ['root_cause', 'Root cause'], ['resolution', 'Resolution']];
  const form = h('form', { class: 'card' },
    texts.map(([k, label]) => field(label, k === 'title' ? input(k, { value: inc[k] }) : textarea(k, { value: inc[k] || '' }))),
    field('Severity', select('incident_severity', SEVERITIES.map((x) => [x, x]), inc.incident_severity)),
    fields.map((f) => field(f.display_name, fieldControl(f, (inc.fields || {})[f.field_name]))),
    h('button', { type: 'submit' }, 'Save changes'));
  onSubmit(form, async (fd) => {
    const body = { incident_id: inc.incident_id };
    let changed = false;
    for (const [k] of [...texts, ['incident_severity']]) {
      if ((fd.get(k) ?? '') !== (inc[k] ?? '')) { body[k] = fd.get(k); changed = true; }
    }
    if (changed) await api('/incident/reset', body);
    for (const f of fields) {
      const value = fieldValue(f, form);
      if (JSON.stringify(value) !== JSON.stringify((inc.fields || {})[f.field_name] ?? null) && value !== null) {
        await api('/incident/field/reset', { incident_id: inc.incident_id, field_name: f.field_name, field_value: value });
      }
    }
    show('Changes saved.', 'ok');
    await render();
  });
  return h('details', { class: 'edit' }, h('summary', {}, 'Edit fields'), form);
}

function fieldControl(f, value) {
  const name = `field_${f.field_name}`;
  switch (f.field_type) {
    case 'number': return input(name, { type: 'number', step: 'any', value: value ?? '' });
    case 'checkbox': return h('input', { type: 'checkbox', name, checked: Boolean(value) });
    case 'single_select': return select(name, [['', '—'], ...f.options.map((o) => [o, o])], value ?? '');
    case 'multi_select': return h('select', { name, multiple: true },
      f.options.map((o) => h('option', { value: o, selected: (value || []).includes(o) }, o)));
    default: return input(name, { value: value ?? '' });
  }
}

function fieldValue(f, form) {
  const el = form.elements[`field_${f.field_name}`];
  switch (f.field_type) {
    case 'number': return el.value === '' ? null : Number(el.value);
    case 'checkbox': return el.checked;
    case 'multi_select': return [...el.selectedOptions].map((o) => o.value);
    default: return el.value === '' ? null : el.value;
  }
}
