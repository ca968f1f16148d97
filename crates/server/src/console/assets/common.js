// What every page shares: the session, the page, and the names of things.

export const CSRF = document.querySelector('meta[name="csrf-token"]').content;
export const PAGE = document.body.dataset.page;
export const ME = Number(document.body.dataset.personId);
export const ROLE = document.body.dataset.role;
export const app = document.getElementById('app');
export const params = new URLSearchParams(location.search);

export const SEVERITIES = ['Critical', 'Warning', 'Info'];
export const PROGRESS = ['Triggered', 'Processing', 'Closed'];
export const INCIDENT_EVENTS = ['i_new', 'i_assign', 'i_a_rspd', 'i_snooze', 'i_wake', 'i_ack', 'i_unack',
  'i_storm', 'i_custom', 'i_rslv', 'i_reopen', 'i_merge', 'i_comm', 'i_r_title', 'i_r_desc',
  'i_r_impact', 'i_r_rc', 'i_r_rsltn', 'i_r_severity', 'i_r_field'];
export const ALERT_EVENTS = ['a_new', 'a_update', 'a_merge'];
export const SNOOZES = [[10, '10 minutes'], [30, '30 minutes'], [60, '1 hour'], [120, '2 hours'],
  [240, '4 hours'], [480, '8 hours'], [1440, '24 hours']];
export const RANGES = [[3600, 'Last hour'], [86400, 'Last 24 hours'], [7 * 86400, 'Last 7 days'],
  [30 * 86400, 'Last 30 days'], [365 * 86400, 'Last year']];
export const EVENT_NAMES = {
  i_new: 'created', i_assign: 'assigned', i_a_rspd: 'added responders', i_snooze: 'snoozed',
  i_wake: 'woke', i_ack: 'acknowledged', i_unack: 'withdrew acknowledgement', i_storm: 'alert storm',
  i_custom: 'ran a custom action', i_rslv: 'resolved', i_reopen: 'reopened', i_merge: 'merged incidents in',
  i_comm: 'commented', i_r_title: 'changed the title', i_r_desc: 'changed the description',
  i_r_impact: 'changed the impact', i_r_rc: 'changed the root cause', i_r_rsltn: 'changed the resolution',
  i_r_severity: 'changed the severity', i_r_field: 'changed a field', i_labels: 'updated labels',
  i_links: 'added links', a_new: 'alert appeared', a_update: 'alert changed', a_merge: 'alert joined an incident',
  a_close: 'alert closed', a_recover: 'alert recovered', i_merge_disabled: 'stopped alerts joining',
};

// An event type as people read it, its code beside it: "acknowledged (i_ack)".
export const eventLabel = (code) => (EVENT_NAMES[code] ? `${EVENT_NAMES[code]} (${code})` : code);
