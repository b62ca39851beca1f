//! The Swift layer (`bindings/swift/`) cannot be compiled here (no Swift compiler on Linux CI),
//! so this checks what it relies on: every declaration of the generated Swift it calls or
//! implements is there with the signature it uses. A rename in the Rust API fails here, not on
//! an iOS developer's machine.

use std::path::Path;

use anyhow::{Result, ensure};

/// Source without comments and whitespace, so a signature matches however it is laid out.
fn compact(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            if !c.is_whitespace() {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// What the layer uses (as it writes it) and the generated declaration that must exist.
const USES: &[(&str, &str)] = &[
    ("ChangeObserver", "public protocol ChangeObserver: AnyObject, Sendable"),
    (
        "func onChange(changes: [RecordChanged]) throws",
        "func onChange(changes: [RecordChanged]) throws",
    ),
    ("func onEnd(reason: SubscriptionEnd) throws", "func onEnd(reason: SubscriptionEnd) throws"),
    (
        "self.observe(observer: observer)",
        "open func observe(observer: ChangeObserver) throws -> Subscription",
    ),
    ("subscription.cancel()", "open func cancel()"),
    (
        "self.queryReports(filter: filter, page: PageRequest(limit: limit, after: nil)).items",
        "open func queryReports(filter: ReportFilter, page: PageRequest = PageRequest()) throws -> ReportPage",
    ),
    (
        "self.queryPatrols(filter: filter, page:",
        "open func queryPatrols(filter: PatrolFilter, page: PageRequest = PageRequest()) throws -> PatrolPage",
    ),
    (
        "self.queryCases(filter: filter, page:",
        "open func queryCases(filter: CaseFilter, page: PageRequest = PageRequest()) throws -> CasePage",
    ),
    ("PageRequest(limit: limit, after: nil)", "limit: Int32 = 50,"),
    ("PageRequest(limit: limit, after: nil)", "after: String? = nil"),
    ("filter: ReportFilter = ReportFilter()", "conflictedOnly: Bool = false"),
    ("public extension FieldStore", "open class FieldStore"),
    ("[ReportSummary]", "public struct ReportSummary: Equatable, Hashable"),
    ("[PatrolSummary]", "public struct PatrolSummary: Equatable, Hashable"),
    ("[CaseSummary]", "public struct CaseSummary: Equatable, Hashable"),
    ("$0.kind == kind", "public var kind: Kind"),
    ("kind: .report", "case report"),
    ("kind: .patrolLog", "case patrolLog"),
    ("kind: .mediationCase", "case mediationCase"),
    ("public var items", "public var items:"),
    (
        "self.inbox(filter: filter, page: PageRequest(limit: limit, after: nil)).items",
        "open func inbox(filter: InboxFilter, page: PageRequest = PageRequest()) throws -> InboxPage",
    ),
    ("filter: InboxFilter = InboxFilter()", "public init(reasons: [InboxReason] = [],"),
    ("[InboxItem]", "public struct InboxItem: Equatable, Hashable"),
    ("!change.inbox.isEmpty", "public var inbox: [InboxReason]"),
];

/// Checks the Swift layer in `dir` (copied there with the generated sources) against them.
pub fn layer_matches_generated(dir: &Path) -> Result<()> {
    let layer = std::fs::read_to_string(dir.join("FieldSyncStreams.swift"))?;
    let generated = compact(
        &(std::fs::read_to_string(dir.join("FieldSync.swift"))?
            + &std::fs::read_to_string(dir.join("FieldSyncCore.swift"))?),
    );
    let layer_compact = compact(&layer);
    for (used, declared) in USES {
        // `public var items` is read through `.items`, not written out.
        let used_here = if *used == "public var items" { ".items" } else { used };
        ensure!(
            layer_compact.contains(&compact(used_here)),
            "the Swift layer no longer uses {used:?}"
        );
        ensure!(
            generated.contains(&compact(declared)),
            "the generated Swift lacks {declared:?}, which the Swift layer uses ({used})"
        );
    }
    Ok(())
}
