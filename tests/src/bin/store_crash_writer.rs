//! Crash-test helper: writes to a phone store forever, until it is killed.
//!
//! `store_crash_writer <store-path> [seed]` opens (or resumes) the store and runs a field day's mix
//! of writes in an endless loop: reports, patrol logs and cases are created, patrol entries
//! appended, reports commented on and moved through their workflow, mediation sessions added and
//! their notes edited. After every write the store reported as committed it prints one line
//! ([`Written`]) and flushes, so the test that SIGKILLs it can check afterwards that every write it
//! was told about survived. Any error from the store is a bug: the writer panics, and the test,
//! which expects death by SIGKILL, fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{StdoutLock, Write};

use fieldsync_core::model::*;
use fieldsync_core::{DocId, Store};
use fieldsync_tests::crash::Written;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";
/// The writer works mostly on the last few records of a kind, as a phone does, so that documents
/// grow long enough to be compacted.
const RECENT: usize = 6;
/// Notes are kept well below the 100,000 characters a session may hold.
const NOTES_BUDGET: usize = 20_000;
/// Sessions per case and follow-ups per case are kept below the limit of 200.
const ITEMS_BUDGET: usize = 150;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: store_crash_writer <store-path> [seed]");
    let seed: u64 = match args.next() {
        Some(s) => s.parse().expect("the seed is a u64"),
        None => rand::random(),
    };
    let store = Store::open(&path).expect("open the store");
    let mut w = Writer {
        store,
        rng: StdRng::seed_from_u64(seed),
        // Fragments must be unique across every run on the same store; run tags keep them so.
        tag: format!("{:08x}", rand::random::<u32>()),
        counter: 0,
        user: String::new(),
        reports: Vec::new(),
        patrols: Vec::new(),
        cases: Vec::new(),
        out: std::io::stdout().lock(),
    };
    for id in w.store.doc_ids().expect("list documents") {
        match w.store.kind_of(id).expect("kind of a listed document") {
            Kind::Report => w.reports.push(id),
            Kind::PatrolLog => w.patrols.push(id),
            Kind::MediationCase => w.cases.push(id),
            // The writer makes records of no other kind; none is there to edit.
            _ => {}
        }
    }
    loop {
        w.step();
    }
}

struct Writer {
    store: Store,
    rng: StdRng,
    tag: String,
    counter: u64,
    user: String,
    reports: Vec<DocId>,
    /// Patrol logs not known to be finished.
    patrols: Vec<DocId>,
    cases: Vec<DocId>,
    out: StdoutLock<'static>,
}

impl Writer {
    fn step(&mut self) {
        match self.rng.random_range(0..100) {
            0..4 => self.create_report(),
            4..6 => self.create_patrol(),
            6..8 => self.create_case(),
            8..40 => self.patrol_entry(),
            40..42 => self.finish_patrol(),
            42..58 => self.comment(),
            58..68 => self.report_step(),
            68..74 => self.add_session(),
            74..94 => self.edit_notes(),
            _ => self.case_step(),
        }
    }

    /// A unique piece of text, without white space, that the test can find again.
    fn fragment(&mut self, word: &str) -> String {
        self.counter += 1;
        format!("「{word}{}-{}」", self.tag, self.counter)
    }

    fn emit(&mut self, written: Written) {
        writeln!(self.out, "{written}").expect("write to stdout");
        self.out.flush().expect("flush stdout");
    }

    fn as_user(&mut self, user: &str) {
        if self.user != user {
            self.store.set_user(user).unwrap_or_else(|e| panic!("set_user {user}: {e}"));
            self.user = user.to_string();
        }
    }

    fn pick(&mut self, list: &[DocId]) -> Option<DocId> {
        if list.is_empty() {
            return None;
        }
        let from = if self.rng.random_bool(0.85) { list.len().saturating_sub(RECENT) } else { 0 };
        Some(list[self.rng.random_range(from..list.len())])
    }

    fn create(&mut self, new: &NewRecord) -> DocId {
        let id = self.store.create(new).unwrap_or_else(|e| panic!("create {:?}: {e}", new.kind()));
        self.emit(Written::Created { kind: new.kind(), doc: id });
        id
    }

