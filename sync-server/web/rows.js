// What the board knows of reports: the filters a row must pass, the order rows are shown in
// (overdue first, then by priority, newest first), and the words of a row's cells.

import { label } from './i18n.js';

/** Statuses of reports still being handled. */
export const OPEN = ['submitted', 'reopened', 'accepted', 'dispatched', 'in_progress', 'resolved'];
/** Every report status, in workflow order. */
export const STATUSES = ['submitted', 'accepted', 'dispatched', 'in_progress', 'resolved',
  'confirmed', 'rejected', 'reopened'];
/** Report categories. */
export const CATEGORIES = ['illegal_construction', 'sanitation', 'safety_hazard', 'noise',
  'road_facility_damage', 'dispute', 'other'];
const RANK = { low: 0, normal: 1, high: 2, urgent: 3 };
const DAY = 86400000;

/** The start of a period (ms), or null for any time. */
export function periodStart(period, now = Date.now()) {
  const midnight = new Date(now);
  midnight.setHours(0, 0, 0, 0);
  switch (period) {
    case 'today': return midnight.getTime();
    case '7d': return now - 7 * DAY;
    case '30d': return now - 30 * DAY;
    case '90d': return now - 90 * DAY;
    default: return null;
  }
}

/** The statuses a state filter means ('open', 'any' or one status). */
export function statusesOf(state) {
  if (state === 'open') return OPEN;
  if (state === 'any' || !state) return [];
  return [state];
}

/** The listing parameters of the filters (as GET /api/v1/reports takes them). */
export function params(f) {
  return {
    status: statusesOf(f.state).join(','),
    category: f.category,
    scope: f.scope,
    assignee: f.assignee,
    from: periodStart(f.period) ?? undefined,
    q: f.q.trim(),
  };
}

/** Whether a row passes the filters (what the server's listing would say). */
export function matches(row, f) {
  const statuses = statusesOf(f.state);
  if (statuses.length && !statuses.includes(row.status)) return false;
  if (f.category && row.category !== f.category) return false;
  if (f.scope && row.scope !== f.scope && !row.scope.startsWith(`${f.scope}/`)) return false;
  if (f.assignee && row.assignee !== f.assignee) return false;
  const from = periodStart(f.period);
  if (from !== null && row.created_at < from) return false;
  const q = f.q.trim().normalize('NFKC').toLowerCase();
  if (q) {
    const text = `${row.title}\n${row.description}`.normalize('NFKC').toLowerCase();
    if (!text.includes(q)) return false;
  }
  if (f.overdue && !row.overdue) return false;
  return true;
}

/** Board order: overdue first, then the more urgent, then the newer. */
export function before(a, b) {
  if (a.overdue !== b.overdue) return a.overdue ? -1 : 1;
  const r = (RANK[b.priority] ?? 0) - (RANK[a.priority] ?? 0);
  if (r) return r;
  if (a.created_at !== b.created_at) return b.created_at - a.created_at;
  return a.doc < b.doc ? -1 : 1;
}

/** The last segment of a scope (a grid's name). */
export function grid(scope) {
  const parts = String(scope || '').split('/');
  return parts[parts.length - 1];
}

/** A status's word. */
export function statusWord(status) {
  return label('status', status);
}
