// The phone API from Kotlin, through the Kotlin layer as an app uses it, against a real
// fieldsync server on a loopback port (the testbed), every phone starting from an empty folder:
// enrollment, the three record kinds, sync, a change made by another device arriving in a Flow,
// progress, typed exceptions, a photo (a real JPEG uploaded while a record syncs, downloaded by
// another phone with its thumbnail), cancellation of a running sync, and calls from many
// coroutines while a sync writes.
//
// Run by `cargo test -p fieldsync-testbed` (tests/foreign) with the generated bindings.

import app.fieldsync.*
import app.fieldsync.core.*
import app.fieldsync.testbed.Testbed
import java.time.Duration
import java.time.Instant
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.io.path.createTempDirectory
import kotlinx.coroutines.*
import kotlinx.coroutines.flow.*

// Load the library built for this run, which sits beside the generated classes, rather than
// whatever `cargo test`'s LD_LIBRARY_PATH points JNA at first.
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

val root = createTempDirectory("fieldsync-kt").toFile()
val bed = Testbed.start(root.resolve("server").path)
val url = bed.url()

fun phone(name: String): FieldStore {
    val dir = root.resolve(name)
    expect(dir.mkdirs()) { "$dir exists already" }
    return FieldStore.open(dir.resolve("fieldsync.db").path, KEY)
}

suspend fun enrolled(user: String, role: Role, patrol: PatrolKind?, scopes: List<String>): FieldStore {
    val store = phone(user)
    expect(store.profile == null) { "a new store has no profile" }
    val profile = store.enroll(url, bed.addUser(user, role, patrol, scopes), "$user's phone")
    expect(profile.user == user && profile.role == role) { "enrolled as $profile" }
    expect(store.device()?.serverUrl == url) { "the store keeps its server: ${store.device()}" }
    return store
}

suspend fun reportsIn(store: FieldStore): Int {
    var count = 0
    var after: String? = null
    do {
        val page = store.queryReports(page = PageRequest(200, after))
        count += page.items.size
        after = page.next
    } while (after != null)
    return count
}

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

