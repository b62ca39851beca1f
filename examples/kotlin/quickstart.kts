// fieldsync from Kotlin in two minutes: open a store, enroll, show "my reports" as a Flow, write
// offline, sync, search, and handle a refusal. In an Android app the same calls run in a
// ViewModel's viewModelScope: every store call is a suspend function that runs on
// Dispatchers.IO, and the lists are Flows to collect (or turn into StateFlows).
//
//   kotlinc -cp fieldsync.jar:jna.jar:kotlinx-coroutines-core-jvm.jar \
//       -script quickstart.kts -- <server url> <enrollment code>
//
// (bindings/README.md says how to build the library and the jar; a test runs this file against
// a real server.)

import app.fieldsync.*
import app.fieldsync.core.*
import java.time.Duration
import kotlinx.coroutines.*
import kotlinx.coroutines.flow.*

// The native library sits beside the generated classes here; an app ships it in jniLibs.
object {}.javaClass.classLoader.getResource("libfieldsync_bindings.so")?.let {
    System.setProperty("jna.library.path", java.io.File(it.toURI()).parent)
}

val (serverUrl, code) = args
val folder = kotlin.io.path.createTempDirectory("fieldsync-quickstart").toFile()

runBlocking {
    // 1. Open the phone's store: one SQLite file that works offline for days. Keep one per app.
    // It is encrypted with a key of 32 random bytes: an app keeps one in the Android Keystore
    // (bindings/README.md, "The store's key"); a new one serves here.
    val store = FieldStore.open(folder.resolve("fieldsync.db").path, FieldStore.newKey())

    // 2. Enroll once with the code the grid leader gave the resident.
    val profile = store.enroll(serverUrl, code, "Sun's phone")
    println("enrolled as ${profile.user} (${profile.role}) in ${profile.scopes}")

    // 3. The "my reports" screen: a Flow that emits the list now and after every change.
    val myReports = store.reports(ReportFilter(createdBy = profile.user))
    val screen = launch {
        myReports.collect { reports ->
            println("my reports: " + reports.joinToString { "${it.title} (${it.status})" })
        }
    }

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
    val shown = myReports.first { list -> list.any { it.id == id } }
    check(shown.single().status == ReportStatus.SUBMITTED) { "the screen shows $shown" }

    // 5. Sync when there is signal; it ends within its deadline whatever the link does.
    store.syncOptions = store.syncOptions.copy(deadline = Duration.ofMinutes(2))
    val summary = store.syncNow { progress -> println("  sync: ${progress.docsDone} documents") }
    println("synced: ${summary.docsPushed} pushed, ${summary.docsPulled} pulled in ${summary.duration.toMillis()} ms")

    // 6. Search as the user types (Chinese too; every word must match), and read a record whole.
    val hits = store.search("roof extension")
    println("search: " + hits.joinToString { it.snippet })
    val report = store.getReport(id)
    println("timeline: " + report.timeline.joinToString { "${it.action} at ${it.at}" })

    // 7. Every refusal is a typed exception that says why; nothing was changed.
    try {
        store.execute(id, Command.DispatchReport("police-li", report.header.createdAt.plus(Duration.ofDays(3)), ""))
    } catch (e: FieldException.InvalidTransition) {
        println("refused: ${e.reason}")
    } catch (e: FieldException.Forbidden) {
        println("not allowed (${e.rule}): ${e.detail}")
    }

    check(store.syncStatus().pendingDocs == 0L) { "everything reached the server" }
    screen.cancel()
    store.close()
}
folder.deleteRecursively()
println("quickstart: done")
