//! Warning bulletins on phones: one arrives (the observer hears it), is listed as still to
//! acknowledge, acknowledged offline, merged back to its issuer; a second acknowledgement and
//! one by a reader it is not addressed to are typed errors that change nothing; its text is
//! searched.

use std::sync::{Arc, Mutex};

use fieldsync_core::CoreError;
use fieldsync_core::model::*;
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::store::{BulletinFilter, Origin, PageRequest, RecordChanged, StoreObserver};
use fieldsync_core::time::{Timestamp, now_ms};

use crate::common::{GRID, store};

const AREA: &str = "jl/changchun/chaoyang/yongchang/xinhua";

#[derive(Default)]
struct Recorder(Mutex<Vec<RecordChanged>>);

impl StoreObserver for Recorder {
    fn records_changed(&self, changes: &[RecordChanged]) {
        self.0.lock().unwrap().extend_from_slice(changes);
    }
}

fn enrolled(
    dir: &tempfile::TempDir,
    user: &str,
    role: Role,
    patrol: Option<PatrolKind>,
) -> fieldsync_core::Store {
    let s = store(dir, user, user);
    s.set_profile(&Profile { user: user.into(), role, patrol, scopes: vec![AREA.into()] }).unwrap();
    s
}

fn warning() -> NewRecord {
    NewRecord::Bulletin {
        bulletin: NewBulletin {
            scope: GRID.into(),
            severity: Severity::Red,
            audience: vec![Addressee::Patrols, Addressee::Residents],
            title: "燃气泄漏预警".into(),
            text: "7号楼附近燃气管道泄漏，请勿靠近".into(),
            valid_until: Timestamp::from_millis(now_ms() + 3_600_000),
            location: None,
            photos: vec![],
        },
    }
}

#[test]
fn a_bulletin_arrives_and_is_acknowledged_offline_once_by_those_it_is_addressed_to() {
    let dir = tempfile::tempdir().unwrap();
    let police = enrolled(&dir, "police-li", Role::Patrol, Some(PatrolKind::Police));
    let cadre = enrolled(&dir, "cadre-wang", Role::Patrol, Some(PatrolKind::Cadre));
    let leader = enrolled(&dir, "leader-zhou", Role::GridLeader, None);
    let heard = Arc::new(Recorder::default());
    cadre.add_observer(heard.clone());

    let id = police.create(&warning()).unwrap();
    cadre.merge_remote(id, &police.saved_bytes(id).unwrap()).unwrap();
    assert_eq!(
        heard.0.lock().unwrap().clone(),
        vec![RecordChanged { id, kind: Kind::Bulletin, origin: Origin::Remote, inbox: vec![] }]
    );
    let todo = BulletinFilter {
        unacknowledged_by: Some("cadre-wang".into()),
        in_force_at: Some(Timestamp::from_millis(now_ms())),
        ..BulletinFilter::default()
    };
    let first = PageRequest::first(50);
    let listed: Vec<_> = cadre.query_bulletins(&todo, &first).unwrap().items;
    assert_eq!(listed.iter().map(|b| b.id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(listed[0].audience, vec![Addressee::Patrols, Addressee::Residents]);

    // Offline: acknowledged once; a second time is refused and changes nothing.
    cadre.execute(id, &Command::AcknowledgeBulletin).unwrap();
    assert!(cadre.query_bulletins(&todo, &first).unwrap().items.is_empty());
    let heads = cadre.heads(id).unwrap();
    let again = cadre.execute(id, &Command::AcknowledgeBulletin);
    assert!(matches!(again, Err(CoreError::InvalidTransition { .. })), "{again:?}");
    assert_eq!(cadre.heads(id).unwrap(), heads);

    // A reader it is not addressed to: refused by the phone's own policy, nothing changed.
    leader.merge_remote(id, &police.saved_bytes(id).unwrap()).unwrap();
    let before = (leader.heads(id).unwrap(), leader.get(id).unwrap());
    let refused = leader.execute(id, &Command::AcknowledgeBulletin);
    assert!(
        matches!(&refused, Err(CoreError::Forbidden { rule, .. }) if *rule == "bulletin.acknowledge"),
        "{refused:?}"
    );
    assert_eq!((leader.heads(id).unwrap(), leader.get(id).unwrap()), before);

    // Back at the station: the issuer sees the acknowledgement, counted in its list.
    police.merge_remote(id, &cadre.saved_bytes(id).unwrap()).unwrap();
    let Record::Bulletin { bulletin } = police.get(id).unwrap() else { panic!("a bulletin") };
    assert!(bulletin.acknowledged_by("cadre-wang"));
    let mine = BulletinFilter { created_by: Some("police-li".into()), ..BulletinFilter::default() };
    let row = &police.query_bulletins(&mine, &first).unwrap().items[0];
    assert_eq!((row.acknowledgements, row.severity), (1, Severity::Red));

    // Searched by its text, as people type it.
    let hits = police.search("燃气 泄漏", Some(Kind::Bulletin), 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);
}
