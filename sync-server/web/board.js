// The live board (看板): counters of reports by state, the reports of the filters (overdue
// first and marked), kept current by the event stream without a reload. Only the rows in view
// are in the DOM (a window over the loaded rows, each row one fixed height), and rows are
// loaded a page at a time as the list is scrolled: 10,000 open reports cost what 50 do.

import { h, put } from './dom.js';
import { get, query } from './api.js';
import { t, label } from './i18n.js';
import { time } from './fmt.js';
import { fail } from './messages.js';
import { Live } from './live.js';
import { CATEGORIES, STATUSES, before, grid, matches, params, statusesOf } from './rows.js';

const PAGE = 200;
const FRESH_MS = 4000;
const saved = () => {
  try {
    return JSON.parse(sessionStorage.getItem('fieldsync.filters') || 'null');
  } catch {
    return null;
  }
};

/** The board's state: filters, loaded rows, what the server has beyond them. */
class Board {
  constructor(main, session) {
    this.main = main;
    this.session = session;
    this.filters = Object.assign(
      { scope: '', category: '', state: 'open', assignee: '', period: 'all', q: '', overdue: false },
      saved() || {});
    this.overdueRows = [];
    this.restRows = [];
    this.overdueNext = null;
    this.restNext = null;
    this.loading = false;
    this.generation = 0;
    this.fresh = new Map();
    this.focusIndex = -1;
    this.counts = null;
    this.countTimer = null;
    this.renderQueued = false;
  }

  /** The rows shown, in order: the overdue ones, then (once they are all loaded) the rest. */
  shown() {
    return this.overdueNext ? this.overdueRows : this.overdueRows.concat(this.restRows);
  }

  build() {
    const f = this.filters;
    const select = (id, value, options) => {
      const el = h('select', { id, name: id },
        options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
      return el;
    };
    this.scope = h('input', { id: 'f-scope', name: 'scope', value: f.scope, list: 'f-scopes',
      placeholder: t('filter.any'), spellcheck: 'false' });
    this.scopes = h('datalist', { id: 'f-scopes' },
      this.session.scopes.map((s) => h('option', { value: s })));
    this.category = select('f-category', f.category,
      [['', t('filter.any')], ...CATEGORIES.map((c) => [c, label('category', c)])]);
    this.state = select('f-state', f.state, [['open', t('filter.open')], ['any', t('filter.any')],
      ...STATUSES.map((s) => [s, label('status', s)])]);
    this.assignee = h('input', { id: 'f-assignee', name: 'assignee', value: f.assignee,
      placeholder: t('filter.any'), spellcheck: 'false' });
    this.period = select('f-period', f.period,
      ['all', 'today', '7d', '30d', '90d'].map((p) => [p, t(`period.${p}`)]));
    this.q = h('input', { id: 'f-q', name: 'q', type: 'search', value: f.q, maxlength: 100 });
    this.overdue = h('input', { id: 'f-overdue', name: 'overdue', type: 'checkbox',
      checked: f.overdue });
    const field = (id, text, input) => h('div', { class: 'field' }, h('label', { for: id }, text), input);
    // Enter in a field applies the filters at once (a form submits on Enter only with a
    // submit button); typing applies them too, a moment after the last key.
    const apply = h('button', { type: 'submit', id: 'f-apply' }, t('filter.apply'));
    const clear = h('button', { type: 'reset', class: 'link', id: 'f-clear' }, t('filter.clear'));
    this.form = h('form', { class: 'filters', id: 'filters', role: 'search',
      'aria-label': t('filter.label') },
      field('f-scope', t('filter.grid'), this.scope), this.scopes,
      field('f-category', t('filter.category'), this.category),
      field('f-state', t('filter.state'), this.state),
      field('f-assignee', t('filter.assignee'), this.assignee),
      field('f-period', t('filter.period'), this.period),
      field('f-q', t('filter.text'), this.q),
      h('div', { class: 'field check' }, this.overdue, h('label', { for: 'f-overdue' }, t('filter.overdue'))),
      apply, clear);
    let typing = null;
    const changed = (ev) => {
      clearTimeout(typing);
      const wait = ev.target.tagName === 'INPUT' && ev.target.type !== 'checkbox' ? 300 : 0;
      typing = setTimeout(() => this.applyFilters(), wait);
    };
    this.form.addEventListener('input', changed);
    this.form.addEventListener('change', changed);
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.applyFilters();
    });
    this.form.addEventListener('reset', () => setTimeout(() => {
      this.state.value = 'open';
      this.applyFilters();
    }, 0));

