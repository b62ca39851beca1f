// Read views of patrol logs (GET /api/v1/patrols) and mediation cases (GET /api/v1/cases):
// pages of 50, newest first, each row opening the record.

import { h, put } from './dom.js';
import { get, query } from './api.js';
import { t, label } from './i18n.js';
import { time } from './fmt.js';
import { fail } from './messages.js';
import { grid } from './rows.js';

const KINDS = {
  patrols: {
    path: '/api/v1/patrols',
    title: 'patrols.title',
    columns: ['record.area', 'col.grid', 'col.state', 'record.members', 'record.entries', 'record.checkpoints', 'record.started', 'record.ended'],
    cells: (p) => [p.area, grid(p.scope), label('status', p.status), p.members.join('、'), String(p.entries),
      `${p.checkpoints_reached} / ${p.checkpoints_planned}`, time(p.started_at), time(p.ended_at)],
  },
  cases: {
    path: '/api/v1/cases',
    title: 'cases.title',
    columns: ['col.category', 'col.grid', 'col.state', 'record.mediators', 'record.sessions', 'record.outcome', 'record.opened', 'record.ended'],
    cells: (c) => [label('category', c.category), grid(c.scope), label('status', c.status), c.mediators.join('、'),
      String(c.sessions), label('outcome', c.outcome), time(c.opened_at), time(c.closed_at)],
  },
};

/** The list page of `which` ('patrols' or 'cases'). */
export async function show(main, { which }) {
  const kind = KINDS[which];
  const body = h('tbody', {});
  const more = h('button', { type: 'button', id: 'list-more', hidden: true }, t('list.more'));
  const empty = h('p', { class: 'empty', hidden: true }, t('list.empty'));
  put(main, h('section', { class: 'list-page' }, h('h2', {}, t(kind.title)),
    h('div', { class: 'card scroll' }, h('table', { class: 'list', id: `${which}-table` },
      h('thead', {}, h('tr', {}, kind.columns.map((c) => h('th', { scope: 'col' }, t(c))))), body)),
    empty, more));
  let after = null;
  const load = async () => {
    try {
      const page = await get(`${kind.path}${query({ sort: 'created', limit: 50, after })}`);
      for (const row of page.items) {
        const cells = kind.cells(row);
        const link = h('a', { href: `#/record/${encodeURIComponent(row.doc)}` }, cells[0]);
        body.append(h('tr', { dataset: { doc: row.doc } }, h('td', {}, link), cells.slice(1).map((c) => h('td', {}, c))));
      }
      after = page.next || null;
      more.hidden = !after;
      empty.hidden = body.children.length > 0;
    } catch (e) {
      fail(e);
    }
  };
  more.addEventListener('click', load);
  await load();
  return () => {};
}
