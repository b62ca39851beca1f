// One record's page (GET /api/v1/records/{id}): its fields, timeline, comments, photos (the
// thumbnail, the original on click), conflicts with the values to settle them by, and the
// actions the user's role allows, each run through POST /api/v1/records/{id}/actions and
// shown at once from the record the server answers with.

import { h, put } from './dom.js';
import { api, get, query } from './api.js';
import { t, label, has } from './i18n.js';
import { time, localValue } from './fmt.js';
import { fail, say } from './messages.js';
import { actionsFor, maySettle } from './actions.js';

const DAY = 86400000;

function fieldList(pairs) {
  return h('dl', { class: 'fields' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', {}, t(k)), h('dd', {}, v)]));
}

function headline(view) {
  const row = view.row;
  if (row.kind === 'report') return row.title;
  if (row.kind === 'patrol_log') return `${t('nav.patrols')} · ${row.area}`;
  return `${t('nav.cases')} · ${label('category', row.category)}`;
}

function details(view) {
  const r = view.row;
  const common = [['col.grid', r.scope]];
  if (r.kind === 'report') {
    const rec = view.record.report;
    return fieldList([
      ['col.state', label('status', r.status)], ['col.category', label('category', r.category)],
      ['col.priority', label('priority', r.priority)], ...common,
      ['record.description', rec.description], ['record.address', r.address],
      ['record.location', r.lat !== null ? `${r.lat.toFixed(5)}, ${r.lon.toFixed(5)}` : ''],
      ['record.reporter', r.created_by], ['col.assignee', r.assignee], ['col.created', time(r.created_at)],
      ['col.deadline', time(r.deadline)], ['record.due_accept', time(r.accept_due)],
      ['record.due_resolve', time(r.resolve_due)], ['record.supervisions', String(r.supervisions)],
      ['record.points', String(r.points)]]);
  }
  if (r.kind === 'patrol_log') {
    return fieldList([['col.state', label('status', r.status)], ...common, ['record.area', r.area],
      ['record.members', r.members.join('、')], ['record.entries', String(r.entries)],
      ['record.checkpoints', `${r.checkpoints_reached} / ${r.checkpoints_planned}`],
      ['record.started', time(r.started_at)], ['record.ended', time(r.ended_at)]]);
  }
  return fieldList([['col.state', label('status', r.status)], ['col.category', label('category', r.category)],
    ...common, ['record.mediators', r.mediators.join('、')], ['record.sessions', String(r.sessions)],
    ['record.outcome', label('outcome', r.outcome)], ['record.opened', time(r.opened_at)],
    ['record.ended', time(r.closed_at)]]);
}

function timeline(events) {
  return h('ol', { class: 'timeline', id: 'timeline' }, (events || []).map((e) => h('li', {},
    h('time', {}, time(e.at)), ' ', h('strong', {}, has(`timeline.${e.action}`) ? t(`timeline.${e.action}`) : label('action', e.action)), ' ',
    h('span', { class: 'by' }, e.by), e.note ? h('p', { class: 'note' }, e.note) : null)));
}

function photos(view, dialog) {
  if (!view.photos.length) return h('p', { class: 'empty' }, t('record.none'));
  return h('div', { class: 'photos', id: 'photos' }, view.photos.map((p) => {
    const open = h('button', { type: 'button', class: 'photo', title: t('record.original') },
      h('img', { src: p.thumbnail_url, alt: t('record.photos'), loading: 'lazy', width: 160, height: 120 }));
    open.addEventListener('click', () => {
      put(dialog.body, h('img', { src: p.url, alt: t('record.original') }));
      dialog.el.showModal();
    });
    return open;
  }));
}

const FIELD_WORDS = {
  status: 'col.state', assignee: 'col.assignee', deadline: 'col.deadline', points: 'record.points',
  category: 'col.category', title: 'col.title',
};

/** What a field of a conflict is called. */
function fieldWord(field) {
  return FIELD_WORDS[field] ? t(FIELD_WORDS[field]) : field;
}

/** A conflicting value as the reader reads it (a status's word, a deadline's time). */
function valueWord(field, value) {
  if (field === 'status') return label('status', value);
  if (field === 'category') return label('category', value);
  if (field === 'deadline' && /^-?\d+$/.test(value)) return time(Number(value));
  return value;
}

/** A form of one action's fields; `run(body)` posts it. */
async function actionForm(action, fields, view, run) {
  const inputs = [];
  const parts = [];
  for (const f of fields) {
    const id = `a-${action}-${f.name}`;
    let input;
    if (f.kind === 'responder') {
      input = h('select', { id, name: f.name, required: true }, h('option', { value: '' }, t('form.choose')));
      try {
        const people = await get(`/api/v1/responders${query({ scope: view.row.scope })}`);
        for (const p of people) input.append(h('option', { value: p.user, selected: p.user === view.row.assignee }, `${p.user}（${label('role', p.role)}）`));
        if (!people.length) parts.push(h('p', { class: 'note' }, t('form.no_responders')));
      } catch (e) {
        fail(e);
      }
    } else if (f.kind === 'deadline') {
      input = h('input', { id, name: f.name, type: 'datetime-local', required: true,
        value: localValue(view.row.deadline || Date.now() + DAY) });
    } else if (f.kind === 'points') {
      input = h('input', { id, name: f.name, type: 'number', min: 1, max: 10000, step: 1, required: true, value: 10 });
    } else {
      input = h('input', { id, name: f.name, required: f.required, maxlength: 2000 });
    }
    inputs.push([f, input]);
    parts.push(h('label', { for: id }, t(f.label)), input);
  }
  const submit = h('button', { type: 'submit', id: `do-${action}` }, label('action', action));
  const form = h('form', { class: `action a-${action}`, dataset: { action } },
    h('h4', {}, label('action', action)), parts, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { action };
    for (const [f, input] of inputs) {
      const v = input.value.trim();
      if (!v && !f.required) continue;
      if (f.kind === 'deadline') body[f.name] = new Date(v).getTime();
      else if (f.kind === 'points') body[f.name] = Number(v);
      else body[f.name] = v;
    }
    submit.disabled = true;
    try {
      await run(body);
      say(t('action.done', { action: label('action', action) }));
    } catch (e) {
      fail(e);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The record page of `arg` (a document id). */
export async function show(main, { session, arg }) {
  const id = decodeURIComponent(arg || '');
  const path = `/api/v1/records/${encodeURIComponent(id)}`;
  const dialogBody = h('div', { class: 'dialog-body' });
  const dialogEl = h('dialog', { class: 'viewer', id: 'photo-viewer' },
    h('form', { method: 'dialog' }, h('button', { type: 'submit', class: 'link close' }, '×')), dialogBody);
  const dialog = { el: dialogEl, body: dialogBody };

  const render = async (view) => {
    const run = async (body) => {
      const next = await api('POST', `${path}/actions`, body);
      await render(next);
    };
    const conflicts = (view.record.report || view.record.patrol_log || view.record.mediation_case).conflicts || [];
    const conflictPart = conflicts.length ? h('section', { class: 'card conflicts', id: 'conflicts' },
      h('h3', {}, t('record.conflicts')),
      conflicts.map((c) => h('div', { class: 'conflict', dataset: { field: c.field } },
        h('p', {}, t('record.conflict_help', { field: fieldWord(c.field) })),
        // The same value written on two devices is one choice.
        [...new Set(c.values)].map((v) => {
          const b = h('button', { type: 'button', disabled: !maySettle(session, view), dataset: { value: v } },
            `${t('record.keep')}：${valueWord(c.field, v)}`);
          b.addEventListener('click', async () => {
            try {
              await run({ action: 'settle_conflict', field: c.field, value: v });
              say(t('action.done', { action: label('action', 'settle_conflict') }));
            } catch (e) {
              fail(e);
            }
          });
          return b;
        })))) : null;
    const possible = actionsFor(session, view);
    const forms = await Promise.all(possible.map((a) => actionForm(a.action, a.fields, view, run)));
    const rec = view.record.report || view.record.patrol_log || view.record.mediation_case;
    const comments = view.row.kind === 'report' ? h('section', { class: 'card' },
      h('h3', {}, t('record.comments')),
      h('ol', { class: 'comments', id: 'comments' }, (rec.comments || []).map((c) => h('li', {},
        h('time', {}, time(c.at)), ' ', h('strong', {}, c.by), h('p', {}, c.text))))) : null;
    const entries = view.row.kind === 'patrol_log' ? h('section', { class: 'card' },
      h('h3', {}, t('record.entries')),
      h('ol', { class: 'timeline' }, (rec.entries || []).map((e) => h('li', {},
        h('time', {}, time(e.at)), ' ', h('strong', {}, e.by), ' ', label('entry', e.kind), h('p', {}, e.text))))) : null;
    put(main, h('article', { class: 'record', id: 'record', dataset: { doc: id, status: view.row.status } },
      h('p', {}, h('a', { href: '#/board' }, t('record.back'))),
      h('h2', {}, view.overdue ? h('mark', { class: 'badge overdue-mark' }, t('board.overdue_mark')) : null,
        h('span', { id: 'record-title' }, headline(view)), ' ',
        h('span', { class: `status s-${view.row.status}`, id: 'record-status' }, label('status', view.row.status))),
      h('div', { class: 'record-grid' },
        h('div', {},
          h('section', { class: 'card' }, h('h3', {}, t('record.fields')), details(view)),
          conflictPart,
          h('section', { class: 'card' }, h('h3', {}, t('record.photos')), photos(view, dialog)),
          entries, comments,
          h('section', { class: 'card' }, h('h3', {}, t('record.timeline')), timeline(rec.timeline))),
        h('aside', { class: 'card actions', id: 'actions' }, h('h3', {}, t('record.actions')),
          forms.length ? forms : h('p', { class: 'note' }, t('record.no_actions')))),
      dialogEl));
    document.title = `${headline(view)} · ${t('app.title')}`;
  };
  try {
    await render(await get(path));
  } catch (e) {
    put(main, h('p', { class: 'error' }, h('a', { href: '#/board' }, t('record.back'))));
    fail(e);
  }
  return () => {
    document.title = t('app.title');
  };
}

