//! `--demo`: a demonstration street on an empty server, so that a newcomer sees a working
//! command centre at once. Users of every role in three grids, and a few days of reports
//! (some overdue, dispatched, supervised, resolved, confirmed), a patrol log and a mediation
//! case, made as real documents: core's commands, run as each user and ingested as that
//! user's push (`documents::act`), through the same checks, log and index as a phone's.

use automerge::ActorId;
use fieldsync_core::model::{
    CaseCategory, Command, MemberKind, NewCase, NewPatrol, NewRecord, NewReport, Party,
    ReportCategory, Stamp, TeamMember, command,
};
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::protocol::{PushDoc, PushOutcome, to_wire};
use fieldsync_core::time::Timestamp;

use crate::accounts::{self, AccountError};
use crate::documents::Documents;
use crate::documents::act::{ActError, act};
use crate::ingest::Author;

/// Why the demonstration street could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A user could not be added.
    #[error("demo user: {0}")]
    Account(#[from] AccountError),
    /// A record could not be made or changed.
    #[error("demo record: {0}")]
    Record(String),
}

impl From<ActError> for DemoError {
    fn from(e: ActError) -> Self {
        DemoError::Record(e.to_string())
    }
}

const HOUR: i64 = 3_600_000;

fn author(user: &str, role: Role, scope: &str) -> Author {
    let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
    Author {
        device: format!("demo-{user}"),
        actor: ActorId::random().to_bytes().to_vec(),
        profile: Profile { user: user.into(), role, patrol, scopes: vec![scope.into()] },
        rights_changed: false,
        key: None,
    }
}

/// Pushes a new record made by `by` at `at`; its id.
async fn create(
    docs: &Documents,
    by: &Author,
    at: i64,
    new: NewRecord,
) -> Result<fieldsync_core::DocId, DemoError> {
    let stamp = Stamp { by: by.profile.user.clone(), at };
    let (id, mut doc) = command::create(&new, &stamp, ActorId::from(by.actor.as_slice()))
        .map_err(|e| DemoError::Record(e.to_string()))?;
    let push =
        PushDoc { doc: id, changes: doc.save(), heads: to_wire(&doc.get_heads()), signed: vec![] };
    let results =
        crate::documents::push::push(docs, vec![push], Some(by.clone()), Default::default())
            .await
            .map_err(|e| DemoError::Record(e.to_string()))?;
    match results.first().map(|r| &r.outcome) {
        Some(PushOutcome::Acked { .. }) => Ok(id),
        other => Err(DemoError::Record(format!("{id} was not stored: {other:?}"))),
    }
}

