//! A field day on several phones, all offline, then reconciled.
//!
//! A patrol team of three phones walks a scenic area without signal, each adding entries to the same
//! patrol log; a resident reports an illegal roof-top building; a grid leader accepts and dispatches
//! it; two mediators edit the same case notes offline. At the end of the day the phones exchange
//! their documents (until the sync server lands, phone to phone) and the example shows what each
//! phone holds and that all of them converged. It exits non-zero if they did not.

use std::collections::BTreeMap;
use std::process::ExitCode;

use fieldsync_core::model::*;
use fieldsync_core::{DocId, Store};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const AREA_SCOPE: &str = "jl/changchun/jingyue/scenic-area";
const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

struct Phone {
    owner: &'static str,
    store: Store,
}

fn phone(dir: &std::path::Path, owner: &'static str) -> Res<Phone> {
    let store = Store::open(dir.join(format!("{owner}.db")))?;
    store.set_user(owner)?;
    Ok(Phone { owner, store })
}

/// Gives `to` a copy of document `id` as `from` holds it.
fn copy(from: &Phone, to: &Phone, id: DocId) -> Res<()> {
    to.store.merge_remote(id, &from.store.saved_bytes(id)?)?;
    Ok(())
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

fn main() -> ExitCode {
    match run() {
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

fn run() -> Res<bool> {
    let dir = tempfile::tempdir()?;
    let phones = [
        phone(dir.path(), "police-li")?,
        phone(dir.path(), "cadre-wang")?,
        phone(dir.path(), "volunteer-zhao")?,
        phone(dir.path(), "resident-sun")?,
        phone(dir.path(), "gridleader-zhou")?,
        phone(dir.path(), "mediator-chen")?,
        phone(dir.path(), "mediator-liu")?,
    ];
    let [li, wang, zhao, sun, zhou, chen, liu] = &phones;

    println!("== morning, at the station (signal)");
    let patrol = li.store.create(&NewRecord::PatrolLog(NewPatrol {
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
    }))?;
    copy(li, wang, patrol)?;
    copy(li, zhao, patrol)?;
    let case = chen.store.create(&NewRecord::MediationCase(NewCase {
        scope: AREA_SCOPE.into(),
        category: CaseCategory::Tourist,
        place: "lake pier ticket booth".into(),
        parties: vec![
            Party { name: "Tourist Ma".into(), role: "tourist".into(), contact: "139…".into() },
            Party {
                name: "Boat operator Gao".into(),
                role: "operator".into(),
                contact: String::new(),
            },
        ],
        mediators: vec![chen.owner.into(), liu.owner.into()],
    }))?;
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
    copy(chen, liu, case)?;
    println!("patrol {patrol} started by {}, case {case} opened by {}", li.owner, chen.owner);

    println!("== midday, no signal anywhere");
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

    let report = sun.store.create(&NewRecord::Report(NewReport {
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
    }))?;
    copy(sun, zhou, report)?; // the grid leader walks past and picks it up by hand
    zhou.store.execute(report, &Command::AcceptReport { note: "seen on site".into() })?;
    zhou.store.execute(
        report,
        &Command::DispatchReport {
            assignee: "officer-qian".into(),
            deadline: fieldsync_core::time::now_ms() + 3 * 24 * 3600 * 1000,
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
    let end = "Ticket refused after a cancelled trip.".chars().count() as u64 + 7;
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

    println!("== evening, back at the station: everyone exchanges everything");
    exchange(&phones)?;

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
                Record::PatrolLog(l) => println!(
                    "   patrol {}: {} entries, {}",
                    l.area,
                    l.entries.len(),
                    l.entries
                        .iter()
                        .map(|e| format!("{} ({})", e.text, e.by))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Record::Report(r) => println!(
                    "   report {:?}: {} → {}",
                    r.title,
                    r.status,
                    r.assignee.unwrap_or_default()
                ),
                Record::MediationCase(c) => println!(
                    "   case at {}: notes {:?}",
                    c.place,
                    c.sessions.first().map(|s| s.notes.as_str()).unwrap_or("")
                ),
            }
        }
    }
    let expected_docs = 3;
    converged &=
        phones.iter().all(|p| p.store.doc_ids().map(|d| d.len() == expected_docs).unwrap_or(false));
    println!("\n{}", if converged { "all phones converged" } else { "phones DIFFER" });
    Ok(converged)
}

/// Every phone gives every other phone every document it holds.
fn exchange(phones: &[Phone]) -> Res<()> {
    for from in phones {
        for id in from.store.doc_ids()? {
            for to in phones {
                if to.owner != from.owner {
                    copy(from, to, id)?;
                }
            }
        }
    }
    Ok(())
}
