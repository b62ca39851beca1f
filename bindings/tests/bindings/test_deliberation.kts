// Deliberation (议事协商) from Kotlin, against a real fieldsync server on a loopback port (the
// testbed): a resident raises a topic and comments; a resident scheduling a meeting and a
// decision before any meeting are refused, changing nothing; the grid leader schedules a
// meeting and records who attended; then the leader and the resident (who attended) edit the
// meeting's minutes offline at once, and after both sync both edits are in the minutes on
// both phones; a decision with votes for an unknown option or a negative count is refused;
// the vote is recorded and the list shows it decided.
//
// Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import app.fieldsync.*
import app.fieldsync.core.*
import app.fieldsync.testbed.Testbed
import java.time.Duration
import java.time.Instant
import kotlin.io.path.createTempDirectory
import kotlinx.coroutines.*

object {}.javaClass.classLoader.getResource("libfieldsync_bindings.so")?.let {
    System.setProperty("jna.library.path", java.io.File(it.toURI()).parent)
}

// The store key an app keeps in the Android Keystore: one for every store of the test.
val KEY = FieldStore.newKey()

val GRID = "jl/cc/street-1/grid-07"

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

val root = createTempDirectory("fieldsync-kt-deliberation").toFile()
val bed = Testbed.start(root.resolve("server").path)
val url = bed.url()

suspend fun enrolled(user: String, role: Role): FieldStore {
    val dir = root.resolve(user)
    expect(dir.mkdirs()) { "$dir exists already" }
    val store = FieldStore.open(dir.resolve("fieldsync.db").path, KEY)
    store.enroll(url, bed.addUser(user, role, null, listOf(GRID)), "$user's phone")
    return store
}

runBlocking {
    val resident = enrolled("resident-liu", Role.RESIDENT)
    val leader = enrolled("leader-zhou", Role.GRID_LEADER)

    // --- Raised and discussed by a resident. ---
    val id = resident.raiseDeliberation(
        NewDeliberation(
            scope = GRID,
            topic = "7号楼加装电梯",
            background = "楼里老人多，费用如何分摊",
            options = listOf("按楼层分摊", "平均分摊"),
        )
    )
    resident.execute(id, Command.CommentDeliberation("一楼也出钱吗"))
    val meeting = Command.ScheduleMeeting(Instant.now().plus(Duration.ofDays(1)), "社区活动室")
    val raised = resident.getDeliberation(id)
    expectThrows<FieldException.Forbidden>("a resident scheduling a meeting") {
        resident.execute(id, meeting)
    }
    expect(resident.getDeliberation(id) == raised) { "a refused step changes nothing" }
    resident.syncNow()

    // --- The grid leader: no decision before a meeting; a meeting, its attendance. ---
    leader.syncNow()
    expectThrows<FieldException.InvalidTransition>("a decision before any meeting") {
        leader.execute(id, Command.RecordDecision("按楼层分摊", DecisionMethod.CONSENSUS, emptyList()))
    }
    val key = leader.execute(id, meeting).item ?: throw AssertionError("no meeting key")
    leader.execute(id, Command.RecordMeeting(key, listOf("resident-liu")))
    leader.execute(id, Command.EditMinutes(key, 0, 0, "到会28户。"))
    leader.syncNow()
    resident.syncNow()

    // --- Both offline: the leader writes at the start, the resident at the end. ---
    leader.execute(id, Command.EditMinutes(key, 0, 0, "主持：周。"))
    val end = resident.getDeliberation(id).meetings.single().minutes.length.toLong()
    resident.execute(id, Command.EditMinutes(key, end, 0, "多数赞成按楼层分摊。"))
    leader.syncNow()
    resident.syncNow()
    leader.syncNow()
    val minutes = leader.getDeliberation(id).meetings.single().minutes
    expect(minutes == "主持：周。到会28户。多数赞成按楼层分摊。") { "the minutes are $minutes" }
    expect(resident.getDeliberation(id).meetings.single().minutes == minutes) { "both phones agree" }

    // --- The decision: bad votes refused, changing nothing; then the vote. ---
    val options = leader.getDeliberation(id).options
    val before = leader.getDeliberation(id)
    for (bad in listOf(VoteCount("no-such-option", 3), VoteCount(options[0].id, -1))) {
        val refused = expectThrows<FieldException.InvalidInput>("votes $bad") {
            leader.execute(id, Command.RecordDecision("按楼层分摊", DecisionMethod.VOTE, listOf(bad)))
        }
        expect(refused.field == "votes") { "refused as ${refused.field}" }
    }
    expect(leader.getDeliberation(id) == before) { "refused decisions change nothing" }
    val votes = listOf(VoteCount(options[0].id, 21), VoteCount(options[1].id, 7))
    leader.execute(id, Command.RecordDecision("按楼层分摊", DecisionMethod.VOTE, votes))
    val decided = leader.queryDeliberations(DeliberationFilter(statuses = listOf(DeliberationStatus.DECIDED)))
    expect(decided.items.map { it.id } == listOf(id)) { "listed as decided: ${decided.items}" }
    expect(leader.getDeliberation(id).decision?.votes == votes) { "the votes are kept" }
    leader.syncNow()

    for (store in listOf(resident, leader)) store.close()
    println("kotlin: deliberation ok")
}

bed.stop()
if (!root.deleteRecursively()) println("could not remove $root")
