// Replaying a webhook's failed and skipped deliveries of a window: the form,
// then the replay's progress read every second, with Cancel.

import { checkbox, field, h, input, notice, replace, select } from './dom.js';
import { api, nowS, onSubmit } from './api.js';

export function replayPanel(integ, ranges) {
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', 'aria-label': 'Replay' },
    h('p', { class: 'hint' }, 'Pushes again, oldest first and in each incident\'s order, every delivery of the window that failed '
      + 'or was skipped while the webhook was disabled — with the same event ids, so receivers can tell them apart.'),
    field('Time', select('range', ranges, ranges[0][0])),
    h('fieldset', { 'data-field': 'status' }, h('legend', {}, 'Deliveries'),
      checkbox('status', 'Failed', true, 'failed'), checkbox('status', 'Skipped', true, 'skipped')),
    field('Per second', input('rate_per_s', { type: 'number', min: 1, max: 1000, value: 50, required: true }),
      'At most this many are queued each second, so a recovering endpoint is not flooded.'),
    h('button', { type: 'submit', class: 'primary' }, 'Replay'));
  onSubmit(form, async (fd) => {
    const end = nowS() + 60;
    const r = await api('/integration/history/replay', {
      integration_id: integ.integration_id, start_time: end - Number(fd.get('range')) - 60, end_time: end,
      status: fd.getAll('status'), rate_per_s: Number(fd.get('rate_per_s')),
    });
    if (!r.count) {
      replace(out, notice('Nothing failed or was skipped in that window.'));
      return;
    }
    watch(r.replay_id, out);
  });
  return h('details', { class: 'edit' }, h('summary', {}, 'Replay failed and skipped deliveries'), form, out);
}

function watch(replayId, out) {
  const cancel = h('button', {
    type: 'button',
    onclick: async () => {
      try {
        await api('/integration/history/replay/cancel', { replay_id: replayId });
      } catch (e) {
        replace(out, notice(e.message, 'error'));
      }
    },
  }, 'Cancel replay');
  const tick = async () => {
    let r;
    try {
      r = await api('/integration/history/replay/info', { replay_id: replayId });
    } catch (e) {
      replace(out, notice(e.message, 'error'));
      return;
    }
    const what = r.state === 'cancelled' ? 'Cancelled' : r.state === 'finished' ? 'All queued' : 'Replaying';
    replace(out, h('div', { class: 'card', 'aria-label': 'Replay progress' },
      h('p', {}, h('strong', {}, what), ` — ${r.queued} of ${r.total} queued at ${r.rate_per_s}/s: `
        + `${r.pushed} pushed, ${r.failed} failed, ${r.skipped} skipped, ${r.pending} on their way.`),
      h('progress', { max: r.total || 1, value: r.pushed + r.failed + r.skipped, 'aria-label': 'Replayed' }),
      r.state === 'running' ? cancel : null));
    if (r.state === 'running' || r.pending > 0) setTimeout(tick, 1000);
  };
  tick();
}
