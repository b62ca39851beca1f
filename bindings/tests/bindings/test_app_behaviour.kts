// What an Android app relies on, from Kotlin through the Kotlin layer, against a real fieldsync
// server on a loopback port (the testbed):
// - a phone handed to another user while it holds the first user's unsynced work;
// - a workflow conflict on two phones: an officer starts work offline while the centre gives
//   the report to someone else; the officer's change is refused stale_rights, the record shows
//   the conflict on the officer's phone, and settling it goes through;
// - search as people type: several words, full-width digits, pages;
// - notes edited after an emoji or a CJK character outside the BMP, at Kotlin string indices;
// - every failure a FieldException: half an emoji in a title, a call after close(), a negative
//   backoff, too many enrollment attempts;
// - observers: off the writer's thread, a slow one never slowing a write, one that throws
//   reported through the log hook, subscriptions and flows ended by close(), a reopen afresh;
//   the "my reports" Flow.
//
// Run by `cargo test -p fieldsync-testbed` (tests/foreign) with the generated bindings.

import app.fieldsync.*
import app.fieldsync.core.*
import app.fieldsync.testbed.Testbed
import java.time.Duration
import java.time.Instant
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger
import kotlin.io.path.createTempDirectory
import kotlin.system.measureTimeMillis
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

suspend inline fun <reified E : Throwable> expectThrows(what: String, block: suspend () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${E::class.simpleName}, nothing was thrown")
}

/** Waits (at most 10 s) until [condition] holds. */
suspend fun eventually(what: String, condition: () -> Boolean) {
    try {
        withTimeout(10_000) { while (!condition()) delay(10) }
    } catch (e: TimeoutCancellationException) {
        throw AssertionError("not within 10 s: $what")
    }
}

val root = createTempDirectory("fieldsync-kt-app").toFile()
val bed = Testbed.start(root.resolve("server").path)
val url = bed.url()

fun folder(name: String): String {
    val dir = root.resolve(name)
    expect(dir.mkdirs()) { "$dir exists already" }
    return dir.resolve("fieldsync.db").path
}

suspend fun enrolled(user: String, role: Role, patrol: PatrolKind?, scopes: List<String>): FieldStore {
    val store = FieldStore.open(folder(user), KEY)
    store.enroll(url, bed.addUser(user, role, patrol, scopes), "$user's phone")
    return store
}

fun report(title: String, description: String = "") =
    NewReport(scope = GRID, category = ReportCategory.NOISE, title = title, description = description)

fun inDays(days: Long): Instant = Instant.now().plus(Duration.ofDays(days))

runBlocking {
    handedOverPhone()
    workflowConflictOnTwoPhones()
    searchAsPeopleType()
    notesAfterAnEmoji()
    failuresAreFieldExceptions()
    observersThatBehave()
    // Last: it leaves this address blocked from enrolling for a while.
    tooManyEnrollmentAttempts()
    println("kotlin app behaviour: ok")
}

bed.stop()
if (!root.deleteRecursively()) println("could not remove $root")

/** A phone handed to the next resident keeps nothing of the first, loses nothing by mistake. */
suspend fun handedOverPhone() {
    val phone = enrolled("resident-an", Role.RESIDENT, null, listOf(GRID))
    val synced = phone.submitReport(report("Broken swing in the courtyard"))
    phone.syncNow()
    val unsynced = phone.submitReport(report("Dog barking all night"))
    expect(phone.syncStatus().pendingDocs == 1L) { "one report waits: ${phone.syncStatus()}" }

    val code = bed.addUser("resident-bo", Role.RESIDENT, null, listOf(GRID))
    val refused = expectThrows<FieldException.OtherUser>("enrolling another user over unsynced work") {
        phone.enroll(url, code, "Bo's phone now")
    }
    expect(refused.current == "resident-an") { "refused for $refused" }
    expect(phone.user == "resident-an" && phone.getReport(unsynced).title == "Dog barking all night") {
        "the refused enrollment changed nothing"
    }

    // The same code still works; asked to, the phone drops An's work and keeps nothing of An's.
    val bo = phone.enroll(url, code, "Bo's phone now", discardUnsyncedWork = true)
    expect(bo.user == "resident-bo" && phone.user == "resident-bo") { "enrolled as $bo" }
    for (id in listOf(synced, unsynced)) {
        expectThrows<FieldException.NotFound>("An's report $id on Bo's phone") { phone.get(id) }
    }
    expect(phone.queryReports().items.isEmpty()) { "left: ${phone.queryReports().items}" }
    expect(phone.search("swing").isEmpty() && phone.syncStatus().pendingDocs == 0L) { "An's work is gone" }
    phone.syncNow()
    expect(phone.queryReports().items.isEmpty()) { "Bo may not read An's reports" }
    phone.close()
}

