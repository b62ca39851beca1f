//! A field day on eight phones and a sync server.
//!
//! The example starts a fieldsync server in-process on a free loopback port. A patrol team of three
//! phones walks a scenic area without signal, each adding entries to the same patrol log; a resident
//! reports an illegal roof-top building; a grid leader accepts and dispatches it; two mediators edit
//! the same case notes offline. In the morning the police issue a warning bulletin (预警通报) to
//! the area's patrols, residents and businesses; a cadre acknowledges it offline, and the police
//! see it in the evening. The police visit a fishing lodge of the business registry offline
//! (走访): a failed fire-safety check, a finding with a photo, a follow-up with a deadline; the
//! lodge's operator reads that visit and the bulletin, and acknowledges it. The resident raises
//! a deliberation (议事协商) on a lift for block 7; the grid leader holds its meeting, and at
//! midday the leader and the resident, both offline, edit its minutes: both edits are in the
//! minutes on both phones in the evening. Every phone is enrolled with its user's role and
//! scope, so each
//! receives only what that role may read (the resident never sees the mediation notes). Then
//! everyone syncs through the server, and the example shows what each phone holds and that all
//! copies converged. Then the resident's next report is handled and confirmed: it earns points,
//! which the resident redeems at the community's exchange and the grid leader marks collected.
//! The next day the patrol walks into a valley with no signal: its three phones keep a
//! second log and sync with each other directly, phone to phone, until all three hold the same
//! log; then one of them finds signal and syncs with the server (`valley.rs`).
//! It exits non-zero if the phones did not converge or the points did not add up.

use std::collections::BTreeMap;
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::model::*;
use fieldsync_core::policy::{Audience, PatrolKind, Profile, Role, can_read};
use fieldsync_core::store::PhotoSource;
use fieldsync_core::sync::{BusinessFields, HttpTransport, SyncClient, enroll};
use fieldsync_core::{DocId, Store};
use fieldsync_server::{RunningServer, Server, ServerConfig};

mod valley;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const AREA_SCOPE: &str = "jl/changchun/jingyue/scenic-area";
const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

struct Phone {
    owner: &'static str,
    store: Arc<Store>,
    sync: SyncClient<HttpTransport>,
}

/// A phone enrolled for `owner`: the command centre adds the user and issues a code (as
/// `fieldsync-server user add` and `enroll-code` do), the phone exchanges it over HTTP.
async fn phone(
    dir: &std::path::Path,
    server: &RunningServer,
    owner: &'static str,
    role: Role,
    patrol: Option<PatrolKind>,
    scopes: &[&str],
) -> Res<Phone> {
    let accounts = server.server().accounts();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    accounts.add_user(owner, role, patrol, &scopes)?;
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    let code = accounts.issue_code(owner, &admin, Duration::from_secs(3600))?.code;
    let store = Arc::new(Store::open(dir.join(format!("{owner}.db")))?);
    let http = HttpTransport::new(&server.url())?;
    let enrolled = enroll(&store, &http, &code, "field phone").await?;
    let sync = SyncClient::new(store.clone(), http.with_token(enrolled.token));
    Ok(Phone { owner, store, sync })
}

impl Phone {
    /// Syncs with the server and says what travelled.
    async fn sync(&self) -> Res<()> {
        let s = self.sync.sync_now(None).await?;
        println!(
            "   {:<16} synced: pushed {} docs, pulled {} docs, {} requests, {} B up, {} B down",
            self.owner, s.docs_pushed, s.docs_pulled, s.requests, s.bytes_up, s.bytes_down
        );
        Ok(())
    }
}

