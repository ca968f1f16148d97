// Calls to the Open API with the session's CSRF token, and how forms show
// their errors; navigation helpers.

import { CSRF } from './common.js';
import { h, uid } from './dom.js';

class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)[.[\]0-9A-Za-z_]*: /.exec(message || '');
    this.field = m ? m[1] : null;
  }
}

export async function api(path, body) {
  let resp;
  try {
    resp = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': CSRF },
      body: JSON.stringify(body || {}),
    });
  } catch (e) {
    throw new ApiError('Network', `dutyhook did not answer: ${e.message}`);
  }
  let v;
  try {
    v = await resp.json();
  } catch {
    throw new ApiError('InternalError', `dutyhook answered HTTP ${resp.status} without a JSON body`);
  }
  if (v.error) {
    if (resp.status === 401) location.assign('/console/login');
    throw new ApiError(v.error.code, v.error.message);
  }
  return v.data;
}

export async function all(path, body) {
  const items = [];
  for (let p = 1; p <= 20; p++) {
    const d = await api(path, { ...body, p, limit: 100 });
    items.push(...d.items);
    if (!d.has_next_page) break;
  }
  return items;
}

// Clears and shows the errors of a failed save: at the field it names
// when the form has that field, else at the top of the form.
function showError(form, err) {
  for (const e of form.querySelectorAll('.field-error')) e.remove();
  for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  if (!err) return;
  const text = `${err.message}`;
  const at = err.field && form.querySelector(`[data-field="${CSS.escape(err.field)}"]`);
  const msg = h('p', { class: 'field-error', role: 'alert', id: uid('err') }, text);
  if (at) {
    at.append(msg);
    const control = at.querySelector('input, select, textarea');
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      const described = (control.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.startsWith('err-'));
      control.setAttribute('aria-describedby', [...described, msg.id].join(' '));
      control.focus();
    }
  } else {
    form.prepend(msg);
  }
}

// Runs `save` on submit with the button disabled, showing any error.
export function onSubmit(form, save) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const buttons = form.querySelectorAll('button[type="submit"]');
    buttons.forEach((b) => { b.disabled = true; });
    showError(form, null);
    try {
      await save(new FormData(form), ev);
    } catch (e) {
      showError(form, e instanceof ApiError ? e : new ApiError('Error', e.message));
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return form;
}

export const nowS = () => Math.floor(Date.now() / 1000);
export const opt = (v) => (v === '' || v === null || v === undefined ? undefined : v);

export function go(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== '') q.set(k, v);
  location.assign(q.toString() ? `${path}?${q}` : path);
}

export function pager(p, hasNext, onGo) {
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: p <= 1, onclick: () => onGo(p - 1) }, '← Newer'),
    h('span', {}, `Page ${p}`),
    h('button', { type: 'button', disabled: !hasNext, onclick: () => onGo(p + 1) }, 'Older →'));
}

export async function channelNames() {
  const items = await all('/channel/list', {});
  return new Map(items.map((c) => [c.channel_id, c.channel_name]));
}
