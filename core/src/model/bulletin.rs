//! Warning bulletins (预警通报): the police, a grid leader or the command centre warns a scope
//! (a scenic area, a grid) and an audience (patrols, businesses, residents) of something, until a
//! validity end. Recipients do not change a bulletin; each records that they read it, an
//! acknowledgement appended to a list that merges when phones made them offline.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use autosurgeon::Hydrate;

use super::command::Command;
use super::common::{FieldConflict, Header, Location, PhotoRef, Stamp, TimelineEvent, hydrate_ts};
use super::doc::{self, HEADER, STATUS, TIMELINE};
use super::macros::string_enum;
use super::registry::{Kind, KindSpec, Record, common_spec};
use super::report::{validate_location, validate_photos};
use super::shape::{EVENTS, HEADER_MAP, LOCATION, Node, PHOTOS};
use super::validate::Violations;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::time::Timestamp;

string_enum! {
    /// How grave the danger is: the four colours of Chinese warning levels.
    Severity as "severity" {
        /// Blue (一般): take note.
        Blue => "blue",
        /// Yellow (较重): be careful.
        Yellow => "yellow",
        /// Orange (严重): act.
        Orange => "orange",
        /// Red (特别严重): act now.
        Red => "red",
    }
}

string_enum! {
    /// Who a bulletin is addressed to within its scope.
    Addressee as "audience" {
        /// The patrol teams (police, cadres, volunteers).
        Patrols => "patrols",
        /// The businesses (their operators).
        Businesses => "businesses",
        /// The residents.
        Residents => "residents",
    }
}

string_enum! {
    /// Whether a bulletin stands.
    BulletinStatus as "status" {
        /// Issued; in force until its validity ends.
        Issued => "issued",
        /// Withdrawn before its validity ended.
        Withdrawn => "withdrawn",
    }
}

/// One recipient's acknowledgement: they read the bulletin.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Acknowledgement {
    /// Stable key.
    pub id: String,
    /// When they acknowledged it (on their phone, perhaps offline).
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Who (user id).
    pub by: String,
}

/// A warning bulletin as read from its document.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Bulletin {
    /// Id, scope (where it warns), issuer, issue time.
    pub header: Header,
    /// How grave.
    pub severity: Severity,
    /// Who it is addressed to.
    pub audience: Vec<Addressee>,
    /// Short title.
    pub title: String,
    /// The warning.
    pub text: String,
    /// When it stops being in force.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub valid_until: Timestamp,
    /// Where the danger is.
    pub location: Option<Location>,
    /// Photos given with it.
    pub photos: Vec<PhotoRef>,
    /// Issued or withdrawn.
    pub status: BulletinStatus,
    /// Who acknowledged it, in merged order.
    pub acknowledgements: Vec<Acknowledgement>,
    /// History of state changes.
    pub timeline: Vec<TimelineEvent>,
    /// Single-valued fields that devices set concurrently to different values.
    #[autosurgeon(hydrate = "super::common::computed_conflicts")]
    pub conflicts: Vec<FieldConflict>,
}

impl Bulletin {
    /// Whether `user` acknowledged it.
    pub fn acknowledged_by(&self, user: &str) -> bool {
        self.acknowledgements.iter().any(|a| a.by == user)
    }

    /// Whether it is in force at `now` (ms): issued and not past its validity end.
    pub fn in_force(&self, now: i64) -> bool {
        self.status == BulletinStatus::Issued && now <= self.valid_until.as_millis()
    }
}

/// What an issuer gives to issue a bulletin.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewBulletin {
    /// Where it warns: a scenic area's or a grid's scope.
    pub scope: String,
    /// How grave.
    pub severity: Severity,
    /// Who it is addressed to (at least one, each once).
    pub audience: Vec<Addressee>,
    /// Short title.
    pub title: String,
    /// The warning.
    pub text: String,
    /// When it stops being in force (after its issue).
    pub valid_until: Timestamp,
    /// Where the danger is.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub location: Option<Location>,
    /// Photos taken with it.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub photos: Vec<PhotoRef>,
}

