// The responder's side of the loop from Kotlin, against a real fieldsync server on a loopback
// port (the testbed): a resident reports, a dispatcher's phone dispatches the report to a
// patrol officer and later supervises it (督办); after each of the officer's syncs, the inbox
// lists the report with why and `inboxEvents()` tells of it once, with the reason an app
// raises a local notification for. The officer's own command tells nothing.
//
// Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import app.fieldsync.*
import app.fieldsync.core.*
import app.fieldsync.testbed.Testbed
import java.time.Duration
import java.time.Instant
import java.util.Collections
import kotlin.io.path.createTempDirectory
import kotlinx.coroutines.*
import kotlinx.coroutines.flow.*

object {}.javaClass.classLoader.getResource("libfieldsync_bindings.so")?.let {
    System.setProperty("jna.library.path", java.io.File(it.toURI()).parent)
}

// The store key an app keeps in the Android Keystore: one for every store of the test.
val KEY = FieldStore.newKey()

val AREA = "jl/cc/xinhua"
val GRID = "jl/cc/xinhua/grid-07"

inline fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

val root = createTempDirectory("fieldsync-kt-inbox").toFile()
val bed = Testbed.start(root.resolve("server").path)
val url = bed.url()

suspend fun enrolled(user: String, role: Role, patrol: PatrolKind?, scopes: List<String>): FieldStore {
    val dir = root.resolve(user)
    expect(dir.mkdirs()) { "$dir exists already" }
    val store = FieldStore.open(dir.resolve("fieldsync.db").path, KEY)
    store.enroll(url, bed.addUser(user, role, patrol, scopes), "$user's phone")
    return store
}

/** Waits until [events] holds [n] items. */
suspend fun heard(events: List<RecordChanged>, n: Int, what: String) {
    try {
        withTimeout(10_000) { while (events.size < n) delay(20) }
    } catch (e: TimeoutCancellationException) {
        throw AssertionError("not heard within 10 s: $what (heard $events)")
    }
}

runBlocking {
    val resident = enrolled("resident-sun", Role.RESIDENT, null, listOf(GRID))
    val dispatcher = enrolled("dispatch-wu", Role.DISPATCHER, null, listOf(AREA))
    val officer = enrolled("police-li", Role.PATROL, PatrolKind.POLICE, listOf(AREA))

    val events = Collections.synchronizedList(mutableListOf<RecordChanged>())
    val listening = launch(Dispatchers.IO) { officer.inboxEvents().collect { events.add(it) } }
    val screens = Collections.synchronizedList(mutableListOf<List<InboxItem>>())
    val showing = launch(Dispatchers.IO) { officer.inboxItems().collect { screens.add(it) } }
    yield()

    val id = resident.submitReport(NewReport(GRID, ReportCategory.SAFETY_HAZARD, "Blocked fire exit", ""))
    resident.syncNow()
    dispatcher.syncNow()
    dispatcher.execute(id, Command.AcceptReport("Real"))
    dispatcher.execute(id, Command.DispatchReport("police-li", Instant.now().plus(Duration.ofHours(3)), "Go"))
    dispatcher.syncNow()
    expect(officer.inbox().items.isEmpty()) { "nothing before the sync" }

    // --- A dispatch arrives: listed as assigned and due soon, told once. ---
    officer.syncNow()
    heard(events, 1, "the dispatch")
    expect(events.single().id == id && events.single().inbox == listOf(InboxReason.ASSIGNED)) {
        "the dispatch was told as $events"
    }
    val item = officer.inbox().items.single()
    expect(item.report.id == id && item.reasons == listOf(InboxReason.ASSIGNED, InboxReason.DUE_SOON)) {
        "the inbox lists $item"
    }
    val twoHours = InboxFilter(reasons = listOf(InboxReason.DUE_SOON), dueWithin = Duration.ofHours(2))
    expect(officer.inbox(twoHours).items.isEmpty()) { "due in three hours is not due within two" }
    val later = InboxFilter(now = Instant.now().plus(Duration.ofHours(4)))
    expect(officer.inbox(later).items.single().reasons.contains(InboxReason.OVERDUE)) { "overdue later" }
    officer.syncNow()
    delay(200)
    expect(events.size == 1) { "a sync with nothing new tells nothing: $events" }

    // --- A supervision arrives: listed as supervised, told once. ---
    dispatcher.execute(id, Command.Supervise("The fire inspection is tomorrow"))
    dispatcher.syncNow()
    officer.syncNow()
    heard(events, 2, "the supervision")
    expect(events[1].id == id && events[1].inbox == listOf(InboxReason.SUPERVISED)) { "told $events" }
    val supervised = officer.inbox(InboxFilter(reasons = listOf(InboxReason.SUPERVISED))).items.single()
    expect(supervised.supervisions == 1L && supervised.at == supervised.supervisedAt) { "$supervised" }
    withTimeout(10_000) {
        while (screens.lastOrNull()?.singleOrNull()?.reasons?.contains(InboxReason.SUPERVISED) != true) delay(20)
    }

    // --- The officer's own command tells nothing; a resolved report leaves the inbox. ---
    officer.execute(id, Command.StartWork(""))
    officer.execute(id, Command.ResolveReport("Cleared"))
    expect(officer.inbox().items.isEmpty()) { "a resolved report leaves the inbox" }
    withTimeout(10_000) { while (screens.lastOrNull()?.isEmpty() != true) delay(20) }
    delay(200)
    expect(events.size == 2) { "own commands tell nothing: $events" }

    listening.cancel()
    showing.cancel()
    for (store in listOf(resident, dispatcher, officer)) store.close()
    println("kotlin: inbox ok")
}

bed.stop()
if (!root.deleteRecursively()) println("could not remove $root")
