//! Synthetic but realistic field data: resident reports, patrol logs and mediation cases in a
//! street's fifty grids, with the mixed Chinese and ASCII text that real users type, so that full-
//! text search has something to find and something to miss.
//!
//! Everything is drawn from a seeded generator, so a fixture seeded twice holds the same text. The
//! kind of the `i`-th record depends on `i` alone ([`kind_of`]), and every report carries a work
//! order number made from its index ([`ticket`]), so a suite can search for a record it knows
//! exists without keeping a list of what was seeded.

mod text;

use fieldsync_core::model::{
    Addressee, CheckOutcome, Checkpoint, Command, EntryKind, Kind, Location, NewBulletin, NewCase,
    NewCheck, NewDeliberation, NewEntry, NewPatrol, NewRecord, NewReport, NewVisit, Party,
    PhotoRef, Severity, TeamMember, business_scope,
};
use fieldsync_core::time::now_ms;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use self::text::*;

/// Grids of the street the records are spread over.
pub const GRIDS: usize = 50;

/// Search terms of three or more characters that occur in many records.
pub const COMMON_QUERIES: &[&str] =
    &["违章搭建", "彩钢房", "噪音扰民", "井盖缺失", "退还船票", "净月潭", "rooftop", "streetlight"];

/// Queries of several words as people type them (words of one, two or more characters,
/// full-width digits), each of which the corpus holds somewhere.
pub const MULTI_QUERIES: &[&str] =
    &["违章 搭建", "噪音 扰民", "井盖 缺失", "净月潭 船票", "彩钢房 违建", "楼 顶", "rooftop shed"];

/// Search terms of three or more characters that occur in no record.
pub const MISSING_QUERIES: &[&str] = &["飞碟着陆", "量子计算机", "zebra crossing", "xylophone"];

/// The scope of grid `n` (1-based): `jl/changchun/chaoyang/yongchang/xinhua/grid-07`.
pub fn grid(n: usize) -> String {
    format!("jl/changchun/chaoyang/yongchang/xinhua/grid-{n:02}")
}

/// The kind of the `index`-th seeded record: 60% reports, 25% patrol logs, 7.5% mediation
/// cases, and 2.5% each of warning bulletins, business visits and deliberations.
pub fn kind_of(index: usize) -> Kind {
    match index % 40 {
        0..24 => Kind::Report,
        24..34 => Kind::PatrolLog,
        34..37 => Kind::MediationCase,
        37 => Kind::Bulletin,
        38 => Kind::Visit,
        _ => Kind::Deliberation,
    }
}

/// The work order number written in the description of the `index`-th record (a report).
pub fn ticket(index: usize) -> String {
    format!("GD{index:07}")
}

/// Draws records, their follow-up commands, and edits, from a seeded generator.
#[derive(Debug, Clone)]
pub struct Corpus {
    rng: StdRng,
}

