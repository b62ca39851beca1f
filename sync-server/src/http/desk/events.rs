//! `GET /api/v1/events`: the live board's Server-Sent Events. Each event is an index row that
//! changed (a record created, dispatched, supervised, escalated, …), with the change log's seq
//! as its id, so a browser that reconnects with `Last-Event-ID` (or `?after=`) resumes exactly
//! where it was. Only rows the signed-in user may read are sent (core's `policy::can_read`, as
//! for every other path); the stream ends when the session does (signed out, revoked, idle).
//!
//! Every stream starts with a `position` event (`{"after": <seq>}`, with that seq as its id):
//! where it starts. A browser that has had no row yet still reconnects after a server restart
//! with a `Last-Event-ID`, so what changed while it was away comes too.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use fieldsync_core::policy::{Profile, can_read};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::extract::{self, Desk};
use super::params::Params;
use super::records::overdue;
use crate::http::App;
use crate::http::error::ServerError;
use crate::storage::index::{IndexChange, IndexRow};

/// Rows read from the index at a time.
const BATCH: usize = 500;
/// How often an idle stream checks that its session is still open, and sends a comment so
/// that proxies keep the connection.
const CHECK_EVERY: Duration = Duration::from_secs(15);

/// Where a stream starts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    /// Resume after this seq (as `Last-Event-ID` does; the header wins when both are sent).
    after: Option<u64>,
}

/// The seq a stream resumes after: `Last-Event-ID`, else `?after=`, else the end of the log
/// (only what changes from now on).
fn start(headers: &HeaderMap, query: &EventsQuery, end: u64) -> Result<u64, ServerError> {
    match headers.get("last-event-id") {
        Some(v) => v.to_str().ok().and_then(|s| s.trim().parse().ok()).ok_or_else(|| {
            ServerError::InvalidRequest("Last-Event-ID is not an event id of this server".into())
        }),
        None => Ok(query.after.unwrap_or(end)),
    }
}

/// One event: the row as the listings show it (a report with `overdue`).
fn event(change: &IndexChange, now: i64) -> Option<Event> {
    let kind = change.row.kind().as_str();
    let mut data = serde_json::to_value(&change.row).ok()?;
    if let (IndexRow::Report(r), Some(map)) = (&change.row, data.as_object_mut()) {
        map.insert("overdue".into(), overdue(r, now).into());
    }
    Some(Event::default().id(change.seq.to_string()).event(kind).data(data.to_string()))
}

/// The first event of a stream: where it starts.
fn position(after: u64) -> Event {
    Event::default()
        .id(after.to_string())
        .event("position")
        .data(serde_json::json!({ "after": after }).to_string())
}

/// `GET /api/v1/events`.
pub(crate) async fn stream(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Params(query): Params<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let end = app.docs.log_end().await?;
    let mut after = start(&headers, &query, end)?;
    let (tx, mut rx) = mpsc::channel::<Event>(64);
    // Cannot fail: the channel is new and has room.
    let _ = tx.try_send(position(after));
    let cookie_headers = headers.clone();
    let profile = session.profile.clone();
    let mut stopping = app.stopping.subscribe();
    if *stopping.borrow_and_update() {
        return Err(ServerError::Unavailable("the server is stopping".into()));
    }
    tokio::spawn(async move {
        let mut committed = app.docs.committed.subscribe();
        loop {
            match send_after(&app, &profile, &tx, &mut after).await {
                Ok(true) => {}
                Ok(false) | Err(_) => return,
            }
            tokio::select! {
                changed = committed.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep(CHECK_EVERY) => {
                    // Still signed in? A revoked or idle session ends its stream.
                    if extract::session_of(&app, &cookie_headers).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
                // Dropping `tx` ends the answer; the browser reconnects to another instance
                // or after the restart, with its Last-Event-ID.
                _ = stopping.changed() => return,
            }
        }
    });
    let events = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|e| e.map(Ok::<Event, Infallible>))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(CHECK_EVERY)).into_response())
}

/// Sends every readable row changed after `after`, moving `after` on; `false` when the
/// browser has gone.
async fn send_after(
    app: &App,
    reader: &Profile,
    tx: &mpsc::Sender<Event>,
    after: &mut u64,
) -> Result<bool, ServerError> {
    loop {
        let changes = app.storage().index_changes_after(*after, BATCH).await?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(true);
        };
        let now = app.clock.now_ms();
        for change in &changes {
            if can_read(reader, &change.row.audience())
                && let Some(e) = event(change, now)
                && tx.send(e).await.is_err()
            {
                return Ok(false);
            }
        }
        *after = last;
        if changes.len() < BATCH {
            return Ok(true);
        }
    }
}