/** An officer starts work offline while the centre gives the report to another officer. */
suspend fun workflowConflictOnTwoPhones() {
    val resident = enrolled("resident-cai", Role.RESIDENT, null, listOf(GRID))
    val centre = enrolled("dispatch-wu", Role.DISPATCHER, null, listOf(AREA))
    val qian = enrolled("officer-qian", Role.PATROL, PatrolKind.POLICE, listOf(GRID))
    val id = resident.submitReport(report("Karaoke bar open past midnight"))
    resident.syncNow()
    centre.syncNow()
    centre.execute(id, Command.AcceptReport("受理"))
    centre.execute(id, Command.DispatchReport("officer-qian", inDays(1), "you are closest"))
    centre.syncNow()
    qian.syncNow()
    expect(qian.getReport(id).assignee == "officer-qian") { "dispatched to Qian" }

    // Offline, Qian starts work; meanwhile the centre gives the report to Sun.
    qian.execute(id, Command.StartWork("on my way"))
    centre.execute(id, Command.DispatchReport("officer-sun", inDays(1), "Sun is free now"))
    centre.syncNow()
    val synced = qian.syncNow()
    expect(synced.docsRejected == 1L) { "Qian's change was refused: $synced" }
    val refusal = qian.syncStatus().rejected.single { it.id == id }
    expect(refusal.code == "stale_rights") { "refused as ${refusal.code}: ${refusal.message}" }

    // Qian's phone shows the disagreement instead of silently picking a side.
    val seen = qian.getReport(id)
    val status = seen.conflicts.single { it.field == "status" }
    expect(status.values.sorted() == listOf("dispatched", "in_progress")) { "status conflict: $status" }
    val listed = qian.reports(ReportFilter(conflictedOnly = true)).first()
    expect(listed.map { it.id } == listOf(id) && listed[0].conflicted) { "the conflicts list shows $listed" }

    // Qian settles on the centre's decision; the settled record goes through.
    qian.execute(id, Command.SettleConflict("status", "dispatched"))
    val settled = qian.getReport(id)
    expect(settled.status == ReportStatus.DISPATCHED && settled.conflicts.none { it.field == "status" }) {
        "settled: $settled"
    }
    qian.retryRejected(id)
    qian.syncNow()
    expect(qian.syncStatus().rejected.none { it.id == id }) { "still refused: ${qian.syncStatus().rejected}" }
    centre.syncNow()
    val atCentre = centre.getReport(id)
    expect(atCentre.status == ReportStatus.DISPATCHED && atCentre.assignee == "officer-sun") { "centre: $atCentre" }
    expect(atCentre.timeline.any { it.action == "settle_conflict" && it.by == "officer-qian" }) {
        "the history shows Qian's settling: ${atCentre.timeline.map { it.action }}"
    }
    for (store in listOf(resident, centre, qian)) store.close()
}

