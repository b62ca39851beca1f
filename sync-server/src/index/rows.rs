//! A record's index row: what the desk needs of it, computed from the typed record and the
//! rules (due times, priority). The same function serves each write and a rebuild, so rebuilt
//! rows equal the ones maintained write by write.

use std::collections::HashSet;

use fieldsync_core::model::{
    Bulletin, CaseStatus, Deliberation, EntryKind, MediationCase, OverdueLimit, PatrolLog, Record,
    Report, TimelineEvent, Visit, escalation_limit,
};
use fieldsync_core::policy::SUPERVISE;
use fieldsync_core::time::Timestamp;

use crate::rules::Rules;
use crate::storage::index::{
    BulletinRow, CaseRow, DeliberationRow, IndexRow, Outcome, PatrolRow, ReportRow, VisitRow,
};

/// The timeline action of a report's submission (its creation).
const SUBMIT: &str = "submit_report";

/// The index row of `record` under `rules`: the server's one list of kinds, each with the
/// function that makes its row.
pub fn row_of(record: &Record, rules: &Rules) -> IndexRow {
    match record {
        Record::Report { report } => IndexRow::Report(report_row(report, rules)),
        Record::PatrolLog { patrol_log } => IndexRow::PatrolLog(patrol_row(patrol_log)),
        Record::MediationCase { mediation_case } => {
            IndexRow::MediationCase(case_row(mediation_case))
        }
        Record::Bulletin { bulletin } => IndexRow::Bulletin(bulletin_row(bulletin)),
        Record::Visit { visit } => IndexRow::Visit(visit_row(visit)),
        Record::Deliberation { deliberation } => {
            IndexRow::Deliberation(deliberation_row(deliberation))
        }
    }
}

fn ms(t: Timestamp) -> i64 {
    t.into()
}

/// The time of the latest event of `action`.
fn latest(timeline: &[TimelineEvent], action: &str) -> Option<i64> {
    timeline.iter().filter(|e| e.action == action).map(|e| ms(e.at)).max()
}

fn times(timeline: &[TimelineEvent], action: &str) -> u32 {
    let n = timeline.iter().filter(|e| e.action == action).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The last event's time, or `since` when there is none later.
fn updated(timeline: &[TimelineEvent], since: i64) -> i64 {
    timeline.iter().map(|e| ms(e.at)).fold(since, i64::max)
}

fn report_row(r: &Report, rules: &Rules) -> ReportRow {
    let rule = rules.of(r.category);
    let created_at = ms(r.header.created_at);
    let escalated = |limit| r.timeline.iter().any(|e| escalation_limit(e) == Some(limit));
    ReportRow {
        doc: r.header.id,
        scope: r.header.scope.clone(),
        status: r.status,
        category: r.category,
        title: r.title.clone(),
        description: r.description.clone(),
        created_by: r.header.created_by.clone(),
        assignee: r.assignee.clone(),
        created_at,
        submitted_at: latest(&r.timeline, SUBMIT),
        accepted_at: latest(&r.timeline, "accept_report"),
        dispatched_at: latest(&r.timeline, "dispatch_report"),
        resolved_at: latest(&r.timeline, "resolve_report"),
        confirmed_at: latest(&r.timeline, "confirm_report"),
        rejected_at: latest(&r.timeline, "reject_report"),
        deadline: r.deadline.map(ms),
        priority: rule.priority,
        lat: r.location.as_ref().map(|l| l.lat),
        lon: r.location.as_ref().map(|l| l.lon),
        address: r.location.as_ref().map(|l| l.address.clone()),
        points: r.points,
        supervisions: times(&r.timeline, SUPERVISE),
        reopens: times(&r.timeline, "reopen_report"),
        escalated_accept: escalated(OverdueLimit::Accept),
        escalated_resolve: escalated(OverdueLimit::Resolve),
        accept_due: created_at.saturating_add(rule.accept_ms),
        resolve_due: created_at.saturating_add(rule.resolve_ms),
        photos: len(r.photos.len()),
        comments: len(r.comments.len()),
        updated_at: updated(&r.timeline, created_at),
    }
}

fn patrol_row(p: &PatrolLog) -> PatrolRow {
    let planned: HashSet<&str> = p.checkpoints.iter().map(|c| c.name.as_str()).collect();
    let reached: HashSet<&str> = p
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::CheckpointReached)
        .filter_map(|e| e.checkpoint.as_deref())
        .filter(|name| planned.contains(name))
        .collect();
    let started_at = ms(p.started_at);
    let last_entry = p.entries.iter().map(|e| ms(e.at)).fold(started_at, i64::max);
    PatrolRow {
        doc: p.header.id,
        scope: p.header.scope.clone(),
        area: p.area.clone(),
        members: p.members.iter().map(|m| m.user.clone()).collect(),
        status: p.status,
        entries: len(p.entries.len()),
        checkpoints_reached: len(reached.len()),
        checkpoints_planned: len(planned.len()),
        started_at,
        ended_at: p.ended_at.map(ms),
        updated_at: updated(&p.timeline, last_entry),
    }
}