runBlocking {
    // --- Enrollment, and the three record kinds on three phones. ---
    val police = enrolled("police-li", Role.PATROL, PatrolKind.POLICE, listOf(AREA))
    val mediator = enrolled("mediator-chen", Role.MEDIATOR, null, listOf(AREA))
    val dispatcher = enrolled("dispatch-wu", Role.DISPATCHER, null, listOf(AREA))

    val reportId = police.submitReport(
        NewReport(
            scope = GRID,
            category = ReportCategory.ILLEGAL_CONSTRUCTION,
            title = "Roof-top extension on building 12",
            description = "Steel frame going up on the roof since Monday",
            location = Location(lat = 43.88, lon = 125.32, accuracy = 8.0, address = "Xinhua Rd 12"),
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
    val entry = police.execute(patrolId, Command.AddPatrolEntry(NewEntry(EntryKind.HAZARD_FOUND, "Loose railing at the viewpoint")))
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
    val firstNotes = "Both agree to meet."
    mediator.execute(caseId, Command.EditNotes(session, firstNotes.length.toLong(), 0, " Water leak from the first floor."))
    expect(mediator.getCase(caseId).sessions[0].notes == "Both agree to meet. Water leak from the first floor.") {
        "notes: ${mediator.getCase(caseId).sessions[0].notes}"
    }
    expect(mediator.search("leak", Kind.MEDIATION_CASE).any { it.id == caseId }) { "search finds the notes" }

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
        police.openCase(NewCase(GRID, CaseCategory.FAMILY, "Here", listOf(Party("Sun", "", "")), listOf()))
    }
    expectThrows<FieldException.InvalidInput>("a folder that does not exist") {
        FieldStore.open(root.resolve("no/such/folder/x.db").path, KEY)
    }
    expectThrows<FieldException.InvalidInput>("a URL that is not http(s)") {
        phone("bad-url").enroll("ftp://example.org", "ABCDE-FGHJK", "phone")
    }
    expectThrows<FieldException.CodeRefused>("an unknown enrollment code") {
        phone("bad-code").enroll(url, "ABCDE-FGHJK", "phone")
    }
    expectThrows<FieldException.NotEnrolled>("syncing a store never enrolled") { elsewhere.syncNow() }
    expect(police.getReport(reportId).status == ReportStatus.SUBMITTED) { "refused commands changed nothing" }

    // --- Sync: everyone's work reaches the dispatcher; progress is reported. ---
    val pushed = police.syncNow()
    expect(pushed.docsPushed == 2L) { "police pushed $pushed" }
    mediator.syncNow()
    val progress = Collections.synchronizedList(mutableListOf<SyncProgress>())
    val pulled = dispatcher.syncNow { progress.add(it) }
    expect(pulled.docsPulled == 3L) { "dispatcher pulled $pulled" }
    expect(progress.isNotEmpty() && progress.zipWithNext().all { (a, b) -> a.docsDone <= b.docsDone }) {
        "progress went forward: $progress"
    }
    expect(dispatcher.getCase(caseId).sessions[0].notes.contains("Water leak")) { "notes arrived" }

    // --- A change made on another device arrives in the Flow of changes. ---
    val policeSees = Collections.synchronizedList(mutableListOf<RecordChanged>())
    val watching = launch(Dispatchers.IO) { police.changes().collect { policeSees.addAll(it) } }
    yield()
    dispatcher.execute(reportId, Command.AcceptReport("Checking the permit"))
    dispatcher.execute(reportId, Command.DispatchReport("police-li", Instant.now().plus(Duration.ofDays(1)), "Go and look"))
    dispatcher.execute(patrolId, Command.AddPatrolEntry(NewEntry(EntryKind.OBSERVATION, "Command centre: storm expected")))
    // Two mediators' concurrent edits of the same notes merge.
    dispatcher.execute(caseId, Command.EditNotes(session, 0, 0, "[Session 1] "))
    val notes = mediator.getCase(caseId).sessions[0].notes
    mediator.execute(caseId, Command.EditNotes(session, notes.length.toLong(), 0, " Next visit Friday."))
    dispatcher.syncNow()
    mediator.syncNow()
    dispatcher.syncNow()
    val summary = police.syncNow()
    expect(summary.docsPulled == 2L) { "police pulled $summary" }
    withTimeout(10_000) {
        while (policeSees.none { it.origin == Origin.REMOTE && it.id == patrolId }) delay(20)
    }
    val remote = policeSees.filter { it.origin == Origin.REMOTE }.map { it.id }.toSet()
    expect(remote == setOf(reportId, patrolId)) { "the flow saw $policeSees" }
    val report = police.getReport(reportId)
    expect(report.status == ReportStatus.DISPATCHED && report.assignee == "police-li") { "report: $report" }
    expect(report.deadline!!.isAfter(Instant.now())) { "a deadline is an Instant: ${report.deadline}" }
    expect(police.getPatrol(patrolId).entries.size == 3) { "entries merged" }
    val merged = "[Session 1] Both agree to meet. Water leak from the first floor. Next visit Friday."
    expect(mediator.getCase(caseId).sessions[0].notes == merged) { "notes: ${mediator.getCase(caseId).sessions[0].notes}" }
    expect(dispatcher.getCase(caseId).sessions[0].notes == merged) { "dispatcher notes differ" }
    police.execute(reportId, Command.StartWork("on my way"))
    withTimeout(10_000) { while (policeSees.none { it.id == reportId && it.origin == Origin.LOCAL }) delay(20) }
    watching.cancelAndJoin()
    val before = policeSees.size
    police.execute(reportId, Command.CommentReport("frame is 3 m high"))
    delay(300)
    expect(policeSees.size == before) { "a collector that stopped hears nothing" }

    // --- Photos: a real JPEG uploads after the records; a record saved meanwhile syncs at once. ---
    val jpeg = cameraJpeg(2000, 1500, 7)
    val photoReport = police.submitReport(NewReport(GRID, ReportCategory.ILLEGAL_CONSTRUCTION, "Extension on building 14", ""))
    val photo = police.addPhoto(photoReport, PhotoSource.Bytes(jpeg), "image/jpeg")
    expect(photo.size == jpeg.size.toLong() && police.getReport(photoReport).photos == listOf(photo)) { "added $photo" }
    // The store is encrypted: its files are sealed, and photos are read through it.
    expect(!java.io.File(police.photoFile(photo.hash)!!).readBytes().contentEquals(jpeg)) { "the photo's file is sealed" }
    expect(police.photoBytes(photo.hash, PhotoVariant.ORIGINAL)!!.contentEquals(jpeg)) { "the photo is stored intact" }
    expect(police.photosPending().map { it.hash } == listOf(photo.hash)) { "pending: ${police.photosPending()}" }
    expectThrows<FieldException.InvalidInput>("an empty photo") {
        police.addPhoto(photoReport, PhotoSource.Bytes(ByteArray(0)), "image/jpeg")
    }
    // A photo is never a web page: only image types are taken, the field named.
    for (media in listOf("text/html", "image/svg+xml", "text/plain")) {
        val refused = expectThrows<FieldException.InvalidInput>("a $media photo") {
            police.addPhoto(photoReport, PhotoSource.Bytes("<script>alert(1)</script>".toByteArray()), media)
        }
        expect(refused.field == "media_type") { "refused on ${refused.field}" }
    }
    expect(police.getReport(photoReport).photos == listOf(photo)) { "nothing added by a refused photo" }
    // A desk of its own downloads (the dispatcher's phone stays as it is for the revocation below).
    val desk = enrolled("dispatch-zhou", Role.DISPATCHER, null, listOf(AREA))
    police.syncNow()
    // The upload is held in its first chunk's callback until released, so the sync below runs
    // while the upload is certainly in progress.
    val uploaded = Collections.synchronizedList(mutableListOf<PhotoProgress>())
    val firstChunk = CountDownLatch(1)
    val release = CountDownLatch(1)
    val upload = async(Dispatchers.IO) {
        police.uploadPhotos { p ->
            uploaded.add(p)
            if (firstChunk.count > 0) {
                firstChunk.countDown()
                release.await(30, TimeUnit.SECONDS)
            }
        }
    }
    expect(withContext(Dispatchers.IO) { firstChunk.await(30, TimeUnit.SECONDS) }) { "the upload started" }
    police.submitReport(NewReport(GRID, ReportCategory.NOISE, "Saved while the photo uploads", ""))
    val synced = police.syncNow()
    expect(synced.docsPushed == 1L && !upload.isCompleted) { "the records' sync waited for the photo: $synced" }
    release.countDown()
    val sent = upload.await()
    expect(sent.uploaded == 1L && sent.bytesUp == jpeg.size.toLong()) { "uploaded $sent" }
    val done = uploaded.filter { it.hash == photo.hash }.map { it.done }
    expect(done.size >= 3 && done == done.sorted() && done.last() == jpeg.size.toLong()) { "upload progress $done" }
    expect(police.photosPending().isEmpty()) { "nothing left to upload" }

    // Another phone: the same bytes, and a 320 px JPEG thumbnail.
    desk.syncNow()
    expect(desk.photo(photo.hash)?.state == PhotoState.REMOTE && desk.photoFile(photo.hash) == null) {
        "the desk knows of the photo, not its bytes: ${desk.photo(photo.hash)}"
    }
    val fetched = Collections.synchronizedList(mutableListOf<PhotoProgress>())
    val path = desk.downloadPhoto(photo.hash) { fetched.add(it) }
    expect(desk.photoFile(photo.hash) == path) { "downloaded to $path" }
    expect(desk.photoBytes(photo.hash, PhotoVariant.ORIGINAL)!!.contentEquals(jpeg)) { "the downloaded photo differs" }
    val got = fetched.filter { it.transfer == PhotoTransfer.ORIGINAL }.map { it.done }
    expect(got.size >= 2 && got == got.sorted() && got.last() == jpeg.size.toLong()) { "download progress $got" }
    desk.downloadPhoto(photo.hash, PhotoVariant.THUMBNAIL)
    val thumbnail = javax.imageio.ImageIO.read(java.io.ByteArrayInputStream(desk.photoBytes(photo.hash, PhotoVariant.THUMBNAIL)!!))
    expect(thumbnail.width == 320 && thumbnail.height == 240) { "thumbnail ${thumbnail.width}x${thumbnail.height}" }
    val unknown = "0".repeat(64)
    val missing = expectThrows<FieldException.PhotoNotFound>("a hash no record names") { desk.downloadPhoto(unknown) }
    expect(missing.hash == unknown) { "not found: $missing" }

    // --- Cancelling a running sync leaves the store consistent; the next sync finishes it. ---
    repeat(300) { i ->
        police.submitReport(NewReport(GRID, ReportCategory.SANITATION, "Overflowing bin #$i", "Bin $i by the lake path, ".repeat(20)))
    }
    police.syncNow()
    val total = reportsIn(police)
    val late = enrolled("dispatch-ma", Role.DISPATCHER, null, listOf(AREA))
    late.syncOptions = late.syncOptions.copy(pageBytes = 16_384)
    val firstPage = CompletableDeferred<Unit>()
    val job = launch(Dispatchers.IO) { late.syncNow { firstPage.complete(Unit) } }
    firstPage.await()
    job.cancelAndJoin()
    expect(job.isCancelled) { "the sync was cancelled" }
    val partial = reportsIn(late)
    expect(partial in 1 until total) { "cancelled after part of the pull: $partial of $total" }
    late.integrityCheck()
    late.syncNow()
    expect(reportsIn(late) == total) { "after the next sync: ${reportsIn(late)} of $total" }
    expect(late.stats().documents == (total + 2).toLong()) { "no duplicates: ${late.stats()}" }
    late.integrityCheck()

    // --- Many coroutines at once: reads and commands while a sync writes. ---
    val busy = enrolled("dispatch-qian", Role.DISPATCHER, null, listOf(AREA))
    busy.syncOptions = busy.syncOptions.copy(pageBytes = 16_384)
    val reads = AtomicInteger()
    val created = AtomicInteger()
    val syncing = async(Dispatchers.IO) { busy.syncNow() }
    val readers = (1..4).map {
        launch(Dispatchers.IO) {
            do {
                val page = busy.queryReports(ReportFilter(statuses = listOf(ReportStatus.SUBMITTED)), PageRequest(50))
                page.items.firstOrNull()?.let { busy.getReport(it.id) }
                busy.search("bin")
                busy.syncStatus()
                reads.incrementAndGet()
            } while (syncing.isActive)
        }
    }
    val writer = launch(Dispatchers.IO) {
        do {
            val id = busy.submitReport(NewReport(GRID, ReportCategory.NOISE, "Loud karaoke ${created.get()}", ""))
            busy.execute(id, Command.CommentReport("still going"))
            created.incrementAndGet()
            delay(2) // a person types between two reports
        } while (syncing.isActive)
    }
    withTimeout(120_000) { syncing.await() }
    (readers + writer).joinAll()
    expect(reads.get() > 0 && created.get() > 0) { "reads ${reads.get()}, writes ${created.get()}" }
    expect(reportsIn(busy) == total + created.get()) { "busy holds ${reportsIn(busy)}, expected ${total + created.get()}" }
    busy.syncNow()
    expect(busy.syncStatus().pendingDocs == 0L) { "everything pushed: ${busy.syncStatus()}" }
    busy.integrityCheck()

    // --- A revoked device gets a typed exception and keeps its data. ---
    bed.revokeDevice(dispatcher.device()!!.device)
    expectThrows<FieldException.DeviceRevoked>("syncing a revoked device") { dispatcher.syncNow() }
    expect(dispatcher.getReport(reportId).status == ReportStatus.DISPATCHED) { "the revoked phone keeps its data" }

    // --- A lost phone revoked with a wipe erases its store at its next contact. ---
    bed.wipeDevice(busy.device()!!.device)
    val wiped = expectThrows<FieldException.DeviceRevoked>("syncing a device to wipe") { busy.syncNow() }
    expect(wiped.wiped) { "the store was erased: $wiped" }
    expect(reportsIn(busy) == 0 && busy.device() == null) { "left: ${reportsIn(busy)} reports, device ${busy.device()}" }

    println("kotlin: ok (${reads.get()} reads and ${created.get()} reports written during a sync)")
}

bed.stop()
if (!root.deleteRecursively()) println("could not remove $root")
