//! A simulated device for load: one report held in memory, and the sync protocol spoken
//! directly, so that a thousand of them fit in one process. Each round pushes what the server
//! has not acknowledged and pulls one page after the device's cursor, as a phone does; it reads
//! the answer's acknowledgements and cursor, and only counts the pulled bytes.

use automerge::{ActorId, AutoCommit, ChangeHash};
use fieldsync_core::DocId;
use fieldsync_core::model::command::{self, Command, NewRecord};
use fieldsync_core::model::{NewReport, Stamp};
use fieldsync_core::protocol::{self, PushDoc, PushOutcome, PushResult, SyncRequest, SyncResponse};
use fieldsync_core::sync::{HttpTransport, Transport};
use fieldsync_core::time::now_ms;

use crate::bench::Result;

/// What one round moved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Round {
    /// Request body bytes.
    pub bytes_up: usize,
    /// Answer body bytes.
    pub bytes_down: usize,
}

/// One simulated phone with one report of its own.
pub struct SimDevice {
    transport: HttpTransport,
    user: String,
    actor: ActorId,
    id: DocId,
    doc: AutoCommit,
    acked: Vec<ChangeHash>,
    epoch: Option<String>,
    cursor: String,
    page_bytes: u32,
}

impl SimDevice {
    /// A device of `user` writing as `actor` that has just created `report`, positioned at
    /// `cursor` of `epoch`.
    pub fn new(
        transport: HttpTransport,
        user: String,
        actor: ActorId,
        report: NewReport,
        (epoch, cursor): (Option<String>, String),
        page_bytes: u32,
    ) -> Result<SimDevice> {
        let stamp = Stamp { by: user.clone(), at: now_ms() };
        let (id, doc) = command::create(&NewRecord::Report(report), &stamp, actor.clone())?;
        Ok(SimDevice {
            transport,
            user,
            actor,
            id,
            doc,
            acked: Vec::new(),
            epoch,
            cursor,
            page_bytes,
        })
    }

    /// Moves the device's feed position (a device that caught up elsewhere).
    pub fn reposition(&mut self, (epoch, cursor): (Option<String>, String)) {
        self.epoch = epoch;
        self.cursor = cursor;
    }

    /// Applies `cmd` to the device's report, as its user.
    pub fn edit(&mut self, cmd: &Command) -> Result<()> {
        let stamp = Stamp { by: self.user.clone(), at: now_ms() };
        command::apply(&mut self.doc, self.id, &stamp, cmd)?;
        Ok(())
    }

    /// Pushes the unacknowledged changes and pulls one page; fails unless the push is acked.
    pub async fn round(&mut self) -> Result<Round> {
        let changes: Vec<u8> =
            self.doc.get_changes(&self.acked).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
        let heads = self.doc.get_heads();
        let push = if changes.is_empty() {
            Vec::new()
        } else {
            vec![PushDoc { doc: self.id, changes, heads: protocol::to_wire(&heads) }]
        };
        let request = SyncRequest {
            v: protocol::VERSION,
            epoch: self.epoch.clone(),
            cursor: self.cursor.clone(),
            actor: self.actor.to_bytes().to_vec(),
            push,
            want: Vec::new(),
            page_bytes: self.page_bytes,
        };
        let body = protocol::encode(&request);
        let bytes_up = body.len();
        let answer = self.transport.post("/v1/sync", body).await?;
        let bytes_down = answer.len();
        let response = read_head(&answer)?;
        for r in &response.results {
            match &r.outcome {
                PushOutcome::Acked { .. } => self.acked = heads.clone(),
                other => {
                    return Err(format!("push of {} not acknowledged: {other:?}", r.doc).into());
                }
            }
        }
        self.epoch = Some(response.epoch);
        self.cursor = response.cursor;
        Ok(Round { bytes_up, bytes_down })
    }
}

/// What a simulated device reads of an answer: acknowledgements and the new position.
#[derive(Debug, Default)]
struct Head {
    epoch: String,
    results: Vec<PushResult>,
    cursor: String,
    found_cursor: bool,
}

/// Reads an answer's head without inflating or parsing the pulled documents after it, as a load
/// generator should (a phone decodes them; that cost is measured by `sync.initial_*`). The
/// server writes the documents last; an answer laid out otherwise is decoded whole.
fn read_head(body: &[u8]) -> Result<Head> {
    let mut r = flate2::read::MultiGzDecoder::new(body);
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut r, &mut first)?;
    let mut head = Head::default();
    // A map of up to 23 fields has its size in the first byte (0xa0 + n).
    if (0xa1..=0xb7).contains(&first[0]) {
        for _ in 0..(first[0] - 0xa0) {
            let key: String = ciborium::from_reader(&mut r)?;
            match key.as_str() {
                "docs" if head.found_cursor => return Ok(head),
                "docs" => break,
                "epoch" => head.epoch = ciborium::from_reader(&mut r)?,
                "results" => head.results = ciborium::from_reader(&mut r)?,
                "cursor" => {
                    head.cursor = ciborium::from_reader(&mut r)?;
                    head.found_cursor = true;
                }
                _ => {
                    let _: ciborium::Value = ciborium::from_reader(&mut r)?;
                }
            }
        }
    }
    let full: SyncResponse = protocol::decode(body)?;
    Ok(Head { epoch: full.epoch, results: full.results, cursor: full.cursor, found_cursor: true })
}

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
                command::create(&NewRecord::Report(report), &stamp, self.actor.clone())?;
            for cmd in &steps {
                command::apply(&mut doc, id, &stamp, cmd)?;
            }
            let changes =
                doc.get_changes(&[]).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
            out.push(PushDoc { doc: id, changes, heads: protocol::to_wire(&doc.get_heads()) });
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
