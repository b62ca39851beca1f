//! Rights checked when a change arrives, record content checked whole, and unreadable documents
//! answered for like missing ones — against the real server on loopback, with devices enrolled
//! under real roles and scopes. The phones here are not enrolled locally, so they refuse nothing
//! themselves: what is tested is the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod content;
mod missing;
mod rescope;
mod stale;
mod stale_property;

use crate::common::*;
use fieldsync_core::DocId;
use fieldsync_core::model::{Command, NewRecord};
use fieldsync_core::protocol::{self, PushOutcome, RefusalEntry, RefusalsResponse};

/// Where the responders of these tests work: outside the reports' grid, so they read a report
/// only while it names them.
const ELSEWHERE: &str = "jl/changchun/jingyue/scenic-area";

/// A report in `scope`.
fn report_in(scope: &str) -> NewRecord {
    match new_report("楼顶违建") {
        NewRecord::Report { report: mut r } => {
            r.scope = scope.into();
            NewRecord::Report { report: r }
        }
        other => other,
    }
}

fn dispatch(to: &str) -> Command {
    Command::DispatchReport {
        assignee: to.into(),
        deadline: fieldsync_core::time::Timestamp::from_millis(
            fieldsync_core::time::now_ms() + 86_400_000,
        ),
        note: String::new(),
    }
}

/// What the server holds of `id`: its stored bytes and the end of its log.
async fn stored(server: &TestServer, id: DocId) -> (Option<Vec<u8>>, u64) {
    let storage = server.running.server().storage();
    let doc = storage.load(vec![id]).await.unwrap().remove(0).map(|d| d.bytes);
    (doc, storage.log_end().await.unwrap())
}

/// Pushes `phone`'s changes to `id` and asserts they are refused with `code`, naming `rule`,
/// with nothing of them stored or logged; returns the message.
async fn refused_as(
    server: &TestServer,
    phone: &Phone,
    id: DocId,
    code: &str,
    rule: &str,
) -> String {
    let before = stored(server, id).await;
    let outcome = push(server, phone, id).await;
    let PushOutcome::Rejected { code: got, message } = &outcome else {
        panic!("expected {code} ({rule}), got {outcome:?}");
    };
    assert_eq!(got, code, "{message}");
    assert!(message.contains(rule), "rule {rule:?} not named in {message:?}");
    assert_eq!(stored(server, id).await, before, "nothing stored or logged: {message}");
    message.clone()
}

/// The refused changes listed for `phone`'s device (a dispatcher), or the status of the answer.
async fn listed(server: &TestServer, phone: &Phone) -> Result<Vec<RefusalEntry>, u16> {
    let (status, body) = server.get_as(&phone.actor(), "/v1/refusals").await;
    if status != 200 {
        return Err(status);
    }
    let answer: RefusalsResponse = protocol::decode(&body).unwrap();
    Ok(answer.refusals)
}
