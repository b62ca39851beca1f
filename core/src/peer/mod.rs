//! Phone to phone: two phones that meet sync directly, over whatever link the app has, under
//! the server's own rules (`docs/peer.md`).
//!
//! Each side shows a credential the server signed ([`credential`]), checked offline against the
//! pinned server key, the expiry and the revocation list; each offers only the documents the
//! other may read (core's read policy), and every change received is judged with the write
//! policy under its author's credential before it is stored ([`judge`]). The documents travel
//! with Automerge's own sync protocol inside a small envelope of our own ([`wire`]), over a
//! [`PeerLink`] the app provides ([`link`]); the session itself is [`session`].

pub mod credential;
mod judge;
pub mod link;
mod loopback;
mod progress;
pub mod proof;
mod session;
mod take;
pub mod wire;

pub use credential::{
    Credential, CredentialBody, CredentialRefusal, DEFAULT_VALIDITY_MS, Issuer, Revocations,
    SignedRevocations, Verified,
};
pub use link::{LinkError, PeerLink, StreamLink, TcpLink, memory_pair};
pub use loopback::meet_on_loopback;
pub use progress::{PeerProgress, PeerProgressListener, PeerStage};
pub use session::{DocRefusal, PeerOptions, PeerOutcome, sync_with_peer, sync_with_peer_reporting};
pub use wire::DecodeError;

use crate::error::CoreError;

/// Why a peer session failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The link failed or closed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The peer sent bytes that are not a frame of this protocol.
    #[error("bad frame from the peer: {0}")]
    Decode(#[from] DecodeError),
    /// This phone refused the peer's credential: nothing was shared.
    #[error("the peer's credential is refused: {0}")]
    Refused(CredentialRefusal),
    /// The peer refused this phone's credential: nothing was shared.
    #[error("the peer refused this phone's credential ({code}): {message}")]
    RefusedByPeer {
        /// The reason's code ([`CredentialRefusal::code`]).
        code: String,
        /// The peer's message.
        message: String,
    },
    /// This phone holds no credential (or no server key): it must sync with the server first.
    #[error("this phone holds no peer credential; sync with the server first")]
    NotEnrolled,
    /// A message came out of turn.
    #[error("the peer sent {got} where {expected} was due")]
    Unexpected {
        /// What the session waited for.
        expected: &'static str,
        /// What came.
        got: &'static str,
    },
    /// A message's content is not what the protocol allows (an id, a hash, a count).
    #[error("malformed peer message: {0}")]
    Malformed(String),
    /// The session did not settle within its rounds.
    #[error("the session did not settle in {0} rounds")]
    TooManyRounds(u32),
    /// This phone's store failed.
    #[error(transparent)]
    Store(#[from] CoreError),
}
