// The phone API from Kotlin, against a real fieldsync server on a loopback port (the testbed),
// every phone starting from an empty folder: enrolment, the three record kinds, sync, a change
// made by another device arriving through the observer, progress callbacks, typed exceptions,
// a photo (a real JPEG uploaded while a record syncs, downloaded by another phone with its
// thumbnail), cancellation of a running sync, and calls from several threads while a sync writes.
//
// Run by `cargo test -p fieldsync-bindings` (tests/foreign.rs) with the generated bindings.

import app.fieldsync.*
import app.fieldsync.core.*
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import kotlin.concurrent.thread
import kotlin.io.path.createTempDirectory
import kotlinx.coroutines.*

// Load the library uniffi built for this run, which sits beside the generated classes, rather
// than whatever `cargo test`'s LD_LIBRARY_PATH (target/debug) points JNA at first.
object {}.javaClass.classLoader.getResource("libfieldsync_bindings.so")?.let {
    System.setProperty("jna.library.path", java.io.File(it.toURI()).parent)
}

val AREA = "jl/cc/xinhua"
val GRID = "jl/cc/xinhua/grid-07"

fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

inline fun <reified E : Throwable> expectThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${E::class.simpleName}, nothing was thrown")
}

class Changes : ChangeObserver {
    val seen: MutableList<RecordChanged> = Collections.synchronizedList(mutableListOf())
    override fun onChange(changes: List<RecordChanged>) {
        seen.addAll(changes)
    }
}

class Progress : SyncListener {
    val calls = AtomicInteger()
    val lastDocs = AtomicLong()
    override fun onProgress(progress: SyncProgress) {
        expect(progress.docsDone >= lastDocs.get().toULong()) { "progress went backwards: $progress" }
        lastDocs.set(progress.docsDone.toLong())
        calls.incrementAndGet()
    }
}

val root = createTempDirectory("fieldsync-kt").toFile()
val bed = Testbed.start(root.resolve("server").path)
val url = bed.url()

fun phone(name: String): FieldStore {
    val dir = root.resolve(name)
    expect(dir.mkdirs()) { "$dir exists already" }
    return FieldStore.open(dir.resolve("fieldsync.db").path)
}

fun enrolled(user: String, role: Role, patrol: PatrolKind?, scopes: List<String>): FieldStore {
    val store = phone(user)
    expect(store.profile() == null) { "a new store has no profile" }
    val code = bed.addUser(user, role, patrol, scopes)
    val profile = runBlocking { store.enroll(url, code, "$user's phone") }
    expect(profile.user == user && profile.role == role) { "enrolled as $profile" }
    expect(store.device()?.serverUrl == url) { "the store keeps its server: ${store.device()}" }
    return store
}

fun reportsIn(store: FieldStore): Int {
    var count = 0
    var after: String? = null
    do {
        val page = store.queryReports(ReportFilter(), PageRequest(200u, after))
        count += page.items.size
        after = page.next
    } while (after != null)
    return count
}

// --- Enrolment, and the three record kinds on three phones. ---
val police = enrolled("police-li", Role.PATROL, PatrolKind.POLICE, listOf(AREA))
val mediator = enrolled("mediator-chen", Role.MEDIATOR, null, listOf(AREA))
val dispatcher = enrolled("dispatch-wu", Role.DISPATCHER, null, listOf(AREA))

val reportId = police.submitReport(
    NewReport(
        scope = GRID,
        category = ReportCategory.ILLEGAL_CONSTRUCTION,
        title = "Roof-top extension on building 12",
        description = "Steel frame going up on the roof since Monday",
        location = Location(43.88, 125.32, 8.0, "Xinhua Rd 12"),
    )
)
val patrolId = police.startPatrol(
    NewPatrol(
        scope = AREA,
        area = "North lake trail",
        members = listOf(
            TeamMember("police-li", "Li Wei", MemberKind.POLICE),
            TeamMember("cadre-wang", "Wang Fang", MemberKind.VILLAGE_CADRE),
        ),
    )
)
val entry = police.execute(
    patrolId,
    Command.AddPatrolEntry(NewEntry(EntryKind.HAZARD_FOUND, "Loose railing at the viewpoint")),
)
police.execute(patrolId, Command.AddPatrolEntry(NewEntry(EntryKind.TOURIST_HELPED, "Lost child returned")))
expect(entry.item != null) { "adding an entry names it" }
expect(police.getPatrol(patrolId).entries.size == 2) { "two entries read back at once" }

