//! Which documents reference which blobs: a projection of the documents' photo lists into
//! `blob_refs`, written in the transaction that writes the document. A reference to a blob the
//! store does not know registers it as `remote` (its bytes are on the server), so the app can
//! list what to download.
//!
//! Photo lists only grow (no command removes a photo), so a write adds references and never
//! takes one away; a document that leaves the store takes its references with it (cascade).

use autosurgeon::ReadDoc;
use rusqlite::{Connection, params};

use super::docs;
use crate::error::Result;
use crate::id::DocId;
use crate::model::{Command, Kind, KindSpec, NewRecord, PhotoRef, on_kind};
use crate::time::now_ms;

/// The photo references a local command adds (none for most).
pub(crate) fn of_command(cmd: &Command) -> &[PhotoRef] {
    match cmd {
        Command::AddPhoto { photo, .. } => std::slice::from_ref(photo),
        Command::AddPatrolEntry { entry } => &entry.photos,
        _ => &[],
    }
}

/// The photo references a new record starts with.
pub(crate) fn of_new(new: &NewRecord) -> &[PhotoRef] {
    new.photos()
}

/// Every photo reference in a document: those of every photo list its kind has (the root
/// `photos` of a report or a case, the `photos` of each patrol entry). Items that are not
/// valid references are left out (the record reader reports them).
pub(crate) fn scan<D: ReadDoc>(d: &D, kind: Kind, id: DocId) -> Result<Vec<PhotoRef>> {
    let mut out = Vec::new();
    for list in on_kind!(kind, K => K::photo_lists(d, id))? {
        photos_in(d, &list, &mut out)?;
    }
    Ok(out)
}

fn photos_in<D: ReadDoc>(d: &D, list: &automerge::ObjId, out: &mut Vec<PhotoRef>) -> Result<()> {
    for i in 0..d.length(list) {
        if let Ok(p) = autosurgeon::hydrate_prop::<_, PhotoRef, _, _>(d, list, i)
            && crate::protocol::is_blob_hash(&p.hash)
            && p.size > 0
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Records that document `rowid` references `photos`; a blob not known yet becomes `remote`.
pub(crate) fn register(tx: &Connection, rowid: i64, photos: &[PhotoRef]) -> Result<()> {
    if photos.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut blob = tx.prepare_cached(
        "INSERT OR IGNORE INTO blobs (hash, size, media_type, state, added_at) \
         VALUES (?1, ?2, ?3, 'remote', ?4)",
    )?;
    let mut reference =
        tx.prepare_cached("INSERT OR IGNORE INTO blob_refs (hash, doc) VALUES (?1, ?2)")?;
    for p in photos {
        blob.execute(params![p.hash, p.size, p.media_type, now])?;
        reference.execute(params![p.hash, rowid])?;
    }
    Ok(())
}

/// Photos that this device's own command or new record references and whose bytes it
/// downloaded join the upload queue (`local` again). The server lets the readers of this
/// device's record read a photo only once this device proved it holds the bytes; the queue
/// proves it with a possession challenge, sending no byte of the photo again. Photos whose
/// bytes are not here (`remote`) are left: nothing here could prove them.
pub(crate) fn claim(tx: &Connection, photos: &[PhotoRef]) -> Result<()> {
    let mut claim = tx.prepare_cached(
        "UPDATE blobs SET state = 'local', received = 0, refused_code = NULL, \
         refused_message = NULL WHERE hash = ?1 AND state = 'downloaded'",
    )?;
    for p in photos {
        claim.execute([&p.hash])?;
    }
    Ok(())
}

/// Projects the references of every stored document (after an upgrade from a version without
/// blobs, or a rebuild). Returns how many documents were read.
pub(crate) fn rebuild(tx: &Connection) -> Result<usize> {
    let mut stmt = tx.prepare("SELECT doc_id FROM docs ORDER BY id")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))?
        .map(|b| DocId::from_slice(&b?))
        .collect::<Result<Vec<_>>>()?;
    for &id in &ids {
        let Some(row) = docs::find(tx, id)? else { continue };
        // A document that does not load is left to the record reader to report.
        let Ok(d) = docs::load(tx, id, &row) else { continue };
        register(tx, row.rowid, &scan(&d, row.kind, id).unwrap_or_default())?;
    }
    tx.execute("DELETE FROM meta WHERE key = ?1", [REBUILD_FLAG])?;
    Ok(ids.len())
}

/// The `meta` key that says documents wait for their references to be projected (see
/// `sql/v3.sql`).
pub(crate) const REBUILD_FLAG: &str = "blob_refs_rebuild";