    fn execute(&mut self, id: DocId, cmd: &Command) -> Applied {
        self.store.execute(id, cmd).unwrap_or_else(|e| panic!("{} on {id}: {e}", cmd.name()))
    }

    fn get(&self, id: DocId) -> Record {
        self.store.get(id).unwrap_or_else(|e| panic!("get {id}: {e}"))
    }

    fn location(&mut self) -> Location {
        Location {
            lat: 43.8 + self.rng.random_range(0.0..0.1),
            lon: 125.3 + self.rng.random_range(0.0..0.1),
            accuracy: self.rng.random_range(3.0..30.0),
            address: "净月潭景区北门".to_string(),
        }
    }

    fn photo(&mut self) -> PhotoRef {
        let hash: String = (0..4).map(|_| format!("{:016x}", self.rng.random::<u64>())).collect();
        PhotoRef {
            hash,
            size: self.rng.random_range(20_000..3_000_000),
            media_type: "image/jpeg".into(),
        }
    }

    fn create_report(&mut self) {
        self.as_user("resident-1");
        let categories = ReportCategory::ALL;
        let category = categories[self.rng.random_range(0..categories.len())];
        let title = format!("{}：{}", category, self.fragment("上报"));
        let photos = if self.rng.random_bool(0.5) { vec![self.photo()] } else { vec![] };
        let location = Some(self.location());
        let id = self.create(&NewRecord::Report {
            report: NewReport {
                scope: GRID.to_string(),
                category,
                title,
                description: "新华小区7号楼楼顶有人搭建彩钢房，约20平方米。".repeat(3),
                location,
                photos,
            },
        });
        self.reports.push(id);
    }

