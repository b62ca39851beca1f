// Phone to phone from Kotlin, through the layer as an app uses it: two patrol phones enrolled
// with a real fieldsync server on a loopback port (the testbed), which then stops: from there
// on they meet only each other. The patrol log crosses whole over a transport written in
// Kotlin (a pair of channels); each adds an entry offline, and they meet again over the
// built-in loopback TCP transport and converge, with progress heard; a session whose peer
// never answers is cancelled, typed, and cannot run again; a link that closes is typed.
//
// Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import app.fieldsync.*
import app.fieldsync.core.*
import app.fieldsync.testbed.Testbed
import java.util.Collections
import kotlin.io.path.createTempDirectory
import kotlinx.coroutines.*
import kotlinx.coroutines.channels.Channel

// Load the library built for this run, which sits beside the generated classes, rather than
// whatever `cargo test`'s LD_LIBRARY_PATH points JNA at first.
object {}.javaClass.classLoader.getResource("libfieldsync_bindings.so")?.let {
    System.setProperty("jna.library.path", java.io.File(it.toURI()).parent)
}

val KEY = FieldStore.newKey()
val AREA = "jl/valley/north-loop"

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

/** One end of a link made of two channels: what an app's Bluetooth or Wi-Fi link would be. */
class ChannelTransport(private val out: Channel<ByteArray>, private val inbox: Channel<ByteArray>) : PeerTransport {
    override suspend fun send(frame: ByteArray) {
        out.send(frame)
    }

    override suspend fun receive(): ByteArray =
        inbox.receiveCatching().getOrNull() ?: throw FieldException.PeerLinkClosed("the other phone went away")

    fun close() {
        out.close()
    }
}

fun channelPair(): Pair<ChannelTransport, ChannelTransport> {
    val ab = Channel<ByteArray>(Channel.UNLIMITED)
    val ba = Channel<ByteArray>(Channel.UNLIMITED)
    return ChannelTransport(ab, ba) to ChannelTransport(ba, ab)
}

/** A link whose other end never says anything. */
class SilentTransport : PeerTransport {
    override suspend fun send(frame: ByteArray) {}
    override suspend fun receive(): ByteArray = awaitCancellation()
}

val root = createTempDirectory("fieldsync-kt-peer").toFile()
val bed = Testbed.start(root.resolve("server").path)

suspend fun enrolled(user: String, kind: PatrolKind): FieldStore {
    val dir = root.resolve(user)
    expect(dir.mkdirs()) { "$dir exists already" }
    val store = FieldStore.open(dir.resolve("fieldsync.db").path, KEY)
    store.enroll(bed.url(), bed.addUser(user, Role.PATROL, kind, listOf(AREA)), "$user's phone")
    return store
}

fun entry(text: String) = Command.AddPatrolEntry(NewEntry(EntryKind.OBSERVATION, text))

suspend fun entries(store: FieldStore, id: String): List<String> =
    store.getPatrol(id).entries.map { "${it.by}: ${it.text}" }.sorted()

runBlocking {
    val li = enrolled("police-li", PatrolKind.POLICE)
    val wang = enrolled("cadre-wang", PatrolKind.CADRE)
    // Into the valley: no server from here on.
    bed.stop()

    val patrolId = li.startPatrol(
        NewPatrol(
            scope = AREA,
            area = "North loop",
            members = listOf(
                TeamMember("police-li", "Li Wei", MemberKind.POLICE),
                TeamMember("cadre-wang", "Wang Fang", MemberKind.VILLAGE_CADRE),
            ),
        )
    )
    li.execute(patrolId, entry("north gate clear"))

    // --- The log crosses whole over a transport written in Kotlin. ---
    val (liEnd, wangEnd) = channelPair()
    val first = listOf(async { li.peerSession(liEnd).run() }, async { wang.peerSession(wangEnd).run() }).awaitAll()
    expect(first[0].docsSentWhole == 1L && first[1].docsReceived == 1L) { "first meeting: $first" }
    expect(first[0].peerUser == "cadre-wang" && first[1].peerUser == "police-li") { "who met: $first" }
    expect(entries(wang, patrolId) == listOf("police-li: north gate clear")) { "wang holds ${entries(wang, patrolId)}" }

    // --- Each adds an entry offline; they meet over loopback TCP and converge. ---
    li.execute(patrolId, entry("warned a group off the closed path"))
    wang.execute(patrolId, entry("loose rocks at km 3"))
    val listener = PeerTcpListener.loopback()
    val accepted = async { listener.accept() }
    val toLi = connectLoopbackPeer(listener.port())
    val atLi = accepted.await()
    val heard = Collections.synchronizedList(mutableListOf<PeerProgress>())
    val second = listOf(
        async { li.peerSession(atLi) { heard.add(it) }.run() },
        async { wang.peerSession(toLi).run() },
    ).awaitAll()
    expect(second.all { it.docsReceived == 1L && it.refused.isEmpty() }) { "second meeting: $second" }
    val want = listOf("cadre-wang: loose rocks at km 3", "police-li: north gate clear", "police-li: warned a group off the closed path")
    expect(entries(li, patrolId) == want) { "li holds ${entries(li, patrolId)}" }
    expect(entries(wang, patrolId) == want) { "wang holds ${entries(wang, patrolId)}" }
    val stages = heard.map { it.stage }
    expect(stages.first() == PeerStage.GREETED && stages[1] == PeerStage.OFFERED && PeerStage.ROUND in stages) { "stages: $stages" }
    expect(heard.first().peerUser == "cadre-wang" && heard[1].docsExpected == 1L) { "progress: ${heard.take(2)}" }
    expect(heard.last().docsReceived == 1L && heard.last().bytesReceived > 0) { "last progress: ${heard.last()}" }
    (atLi as AutoCloseable).close()
    (toLi as AutoCloseable).close()

    // --- A session whose peer never answers is cancelled, and runs only once. ---
    val session = wang.peerSession(SilentTransport())
    val running = async { runCatching { session.run() } }
    delay(300)
    expect(running.isActive) { "the session waits for its peer" }
    session.cancel()
    val outcome = withTimeout(10_000) { running.await() }
    expect(outcome.exceptionOrNull() is FieldException.PeerCancelled) { "cancelled session: $outcome" }
    expect(session.isCancelled()) { "the session says it was cancelled" }
    expectThrows<FieldException.InvalidInput>("running a session twice") { session.run() }

    // --- The other phone going away mid-session is typed. ---
    val (gone, left) = channelPair()
    gone.close()
    expectThrows<FieldException.PeerLinkClosed>("a peer that went away") { li.peerSession(left).run() }

    println("kotlin: peer ok (${heard.size} progress reports)")
}

if (!root.deleteRecursively()) println("could not remove $root")
