// The E-mail tab of the integration center: whether notification mails go
// out, through which server, how they have been doing, its history, and a
// test mail to oneself.

import { dl, h, notice, replace } from './dom.js';
import { api } from './api.js';

// `healthCell` draws an integration's state as the other tabs do.
export async function emailPanel(healthCell) {
  const info = await api('/integration/email/info', {});
  if (!info.configured) {
    return h('div', { class: 'card' }, notice('No SMTP server is configured: nobody is mailed. '
      + 'Set smtp.url and smtp.from in the configuration (docs/notifications.md), then restart.'),
    info.integration_id ? h('a', { class: 'button', href: `/console/history?integration_id=${info.integration_id}` }, 'History') : null);
  }
  const result = h('div', { role: 'status', 'aria-live': 'polite' });
  const test = async () => {
    replace(result, h('p', {}, 'Sending…'));
    try {
      const r = await api('/integration/email/test', {});
      replace(result, r.success
        ? notice(`Sent a test mail to ${r.to} (the server answered ${r.smtp_code}).`)
        : notice(`The test mail to ${r.to} failed: ${r.error_class}: ${r.error}`, 'error'));
    } catch (e) {
      replace(result, notice(e.message, 'error'));
    }
  };
  return h('section', { class: 'card', 'aria-label': 'E-mail' },
    h('h2', {}, 'E-mail'),
    dl([['SMTP server', h('span', { class: 'mono' }, info.smtp_server)], ['From', info.from],
      ['State', healthCell(info)]]),
    h('p', { class: 'hint' }, 'Responders are mailed when assigned; team mails and reminders are set per channel '
      + '(Directory → Channels → Settings); anyone turns their own mail off under People → Edit.'),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: test }, 'Send me a test mail'),
      h('a', { class: 'button', href: `/console/history?integration_id=${info.integration_id}` }, 'History')),
    result);
}
