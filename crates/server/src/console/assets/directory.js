// Channels, people, teams, app keys and custom fields.

import { app, ME, params, ROLE } from './common.js';
import { channelSettings, groupingSentence, notifySentence } from './channel_settings.js';
import { peopleTable } from './people.js';
import { checkbox, field, fmtTime, h, input, notice, replace, secretBox, select, table } from './dom.js';
import { all, api, onSubmit } from './api.js';

const DIR_TABS = [['channels', 'Channels'], ['people', 'People'], ['teams', 'Teams'],
  ['keys', 'App keys'], ['fields', 'Custom fields']];

export async function directoryPage() {
  const tab = DIR_TABS.some(([t]) => t === params.get('tab')) ? params.get('tab') : 'channels';
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Directory sections' }, DIR_TABS.map(([t, label]) =>
    h('a', { href: `/console/directory?tab=${t}`, 'aria-current': t === tab ? 'page' : false }, label)));
  const top = h('div');
  const list = h('div');
  replace(app, tabs, top, list);
  const people = await all('/person/list', {});
  const personName = new Map(people.map((p) => [p.person_id, p.person_name]));
  const reload = async () => {
    try {
      replace(list, await DIRECTORY[tab].list(personName, reload, top));
    } catch (e) {
      replace(list, notice(e.message, 'error'));
    }
  };
  const form = DIRECTORY[tab].form(people);
  onSubmit(form, async (fd) => {
    const shown = await DIRECTORY[tab].save(fd, form);
    form.reset();
    replace(top, shown || notice('Saved.'));
    await reload();
  });
  replace(top);
  if (!DIRECTORY[tab].adminOnly || ROLE === 'admin') {
    list.before(h('details', { class: 'create' }, h('summary', {}, `New ${DIRECTORY[tab].noun}`), form));
  }
  await reload();
}

const personPicker = (people) => h('fieldset', { 'data-field': 'person_ids' }, h('legend', {}, 'Members'),
  people.map((p) => checkbox('person_ids', p.person_name, false, p.person_id)));

