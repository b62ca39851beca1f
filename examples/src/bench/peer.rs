//! The `peer` suite: two phones meet with no server (`docs/peer.md`), over the same loopback
//! TCP link and session a phone uses, with credentials a test issuer signs in the server's
//! stead.
//!
//! A patrol phone holds `--docs` patrol logs (200) of a few entries each; a team mate's empty
//! phone meets it and receives them all. Figures: `peer.session_200_ms` (the session, from
//! connecting to both sides done), `peer.bytes_ratio` (frame bytes over the link, both ways,
//! over the size of the documents' own changes: what the envelope, the offers and the
//! credentials cost) and, over the link emulator's 2G profile (64/80 kbit/s, 500 ms round trip,
//! a connection cut every 2–6 s, one in ten truncated), `peer.session_200_2g_ms`: from the
//! first attempt until a session ends with the phones converged, meeting again after every
//! cut (`peer.session_200_2g_attempts`). A cut session keeps what it applied, so each attempt
//! goes on where the last stopped. The suite fails if the phones did not converge.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use automerge::ActorId;
use fieldsync_core::Store;
use fieldsync_core::model::{
    Checkpoint, Command, EntryKind, MemberKind, NewEntry, NewPatrol, NewRecord, TeamMember,
};
use fieldsync_core::peer::{
    CredentialBody, DEFAULT_VALIDITY_MS, Issuer, PeerOptions, TcpLink, meet_on_loopback,
    sync_with_peer,
};
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::store::Enrollment;
use fieldsync_core::time::now_ms;
use fieldsync_tests::link::{LinkEmulator, LinkProfile};
use serde_bytes::ByteBuf;
use tokio::net::TcpListener;

use super::{Report, Result, Unit, progress};

/// The patrol's area.
const AREA: &str = "jl/changchun/jingyue/scenic-area";
/// The emulator's seed (printed, so a run can be replayed).
const LINK_SEED: u64 = 0x2_6a11;
/// Bytes of documents a round carries on the 2G link: a round must cross well within the
/// 2 s a connection lasts at least (80 kbit/s carries 10 KB a second).
const SLOW_ROUND_BYTES: usize = 6 * 1024;
/// Attempts after which the 2G session counts as failed.
const SLOW_ATTEMPTS: u32 = 400;
/// The longest one attempt may take before it is abandoned (a cut the session did not see).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the suite is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Patrol logs the session brings across.
    pub docs: usize,
    /// Also run the session over the 2G link emulator.
    pub two_g: bool,
}

/// Runs the suite, recording each figure in `report` as it is measured.
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(phases(opts, report))
}

async fn phases(opts: &Options, report: &mut Report) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let issuer = Issuer::generate();
    let li = phone(dir.path(), &issuer, "police-li")?;
    progress(format_args!("seeding {} patrol logs", opts.docs));
    seed(&li, opts.docs)?;
    let own = changes_size(&li)?;

    progress("a team mate's empty phone meets the patrol phone on loopback TCP");
    let wang = phone(dir.path(), &issuer, "cadre-wang")?;
    let started = Instant::now();
    let (sent, got) = meet_on_loopback(&li, &wang, &PeerOptions::default()).await;
    let elapsed = started.elapsed();
    let (sent, got) = (sent?, got?);
    converged(&li, &wang)?;
    if got.received != opts.docs {
        return Err(format!("{} documents arrived, {} expected", got.received, opts.docs).into());
    }
    report.record(format!("peer.session_{}_ms", opts.docs), ms(elapsed), Unit::Ms);
    let link = sent.bytes_sent + sent.bytes_received;
    report.record("peer.bytes_ratio", link as f64 / own as f64, Unit::Ratio);
    report.record("peer.link_bytes", link as f64, Unit::Bytes);
    report.record("peer.changes_bytes", own as f64, Unit::Bytes);
    report.record("peer.rounds", f64::from(sent.rounds), Unit::Count);

    if opts.two_g {
        progress("another team mate meets the patrol phone over the 2G link emulator");
        let zhao = phone(dir.path(), &issuer, "volunteer-zhao")?;
        let (elapsed, attempts) = over_two_g(&li, &zhao).await?;
        converged(&li, &zhao)?;
        report.record(format!("peer.session_{}_2g_ms", opts.docs), ms(elapsed), Unit::Ms);
        report.record(
            format!("peer.session_{}_2g_attempts", opts.docs),
            f64::from(attempts),
            Unit::Count,
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A patrol phone of `user`, enrolled offline: its credential signed by `issuer`, whose key it
/// pinned (what enrolment with a server gives).
fn phone(dir: &Path, issuer: &Issuer, user: &str) -> Result<Store> {
    let store = Store::open(dir.join(format!("{user}.db")))?;
    let actor = ActorId::random();
    let patrol = Some(PatrolKind::Police);
    let profile =
        Profile { user: user.into(), role: Role::Patrol, patrol, scopes: vec![AREA.into()] };
    let device = format!("dev-{user}");
    let enrollment =
        Enrollment { device: device.clone(), token: "offline".into(), profile, server: None };
    store.save_enrollment(&enrollment, actor.clone())?;
    store.pin_server_key(&issuer.public_key())?;
    let now = now_ms();
    store.save_credential(&issuer.credential(&CredentialBody {
        device,
        user: user.into(),
        role: Role::Patrol.as_str().into(),
        patrol: patrol.map(|p| p.as_str().to_string()),
        scopes: vec![AREA.into()],
        actor: ByteBuf::from(actor.to_bytes().to_vec()),
        issued_at: now,
        expires_at: now + DEFAULT_VALIDITY_MS,
        key: Some(ByteBuf::from(store.device_key()?.public_key().to_vec())),
    }))?;
    Ok(store)
}

/// `docs` patrol logs of the team, each with three entries, made on `store`.
fn seed(store: &Store, docs: usize) -> Result<()> {
    let member = |user: &str, kind| TeamMember { user: user.into(), name: user.into(), kind };
    for i in 0..docs {
        let id = store.create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: AREA.into(),
                area: format!("north loop, section {i}"),
                members: vec![
                    member("police-li", MemberKind::Police),
                    member("cadre-wang", MemberKind::VillageCadre),
                    member("volunteer-zhao", MemberKind::VillagerVolunteer),
                ],
                checkpoints: vec![Checkpoint { name: "north gate".into(), location: None }],
            },
        })?;
        for (kind, text) in [
            (EntryKind::CheckpointReached, "north gate, all clear"),
            (EntryKind::HazardFound, "loose rocks above the trail at km 3"),
            (EntryKind::TouristHelped, "lost child reunited with parents"),
        ] {
            let entry = NewEntry {
                kind,
                text: text.into(),
                location: None,
                photos: vec![],
                checkpoint: None,
            };
            store.execute(id, &Command::AddPatrolEntry { entry })?;
        }
    }
    Ok(())
}