/// Registers of a bulletin whose concurrent values are shown and can be settled.
pub(crate) const REGISTERS: &[&str] = &[STATUS];

/// The audience's own faults: empty, or someone named twice.
fn audience_fault(audience: &[Addressee]) -> Option<CoreError> {
    if audience.is_empty() {
        return Some(CoreError::invalid("audience", "a bulletin is addressed to someone"));
    }
    let dup = audience.iter().enumerate().find(|(i, a)| audience[..*i].contains(*a));
    dup.map(|(_, a)| CoreError::invalid("audience", format!("{a} appears twice")))
}

/// Writes the fields of a new bulletin below its header.
pub(crate) fn create(doc: &mut AutoCommit, new: &NewBulletin, stamp: &Stamp) -> Result<()> {
    limits::text("title", &new.title, limits::TITLE_CHARS)?;
    limits::text("text", &new.text, limits::NOTE_CHARS)?;
    if let Some(e) = audience_fault(&new.audience) {
        return Err(e);
    }
    limits::time("valid_until", new.valid_until.as_millis())?;
    if new.valid_until.as_millis() <= stamp.at {
        return Err(CoreError::invalid(
            "valid_until",
            format!("{} is not after the bulletin's issue", new.valid_until),
        ));
    }
    validate_location(new.location.as_ref())?;
    validate_photos(&new.photos)?;
    doc.put(ROOT, "severity", new.severity)?;
    let audience = doc.put_object(ROOT, "audience", ObjType::List)?;
    for (i, a) in new.audience.iter().enumerate() {
        doc.insert(&audience, i, *a)?;
    }
    doc.put(ROOT, "title", new.title.as_str())?;
    doc.put(ROOT, "text", new.text.as_str())?;
    doc.put(ROOT, "valid_until", ScalarValue::Timestamp(new.valid_until.as_millis()))?;
    doc::put_location(doc, &ROOT, "location", new.location.as_ref())?;
    let photos = doc.put_object(ROOT, "photos", ObjType::List)?;
    doc::append_photos(doc, &photos, &new.photos)?;
    doc.put(ROOT, STATUS, BulletinStatus::Issued)?;
    doc.put_object(ROOT, "acknowledgements", ObjType::List)?;
    doc.put_object(ROOT, TIMELINE, ObjType::List)?;
    Ok(())
}

/// Applies a bulletin command to the document; the caller commits.
pub(crate) fn apply(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    cmd: &Command,
) -> Result<Option<String>> {
    let status: BulletinStatus = doc::status(doc, id)?;
    let refuse = |reason: String| CoreError::InvalidTransition { id, command: cmd.name(), reason };
    match cmd {
        Command::AcknowledgeBulletin => {
            if status == BulletinStatus::Withdrawn {
                return Err(refuse("the bulletin was withdrawn".into()));
            }
            let list = doc::root_list(doc, "acknowledgements", id)?;
            for i in 0..doc.length(&list) {
                if let Some((automerge::Value::Object(ObjType::Map), item)) = doc.get(&list, i)?
                    && doc::get_str(doc, &item, "by")?.as_deref() == Some(stamp.by.as_str())
                {
                    return Err(refuse(format!("{} acknowledged it already", stamp.by)));
                }
            }
            let (key, _) = doc::append_item(
                doc,
                &list,
                "acknowledgements",
                limits::LIST_ITEMS,
                vec![("at", ScalarValue::Timestamp(stamp.at)), ("by", stamp.by.as_str().into())],
            )?;
            Ok(Some(key))
        }
        Command::WithdrawBulletin { reason } => {
            if status == BulletinStatus::Withdrawn {
                return Err(refuse("the bulletin was withdrawn already".into()));
            }
            limits::text("reason", reason, limits::NOTE_CHARS)?;
            doc.put(ROOT, STATUS, BulletinStatus::Withdrawn)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), reason)?;
            Ok(None)
        }
        Command::AddPhoto { photo, entry } => {
            super::command::add_root_photo(doc, id, photo, entry.as_ref(), "a bulletin")?;
            Ok(None)
        }
        Command::SettleConflict { field, value } => {
            super::command::settle(doc, id, stamp, REGISTERS, field, value)?;
            Ok(None)
        }
        other => Err(super::command::not_for(id, other, Kind::Bulletin)),
    }
}