const DIRECTORY = {
  channels: {
    noun: 'channel',
    adminOnly: true,
    form: () => h('form', { class: 'card' },
      field('Name', input('channel_name', { required: true })),
      field('Description', input('description')),
      h('button', { type: 'submit' }, 'Create channel')),
    save: async (fd) => {
      const r = await api('/channel/create', { channel_name: fd.get('channel_name'), description: fd.get('description') || undefined });
      return notice(`Created channel #${r.channel_id}.`);
    },
    list: async (_names, reload, top) => {
      const items = await all('/channel/list', {});
      const box = h('div', { id: 'channel-settings' });
      return [box, table(['Id', 'Name', 'Description', 'Alert grouping and notifications', ''], items.map((c) => h('tr', {},
        h('td', {}, String(c.channel_id)), h('td', {}, c.channel_name), h('td', {}, c.description || '—'),
        h('td', {}, groupingSentence(c.grouping, c.storm_thresholds),
          c.notify && (c.notify.team || c.notify.renotify_minutes > 0) ? ` ${notifySentence(c.notify)}` : ''),
        h('td', {}, ROLE === 'admin'
          ? h('button', { type: 'button', onclick: () => channelSettings(c, box, reload, top) }, 'Settings') : null))),
      'Channels')];
    },
  },
  people: {
    noun: 'person',
    adminOnly: true,
    form: () => h('form', { class: 'card' },
      field('Name', input('person_name', { required: true })),
      field('Email', input('email', { type: 'email', required: true })),
      field('Role', select('role', [['member', 'Member'], ['viewer', 'Viewer'], ['admin', 'Admin']], 'member')),
      h('button', { type: 'submit' }, 'Add person')),
    save: async (fd) => {
      const r = await api('/person/create', { person_name: fd.get('person_name'), email: fd.get('email'), role: fd.get('role') });
      return notice(`Added person #${r.person_id}.`);
    },
    list: async (_names, reload, top) => peopleTable(await all('/person/list', {}), reload, top),
  },
  teams: {
    noun: 'team',
    adminOnly: true,
    form: (people) => h('form', { class: 'card' },
      field('Name', input('team_name', { required: true })), personPicker(people),
      h('button', { type: 'submit' }, 'Create team')),
    save: async (fd) => {
      const r = await api('/team/create', { team_name: fd.get('team_name'), person_ids: fd.getAll('person_ids').map(Number) });
      return notice(`Created team #${r.team_id}.`);
    },
    list: async (personName) => {
      const items = await all('/team/list', {});
      return table(['Id', 'Name', 'Members'], items.map((t) => h('tr', {},
        h('td', {}, String(t.team_id)), h('td', {}, t.team_name),
        h('td', {}, t.person_ids.map((i) => personName.get(i) || `#${i}`).join(', ') || '—'))), 'Teams');
    },
  },
  keys: {
    noun: 'app key',
    form: (people) => h('form', { class: 'card' },
      field('Name', input('name', { required: true })),
      field('Person', select('person_id', people.filter((p) => ROLE === 'admin' || p.person_id === ME)
        .map((p) => [p.person_id, p.person_name]), ME)),
      h('button', { type: 'submit' }, 'Create key')),
    save: async (fd) => {
      const r = await api('/app-key/create', { name: fd.get('name'), person_id: Number(fd.get('person_id')) });
      return secretBox(`App key #${r.app_key_id}`, r.app_key);
    },
    list: async (personName, reload, top) => {
      const items = await all('/app-key/list', {});
      return table(['Id', 'Name', 'Person', 'Key', 'Created', ''], items.map((k) => h('tr', {},
        h('td', {}, String(k.app_key_id)), h('td', {}, k.name), h('td', {}, personName.get(k.person_id) || `#${k.person_id}`),
        h('td', { class: 'mono' }, `${k.key_hint}…`), h('td', {}, fmtTime(k.created_at)),
        h('td', {}, ROLE === 'admin' || k.person_id === ME ? h('button', {
          type: 'button', class: 'danger',
          onclick: async () => {
            if (!confirm(`Revoke key "${k.name}"?`)) return;
            try {
              await api('/app-key/delete', { app_key_id: k.app_key_id });
              replace(top, notice(`Revoked key "${k.name}".`));
            } catch (e) {
              replace(top, notice(e.message, 'error'));
            }
            await reload();
          },
        }, 'Revoke') : null))), 'App keys');
    },
  },
  fields: {
    noun: 'custom field',
    adminOnly: true,
    form: () => h('form', { class: 'card' },
      field('Field name', input('field_name', { required: true, pattern: '[A-Za-z0-9_]+' }), 'Letters, digits and _.'),
      field('Display name', input('display_name', { required: true })),
      field('Type', select('field_type', [['text', 'Text'], ['number', 'Number'], ['checkbox', 'Checkbox'],
        ['single_select', 'Single select'], ['multi_select', 'Multi select']], 'text')),
      field('Options', input('options'), 'For selects: comma-separated.'),
      h('button', { type: 'submit' }, 'Create field')),
    save: async (fd) => {
      const options = (fd.get('options') || '').split(',').map((s) => s.trim()).filter(Boolean);
      const r = await api('/field/create', {
        field_name: fd.get('field_name'), display_name: fd.get('display_name'), field_type: fd.get('field_type'),
        options: options.length ? options : undefined,
      });
      return notice(`Created field #${r.field_id}.`);
    },
    list: async (personName, reload, top) => {
      const d = await api('/field/list', {});
      return table(['Name', 'Display name', 'Type', 'Options', ''], d.items.map((f) => h('tr', {},
        h('td', { class: 'mono' }, f.field_name), h('td', {}, f.display_name), h('td', {}, f.field_type),
        h('td', {}, (f.options || []).join(', ') || '—'),
        h('td', {}, ROLE === 'admin' && h('button', {
          type: 'button', class: 'danger',
          onclick: async () => {
            if (!confirm(`Delete field "${f.display_name}"?`)) return;
            try {
              await api('/field/delete', { field_id: f.field_id });
            } catch (e) {
              replace(top, notice(e.message, 'error'));
            }
            await reload();
          },
        }, 'Delete')))), 'Custom fields');
    },
  },
};
