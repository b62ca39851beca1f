// fieldsync from Kotlin in two minutes: open a store, enrol, write offline, watch for changes,
// sync, list, and handle a refusal. The same calls work in an Android app (call them from
// Dispatchers.IO; syncNow is a suspend function).
//
//   kotlinc -cp fieldsync.jar:jna.jar:kotlinx-coroutines-core-jvm.jar \
//       -script quickstart.kts -- <server url> <enrolment code>
//
// (bindings/README.md says how to build the library and the jar; a test runs this file against
// a real server.)

import app.fieldsync.*
import app.fieldsync.core.*
import kotlinx.coroutines.runBlocking

// The native library sits beside the generated classes here; an app ships it in jniLibs.
object {}.javaClass.classLoader.getResource("libfieldsync_bindings.so")?.let {
    System.setProperty("jna.library.path", java.io.File(it.toURI()).parent)
}

val (serverUrl, code) = args
val folder = kotlin.io.path.createTempDirectory("fieldsync-quickstart").toFile()

// 1. Open the phone's store: one SQLite file that works offline for days.
val store = FieldStore.open(folder.resolve("fieldsync.db").path)

// 2. Enrol once with the code the grid leader gave the resident.
val profile = runBlocking { store.enroll(serverUrl, code, "Sun's phone") }
println("enrolled as ${profile.user} (${profile.role}) in ${profile.scopes}")

// 3. A list screen refreshes when records change, here or through a sync.
val subscription = store.observe(object : ChangeObserver {
    override fun onChange(changes: List<RecordChanged>) {
        changes.forEach { println("  changed: ${it.kind} ${it.id} (${it.origin})") }
    }
})

// 4. Work offline: report an illegal roof-top building. It is on disk when the call returns.
val id = store.submitReport(
    NewReport(
        scope = profile.scopes.first(),
        category = ReportCategory.ILLEGAL_CONSTRUCTION,
        title = "Roof-top extension on building 12",
        description = "A steel frame has gone up on the roof since Monday.",
    )
)
store.execute(id, Command.CommentReport("Work continues at night."))

// 5. Sync when there is signal; progress arrives after every request.
val summary = runBlocking {
    store.syncNow(object : SyncListener {
        override fun onProgress(progress: SyncProgress) {
            println("  sync: ${progress.docsDone} documents, ${progress.bytesUp} bytes up")
        }
    })
}
println("synced: ${summary.docsPushed} pushed, ${summary.docsPulled} pulled")

// 6. Lists are paged queries; a record is read whole with its timeline.
val page = store.queryReports(ReportFilter(createdBy = profile.user), PageRequest(20u))
page.items.forEach { println("report ${it.title}: ${it.status}") }
println("timeline: " + store.getReport(id).timeline.joinToString { it.action })

// 7. Every refusal is a typed exception that says why; nothing was changed.
try {
    store.execute(id, Command.DispatchReport("police-li", 0, "not a resident's step"))
} catch (e: FieldException.InvalidTransition) {
    println("refused: ${e.reason}")
} catch (e: FieldException.Forbidden) {
    println("not allowed (${e.rule}): ${e.detail}")
}

subscription.cancel()
check(store.syncStatus().pendingDocs == 0uL) { "everything reached the server" }
folder.deleteRecursively()
println("quickstart: done")
