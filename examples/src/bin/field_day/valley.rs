//! The valley scene, the next day: the joint patrol walks into a valley with no signal at all. Its three
//! phones keep a second log, each adding entries offline; whenever two of them are side by side
//! they sync directly (phone to phone, `docs/peer.md`, over loopback TCP here as over Wi-Fi
//! Direct in the field), each checking the other's credential and judging every change with
//! the server's rules. After three pairwise meetings all three hold the same log. Then one
//! climbs to the ridge, finds signal, and syncs with the server for the others: each phone
//! signed its own entries, so the server takes them from the one that relays them as their
//! authors', and the others, syncing later, find everything there.

use fieldsync_core::DocId;
use fieldsync_core::model::{EntryKind, NewPatrol, NewRecord, PatrolLog, Record};
use fieldsync_core::peer::{PeerOptions, meet_on_loopback};

use super::{AREA_SCOPE, Phone, Res, entry};

/// Runs the scene with the patrol's phones; whether the three converged and the server's
/// answer was a sound one.
pub(crate) async fn scene(li: &Phone, wang: &Phone, zhao: &Phone) -> Res<bool> {
    println!("\n== the next day, the valley: no signal, the patrol's phones meet each other");
    let members = match li.store.get(patrol_of(li)?)? {
        Record::PatrolLog { patrol_log } => patrol_log.members,
        _ => return Err("the morning's patrol is not a patrol log".into()),
    };
    let log = li.store.create(&NewRecord::PatrolLog {
        patrol_log: NewPatrol {
            scope: AREA_SCOPE.into(),
            area: "净月潭 scenic area, south valley".into(),
            members,
            checkpoints: vec![],
        },
    })?;
    li.store.execute(log, &entry(EntryKind::Observation, "valley trailhead, no signal", None))?;
    meet(li, wang).await?;
    wang.store
        .execute(log, &entry(EntryKind::HazardFound, "washed-out bridge at the ford", None))?;
    meet(wang, zhao).await?;
    zhao.store
        .execute(log, &entry(EntryKind::TouristHelped, "hiker with a sprained ankle", None))?;
    li.store
        .execute(log, &entry(EntryKind::WarningIssued, "turned a group back at the ford", None))?;
    meet(zhao, li).await?;
    meet(li, wang).await?;

    let a = valley_log(li, log)?;
    let mut converged = a.len() == 4;
    for p in [wang, zhao] {
        converged &= valley_log(p, log)? == a && p.store.heads(log)? == li.store.heads(log)?;
    }
    println!(
        "   {}: the three phones hold the same valley log, {} entries: {}",
        if converged { "converged" } else { "DIFFER" },
        a.len(),
        a.iter().map(|(by, text)| format!("{text} ({by})")).collect::<Vec<_>>().join("; ")
    );

    println!("== {} climbs to the ridge and finds one bar of signal", wang.owner);
    wang.sync().await?;
    let status = wang.store.sync_status()?;
    let refused: Vec<_> = status.rejected.iter().filter(|r| r.id == log).collect();
    // Each phone signed its own changes (docs/peer.md, "Signed changes"): the server takes
    // Li's and Zhao's entries from Wang's phone as theirs, not as Wang's.
    let mut sound = refused.is_empty() && status.pending_docs == 0;
    if sound {
        println!(
            "   the server took the valley log from {}'s phone, every entry under its author's \
             signature",
            wang.owner
        );
    } else {
        println!(
            "   unexpected answer for the valley log: {refused:?}, {} pending",
            status.pending_docs
        );
    }
    for p in [li, zhao] {
        println!("== {} reaches signal later", p.owner);
        p.sync().await?;
        let status = p.store.sync_status()?;
        sound &= status.rejected.iter().all(|r| r.id != log) && status.pending_docs == 0;
        sound &= p.store.heads(log)? == wang.store.heads(log)?;
    }
    println!(
        "   {}: the server holds the valley log as the three phones do, nothing refused",
        if sound { "agreed" } else { "DIFFER" }
    );
    Ok(converged && sound)
}

/// The morning's patrol log, which `phone` holds.
fn patrol_of(phone: &Phone) -> Res<DocId> {
    for id in phone.store.doc_ids()? {
        if let Record::PatrolLog { .. } = phone.store.get(id)? {
            return Ok(id);
        }
    }
    Err(format!("{} holds no patrol log", phone.owner).into())
}

/// The entries of the log `id` on `phone`, as (author, text), sorted.
fn valley_log(phone: &Phone, id: DocId) -> Res<Vec<(String, String)>> {
    let Record::PatrolLog { patrol_log: PatrolLog { entries, .. } } = phone.store.get(id)? else {
        return Err(format!("{id} is not a patrol log").into());
    };
    let mut out: Vec<_> = entries.into_iter().map(|e| (e.by, e.text)).collect();
    out.sort();
    Ok(out)
}

/// Two phones side by side sync directly over loopback TCP; says what crossed.
async fn meet(a: &Phone, b: &Phone) -> Res<()> {
    let (x, y) = meet_on_loopback(&a.store, &b.store, &PeerOptions::default()).await;
    let (x, y) = (x?, y?);
    println!(
        "   {:<16} meets {:<16} {} doc(s) changed on the first, {} on the second, {} B over the link, {} rounds",
        a.owner,
        b.owner,
        x.received,
        y.received,
        x.bytes_sent + x.bytes_received,
        x.rounds
    );
    for r in x.refused.iter().chain(&y.refused) {
        println!("   refused {} ({}): {}", r.doc, r.rule, r.message);
    }
    Ok(())
}
