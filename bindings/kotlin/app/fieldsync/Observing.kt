// Following the store from Kotlin: Flows of query results and of changes, observers as
// lambdas, and subscriptions whose end is explicit. The library calls observers on its own
// observer thread, in commit order, after the write is on disk; a write never waits for them.

package app.fieldsync

import app.fieldsync.core.*
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.transform

/**
 * An observer registered with [FieldStore.observe]. It lives until [cancel] (or [close]) is
 * called or its store is closed, never until the garbage collector frees it: keep it to cancel
 * it, e.g. in `onStop`, or collect [FieldStore.changes] in a coroutine scope instead.
 */
class Subscription internal constructor(private val ffi: SubscriptionFfi) : AutoCloseable {
    /** Stops the observer: no call of it starts after this returns but its `onEnd`. */
    fun cancel() = ffi.cancel()

    /** Whether the observer is still told of changes (false once cancelled or its store closed). */
    val isActive: Boolean get() = ffi.isActive()

    /** The same as [cancel], for `use { }`. */
    override fun close() = cancel()
}

/** The Flows and observers of [FieldStore]. */
internal object Observing {
    fun observe(
        store: FieldStore,
        onChange: (List<RecordChanged>) -> Unit,
        onEnd: ((SubscriptionEnd) -> Unit)?,
    ): Subscription = Subscription(store.ffi.observe(LambdaObserver(onChange, onEnd)))

    /** Every change batch, unbounded: the observer thread never waits for a slow collector. */
    fun changes(store: FieldStore): Flow<List<RecordChanged>> = callbackFlow {
        val subscription = store.ffi.observe(LambdaObserver({ trySend(it) }, { close() }))
        awaitClose { subscription.cancel() }
    }.buffer(Channel.UNLIMITED)

    /** The changes that brought new inbox items, one by one, from [changes]. */
    fun inboxEvents(store: FieldStore): Flow<RecordChanged> = changes(store).transform { batch ->
        for (change in batch) if (change.inbox.isNotEmpty()) emit(change)
    }

    /**
     * [query]'s result now and after every change batch that [matters], queried again at most
     * once for however many batches came meanwhile, emitted when it differs from the last.
     */
    private fun <T> following(
        store: FieldStore,
        matters: (List<RecordChanged>) -> Boolean,
        query: suspend () -> T,
    ): Flow<T> = callbackFlow {
        // Subscribed before the first query, so no change between the two is missed.
        val subscription = store.ffi.observe(
            LambdaObserver({ if (matters(it)) trySend(Unit) }, { close() }),
        )
        trySend(Unit)
        awaitClose { subscription.cancel() }
    }.conflate().map { query() }.distinctUntilChanged()

    /** A list of records of [kind], following changes to records of that kind. */
    fun <T> following(store: FieldStore, kind: Kind, query: suspend () -> T): Flow<T> =
        following(store, { changes -> changes.any { it.kind == kind } }, query)

    /** One record, following its changes; fails with `NotFound` once it is gone from the phone. */
    fun followingRecord(store: FieldStore, id: String): Flow<Record> =
        following(store, { changes -> changes.any { it.id == id } }) { store.get(id) }
}

/** A [ChangeObserver] of two lambdas. */
internal class LambdaObserver(
    private val changed: (List<RecordChanged>) -> Unit,
    private val ended: ((SubscriptionEnd) -> Unit)?,
) : ChangeObserver {
    override fun onChange(changes: List<RecordChanged>) = Listeners.reporting { changed(changes) }

    override fun onEnd(reason: SubscriptionEnd) = Listeners.reporting { ended?.invoke(reason) }
}

/** Progress listeners as lambdas. */
internal object Listeners {
    fun sync(f: (SyncProgress) -> Unit): SyncListener = object : SyncListener {
        override fun onProgress(progress: SyncProgress) = reporting { f(progress) }
    }

    fun photo(f: (PhotoProgress) -> Unit): PhotoListener = object : PhotoListener {
        override fun onPhotoProgress(progress: PhotoProgress) = reporting { f(progress) }
    }

    fun peer(f: (PeerProgress) -> Unit): PeerListener = object : PeerListener {
        override fun onPeerProgress(progress: PeerProgress) = reporting { f(progress) }
    }

    /**
     * Runs an app's callback; whatever it throws goes back to the library as
     * [FieldException.Callback] with its stack trace, which the library reports through the
     * log hook (the generated code would pass on only the exception's name and message, and
     * would not catch an `Error` at all).
     */
    inline fun reporting(block: () -> Unit) {
        try {
            block()
        } catch (e: FieldException) {
            throw e
        } catch (t: Throwable) {
            throw FieldException.Callback(t.stackTraceToString())
        }
    }
}
