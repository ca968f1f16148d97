// The people of the directory: edit name, email and role; deactivate
// (no sign-in, keys deleted, sessions ended) and reactivate; a one-time
// sign-in link (invitation or reset) made by an admin; one's own password.

import { badge, checkbox, field, fmtTime, h, input, notice, replace, secretBox, select, table } from './dom.js';
import { api, onSubmit } from './api.js';
import { ME, ROLE } from './common.js';

const ROLES = [['member', 'Member'], ['viewer', 'Viewer'], ['admin', 'Admin']];

export function peopleTable(items, reload, top) {
  const admin = ROLE === 'admin';
  return table(['Id', 'Name', 'Email', 'Role', 'State', 'Mail', ''], items.map((p) => h('tr', {},
    h('td', {}, String(p.person_id)), h('td', {}, p.person_name), h('td', {}, p.email), h('td', {}, p.role),
    h('td', {}, p.active ? badge('Active', 'b-ok') : badge('Deactivated', 'b-failure')),
    h('td', {}, p.mail_off ? 'Off' : 'On'),
    h('td', { class: 'row-actions' },
      admin || p.person_id === ME ? h('button', { type: 'button', onclick: () => editPerson(p, reload, top) }, 'Edit') : null,
      admin && p.active ? h('button', { type: 'button', onclick: () => signInLink(p, top) }, 'Sign-in link') : null,
      p.person_id === ME ? h('button', { type: 'button', onclick: () => changePassword(top) }, 'Change password') : null,
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
    checkbox('mail', 'Notification mails: assignments, team mails and reminders', !p.mail_off),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', onclick: () => replace(top) }, 'Cancel')));
  onSubmit(form, async (fd) => {
    const body = { person_id: p.person_id, person_name: fd.get('person_name'), mail_off: fd.get('mail') !== 'on' };
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

async function signInLink(p, top) {
  try {
    const r = await api('/person/invite', { person_id: p.person_id });
    replace(top, h('div', { class: 'card', 'aria-label': `Sign-in link for ${p.person_name}` },
      h('p', {}, `Give this link to ${p.person_name} yourself. It lets them choose a password, once, until ${fmtTime(r.expires_at)}. `
        + 'A newer link voids it; their current password (if any) works until they choose a new one.'),
      secretBox('Sign-in link', r.invite_url)));
  } catch (e) {
    replace(top, notice(e.message, 'error'));
  }
}

function changePassword(top) {
  const form = h('form', { class: 'card', 'aria-label': 'Change your password' },
    h('h2', {}, 'Change your password'),
    field('Current password', input('current_password', { type: 'password', required: true, autocomplete: 'current-password' })),
    field('New password', input('new_password', { type: 'password', required: true, minlength: 10, autocomplete: 'new-password' }),
      'At least 10 characters; a few words make a good one. Your other sessions will end.'),
    field('The same again', input('confirm', { type: 'password', required: true, autocomplete: 'new-password' })),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Change password'),
      h('button', { type: 'button', onclick: () => replace(top) }, 'Cancel')));
  onSubmit(form, async (fd) => {
    if (fd.get('new_password') !== fd.get('confirm')) throw new Error('confirm: the two new passwords differ');
    await api('/person/password/change', { current_password: fd.get('current_password'), new_password: fd.get('new_password') });
    replace(top, notice('Password changed. Your other sessions have ended.'));
  });
  replace(top, form);
}
