// Before a custom action runs: the form of its inputs (prefilled with the
// defaults rendered for this incident, or a past run's values) and, when the
// action asks for it, a confirmation naming the action and the incident.

import { field, h, input, select } from './dom.js';

function control(def, value) {
  const name = `input-${def.name}`;
  const v = value ?? def.default ?? '';
  switch (def.type) {
    case 'boolean': {
      const box = h('input', { type: 'checkbox', name, checked: v === true });
      return box;
    }
    case 'number':
      return input(name, { type: 'number', step: 'any', value: v === '' ? '' : String(v), required: def.required });
    case 'choice':
      return select(name, [...(def.required ? [] : [['', '—']]), ...def.options.map((o) => [o, o])], v, { required: def.required });
    default:
      return input(name, { value: String(v), maxlength: def.max_length || 1000, required: def.required });
  }
}

function read(defs, form) {
  const out = {};
  for (const d of defs) {
    const el = form.elements[`input-${d.name}`];
    if (d.type === 'boolean') out[d.name] = el.checked;
    else if (el.value === '') continue;
    else out[d.name] = d.type === 'number' ? Number(el.value) : el.value;
  }
  return out;
}

// Resolves to the inputs to run with, or null when the person cancels.
// An action without inputs and without `confirm` runs at once.
export function askBeforeRun(action, incident, prefill) {
  const defs = action.inputs || [];
  if (!defs.length && !action.confirm) return Promise.resolve({});
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog', class: 'action-form' },
      h('h3', {}, action.confirm ? `Run "${action.name}" on incident ${incident.num} "${incident.title}"?` : `Run "${action.name}"`),
      action.needs_approval ? h('p', { class: 'hint' }, 'Another person approves this run before it starts.') : null,
      defs.map((d) => field(d.required ? `${d.label} (required)` : d.label, control(d, prefill ? prefill[d.name] : undefined))),
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', class: 'primary', value: 'run' }, action.needs_approval ? 'Request' : 'Run'),
        h('button', { type: 'button', onclick: () => dialog.close('cancel') }, 'Cancel')));
    const dialog = h('dialog', { 'aria-label': `Run ${action.name}` }, form);
    dialog.addEventListener('close', () => {
      const ran = dialog.returnValue === 'run';
      const values = ran ? read(defs, form) : null;
      dialog.remove();
      resolve(values);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