fn case_row(c: &MediationCase) -> CaseRow {
    let opened_at = ms(c.header.created_at);
    let outcome = match c.status {
        CaseStatus::Agreed => Outcome::Agreed,
        CaseStatus::Failed => Outcome::Failed,
        CaseStatus::Escalated => Outcome::Escalated,
        // Closed (or reopened for mediation): the latest of the outcomes recorded, if any.
        _ => [
            ("record_agreement", Outcome::Agreed),
            ("record_failure", Outcome::Failed),
            ("escalate_case", Outcome::Escalated),
        ]
        .into_iter()
        .filter_map(|(action, o)| latest(&c.timeline, action).map(|at| (at, o)))
        .max_by_key(|(at, _)| *at)
        .map_or(Outcome::None, |(_, o)| o),
    };
    CaseRow {
        doc: c.header.id,
        scope: c.header.scope.clone(),
        status: c.status,
        category: c.category,
        mediators: c.mediators.clone(),
        sessions: len(c.sessions.len()),
        outcome,
        opened_at,
        closed_at: latest(&c.timeline, "close_case"),
        updated_at: updated(&c.timeline, opened_at),
    }
}

fn bulletin_row(b: &Bulletin) -> BulletinRow {
    let created_at = ms(b.header.created_at);
    let mut acknowledged: Vec<String> = Vec::new();
    for a in &b.acknowledgements {
        // Two phones of one person may both have acknowledged offline: one person, once.
        if !acknowledged.contains(&a.by) {
            acknowledged.push(a.by.clone());
        }
    }
    let last_ack = b.acknowledgements.iter().map(|a| ms(a.at)).fold(created_at, i64::max);
    BulletinRow {
        doc: b.header.id,
        scope: b.header.scope.clone(),
        status: b.status,
        severity: b.severity,
        audience: b.audience.clone(),
        title: b.title.clone(),
        created_by: b.header.created_by.clone(),
        created_at,
        valid_until: ms(b.valid_until),
        acknowledged,
        updated_at: updated(&b.timeline, last_ack),
    }
}

fn visit_row(v: &Visit) -> VisitRow {
    let created_at = ms(v.header.created_at);
    let last_item = v
        .results
        .iter()
        .map(|r| ms(r.at))
        .chain(v.findings.iter().map(|f| ms(f.at)))
        .fold(created_at, i64::max);
    VisitRow {
        doc: v.header.id,
        scope: v.header.scope.clone(),
        business: v.business.clone(),
        status: v.status,
        visitors: v.visitors_once(),
        created_by: v.header.created_by.clone(),
        created_at,
        failed: v.failed().into_iter().map(str::to_string).collect(),
        findings: u32::try_from(v.findings.len()).unwrap_or(u32::MAX),
        follow_up: v.follow_up.clone(),
        follow_up_deadline: v.follow_up_deadline.map(ms),
        updated_at: updated(&v.timeline, last_item),
    }
}

fn deliberation_row(d: &Deliberation) -> DeliberationRow {
    let created_at = ms(d.header.created_at);
    let mut attendees: Vec<String> = Vec::new();
    for a in d.meetings.iter().flat_map(|m| &m.attendees) {
        // Two phones may both have recorded one person offline: one person, once.
        if !attendees.contains(a) {
            attendees.push(a.clone());
        }
    }
    let said = d.comments.iter().map(|c| ms(c.at)).chain(d.actions.iter().map(|a| ms(a.at)));
    DeliberationRow {
        doc: d.header.id,
        scope: d.header.scope.clone(),
        status: d.status,
        topic: d.topic.clone(),
        created_by: d.header.created_by.clone(),
        created_at,
        comments: len(d.comments.len()),
        options: len(d.options.len()),
        meetings: len(d.meetings.len()),
        next_meeting_at: d.meetings.iter().filter(|m| !m.held).map(|m| ms(m.at)).min(),
        attendees,
        decided_at: d.decision.as_ref().map(|x| ms(x.at)),
        updated_at: updated(&d.timeline, said.fold(created_at, i64::max)),
    }
}
