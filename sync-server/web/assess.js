// Assessment (考核): report figures per grid, per responder or per category over a chosen
// period (GET /api/v1/stats/reports), as a table and an SVG chart, and the same figures as a
// CSV download (format=csv).

import { h, put } from './dom.js';
import { get, query } from './api.js';
import { t, label } from './i18n.js';
import { dateStart, dateValue, duration } from './fmt.js';
import { fail } from './messages.js';
import { bars } from './charts.js';
import { grid } from './rows.js';

const DAY = 86400000;
const COLUMNS = ['received', 'accepted', 'dispatched', 'resolved', 'confirmed', 'reopened',
  'rejected', 'overdue', 'supervisions'];

function keyWord(group, key) {
  if (key === null || key === undefined) return group === 'assignee' ? t('assess.unassigned') : t('assess.all');
  if (group === 'scope') return grid(key);
  if (group === 'category') return label('category', key);
  return key;
}

/** The assessment page. */
export async function show(main) {
  const now = Date.now();
  const from = h('input', { id: 's-from', type: 'date', value: dateValue(now - 30 * DAY) });
  const to = h('input', { id: 's-to', type: 'date', value: dateValue(now) });
  const group = h('select', { id: 's-group' },
    [['scope', 'assess.by_scope'], ['assignee', 'assess.by_assignee'], ['category', 'assess.by_category'],
      ['all', 'assess.all']].map(([v, k]) => h('option', { value: v }, t(k))));
  const csv = h('a', { id: 's-csv', class: 'button', download: 'reports.csv' }, t('assess.csv'));
  const run = h('button', { type: 'submit', id: 's-run' }, t('assess.run'));
  const out = h('div', { id: 'stats-out' });
  const form = h('form', { class: 'filters', id: 'stats-form' },
    h('div', { class: 'field' }, h('label', { for: 's-from' }, t('assess.from')), from),
    h('div', { class: 'field' }, h('label', { for: 's-to' }, t('assess.to')), to),
    h('div', { class: 'field' }, h('label', { for: 's-group' }, t('assess.group')), group), run, csv);
  put(main, h('section', { class: 'assess' }, h('h2', {}, t('assess.title')), form, out));

  const load = async () => {
    const params = {
      group: group.value,
      from: dateStart(from.value),
      // The end date's whole day.
      to: dateStart(to.value) + DAY,
    };
    csv.href = `/api/v1/stats/reports${query({ ...params, format: 'csv' })}`;
    try {
      const rows = await get(`/api/v1/stats/reports${query(params)}`);
      if (!rows.length) {
        put(out, h('p', { class: 'empty' }, t('assess.empty')));
        return;
      }
      const table = h('table', { class: 'stats', id: 'stats-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('assess.key')),
          COLUMNS.map((c) => h('th', { scope: 'col' }, t(`assess.${c}`))),
          h('th', { scope: 'col' }, t('assess.overdue_rate')),
          h('th', { scope: 'col' }, t('assess.accept_median')),
          h('th', { scope: 'col' }, t('assess.resolve_median')))),
        h('tbody', {}, rows.map((r) => h('tr', { dataset: { key: r.key ?? '' } },
          h('th', { scope: 'row' }, keyWord(group.value, r.key)),
          COLUMNS.map((c) => h('td', { class: 'num', dataset: { col: c } }, String(r[c]))),
          h('td', { class: 'num' }, `${(r.overdue_rate * 100).toFixed(1)}%`),
          h('td', { class: 'num' }, duration(r.accept_median_ms)),
          h('td', { class: 'num' }, duration(r.resolve_median_ms))))));
      const chart = bars(rows, [
        { key: 'received', name: t('assess.received'), cls: 'received' },
        { key: 'overdue', name: t('assess.overdue'), cls: 'overdue' },
      ], (r) => keyWord(group.value, r.key));
      put(out, h('div', { class: 'card' }, h('h3', {}, t('assess.chart')), chart), h('div', { class: 'card scroll' }, table));
    } catch (e) {
      fail(e);
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load();
  });
  group.addEventListener('change', load);
  await load();
  return () => {};
}
