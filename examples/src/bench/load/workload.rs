//! What a device writes in a write round, by its user's role: new records, and steps and edits
//! on records others edit too, each chosen from what the device holds, so that an honest user's
//! change is never one the server refuses.
//!
//! - resident: a new report in one round of three (always, while it has none), then a comment on
//!   one of its reports, or the confirmation of one that was resolved;
//! - grid leader: accepts submitted reports of its grid and dispatches accepted ones to a patrol
//!   member of its team (up to four steps), and comments on one report in two rounds;
//! - patrol member: starts work on and resolves the reports dispatched to it, appends an entry to
//!   each active patrol it is on (its teammates append to the same logs), starts a patrol with
//!   them when it leads none, and sometimes finishes one it leads;
//! - mediator: opens a case with its partner when it has none open, holds sessions, and edits a
//!   session's notes (both mediators splice the same text), sometimes records an agreement;
//! - dispatcher: comments on a report of its grids, awards points on a confirmed one, and in one
//!   round of four enters a hotline report.

use fieldsync_core::DocId;
use fieldsync_core::model::{
    self, CaseStatus, Command, MemberKind, NewRecord, PatrolStatus, Record, ReportStatus,
    TeamMember,
};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::time::now_ms;
use rand::Rng;

use super::population::Member;
use crate::bench::Result;
use crate::bench::corpus::Corpus;
use crate::bench::sim::SimDevice;

/// Records a device reads to choose its steps in one round, at most.
const LOOK_AT: usize = 8;

/// A simulated device with its user and its own seeded choices.
pub(super) struct Agent {
    /// The device.
    pub(super) sim: SimDevice,
    /// Its user.
    pub(super) member: Member,
    corpus: Corpus,
    /// Records created and commands run: one change each.
    pub(super) changes: u64,
    /// Records created.
    pub(super) created: u64,
}

impl Agent {
    /// An agent for `sim`, drawing from `seed`.
    pub(super) fn new(sim: SimDevice, member: Member, seed: u64) -> Agent {
        Agent { sim, member, corpus: Corpus::new(seed), changes: 0, created: 0 }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.corpus.rng().random_bool(p)
    }

    /// The records it holds, read, `limit` of them at most, starting at a random one.
    fn look(&mut self, limit: usize) -> Result<Vec<(DocId, Record)>> {
        let ids: Vec<DocId> = self.sim.ids().filter(|id| !self.sim.partial(*id)).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let start = self.corpus.rng().random_range(0..ids.len());
        let mut out = Vec::new();
        for id in ids.iter().cycle().skip(start).take(ids.len().min(limit)) {
            if let Some(doc) = self.sim.doc(*id) {
                out.push((*id, model::read_record(doc, *id)?));
            }
        }
        Ok(out)
    }

    /// Up to `n` of the documents it holds, drawn at random.
    pub(super) fn sample(&mut self, n: usize) -> Vec<DocId> {
        let mut ids: Vec<DocId> = self.sim.ids().collect();
        while ids.len() > n {
            let drop = self.corpus.rng().random_range(0..ids.len());
            ids.swap_remove(drop);
        }
        ids
    }

    fn create(&mut self, new: NewRecord) -> Result<DocId> {
        let id = self.sim.create(&new)?;
        self.changes += 1;
        self.created += 1;
        Ok(id)
    }

    fn run(&mut self, id: DocId, cmd: &Command) -> Result<()> {
        self.sim.edit(id, cmd)?;
        self.changes += 1;
        Ok(())
    }

    /// One write round's local changes, pushed by the sync that follows.
    pub(super) fn work(&mut self) -> Result<()> {
        match self.member.role() {
            Role::Resident => self.resident(),
            Role::GridLeader => self.leader(),
            Role::Patrol => self.patrol(),
            Role::Mediator => self.mediator(),
            Role::Dispatcher | Role::Admin => self.dispatcher(),
            // Desk and server roles, and business operators (who only read), have no phone
            // that writes in the simulated population.
            Role::Supervisor | Role::System | Role::BusinessOperator => Ok(()),
        }
    }

    fn new_report(&mut self, scope: String) -> Result<DocId> {
        let index = self.sim.len() + self.created as usize * 1000;
        let mut report = self.corpus.report(index);
        report.scope = scope;
        self.create(NewRecord::Report { report })
    }

    fn resident(&mut self) -> Result<()> {
        if self.sim.is_empty() || self.chance(1.0 / 3.0) {
            self.new_report(self.member.scope())?;
        }
        if let Some((id, Record::Report { report: r })) = self.look(1)?.pop() {
            let cmd = match r.status {
                ReportStatus::Resolved => {
                    Command::ConfirmReport { note: "谢谢，已经处理好了".into() }
                }
                _ => self.corpus.comment(),
            };
            self.run(id, &cmd)?;
        }
        Ok(())
    }

    fn leader(&mut self) -> Result<()> {
        let mut steps = 0;
        let patrols = self.member.patrols.clone();
        for (id, record) in self.look(LOOK_AT)? {
            let Record::Report { report: r } = record else { continue };
            let cmd = match r.status {
                ReportStatus::Submitted | ReportStatus::Reopened => {
                    Command::AcceptReport { note: String::new() }
                }
                ReportStatus::Accepted if !patrols.is_empty() => {
                    let who = self.corpus.rng().random_range(0..patrols.len());
                    let days = self.corpus.rng().random_range(1..=7);
                    Command::DispatchReport {
                        assignee: patrols[who].0.clone(),
                        deadline: fieldsync_core::time::Timestamp::from_millis(
                            now_ms() + days * 86_400_000,
                        ),
                        note: "请按时处理".into(),
                    }
                }
                _ if steps == 0 && self.chance(0.5) => self.corpus.comment(),
                _ => continue,
            };
            self.run(id, &cmd)?;
            steps += 1;
            if steps == 4 {
                break;
            }
        }
        Ok(())
    }

