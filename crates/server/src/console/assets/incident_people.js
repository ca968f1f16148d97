// An incident's people and merges: assign or reassign, add responders, and
// merge it into another incident found by title or number.

import { field, h, input, replace } from './dom.js';
import { all, api, go, onSubmit } from './api.js';

// `done(message)` is told what happened; the page then reads the incident again.
export async function peoplePanel(inc, done) {
  const people = await all('/person/list', {}).catch(() => []);
  const current = new Set((inc.responders || []).map((r) => r.person_id));
  const picker = h('select', { name: 'person_ids', multiple: true, size: Math.min(6, Math.max(2, people.length)) },
    people.map((p) => h('option', { value: p.person_id, selected: current.has(p.person_id) },
      `${p.person_name} (${p.email})`)));
  const chosen = () => [...picker.selectedOptions].map((o) => Number(o.value));
  const form = h('form', { class: 'card', 'aria-label': 'Responders' },
    field('People', picker, 'Hold Ctrl (or ⌘) to choose several.'),
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', value: 'assign' }, 'Assign (replaces the responders)'),
      h('button', { type: 'submit', value: 'add' }, 'Add as responders')));
  onSubmit(form, async (_fd, ev) => {
    const ids = chosen();
    if (!ids.length) throw new Error('person_ids: choose at least one person');
    const how = ev && ev.submitter ? ev.submitter.value : 'assign';
    if (how === 'add') {
      await api('/incident/responder/add', { incident_id: inc.incident_id, person_ids: ids.filter((p) => !current.has(p)) });
    } else {
      await api('/incident/assign', { incident_ids: [inc.incident_id], assigned_to: { type: 'assign', person_ids: ids } });
    }
    await done(how === 'add' ? 'Responders added.' : 'Assigned.');
  });
  return h('details', { class: 'edit' }, h('summary', {}, 'Assign or add responders'), form);
}

export function mergePanel(inc) {
  const results = h('div', { role: 'region', 'aria-label': 'Incidents found' });
  const search = onSubmit(h('form', { class: 'inline-form', role: 'search', 'aria-label': 'Find an incident to merge into' },
    field('Title or number', input('q', { required: true, type: 'search' })),
    h('button', { type: 'submit' }, 'Find')), async (fd) => {
    const end = Math.floor(Date.now() / 1000) + 60;
    const found = await api('/incident/list', {
      query: fd.get('q'), start_time: 0, end_time: end, limit: 10, progress: 'Triggered,Processing',
    });
    const others = found.items.filter((i) => i.incident_id !== inc.incident_id);
    if (!others.length) {
      replace(results, h('p', { class: 'hint' }, 'No other open incident matches.'));
      return;
    }
    replace(results, h('ul', { class: 'plain' }, others.map((t) => h('li', {},
      `${t.num} — ${t.title} `,
      h('button', {
        type: 'button',
        onclick: async () => {
          if (!confirm(`Merge this incident into ${t.num} "${t.title}"? This one closes.`)) return;
          try {
            await api('/incident/merge', { source_incident_ids: [inc.incident_id], target_incident_id: t.incident_id });
            go('/console/incident', { id: t.incident_id });
          } catch (e) {
            replace(results, h('p', { class: 'field-error' }, e.message));
          }
        },
      }, `Merge into ${t.num}`)))));
  });
  return h('details', { class: 'edit' }, h('summary', {}, 'Merge into another incident'), search, results);
}
