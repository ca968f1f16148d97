// The guardrails of a custom action in its form: ask first, approval by a
// second person, how often it may run, its inputs and where it shows.

import { checkbox, field, h, input, select, textarea } from './dom.js';

const json = (v) => (v && (Array.isArray(v) ? v.length : Object.keys(v).length) ? JSON.stringify(v, null, 2) : '');

export function guardrailControls(v, teams) {
  const approval = v.approval || null;
  return h('fieldset', { class: 'guardrails' }, h('legend', {}, 'Guardrails'),
    checkbox('confirm', 'Ask before running, naming the action and the incident', v.confirm === true),
    checkbox('approval', 'A second person approves each run before it starts', Boolean(approval)),
    field('Who approves', select('approval_team_id', [['', 'Any member (admins always)'], ...teams.map((t) => [t.team_id, `Members of ${t.team_name}`])],
      approval && approval.team_id ? approval.team_id : '')),
    field('An unanswered approval expires after (s)', input('approval_expires_s',
      { type: 'number', min: 60, max: 86400, value: approval ? approval.expires_s : 3600 })),
    field('Cooldown per incident (s)', input('cooldown_s', { type: 'number', min: 0, max: 86400, value: v.cooldown_s || 0 }),
      'After a run on an incident, none there for this long; 0: none.'),
    field('Runs per hour, all incidents', input('max_runs_per_hour', { type: 'number', min: 0, max: 10000, value: v.max_runs_per_hour || 0 }),
      '0: no cap.'),
    field('Inputs (JSON)', textarea('inputs', { value: json(v.inputs), class: 'mono', rows: 4 }),
      'e.g. [{"name": "host", "label": "Host", "type": "string", "required": true, "default": "{{incident.labels.host}}"}]'),
    field('Show only when (JSON)', textarea('show_when', { value: json(v.show_when), class: 'mono', rows: 3 }),
      'e.g. {"severities": ["Critical"], "labels": {"env": "prod"}}; empty: everywhere.'));
}

function parsed(fd, name, empty) {
  const text = (fd.get(name) || '').trim();
  if (!text) return empty;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: not valid JSON (${e.message})`);
  }
}

export function readGuardrails(fd) {
  return {
    confirm: fd.get('confirm') === 'on',
    approval: fd.get('approval') === 'on'
      ? { team_id: fd.get('approval_team_id') ? Number(fd.get('approval_team_id')) : 0, expires_s: Number(fd.get('approval_expires_s')) }
      : null,
    cooldown_s: Number(fd.get('cooldown_s')),
    max_runs_per_hour: Number(fd.get('max_runs_per_hour')),
    inputs: parsed(fd, 'inputs', []),
    show_when: parsed(fd, 'show_when', null),
  };
}