val caseId = mediator.openCase(
    NewCase(
        scope = GRID,
        category = CaseCategory.NEIGHBOUR,
        place = "Courtyard of building 3",
        parties = listOf(Party("Zhang", "ground floor", ""), Party("Zhao", "first floor", "")),
        mediators = listOf("mediator-chen"),
    )
)
val session = mediator.execute(caseId, Command.AddSession(listOf("Zhang", "Zhao"), "Both agree to meet.")).item!!
mediator.execute(caseId, Command.EditNotes(session, 19uL, 0uL, " Water leak from the first floor."))
expect(mediator.getCase(caseId).sessions[0].notes == "Both agree to meet. Water leak from the first floor.") {
    "notes: ${mediator.getCase(caseId).sessions[0].notes}"
}
expect(mediator.search("leak", Kind.MEDIATION_CASE, 10u).any { it.id == caseId }) { "search finds the notes" }

// --- Typed exceptions for bad calls; nothing changes. ---
expectThrows<FieldException.InvalidTransition>("resolving a submitted report") {
    police.execute(reportId, Command.ResolveReport("done"))
}
expectThrows<FieldException.WrongKind>("a patrol command on a report") {
    police.execute(reportId, Command.FinishPatrol(""))
}
expectThrows<FieldException.InvalidId>("a string that is no id") { police.get("not-an-id") }
val elsewhere = phone("scratch")
elsewhere.setUser("someone")
val strangerId = elsewhere.submitReport(NewReport(GRID, ReportCategory.NOISE, "Elsewhere", ""))
expectThrows<FieldException.NotFound>("an id this phone does not hold") { police.get(strangerId) }
expectThrows<FieldException.InvalidInput>("an empty title") {
    police.submitReport(NewReport(GRID, ReportCategory.NOISE, "  ", ""))
}
expectThrows<FieldException.Forbidden>("a patrol member opening a mediation case") {
    police.openCase(NewCase(GRID, CaseCategory.FAMILY, "Here", listOf(Party("Ma", "owner", "")), listOf()))
}
expectThrows<FieldException.InvalidInput>("a folder that does not exist") {
    FieldStore.open(root.resolve("no/such/folder/x.db").path)
}
expectThrows<FieldException.InvalidInput>("a URL that is not http(s)") {
    runBlocking { phone("bad-url").enroll("ftp://example.org", "ABCDE-FGHJK", "phone") }
}
expectThrows<FieldException.CodeRefused>("an unknown enrolment code") {
    runBlocking { phone("bad-code").enroll(url, "ABCDE-FGHJK", "phone") }
}
expectThrows<FieldException.NotEnrolled>("syncing a store never enrolled") {
    runBlocking { elsewhere.syncNow(null) }
}
expect(police.getReport(reportId).status == ReportStatus.SUBMITTED) { "refused commands changed nothing" }

// --- Sync: everyone's work reaches the dispatcher; progress is reported. ---
runBlocking {
    val pushed = police.syncNow(null)
    expect(pushed.docsPushed == 2uL) { "police pushed $pushed" }
    mediator.syncNow(null)
    val progress = Progress()
    val pulled = dispatcher.syncNow(progress)
    expect(pulled.docsPulled == 3uL) { "dispatcher pulled $pulled" }
    expect(progress.calls.get() >= 1) { "progress was reported" }
}
expect(dispatcher.getCase(caseId).sessions[0].notes.contains("Water leak")) { "notes arrived" }

