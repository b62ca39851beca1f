//! Phone to phone (`docs/peer.md`): a [`PeerSession`] syncs this phone's records with another
//! phone's over a [`PeerTransport`], under the server's rules, with no server in reach. It is
//! async (suspend in Kotlin, async in Swift and Python), tells a [`PeerListener`] how far it
//! got, and ends early on [`PeerSession::cancel`] (or when the caller's coroutine or task is
//! cancelled); what it applied until then stays, and the next meeting skips it.

mod link;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fieldsync_core::peer::{
    DocRefusal, PeerOptions, PeerOutcome, PeerProgress, PeerProgressListener,
    sync_with_peer_reporting,
};
use tokio::sync::watch;

use self::link::AppLink;
pub use self::link::{PeerTcpListener, PeerTransport, connect_loopback_peer};
use crate::error::{FieldError, invalid};
use crate::log;
use crate::store::FieldStore;

/// Told after each step of a running peer session (credentials checked, offers read, every
/// round), on the thread running it; return quickly. What it throws is reported through the
/// log hook, and the session goes on.
#[uniffi::export(foreign)]
pub trait PeerListener: Send + Sync {
    /// Progress so far.
    fn on_peer_progress(&self, progress: PeerProgress) -> Result<(), FieldError>;
}

/// Adapts a foreign peer listener to core's.
struct ListenerAdapter(Arc<dyn PeerListener>);

impl PeerProgressListener for ListenerAdapter {
    fn peer_progress(&self, progress: &PeerProgress) {
        if let Err(e) = self.0.on_peer_progress(progress.clone()) {
            log::warn("peer", format!("the peer listener threw: {e}"));
        }
    }
}

/// What a peer session did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PeerSummary {
    /// The peer's device id.
    pub peer_device: String,
    /// The peer's user.
    pub peer_user: String,
    /// Documents this phone offered (those the peer may read).
    pub docs_offered: i64,
    /// Documents the peer offered.
    pub docs_peer_offered: i64,
    /// Documents sent whole (the peer did not have them).
    pub docs_sent_whole: i64,
    /// Documents that changed on this phone.
    pub docs_received: i64,
    /// Documents whose changes were refused, either way (nothing of them was stored).
    pub refused: Vec<DocRefusal>,
    /// Rounds the session took.
    pub rounds: i64,
    /// Bytes sent over the link.
    pub bytes_sent: i64,
    /// Bytes received over the link.
    pub bytes_received: i64,
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn bytes(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl From<PeerOutcome> for PeerSummary {
    fn from(o: PeerOutcome) -> Self {
        PeerSummary {
            peer_device: o.peer_device,
            peer_user: o.peer_user,
            docs_offered: count(o.offered),
            docs_peer_offered: count(o.peer_offered),
            docs_sent_whole: count(o.sent_whole),
            docs_received: count(o.received),
            refused: o.refused,
            rounds: o.rounds.into(),
            bytes_sent: bytes(o.bytes_sent),
            bytes_received: bytes(o.bytes_received),
        }
    }
}

/// One meeting with another phone: made by `FieldStore.peerSession`, run once with [`run`],
/// stopped by [`cancel`] from any thread.
///
/// [`run`]: PeerSession::run
/// [`cancel`]: PeerSession::cancel
#[derive(uniffi::Object)]
pub struct PeerSession {
    store: Arc<FieldStore>,
    transport: Arc<dyn PeerTransport>,
    listener: Option<Arc<dyn PeerListener>>,
    cancelled: watch::Sender<bool>,
    started: AtomicBool,
}

#[uniffi::export]
impl FieldStore {
    /// A peer session of this phone with the phone at the other end of `transport`; `listener`
    /// hears how it goes. Nothing happens until `run`. Both phones must have synced with the
    /// server once (enrolment gives the credential the other phone checks).
    #[uniffi::method(default(listener = None))]
    pub fn peer_session(
        self: Arc<Self>,
        transport: Arc<dyn PeerTransport>,
        listener: Option<Arc<dyn PeerListener>>,
    ) -> Result<Arc<PeerSession>, FieldError> {
        self.shared()?;
        Ok(Arc::new(PeerSession {
            store: self,
            transport,
            listener,
            cancelled: watch::Sender::new(false),
            started: AtomicBool::new(false),
        }))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl PeerSession {
    /// Runs the session until neither phone has anything the other lacks (and may read);
    /// records that change are reported to the observers as they are stored.
    ///
    /// A credential refused either way is `PeerRefused` with the reason (`EXPIRED`, `REVOKED`,
    /// `FORGED`...) and `byPeer`: nothing was shared. `cancel` ends it with `PeerCancelled`,
    /// the link closing with `PeerLinkClosed`; what was stored until then stays, and meeting
    /// again goes on from there. A session runs once: a second `run` is `InvalidInput`.
    pub async fn run(&self) -> Result<PeerSummary, FieldError> {
        if self.started.swap(true, Ordering::SeqCst) {
            return Err(invalid("session", "a peer session runs once; make a new one"));
        }
        let store = self.store.store()?;
        let mut cancelled = self.cancelled.subscribe();
        if *cancelled.borrow_and_update() {
            return Err(FieldError::PeerCancelled);
        }
        let adapter = self.listener.clone().map(ListenerAdapter);
        let listener = adapter.as_ref().map(|a| a as &dyn PeerProgressListener);
        let mut link = AppLink(self.transport.clone());
        let options = PeerOptions::default();
        tokio::select! {
            done = sync_with_peer_reporting(&store, &mut link, &options, listener) => {
                Ok(done?.into())
            }
            _ = cancelled.wait_for(|c| *c) => Err(FieldError::PeerCancelled),
        }
    }

    /// Stops the session: a `run` in progress ends with `PeerCancelled` at once (a frame half
    /// sent is abandoned); a `run` after this does not start. The peer hears of it when the app
    /// closes the link.
    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }
}
