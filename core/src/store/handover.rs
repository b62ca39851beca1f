//! A phone handed to someone else: enrolling it as another user keeps nothing the new user may
//! not read, and never drops the first user's unsynced work unless the app asks for it.
//!
//! Enrollment checks [`Store::unsynced_work`] first: while the phone holds work the server has
//! not taken, it asks the server to refuse a code of another user (the code stays unused); the
//! app may instead ask to discard that work. Once the server has enrolled the phone as another
//! user, [`Store::hand_over`] keeps the new enrollment and, in the same transaction, removes
//! every record the new user may not read and every record holding the first user's unsynced
//! changes, and starts the feed over (the next sync catches up with what the new user reads).

use std::collections::HashMap;

use automerge::ActorId;
use rusqlite::Connection;

use super::account::put_enrollment;
use super::projection::Projects;
use super::{Enrollment, Origin, RecordChanged, Store};
use crate::error::Result;
use crate::id::DocId;
use crate::model::{Kind, on_kind};
use crate::policy::{Audience, Profile, can_read};

/// A stored record and who may read it, from the projection tables.
struct Held {
    rowid: i64,
    id: DocId,
    kind: Kind,
    audience: Audience,
    unsynced: bool,
}

/// Every stored record with who may read it: each kind's audience from its own rows
/// (`Projects::AUDIENCE`); a record of a kind this build does not know, or with no rows, is
/// one the new user may not read.
fn held(conn: &Connection) -> Result<Vec<Held>> {
    let mut audiences: HashMap<i64, Audience> = HashMap::new();
    for &kind in Kind::ALL {
        let mut stmt = conn.prepare(on_kind!(kind, K => <K as Projects>::AUDIENCE))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let lines = |i: usize| -> rusqlite::Result<Vec<String>> {
                let list = r.get::<_, Option<String>>(i)?.unwrap_or_default();
                Ok(list.lines().map(str::to_string).collect())
            };
            let audience = Audience {
                kind,
                scope: r.get(1)?,
                created_by: r.get(2)?,
                participants: lines(3)?,
                // An addressee this build does not know addresses nobody it knows.
                addressed: lines(4)?.iter().filter_map(|a| a.parse().ok()).collect(),
                until: r.get(5)?,
            };
            audiences.insert(r.get(0)?, audience);
        }
    }
    let mut stmt = conn.prepare(
        "SELECT d.id, d.doc_id, d.kind, coalesce((SELECT pending FROM sync_docs WHERE doc = d.id), 0) \
         FROM docs d",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let rowid: i64 = r.get(0)?;
        let bytes: Vec<u8> = r.get(1)?;
        let id = DocId::from_slice(&bytes)?;
        let code: i64 = r.get(2)?;
        // A kind this build does not know is not one the new user may read.
        let Some(kind) = Kind::from_code(code) else { continue };
        let audience = audiences.remove(&rowid).unwrap_or_else(|| Audience::plain(kind, "", ""));
        out.push(Held { rowid, id, kind, audience, unsynced: r.get::<_, i64>(3)? == 1 });
    }
    Ok(out)
}

impl Store {
    /// Whether the phone holds work the server has not taken: local changes not acknowledged
    /// yet, or refused. Enrolling as another user keeps it only if the app says to discard it.
    pub fn unsynced_work(&self) -> Result<bool> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT 1 FROM sync_docs WHERE pending = 1 LIMIT 1")?.exists([])?)
        })
    }

    /// Keeps the enrollment of this phone as another user (`enrollment`, whose changes carry
    /// `actor`), and in the same transaction removes every record that user may not read and
    /// every record holding unsynced changes of the user before (the app chose to discard
    /// them; enrollment refuses otherwise), and starts the feed over. Returns the records
    /// removed; observers hear of them as [`Origin::Removed`].
    pub(crate) fn hand_over(&self, enrollment: &Enrollment, actor: ActorId) -> Result<Vec<DocId>> {
        crate::limits::user_id("user", &enrollment.profile.user)?;
        let profile: &Profile = &enrollment.profile;
        let removed = {
            let mut w = self.writer();
            let doomed: Vec<Held> = held(&w.conn)?
                .into_iter()
                .filter(|h| h.unsynced || !can_read(profile, &h.audience))
                .collect();
            w.in_tx(|tx| {
                for h in &doomed {
                    super::docs::remove(tx, h.rowid)?;
                }
                // The feed starts over: the new user's catch-up brings what they may read.
                tx.execute("DELETE FROM sync_server", [])?;
                tx.execute("DELETE FROM sync_wanted", [])?;
                super::rescope::clear(tx)?;
                // The first user's points are theirs; the registry is fetched again for the new
                // user's scopes.
                super::points::forget(tx)?;
                tx.execute("DELETE FROM businesses", [])?;
                tx.execute("DELETE FROM visit_rules", [])?;
                put_enrollment(tx, enrollment, &actor)
            })?;
            w.clear_cache();
            w.identity.actor = actor;
            w.identity.user = enrollment.profile.user.clone();
            w.profile = Some(enrollment.profile.clone());
            doomed
        };
        // The first user's photos go with their records, those waiting for upload included.
        self.forget_photos_of_no_record()?;
        let notes: Vec<RecordChanged> = removed
            .iter()
            .map(|h| RecordChanged {
                id: h.id,
                kind: h.kind,
                origin: Origin::Removed,
                inbox: Vec::new(),
            })
            .collect();
        if !notes.is_empty() {
            self.notify(&notes);
        }
        Ok(removed.into_iter().map(|h| h.id).collect())
    }
}