    fn create_patrol(&mut self) {
        self.as_user("police-li");
        let gate = Some(self.location());
        let id = self.create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.to_string(),
                area: "净月潭景区".to_string(),
                members: vec![
                    TeamMember {
                        user: "police-li".into(),
                        name: "李警官".into(),
                        kind: MemberKind::Police,
                    },
                    TeamMember {
                        user: "cadre-wang".into(),
                        name: "王主任".into(),
                        kind: MemberKind::VillageCadre,
                    },
                    TeamMember {
                        user: "vol-zhao".into(),
                        name: "赵大姐".into(),
                        kind: MemberKind::VillagerVolunteer,
                    },
                ],
                checkpoints: vec![
                    Checkpoint { name: "north gate".into(), location: gate },
                    Checkpoint { name: "lake pier".into(), location: None },
                    Checkpoint { name: "forest trail".into(), location: None },
                ],
            },
        });
        self.patrols.push(id);
    }

    fn create_case(&mut self) {
        self.as_user("med-chen");
        let categories = CaseCategory::ALL;
        let category = categories[self.rng.random_range(0..categories.len())];
        let id = self.create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.to_string(),
                category,
                place: "景区游客中心".to_string(),
                parties: vec![
                    Party { name: "张三".into(), role: "tourist".into(), contact: "138".into() },
                    Party {
                        name: "李四".into(),
                        role: "boat operator".into(),
                        contact: String::new(),
                    },
                ],
                mediators: vec!["med-chen".into(), "med-liu".into()],
            },
        });
        self.cases.push(id);
    }

    /// An active patrol log (creating one if there is none); finished ones are forgotten.
    fn active_patrol(&mut self) -> (DocId, PatrolLog) {
        loop {
            let patrols = self.patrols.clone();
            let Some(id) = self.pick(&patrols) else {
                self.create_patrol();
                continue;
            };
            match self.get(id) {
                Record::PatrolLog { patrol_log: p } if p.status == PatrolStatus::Active => {
                    return (id, p);
                }
                Record::PatrolLog { .. } => self.patrols.retain(|&p| p != id),
                other => panic!("{id} is not a patrol log: {other:?}"),
            }
        }
    }

    fn patrol_entry(&mut self) {
        let (id, patrol) = self.active_patrol();
        let user = ["police-li", "cadre-wang", "vol-zhao"][self.rng.random_range(0..3)];
        self.as_user(user);
        let kinds = EntryKind::ALL;
        let kind = kinds[self.rng.random_range(0..kinds.len())];
        let checkpoint = (kind == EntryKind::CheckpointReached).then(|| {
            patrol.checkpoints[self.rng.random_range(0..patrol.checkpoints.len())].name.clone()
        });
        let location = self.rng.random_bool(0.6).then(|| self.location());
        let photos = if self.rng.random_bool(0.2) { vec![self.photo()] } else { vec![] };
        let text = self.fragment("巡逻");
        let applied = self.execute(
            id,
            &Command::AddPatrolEntry {
                entry: NewEntry { kind, text: text.clone(), location, photos, checkpoint },
            },
        );
        let key = applied.item.expect("an entry has a key");
        self.emit(Written::Entry { doc: id, key, text });
    }

    fn finish_patrol(&mut self) {
        let (id, patrol) = self.active_patrol();
        if patrol.entries.len() < 5 {
            return self.patrol_entry();
        }
        self.as_user("police-li");
        let note = self.fragment("收队");
        self.execute(id, &Command::FinishPatrol { note: note.clone() });
        self.patrols.retain(|&p| p != id);
        self.emit(Written::Event { doc: id, action: "finish_patrol".into(), note });
    }

    fn comment(&mut self) {
        let reports = self.reports.clone();
        let Some(id) = self.pick(&reports) else { return self.create_report() };
        let user = ["resident-1", "grid-leader-7", "dispatcher-1"][self.rng.random_range(0..3)];
        self.as_user(user);
        let text = self.fragment("评论");
        let applied = self.execute(id, &Command::CommentReport { text: text.clone() });
        let key = applied.item.expect("a comment has a key");
        self.emit(Written::Comment { doc: id, key, text });
    }

    /// Moves a report one step through its workflow, as the person whose turn it is.
    fn report_step(&mut self) {
        let reports = self.reports.clone();
        let Some(id) = self.pick(&reports) else { return self.create_report() };
        let Record::Report { report } = self.get(id) else { panic!("{id} is not a report") };
        let note = self.fragment("处置");
        let n = note.clone();
        let (user, cmd) = match report.status {
            ReportStatus::Submitted if self.rng.random_bool(0.1) => {
                ("dispatcher-1", Command::RejectReport { reason: n })
            }
            ReportStatus::Submitted | ReportStatus::Reopened => {
                ("dispatcher-1", Command::AcceptReport { note: n })
            }
            ReportStatus::Accepted => (
                "dispatcher-1",
                Command::DispatchReport {
                    assignee: "officer-7".into(),
                    deadline: fieldsync_core::time::Timestamp::from_millis(
                        fieldsync_core::time::now_ms() + 86_400_000,
                    ),
                    note: n,
                },
            ),
            ReportStatus::Dispatched => ("officer-7", Command::StartWork { note: n }),
            ReportStatus::InProgress => ("officer-7", Command::ResolveReport { note: n }),
            ReportStatus::Resolved if self.rng.random_bool(0.2) => {
                ("resident-1", Command::ReopenReport { reason: n })
            }
            ReportStatus::Resolved => ("resident-1", Command::ConfirmReport { note: n }),
            ReportStatus::Rejected => ("resident-1", Command::ReopenReport { reason: n }),
            ReportStatus::Confirmed if report.points == 0 => {
                ("dispatcher-1", Command::AwardPoints { points: 20, note: n })
            }
            ReportStatus::Confirmed => return self.comment(),
        };
        self.as_user(user);
        self.execute(id, &cmd);
        self.emit(Written::Event { doc: id, action: cmd.name().into(), note });
    }

    fn case(&self, id: DocId) -> MediationCase {
        match self.get(id) {
            Record::MediationCase { mediation_case: c } => c,
            other => panic!("{id} is not a case: {other:?}"),
        }
    }

    fn add_session(&mut self) {
        let cases = self.cases.clone();
        let Some(id) = self.pick(&cases) else { return self.create_case() };
        let case = self.case(id);
        if !matches!(case.status, CaseStatus::Intake | CaseStatus::Mediating)
            || case.sessions.len() >= ITEMS_BUDGET
        {
            return if self.rng.random_bool(0.5) { self.create_case() } else { self.case_step() };
        }
        self.as_user("med-chen");
        let notes = self.fragment("调解");
        let applied = self.execute(
            id,
            &Command::AddSession {
                attendees: vec!["张三".into(), "李四".into()],
                notes: notes.clone(),
            },
        );
        let key = applied.item.expect("a session has a key");
        self.emit(Written::Session { doc: id, key, notes });
    }

    /// Inserts a fragment into a session's notes, only between earlier fragments so that every
    /// fragment stays whole and can be found again.
    fn edit_notes(&mut self) {
        let cases = self.cases.clone();
        let Some(id) = self.pick(&cases) else { return self.create_case() };
        let case = self.case(id);
        if case.status == CaseStatus::Closed || case.sessions.is_empty() {
            return self.add_session();
        }
        let session = if self.rng.random_bool(0.7) {
            &case.sessions[case.sessions.len() - 1]
        } else {
            &case.sessions[self.rng.random_range(0..case.sessions.len())]
        };
        let chars: Vec<char> = session.notes.chars().collect();
        if chars.len() > NOTES_BUDGET {
            return self.add_session();
        }
        let mut bounds: Vec<usize> =
            chars.iter().enumerate().filter(|(_, c)| **c == '「').map(|(i, _)| i).collect();
        bounds.push(chars.len());
        let pos = bounds[self.rng.random_range(0..bounds.len())];
        let user = ["med-chen", "med-liu"][self.rng.random_range(0..2)];
        self.as_user(user);
        let fragment = self.fragment("笔录");
        let key = session.id.clone();
        self.execute(
            id,
            &Command::EditNotes {
                session: key.clone(),
                pos: chars[..pos].iter().map(|c| c.len_utf16() as i64).sum(),
                delete: 0,
                insert: fragment.clone(),
            },
        );
        self.emit(Written::Notes { doc: id, session: key, fragment });
    }

    /// Moves a case on: agreement or failure, escalation, closing, follow-up visits.
    fn case_step(&mut self) {
        let cases = self.cases.clone();
        let Some(id) = self.pick(&cases) else { return self.create_case() };
        let case = self.case(id);
        self.as_user("med-chen");
        let text = self.fragment("结案");
        let t = text.clone();
        let event =
            |action: &str| Written::Event { doc: id, action: action.into(), note: t.clone() };
        match case.status {
            CaseStatus::Intake => self.add_session(),
            CaseStatus::Mediating if case.sessions.len() < 3 => self.add_session(),
            CaseStatus::Mediating if self.rng.random_bool(0.25) => {
                self.execute(id, &Command::RecordFailure { reason: text });
                self.emit(event("record_failure"));
            }
            CaseStatus::Mediating => {
                self.execute(id, &Command::RecordAgreement { text: text.clone() });
                self.emit(Written::Agreement { doc: id, text });
            }
            CaseStatus::Failed if self.rng.random_bool(0.5) => {
                self.execute(
                    id,
                    &Command::EscalateCase { to: "people's court".into(), reason: text },
                );
                self.emit(event("escalate_case"));
            }
            CaseStatus::Failed | CaseStatus::Escalated => {
                self.execute(id, &Command::CloseCase { note: text });
                self.emit(event("close_case"));
            }
            CaseStatus::Agreed if self.rng.random_bool(0.3) => {
                self.execute(id, &Command::CloseCase { note: text });
                self.emit(event("close_case"));
            }
            CaseStatus::Agreed | CaseStatus::Closed => {
                if case.follow_ups.len() >= ITEMS_BUDGET {
                    return self.create_case();
                }
                let applied = self.execute(id, &Command::AddFollowUp { note: text.clone() });
                let key = applied.item.expect("a follow-up has a key");
                self.emit(Written::FollowUp { doc: id, key, note: text });
            }
        }
    }
}