impl KindSpec for Bulletin {
    const KIND: Kind = Kind::Bulletin;
    const CODE: i64 = 4;
    const CREATE: &'static str = "issue_bulletin";
    const REGISTERS: &'static [&'static str] = REGISTERS;
    const LAYOUT: Node = {
        use Node::{List, Map, Value as V};
        Map(&[
            (HEADER, HEADER_MAP),
            ("severity", V),
            ("audience", List(&V)),
            ("title", V),
            ("text", V),
            ("valid_until", V),
            ("location", LOCATION),
            ("photos", PHOTOS),
            (STATUS, V),
            ("acknowledgements", List(&Map(&[("id", V), ("at", V), ("by", V)]))),
            (TIMELINE, EVENTS),
        ])
    };
    type New = NewBulletin;

    fn of(record: &Record) -> Option<&Self> {
        match record {
            Record::Bulletin { bulletin } => Some(bulletin),
            _ => None,
        }
    }

    fn new_scope(new: &NewBulletin) -> &str {
        &new.scope
    }

    fn new_photos(new: &NewBulletin) -> &[PhotoRef] {
        &new.photos
    }

    common_spec!();

    fn limits(&self, v: &mut Violations) {
        v.check(limits::text("title", &self.title, limits::TITLE_CHARS));
        v.check(limits::text("text", &self.text, limits::NOTE_CHARS));
        if let Some(e) = audience_fault(&self.audience) {
            v.check(Err(e));
        }
        v.check(limits::time("valid_until", self.valid_until));
        v.location(self.location.as_ref());
        v.photos(&self.photos);
        // Two phones of one user may both acknowledge offline: both items merge, and neither
        // is a fault (the issuer's view counts people, not items).
        v.list("acknowledgements", self.acknowledgements.len(), limits::LIST_ITEMS);
        for a in &self.acknowledgements {
            v.check(limits::text("acknowledgement.id", &a.id, limits::USER_ID_CHARS));
            v.check(limits::time("acknowledgement.at", a.at));
            v.check(limits::user_id("acknowledgement.by", &a.by));
        }
    }

    fn participants(&self) -> Vec<String> {
        Vec::new()
    }

    fn photos(&self) -> Vec<&PhotoRef> {
        self.photos.iter().collect()
    }

    fn photo_lists<D: autosurgeon::ReadDoc>(doc: &D, _id: DocId) -> Result<Vec<automerge::ObjId>> {
        doc::root_photo_list(doc)
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::model::command::{apply, create};
    use crate::model::{NewRecord, read_record, validate};

    const AT: i64 = 1_700_000_000_000;
    const DAY: i64 = 86_400_000;

    fn new_bulletin() -> NewBulletin {
        NewBulletin {
            scope: "jl/cc/scenic-1".into(),
            severity: Severity::Orange,
            audience: vec![Addressee::Patrols, Addressee::Residents],
            title: "山洪预警".into(),
            text: "今晚有暴雨，沟谷步道关闭".into(),
            valid_until: Timestamp::from_millis(AT + DAY),
            location: None,
            photos: vec![],
        }
    }

    fn stamp(by: &str) -> Stamp {
        Stamp { by: by.into(), at: AT }
    }

    fn issued() -> (DocId, AutoCommit) {
        let new = NewRecord::Bulletin { bulletin: new_bulletin() };
        create(&new, &stamp("police-1"), ActorId::random()).expect("issue")
    }

    fn read(doc: &AutoCommit, id: DocId) -> Bulletin {
        match read_record(doc, id).expect("read") {
            Record::Bulletin { bulletin } => bulletin,
            other => panic!("not a bulletin: {other:?}"),
        }
    }

    #[test]
    fn an_issued_bulletin_keeps_its_layout_and_limits() {
        let (id, doc) = issued();
        let b = read(&doc, id);
        assert_eq!(b.header.kind, Kind::Bulletin);
        assert_eq!(b.status, BulletinStatus::Issued);
        assert_eq!(b.audience, vec![Addressee::Patrols, Addressee::Residents]);
        assert_eq!(b.timeline[0].action, "issue_bulletin");
        assert!(b.in_force(AT + DAY) && !b.in_force(AT + DAY + 1));
        assert_eq!(crate::model::layout_faults(&doc, Kind::Bulletin), Vec::<String>::new());
        assert!(validate::validate(&Record::Bulletin { bulletin: b }).is_ok());
    }

    #[test]
    fn bad_bulletins_are_refused_with_the_field_named() {
        let cases: Vec<(NewBulletin, &str)> = vec![
            (NewBulletin { audience: vec![], ..new_bulletin() }, "audience"),
            (
                NewBulletin {
                    audience: vec![Addressee::Residents, Addressee::Residents],
                    ..new_bulletin()
                },
                "audience",
            ),
            (
                NewBulletin { valid_until: Timestamp::from_millis(AT), ..new_bulletin() },
                "valid_until",
            ),
            (NewBulletin { title: String::new(), ..new_bulletin() }, "title"),
            (NewBulletin { text: "x".repeat(limits::NOTE_CHARS + 1), ..new_bulletin() }, "text"),
        ];
        for (new, field) in cases {
            let got =
                create(&NewRecord::Bulletin { bulletin: new }, &stamp("p"), ActorId::random());
            assert!(
                matches!(&got, Err(CoreError::InvalidInput { field: f, .. }) if *f == field),
                "{field}: {:?}",
                got.map(|(id, _)| id)
            );
        }
    }

    #[test]
    fn each_recipient_acknowledges_once_and_offline_acknowledgements_merge() {
        let (id, mut doc) = issued();
        let mut a = doc.fork().with_actor(ActorId::from([1u8; 16]));
        let mut b = doc.fork().with_actor(ActorId::from([2u8; 16]));
        let ack = Command::AcknowledgeBulletin;
        let key_a = apply(&mut a, id, &stamp("patrol-1"), &ack).expect("ack").item;
        let key_b = apply(&mut b, id, &stamp("resident-1"), &ack).expect("ack").item;
        assert!(key_a.is_some() && key_b.is_some() && key_a != key_b);
        let again = apply(&mut a.fork(), id, &stamp("patrol-1"), &ack);
        assert!(matches!(again, Err(CoreError::InvalidTransition { .. })), "{again:?}");
        a.merge(&mut b).expect("merge");
        let merged = read(&a, id);
        let mut by: Vec<&str> = merged.acknowledgements.iter().map(|x| x.by.as_str()).collect();
        by.sort_unstable();
        assert_eq!(by, ["patrol-1", "resident-1"]);
        assert!(merged.acknowledged_by("patrol-1") && !merged.acknowledged_by("patrol-2"));
    }

    #[test]
    fn a_withdrawn_bulletin_takes_no_acknowledgement_and_commands_of_other_kinds_are_refused() {
        let (id, mut doc) = issued();
        let withdraw = Command::WithdrawBulletin { reason: "雨停了".into() };
        apply(&mut doc, id, &stamp("police-1"), &withdraw).expect("withdraw");
        assert_eq!(read(&doc, id).status, BulletinStatus::Withdrawn);
        let ack = apply(&mut doc.fork(), id, &stamp("patrol-1"), &Command::AcknowledgeBulletin);
        assert!(matches!(ack, Err(CoreError::InvalidTransition { .. })), "{ack:?}");
        let wrong =
            apply(&mut doc.fork(), id, &stamp("x"), &Command::CommentReport { text: "hi".into() });
        assert!(matches!(wrong, Err(CoreError::WrongKind { .. })), "{wrong:?}");
    }
}
