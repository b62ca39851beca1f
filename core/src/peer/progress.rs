//! What a running peer session tells the app as it goes: which step it is at, and what has
//! crossed so far, so a phone can show a progress bar while two people stand side by side.

/// The step a peer session is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PeerStage {
    /// Both credentials checked: the peer is known.
    Greeted,
    /// Both offers read: what will cross is known.
    Offered,
    /// A round of documents crossed.
    Round,
}

/// Progress of a running peer session, reported after each step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PeerProgress {
    /// The step just done.
    pub stage: PeerStage,
    /// The peer's device id (empty before its credential checked).
    pub peer_device: String,
    /// The peer's user (empty before its credential checked).
    pub peer_user: String,
    /// Rounds so far.
    pub rounds: i64,
    /// Documents the peer offered that differ from this phone's copy (or are new here): at
    /// most this many may change here.
    pub docs_expected: i64,
    /// Documents that changed here so far.
    pub docs_received: i64,
    /// Documents sent whole so far.
    pub docs_sent_whole: i64,
    /// Frame bytes sent so far.
    pub bytes_sent: i64,
    /// Frame bytes received so far.
    pub bytes_received: i64,
}

/// Told about a running peer session, on the task running it: return quickly.
pub trait PeerProgressListener: Send + Sync {
    /// Called after each step.
    fn peer_progress(&self, progress: &PeerProgress);
}

impl<F: Fn(&PeerProgress) + Send + Sync> PeerProgressListener for F {
    fn peer_progress(&self, progress: &PeerProgress) {
        self(progress)
    }
}
