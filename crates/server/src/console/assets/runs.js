// Custom action runs on an incident: how each press ended, what its answer
// wrote back, and the links answers added.

import { badge, fmtTime, h, table } from './dom.js';

export const RUN_STATUS = {
  awaiting_approval: 'Awaiting approval', rejected: 'Rejected', expired: 'Expired', running: 'Running',
  succeeded: 'Succeeded', failed: 'Failed', timed_out: 'Timed out', cancelled: 'Cancelled',
};

const statusBadge = (s) => badge(RUN_STATUS[s] || s, `run-${s}`);

// Only http(s) links are ever made clickable.
const safeUrl = (url) => /^https?:\/\//i.test(url || '');

export function linksList(links) {
  if (!links || !links.length) return h('p', { class: 'hint' }, 'No links.');
  return h('ul', { class: 'links' }, links.map((l) => h('li', {}, safeUrl(l.url)
    ? h('a', { href: l.url, rel: 'noopener noreferrer', target: '_blank' }, l.title)
    : `${l.title} (${l.url})`)));
}

function writeBackText(wb) {
  if (!wb) return null;
  const parts = [];
  if (wb.applied && wb.applied.length) parts.push(`wrote back ${wb.applied.join(', ')}`);
  if (wb.refused && wb.refused.length) parts.push(`refused ${wb.refused.map((r) => `${r.key} (${r.reason})`).join('; ')}`);
  return parts.length ? parts.join('; ') : null;
}

export const isOpen = (r) => r.status === 'running' || r.status === 'awaiting_approval';

const inputsText = (inputs) => Object.entries(inputs || {}).map(([k, v]) => `${k} = ${v}`).join(', ');

function runButtons(r, on) {
  const press = (label, fn) => h('button', { type: 'button', onclick: (ev) => { ev.currentTarget.disabled = true; fn(r); } }, label);
  if (r.status === 'running' && on.cancel) return press(`Cancel ${r.name}`, on.cancel);
  if (r.status === 'awaiting_approval' && on.approve) {
    const mine = r.requested_by && r.requested_by.person_id === on.me;
    return mine
      ? [h('span', { class: 'hint' }, 'Waiting for another person. '), press(`Withdraw ${r.name}`, on.reject)]
      : [press(`Approve ${r.name}`, on.approve), ' ', press(`Reject ${r.name}`, on.reject)];
  }
  const again = !isOpen(r) && on.again ? on.again(r) : null;
  if (again) return press(`Run ${r.name} again`, () => again());
  return null;
}

// `on` holds what a run's buttons call: cancel, approve, reject, again (a
// run whose action still shows here, or null), and `me`, the person viewing.
export function runsTable(runs, on) {
  return table(['Action', 'Status', 'By', 'Started', 'Message', ''], runs.map((r) => h('tr', { 'data-run-id': r.run_id },
    h('td', {}, r.name),
    h('td', {}, statusBadge(r.status), r.status === 'running'
      ? [' ', h('progress', { max: 100, value: r.progress || 0, 'aria-label': `${r.name}: ${r.progress || 0}%` })] : null),
    h('td', {}, r.requested_by ? r.requested_by.person_name : '—',
      r.approved_by ? h('p', { class: 'hint' }, `approved by ${r.approved_by.person_name}`) : null),
    h('td', {}, fmtTime(r.created_at)),
    h('td', {}, r.message || '', writeBackText(r.write_back) ? h('p', { class: 'hint' }, writeBackText(r.write_back)) : null,
      inputsText(r.inputs) ? h('p', { class: 'hint' }, `inputs: ${inputsText(r.inputs)}`) : null),
    h('td', {}, runButtons(r, on || {})))),
  'Custom action runs');
}

// The result of a press, as shown in place.
export function triggerResult(name, r) {
  const how = r.status_code ? `HTTP ${r.status_code}` : r.error_class || 'no answer';
  let headline = r.success
    ? `"${name}" succeeded: ${how} in ${r.duration_ms} ms`
    : `"${name}" failed: ${how} after ${r.duration_ms} ms`;
  if (r.status === 'running') headline = `"${name}" started: ${how} in ${r.duration_ms} ms; it reports as it goes`;
  if (r.status === 'awaiting_approval') {
    return { headline: `"${name}" waits for another person to approve it; nothing was called yet.`, kind: 'ok', extra: [] };
  }
  const wb = writeBackText(r.write_back);
  return {
    headline,
    kind: r.success ? 'ok' : 'bad',
    extra: [
      r.message ? h('p', {}, r.message) : null,
      r.error && r.error !== r.message && r.error !== `HTTP ${r.status_code}` ? h('p', {}, r.error) : null,
      wb ? h('p', {}, wb) : null,
      r.response_body ? [h('p', { class: 'hint' }, 'The endpoint answered:'), h('pre', { class: 'response' }, r.response_body)] : null,
    ],
  };
}

// A timeline sentence for a run or for what its answer added.
export function runEntry(e) {
  const d = e.detail || {};
  if (e.type === 'i_links') {
    return { what: `added links from "${d.action_name || '?'}"`, extra: [linksList(d.links)] };
  }
  const ended = RUN_STATUS[d.status] || (d.status_code ? `HTTP ${d.status_code}` : '');
  const how = [d.status_code ? `HTTP ${d.status_code}` : null, d.error_class || null].filter(Boolean).join(', ');
  const approvalStep = {
    awaiting_approval: `asked to run the action "${d.name || '?'}"; it waits for another person's approval`,
    rejected: `rejected the action "${d.name || '?'}"`,
    expired: `action "${d.name || '?'}": nobody approved it in time`,
  }[d.status];
  if (approvalStep) {
    const reason = d.status === 'rejected' && d.message && d.message.includes(': ') ? d.message.split(': ').slice(1).join(': ') : null;
    return { what: approvalStep, extra: [reason ? h('q', {}, reason) : null] };
  }
  if (d.status === 'running' && /^approved by /.test(d.message || '')) {
    return { what: `approved the action "${d.name || '?'}"; it runs now`, extra: [] };
  }
  // A callback, a cancel or a deadline: no call was made.
  const told = !d.status_code && !d.error_class;
  return {
    what: told
      ? `action "${d.name || '?'}": ${ended.toLowerCase()}`
      : `ran the action "${d.name || '?'}"${ended ? ` — ${ended.toLowerCase()}` : ''}${how ? ` (${how})` : ''}`,
    extra: [d.message ? h('q', {}, d.message) : null, writeBackText(d.write_back)],
  };
}