// --- A change made on another device arrives through the observer. ---
val policeSees = Changes()
val subscription = police.observe(policeSees)
dispatcher.execute(reportId, Command.AcceptReport("Checking the permit"))
dispatcher.execute(reportId, Command.DispatchReport("police-li", System.currentTimeMillis() + 86_400_000, "Go and look"))
dispatcher.execute(patrolId, Command.AddPatrolEntry(NewEntry(EntryKind.OBSERVATION, "Command centre: storm expected")))
// Two mediators' concurrent edits of the same notes merge.
dispatcher.execute(caseId, Command.EditNotes(session, 0uL, 0uL, "[Session 1] "))
mediator.execute(caseId, Command.EditNotes(session, 52uL, 0uL, " Next visit Friday."))
runBlocking {
    dispatcher.syncNow(null)
    mediator.syncNow(null)
    dispatcher.syncNow(null)
    val summary = police.syncNow(Progress())
    expect(summary.docsPulled == 2uL) { "police pulled $summary" }
}
val remote = policeSees.seen.filter { it.origin == Origin.REMOTE }.map { it.id }.toSet()
expect(remote == setOf(reportId, patrolId)) { "observer saw ${policeSees.seen}" }
val report = police.getReport(reportId)
expect(report.status == ReportStatus.DISPATCHED && report.assignee == "police-li") { "report: $report" }
expect(police.getPatrol(patrolId).entries.size == 3) { "entries merged" }
val merged = "[Session 1] Both agree to meet. Water leak from the first floor. Next visit Friday."
expect(mediator.getCase(caseId).sessions[0].notes == merged) { "notes: ${mediator.getCase(caseId).sessions[0].notes}" }
expect(dispatcher.getCase(caseId).sessions[0].notes == merged) { "dispatcher notes differ" }
police.execute(reportId, Command.StartWork("on my way"))
expect(policeSees.seen.any { it.id == reportId && it.origin == Origin.LOCAL }) { "local changes are observed too" }
subscription.cancel()
expect(!subscription.isActive()) { "cancelled" }
val before = policeSees.seen.size
police.execute(reportId, Command.CommentReport("frame is 3 m high"))
expect(policeSees.seen.size == before) { "a cancelled observer hears nothing" }

// --- Photos: a real JPEG uploads after the records; a record saved meanwhile syncs at once. ---
fun cameraJpeg(width: Int, height: Int, seed: Long): ByteArray {
    val random = java.util.Random(seed)
    val image = java.awt.image.BufferedImage(width, height, java.awt.image.BufferedImage.TYPE_INT_RGB)
    for (y in 0 until height) for (x in 0 until width) {
        val n = random.nextInt(48)
        image.setRGB(x, y, (((x * 200 / width + n) % 256) shl 16) or (((y * 200 / height + n) % 256) shl 8) or (n * 4))
    }
    val out = java.io.ByteArrayOutputStream()
    expect(javax.imageio.ImageIO.write(image, "jpg", out)) { "no JPEG writer" }
    return out.toByteArray()
}

// Holds the upload in its first chunk's callback until released, so the sync below runs while
// the upload is certainly in progress.
class PhotoGate : PhotoListener {
    val seen: MutableList<PhotoProgress> = Collections.synchronizedList(mutableListOf())
    val firstChunk = CountDownLatch(1)
    val release = CountDownLatch(1)
    @Volatile var heldTooLong = false
    override fun onPhotoProgress(progress: PhotoProgress) {
        seen.add(progress)
        if (progress.transfer == PhotoTransfer.UPLOAD && firstChunk.count > 0) {
            firstChunk.countDown()
            heldTooLong = !release.await(30, TimeUnit.SECONDS)
        }
    }
}