    this.tiles = new Map();
    const tile = (key, text, state) => {
      const count = h('span', { class: 'count', dataset: { count: key } }, '–');
      const el = h('button', { type: 'button', class: `tile tile-${key}`, dataset: { tile: key } },
        h('span', { class: 'name' }, text), count);
      el.addEventListener('click', () => {
        if (key === 'overdue') {
          this.overdue.checked = !this.overdue.checked;
        } else {
          this.state.value = state;
        }
        this.applyFilters();
      });
      this.tiles.set(key, count);
      return el;
    };
    this.counters = h('div', { class: 'counters', id: 'counters', 'aria-label': t('board.counters') },
      tile('total', t('board.total'), 'any'), tile('overdue', t('board.overdue'), ''),
      STATUSES.map((s) => tile(s, label('status', s), s)));

    this.status = h('span', { class: 'live-state', id: 'live-state' }, t('app.loading'));
    this.summary = h('span', { class: 'summary', id: 'summary' });
    const head = h('div', { class: 'row head', role: 'row' },
      ['priority', 'title', 'state', 'category', 'grid', 'assignee', 'created', 'deadline']
        .map((c) => h('span', { class: `cell c-${c}`, role: 'columnheader' }, t(`col.${c}`))));
    this.spacer = h('div', { class: 'spacer' });
    this.list = h('div', { class: 'rows', id: 'rows', role: 'rowgroup', tabindex: '0' }, this.spacer);
    this.empty = h('p', { class: 'empty', id: 'board-empty', hidden: true }, t('board.empty'));
    this.list.addEventListener('scroll', () => this.queueRender(), { passive: true });
    this.list.addEventListener('keydown', (ev) => this.key(ev));
    this.onKey = (ev) => {
      const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName);
      if (ev.key === '/' && !typing) {
        ev.preventDefault();
        this.q.focus();
      }
    };
    document.addEventListener('keydown', this.onKey);
    this.onResize = () => this.queueRender();
    window.addEventListener('resize', this.onResize);
    put(this.main,
      h('section', { class: 'board', id: 'board' },
        h('div', { class: 'board-head' }, h('h2', {}, t('board.title')), this.status, this.summary,
          h('span', { class: 'keys' }, t('board.keys'))),
        this.counters, this.form,
        h('div', { class: 'table', role: 'table', 'aria-label': t('board.title') }, head, this.list, this.empty)));
  }

  readFilters() {
    this.filters = {
      scope: this.scope.value.trim(), category: this.category.value, state: this.state.value,
      assignee: this.assignee.value.trim(), period: this.period.value, q: this.q.value,
      overdue: this.overdue.checked,
    };
    sessionStorage.setItem('fieldsync.filters', JSON.stringify(this.filters));
  }

  applyFilters() {
    this.readFilters();
    this.reload();
  }

  /** Loads the counters and the first pages of the filters. */
  async reload() {
    const generation = ++this.generation;
    const p = params(this.filters);
    this.loading = true;
    try {
      const countsAsked = this.loadCounts();
      const overdue = get(`/api/v1/reports${query({ ...p, overdue: true, sort: 'priority', limit: PAGE })}`);
      const rest = this.filters.overdue ? null
        : get(`/api/v1/reports${query({ ...p, sort: 'priority', limit: PAGE })}`);
      const [o, r] = await Promise.all([overdue, rest]);
      if (generation !== this.generation) return;
      this.overdueRows = o.items;
      this.overdueNext = o.next || null;
      this.restRows = r ? r.items.filter((row) => !row.overdue) : [];
      this.restNext = r ? r.next || null : null;
      this.list.scrollTop = 0;
      this.focusIndex = -1;
      this.render();
      await countsAsked;
    } catch (e) {
      if (generation === this.generation) fail(e);
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.empty.hidden = this.shown().length > 0;
      }
    }
  }

  /** Loads the next page, if the server has one. */
  async more() {
    if (this.loading || !(this.overdueNext || this.restNext)) return;
    const generation = this.generation;
    const p = params(this.filters);
    this.loading = true;
    let loaded = false;
    try {
      if (this.overdueNext) {
        const page = await get(`/api/v1/reports${query({ ...p, overdue: true, sort: 'priority', limit: PAGE, after: this.overdueNext })}`);
        if (generation !== this.generation) return;
        this.overdueRows.push(...page.items.filter((row) => !this.has(row.doc)));
        this.overdueNext = page.next || null;
      } else {
        const page = await get(`/api/v1/reports${query({ ...p, sort: 'priority', limit: PAGE, after: this.restNext })}`);
        if (generation !== this.generation) return;
        this.restRows.push(...page.items.filter((row) => !row.overdue && !this.has(row.doc)));
        this.restNext = page.next || null;
      }
      loaded = true;
    } catch (e) {
      fail(e);
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        // Again, now that it may: a page whose rows were all shown already asks for the next
        // (not after a failure, which would only fail again at once).
        if (loaded) this.queueRender();
      }
    }
  }

  has(doc) {
    return this.overdueRows.some((r) => r.doc === doc) || this.restRows.some((r) => r.doc === doc);
  }

  async loadCounts() {
    const { status, ...p } = params(this.filters);
    const counts = await get(`/api/v1/reports/counts${query(p)}`);
    this.counts = counts;
    const by = Object.fromEntries(counts.statuses.map((c) => [c.status, c]));
    const chosen = statusesOf(this.filters.state);
    let total = 0;
    let overdue = 0;
    for (const s of STATUSES) {
      const c = by[s] || { reports: 0, overdue: 0 };
      this.tiles.get(s).textContent = String(c.reports);
      this.tiles.get(s).parentElement.classList.toggle('chosen', chosen.includes(s));
      if (!chosen.length || chosen.includes(s)) {
        total += c.reports;
        overdue += c.overdue;
      }
    }
    this.tiles.get('total').textContent = String(total);
    this.tiles.get('overdue').textContent = String(overdue);
    this.tiles.get('overdue').parentElement.classList.toggle('alarm', overdue > 0);
    this.total = this.filters.overdue ? overdue : total;
    this.summarise();
  }

  /** Counters again soon (many events in a burst make one request). */
  queueCounts() {
    clearTimeout(this.countTimer);
    this.countTimer = setTimeout(() => this.loadCounts().catch(fail), 250);
  }

  summarise() {
    const shown = this.shown().length;
    const total = Math.max(this.total ?? shown, shown);
    this.summary.textContent = t('board.shown', { shown, total });
  }

  /** A row from the event stream: put where the filters and the order say, or taken out. */
  take(row) {
    const doc = row.doc;
    const height = this.rowHeight();
    const firstInView = Math.floor(this.list.scrollTop / height);
    // A row added or taken out above the ones in view moves the view with it, so that what
    // the reader looks at stays where it is.
    let shift = 0;
    const was = this.shown().findIndex((r) => r.doc === doc);
    if (was >= 0 && was < firstInView) shift -= 1;
    const drop = (rows) => {
      const i = rows.findIndex((r) => r.doc === doc);
      if (i >= 0) rows.splice(i, 1);
    };
    drop(this.overdueRows);
    drop(this.restRows);
    if (matches(row, this.filters)) {
      const rows = row.overdue ? this.overdueRows : this.restRows;
      const more = row.overdue ? this.overdueNext : this.restNext;
      let i = rows.findIndex((r) => before(row, r) < 0);
      if (i < 0) i = more ? -1 : rows.length;
      if (i >= 0) {
        rows.splice(i, 0, row);
        this.fresh.set(doc, Date.now());
        setTimeout(() => this.queueRender(), FRESH_MS + 50);
        const at = this.shown().findIndex((r) => r.doc === doc);
        if (at >= 0 && at < firstInView) shift += 1;
      }
    }
    if (shift && this.list.scrollTop > 0) {
      this.spacer.style.height = `${this.shown().length * height}px`;
      this.list.scrollTop += shift * height;
    }
    this.queueRender();
    this.queueCounts();
  }

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  rowHeight() {
    const v = parseFloat(getComputedStyle(this.list).getPropertyValue('--row-h'));
    return Number.isFinite(v) && v > 0 ? v : 36;
  }

  /** Puts the rows in view (and a few around them) in the DOM. */
  render() {
    const rows = this.shown();
    const height = this.rowHeight();
    this.spacer.style.height = `${rows.length * height}px`;
    this.empty.hidden = rows.length > 0 || this.loading;
    const top = this.list.scrollTop;
    const view = this.list.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / height) - 5);
    const last = Math.min(rows.length, Math.ceil((top + view) / height) + 5);
    const focused = document.activeElement?.dataset?.index;
    const now = Date.now();
    // A wall left open for days must not keep every row it ever highlighted.
    for (const [doc, at] of this.fresh) if (now - at >= FRESH_MS) this.fresh.delete(doc);
    const elements = [];
    for (let i = first; i < last; i++) elements.push(this.rowElement(rows[i], i, height, now));
    this.spacer.replaceChildren(...elements);
    if (focused !== undefined) {
      const again = this.spacer.querySelector(`[data-index="${focused}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    this.summarise();
    if (last >= rows.length - 20) this.more();
  }

  rowElement(r, i, height, now) {
    const seen = this.fresh.get(r.doc);
    const fresh = seen && now - seen < FRESH_MS;
    const cls = ['row', r.overdue ? 'overdue' : '', fresh ? 'fresh' : '', `p-${r.priority}`]
      .filter(Boolean).join(' ');
    const cell = (c, ...content) => h('span', { class: `cell c-${c}`, role: 'cell' }, ...content);
    const el = h('a', { class: cls, href: `#/record/${encodeURIComponent(r.doc)}`, role: 'row',
      dataset: { index: String(i), doc: r.doc, status: r.status } },
      cell('priority', label('priority', r.priority)),
      cell('title', r.overdue ? h('mark', { class: 'badge overdue-mark' }, t('board.overdue_mark')) : null,
        h('span', { class: 'title' }, r.title)),
      cell('state', h('span', { class: `status s-${r.status}` }, label('status', r.status))),
      cell('category', label('category', r.category)),
      cell('grid', grid(r.scope)),
      cell('assignee', r.assignee || ''),
      cell('created', time(r.created_at)),
      cell('deadline', time(r.deadline)));
    el.style.transform = `translateY(${i * height}px)`;
    el.title = r.title;
    return el;
  }

  key(ev) {
    const rows = this.shown();
    if (!rows.length) return;
    const at = Number(document.activeElement?.dataset?.index ?? -1);
    let next = at;
    if (ev.key === 'ArrowDown') next = Math.min(rows.length - 1, at + 1);
    else if (ev.key === 'ArrowUp') next = Math.max(0, at - 1);
    else if (ev.key === 'Home') next = 0;
    else if (ev.key === 'End') next = rows.length - 1;
    else if (ev.key === 'PageDown') next = Math.min(rows.length - 1, at + 10);
    else if (ev.key === 'PageUp') next = Math.max(0, at - 10);
    else return;
    ev.preventDefault();
    const height = this.rowHeight();
    const top = next * height;
    if (top < this.list.scrollTop) this.list.scrollTop = top;
    else if (top + height > this.list.scrollTop + this.list.clientHeight) {
      this.list.scrollTop = top + height - this.list.clientHeight;
    }
    this.render();
    const el = this.spacer.querySelector(`[data-index="${next}"]`);
    if (el) el.focus({ preventScroll: true });
  }

  setLive(state) {
    this.status.textContent = state === 'live' ? t('board.live') : t('board.reconnecting');
    this.status.classList.toggle('down', state !== 'live');
    // Back after a break (a server restart): the stream resumed after its last event, and the
    // counters are asked again.
    if (state === 'live') this.queueCounts();
  }

  close() {
    this.live?.close();
    clearTimeout(this.countTimer);
    document.removeEventListener('keydown', this.onKey);
    window.removeEventListener('resize', this.onResize);
  }
}

/** The live board. */
export async function show(main, { session }) {
  const board = new Board(main, session);
  board.build();
  board.live = new Live((kind, row) => {
    if (kind === 'report') board.take(row);
  }, (state) => board.setLive(state));
  board.live.open();
  await board.reload();
  return () => board.close();
}