/// The size of every change of every document of `store`, as Automerge encodes a change.
fn changes_size(store: &Store) -> Result<u64> {
    let mut total = 0;
    for id in store.doc_ids()? {
        let mut doc = store.load(id)?;
        total += doc.get_changes(&[]).iter().map(|c| c.raw_bytes().len() as u64).sum::<u64>();
    }
    Ok(total)
}

/// Fails unless `a` and `b` hold the same documents with the same heads.
fn converged(a: &Store, b: &Store) -> Result<()> {
    let (mut ids_a, mut ids_b) = (a.doc_ids()?, b.doc_ids()?);
    ids_a.sort();
    ids_b.sort();
    if ids_a != ids_b {
        return Err(format!("the phones hold {} and {} documents", ids_a.len(), ids_b.len()).into());
    }
    for id in ids_a {
        if a.heads(id)? != b.heads(id)? {
            return Err(format!("document {id} differs between the phones").into());
        }
    }
    Ok(())
}

/// Sessions between `a` (listening behind the emulator) and `b` (connecting through it) until
/// one ends on both sides; the time from the first attempt, and the attempts made.
async fn over_two_g(a: &Store, b: &Store) -> Result<(Duration, u32)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let emulator =
        LinkEmulator::start(listener.local_addr()?, LinkProfile::two_g(), LINK_SEED).await?;
    progress(format_args!("2G link emulator on {} (seed {})", emulator.addr(), emulator.seed()));
    let options = PeerOptions { round_bytes: SLOW_ROUND_BYTES, ..PeerOptions::default() };
    let started = Instant::now();
    for attempt in 1..=SLOW_ATTEMPTS {
        let session = attempt_session(a, b, &listener, emulator.addr(), &options);
        match tokio::time::timeout(ATTEMPT_TIMEOUT, session).await {
            Ok(Ok(())) => {
                let stats = emulator.stats();
                progress(format_args!(
                    "converged on attempt {attempt}: {} cuts, {} truncated, {} B up, {} B down",
                    stats.cuts, stats.truncations, stats.bytes_up, stats.bytes_down
                ));
                return Ok((started.elapsed(), attempt));
            }
            Ok(Err(e)) => progress(format_args!("attempt {attempt} ended: {e}")),
            Err(_) => progress(format_args!("attempt {attempt} timed out")),
        }
    }
    Err(format!("no session over 2G completed in {SLOW_ATTEMPTS} attempts").into())
}

/// One session through the emulator; `Ok` when it ended on both sides.
async fn attempt_session(
    a: &Store,
    b: &Store,
    listener: &TcpListener,
    via: SocketAddr,
    options: &PeerOptions,
) -> Result<()> {
    let (x, y) = tokio::join!(
        async { sync_with_peer(a, &mut TcpLink::accept(listener).await?, options).await },
        async { sync_with_peer(b, &mut TcpLink::connect(via).await?, options).await }
    );
    x?;
    y?;
    Ok(())
}
