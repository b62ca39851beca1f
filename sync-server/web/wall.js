// The wall screen (大屏): large counters of the open reports by state and the overdue ones,
// the most urgent overdue reports, kept current by the event stream with nothing to press.
// Laid out for 1920×1080 (style.css, body.wall).

import { h, put } from './dom.js';
import { get, query } from './api.js';
import { t, label } from './i18n.js';
import { time } from './fmt.js';
import { fail } from './messages.js';
import { Live } from './live.js';
import { OPEN, grid } from './rows.js';

const LIST = 12;

/** The wall screen. */
export async function show(main) {
  const counts = new Map();
  const tile = (key, text) => {
    const n = h('span', { class: 'count', dataset: { count: key } }, '–');
    counts.set(key, n);
    return h('div', { class: `tile big tile-${key}` }, h('span', { class: 'name' }, text), n);
  };
  const clock = h('span', { class: 'clock', id: 'wall-clock' });
  const state = h('span', { class: 'live-state', id: 'live-state' }, t('app.loading'));
  const list = h('ol', { class: 'wall-list', id: 'wall-list' });
  put(main, h('section', { class: 'wall-screen', id: 'wall' },
    h('div', { class: 'wall-head' }, h('h2', {}, t('wall.title')), state, clock),
    h('div', { class: 'counters big' }, tile('open', t('filter.open')), tile('overdue', t('board.overdue')),
      OPEN.map((s) => tile(s, label('status', s)))),
    h('h3', {}, t('wall.overdue_list')), list));

  const refresh = async () => {
    try {
      const [c, page] = await Promise.all([
        get(`/api/v1/reports/counts${query({ status: OPEN.join(',') })}`),
        get(`/api/v1/reports${query({ status: OPEN.join(','), overdue: true, sort: 'priority', limit: LIST })}`),
      ]);
      const by = Object.fromEntries(c.statuses.map((x) => [x.status, x.reports]));
      for (const s of OPEN) counts.get(s).textContent = String(by[s] || 0);
      counts.get('open').textContent = String(c.reports);
      counts.get('overdue').textContent = String(c.overdue);
      counts.get('overdue').parentElement.classList.toggle('alarm', c.overdue > 0);
      list.replaceChildren(...page.items.map((r) => h('li', { class: 'overdue' },
        h('span', { class: 'badge overdue-mark' }, t('board.overdue_mark')),
        h('span', { class: 'title' }, r.title),
        h('span', { class: 'meta' }, `${label('status', r.status)} · ${grid(r.scope)} · ${time(r.created_at)}`))));
      clock.textContent = t('wall.updated', { time: time(Date.now()) });
    } catch (e) {
      fail(e);
    }
  };
  let timer = null;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  };
  const live = new Live(() => soon(), (s) => {
    state.textContent = s === 'live' ? t('board.live') : t('board.reconnecting');
    state.classList.toggle('down', s !== 'live');
    if (s === 'live') soon();
  });
  live.open();
  // Reports become overdue by the clock too, with no event.
  const minute = setInterval(refresh, 60000);
  await refresh();
  return () => {
    live.close();
    clearTimeout(timer);
    clearInterval(minute);
  };
}
