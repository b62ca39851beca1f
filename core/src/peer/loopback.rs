//! Two stores of one process meeting over loopback TCP: what tests, examples and the bench
//! run, through the same link and session a phone uses.

use tokio::net::TcpListener;

use super::PeerError;
use super::link::{LinkError, TcpLink};
use super::session::{PeerOptions, PeerOutcome, sync_with_peer};
use crate::store::Store;

/// Runs a session between `a` (listening on a free loopback port) and `b` (connecting to it);
/// returns each side's outcome.
pub async fn meet_on_loopback(
    a: &Store,
    b: &Store,
    options: &PeerOptions,
) -> (Result<PeerOutcome, PeerError>, Result<PeerOutcome, PeerError>) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            let e = LinkError::from(e);
            return (Err(e.clone().into()), Err(e.into()));
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            let e = LinkError::from(e);
            return (Err(e.clone().into()), Err(e.into()));
        }
    };
    tokio::join!(
        async { sync_with_peer(a, &mut TcpLink::accept(&listener).await?, options).await },
        async { sync_with_peer(b, &mut TcpLink::connect(addr).await?, options).await }
    )
}