/** Search as a Chinese user types: several words, full-width digits, a page at a time. */
suspend fun searchAsPeopleType() {
    val store = FieldStore.open(folder("searcher"), KEY)
    store.setUser("resident-dai")
    val building = store.submitReport(report("12号楼楼顶违章建筑", "钢架结构，已经三层"))
    val parking = store.submitReport(report("违章停车堵住消防通道"))
    for (i in 1..25) store.submitReport(report("垃圾桶满了 #$i", "湖边小路第${i}个垃圾桶"))

    expect(store.search("违章 建筑").map { it.id } == listOf(building)) { "two words: ${store.search("违章 建筑")}" }
    expect(store.search("违章").map { it.id }.toSet() == setOf(building, parking)) { "one word finds both" }
    val fullWidth = store.search("１２号楼")
    expect(fullWidth.map { it.id } == listOf(building)) { "full-width digits: $fullWidth" }
    expect(fullWidth[0].snippet.contains("«12号楼»")) { "the match is marked: ${fullWidth[0].snippet}" }

    val seen = mutableListOf<String>()
    var page = PageRequest(limit = 10)
    var pages = 0
    while (true) {
        val hits = store.searchPage("垃圾桶", page = page)
        seen += hits.items.map { it.id }
        pages += 1
        page = PageRequest(limit = 10, after = hits.next ?: break)
    }
    expect(pages == 3 && seen.size == 25 && seen.toSet().size == 25) { "$pages pages, ${seen.size} hits" }
    expectThrows<FieldException.InvalidInput>("a search cursor that is not one") {
        store.searchPage("垃圾桶", page = PageRequest(10, "not a cursor"))
    }
    store.close()
}

/** Kotlin string indices are UTF-16: an emoji before the cursor must not shift the edit. */
suspend fun notesAfterAnEmoji() {
    val store = FieldStore.open(folder("mediator"), KEY)
    store.setUser("mediator-he")
    val case = store.openCase(NewCase(GRID, CaseCategory.NEIGHBOUR, "Courtyard", listOf(Party("Zhang", "", "")), listOf()))
    val session = store.execute(case, Command.AddSession(listOf("Zhang"), "😀双方同意见面")).item!!
    suspend fun notes() = store.getCase(case).sessions.single().notes

    var text = notes()
    store.execute(case, Command.EditNotes(session, text.indexOf("意").toLong(), 0, "都"))
    expect(notes() == "😀双方同都意见面") { "after the emoji: ${notes()}" }

    // A CJK character outside the BMP (U+20000) is two UTF-16 units as well.
    text = notes()
    store.execute(case, Command.EditNotes(session, text.length.toLong(), 0, "，𠀀先生签字"))
    text = notes()
    store.execute(case, Command.EditNotes(session, text.indexOf("签").toLong(), 0, "已"))
    expect(notes() == "😀双方同都意见面，𠀀先生已签字") { "after U+20000: ${notes()}" }

    // Deleting the emoji deletes its two units; a position inside it is refused, typed.
    store.execute(case, Command.EditNotes(session, 0, "😀".length.toLong(), ""))
    expect(notes() == "双方同都意见面，𠀀先生已签字") { "emoji deleted: ${notes()}" }
    text = notes()
    val inside = text.indexOf("𠀀") + 1
    val split = expectThrows<FieldException.InvalidInput>("a position inside 𠀀") {
        store.execute(case, Command.EditNotes(session, inside.toLong(), 0, "x"))
    }
    expect(split.field == "notes range" && notes() == text) { "refused as ${split.field}; notes ${notes()}" }
    store.close()
}