val jpeg = cameraJpeg(2000, 1500, 7)
val photoReport = police.submitReport(NewReport(GRID, ReportCategory.ILLEGAL_CONSTRUCTION, "Extension on building 14", ""))
val photo = police.addPhoto(photoReport, PhotoSource.Bytes(jpeg), "image/jpeg", null)
expect(photo.size == jpeg.size.toULong() && police.getReport(photoReport).photos == listOf(photo)) { "added $photo" }
expect(java.io.File(police.photoFile(photo.hash)!!).readBytes().contentEquals(jpeg)) { "the photo is stored intact" }
expect(police.photosPending().map { it.hash } == listOf(photo.hash)) { "pending: ${police.photosPending()}" }
expectThrows<FieldException.InvalidInput>("an empty photo") {
    police.addPhoto(photoReport, PhotoSource.Bytes(ByteArray(0)), "image/jpeg", null)
}
// A photo is never a web page: only image types are taken, the field named.
for (media in listOf("text/html", "image/svg+xml", "text/plain")) {
    val refused = expectThrows<FieldException.InvalidInput>("a $media photo") {
        police.addPhoto(photoReport, PhotoSource.Bytes("<script>alert(1)</script>".toByteArray()), media, null)
    }
    expect(refused.field == "media_type") { "refused on ${refused.field}" }
}
expect(police.getReport(photoReport).photos == listOf(photo)) { "nothing added by a refused photo" }
// A desk of its own downloads (the dispatcher's phone stays as it is for the revocation below).
val desk = enrolled("dispatch-zhou", Role.DISPATCHER, null, listOf(AREA))
runBlocking {
    police.syncNow(null)
    val gate = PhotoGate()
    val upload = async(Dispatchers.IO) { police.uploadPhotos(gate) }
    expect(withContext(Dispatchers.IO) { gate.firstChunk.await(30, TimeUnit.SECONDS) }) { "the upload started" }
    police.submitReport(NewReport(GRID, ReportCategory.NOISE, "Saved while the photo uploads", ""))
    val synced = police.syncNow(null)
    expect(synced.docsPushed == 1uL && !upload.isCompleted) { "the records' sync waited for the photo: $synced" }
    gate.release.countDown()
    val summary = upload.await()
    expect(!gate.heldTooLong) { "the records' sync waited for the photo upload" }
    expect(summary.uploaded == 1uL && summary.bytesUp == jpeg.size.toULong()) { "uploaded $summary" }
    val sent = gate.seen.filter { it.hash == photo.hash }.map { it.done }
    expect(sent.size >= 3 && sent == sent.sorted() && sent.last() == jpeg.size.toULong()) { "upload progress $sent" }
    expect(police.photosPending().isEmpty()) { "nothing left to upload" }

    // Another phone: the same bytes, and a 320 px JPEG thumbnail.
    desk.syncNow(null)
    expect(desk.photo(photo.hash)?.state == PhotoState.REMOTE && desk.photoFile(photo.hash) == null) {
        "the desk knows of the photo, not its bytes: ${desk.photo(photo.hash)}"
    }
    val fetching = PhotoGate().apply { release.countDown() }
    val path = desk.downloadPhoto(photo.hash, PhotoVariant.ORIGINAL, fetching)
    expect(java.io.File(path).readBytes().contentEquals(jpeg)) { "the downloaded photo differs" }
    val got = fetching.seen.filter { it.transfer == PhotoTransfer.ORIGINAL }.map { it.done }
    expect(got.size >= 2 && got == got.sorted() && got.last() == jpeg.size.toULong()) { "download progress $got" }
    val thumbnail = javax.imageio.ImageIO.read(java.io.File(desk.downloadPhoto(photo.hash, PhotoVariant.THUMBNAIL, null)))
    expect(thumbnail.width == 320 && thumbnail.height == 240) { "thumbnail ${thumbnail.width}x${thumbnail.height}" }
    val unknown = "0".repeat(64)
    val missing = expectThrows<FieldException.PhotoNotFound>("a hash no record names") {
        runBlocking { desk.downloadPhoto(unknown, PhotoVariant.ORIGINAL, null) }
    }
    expect(missing.hash == unknown) { "not found: $missing" }
}

