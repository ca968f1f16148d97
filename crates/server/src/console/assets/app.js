// The dutyhook console. Every page is a server-rendered shell; this script
// fills #app by calling the Open API with the session cookie and its CSRF
// token. Text from the server is only ever set as text (h() below makes text
// nodes), never parsed as HTML.
'use strict';

(() => {
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const PAGE = document.body.dataset.page;
  const ME = Number(document.body.dataset.personId);
  const app = document.getElementById('app');
  const params = new URLSearchParams(location.search);

  const SEVERITIES = ['Critical', 'Warning', 'Info'];
  const PROGRESS = ['Triggered', 'Processing', 'Closed'];
  const INCIDENT_EVENTS = ['i_new', 'i_assign', 'i_a_rspd', 'i_snooze', 'i_wake', 'i_ack', 'i_unack',
    'i_storm', 'i_custom', 'i_rslv', 'i_reopen', 'i_merge', 'i_comm', 'i_r_title', 'i_r_desc',
    'i_r_impact', 'i_r_rc', 'i_r_rsltn', 'i_r_severity', 'i_r_field'];
  const ALERT_EVENTS = ['a_new', 'a_update', 'a_merge'];
  const SNOOZES = [[10, '10 minutes'], [30, '30 minutes'], [60, '1 hour'], [120, '2 hours'],
    [240, '4 hours'], [480, '8 hours'], [1440, '24 hours']];
  const RANGES = [[3600, 'Last hour'], [86400, 'Last 24 hours'], [7 * 86400, 'Last 7 days'],
    [30 * 86400, 'Last 30 days'], [365 * 86400, 'Last year']];
  const EVENT_NAMES = {
    i_new: 'created', i_assign: 'assigned', i_a_rspd: 'added responders', i_snooze: 'snoozed',
    i_wake: 'woke', i_ack: 'acknowledged', i_unack: 'withdrew acknowledgement', i_storm: 'alert storm',
    i_custom: 'ran a custom action', i_rslv: 'resolved', i_reopen: 'reopened', i_merge: 'merged incidents in',
    i_comm: 'commented', i_r_title: 'changed the title', i_r_desc: 'changed the description',
    i_r_impact: 'changed the impact', i_r_rc: 'changed the root cause', i_r_rsltn: 'changed the resolution',
    i_r_severity: 'changed the severity', i_r_field: 'changed a field', i_labels: 'updated labels',
  };

  // ---- DOM -------------------------------------------------------------

  function h(tag, attrs, ...children) {
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

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function replace(el, ...children) {
    el.replaceChildren();
    append(el, children);
  }

  let nextId = 0;
  const uid = (p) => `${p}-${++nextId}`;

  // A labelled control: label and input are tied by id; errors for `name`
  // are shown under it.
  function field(label, control, hint) {
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

  const input = (name, attrs) => h('input', { name, type: 'text', ...attrs });
  const textarea = (name, attrs) => h('textarea', { name, rows: 4, ...attrs });

  function select(name, options, selected, attrs) {
    return h('select', { name, ...attrs }, options.map(([value, text]) =>
      h('option', { value, selected: String(value) === String(selected) }, text)));
  }

  function checkbox(name, label, checked, value) {
    const id = uid('c');
    return h('div', { class: 'check' },
      h('input', { type: 'checkbox', id, name, value: value ?? 'on', checked }),
      h('label', { for: id }, label));
  }

  function fmtTime(s) {
    return s ? new Date(s * 1000).toLocaleString() : '—';
  }

  function fmtMs(ms) {
    return ms ? new Date(ms).toLocaleString() : '—';
  }

  const badge = (text, kind) => h('span', { class: `badge ${kind || ''} b-${String(text).toLowerCase()}` }, text);

  function table(headers, rows, caption) {
    return h('div', { class: 'table-wrap' }, h('table', {},
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'Nothing here yet.')))));
  }

  function dl(pairs) {
    return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  function notice(text, kind) {
    return h('p', { class: `notice ${kind || ''}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  }

  // Shows a value once (a secret or key), with a copy button.
  function secretBox(label, value) {
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

  // ---- API --------------------------------------------------------------

  class ApiError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)[.[\]0-9A-Za-z_]*: /.exec(message || '');
      this.field = m ? m[1] : null;
    }
  }

  async function api(path, body) {
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

  async function all(path, body) {
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
  function onSubmit(form, save) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const buttons = form.querySelectorAll('button[type="submit"]');
      buttons.forEach((b) => { b.disabled = true; });
      showError(form, null);
      try {
        await save(new FormData(form));
      } catch (e) {
        showError(form, e instanceof ApiError ? e : new ApiError('Error', e.message));
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
    return form;
  }

  const nowS = () => Math.floor(Date.now() / 1000);
  const opt = (v) => (v === '' || v === null || v === undefined ? undefined : v);

  function go(path, query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== '') q.set(k, v);
    location.assign(q.toString() ? `${path}?${q}` : path);
  }

  function pager(p, hasNext, onGo) {
    return h('nav', { class: 'pager', 'aria-label': 'Pages' },
      h('button', { type: 'button', disabled: p <= 1, onclick: () => onGo(p - 1) }, '← Newer'),
      h('span', {}, `Page ${p}`),
      h('button', { type: 'button', disabled: !hasNext, onclick: () => onGo(p + 1) }, 'Older →'));
  }

  async function channelNames() {
    const items = await all('/channel/list', {});
    return new Map(items.map((c) => [c.channel_id, c.channel_name]));
  }

  // ---- Incidents -------------------------------------------------------

  async function incidentsPage() {
    const channels = await channelNames();
    const state = {
      progress: params.get('progress') || '',
      severity: params.get('severity') || '',
      channel: params.get('channel') || '',
      range: Number(params.get('range')) || 7 * 86400,
      q: params.get('q') || '',
      p: Number(params.get('p')) || 1,
    };
    const channelOptions = [['', 'All channels'], ...[...channels].map(([id, n]) => [id, n])];
    const filters = h('form', { class: 'filters', method: 'get', action: '/console/incidents', role: 'search' },
      field('Progress', select('progress', [['', 'Any'], ...PROGRESS.map((x) => [x, x])], state.progress)),
      field('Severity', select('severity', [['', 'Any'], ...SEVERITIES.map((x) => [x, x])], state.severity)),
      field('Channel', select('channel', channelOptions, state.channel)),
      field('Created', select('range', RANGES.map(([s, t]) => [s, t]), state.range)),
      field('Text', input('q', { type: 'search', value: state.q, placeholder: 'title, label, id or number' })),
      h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Filter')));

    const create = createIncidentForm(channels);
    const listArea = h('div', { id: 'incident-list' });
    const updated = h('p', { class: 'hint', role: 'status' });
    replace(app, h('div', { class: 'toolbar' }, create), filters, updated, listArea);

    const load = async () => {
      const end = nowS() + 60;
      const body = {
        p: state.p, limit: 20, start_time: Math.max(0, end - state.range - 60), end_time: end,
        progress: opt(state.progress), incident_severity: opt(state.severity),
        channel_ids: state.channel ? [Number(state.channel)] : undefined, query: opt(state.q),
      };
      try {
        const d = await api('/incident/list', body);
        const rows = d.items.map((i) => h('tr', {},
          h('td', {}, i.num),
          h('td', {}, h('a', { href: `/console/incident?id=${encodeURIComponent(i.incident_id)}` }, i.title)),
          h('td', {}, badge(i.incident_severity)),
          h('td', {}, badge(i.progress), i.snoozed_before > nowS() ? [' ', badge('Snoozed')] : null),
          h('td', {}, i.channel_name || channels.get(i.channel_id) || '—'),
          h('td', {}, fmtTime(i.created_at))));
        replace(listArea, table(['Num', 'Title', 'Severity', 'Progress', 'Channel', 'Created'], rows, 'Incidents'),
          h('p', { class: 'hint' }, `${d.total} incident${d.total === 1 ? '' : 's'}`),
          pager(state.p, d.has_next_page, (p) => go('/console/incidents', { ...state, p })));
        updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every 15 seconds.`;
      } catch (e) {
        replace(listArea, notice(e.message, 'error'));
      }
    };
    await load();
    setInterval(() => { if (document.visibilityState === 'visible') load(); }, 15000);
  }

  function createIncidentForm(channels) {
    const form = h('form', { class: 'card', 'aria-label': 'New incident' },
      field('Title', input('title', { required: true, minlength: 3, maxlength: 512 })),
      field('Severity', select('incident_severity', SEVERITIES.map((x) => [x, x]), 'Warning')),
      field('Channel', select('channel_id', [['', 'No channel'], ...[...channels]], '')),
      field('Description', textarea('description', { maxlength: 6144 })),
      h('button', { type: 'submit' }, 'Create incident'));
    onSubmit(form, async (fd) => {
      const inc = await api('/incident/create', {
        title: fd.get('title'), incident_severity: fd.get('incident_severity'),
        channel_id: fd.get('channel_id') ? Number(fd.get('channel_id')) : undefined,
        description: opt(fd.get('description')),
      });
      go('/console/incident', { id: inc.incident_id });
    });
    return h('details', { class: 'create' }, h('summary', {}, 'New incident'), form);
  }

  // ---- One incident ----------------------------------------------------

  async function incidentPage() {
    const id = params.get('id') || '';
    const result = h('div', { id: 'action-result', role: 'status', 'aria-live': 'polite' });
    const area = h('div');
    replace(app, result, area);
    const fields = await api('/field/list', {}).then((d) => d.items).catch(() => []);

    const show = (text, kind, extra) => replace(result, h('div', { class: `result ${kind}` }, h('p', {}, text), extra));

    async function op(label, path, body) {
      try {
        await api(path, { incident_ids: [id], ...body });
        show(`${label}: done.`, 'ok');
      } catch (e) {
        show(`${label} failed: ${e.message}`, 'bad');
      }
      await render();
    }

    async function render() {
      let inc;
      try {
        inc = await api('/incident/info', { incident_id: id });
      } catch (e) {
        replace(area, notice(e.message, 'error'), h('p', {}, h('a', { href: '/console/incidents' }, 'Back to the incidents')));
        return;
      }
      document.title = `${inc.title} · dutyhook`;
      document.getElementById('page-title').textContent = `Incident ${inc.num}`;
      const [feed, actions, alerts] = await Promise.all([
        api('/incident/feed', { incident_id: id, limit: 100 }).then((d) => d.items).catch(() => []),
        api('/incident/action/list', { incident_id: id }).then((d) => d.items).catch(() => []),
        api('/alert/list', { incident_id: id, start_time: 0, end_time: nowS() + 60, limit: 100 })
          .then((d) => d.items).catch(() => []),
      ]);
      const mine = (inc.responders || []).find((r) => r.person_id === ME);
      const closed = inc.progress === 'Closed';
      const snoozed = inc.snoozed_before > nowS();

      const buttons = h('div', { class: 'buttons', role: 'group', 'aria-label': 'Incident operations' });
      if (!closed) {
        if (mine && mine.acknowledged_at) buttons.append(h('button', { type: 'button', onclick: () => op('Unacknowledge', '/incident/unack') }, 'Unacknowledge'));
        else buttons.append(h('button', { type: 'button', class: 'primary', onclick: () => op('Acknowledge', '/incident/ack') }, 'Acknowledge'));
        if (snoozed) buttons.append(h('button', { type: 'button', onclick: () => op('Wake', '/incident/wake') }, 'Wake'));
        const snooze = select('minutes', SNOOZES, 60, { 'aria-label': 'Snooze for' });
        buttons.append(h('span', { class: 'inline' }, snooze,
          h('button', { type: 'button', onclick: () => op('Snooze', '/incident/snooze', { minutes: Number(snooze.value) }) }, 'Snooze')));
        buttons.append(h('button', { type: 'button', onclick: () => op('Resolve', '/incident/resolve') }, 'Resolve'));
      }
      buttons.append(moreActions(actions));

      const reopen = closed ? onSubmit(h('form', { class: 'inline-form' },
        field('Reason to reopen', input('reason', { required: true })),
        h('button', { type: 'submit' }, 'Reopen')), async (fd) => {
        await api('/incident/reopen', { incident_ids: [id], reason: fd.get('reason') });
        show('Reopen: done.', 'ok');
        await render();
      }) : null;

      const comment = onSubmit(h('form', { class: 'card' },
        field('Comment', textarea('comment', { required: true, maxlength: 10000 })),
        h('button', { type: 'submit' }, 'Add comment')), async (fd) => {
        await api('/incident/comment', { incident_ids: [id], comment: fd.get('comment') });
        show('Comment added.', 'ok');
        await render();
      });

      replace(area,
        h('section', { class: 'incident-head', 'aria-labelledby': 'inc-title' },
          h('h2', { id: 'inc-title' }, inc.title),
          h('p', { class: 'badges' }, badge(inc.incident_severity), ' ', badge(inc.progress), ' ',
            badge(`Status ${inc.incident_status}`, 'plain'), snoozed ? [' ', badge('Snoozed')] : null)),
        buttons, reopen,
        h('div', { class: 'columns' },
          h('section', { 'aria-labelledby': 'facts-h' },
            h('h3', { id: 'facts-h' }, 'Details'),
            dl([
              ['Channel', inc.channel_name || '—'],
              ['Created', fmtTime(inc.created_at)],
              ['Creator', inc.creator ? inc.creator.person_name : '—'],
              ['Triggered', fmtTime(inc.start_time)],
              inc.last_time > 0 && ['Last alert', fmtTime(inc.last_time)],
              inc.end_time > 0 && ['Recovered', fmtTime(inc.end_time)],
              ['Acknowledged', fmtTime(inc.ack_time)],
              snoozed && ['Snoozed until', fmtTime(inc.snoozed_before)],
              ['Closed', fmtTime(inc.close_time)],
              inc.closer && ['Closed by', inc.closer.person_name],
              ['Alerts', String(inc.alert_cnt || 0)],
              ['Description', inc.description || '—'],
              ['Impact', inc.impact || '—'],
              ['Root cause', inc.root_cause || '—'],
              ['Resolution', inc.resolution || '—'],
            ]),
            h('h3', {}, 'Responders'),
            (inc.responders || []).length
              ? h('ul', {}, inc.responders.map((r) => h('li', {}, r.person_name,
                r.acknowledged_at ? ` — acknowledged ${fmtTime(r.acknowledged_at)}` : '')))
              : h('p', { class: 'hint' }, 'No responders.'),
            h('h3', {}, 'Labels'),
            Object.keys(inc.labels || {}).length ? dl(Object.entries(inc.labels)) : h('p', { class: 'hint' }, 'No labels.'),
            h('h3', {}, 'Custom fields'),
            Object.keys(inc.fields || {}).length
              ? dl(Object.entries(inc.fields).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
              : h('p', { class: 'hint' }, 'No custom fields set.'),
            editForm(inc, fields, show, render),
            h('h3', {}, 'Alerts'),
            table(['Title', 'Severity', 'Status', 'Last'], alerts.map((a) => h('tr', {},
              h('td', {}, a.title), h('td', {}, badge(a.alert_severity)), h('td', {}, badge(a.alert_status)),
              h('td', {}, fmtTime(a.last_time)))), 'Alerts')),
          h('section', { 'aria-labelledby': 'timeline-h' },
            h('h3', { id: 'timeline-h' }, 'Timeline'),
            comment,
            h('ol', { class: 'timeline', id: 'timeline' }, feed.map(timelineEntry)))));
    }

    function moreActions(actions) {
      const menu = h('details', {
        class: 'menu',
        onkeydown: (ev) => {
          if (ev.key === 'Escape' && menu.open) {
            menu.open = false;
            menu.querySelector('summary').focus();
          }
        },
      }, h('summary', {}, 'More actions'));
      if (!actions.length) {
        menu.append(h('p', { class: 'hint menu-body' }, 'This incident\'s channel has no custom actions.'));
        return menu;
      }
      menu.append(h('ul', { class: 'menu-body' }, actions.map((a) => h('li', {},
        h('button', { type: 'button', 'data-action-id': a.action_id, onclick: (ev) => trigger(a, ev.currentTarget, menu) }, a.name)))));
      return menu;
    }

    async function trigger(action, button, menu) {
      button.disabled = true;
      show(`Running "${action.name}"…`, 'pending');
      try {
        const r = await api('/incident/action/trigger', {
          incident_id: id, action_id: action.action_id, idempotency_key: crypto.randomUUID(),
        });
        const headline = r.success
          ? `"${action.name}" succeeded: HTTP ${r.status_code} in ${r.duration_ms} ms`
          : `"${action.name}" failed: ${r.status_code ? `HTTP ${r.status_code}` : r.error_class || 'no answer'} after ${r.duration_ms} ms`;
        show(headline, r.success ? 'ok' : 'bad', [
          r.error && r.error !== `HTTP ${r.status_code}` ? h('p', {}, r.error) : null,
          r.response_body ? [h('p', { class: 'hint' }, 'The endpoint answered:'), h('pre', { class: 'response' }, r.response_body)] : null,
        ]);
      } catch (e) {
        show(`"${action.name}" could not run: ${e.message}`, 'bad');
      }
      menu.open = false;
      button.disabled = false;
      await render();
    }

    await render();
  }

  function timelineEntry(e) {
    const d = e.detail || {};
    let what = EVENT_NAMES[e.type] || e.type;
    const extra = [];
    if (e.type === 'i_custom') {
      what = `ran the action "${d.name || (d.action && d.action.name) || '?'}"`;
      if (d.status_code) extra.push(`HTTP ${d.status_code}`);
    } else if (e.type === 'i_comm' && d.comment) {
      extra.push(h('q', {}, d.comment));
    } else if (Object.keys(d).length) {
      extra.push(h('code', {}, JSON.stringify(d)));
    }
    return h('li', { 'data-type': e.type },
      h('time', { datetime: new Date(e.created_at * 1000).toISOString() }, fmtTime(e.created_at)), ' ',
      h('strong', {}, e.person ? e.person.person_name : 'dutyhook'), ' ', what,
      extra.length ? [' — ', extra] : null);
  }

  function editForm(inc, fields, show, render) {
    const texts = [['title', 'Title'], ['description', 'Description'], ['impact', 'Impact'],
      ['root_cause', 'Root cause'], ['resolution', 'Resolution']];
    const form = h('form', { class: 'card' },
      texts.map(([k, label]) => field(label, k === 'title' ? input(k, { value: inc[k] }) : textarea(k, { value: inc[k] || '' }))),
      field('Severity', select('incident_severity', SEVERITIES.map((x) => [x, x]), inc.incident_severity)),
      fields.map((f) => field(f.display_name, fieldControl(f, (inc.fields || {})[f.field_name]))),
      h('button', { type: 'submit' }, 'Save changes'));
    onSubmit(form, async (fd) => {
      const body = { incident_id: inc.incident_id };
      let changed = false;
      for (const [k] of [...texts, ['incident_severity']]) {
        if ((fd.get(k) ?? '') !== (inc[k] ?? '')) { body[k] = fd.get(k); changed = true; }
      }
      if (changed) await api('/incident/reset', body);
      for (const f of fields) {
        const value = fieldValue(f, form);
        if (JSON.stringify(value) !== JSON.stringify((inc.fields || {})[f.field_name] ?? null) && value !== null) {
          await api('/incident/field/reset', { incident_id: inc.incident_id, field_name: f.field_name, field_value: value });
        }
      }
      show('Changes saved.', 'ok');
      await render();
    });
    return h('details', { class: 'edit' }, h('summary', {}, 'Edit fields'), form);
  }

  function fieldControl(f, value) {
    const name = `field_${f.field_name}`;
    switch (f.field_type) {
      case 'number': return input(name, { type: 'number', step: 'any', value: value ?? '' });
      case 'checkbox': return h('input', { type: 'checkbox', name, checked: Boolean(value) });
      case 'single_select': return select(name, [['', '—'], ...f.options.map((o) => [o, o])], value ?? '');
      case 'multi_select': return h('select', { name, multiple: true },
        f.options.map((o) => h('option', { value: o, selected: (value || []).includes(o) }, o)));
      default: return input(name, { value: value ?? '' });
    }
  }

  function fieldValue(f, form) {
    const el = form.elements[`field_${f.field_name}`];
    switch (f.field_type) {
      case 'number': return el.value === '' ? null : Number(el.value);
      case 'checkbox': return el.checked;
      case 'multi_select': return [...el.selectedOptions].map((o) => o.value);
      default: return el.value === '' ? null : el.value;
    }
  }

  // ---- Integration center ---------------------------------------------

  const TABS = [
    ['incident', 'Incident webhooks'], ['alert', 'Alert webhooks'],
    ['action', 'Custom actions'], ['source', 'Alert sources'],
  ];

  async function integrationsPage() {
    const tab = TABS.some(([t]) => t === params.get('tab')) ? params.get('tab') : 'incident';
    const [channels, teams] = await Promise.all([channelNames(), all('/team/list', {})]);
    const ctx = { tab, channels, teams };
    const tabs = h('nav', { class: 'tabs', 'aria-label': 'Integration kinds' }, TABS.map(([t, label]) =>
      h('a', { href: `/console/integrations?tab=${t}`, 'aria-current': t === tab ? 'page' : false }, label)));
    const top = h('div', { id: 'integration-top' });
    const list = h('div', { id: 'integration-list' });
    ctx.top = top;
    ctx.reload = async () => { replace(list, await integrationTable(ctx)); };
    const newButton = h('button', { type: 'button', class: 'primary', onclick: () => openForm(ctx, null) },
      tab === 'source' ? 'New alert source' : tab === 'action' ? 'New custom action' : 'New webhook');
    replace(app, tabs, h('div', { class: 'toolbar' }, newButton), top, list);
    await ctx.reload();
  }

  async function integrationTable(ctx) {
    const { tab, channels } = ctx;
    const names = (ids) => (ids === null || ids === undefined ? 'All channels'
      : ids.map((i) => channels.get(i) || `#${i}`).join(', ') || '—');
    try {
      if (tab === 'source') {
        const items = await all('/integration/alert-source/list', {});
        return table(['Name', 'Type', 'Channel', 'Created', ''], items.map((s) => h('tr', {},
          h('td', {}, s.name), h('td', {}, s.source_type), h('td', {}, names([s.channel_id])),
          h('td', {}, fmtTime(s.created_at)),
          h('td', { class: 'row-actions' }, deleteButton(ctx, '/integration/alert-source/delete', s)))), 'Alert sources');
      }
      if (tab === 'action') {
        const items = await all('/integration/custom-action/list', {});
        return table(['Name', 'Endpoint', 'Channels', ''], items.map((a) => h('tr', {},
          h('td', {}, a.name), h('td', { class: 'mono' }, a.endpoint), h('td', {}, names(a.channel_ids)),
          h('td', { class: 'row-actions' },
            h('button', { type: 'button', onclick: () => openForm(ctx, a) }, 'Edit'),
            h('a', { class: 'button', href: `/console/history?integration_id=${a.integration_id}` }, 'History'),
            deleteButton(ctx, '/integration/custom-action/delete', a)))), 'Custom actions');
      }
      const items = await all('/integration/webhook/list', { kind: tab });
      return table(['Name', 'Endpoint', 'Channels', 'Events', 'State', ''], items.map((w) => h('tr', {},
        h('td', {}, w.name), h('td', { class: 'mono' }, w.endpoint), h('td', {}, names(w.channel_ids)),
        h('td', {}, w.event_types.length ? w.event_types.join(', ') : 'All'),
        h('td', {}, w.enabled ? badge('Enabled') : [badge('Disabled'), w.disabled_reason ? h('span', { class: 'hint' }, ` ${w.disabled_reason}`) : null]),
        h('td', { class: 'row-actions' },
          h('button', { type: 'button', onclick: () => openForm(ctx, w) }, 'Edit'),
          h('button', { type: 'button', onclick: () => toggle(ctx, w) }, w.enabled ? 'Disable' : 'Enable'),
          h('button', { type: 'button', onclick: () => testForm(ctx, w) }, 'Send test'),
          h('a', { class: 'button', href: `/console/history?integration_id=${w.integration_id}` }, 'History'),
          deleteButton(ctx, '/integration/webhook/delete', w)))), 'Webhooks');
    } catch (e) {
      return notice(e.message, 'error');
    }
  }

  function deleteButton(ctx, path, item) {
    return h('button', {
      type: 'button', class: 'danger',
      onclick: async () => {
        if (!confirm(`Delete "${item.name}"?`)) return;
        try {
          await api(path, { integration_id: item.integration_id });
          replace(ctx.top, notice(`Deleted "${item.name}".`));
        } catch (e) {
          replace(ctx.top, notice(e.message, 'error'));
        }
        await ctx.reload();
      },
    }, 'Delete');
  }

  async function toggle(ctx, w) {
    try {
      await api(`/integration/webhook/${w.enabled ? 'disable' : 'enable'}`, { integration_id: w.integration_id });
      replace(ctx.top, notice(`"${w.name}" is now ${w.enabled ? 'disabled' : 'enabled'}.`));
    } catch (e) {
      replace(ctx.top, notice(e.message, 'error'));
    }
    await ctx.reload();
  }

  function testForm(ctx, w) {
    const events = w.kind === 'alert' ? [...ALERT_EVENTS, 'a_close'] : INCIDENT_EVENTS;
    const out = h('div', { role: 'status' });
    const form = onSubmit(h('form', { class: 'card', 'aria-label': `Send a test push to ${w.name}` },
      h('h2', {}, `Send a test push to "${w.name}"`),
      field('Event type', select('event_type', events.map((e) => [e, e]), events[0])),
      w.kind === 'incident' ? field('Incident id (optional)', input('incident_id', { pattern: '[0-9a-f]{24}' }), 'A real incident, or leave empty for a sample.') : null,
      h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Send test'),
        h('button', { type: 'button', onclick: () => replace(ctx.top) }, 'Close')),
      out), async (fd) => {
      const r = await api('/integration/webhook/test', {
        integration_id: w.integration_id, event_type: fd.get('event_type'), incident_id: opt(fd.get('incident_id')),
      });
      replace(out, h('div', { class: `result ${r.success ? 'ok' : 'bad'}` },
        h('p', {}, r.success ? `Delivered: HTTP ${r.status_code} in ${r.duration_ms} ms`
          : `Failed: ${r.status_code ? `HTTP ${r.status_code}` : r.error_class} after ${r.duration_ms} ms`),
        r.error ? h('p', {}, r.error) : null,
        r.response_body ? h('pre', { class: 'response' }, r.response_body) : null));
    });
    replace(ctx.top, form);
    form.querySelector('select').focus();
  }

  function headersEditor(headers) {
    const rows = h('div', { class: 'headers' });
    const addRow = (hd) => {
      const row = h('div', { class: 'header-row', role: 'group', 'aria-label': 'Header' },
        input('header_key', { value: hd.key || '', 'aria-label': 'Header name', placeholder: 'Name' }),
        input('header_value', { value: hd.value || '', 'aria-label': 'Header value', placeholder: 'Value', type: hd.secret ? 'password' : 'text', autocomplete: 'off' }),
        checkbox('header_secret', 'Secret', hd.secret),
        h('button', { type: 'button', class: 'danger', onclick: () => row.remove() }, 'Remove'));
      const secret = row.querySelector('input[type="checkbox"]');
      secret.addEventListener('change', () => { row.children[1].type = secret.checked ? 'password' : 'text'; });
      rows.append(row);
    };
    (headers || []).forEach(addRow);
    return h('fieldset', { 'data-field': 'headers' }, h('legend', {}, 'Custom headers'),
      h('p', { class: 'hint' }, 'Secret values are masked when read back; leave a masked value as it is to keep it.'),
      rows, h('button', { type: 'button', onclick: () => addRow({}) }, 'Add header'));
  }

  function readHeaders(form) {
    return [...form.querySelectorAll('.header-row')].map((row) => ({
      key: row.children[0].value, value: row.children[1].value,
      secret: row.querySelector('input[type="checkbox"]').checked,
    })).filter((x) => x.key || x.value);
  }

  function channelPicker(channels, chosen, allowAll) {
    const all = allowAll ? checkbox('all_channels', 'All channels', chosen === null || chosen === undefined) : null;
    const boxes = [...channels].map(([cid, name]) => checkbox('channel_ids', name, (chosen || []).includes(cid), cid));
    const set = h('fieldset', { 'data-field': 'channel_ids' }, h('legend', {}, 'Channels'), all,
      boxes.length ? boxes : h('p', { class: 'hint' }, 'No channels yet: create one under Directory.'));
    if (all) {
      const sync = () => boxes.forEach((b) => { b.querySelector('input').disabled = all.querySelector('input').checked; });
      all.querySelector('input').addEventListener('change', sync);
      sync();
    }
    return set;
  }

  function eventPicker(kind, chosen) {
    const list = kind === 'alert' ? ALERT_EVENTS : INCIDENT_EVENTS;
    return h('fieldset', { 'data-field': 'event_types', class: 'events' }, h('legend', {}, 'Event types'),
      h('p', { class: 'hint' }, kind === 'alert'
        ? 'None ticked means all. a_close is always delivered.' : 'None ticked means all.'),
      list.map((e) => checkbox('event_types', e, (chosen || []).includes(e), e)));
  }

  function openForm(ctx, item) {
    const { tab, channels, teams } = ctx;
    const editing = Boolean(item);
    const teamOptions = [['', 'No managing team'], ...teams.map((t) => [t.team_id, t.team_name])];
    const out = h('div', { role: 'status' });
    const heading = editing ? `Edit "${item.name}"` : TABS.find(([t]) => t === tab)[1].replace(/s$/, '');
    let controls;
    if (tab === 'source') {
      controls = [
        field('Name', input('name', { required: true })),
        field('Type', select('source_type', [['standard', 'Standard events'], ['alertmanager', 'Prometheus Alertmanager']], 'standard')),
        field('Channel', select('channel_id', [...channels], '')),
      ];
    } else {
      const v = item || {};
      controls = [
        field('Name', input('name', { required: true, value: v.name || '', maxlength: tab === 'action' ? 40 : 200 })),
        field('Description', input('description', { value: v.description || '' })),
        field('Endpoint', input('endpoint', { required: true, type: 'url', value: v.endpoint || '', placeholder: 'https://…' })),
        headersEditor(v.headers),
        checkbox('tls_verify', 'Verify TLS certificates', v.tls_verify !== false),
        channelPicker(channels, editing ? v.channel_ids : (tab === 'action' ? [] : null), tab !== 'action'),
        tab !== 'action' ? eventPicker(tab, v.event_types) : null,
        tab !== 'action' ? field('Body template', textarea('body_template', { value: v.body_template || '', class: 'mono', rows: 6 }),
          'Optional JSON with {{path}} variables, e.g. {"text": "{{incident.title}}"}.') : null,
        field('Timeout (ms)', input('timeout_ms', { type: 'number', min: 100, max: 10000, value: v.timeout_ms || (tab === 'action' ? 1000 : 5000) })),
        tab !== 'action' ? field('Retry policy', select('retry_policy', [['backoff', 'Back off and retry'], ['once', 'Retry once'], ['none', 'Never retry']], v.retry_policy || 'backoff')) : null,
        field('Managing team', select('team_id', teamOptions, v.team_id || '')),
      ];
    }
    const form = h('form', { class: 'card', 'aria-label': heading },
      h('h2', {}, heading), controls,
      h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Create'),
        h('button', { type: 'button', onclick: () => replace(ctx.top) }, 'Cancel')), out);
    onSubmit(form, async (fd) => {
      if (tab === 'source') {
        const r = await api('/integration/alert-source/create', {
          name: fd.get('name'), source_type: fd.get('source_type'), channel_id: Number(fd.get('channel_id')),
        });
        replace(ctx.top, notice(`Created alert source #${r.integration_id}.`),
          secretBox('Integration key', r.integration_key));
        await ctx.reload();
        return;
      }
      const allChannels = fd.get('all_channels') === 'on';
      const body = {
        name: fd.get('name'), description: fd.get('description') || '', endpoint: fd.get('endpoint'),
        headers: readHeaders(form), tls_verify: fd.get('tls_verify') === 'on',
        channel_ids: allChannels ? undefined : fd.getAll('channel_ids').map(Number),
        timeout_ms: Number(fd.get('timeout_ms')),
        team_id: fd.get('team_id') ? Number(fd.get('team_id')) : 0,
      };
      if (tab !== 'action') {
        Object.assign(body, {
          kind: tab, event_types: fd.getAll('event_types'),
          body_template: fd.get('body_template') || '', retry_policy: fd.get('retry_policy'),
        });
      }
      const base = tab === 'action' ? '/integration/custom-action' : '/integration/webhook';
      if (editing) {
        await api(`${base}/update`, { ...body, integration_id: item.integration_id });
        replace(ctx.top, notice(`Saved "${body.name}".`));
      } else {
        const r = await api(`${base}/create`, body);
        replace(ctx.top, notice(`Created "${body.name}" (#${r.integration_id}).`),
          secretBox('Signing secret', r.signing_secret));
      }
      await ctx.reload();
    });
    replace(ctx.top, form);
    form.querySelector('input[name="name"]').focus();
  }

  // ---- Invocation history ---------------------------------------------

  // Presets up to the history's retention, and the whole retention.
  const RETENTION_S = Number(document.body.dataset.retentionS) || 7 * 86400;
  const HISTORY_RANGES = [[3600, 'Last hour'], [86400, 'Last 24 hours'], [7 * 86400, 'Last 7 days']]
    .filter(([s]) => s < RETENTION_S)
    .concat([[RETENTION_S, `All kept (${RETENTION_S >= 86400 ? `${+(RETENTION_S / 86400).toFixed(1)} days` : `${Math.round(RETENTION_S / 3600)} hours`})`]]);

  async function historyPage() {
    const integrationId = Number(params.get('integration_id'));
    if (!integrationId) {
      replace(app, notice('Open the history from an integration in the Integration center.'),
        h('p', {}, h('a', { href: '/console/integrations' }, 'Integration center')));
      return;
    }
    const integ = await api('/integration/webhook/info', { integration_id: integrationId })
      .catch(() => api('/integration/custom-action/info', { integration_id: integrationId }))
      .catch(() => null);
    if (integ) document.getElementById('page-title').textContent = `Invocation history: ${integ.name}`;
    const state = {
      range: Math.min(Number(params.get('range')) || 86400, RETENTION_S), incident_id: params.get('incident_id') || '',
      alert_id: params.get('alert_id') || '', event_type: params.get('event_type') || '',
      status: params.get('status') || '', p: Number(params.get('p')) || 1,
    };
    const events = [...INCIDENT_EVENTS, ...ALERT_EVENTS, 'a_close'];
    const filters = h('form', { class: 'filters', method: 'get', action: '/console/history', role: 'search' },
      h('input', { type: 'hidden', name: 'integration_id', value: integrationId }),
      field('Time', select('range', HISTORY_RANGES, state.range)),
      field('Incident id', input('incident_id', { value: state.incident_id })),
      field('Alert id', input('alert_id', { value: state.alert_id })),
      field('Event type', select('event_type', [['', 'Any'], ...events.map((e) => [e, e])], state.event_type)),
      field('Status', select('status', [['', 'Any'], ['success', 'Success'], ['failure', 'Failure']], state.status)),
      h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Filter')));
    const detail = h('div', { id: 'invocation' });
    const listArea = h('div');
    replace(app, h('p', {}, h('a', { href: '/console/integrations' }, '← Integration center')), filters, detail, listArea);
    const end = nowS() + 60;
    try {
      const d = await api('/integration/history/list', {
        integration_id: integrationId, start_time: end - state.range - 60, end_time: end,
        incident_id: opt(state.incident_id), alert_id: opt(state.alert_id), event_type: opt(state.event_type),
        status: opt(state.status), p: state.p, limit: 20,
      });
      const rows = d.items.map((r) => h('tr', {},
        h('td', {}, fmtMs(r.started_at)),
        h('td', {}, r.event_type, r.test ? [' ', badge('test', 'plain')] : null),
        h('td', {}, r.incident_id ? h('a', { href: `/console/incident?id=${r.incident_id}` }, r.incident_id.slice(-6).toUpperCase()) : (r.alert_id || '—')),
        h('td', { class: 'mono' }, r.event_id),
        h('td', {}, badge(r.status === 'success' ? 'Success' : 'Failure'), ' ', r.http_status ? `HTTP ${r.http_status}` : r.error_class),
        h('td', {}, `${r.duration_ms} ms`),
        h('td', {}, String(r.attempt)),
        h('td', {}, h('button', { type: 'button', onclick: () => showInvocation(detail, r.invocation_id) }, 'View'))));
      append(listArea, [table(['Time', 'Event', 'Incident', 'Event id', 'Status', 'Duration', 'Attempt', ''], rows, 'Invocations'),
        pager(state.p, d.has_next_page, (p) => go('/console/history', { integration_id: integrationId, ...state, p }))]);
    } catch (e) {
      append(listArea, notice(e.message, 'error'));
    }
  }

  async function showInvocation(detail, invocationId) {
    let r;
    try {
      r = await api('/integration/history/info', { invocation_id: invocationId });
    } catch (e) {
      replace(detail, notice(e.message, 'error'));
      return;
    }
    const out = h('div', { role: 'status' });
    const s = r.summary || r;
    // An HTTP message as people read it: first line, headers, blank line, body.
    const httpText = (m) => {
      if (!m || typeof m !== 'object') return String(m ?? '—');
      const lines = [];
      if (m.url) lines.push(`${m.method || 'POST'} ${m.url}`);
      if (m.status) lines.push(`HTTP ${m.status}`);
      for (const x of m.headers || []) lines.push(`${x.key}: ${x.value}`);
      let body = m.body ?? '';
      try { body = JSON.stringify(JSON.parse(body), null, 2); } catch { /* not JSON: as sent */ }
      if (typeof body !== 'string') body = JSON.stringify(body, null, 2);
      lines.push('', body);
      if (m.truncated) lines.push('… (cut at 64 KiB)');
      return lines.join('\n');
    };
    replace(detail, h('section', { class: 'card', 'aria-labelledby': 'inv-h' },
      h('h2', { id: 'inv-h', tabindex: '-1' }, `Invocation ${s.invocation_id}`),
      dl([
        ['Event', `${s.event_type} (${s.event_id})`],
        ['Started', fmtMs(s.started_at)],
        ['Status', `${s.status}${s.http_status ? `, HTTP ${s.http_status}` : ''}`],
        s.error_class && ['Failure class', s.error_class],
        s.error && ['Error', s.error],
        ['Duration', `${s.duration_ms} ms`],
        ['Attempt', String(s.attempt)],
        ['Delivery', `${r.delivery_state || '—'} after ${r.delivery_attempts ?? '—'} attempts`],
      ]),
      h('h3', {}, 'Request'), h('pre', { class: 'response', 'data-part': 'request' }, httpText(r.request)),
      h('h3', {}, 'Response'), h('pre', { class: 'response', 'data-part': 'response' }, httpText(r.response)),
      h('div', { class: 'buttons' },
        h('button', {
          type: 'button', class: 'primary',
          onclick: async () => {
            try {
              const x = await api('/integration/history/resend', { invocation_id: invocationId });
              replace(out, notice(`Resent: delivery #${x.delivery_id} queued with event ${x.event_id}.`));
            } catch (e) {
              replace(out, notice(e.message, 'error'));
            }
          },
        }, 'Resend'),
        h('button', { type: 'button', onclick: () => replace(detail) }, 'Close')),
      out));
    detail.querySelector('h2').focus();
  }

  // ---- Directory --------------------------------------------------------

  const DIR_TABS = [['channels', 'Channels'], ['people', 'People'], ['teams', 'Teams'],
    ['keys', 'App keys'], ['fields', 'Custom fields']];

  async function directoryPage() {
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
    list.before(h('details', { class: 'create' }, h('summary', {}, `New ${DIRECTORY[tab].noun}`), form));
    await reload();
  }

  const personPicker = (people) => h('fieldset', { 'data-field': 'person_ids' }, h('legend', {}, 'Members'),
    people.map((p) => checkbox('person_ids', p.person_name, false, p.person_id)));

  const DIRECTORY = {
    channels: {
      noun: 'channel',
      form: () => h('form', { class: 'card' },
        field('Name', input('channel_name', { required: true })),
        field('Description', input('description')),
        h('button', { type: 'submit' }, 'Create channel')),
      save: async (fd) => {
        const r = await api('/channel/create', { channel_name: fd.get('channel_name'), description: fd.get('description') || undefined });
        return notice(`Created channel #${r.channel_id}.`);
      },
      list: async () => {
        const items = await all('/channel/list', {});
        return table(['Id', 'Name', 'Description', 'Created'], items.map((c) => h('tr', {},
          h('td', {}, String(c.channel_id)), h('td', {}, c.channel_name), h('td', {}, c.description || '—'),
          h('td', {}, fmtTime(c.created_at)))), 'Channels');
      },
    },
    people: {
      noun: 'person',
      form: () => h('form', { class: 'card' },
        field('Name', input('person_name', { required: true })),
        field('Email', input('email', { type: 'email', required: true })),
        field('Role', select('role', [['member', 'Member'], ['viewer', 'Viewer'], ['admin', 'Admin']], 'member')),
        h('button', { type: 'submit' }, 'Add person')),
      save: async (fd) => {
        const r = await api('/person/create', { person_name: fd.get('person_name'), email: fd.get('email'), role: fd.get('role') });
        return notice(`Added person #${r.person_id}.`);
      },
      list: async () => {
        const items = await all('/person/list', {});
        return table(['Id', 'Name', 'Email', 'Role'], items.map((p) => h('tr', {},
          h('td', {}, String(p.person_id)), h('td', {}, p.person_name), h('td', {}, p.email), h('td', {}, p.role))), 'People');
      },
    },
    teams: {
      noun: 'team',
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
        field('Person', select('person_id', people.map((p) => [p.person_id, p.person_name]), ME)),
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
          h('td', {}, h('button', {
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
          }, 'Revoke')))), 'App keys');
      },
    },
    fields: {
      noun: 'custom field',
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
          h('td', {}, h('button', {
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

  // ---- Start ------------------------------------------------------------

  const PAGES = {
    incidents: incidentsPage, incident: incidentPage, integrations: integrationsPage,
    history: historyPage, directory: directoryPage,
  };
  // A page the server rendered stays readable until the script's replaces it.
  if (!app.querySelector('[data-plain]')) replace(app, h('p', { class: 'hint' }, 'Loading…'));
  (PAGES[PAGE] || (async () => {}))().catch((e) => replace(app, notice(e.message, 'error')));
})();