impl Corpus {
    /// A generator that always draws the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        Corpus { rng: StdRng::seed_from_u64(seed) }
    }

    /// The generator, for choices a suite makes itself.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    /// A template drawn from `templates`, filled in.
    fn fill_one(&mut self, templates: &[&str]) -> String {
        let t = self.pick(templates);
        self.fill(t)
    }

    fn fill(&mut self, template: &str) -> String {
        let mut s = template.to_string();
        if s.contains("{addr}") || s.contains("{en}") {
            let community = self.pick(COMMUNITIES);
            let block = self.rng.random_range(1..=40);
            s = s
                .replace("{addr}", &format!("{community}小区{block}号楼"))
                .replace("{en}", &format!("block {block}"));
        }
        if s.contains("{street") {
            let (zh, en) = self.pick(STREETS);
            s = s.replace("{street}", zh).replace("{street_en}", en);
        }
        if s.contains("{n}") {
            s = s.replace("{n}", &self.rng.random_range(2..9000).to_string());
        }
        if s.contains("{cp}") {
            let cp = self.pick(CHECKPOINTS);
            s = s.replace("{cp}", cp);
        }
        s
    }

    fn scope(&mut self) -> String {
        grid(self.rng.random_range(1..=GRIDS))
    }

    fn location(&mut self) -> Location {
        Location {
            lat: 43.85 + self.rng.random_range(0.0..0.08),
            lon: 125.28 + self.rng.random_range(0.0..0.08),
            accuracy: self.rng.random_range(3.0..30.0),
            address: self.fill("{addr}"),
        }
    }

    fn photo(&mut self) -> PhotoRef {
        let bytes: Vec<u8> = (0..32).map(|_| self.rng.random::<u8>()).collect();
        let hash = hex::encode(bytes);
        PhotoRef {
            hash,
            size: self.rng.random_range(300_000..4_000_000),
            media_type: "image/jpeg".into(),
        }
    }

    /// The `index`-th record of a fixture, of the kind [`kind_of`] gives.
    pub fn record(&mut self, index: usize) -> NewRecord {
        match kind_of(index) {
            Kind::Report => NewRecord::Report { report: self.report(index) },
            Kind::PatrolLog => NewRecord::PatrolLog { patrol_log: self.patrol() },
            Kind::MediationCase => NewRecord::MediationCase { mediation_case: self.case() },
            Kind::Bulletin => NewRecord::Bulletin { bulletin: self.bulletin() },
            Kind::Visit => NewRecord::Visit { visit: self.visit() },
            Kind::Deliberation => NewRecord::Deliberation { deliberation: self.deliberation() },
        }
    }

    /// A resident report; its description ends with the work order number [`ticket`]`(index)`.
    pub fn report(&mut self, index: usize) -> NewReport {
        let (category, titles, sentences) = self.pick(REPORT_TEXT);
        let title = self.fill_one(titles);
        let mut description = String::new();
        for _ in 0..self.rng.random_range(1..=3) {
            let s = self.fill_one(sentences);
            description.push_str(&s);
        }
        if self.rng.random_bool(0.6) {
            let s = self.fill_one(REPORT_EXTRA);
            description.push_str(&s);
        }
        description.push_str(&format!(" 工单号 {}", ticket(index)));
        let location = self.rng.random_bool(0.9).then(|| self.location());
        let photos = (0..self.rng.random_range(0..=2)).map(|_| self.photo()).collect();
        NewReport { scope: self.scope(), category, title, description, location, photos }
    }

    /// Commands that take a new report to a random point of its workflow, with some comments.
    pub fn report_steps(&mut self) -> Vec<Command> {
        let note = String::new;
        let accept = Command::AcceptReport { note: note() };
        let start = Command::StartWork { note: "已到现场".into() };
        let resolve = Command::ResolveReport { note: "已拆除，现场恢复原状".into() };
        let roll = self.rng.random_range(0..100);
        let mut steps = match roll {
            0..25 => vec![],
            25..40 => vec![accept],
            40..52 => vec![accept, self.dispatch()],
            52..62 => vec![accept, self.dispatch(), start],
            62..72 => vec![accept, self.dispatch(), start, resolve],
            72..87 => {
                let mut v = vec![
                    accept,
                    self.dispatch(),
                    start,
                    resolve,
                    Command::ConfirmReport { note: "谢谢".into() },
                ];
                if self.rng.random_bool(0.5) {
                    v.push(Command::AwardPoints {
                        points: self.rng.random_range(5..=50),
                        note: note(),
                    });
                }
                v
            }
            87..95 => vec![Command::RejectReport { reason: "重复上报".into() }],
            _ => vec![
                Command::RejectReport { reason: "not in our grid".into() },
                Command::ReopenReport { reason: "居民补充了照片".into() },
            ],
        };
        if self.rng.random_bool(0.2) {
            for _ in 0..self.rng.random_range(1..=2) {
                steps.push(self.comment());
            }
        }
        steps
    }

    /// A comment on a report.
    pub fn comment(&mut self) -> Command {
        Command::CommentReport { text: self.pick(REPORT_COMMENTS).to_string() }
    }

    /// Dispatch of an accepted report to a responder, due in a few days.
    pub fn dispatch(&mut self) -> Command {
        let days = self.rng.random_range(1..=14);
        Command::DispatchReport {
            assignee: format!("officer-{}", self.rng.random_range(1..=40)),
            deadline: fieldsync_core::time::Timestamp::from_millis(now_ms() + days * 86_400_000),
            note: "请按时处理".into(),
        }
    }

    /// A patrol log with a team of two to four and a few checkpoints.
    pub fn patrol(&mut self) -> NewPatrol {
        let members = (0..self.rng.random_range(2..=4))
            .map(|_| {
                let (user, name, kind) = self.pick(PATROL_MEMBERS);
                TeamMember { user: user.into(), name: name.into(), kind }
            })
            .collect::<Vec<_>>();
        let mut members_unique: Vec<TeamMember> = Vec::new();
        for m in members {
            if !members_unique.iter().any(|u| u.user == m.user) {
                members_unique.push(m);
            }
        }
        let mut checkpoints: Vec<Checkpoint> = Vec::new();
        for _ in 0..self.rng.random_range(2..=5) {
            let name = self.pick(CHECKPOINTS).to_string();
            if !checkpoints.iter().any(|c| c.name == name) {
                let location = self.rng.random_bool(0.5).then(|| self.location());
                checkpoints.push(Checkpoint { name, location });
            }
        }
        NewPatrol {
            scope: self.scope(),
            area: self.pick(AREAS).to_string(),
            members: members_unique,
            checkpoints,
        }
    }

    /// Two to six entries, and for three patrols in ten the end of the patrol.
    pub fn patrol_steps(&mut self, patrol: &NewPatrol) -> Vec<Command> {
        let mut steps: Vec<Command> =
            (0..self.rng.random_range(2..=6)).map(|_| self.entry(&patrol.checkpoints)).collect();
        if self.rng.random_bool(0.3) {
            steps.push(Command::FinishPatrol { note: "巡逻结束，无异常".into() });
        }
        steps
    }

    /// One patrol entry: a checkpoint reached, or something seen on the way.
    pub fn entry(&mut self, checkpoints: &[Checkpoint]) -> Command {
        let entry = if !checkpoints.is_empty() && self.rng.random_bool(0.3) {
            let cp = checkpoints[self.rng.random_range(0..checkpoints.len())].name.clone();
            NewEntry {
                kind: EntryKind::CheckpointReached,
                text: format!("到达{cp}"),
                location: None,
                photos: vec![],
                checkpoint: Some(cp),
            }
        } else {
            let (kind, texts) = self.pick(ENTRY_TEXT);
            let text = self.fill_one(texts);
            let location = self.rng.random_bool(0.5).then(|| self.location());
            let photos = if self.rng.random_bool(0.2) { vec![self.photo()] } else { vec![] };
            NewEntry { kind, text, location, photos, checkpoint: None }
        };
        Command::AddPatrolEntry { entry }
    }

    fn person(&mut self) -> String {
        format!("{}{}", self.pick(SURNAMES), self.pick(GIVEN))
    }

    /// A mediation case with two or three parties.
    pub fn case(&mut self) -> NewCase {
        let (category, _) = self.pick(CASE_NOTES);
        let parties = (0..self.rng.random_range(2..=3))
            .map(|_| Party {
                name: self.person(),
                role: self.pick(ROLES).to_string(),
                contact: if self.rng.random_bool(0.7) {
                    format!("13{:09}", self.rng.random_range(0..1_000_000_000u32))
                } else {
                    String::new()
                },
            })
            .collect();
        let mediators = (0..self.rng.random_range(1..=2))
            .map(|k| format!("med-{}", self.rng.random_range(1..=20) * 2 + k))
            .collect();
        NewCase {
            scope: self.scope(),
            category,
            place: self.pick(PLACES).to_string(),
            parties,
            mediators,
        }
    }

    /// A deliberation raised in a grid, with two options.
    pub fn deliberation(&mut self) -> NewDeliberation {
        let place = self.pick(PLACES).to_string();
        NewDeliberation {
            scope: self.scope(),
            topic: format!("{place}停车位划线"),
            background: format!("{place}晚上车位不够，居民提议划线管理。"),
            options: vec!["划线".into(), "不划线".into()],
        }
    }

    /// A warning bulletin to a grid's patrols and residents, in force for a year from the
    /// fixture's clock (a cached fixture's bulletins still reach the phones a run enrolls).
    pub fn bulletin(&mut self) -> NewBulletin {
        let severity = Severity::ALL[self.rng.random_range(0..Severity::ALL.len())];
        let place = self.pick(PLACES).to_string();
        NewBulletin {
            scope: self.scope(),
            severity,
            audience: vec![Addressee::Patrols, Addressee::Residents],
            title: format!("{place} 安全提示"),
            text: format!("{place}附近施工，请绕行并提醒游客注意安全。"),
            valid_until: fieldsync_core::time::Timestamp::from_millis(now_ms() + 365 * 86_400_000),
            location: None,
            photos: vec![],
        }
    }

    /// A visit to one of a scope's businesses, with the default checklist and one result.
    pub fn visit(&mut self) -> NewVisit {
        let scope = self.scope();
        let business = format!("biz-{:03}", self.rng.random_range(0..200));
        let checklist: Vec<String> =
            ["fire_safety", "guest_registration", "food_safety", "hazards"]
                .map(String::from)
                .to_vec();
        let item = checklist[self.rng.random_range(0..checklist.len())].clone();
        let result =
            if self.rng.random_bool(0.2) { CheckOutcome::Fail } else { CheckOutcome::Pass };
        NewVisit {
            scope: business_scope(&scope, &business),
            business,
            visitors: vec!["police-01".into()],
            checklist,
            results: vec![NewCheck { item, result, note: String::new() }],
        }
    }

    /// What follows a visit: a finding for one visit in five, then a second checklist result.
    pub fn visit_steps(&mut self) -> Vec<Command> {
        let mut steps = Vec::new();
        if self.rng.random_bool(0.2) {
            let place = self.pick(PLACES);
            steps.push(Command::AddFinding {
                text: format!("{place}消防通道堆放杂物"),
                photos: vec![],
            });
        }
        steps.push(Command::RecordCheck {
            item: "hazards".into(),
            result: CheckOutcome::Pass,
            note: String::new(),
        });
        steps
    }

    /// What follows the raising of a deliberation: comments, another option, and for half of
    /// them a meeting scheduled.
    pub fn deliberation_steps(&mut self) -> Vec<Command> {
        let mut steps: Vec<Command> = (0..self.rng.random_range(1..4))
            .map(|_| Command::CommentDeliberation { text: self.fill_one(DELIBERATION_COMMENTS) })
            .collect();
        steps.push(Command::ProposeOption { text: "按楼层分摊费用".into() });
        if self.rng.random_bool(0.5) {
            let at = fieldsync_core::time::Timestamp::from_millis(now_ms() + 7 * 86_400_000);
            steps.push(Command::ScheduleMeeting { at, place: "社区议事厅".into() });
        }
        steps
    }

    /// A first session, then for a third of the cases an outcome (agreement, failure, escalation).
    pub fn case_steps(&mut self, case: &NewCase) -> Vec<Command> {
        let notes_bank =
            CASE_NOTES.iter().find(|(c, _)| *c == case.category).map_or(NOTES_COMMON, |(_, n)| *n);
        let mut notes = self.fill_one(NOTES_COMMON);
        for _ in 0..self.rng.random_range(1..=2) {
            let s = self.fill_one(notes_bank);
            notes.push_str(&s);
        }
        let mut steps = vec![Command::AddSession {
            attendees: case.parties.iter().map(|p| p.name.clone()).collect(),
            notes,
        }];
        let agreement = || Command::RecordAgreement { text: String::new() };
        match self.rng.random_range(0..100) {
            0..65 => {}
            65..80 => steps.push(agreement()),
            80..90 => {
                steps.push(agreement());
                steps.push(Command::CloseCase { note: String::new() });
            }
            90..95 => steps.push(Command::RecordFailure { reason: "双方分歧较大".into() }),
            _ => steps.push(Command::EscalateCase {
                to: "people's court".into(),
                reason: "标的较大，建议诉讼".into(),
            }),
        }
        for step in &mut steps {
            if let Command::RecordAgreement { text } = step {
                *text = self.fill_one(AGREEMENTS);
            }
        }
        steps
    }

    /// Text a mediator adds to a session's notes.
    pub fn notes_insert(&mut self) -> String {
        self.fill_one(NOTES_COMMON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_records() {
        let (mut a, mut b) = (Corpus::new(7), Corpus::new(7));
        for i in 0..50 {
            assert_eq!(a.record(i), b.record(i));
        }
    }

    #[test]
    fn kinds_are_mixed_as_documented() {
        let count = |k: Kind| (0..1000).filter(|&i| kind_of(i) == k).count();
        assert_eq!((count(Kind::Report), count(Kind::PatrolLog)), (600, 250));
        assert_eq!(count(Kind::MediationCase), 75);
        for k in [Kind::Bulletin, Kind::Visit, Kind::Deliberation] {
            assert_eq!(count(k), 25, "{k}");
        }
    }

    /// The one-pass record read equals the per-key reference on every kind the corpus makes,
    /// taken through its workflow, and after two devices took the same step concurrently.
    #[test]
    fn the_one_pass_read_equals_the_per_key_read_on_every_kind() {
        use automerge::ActorId;
        use fieldsync_core::model::command::{apply, create};
        use fieldsync_core::model::{NewRecord, Stamp, read_record, read_record_per_key};

        let mut c = Corpus::new(11);
        let mut kinds = std::collections::BTreeSet::new();
        let mut conflicted = 0;
        for i in 0..80 {
            let new = c.record(i);
            let steps = match &new {
                NewRecord::Report { .. } => c.report_steps(),
                NewRecord::PatrolLog { patrol_log: p } => c.patrol_steps(p),
                NewRecord::MediationCase { mediation_case: m } => c.case_steps(m),
                NewRecord::Visit { .. } => c.visit_steps(),
                NewRecord::Deliberation { .. } => c.deliberation_steps(),
                NewRecord::Bulletin { .. } => Vec::new(),
            };
            let at = now_ms();
            let stamp = |n: usize| Stamp { by: "user-0001".into(), at: at + n as i64 };
            let (id, mut doc) = create(&new, &stamp(0), ActorId::random()).expect("create");
            let mut other = doc.fork();
            for (n, cmd) in steps.iter().enumerate() {
                apply(&mut doc, id, &stamp(n + 1), cmd)
                    .unwrap_or_else(|e| panic!("{i} {}: {e}", cmd.name()));
                let fast = read_record(&doc, id).expect("read");
                assert_eq!(fast, read_record_per_key(&doc, id).expect("read per key"), "{i}");
            }
            if let Some(first) = steps.first() {
                apply(&mut other, id, &stamp(1), first)
                    .unwrap_or_else(|e| panic!("{i} {}: {e}", first.name()));
                doc.merge(&mut other).expect("merge");
            }
            let fast = read_record(&doc, id).expect("read merged");
            assert_eq!(fast, read_record_per_key(&doc, id).expect("read merged per key"), "{i}");
            conflicted += usize::from(!fast.conflicts().is_empty());
            kinds.insert(kind_of(i));
        }
        assert_eq!(kinds.len(), Kind::ALL.len(), "every kind was read");
        assert!(conflicted > 0, "some merged records hold concurrent values");
    }

    #[test]
    fn reports_carry_their_ticket() {
        let mut c = Corpus::new(1);
        let r = c.report(1234);
        assert!(r.description.ends_with("GD0001234"), "{}", r.description);
    }
}