// --- Cancelling a running sync leaves the store consistent; the next sync finishes it. ---
repeat(300) { i ->
    police.submitReport(NewReport(GRID, ReportCategory.SANITATION, "Overflowing bin #$i", "Bin $i by the lake path, ".repeat(20)))
}
runBlocking { police.syncNow(null) }
val total = reportsIn(police)
val late = enrolled("dispatch-ma", Role.DISPATCHER, null, listOf(AREA))
late.setSyncOptions(late.syncOptions().copy(pageBytes = 16_384u))
runBlocking {
    val firstPage = CompletableDeferred<Unit>()
    val job = launch(Dispatchers.IO) {
        late.syncNow(object : SyncListener {
            override fun onProgress(progress: SyncProgress) {
                firstPage.complete(Unit)
            }
        })
    }
    firstPage.await()
    job.cancelAndJoin()
    expect(job.isCancelled) { "the sync was cancelled" }
}
val partial = reportsIn(late)
expect(partial in 1 until total) { "cancelled after part of the pull: $partial of $total" }
late.integrityCheck()
runBlocking { late.syncNow(null) }
expect(reportsIn(late) == total) { "after the next sync: ${reportsIn(late)} of $total" }
expect(late.stats().documents == (total + 2).toULong()) { "no duplicates: ${late.stats()}" }
late.integrityCheck()

// --- Several threads at once: reads and commands while a sync writes. ---
val busy = enrolled("dispatch-qian", Role.DISPATCHER, null, listOf(AREA))
busy.setSyncOptions(busy.syncOptions().copy(pageBytes = 16_384u))
val failures = Collections.synchronizedList(mutableListOf<Throwable>())
val reads = AtomicInteger()
val created = AtomicInteger()
val syncing = CountDownLatch(1)
val syncer = thread(name = "sync") {
    try {
        runBlocking { busy.syncNow(null) }
    } catch (e: Throwable) {
        failures.add(e)
    } finally {
        syncing.countDown()
    }
}
val readers = (1..4).map { n ->
    thread(name = "reader-$n") {
        try {
            do {
                val page = busy.queryReports(ReportFilter(statuses = listOf(ReportStatus.SUBMITTED)), PageRequest(50u))
                page.items.firstOrNull()?.let { busy.getReport(it.id) }
                busy.search("bin", null, 20u)
                busy.syncStatus()
                reads.incrementAndGet()
            } while (syncing.count > 0)
        } catch (e: Throwable) {
            failures.add(e)
        }
    }
}
val writer = thread(name = "writer") {
    try {
        do {
            val id = busy.submitReport(NewReport(GRID, ReportCategory.NOISE, "Loud karaoke ${created.get()}", ""))
            busy.execute(id, Command.CommentReport("still going"))
            created.incrementAndGet()
            Thread.sleep(2) // a person types between two reports
        } while (syncing.count > 0)
    } catch (e: Throwable) {
        failures.add(e)
    }
}
expect(syncing.await(120, TimeUnit.SECONDS)) { "the sync finished" }
(readers + writer + syncer).forEach { it.join() }
expect(failures.isEmpty()) { "calls failed: $failures" }
expect(reads.get() > 0 && created.get() > 0) { "reads ${reads.get()}, writes ${created.get()}" }
expect(reportsIn(busy) == total + created.get()) { "busy holds ${reportsIn(busy)}, expected ${total + created.get()}" }
runBlocking { busy.syncNow(null) }
expect(busy.syncStatus().pendingDocs == 0uL) { "everything pushed: ${busy.syncStatus()}" }
busy.integrityCheck()

// --- A revoked device gets a typed exception and keeps its data. ---
bed.revokeDevice(dispatcher.device()!!.device)
expectThrows<FieldException.DeviceRevoked>("syncing a revoked device") {
    runBlocking { dispatcher.syncNow(null) }
}
expect(dispatcher.getReport(reportId).status == ReportStatus.DISPATCHED) { "the revoked phone keeps its data" }

bed.stop()
root.deleteRecursively()
println("kotlin: ok (${reads.get()} reads and ${created.get()} reports written during a sync)")
