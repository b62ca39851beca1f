//! `server.want_*`: whether a document a device may not read can be told from one that does not
//! exist, by what the server answers or by how long it takes.

use std::time::Instant;

use fieldsync_core::sync::{HttpTransport, SyncClient};

use crate::bench::server::BenchServer;
use crate::bench::{Report, Result, Samples, Unit, progress};

/// `server.want_hidden_*` and `server.want_missing_*`: a resident of a grid with no documents
/// asks for a stored report it may not read, and for a made-up id, alternately; the answers must
/// not tell them apart, in content (checked) or in time (the figures).
pub(super) async fn hidden_vs_missing(
    report: &mut Report,
    server: &BenchServer,
    phone: &SyncClient<HttpTransport>,
    hidden: fieldsync_core::DocId,
) -> Result<()> {
    const ROUNDS: usize = 400;
    progress("a resident asks for a document it may not read, and for one that does not exist");
    let actor = automerge::ActorId::random();
    let resident = fieldsync_core::policy::Role::Resident;
    let transport =
        server.enroll_as("resident-far", resident, "jl/nowhere/grid-99", actor.to_bytes())?;
    // The resident's own position first: a catch-up (nothing of it readable), to the log's end.
    let (epoch, _) = phone.store().sync_position()?;
    let mut cursor = String::new();
    loop {
        let first = fieldsync_core::protocol::SyncRequest {
            v: fieldsync_core::protocol::VERSION,
            epoch: epoch.clone(),
            cursor: cursor.clone(),
            actor: actor.to_bytes().to_vec(),
            push: vec![],
            want: vec![],
            page_bytes: 0,
        };
        let answer = fieldsync_core::sync::Transport::post(
            &transport,
            "/v1/sync",
            fieldsync_core::protocol::encode(&first),
        )
        .await?;
        let r: fieldsync_core::protocol::SyncResponse = fieldsync_core::protocol::decode(&answer)?;
        cursor = r.cursor;
        if !r.more {
            break;
        }
    }
    let ask = |want: fieldsync_core::DocId| fieldsync_core::protocol::SyncRequest {
        v: fieldsync_core::protocol::VERSION,
        epoch: epoch.clone(),
        cursor: cursor.clone(),
        actor: actor.to_bytes().to_vec(),
        push: vec![],
        want: vec![want],
        page_bytes: 0,
    };
    let (mut hidden_ms, mut missing_ms) = (Samples::new(), Samples::new());
    for i in 0..ROUNDS * 2 {
        let (want, samples) = if i % 2 == 0 {
            (hidden, &mut hidden_ms)
        } else {
            (fieldsync_core::DocId::random(), &mut missing_ms)
        };
        let body = fieldsync_core::protocol::encode(&ask(want));
        let t = Instant::now();
        let answer = fieldsync_core::sync::Transport::post(&transport, "/v1/sync", body).await?;
        samples.push(t.elapsed());
        let r: fieldsync_core::protocol::SyncResponse = fieldsync_core::protocol::decode(&answer)?;
        if !r.docs.is_empty() {
            return Err(format!("a resident was sent {} documents", r.docs.len()).into());
        }
    }
    report.record("server.want_hidden_p50_ms", hidden_ms.median(), Unit::Ms);
    report.record("server.want_missing_p50_ms", missing_ms.median(), Unit::Ms);
    report.record("server.want_hidden_p99_ms", hidden_ms.percentile(99.0), Unit::Ms);
    report.record("server.want_missing_p99_ms", missing_ms.percentile(99.0), Unit::Ms);
    Ok(())
}
