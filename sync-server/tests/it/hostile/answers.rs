//! What a typed answer is.

use super::*;

/// Error codes a request may be refused with, and their status (docs/protocol.md); `internal`
/// and `unavailable` are not among them: hostile input is the client's fault, not the server's.
pub(crate) const HTTP_CODES: &[(&str, u16)] = &[
    ("malformed_body", 400),
    ("unsupported_version", 400),
    ("invalid_request", 400),
    ("invalid_cursor", 400),
    ("cursor_ahead", 400),
    ("epoch_mismatch", 409),
    ("too_large", 413),
    ("missing_token", 401),
    ("malformed_token", 401),
    ("unknown_token", 401),
    ("malformed_code", 401),
    ("device_revoked", 403),
    ("user_disabled", 403),
    ("actor_mismatch", 403),
    ("code_unknown", 403),
    ("code_used", 403),
    ("code_expired", 403),
    ("code_revoked", 403),
    ("request_timeout", 408),
    ("rate_limited", 429),
];

/// Per-document refusals (`results`); `internal_error` is not among them.
pub(crate) const DOC_CODES: &[&str] = &[
    "malformed_changes",
    "missing_dependencies",
    "invalid_document",
    "header_changed",
    "too_large",
    "forged_actor",
    "forbidden",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Sync,
    Reconcile,
    Visible,
    Enroll,
}

impl Endpoint {
    pub(crate) const ALL: [Endpoint; 4] =
        [Endpoint::Sync, Endpoint::Reconcile, Endpoint::Visible, Endpoint::Enroll];

    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::Sync => "/v1/sync",
            Endpoint::Reconcile => "/v1/reconcile",
            Endpoint::Visible => "/v1/visible",
            Endpoint::Enroll => "/v1/enroll",
        }
    }
}

/// A typed answer.
#[derive(Debug)]
pub(crate) enum Answer {
    Refused(ErrorBody),
    Sync(SyncResponse),
    Reconcile(ReconcileResponse),
    Visible,
}

impl Answer {
    /// The request's error code, if it was refused.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            Answer::Refused(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The per-document results of a sync or reconcile answer.
    pub(crate) fn results(&self) -> &[PushResult] {
        match self {
            Answer::Sync(r) => &r.results,
            Answer::Reconcile(r) => &r.results,
            _ => &[],
        }
    }
}

pub(crate) fn fail(msg: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(msg.into())
}

/// Checks that `(status, body)` is a typed answer of `endpoint`.
pub(crate) fn typed(endpoint: Endpoint, status: u16, body: &[u8]) -> Result<Answer, TestCaseError> {
    let text = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if status >= 500 {
        return Err(fail(format!("{} answered {status}: {}", endpoint.path(), text())));
    }
    if status != 200 {
        if !(400..500).contains(&status) {
            return Err(fail(format!("{} answered {status}", endpoint.path())));
        }
        let e: ErrorBody = serde_json::from_slice(body)
            .map_err(|e| fail(format!("{status} without the JSON error body ({e}): {}", text())))?;
        match HTTP_CODES.iter().find(|(c, _)| *c == e.code) {
            Some((_, s)) if *s == status && !e.message.is_empty() => {}
            _ => return Err(fail(format!("{status} with an unknown code: {e:?}"))),
        }
        return Ok(Answer::Refused(e));
    }
    let decoded = match endpoint {
        Endpoint::Sync => protocol::decode(body).map(Answer::Sync),
        Endpoint::Reconcile => protocol::decode(body).map(Answer::Reconcile),
        Endpoint::Visible => protocol::decode::<VisibleResponse>(body).map(|_| Answer::Visible),
        Endpoint::Enroll => return Err(fail("a device was enrolled without a valid code")),
    };
    let answer = decoded.map_err(|e| fail(format!("a 200 that does not decode: {e}")))?;
    for r in answer.results() {
        match &r.outcome {
            PushOutcome::Acked { .. } => {}
            PushOutcome::Rejected { code, message } | PushOutcome::Retry { code, message } => {
                if !DOC_CODES.contains(&code.as_str()) || message.is_empty() {
                    return Err(fail(format!("{}: untyped refusal {code}: {message}", r.doc)));
                }
            }
        }
    }
    Ok(answer)
}
