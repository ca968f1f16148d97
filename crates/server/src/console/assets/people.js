// The people of the directory: edit name, email and role; deactivate
// (no sign-in, keys deleted, sessions ended) and reactivate.

import { field, h, input, notice, replace, select, table, badge } from './dom.js';
import { api, onSubmit } from './api.js';
import { ME, ROLE } from './common.js';

const ROLES = [['member', 'Member'], ['viewer', 'Viewer'], ['admin', 'Admin']];

export function peopleTable(items, reload, top) {
  const admin = ROLE === 'admin';
  return table(['Id', 'Name', 'Email', 'Role', 'State', ''], items.map((p) => h('tr', {},
    h('td', {}, String(p.person_id)), h('td', {}, p.person_name), h('td', {}, p.email), h('td', {}, p.role),
    h('td', {}, p.active ? badge('Active', 'b-ok') : badge('Deactivated', 'b-failure')),
    h('td', { class: 'row-actions' },
      admin || p.person_id === ME ? h('button', { type: 'button', onclick: () => editPerson(p, reload, top) }, 'Edit') : null,
      admin && p.person_id !== ME ? h('button', {
        type: 'button',
        onclick: () => setActive(p, !p.active, reload, top),
      }, p.active ? 'Deactivate' : 'Reactivate') : null))), 'People');
}

function editPerson(p, reload, top) {
  const admin = ROLE === 'admin';
  const form = h('form', { class: 'card', 'aria-label': `Edit ${p.person_name}` },
    h('h2', {}, `Edit ${p.person_name}`),
    field('Name', input('person_name', { required: true, value: p.person_name })),
    admin ? field('Email', input('email', { type: 'email', required: true, value: p.email })) : null,
    admin && p.person_id !== ME ? field('Role', select('role', ROLES, p.role)) : null,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', onclick: () => replace(top) }, 'Cancel')));
  onSubmit(form, async (fd) => {
    const body = { person_id: p.person_id, person_name: fd.get('person_name') };
    if (admin) body.email = fd.get('email');
    if (admin && p.person_id !== ME) body.role = fd.get('role');
    await api('/person/update', body);
    replace(top, notice(`Saved ${body.person_name}.`));
    await reload();
  });
  replace(top, form);
}

async function setActive(p, active, reload, top) {
  if (!active && !confirm(`Deactivate ${p.person_name}? They cannot sign in, their app keys are deleted and their sessions end.`)) return;
  try {
    await api(active ? '/person/reactivate' : '/person/deactivate', { person_id: p.person_id });
    replace(top, notice(`${p.person_name} is ${active ? 'active again' : 'deactivated'}.`));
  } catch (e) {
    replace(top, notice(e.message, 'error'));
  }
  await reload();
}
