//! The live event stream as a browser reads it: a reader of `GET /api/v1/events` (the
//! response's bytes as they come, cut into `id:` / `event:` / `data:` blocks), and the
//! stream's own tests: resuming with `Last-Event-ID` or `?after=`, and a bad event id.

use std::time::Duration;

use fieldsync_core::policy::Role;
use serde_json::Value;

use super::*;
use crate::common::{Backend, GRID, Phone, enroll_as, on_both, start_on};

/// How long a test waits for an event it expects.
pub const WAIT: Duration = Duration::from_secs(10);

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    /// `id:` (the change log's seq).
    pub id: u64,
    /// `event:` (`report`, `patrol_log`, `mediation_case`).
    pub event: String,
    /// `data:`, parsed.
    pub data: Value,
}

/// An open event stream of one desk.
pub struct Events {
    resp: reqwest::Response,
    buf: Vec<u8>,
    /// The seq the stream said it starts after (its `position` event), once read.
    pub position: Option<u64>,
}

impl Events {
    /// Opens `GET /api/v1/events` (with `?query` and `Last-Event-ID` when given) as `s`.
    pub async fn open(ts: &TestServer, s: &Signed, query: &str, last: Option<u64>) -> Events {
        let mut req =
            ts.http.get(ts.url(&format!("/api/v1/events{query}"))).header("cookie", &s.cookie);
        if let Some(id) = last {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Events { resp, buf: Vec::new(), position: None }
    }

    /// The next event within `wait` (`None` when none came; comments and the stream's opening
    /// `position` are skipped).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(e) = self.take_block() {
                return Some(e);
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.ok()?;
            let bytes = chunk.unwrap().expect("the stream stays open");
            self.buf.extend_from_slice(&bytes);
        }
    }

    /// Waits (at most [`WAIT`]) for the first event that `want` accepts; every event read is
    /// also given to `seen`.
    pub async fn until(&mut self, mut want: impl FnMut(&Sse) -> bool) -> Sse {
        loop {
            let e = self.next_within(WAIT).await.expect("the event came in time");
            if want(&e) {
                return e;
            }
        }
    }

    /// Every event until one of `doc` whose row `want` accepts (included).
    pub async fn all_until(&mut self, doc: &str, want: impl Fn(&Value) -> bool) -> Vec<Sse> {
        let mut all = Vec::new();
        loop {
            let e = self.next_within(WAIT).await.expect("the event came in time");
            let done = e.data["doc"] == doc && want(&e.data);
            all.push(e);
            if done {
                return all;
            }
        }
    }

    /// An event block parsed out of the buffer, if a whole one is there.
    fn take_block(&mut self) -> Option<Sse> {
        loop {
            let text = std::str::from_utf8(&self.buf).ok()?;
            let end = text.find("\n\n")?;
            let block = text[..end].to_string();
            self.buf.drain(..end + 2);
            let (mut id, mut event, mut data) = (None, None, Vec::new());
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => id = Some(value.parse::<u64>().unwrap()),
                    "event" => event = Some(value.to_string()),
                    "data" => data.push(value.to_string()),
                    _ => {} // a comment (keep-alive) or a field we do not use
                }
            }
            if data.is_empty() || event.as_deref() == Some("position") {
                self.position = id.or(self.position);
                continue;
            }
            let data: Value = serde_json::from_str(&data.join("\n")).unwrap();
            return Some(Sse {
                id: id.expect("every event has an id"),
                event: event.expect("every event names its kind"),
                data,
            });
        }
    }
}

async fn a_stream_resumes_after_the_last_event_it_had(backend: Backend) {
    let ts = start_on(backend).await;
    let resident = Phone::new("resident-1");
    enroll_as(ts.running.server(), &resident, Role::Resident, None, &[GRID]);
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let mut live = Events::open(&ts, &d, "", None).await;
    let first = resident.report("first");
    let second = resident.report("second");
    sync(&ts, &resident).await;
    let a = live.until(|e| e.data["doc"] == first.to_string()).await;
    let b = live.until(|e| e.data["doc"] == second.to_string()).await;
    let start = live.position.expect("the stream said where it starts");
    assert!(start < a.id, "it starts before the first row: {start} {}", a.id);
    assert!(a.id < b.id, "ids follow the log: {} {}", a.id, b.id);
    assert_eq!((a.event.as_str(), a.data["kind"].as_str()), ("report", Some("report")));
    assert_eq!(a.data["overdue"], false);

    // A browser that had `a` resumes with `b`, by header or by query (the header wins).
    let mut again = Events::open(&ts, &d, "", Some(a.id)).await;
    let e = again.next_within(WAIT).await.unwrap();
    assert_eq!((e.id, &e.data["doc"]), (b.id, &b.data["doc"]));
    let mut by_query = Events::open(&ts, &d, &format!("?after={}", a.id), None).await;
    assert_eq!(by_query.next_within(WAIT).await.unwrap().id, b.id);
    let mut both = Events::open(&ts, &d, "?after=0", Some(a.id)).await;
    assert_eq!(both.next_within(WAIT).await.unwrap().id, b.id);
    // From the end: nothing old comes again, and the stream says where it starts.
    let mut fresh = Events::open(&ts, &d, "", None).await;
    assert!(fresh.next_within(Duration::from_millis(300)).await.is_none());
    assert_eq!(fresh.position, Some(log_end(&ts).await));
    assert_eq!(again.position, Some(a.id), "a resumed stream starts where it was asked");

    for bad in ["abc", "-1", "1e3"] {
        let resp = ts
            .http
            .get(ts.url("/api/v1/events"))
            .header("cookie", &d.cookie)
            .header("last-event-id", bad)
            .send()
            .await
            .unwrap();
        let (status, e) = json_of(resp).await;
        assert_eq!((status, err_code(&e)), (400, "invalid_request"), "{bad}: {e}");
    }
    let (status, e) = get(&ts, &d, "/api/v1/events?after=x").await;
    assert_eq!((status, err_code(&e)), (400, "invalid_request"), "{e}");
    let (status, e) = get(&ts, &d, "/api/v1/events?since=1").await;
    assert_eq!((status, err_code(&e)), (400, "invalid_request"), "{e}");
}
on_both!(a_stream_resumes_after_the_last_event_it_had);
