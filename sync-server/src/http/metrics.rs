//! Prometheus metrics in text form at `GET /metrics`: requests by route and status with their
//! durations, changes accepted, pushes refused by code, documents cached, the log's last seq,
//! and the process's resident memory.
//! Written by hand: a handful of counters does not need a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::App;
use fieldsync_core::poison::Recover;

/// Upper bounds of the request duration buckets, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// The HTTP layer's counters (the documents' own are `documents::Counters`).
#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    /// Documents sent in pulled pages (whole or changes).
    pub(crate) docs_pulled: AtomicU64,
}

impl Metrics {
    fn request(&self, route: &str, status: u16, seconds: f64) {
        *self.requests.lock().recover().entry((route.to_string(), status)).or_default() += 1;
        self.durations.lock().recover().entry(route.to_string()).or_default().observe(seconds);
    }
}

/// Middleware: counts every request by route and status, and times it.
pub(crate) async fn track(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let resp = next.run(req).await;
    app.metrics.request(&route, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}

/// What is kept of the `/metrics` token: its SHA-256, compared whole, so the comparison's time
/// says nothing about how much of a guess was right.
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// Middleware: `/metrics` on the API's listener answers only `Authorization: Bearer <token>`
/// with the configured token; anything else gets the answer of an unknown route.
pub(crate) async fn require_token(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| token_hash(t.trim()));
    match (&app.metrics_token, presented) {
        (Some(expected), Some(presented)) if *expected == presented => next.run(req).await,
        _ => crate::http::error::error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint".into(),
        ),
    }
}

/// `GET /metrics`.
pub(crate) async fn handle(State(app): State<Arc<App>>) -> Response {
    let text = render(&app);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

fn render(app: &App) -> String {
    let m = &app.metrics;
    let counters = &app.docs.counters;
    let mut out = String::with_capacity(4096);
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(&mut out, "fieldsync_requests_total", "counter", "HTTP requests by route and status.");
    {
        let reqs = m.requests.lock().recover();
        for ((route, status), n) in reqs.iter() {
            let _ = writeln!(
                out,
                "fieldsync_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
    }
    family(
        &mut out,
        "fieldsync_request_duration_seconds",
        "histogram",
        "Time to answer a request, by route.",
    );
    {
        let durations = m.durations.lock().recover();
        for (route, h) in durations.iter() {
            for (le, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "fieldsync_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "fieldsync_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 fieldsync_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 fieldsync_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
    }
    family(&mut out, "fieldsync_changes_accepted_total", "counter", "Changes stored and logged.");
    let _ = writeln!(
        out,
        "fieldsync_changes_accepted_total {}",
        counters.changes_accepted.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "fieldsync_push_refused_total",
        "counter",
        "Pushed documents refused, by code.",
    );
    for (code, n) in counters.refusals() {
        let _ = writeln!(out, "fieldsync_push_refused_total{{code=\"{code}\"}} {n}");
    }
    family(&mut out, "fieldsync_docs_pulled_total", "counter", "Documents sent in pulled pages.");
    let _ = writeln!(out, "fieldsync_docs_pulled_total {}", m.docs_pulled.load(Ordering::Relaxed));
    let (cached, bytes) = app.docs.cache.stats();
    family(&mut out, "fieldsync_documents_cached", "gauge", "Documents loaded in memory.");
    let _ = writeln!(out, "fieldsync_documents_cached {cached}");
    family(&mut out, "fieldsync_cache_bytes", "gauge", "Estimated memory of loaded documents.");
    let _ = writeln!(out, "fieldsync_cache_bytes {bytes}");
    let (segments, segment_bytes) = app.feed.stats();
    family(&mut out, "fieldsync_feed_segments_cached", "gauge", "Feed segments kept compressed.");
    let _ = writeln!(out, "fieldsync_feed_segments_cached {segments}");
    family(&mut out, "fieldsync_feed_cache_bytes", "gauge", "Bytes of cached feed segments.");
    let _ = writeln!(out, "fieldsync_feed_cache_bytes {segment_bytes}");
    family(&mut out, "fieldsync_cache_misses_total", "counter", "Documents loaded from storage.");
    let _ = writeln!(
        out,
        "fieldsync_cache_misses_total {}",
        counters.cache_misses.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "fieldsync_cache_replaced_total",
        "counter",
        "Cached documents dropped because another instance stored a newer version.",
    );
    let _ = writeln!(
        out,
        "fieldsync_cache_replaced_total {}",
        counters.replaced_dropped.load(Ordering::Relaxed)
    );
    family(&mut out, "fieldsync_log_seq", "gauge", "The last seq of the change log.");
    let _ = writeln!(out, "fieldsync_log_seq {}", app.docs.log_seq.load(Ordering::Acquire));
    family(&mut out, "fieldsync_documents_locked", "gauge", "Documents locked by requests.");
    let _ = writeln!(out, "fieldsync_documents_locked {}", app.docs.locks.len());
    family(&mut out, "fieldsync_requests_in_flight", "gauge", "Sync requests being handled.");
    let _ = writeln!(out, "fieldsync_requests_in_flight {}", app.in_flight());
    family(&mut out, "fieldsync_connections_open", "gauge", "Open connections of the API.");
    let _ = writeln!(out, "fieldsync_connections_open {}", app.connections.open());
    family(&mut out, "fieldsync_connections_max", "gauge", "The cap on open API connections.");
    let _ = writeln!(out, "fieldsync_connections_max {}", app.connections.total());
    family(
        &mut out,
        "fieldsync_connections_refused_total",
        "counter",
        "Connections closed at once, by the cap they were over.",
    );
    let (total, address) = app.connections.refused();
    let _ = writeln!(out, "fieldsync_connections_refused_total{{cap=\"total\"}} {total}");
    let _ = writeln!(out, "fieldsync_connections_refused_total{{cap=\"address\"}} {address}");
    if let Some(rss) = resident_bytes() {
        family(&mut out, "process_resident_memory_bytes", "gauge", "Resident memory in bytes.");
        let _ = writeln!(out, "process_resident_memory_bytes {rss}");
    }
    out
}

/// The process's resident memory, from `VmRSS` in `/proc/self/status` (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
