//! Builders shared by the store tests.
#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};

use fieldsync_core::Store;
use fieldsync_core::model::*;

pub const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

pub fn store(dir: &tempfile::TempDir, name: &str, user: &str) -> Store {
    let s = Store::open(dir.path().join(format!("{name}.db"))).expect("open store");
    s.set_user(user).expect("set user");
    s
}

pub fn new_report(title: &str) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.to_string(),
            category: ReportCategory::IllegalConstruction,
            title: title.to_string(),
            description: "屋顶违章搭建，约20平方米".to_string(),
            location: Some(Location {
                lat: 43.88,
                lon: 125.32,
                accuracy: 8.0,
                address: "新华小区7号楼".to_string(),
            }),
            photos: vec![],
        },
    }
}

pub fn new_patrol() -> NewRecord {
    NewRecord::PatrolLog {
        patrol_log: NewPatrol {
            scope: GRID.to_string(),
            area: "净月潭景区".to_string(),
            members: vec![
                TeamMember {
                    user: "police-li".into(),
                    name: "Li".into(),
                    kind: MemberKind::Police,
                },
                TeamMember {
                    user: "cadre-wang".into(),
                    name: "Wang".into(),
                    kind: MemberKind::VillageCadre,
                },
                TeamMember {
                    user: "vol-zhao".into(),
                    name: "Zhao".into(),
                    kind: MemberKind::VillagerVolunteer,
                },
            ],
            checkpoints: vec![
                Checkpoint { name: "north gate".into(), location: None },
                Checkpoint { name: "lake pier".into(), location: None },
            ],
        },
    }
}

pub fn new_case() -> NewRecord {
    NewRecord::MediationCase {
        mediation_case: NewCase {
            scope: GRID.to_string(),
            category: CaseCategory::Tourist,
            place: "景区游客中心".to_string(),
            parties: vec![
                Party { name: "张三".into(), role: "tourist".into(), contact: "138".into() },
                Party {
                    name: "李四".into(), role: "boat operator".into(), contact: String::new()
                },
            ],
            mediators: vec!["med-chen".into(), "med-liu".into()],
        },
    }
}

pub fn entry(text: &str) -> Command {
    Command::AddPatrolEntry {
        entry: NewEntry {
            kind: EntryKind::Observation,
            text: text.to_string(),
            location: None,
            photos: vec![],
            checkpoint: None,
        },
    }
}

/// Bytes that look like a JPEG and differ with `seed`.
pub fn jpeg(seed: u8, len: usize) -> Vec<u8> {
    let mut b: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    b[..3].copy_from_slice(&[0xff, 0xd8, 0xff]);
    b
}

/// Every file under the store's blob folder (`<store>.blobs`).
pub fn blob_files(s: &Store) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(&format!("{}.blobs", s.path().display())), &mut out);
    out
}