/** What the generated code would throw untyped reaches the app as FieldException. */
suspend fun failuresAreFieldExceptions() {
    val path = folder("typed")
    val store = FieldStore.open(path, KEY)
    store.setUser("resident-fan")
    // A length filter cut the emoji of a title in two: its first half is left.
    val title = "Lamp broken 😀".take(13)
    val half = expectThrows<FieldException.InvalidInput>("a title ending in half an emoji") {
        store.submitReport(report(title))
    }
    expect(half.field == "title" && half.reason.contains("index 12")) { "refused as ${half.field}: ${half.reason}" }
    val id = store.submitReport(report("Lamp broken"))
    val inComment = expectThrows<FieldException.InvalidInput>("a comment with a lone low surrogate") {
        store.execute(id, Command.CommentReport("see photo \uDE00"))
    }
    expect(inComment.field == "text") { "refused as ${inComment.field}" }

    val negative = expectThrows<FieldException.InvalidInput>("a negative backoff") {
        store.syncOptions = store.syncOptions.copy(backoff = Duration.ofMillis(-200))
    }
    expect(negative.field == "backoff") { "refused as ${negative.field}" }
    expect(store.syncOptions.backoff == Duration.ofMillis(200)) { "the options stayed: ${store.syncOptions}" }

    // The token and the records never cross another network in clear unless the app says so.
    val clear = expectThrows<FieldException.InvalidInput>("plain http:// to another device") {
        store.enroll("http://sync.example.org", "ABCDE-FGHJK", "phone in the field")
    }
    expect(clear.field == "server_url" && clear.reason.contains("https://")) { "refused as ${clear.field}: ${clear.reason}" }
    val notPem = expectThrows<FieldException.InvalidInput>("a trusted certificate that is not PEM") {
        store.serverTrust = ServerTrust(certificatesPem = listOf("not a certificate"))
    }
    expect(notPem.field == "certificates_pem") { "refused as ${notPem.field}" }
    expect(store.serverTrust == ServerTrust()) { "the trust stayed: ${store.serverTrust}" }
    store.serverTrust = ServerTrust(allowPlainHttp = true)
    expect(store.serverTrust.allowPlainHttp) { "plain HTTP allowed on a lab network" }

    store.close()
    expect(store.isClosed) { "closed" }
    val closed = expectThrows<FieldException.Closed>("a read after close") { store.getReport(id) }
    expect(closed.path.endsWith("fieldsync.db")) { "closed: ${closed.path}" }
    expectThrows<FieldException.Closed>("a write after close") { store.submitReport(report("Too late")) }
    expectThrows<FieldException.Closed>("the user after close") { store.user }
    expectThrows<FieldException.Closed>("a sync after close") { store.syncNow() }
    store.close() // twice is harmless
    // The key: another one opens nothing and changes nothing; a new one replaces it.
    val other = FieldStore.newKey()
    expectThrows<FieldException.WrongKey>("another key") { FieldStore.open(path, other) }
    expectThrows<FieldException.InvalidInput>("a key of 16 bytes") { FieldStore.open(path, ByteArray(16)) }
    val again = FieldStore.open(path, KEY)
    expect(again.getReport(id).title == "Lamp broken") { "reopened" }
    again.rekey(other)
    again.close()
    expectThrows<FieldException.WrongKey>("the key before rekey") { FieldStore.open(path, KEY) }
    val rekeyed = FieldStore.open(path, other)
    expect(rekeyed.getReport(id).title == "Lamp broken") { "reopened with the new key" }
    rekeyed.close()
}