fn entry(kind: EntryKind, text: &str, checkpoint: Option<&str>) -> Command {
    Command::AddPatrolEntry {
        entry: NewEntry {
            kind,
            text: text.into(),
            location: None,
            photos: vec![],
            checkpoint: checkpoint.map(Into::into),
        },
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("the phones did NOT converge");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("field day failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Res<bool> {
    let dir = tempfile::tempdir()?;
    let config = ServerConfig::new(dir.path().join("server")).with_listen("127.0.0.1:0".parse()?);
    let server = Server::start(&config).await?;
    let url = server.url();
    println!("== sync server on {url}");
    println!("== the command centre enrolls seven phones, and the lodge's operator an eighth");
    let d = dir.path();
    let patrol = Role::Patrol;
    let phones = [
        phone(d, &server, "police-li", patrol, Some(PatrolKind::Police), &[AREA_SCOPE]).await?,
        phone(d, &server, "cadre-wang", patrol, Some(PatrolKind::Cadre), &[AREA_SCOPE]).await?,
        phone(d, &server, "volunteer-zhao", patrol, Some(PatrolKind::Volunteer), &[AREA_SCOPE])
            .await?,
        phone(d, &server, "resident-sun", Role::Resident, None, &[GRID]).await?,
        phone(d, &server, "gridleader-zhou", Role::GridLeader, None, &[GRID]).await?,
        phone(d, &server, "mediator-chen", Role::Mediator, None, &[AREA_SCOPE]).await?,
        phone(d, &server, "mediator-liu", Role::Mediator, None, &[AREA_SCOPE]).await?,
    ];
    let [li, wang, zhao, sun, zhou, chen, liu] = &phones;

    println!("== morning, at the station (signal)");
    // The police keep the registry of the area's businesses; the lodge's operator gets a phone
    // whose one scope is the lodge's own.
    let lodge = li
        .sync
        .add_business(BusinessFields {
            scope: Some(AREA_SCOPE.into()),
            name: Some("湖畔渔家乐 lakeside fishing lodge".into()),
            kind: Some("guesthouse".into()),
            address: Some("north loop, km 4".into()),
            contact: Some("0431-8888".into()),
            ..BusinessFields::default()
        })
        .await?;
    let gao = phone(
        d,
        &server,
        "operator-gao",
        Role::BusinessOperator,
        None,
        &[business_scope(AREA_SCOPE, &lodge.id).as_str()],
    )
    .await?;
    li.sync.refresh_businesses().await?;
    let patrol = li.store.create(&NewRecord::PatrolLog {
        patrol_log: NewPatrol {
            scope: AREA_SCOPE.into(),
            area: "净月潭 scenic area, north loop".into(),
            members: vec![
                TeamMember { user: li.owner.into(), name: "Li".into(), kind: MemberKind::Police },
                TeamMember {
                    user: wang.owner.into(),
                    name: "Wang".into(),
                    kind: MemberKind::VillageCadre,
                },
                TeamMember {
                    user: zhao.owner.into(),
                    name: "Zhao".into(),
                    kind: MemberKind::VillagerVolunteer,
                },
            ],
            checkpoints: vec![
                Checkpoint { name: "north gate".into(), location: None },
                Checkpoint { name: "lake pier".into(), location: None },
                Checkpoint { name: "fire tower".into(), location: None },
            ],
        },
    })?;
    let bulletin = li.store.create(&NewRecord::Bulletin {
        bulletin: NewBulletin {
            scope: AREA_SCOPE.into(),
            severity: Severity::Orange,
            audience: vec![Addressee::Patrols, Addressee::Residents, Addressee::Businesses],
            title: "落石预警 rock fall warning".into(),
            text: "Rain last night loosened the slope above the north loop; keep tourists off it."
                .into(),
            valid_until: fieldsync_core::time::Timestamp::from_millis(
                fieldsync_core::time::now_ms() + 24 * 3600 * 1000,
            ),
            location: None,
            photos: vec![],
        },
    })?;
    li.sync().await?;
    wang.sync().await?;
    zhao.sync().await?;
    let deliberation = sun.store.create(&NewRecord::Deliberation {
        deliberation: NewDeliberation {
            scope: GRID.into(),
            topic: "7号楼加装电梯 a lift for block 7".into(),
            background: "Many elderly residents; how is the cost shared?".into(),
            options: vec!["by floor".into(), "evenly".into()],
        },
    })?;
    sun.sync().await?;
    zhou.sync().await?;
    let meeting = zhou
        .store
        .execute(
            deliberation,
            &Command::ScheduleMeeting {
                at: fieldsync_core::time::Timestamp::from_millis(fieldsync_core::time::now_ms()),
                place: "community hall".into(),
            },
        )?
        .item
        .ok_or("no meeting key")?;
    let attended =
        Command::RecordMeeting { meeting: meeting.clone(), attendees: vec![sun.owner.into()] };
    zhou.store.execute(deliberation, &attended)?;
    let quorum = "28 households present.";
    let minutes = |pos: usize, insert: &str| Command::EditMinutes {
        meeting: meeting.clone(),
        pos: pos as i64,
        delete: 0,
        insert: insert.into(),
    };
    zhou.store.execute(deliberation, &minutes(0, quorum))?;
    zhou.sync().await?;
    sun.sync().await?;
    let case = chen.store.create(&NewRecord::MediationCase {
        mediation_case: NewCase {
            scope: AREA_SCOPE.into(),
            category: CaseCategory::Tourist,
            place: "lake pier ticket booth".into(),
            parties: vec![
                Party {
                    name: "Tourist Ma".into(), role: "tourist".into(), contact: "139…".into()
                },
                Party {
                    name: "Boat operator Gao".into(),
                    role: "operator".into(),
                    contact: String::new(),
                },
            ],
            mediators: vec![chen.owner.into(), liu.owner.into()],
        },
    })?;
    let session = chen
        .store
        .execute(
            case,
            &Command::AddSession {
                attendees: vec!["Tourist Ma".into(), "Boat operator Gao".into()],
                notes: "Ticket refused after a cancelled trip.".into(),
            },
        )?
        .item
        .ok_or("no session key")?;
    chen.sync().await?;
    liu.sync().await?;
    println!("patrol {patrol} started by {}, case {case} opened by {}", li.owner, chen.owner);

    println!("== midday, no signal anywhere");
    wang.store.execute(bulletin, &Command::AcknowledgeBulletin)?;
    let visit = visit_lodge(li, &lodge.id)?;
    // The grid leader and the resident edit the deliberation's minutes, each offline.
    zhou.store.execute(deliberation, &minutes(0, "[Zhou] "))?;
    let by_floor = " Most favour sharing the cost by floor.";
    sun.store.execute(deliberation, &minutes(quorum.encode_utf16().count(), by_floor))?;
    li.store.execute(
        patrol,
        &entry(EntryKind::CheckpointReached, "north gate, all clear", Some("north gate")),
    )?;
    wang.store.execute(
        patrol,
        &entry(EntryKind::HazardFound, "loose rocks above the trail at km 3", None),
    )?;
    zhao.store.execute(
        patrol,
        &entry(EntryKind::TouristHelped, "lost child reunited with parents", None),
    )?;
    li.store.execute(
        patrol,
        &entry(EntryKind::WarningIssued, "warned a group off the closed path", None),
    )?;
    zhao.store
        .execute(patrol, &entry(EntryKind::CheckpointReached, "lake pier", Some("lake pier")))?;

    let report = sun.store.create(&NewRecord::Report {
        report: NewReport {
            scope: GRID.into(),
            category: ReportCategory::IllegalConstruction,
            title: "屋顶违建 roof-top building on block 7".into(),
            description: "A two-room structure is being built on the roof of block 7.".into(),
            location: Some(Location {
                lat: 43.8571,
                lon: 125.3245,
                accuracy: 6.0,
                address: "新华小区 7号楼".into(),
            }),
            photos: vec![],
        },
    })?;
    println!("== the resident finds one bar of signal; so does the grid leader");
    sun.sync().await?;
    zhou.sync().await?;
    zhou.store.execute(report, &Command::AcceptReport { note: "seen on site".into() })?;
    zhou.store.execute(
        report,
        &Command::DispatchReport {
            assignee: "officer-qian".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(
                fieldsync_core::time::now_ms() + 3 * 24 * 3600 * 1000,
            ),
            note: "urban management, 3 days".into(),
        },
    )?;
    // Two mediators edit the same notes, each offline.
    chen.store.execute(
        case,
        &Command::EditNotes {
            session: session.clone(),
            pos: 0,
            delete: 0,
            insert: "[Chen] ".into(),
        },
    )?;
    let end = "Ticket refused after a cancelled trip.".encode_utf16().count() as i64 + 7;
    chen.store.execute(
        case,
        &Command::EditNotes {
            session: session.clone(),
            pos: end,
            delete: 0,
            insert: " Gao agrees to refund half.".into(),
        },
    )?;
    liu.store.execute(
        case,
        &Command::EditNotes {
            session,
            pos: 0,
            delete: 0,
            insert: "Weather closed the lake at 11:00. ".into(),
        },
    )?;

    zhou.sync().await?;
    println!("== evening, back at the station: everyone syncs, twice");
    // The lodge's operator reads the warning and acknowledges it before everyone syncs.
    gao.sync().await?;
    gao.store.execute(bulletin, &Command::AcknowledgeBulletin)?;
    let phones: Vec<&Phone> = phones.iter().chain([&gao]).collect();
    for _ in 0..2 {
        for p in &phones {
            p.sync().await?;
        }
    }
    let sent = li.sync.upload_photos(None).await?;
    println!("   {:<16} uploaded {} photo(s)", li.owner, sent.uploaded);

    let mut converged = true;
    let mut heads_by_doc: BTreeMap<DocId, Vec<String>> = BTreeMap::new();
    for p in &phones {
        println!("-- {} holds:", p.owner);
        for id in p.store.doc_ids()? {
            let heads: Vec<String> = p.store.heads(id)?.iter().map(|h| h.to_string()).collect();
            if let Some(seen) = heads_by_doc.get(&id) {
                converged &= *seen == heads;
            } else {
                heads_by_doc.insert(id, heads);
            }
            match p.store.get(id)? {
                Record::PatrolLog { patrol_log: l } => println!(
                    "   patrol {}: {} entries, {}",
                    l.area,
                    l.entries.len(),
                    l.entries
                        .iter()
                        .map(|e| format!("{} ({})", e.text, e.by))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Record::Report { report: r } => println!(
                    "   report {:?}: {} → {}",
                    r.title,
                    r.status,
                    r.assignee.unwrap_or_default()
                ),
                Record::MediationCase { mediation_case: c } => println!(
                    "   case at {}: notes {:?}",
                    c.place,
                    c.sessions.first().map(|s| s.notes.as_str()).unwrap_or("")
                ),
                Record::Bulletin { bulletin: b } => println!(
                    "   bulletin {:?} ({}): acknowledged by {}",
                    b.title,
                    b.severity,
                    b.acknowledgements.iter().map(|a| a.by.as_str()).collect::<Vec<_>>().join(", ")
                ),
                Record::Visit { visit: v } => println!(
                    "   visit to {}: failed {:?}, findings {:?}, follow-up {:?}",
                    v.business,
                    v.failed(),
                    v.findings
                        .iter()
                        .map(|f| (f.text.as_str(), f.photos.len()))
                        .collect::<Vec<_>>(),
                    v.follow_up
                ),
                Record::Deliberation { deliberation: d } => println!(
                    "   deliberation {:?} ({}): minutes {:?}",
                    d.topic,
                    d.status,
                    d.meetings.first().map(|m| m.minutes.as_str()).unwrap_or("")
                ),
            }
        }
    }
    // The issuer sees the acknowledgement the cadre made offline.
    match li.store.get(bulletin)? {
        Record::Bulletin { bulletin: b } if b.acknowledged_by(wang.owner) => {}
        other => {
            println!("the bulletin's issuer does not see the acknowledgement: {other:?}");
            converged = false;
        }
    }
    // The operator reads the visit to their lodge, photo and all; it is not overdue any more.
    match gao.store.get(visit)? {
        Record::Visit { visit: v } if v.findings.iter().any(|f| f.photos.len() == 1) => {}
        other => {
            println!("the lodge's operator does not see the visit's photo: {other:?}");
            converged = false;
        }
    }
    let now = fieldsync_core::time::Timestamp::from_millis(fieldsync_core::time::now_ms());
    if li.store.overdue_businesses(now)?.iter().any(|o| o.business.id == lodge.id) {
        println!("the visited lodge is still listed overdue");
        converged = false;
    }
    // Both offline edits of the minutes are in both copies.
    let expected = format!("[Zhou] {quorum}{by_floor}");
    for p in [zhou, sun] {
        match p.store.get(deliberation)? {
            Record::Deliberation { deliberation: d }
                if d.meetings.first().is_some_and(|m| m.minutes == expected) => {}
            other => {
                println!("{} does not hold both edits of the minutes: {other:?}", p.owner);
                converged = false;
            }
        }
    }
    // Every phone holds exactly the records its user may read (the server sends nothing else),
    // and every copy of a record is the same.
    let mut audiences: BTreeMap<DocId, Audience> = BTreeMap::new();
    for p in &phones {
        for id in p.store.doc_ids()? {
            audiences.entry(id).or_insert(Audience::of(&p.store.get(id)?));
        }
    }
    for p in &phones {
        let profile = p.store.profile().ok_or("an enrolled phone has a profile")?;
        let expected: Vec<DocId> =
            audiences.iter().filter(|(_, a)| can_read(&profile, a)).map(|(id, _)| *id).collect();
        let mut held = p.store.doc_ids()?;
        held.sort();
        if held != expected {
            println!("{} holds {} records, may read {}", p.owner, held.len(), expected.len());
            converged = false;
        }
    }
    println!(
        "\n{}",
        if converged {
            "all phones converged: each holds the same copy of every record its user may read"
        } else {
            "phones DIFFER"
        }
    );
    let valley = valley::scene(li, wang, zhao).await?;
    let points = points_day(sun, zhou, deliberation).await?;
    server.shutdown().await?;
    Ok(converged && valley && points)
}

/// The police visit the lodge offline: the rules' checklist, a failed fire-safety check, a
/// finding with a photo, and a follow-up due in a week.
fn visit_lodge(li: &Phone, lodge: &str) -> Res<DocId> {
    let mut plan = li.store.plan_visit(lodge)?;
    plan.results = vec![
        NewCheck {
            item: "guest_registration".into(),
            result: CheckOutcome::Pass,
            note: String::new(),
        },
        NewCheck {
            item: "fire_safety".into(),
            result: CheckOutcome::Fail,
            note: "extinguisher expired in March".into(),
        },
    ];
    let visit = li.store.create(&NewRecord::Visit { visit: plan })?;
    let finding = Command::AddFinding {
        text: "fire exit blocked by stacked fishing gear".into(),
        photos: vec![],
    };
    let key = li.store.execute(visit, &finding)?.item.ok_or("no finding key")?;
    let photo = PhotoSource::Bytes { bytes: b"\xff\xd8\xff\xe0 blocked fire exit".to_vec() };
    li.store.add_photo(visit, &photo, "image/jpeg", Some(key))?;
    li.store.execute(
        visit,
        &Command::SetVisitFollowUp {
            action: "clear the fire exit, replace the extinguisher".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(
                fieldsync_core::time::now_ms() + 7 * 24 * 3600 * 1000,
            ),
        },
    )?;
    println!("   {:<16} visited the lodge: 1 failed check, 1 finding with a photo", li.owner);
    Ok(visit)
}

/// The resident's confirmed report earns points; the grid leader awards some for the
/// deliberation they attended (the award names it) and lists a good; the resident redeems it
/// and the leader hands it over.
async fn points_day(sun: &Phone, zhou: &Phone, deliberation: DocId) -> Res<bool> {
    println!("\n== next morning: a report handled, points earned and spent");
    let report = sun.store.create(&NewRecord::Report {
        report: NewReport {
            scope: GRID.into(),
            category: ReportCategory::Sanitation,
            title: "垃圾堆积 rubbish piling up behind block 7".into(),
            description: "Three days of rubbish by the bike shed.".into(),
            location: None,
            photos: vec![],
        },
    })?;
    sun.sync().await?;
    zhou.sync().await?;
    let deadline =
        fieldsync_core::time::Timestamp::from_millis(fieldsync_core::time::now_ms() + 86_400_000);
    for command in [
        Command::AcceptReport { note: String::new() },
        Command::DispatchReport { assignee: zhou.owner.into(), deadline, note: String::new() },
        Command::StartWork { note: String::new() },
        Command::ResolveReport { note: "cleared with the property company".into() },
    ] {
        zhou.store.execute(report, &command)?;
    }
    zhou.sync().await?;
    sun.sync().await?;
    sun.store.execute(report, &Command::ConfirmReport { note: "thank you".into() })?;
    sun.sync().await?;
    let earned = sun.sync.refresh_points().await?;
    println!("   {} earned: balance {}", sun.owner, earned.balance);
    let reason = "attended the block 7 deliberation";
    let after_award = zhou.sync.award_points_for(sun.owner, 5, reason, Some(deliberation)).await?;
    let good = zhou.sync.add_good(GRID, "洗衣液 laundry detergent", 15, 10).await?;
    println!(
        "   {} awards 5 (balance {after_award}) and lists {:?} for {} points",
        zhou.owner, good.name, good.points
    );
    let voucher = sun.sync.redeem(&good.id, "field-day-1").await?;
    let left = sun.store.points()?.map_or(-1, |p| p.balance);
    println!("   {} redeems it: voucher {}, balance {left}", sun.owner, voucher.code);
    let handed = zhou.sync.collect_voucher(&voucher.code).await?;
    let twice = zhou.sync.collect_voucher(&voucher.code).await.is_err();
    println!(
        "   {} hands it over ({}); a second time is refused: {twice}",
        zhou.owner,
        if handed.collected_at.is_some() { "collected" } else { "NOT collected" }
    );
    Ok(earned.balance == 10 && after_award == 15 && left == 0 && twice)
}
