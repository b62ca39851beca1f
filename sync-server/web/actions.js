// Which actions the page offers on a record: those the signed-in role may take from the
// record's state, as core's policy (core/src/policy/rules.rs, diff.rs) and the workflow
// (core/src/model/report.rs) allow them. The server decides again on every action; this only
// keeps the page from offering what would be refused.

const COMMAND_CENTRE = ['dispatcher', 'grid_leader'];

/** A form field an action asks for. */
const NOTE = { name: 'note', kind: 'text', required: false, label: 'form.note' };
const REASON = { name: 'reason', kind: 'text', required: true, label: 'form.reason' };
const TEXT = { name: 'text', kind: 'text', required: true, label: 'form.text' };

/** The actions `session` may take on the record `view` (GET /api/v1/records/{id}). */
export function actionsFor(session, view) {
  const role = session.role;
  const kind = view.row.kind;
  const status = view.row.status;
  const user = session.user;
  const out = [];
  const add = (action, fields, when) => {
    if (when) out.push({ action, fields });
  };
  if (kind === 'report') {
    const cc = COMMAND_CENTRE.includes(role);
    const dispatcher = role === 'dispatcher';
    const assignee = view.row.assignee === user;
    const reporter = view.row.created_by === user;
    add('accept', [NOTE], cc && ['submitted', 'reopened'].includes(status));
    add('dispatch', [
      { name: 'assignee', kind: 'responder', required: true, label: 'form.responder' },
      { name: 'deadline', kind: 'deadline', required: true, label: 'form.deadline' }, NOTE,
    ], cc && ['accepted', 'reopened', 'dispatched'].includes(status));
    add('supervise', [{ ...NOTE, required: true }],
      [...COMMAND_CENTRE, 'supervisor'].includes(role)
      && ['submitted', 'reopened', 'accepted', 'dispatched', 'in_progress'].includes(status));
    add('start_work', [NOTE], status === 'dispatched' && (dispatcher || assignee));
    add('resolve', [NOTE], status === 'in_progress' && (dispatcher || assignee));
    add('confirm', [NOTE], status === 'resolved' && (dispatcher || reporter));
    add('reopen', [REASON], (status === 'resolved' && (cc || reporter)) || (status === 'rejected' && cc));
    add('reject', [REASON], cc && ['submitted', 'accepted', 'reopened'].includes(status));
    add('award_points', [{ name: 'points', kind: 'points', required: true, label: 'form.points' }, NOTE],
      dispatcher && status === 'confirmed');
    add('comment', [TEXT], role !== 'supervisor');
  } else if (kind === 'patrol_log') {
    add('finish_patrol', [NOTE], role === 'dispatcher' && status === 'active');
  } else if (kind === 'mediation_case' && role === 'dispatcher') {
    add('record_agreement', [TEXT], status === 'mediating');
    add('record_failure', [REASON], status === 'mediating');
    add('escalate_case', [{ name: 'to', kind: 'text', required: true, label: 'form.to' }, { ...REASON, required: false }],
      ['mediating', 'failed'].includes(status));
    add('close_case', [NOTE], ['agreed', 'failed', 'escalated'].includes(status));
    add('add_follow_up', [{ ...NOTE, required: true }], ['agreed', 'closed'].includes(status));
  }
  return out;
}

/** Whether `session` may settle a conflict of this record (who may write it at all). */
export function maySettle(session, view) {
  if (view.row.kind === 'report') return COMMAND_CENTRE.includes(session.role);
  return session.role === 'dispatcher';
}