/** Observers run off the writer's thread; failures are logged; close() ends subscriptions. */
suspend fun observersThatBehave() {
    val logged = Collections.synchronizedList(mutableListOf<String>())
    FieldStore.setLogHook { level, tag, message -> logged.add("$level $tag $message") }
    val path = folder("observed")
    val store = FieldStore.open(path, KEY)
    store.setUser("resident-gao")

    // The "my reports" screen: the list now, and again after every change to it.
    val screens = Collections.synchronizedList(mutableListOf<List<ReportSummary>>())
    val screen = CoroutineScope(Dispatchers.Default).launch {
        store.reports(ReportFilter(createdBy = "resident-gao")).collect { screens.add(it) }
    }
    eventually("the first list") { screens.size == 1 }
    expect(screens[0].isEmpty()) { "an empty list first: ${screens[0]}" }

    // A 300 ms observer: writes do not wait for it, and it never runs on the writer's thread.
    val threads = Collections.synchronizedSet(mutableSetOf<String>())
    val slowCalls = AtomicInteger()
    val slow = store.observe { threads.add(Thread.currentThread().name); Thread.sleep(300); slowCalls.incrementAndGet() }
    var writerThread = ""
    val took = withContext(Dispatchers.IO) {
        // The store's calls run on Dispatchers.IO: from here, on this very thread.
        writerThread = Thread.currentThread().name
        measureTimeMillis { repeat(3) { store.submitReport(report("Noise #$it")) } }
    }
    expect(took < 300) { "3 writes took $took ms behind a 300 ms observer" }
    eventually("the slow observer was told") { slowCalls.get() >= 1 }
    eventually("the screen shows the three reports") { screens.last().size == 3 }
    // (The library's observer thread appears under a name JNA gives it when it calls in.)
    expect(threads.isNotEmpty() && writerThread !in threads) {
        "observers ran on $threads; the writer on $writerThread"
    }
    slow.cancel()
    expect(!slow.isActive) { "cancelled" }

    // An observer that throws: the app hears of it through the log hook, and it keeps observing.
    val thrown = AtomicInteger()
    val failing = store.observe {
        thrown.incrementAndGet()
        throw IllegalStateException("the list adapter is detached")
    }
    store.submitReport(report("Graffiti on the wall"))
    eventually("the failure is logged") { logged.any { "the list adapter is detached" in it } }
    val line = logged.first { "the list adapter is detached" in it }
    expect(line.startsWith("WARN observer") && "IllegalStateException" in line && "at " in line) {
        "logged with its stack trace: $line"
    }
    store.submitReport(report("More graffiti"))
    eventually("it keeps observing") { thrown.get() == 2 }
    expect(failing.isActive) { "a failing observer stays subscribed" }

    // close() ends every subscription and flow of the store, and says so.
    val ends = Collections.synchronizedList(mutableListOf<SubscriptionEnd>())
    val kept = store.observe(onEnd = { ends.add(it) }) { }
    val changesFlow = CoroutineScope(Dispatchers.Default).async { store.changes().toList() }
    delay(100)
    store.close()
    eventually("the observer hears the end") { ends == listOf(SubscriptionEnd.STORE_CLOSED) }
    expect(!kept.isActive && !failing.isActive) { "close ended the subscriptions" }
    withTimeout(10_000) { changesFlow.await() }
    withTimeout(10_000) { screen.join() }
    expect(screen.isCompleted && !screen.isCancelled) { "the screen's flow completed" }
    expectThrows<FieldException.Closed>("observing a closed store") { store.observe { } }

    // A fresh open is a fresh store: its observers hear it; the old subscriptions hear nothing.
    val reopened = FieldStore.open(path, KEY)
    val heardBefore = thrown.get()
    val newcomer = Collections.synchronizedList(mutableListOf<RecordChanged>())
    reopened.observe { newcomer.addAll(it) }
    val after = reopened.submitReport(report("After the reopen"))
    eventually("the new store's observer hears it") { newcomer.any { it.id == after } }
    delay(300)
    expect(thrown.get() == heardBefore && !kept.isActive && ends.size == 1) {
        "an old subscription heard the new store"
    }
    expect(reopened.queryReports().items.size == 6) { "all reports kept: ${reopened.queryReports().items.size}" }
    reopened.close()
    FieldStore.setLogHook(null)
}

/** Too many failed codes from one address: a typed answer with the seconds to wait. */
suspend fun tooManyEnrollmentAttempts() {
    val store = FieldStore.open(folder("guesser"), KEY)
    var limited: FieldException.RateLimited? = null
    for (attempt in 1..40) {
        try {
            store.enroll(url, "ABCDE-FGHJK", "guessing phone")
            throw AssertionError("a made-up code enrolled")
        } catch (e: FieldException.CodeRefused) {
            continue
        } catch (e: FieldException.RateLimited) {
            limited = e
            break
        }
    }
    val e = limited ?: throw AssertionError("40 wrong codes were never limited")
    expect(e.retryAfterSeconds in 1L..3600L) { "wait ${e.retryAfterSeconds} s: ${e.detail}" }
    store.close()
}
