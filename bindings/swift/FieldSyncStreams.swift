// The Swift counterpart of the Kotlin layer's Flows: the store's changes and its lists as
// AsyncSequences, for `for try await` and SwiftUI's `.task`. Shipped beside the generated
// FieldSync.swift and compiled into the same module (bindings/scripts/build-ios.sh).
//
// This file is checked against the generated API by a test (bindings/tests/foreign), not
// compiled: there is no Swift compiler on the project's Linux machines.

import Foundation

/// Forwards a subscription's calls to a stream's continuation.
private final class StreamObserver: ChangeObserver, @unchecked Sendable {
    private let changed: ([RecordChanged]) -> Void
    private let ended: () -> Void

    init(changed: @escaping ([RecordChanged]) -> Void, ended: @escaping () -> Void) {
        self.changed = changed
        self.ended = ended
    }

    func onChange(changes: [RecordChanged]) throws {
        changed(changes)
    }

    func onEnd(reason: SubscriptionEnd) throws {
        ended()
    }
}

public extension FieldStore {
    /// Every change to the records on this phone, a batch per delivery in commit order, for as
    /// long as the sequence is iterated; it finishes when the store is closed. Subscribing
    /// after `close()` throws `FieldError.Closed`.
    func changes() -> AsyncThrowingStream<[RecordChanged], Error> {
        AsyncThrowingStream(bufferingPolicy: .unbounded) { continuation in
            let observer = StreamObserver(
                changed: { continuation.yield($0) },
                ended: { continuation.finish() }
            )
            do {
                let subscription = try self.observe(observer: observer)
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }

    /// Reports matching `filter` (the first `limit`, newest first), now and again after every
    /// change to the reports on this phone: what a list screen shows. Queries run on the
    /// iterating task; a change that comes while one runs is answered by one more query.
    func reports(filter: ReportFilter = ReportFilter(), limit: Int32 = 50)
        -> AsyncThrowingStream<[ReportSummary], Error>
    {
        following(kind: .report) {
            try self.queryReports(filter: filter, page: PageRequest(limit: limit, after: nil)).items
        }
    }

    /// The signed-in user's inbox matching `filter` (the first `limit` items, newest first),
    /// now and again after every change to the reports on this phone: what an inbox screen
    /// shows.
    func inboxItems(filter: InboxFilter = InboxFilter(), limit: Int32 = 50)
        -> AsyncThrowingStream<[InboxItem], Error>
    {
        following(kind: .report) {
            try self.inbox(filter: filter, page: PageRequest(limit: limit, after: nil)).items
        }
    }

    /// New items in the signed-in user's inbox as syncs bring them, one change per record with
    /// the reasons it is new (`inbox`: newly dispatched to them, a new supervision of their
    /// report, an escalation naming them): raise a local notification for each. Each comes
    /// once; the user's own commands bring none. It finishes when the store is closed.
    func inboxEvents() -> AsyncThrowingStream<RecordChanged, Error> {
        AsyncThrowingStream(bufferingPolicy: .unbounded) { continuation in
            let observer = StreamObserver(
                changed: { changes in
                    for change in changes where !change.inbox.isEmpty { continuation.yield(change) }
                },
                ended: { continuation.finish() }
            )
            do {
                let subscription = try self.observe(observer: observer)
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }

    /// Patrol logs matching `filter`, now and after every change to patrol logs.
    func patrols(filter: PatrolFilter = PatrolFilter(), limit: Int32 = 50)
        -> AsyncThrowingStream<[PatrolSummary], Error>
    {
        following(kind: .patrolLog) {
            try self.queryPatrols(filter: filter, page: PageRequest(limit: limit, after: nil)).items
        }
    }

    /// Mediation cases matching `filter`, now and after every change to cases.
    func cases(filter: CaseFilter = CaseFilter(), limit: Int32 = 50)
        -> AsyncThrowingStream<[CaseSummary], Error>
    {
        following(kind: .mediationCase) {
            try self.queryCases(filter: filter, page: PageRequest(limit: limit, after: nil)).items
        }
    }

    /// Deliberations matching `filter`, now and after every change to deliberations.
    func deliberations(filter: DeliberationFilter = DeliberationFilter(), limit: Int32 = 50)
        -> AsyncThrowingStream<[DeliberationSummary], Error>
    {
        following(kind: .deliberation) {
            try self.queryDeliberations(filter: filter, page: PageRequest(limit: limit, after: nil)).items
        }
    }

    /// Warning bulletins matching `filter`, now and after every change to bulletins.
    func bulletins(filter: BulletinFilter = BulletinFilter(), limit: Int32 = 50)
        -> AsyncThrowingStream<[BulletinSummary], Error>
    {
        following(kind: .bulletin) {
            try self.queryBulletins(filter: filter, page: PageRequest(limit: limit, after: nil)).items
        }
    }

    /// Business visits matching `filter`, now and after every change to visits.
    func visits(filter: VisitFilter = VisitFilter(), limit: Int32 = 50)
        -> AsyncThrowingStream<[VisitSummary], Error>
    {
        following(kind: .visit) {
            try self.queryVisits(filter: filter, page: PageRequest(limit: limit, after: nil)).items
        }
    }

    /// `query`'s result now and after every change batch touching records of `kind`; changes
    /// that come while a query runs are answered by a single further query.
    private func following<T: Equatable & Sendable>(
        kind: Kind,
        query: @escaping @Sendable () throws -> T
    ) -> AsyncThrowingStream<T, Error>
    {
        AsyncThrowingStream { continuation in
            let ticks = AsyncStream<Void>(bufferingPolicy: .bufferingNewest(1)) { tick in
                let observer = StreamObserver(
                    changed: { changes in
                        if changes.contains(where: { $0.kind == kind }) { tick.yield() }
                    },
                    ended: { tick.finish() }
                )
                do {
                    let subscription = try self.observe(observer: observer)
                    tick.onTermination = { _ in subscription.cancel() }
                    tick.yield()
                } catch {
                    continuation.finish(throwing: error)
                    tick.finish()
                }
            }
            let task = Task {
                var last: T? = nil
                do {
                    for await _ in ticks {
                        let value = try query()
                        if value != last {
                            last = value
                            continuation.yield(value)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
