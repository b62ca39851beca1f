// Warning bulletins (预警通报) from Kotlin, against a real fieldsync server on a loopback port
// (the testbed): the police issue a bulletin to a scenic area's patrols and residents; it
// arrives at a patrol's phone (the changes Flow tells of it), which acknowledges it offline;
// a resident acknowledges it too; a grid leader it is not addressed to is refused, as is a
// second acknowledgement, and neither changes anything; the issuer sees who acknowledged.
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

val AREA = "jl/cc/scenic-1"
val GRID = "jl/cc/scenic-1/grid-03"

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

val root = createTempDirectory("fieldsync-kt-bulletin").toFile()
val bed = Testbed.start(root.resolve("server").path)
val url = bed.url()

suspend fun enrolled(user: String, role: Role, patrol: PatrolKind?, scopes: List<String>): FieldStore {
    val dir = root.resolve(user)
    expect(dir.mkdirs()) { "$dir exists already" }
    val store = FieldStore.open(dir.resolve("fieldsync.db").path, KEY)
    store.enroll(url, bed.addUser(user, role, patrol, scopes), "$user's phone")
    return store
}

runBlocking {
    val police = enrolled("police-li", Role.PATROL, PatrolKind.POLICE, listOf(AREA))
    val volunteer = enrolled("volunteer-he", Role.PATROL, PatrolKind.VOLUNTEER, listOf(AREA))
    val resident = enrolled("resident-sun", Role.RESIDENT, null, listOf(GRID))
    val leader = enrolled("leader-zhao", Role.GRID_LEADER, null, listOf(AREA))

    val arrivals = Collections.synchronizedList(mutableListOf<RecordChanged>())
    val listening = launch(Dispatchers.IO) {
        volunteer.changes().collect { changes -> arrivals.addAll(changes.filter { it.kind == Kind.BULLETIN }) }
    }
    yield()

    val id = police.issueBulletin(
        NewBulletin(
            scope = AREA,
            severity = Severity.RED,
            audience = listOf(Addressee.PATROLS, Addressee.RESIDENTS),
            title = "山洪预警",
            text = "今晚暴雨，沟谷步道关闭，巡逻队劝离游客",
            validUntil = Instant.now().plus(Duration.ofHours(6)),
        )
    )
    expectThrows<FieldException.Forbidden>("a volunteer issuing a bulletin") {
        val until = Instant.now().plus(Duration.ofHours(1))
        volunteer.issueBulletin(NewBulletin(AREA, Severity.BLUE, listOf(Addressee.PATROLS), "小心", "路滑", until))
    }
    police.syncNow()

    // --- It arrives: the observer tells of it, the list shows it to acknowledge. ---
    volunteer.syncNow()
    withTimeout(10_000) { while (arrivals.isEmpty()) delay(20) }
    expect(arrivals.first().id == id && arrivals.first().origin == Origin.REMOTE) { "told $arrivals" }
    val todo = BulletinFilter(unacknowledgedBy = "volunteer-he", inForceAt = Instant.now())
    expect(volunteer.queryBulletins(todo).items.map { it.id } == listOf(id)) { "to acknowledge" }

    // --- Acknowledged offline, merged at the next sync. ---
    volunteer.acknowledgeBulletin(id)
    expect(volunteer.queryBulletins(todo).items.isEmpty()) { "nothing left to acknowledge" }
    expectThrows<FieldException.InvalidTransition>("a second acknowledgement") {
        volunteer.acknowledgeBulletin(id)
    }
    resident.syncNow()
    resident.acknowledgeBulletin(id)
    leader.syncNow()
    val before = leader.getBulletin(id)
    expectThrows<FieldException.Forbidden>("a grid leader it is not addressed to") {
        leader.acknowledgeBulletin(id)
    }
    expect(leader.getBulletin(id) == before) { "a refused acknowledgement changes nothing" }
    expect(leader.syncStatus().pendingDocs == 0L) { "nothing to push after a refusal" }
    volunteer.syncNow()
    resident.syncNow()

    // --- The issuer sees who acknowledged. ---
    police.syncNow()
    val seen = police.getBulletin(id)
    expect(seen.acknowledgements.map { it.by }.sorted() == listOf("resident-sun", "volunteer-he")) {
        "acknowledged by ${seen.acknowledgements}"
    }
    expect(police.queryBulletins().items.single().acknowledgements == 2L) { "counted" }

    listening.cancel()
    for (store in listOf(police, volunteer, resident, leader)) store.close()
    println("kotlin: bulletin ok")
}

bed.stop()
if (!root.deleteRecursively()) println("could not remove $root")