    fn patrol(&mut self) -> Result<()> {
        let me = self.member.profile.user.clone();
        let mut leads_active = None;
        let mut entries = 0;
        for (id, record) in self.look(usize::MAX)? {
            match record {
                Record::Report { report: r } if r.assignee.as_deref() == Some(me.as_str()) => {
                    let cmd = match r.status {
                        ReportStatus::Dispatched => {
                            Command::StartWork { note: "已到现场".into() }
                        }
                        ReportStatus::InProgress if self.chance(0.7) => {
                            Command::ResolveReport { note: "已处理，现场恢复原状".into() }
                        }
                        _ => continue,
                    };
                    self.run(id, &cmd)?;
                }
                Record::PatrolLog { patrol_log: p } if p.status == PatrolStatus::Active => {
                    if p.header.created_by == me {
                        leads_active = Some((id, p.entries.len()));
                    }
                    if entries < 2 && p.members.iter().any(|m| m.user == me) {
                        let cmd = self.corpus.entry(&p.checkpoints);
                        self.run(id, &cmd)?;
                        entries += 1;
                    }
                }
                _ => {}
            }
        }
        match leads_active {
            Some((id, n)) if n >= 4 && self.chance(0.3) => {
                self.run(id, &Command::FinishPatrol { note: "巡逻结束，无异常".into() })?;
            }
            None if self.chance(0.5) => {
                let mut patrol = self.corpus.patrol();
                patrol.scope = self.member.scope();
                patrol.members = self
                    .member
                    .patrols
                    .iter()
                    .take(3)
                    .map(|(user, kind)| TeamMember {
                        user: user.clone(),
                        name: user.clone(),
                        kind: member_kind(*kind),
                    })
                    .collect();
                if !patrol.members.iter().any(|m| m.user == me) {
                    let kind =
                        member_kind(self.member.profile.patrol.unwrap_or(PatrolKind::Police));
                    patrol.members.push(TeamMember { user: me.clone(), name: me, kind });
                }
                self.create(NewRecord::PatrolLog { patrol_log: patrol })?;
            }
            _ => {}
        }
        Ok(())
    }

    fn mediator(&mut self) -> Result<()> {
        let me = self.member.profile.user.clone();
        let mut has_open = false;
        for (id, record) in self.look(LOOK_AT)? {
            let Record::MediationCase { mediation_case: c } = record else { continue };
            let opener = c.header.created_by == me;
            let open = matches!(c.status, CaseStatus::Intake | CaseStatus::Mediating);
            has_open |= opener && open;
            let attendees = || c.parties.iter().map(|p| p.name.clone()).collect();
            let cmd = match c.status {
                CaseStatus::Intake if opener => Command::AddSession {
                    attendees: attendees(),
                    notes: self.corpus.notes_insert(),
                },
                CaseStatus::Mediating if opener && c.sessions.len() >= 2 && self.chance(0.15) => {
                    Command::RecordAgreement { text: "双方达成一致，按约履行".into() }
                }
                CaseStatus::Mediating if c.sessions.len() < 6 && self.chance(0.3) => {
                    Command::AddSession {
                        attendees: attendees(),
                        notes: self.corpus.notes_insert(),
                    }
                }
                CaseStatus::Intake => continue,
                _ => {
                    let Some(session) = c.sessions.last() else { continue };
                    // The corpus writes no character outside the BMP: every UTF-16 position
                    // is between two characters.
                    let len = session.notes.encode_utf16().count() as i64;
                    let pos = self.corpus.rng().random_range(0..=len);
                    Command::EditNotes {
                        session: session.id.clone(),
                        pos,
                        delete: 0,
                        insert: self.corpus.notes_insert(),
                    }
                }
            };
            self.run(id, &cmd)?;
        }
        if !has_open && self.chance(0.5) {
            let mut case = self.corpus.case();
            case.scope = self.member.scope();
            case.mediators = std::iter::once(me).chain(self.member.partner.clone()).collect();
            self.create(NewRecord::MediationCase { mediation_case: case })?;
        }
        Ok(())
    }

    fn dispatcher(&mut self) -> Result<()> {
        let mut commented = false;
        let mut awarded = false;
        for (id, record) in self.look(LOOK_AT)? {
            let Record::Report { report: r } = record else { continue };
            if !awarded && r.status == ReportStatus::Confirmed && r.points == 0 {
                let points = self.corpus.rng().random_range(5..=50);
                self.run(id, &Command::AwardPoints { points, note: String::new() })?;
                awarded = true;
            } else if !commented {
                let cmd = self.corpus.comment();
                self.run(id, &cmd)?;
                commented = true;
            }
        }
        if self.chance(0.25) {
            let scopes = &self.member.profile.scopes;
            let scope = scopes[self.corpus.rng().random_range(0..scopes.len())].clone();
            self.new_report(scope)?;
        }
        Ok(())
    }
}

fn member_kind(kind: PatrolKind) -> MemberKind {
    match kind {
        PatrolKind::Police => MemberKind::Police,
        PatrolKind::Cadre => MemberKind::VillageCadre,
        PatrolKind::Volunteer => MemberKind::VillagerVolunteer,
    }
}
