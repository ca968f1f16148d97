// An incident's timeline as sentences: who did what, to what, for every
// record type — never a raw code or a JSON blob.

import { EVENT_NAMES } from './common.js';
import { fmtMs, h } from './dom.js';
import { api } from './api.js';
import { runEntry } from './runs.js';

// The names of the people a feed's records mention, read once.
export async function peopleOf(feed) {
  const ids = new Set();
  for (const e of feed) {
    const d = e.detail || {};
    for (const key of ['to', 'person_ids']) {
      if (Array.isArray(d[key])) d[key].filter((v) => typeof v === 'number').forEach((v) => ids.add(v));
    }
  }
  if (!ids.size) return new Map();
  try {
    const r = await api('/person/infos', { person_ids: [...ids] });
    return new Map(r.items.map((p) => [p.person_id, p.person_name]));
  } catch {
    return new Map();
  }
}

const TEXTS = { i_r_title: 'title', i_r_desc: 'description', i_r_impact: 'impact', i_r_rc: 'root cause', i_r_rsltn: 'resolution' };

function and(parts) {
  return parts.length <= 1 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function short(text) {
  const t = String(text ?? '');
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

function value(v) {
  if (v === null || v === undefined || v === '') return 'nothing';
  return typeof v === 'string' ? `“${short(v)}”` : JSON.stringify(v);
}

function duration(minutes) {
  if (minutes % 60) return `${minutes} minutes`;
  const hours = minutes / 60;
  return hours === 1 ? '1 hour' : `${hours} hours`;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// [sentence, what follows it]; the sentence leaves out who when dutyhook
// itself acted (alerts, snooze expiry).
function sentence(e, names) {
  const d = e.detail || {};
  const people = (ids) => and((ids || []).map((id) => names.get(id) || `person #${id}`));
  const alert = () => `the alert “${short(d.title)}” (${d.severity})`;
  switch (e.type) {
    case 'i_new': return [d.title ? `created it: “${short(d.title)}”, ${d.severity}` : 'created it'];
    case 'i_assign':
      return [`${d.type === 'reassign' ? 'reassigned it to' : 'assigned'} ${people(d.to || d.person_ids) || 'nobody'}`];
    case 'i_a_rspd': return [`added ${people(d.to) || 'nobody'} as ${(d.to || []).length > 1 ? 'responders' : 'responder'}`];
    case 'i_snooze':
      return [d.minutes ? `snoozed it for ${duration(d.minutes)}, until ${clock(e.created_at + d.minutes * 60000)}` : 'snoozed it'];
    case 'i_wake': return [e.person ? 'woke it up' : 'The snooze ended'];
    case 'i_ack': return ['acknowledged it'];
    case 'i_unack': return ['took back the acknowledgement'];
    case 'i_storm': return [`Alert storm: ${d.threshold || 'many'} alerts`];
    case 'i_rslv':
      if (d.merged_into) return [`closed it by merging it into incident ${d.merged_into}`];
      return [d.from === 'autorslv' ? 'Closed: all its alerts recovered' : 'resolved it'];
    case 'i_reopen': return ['reopened it', d.reason ? h('q', {}, d.reason) : null];
    case 'i_merge': {
      const sources = (d.source_incidents || []).map((s) => `“${short(s.title)}”`);
      return [`merged ${and(sources) || 'incidents'} into it`];
    }
    case 'i_comm':
      return [d.action_name ? `commented through the action "${d.action_name}"` : 'commented', h('q', {}, d.comment)];
    case 'i_r_severity': return [`changed the severity from ${d.from} to ${d.to}`];
    case 'i_r_field': return [`set ${d.field_name} from ${value(d.from)} to ${value(d.to)}`];
    case 'i_labels': {
      const set = Object.entries(d.labels || {}).map(([k, v]) => `${k} = ${v}`);
      const parts = [set.length ? `${and(set)} set` : null,
        (d.remove_keys || []).length ? `${and(d.remove_keys)} removed` : null].filter(Boolean);
      return [`labels: ${parts.join('; ') || 'unchanged'}`];
    }
    case 'i_notify': {
      const to = and((d.to || []).map((p) => p.person_name)) || 'nobody';
      if (d.round) return [`Re-notified ${d.team_name || to} (reminder ${d.round}, not acknowledged yet): mailed ${to}`];
      return [d.team_name ? `Mailed ${d.team_name}: ${to}` : `Mailed ${to}`];
    }
    case 'i_merge_disabled': return ['stopped new alerts from joining it'];
    case 'a_merge': return [e.person ? `moved ${alert()} into it` : `${alert().replace(/^the/, 'The')} joined`];
    case 'a_recover': return [`${alert().replace(/^the/, 'The')} recovered`];
    case 'a_close': return [`closed ${alert()}`];
    case 'i_custom':
    case 'i_links': {
      const run = runEntry(e);
      return [run.what, ...run.extra.filter(Boolean)];
    }
    default:
      if (TEXTS[e.type]) return [`changed the ${TEXTS[e.type]} from ${value(d.from)} to ${value(d.to)}`];
      return [EVENT_NAMES[e.type] || 'changed something'];
  }
}

export function timelineEntry(e, names) {
  const [what, ...extra] = sentence(e, names || new Map());
  const more = extra.filter(Boolean).flatMap((x, i) => (i ? ['; ', x] : [x]));
  const automatic = !e.person && /^[A-Z]/.test(what);
  return h('li', { 'data-type': e.type },
    h('time', { datetime: new Date(e.created_at).toISOString() }, fmtMs(e.created_at)), ' ',
    automatic ? null : [h('strong', {}, e.person ? e.person.person_name : 'dutyhook'), ' '],
    what, more.length ? [' — ', more] : null);
}
