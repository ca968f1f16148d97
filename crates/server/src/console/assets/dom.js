// The console's building blocks: elements made from text (never parsed as
// HTML), form controls, tables, notices.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let nextId = 0;
export const uid = (p) => `${p}-${++nextId}`;

// A labelled control: label and input are tied by id; errors for `name`
// are shown under it.
export function field(label, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  const wrap = h('div', { class: 'field', 'data-field': control.name || '' },
    h('label', { for: id }, label), control);
  if (hint) {
    const hid = uid('hint');
    control.setAttribute('aria-describedby', hid);
    wrap.append(h('p', { class: 'hint', id: hid }, hint));
  }
  return wrap;
}

export const input = (name, attrs) => h('input', { name, type: 'text', ...attrs });
export const textarea = (name, attrs) => h('textarea', { name, rows: 4, ...attrs });

export function select(name, options, selected, attrs) {
  return h('select', { name, ...attrs }, options.map(([value, text]) =>
    h('option', { value, selected: String(value) === String(selected) }, text)));
}

export function checkbox(name, label, checked, value) {
  const id = uid('c');
  return h('div', { class: 'check' },
    h('input', { type: 'checkbox', id, name, value: value ?? 'on', checked }),
    h('label', { for: id }, label));
}

export function fmtTime(s) {
  return s ? new Date(s * 1000).toLocaleString() : '—';
}

export function fmtMs(ms) {
  return ms ? new Date(ms).toLocaleString() : '—';
}

export const badge = (text, kind) => h('span', { class: `badge ${kind || ''} b-${String(text).toLowerCase()}` }, text);

export function table(headers, rows, caption) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'Nothing here yet.')))));
}

export function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function notice(text, kind) {
  return h('p', { class: `notice ${kind || ''}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

// Shows a value once (a secret or key), with a copy button.
export function secretBox(label, value) {
  const out = h('output', { class: 'secret' }, value);
  const copied = h('span', { class: 'hint', role: 'status' });
  return h('div', { class: 'once' },
    h('p', {}, h('strong', {}, label), ' — shown once; copy it now.'),
    out,
    h('button', {
      type: 'button',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(value);
          copied.textContent = 'Copied.';
        } catch {
          const r = document.createRange();
          r.selectNodeContents(out);
          getSelection().removeAllRanges();
          getSelection().addRange(r);
          copied.textContent = 'Selected: press Ctrl+C to copy.';
        }
      },
    }, 'Copy'), ' ', copied);
}