/// Fills an empty server under `root` (e.g. `jl`) as of `now`; returns the dispatcher's user
/// id, for whom the caller issues a sign-in code.
pub(crate) async fn fill(docs: &Documents, root: &str, now: i64) -> Result<String, DemoError> {
    let storage = docs.storage.as_ref();
    let street = format!("{root}/demo-street");
    let grids: Vec<String> = (1..=3).map(|g| format!("{street}/grid-{g}")).collect();
    let scoped = |s: &str| vec![s.to_string()];
    accounts::add_user(storage, "disp-demo", Role::Dispatcher, None, &scoped(&street)).await?;
    accounts::add_user(storage, "sup-demo", Role::Supervisor, None, &scoped(&street)).await?;
    accounts::add_user(storage, "med-demo", Role::Mediator, None, &scoped(&street)).await?;
    for (g, grid) in grids.iter().enumerate() {
        let n = g + 1;
        accounts::add_user(storage, &format!("gl-{n}"), Role::GridLeader, None, &scoped(grid))
            .await?;
        let kind = [PatrolKind::Police, PatrolKind::Cadre, PatrolKind::Volunteer][g];
        accounts::add_user(
            storage,
            &format!("patrol-{n}"),
            Role::Patrol,
            Some(kind),
            &scoped(grid),
        )
        .await?;
        accounts::add_user(storage, &format!("res-{n}"), Role::Resident, None, &scoped(grid))
            .await?;
    }
    let disp = author("disp-demo", Role::Dispatcher, &street);
    let sup = author("sup-demo", Role::Supervisor, &street);
    let titles = [
        (ReportCategory::IllegalConstruction, "楼顶违建：3号楼顶层新搭建彩钢房"),
        (ReportCategory::SafetyHazard, "景区步道护栏松动"),
        (ReportCategory::Sanitation, "河边垃圾堆积"),
        (ReportCategory::Noise, "夜间施工噪音"),
        (ReportCategory::RoadFacilityDamage, "路灯不亮"),
        (ReportCategory::SafetyHazard, "井盖缺失"),
    ];
    for (i, (category, title)) in titles.iter().enumerate() {
        let g = i % grids.len();
        let resident = author(&format!("res-{}", g + 1), Role::Resident, &grids[g]);
        let at = now - (72 - 11 * i as i64) * HOUR;
        let report = NewReport {
            scope: grids[g].clone(),
            category: *category,
            title: (*title).to_string(),
            description: String::new(),
            location: None,
            photos: vec![],
        };
        let id = create(docs, &resident, at, NewRecord::Report { report }).await?;
        if i >= 4 {
            continue; // left submitted: the newest wait, the older ones are overdue
        }
        act(docs, id, disp.clone(), at + HOUR / 2, Command::AcceptReport { note: String::new() })
            .await?;
        let officer = format!("patrol-{}", g + 1);
        let deadline = Timestamp::from_millis(now + (i as i64 - 1) * 12 * HOUR);
        act(
            docs,
            id,
            disp.clone(),
            at + HOUR,
            Command::DispatchReport {
                assignee: officer.clone(),
                deadline,
                note: "请尽快处理".into(),
            },
        )
        .await?;
        if i == 1 {
            act(
                docs,
                id,
                sup.clone(),
                at + 2 * HOUR,
                Command::Supervise { note: "督办：今日完成".into() },
            )
            .await?;
        }
        if i == 2 || i == 3 {
            let who = author(&officer, Role::Patrol, &grids[g]);
            act(docs, id, who.clone(), at + 3 * HOUR, Command::StartWork { note: String::new() })
                .await?;
            act(docs, id, who, at + 5 * HOUR, Command::ResolveReport { note: "已拆除".into() })
                .await?;
        }
        if i == 3 {
            act(docs, id, resident, at + 6 * HOUR, Command::ConfirmReport { note: "确认".into() })
                .await?;
        }
    }
    let officer = author("patrol-1", Role::Patrol, &grids[0]);
    let patrol = NewPatrol {
        scope: grids[0].clone(),
        area: "湖畔步道".into(),
        members: vec![TeamMember {
            user: "patrol-1".into(),
            name: "李警官".into(),
            kind: MemberKind::Police,
        }],
        checkpoints: vec![
            fieldsync_core::model::Checkpoint { name: "码头".into(), location: None },
            fieldsync_core::model::Checkpoint { name: "观景台".into(), location: None },
        ],
    };
    create(docs, &officer, now - 2 * HOUR, NewRecord::PatrolLog { patrol_log: patrol }).await?;
    let mediator = author("med-demo", Role::Mediator, &street);
    let case = NewCase {
        scope: grids[1].clone(),
        category: CaseCategory::Neighbour,
        place: "2号楼".into(),
        parties: vec![
            Party { name: "张三".into(), role: "申请人".into(), contact: String::new() },
            Party { name: "李四".into(), role: "被申请人".into(), contact: String::new() },
        ],
        mediators: vec!["med-demo".into()],
    };
    create(docs, &mediator, now - 30 * HOUR, NewRecord::MediationCase { mediation_case: case })
        .await?;
    Ok("disp-demo".to_string())
}
