//! The device that fills the server for the memory figure: whole reports, many per request.

use automerge::ActorId;
use fieldsync_core::model::command::{self, Command, NewRecord};
use fieldsync_core::model::{NewReport, Stamp};
use fieldsync_core::protocol::{self, PushDoc, PushOutcome, SyncRequest, SyncResponse};
use fieldsync_core::sync::{HttpTransport, Transport};
use fieldsync_core::time::now_ms;

use crate::bench::Result;

/// Reports created whole for the memory phase: each a report and its workflow, pushed by one
/// bulk device in requests of many documents.
pub struct BulkPusher {
    transport: HttpTransport,
    actor: ActorId,
}

impl BulkPusher {
    /// A pusher writing as `actor` (its enrolled device's) through `transport`.
    pub fn new(transport: HttpTransport, actor: ActorId) -> BulkPusher {
        BulkPusher { transport, actor }
    }

    /// Builds one document per `(report, steps)` (outside the async runtime's threads: the
    /// caller decides) and returns them ready to push.
    pub fn build(
        &self,
        user: &str,
        records: Vec<(NewReport, Vec<Command>)>,
    ) -> Result<Vec<PushDoc>> {
        let mut out = Vec::with_capacity(records.len());
        for (report, steps) in records {
            let stamp = Stamp { by: user.to_string(), at: now_ms() };
            let (id, mut doc) =
                command::create(&NewRecord::Report { report }, &stamp, self.actor.clone())?;
            for cmd in &steps {
                command::apply(&mut doc, id, &stamp, cmd)?;
            }
            let changes =
                doc.get_changes(&[]).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
            out.push(PushDoc {
                doc: id,
                changes,
                heads: protocol::to_wire(&doc.get_heads()),
                signed: vec![],
            });
        }
        Ok(out)
    }

    /// Pushes `docs` in one request (pulling nothing: the cursor is already at the end for the
    /// pages it would get are not what is measured); fails unless every one is acknowledged.
    pub async fn push(
        &self,
        docs: Vec<PushDoc>,
        epoch: Option<String>,
        cursor: String,
    ) -> Result<()> {
        let n = docs.len();
        let request = SyncRequest {
            v: protocol::VERSION,
            epoch,
            cursor,
            actor: self.actor.to_bytes().to_vec(),
            push: docs,
            want: Vec::new(),
            page_bytes: protocol::limits::PAGE_BYTES_MIN,
        };
        let answer = self.transport.post("/v1/sync", protocol::encode(&request)).await?;
        let response: SyncResponse = protocol::decode(&answer)?;
        let acked = response
            .results
            .iter()
            .filter(|r| matches!(r.outcome, PushOutcome::Acked { .. }))
            .count();
        if acked != n {
            return Err(format!("{acked} of {n} pushed documents acknowledged").into());
        }
        Ok(())
    }
}
